"""The SageMaker calls under the stack's deployer: variants per version, weights shifted in place (moto).

The rollout logic on top (approval, guardrails, rollback) is tested in test_deploy_on_stack.py.
Not exercised: moto has no UpdateEndpoint, so the guarded blue/green update of an existing
endpoint (``guarded_update``) is checked as a request only; no container serves traffic.
"""
from __future__ import annotations

import pytest

from modelway.backends.aws.endpoints import EndpointVariants, Variant, guarded_update
from modelway.backends.mapping import backends_for
from modelway.backends.stack import resolve_stack


@pytest.fixture
def deployer(moto_stack):
    backends = backends_for(resolve_stack(None, moto_stack.outputs_file))
    return EndpointVariants(backends.clients, backends.outputs)


def test_canary_then_promote_by_shifting_variant_weights(deployer, moto_stack):
    models = f"s3://{moto_stack.outputs['buckets']['models']}/credit-risk"
    champion = Variant("credit-risk", "1.0.0", f"{models}/1.0.0/model.pkl", weight=0.9)
    challenger = Variant("credit-risk", "1.1.0", f"{models}/1.1.0/model.pkl", weight=0.1)
    endpoint = moto_stack.outputs["buckets"]["artifacts"].rsplit("-artifacts", 1)[0] + "-credit-risk"  # unique per stack
    described = deployer.put(endpoint, [champion, challenger], config_suffix="r1")
    assert {v["VariantName"] for v in described["ProductionVariants"]} == {"v1-0-0", "v1-1-0"}
    sagemaker = moto_stack.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    capture = config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"].startswith(f"s3://{moto_stack.outputs['buckets']['artifacts']}/data-capture/")
    assert capture["KmsKeyId"] == moto_stack.outputs["kms_key_arn"]
    assert {v["VariantName"]: v["InitialVariantWeight"] for v in config["ProductionVariants"]} == {
        "v1-0-0": 0.9, "v1-1-0": 0.1}
    [challenger_model] = [v["ModelName"] for v in config["ProductionVariants"] if v["VariantName"] == "v1-1-0"]
    model = sagemaker.describe_model(ModelName=challenger_model)
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/1.1.0/model.pkl")
    assert model["ExecutionRoleArn"] == moto_stack.outputs["roles"]["sagemaker_execution"]
    assert deployer.shift(endpoint, {"v1-0-0": 0.5, "v1-1-0": 0.5}) == {"v1-0-0": 0.5, "v1-1-0": 0.5}
    assert deployer.shift(endpoint, {"v1-0-0": 0.0, "v1-1-0": 1.0}) == {"v1-0-0": 0.0, "v1-1-0": 1.0}


def test_guarded_update_is_blue_green_canary_with_alarm_rollback():
    config = guarded_update(["credit-risk-5xx", "credit-risk-latency"], canary_percent=10, wait_s=300)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT",
                                                                                      "Value": 10}}
    assert config["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "credit-risk-5xx"},
                                                              {"AlarmName": "credit-risk-latency"}]


def test_guarded_update_without_alarms_leaves_rollback_out():
    """The API needs at least one alarm in AutoRollbackConfiguration (a stack without alarms still deploys)."""
    assert "AutoRollbackConfiguration" not in guarded_update([])


def test_guarded_update_request_is_valid_for_the_sagemaker_api():
    """Checked against botocore's model of UpdateEndpoint (field names, types, ranges), since moto lacks it."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("UpdateEndpoint").input_shape
    request = {"EndpointName": "credit-risk-prod", "EndpointConfigName": "credit-risk-prod-r2",
               "DeploymentConfig": guarded_update(["credit-risk-5xx"])}
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] = 7
    assert ParamValidator().validate(request, shape).has_errors()
