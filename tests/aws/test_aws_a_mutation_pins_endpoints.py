"""Mutation pins for :mod:`modelway.backends.aws.endpoints`: what SageMaker is asked for, on moto.

Every field of the models, endpoint configs and endpoints the stack's deployer creates, the
guarded ``DeploymentConfig`` of an update (captured from the real request, since moto has no
UpdateEndpoint: its effect is added to the in-process moto server the way
test_deploy_on_stack.py does), and the one-line errors of an endpoint that never gets in service
(the status is rewritten in botocore's parsed answer, ``after-call``).
"""
from __future__ import annotations

import hashlib
import uuid

import pytest

from modelway.backends.aws.endpoints import EndpointVariants, Variant, _model_name, guarded_update
from modelway.errors import UserError
from tests.aws.test_aws_a_mutation_pins_deployer import stack  # noqa: F401 - the module's moto stack


@pytest.fixture
def env(stack):  # noqa: F811
    moto, backends = stack
    return moto, backends, EndpointVariants(backends.clients, backends.outputs), f"ep-{uuid.uuid4().hex[:10]}"


def _sent(client, operation):
    """The parameters of every ``operation`` request ``client`` sends from now on."""
    seen: list[dict] = []
    client.meta.events.register(f"provide-client-params.sagemaker.{operation}",
                                lambda params, **_: seen.append(dict(params)))
    return seen


def _variant(moto, version, weight, model="credit-risk"):
    return Variant(model, version, f"s3://{moto.outputs['buckets']['models']}/{model}/{version}/model.pkl", weight)


def test_variant_defaults_and_names():
    import dataclasses

    variant = Variant("m", "1.2.0", "s3://b/k", 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        variant.weight = 1.0  # a value: the weights of a rollout are new Variants, never edited in place
    assert (variant.instance_type, variant.instance_count) == ("ml.m5.large", 1)
    assert variant.name == "v1-2-0"
    assert Variant("m", "1..2+rc_1", "s3://b/k", 0.5).name == "v1-2-rc-1"  # a run of other characters is one dash
    assert Variant("m", "AbC9", "s3://b/k", 0.5).name == "vAbC9"


def test_model_name_is_model_version_and_the_artifacts_hash():
    tail = hashlib.sha256(b"s3://b/k").hexdigest()[:8]
    assert _model_name(Variant("credit risk", "1.2.0", "s3://b/k", 1.0)) == f"credit-risk-1-2-0-{tail}"
    assert _model_name(Variant("a--b", "1", "s3://b/k", 1.0)) == f"a--b-1-{tail}"  # dashes are kept
    long = _model_name(Variant("m" * 60, "1.0.0", "s3://b/k", 1.0))
    assert long == "m" * 54 + f"-{tail}" and len(long) == 63
    assert _model_name(Variant("m", "1", "s3://other/k", 1.0)) != _model_name(Variant("m", "1", "s3://b/k", 1.0))


def test_guarded_update_defaults_in_full():
    assert guarded_update(["a"]) == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 600,
                                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 1800},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}}


@pytest.mark.parametrize(("wait_s", "timeout"), [(100, 1800), (600, 1800), (601, 1803), (1000, 3000)])
def test_guarded_update_timeout_is_at_least_half_an_hour_and_three_waits(wait_s, timeout):
    policy = guarded_update([], canary_percent=25, wait_s=wait_s)["BlueGreenUpdatePolicy"]
    assert policy["MaximumExecutionTimeoutInSeconds"] == timeout
    assert policy["TerminationWaitInSeconds"] == wait_s
    assert policy["TrafficRoutingConfiguration"]["CanarySize"]["Value"] == 25


def test_put_creates_models_config_and_endpoint_field_by_field(env):
    moto, backends, variants, endpoint = env
    assert variants.capture_percent == 100
    sagemaker = moto.client("sagemaker")
    created = _sent(backends.clients.get("sagemaker"), "CreateEndpoint")
    models = _sent(backends.clients.get("sagemaker"), "CreateModel")
    described = variants.put(endpoint, [_variant(moto, "1.0.0", 0.9), _variant(moto, "1.1.0", 0.1)],
                             config_suffix="r1")
    assert described["EndpointStatus"] == "InService" and described["EndpointName"] == endpoint
    config = sagemaker.describe_endpoint_config(EndpointConfigName=f"{endpoint}-r1")
    assert config["KmsKeyId"] == moto.outputs["kms_key_arn"]
    assert [{k: v[k] for k in ("VariantName", "ModelName", "InitialInstanceCount", "InstanceType",
                               "InitialVariantWeight")} for v in config["ProductionVariants"]] == [
        {"VariantName": "v1-0-0", "ModelName": _model_name(_variant(moto, "1.0.0", 0)), "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.9},
        {"VariantName": "v1-1-0", "ModelName": _model_name(_variant(moto, "1.1.0", 0)), "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.1}]
    capture = config["DataCaptureConfig"]
    assert capture == {"EnableCapture": True, "InitialSamplingPercentage": 100,
                       "DestinationS3Uri": f"s3://{moto.outputs['buckets']['artifacts']}/data-capture/{endpoint}",
                       "KmsKeyId": moto.outputs["kms_key_arn"],
                       "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]}
    model = sagemaker.describe_model(ModelName=_model_name(_variant(moto, "1.1.0", 0)))
    assert model["ExecutionRoleArn"] == moto.outputs["roles"]["sagemaker_execution"]
    assert [m["EnableNetworkIsolation"] for m in models] == [True, True]  # (moto does not store it)
    assert model["PrimaryContainer"]["Image"] == moto.outputs["ecr_repository_urls"]["serving"]
    assert model["PrimaryContainer"]["ModelDataUrl"] == _variant(moto, "1.1.0", 0).model_data_url
    assert model["PrimaryContainer"]["Environment"] == {"MODELWAY_MODEL": "credit-risk", "MODELWAY_VERSION": "1.1.0"}
    assert [c["Tags"] for c in created] == [[{"Key": "environment", "Value": "dev"}]]
    assert created[0]["EndpointConfigName"] == f"{endpoint}-r1"


def test_an_existing_endpoint_is_updated_with_guardrails_and_models_are_reused(env, moto_update_endpoint):
    moto, backends, variants, endpoint = env
    client = backends.clients.get("sagemaker")
    variants.put(endpoint, [_variant(moto, "1.0.0", 1.0, model=endpoint)], config_suffix="r1")
    created_models = _sent(client, "CreateModel")
    updates = _sent(client, "UpdateEndpoint")
    long_suffix = "s" * 80
    described = variants.put(endpoint, [_variant(moto, "1.0.0", 1.0, model=endpoint), _variant(moto, "1.1.0", 0.0, model=endpoint)],
                             config_suffix=long_suffix, rollback_alarms=["credit-risk-5xx"])
    assert [m["ModelName"] for m in created_models] == [_model_name(_variant(moto, "1.1.0", 0, model=endpoint))]  # 1.0.0 reused
    [update] = updates
    assert update["EndpointConfigName"] == f"{endpoint}-{long_suffix}"[:63]
    assert update["DeploymentConfig"] == guarded_update(["credit-risk-5xx"])
    assert described["EndpointConfigName"] == f"{endpoint}-{long_suffix}"[:63]
    # without alarms: no rollback section (the API wants at least one alarm in it)
    variants.put(endpoint, [_variant(moto, "1.0.0", 1.0, model=endpoint)], config_suffix="r3")
    assert updates[-1]["DeploymentConfig"] == guarded_update([])


def test_the_training_image_serves_when_the_stack_has_no_serving_repository(env):
    moto, backends, _, endpoint = env
    outputs = backends.outputs.model_copy(update={"ecr_repository_urls": {
        "training": backends.outputs.ecr_repository_urls["training"]}})
    EndpointVariants(backends.clients, outputs, capture_percent=5).put(
        endpoint, [_variant(moto, "3.0.0", 1.0, model="fallback")], config_suffix="r1")
    sagemaker = moto.client("sagemaker")
    model = sagemaker.describe_model(ModelName=_model_name(_variant(moto, "3.0.0", 0, model="fallback")))
    assert model["PrimaryContainer"]["Image"] == moto.outputs["ecr_repository_urls"]["training"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=f"{endpoint}-r1")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 5


def test_shift_sets_every_variants_weight_and_reads_them_back(env):
    moto, backends, variants, endpoint = env
    variants.put(endpoint, [_variant(moto, "1.0.0", 0.9), _variant(moto, "1.1.0", 0.1)], config_suffix="r1")
    sent = _sent(backends.clients.get("sagemaker"), "UpdateEndpointWeightsAndCapacities")
    assert variants.shift(endpoint, {"v1-0-0": 0.25, "v1-1-0": 0.75}) == {"v1-0-0": 0.25, "v1-1-0": 0.75}
    assert sent[0]["DesiredWeightsAndCapacities"] == [{"VariantName": "v1-0-0", "DesiredWeight": 0.25},
                                                      {"VariantName": "v1-1-0", "DesiredWeight": 0.75}]

    def still_creating(parsed, **_):
        """SageMaker leaves CurrentWeight out while a variant is still being created."""
        parsed["ProductionVariants"][1].pop("CurrentWeight", None)

    client = backends.clients.get("sagemaker")
    client.meta.events.register("after-call.sagemaker.DescribeEndpoint", still_creating)
    try:
        assert variants.shift(endpoint, {"v1-0-0": 1.0, "v1-1-0": 0.0}) == {"v1-0-0": 1.0, "v1-1-0": 0.0}
        assert variants.shift(endpoint, {"v1-0-0": 0.5, "v1-1-0": 0.5}) == {"v1-0-0": 0.5, "v1-1-0": 0.0}
    finally:
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", still_creating)


def _status(client, *statuses, reason=None):
    """DescribeEndpoint answers with these statuses in turn (the last one repeats)."""
    left = list(statuses)

    def rewrite(parsed, **_):
        parsed["EndpointStatus"] = left.pop(0) if len(left) > 1 else left[0]
        if reason is not None:
            parsed["FailureReason"] = reason
        else:
            parsed.pop("FailureReason", None)

    client.meta.events.register("after-call.sagemaker.DescribeEndpoint", rewrite)
    return rewrite


@pytest.mark.parametrize("status", ["Failed", "OutOfService", "Deleting"])
def test_an_endpoint_that_fails_is_one_line_with_sagemakers_reason(env, status):
    moto, backends, variants, endpoint = env
    variants.put(endpoint, [_variant(moto, "1.0.0", 1.0)], config_suffix="r1")
    client = backends.clients.get("sagemaker")
    hook = _status(client, status, reason="image not found")
    try:
        with pytest.raises(UserError) as caught:
            variants.wait_in_service(endpoint, poll_s=0)
        assert str(caught.value) == f"endpoint {endpoint} is {status}: image not found"
    finally:
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", hook)


def test_waiting_polls_through_updating_and_gives_up_at_the_deadline(env):
    moto, backends, variants, endpoint = env
    variants.put(endpoint, [_variant(moto, "1.0.0", 1.0)], config_suffix="r1")
    client = backends.clients.get("sagemaker")
    hook = _status(client, "Updating", "Updating", "InService")
    try:
        assert variants.wait_in_service(endpoint, poll_s=0)["EndpointStatus"] == "InService"
    finally:
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", hook)
    hook = _status(client, "Updating")
    try:
        with pytest.raises(UserError) as caught:
            variants.wait_in_service(endpoint, timeout_s=-1, poll_s=0)
        assert str(caught.value) == f"endpoint {endpoint} is Updating: not in service"
    finally:
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", hook)


def test_waiting_polls_every_15_s_and_gives_up_after_an_hour(env, monkeypatch):
    """The defaults, on a clock that jumps: still Updating exactly at the hour is one more poll, after it an error."""
    import time

    moto, backends, variants, endpoint = env
    variants.put(endpoint, [_variant(moto, "1.0.0", 1.0)], config_suffix="r1")
    client = backends.clients.get("sagemaker")
    # the clock reads 1000 until the first answer, exactly the hour later after it, a hair past after the second
    # (other threads reading it meanwhile get the same values)
    answers: list[int] = []
    sleeps: list[float] = []
    monkeypatch.setattr(time, "monotonic", lambda: (1000.0, 4600.0, 4600.001)[min(len(answers), 2)])
    monkeypatch.setattr(time, "sleep", sleeps.append)
    hook = _status(client, "Updating")

    def count(**_):
        answers.append(1)

    client.meta.events.register("after-call.sagemaker.DescribeEndpoint", count)
    try:
        with pytest.raises(UserError, match="is Updating: not in service"):
            variants.wait_in_service(endpoint)
    finally:
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", hook)
        client.meta.events.unregister("after-call.sagemaker.DescribeEndpoint", count)
    assert sleeps == [15.0]


def _answer(status, code):
    """An error answer of the SageMaker API (JSON protocol), as botocore receives it."""
    import json

    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_):
            yield self.body

    body = json.dumps({"__type": code, "message": "injected"}).encode()
    return AWSResponse("https://sagemaker", status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))


@pytest.mark.parametrize("code", ["ValidationException", "ValidationError"])
def test_an_endpoint_sagemaker_does_not_know_is_created(env, code):
    moto, backends, variants, endpoint = env
    client = backends.clients.get("sagemaker")
    answers = [_answer(400, code)]

    def first_describe(request, **_):
        if b"DescribeEndpoint" in request.headers.get("X-Amz-Target", b"") and answers:
            return answers.pop()

    client.meta.events.register("before-send.sagemaker.*", first_describe)
    created = _sent(client, "CreateEndpoint")
    try:
        assert variants.put(endpoint, [_variant(moto, "1.0.0", 1.0)], config_suffix="r1")["EndpointStatus"] == "InService"
    finally:
        client.meta.events.unregister("before-send.sagemaker.*", first_describe)
    assert len(created) == 1


def test_other_errors_asking_whether_the_endpoint_exists_are_not_taken_for_no(env):
    from modelway.backends.aws.clients import AwsAccessDenied

    moto, backends, variants, endpoint = env
    client = backends.clients.get("sagemaker")

    def deny(request, **_):
        if b"DescribeEndpoint" in request.headers.get("X-Amz-Target", b""):
            return _answer(400, "AccessDeniedException")

    client.meta.events.register("before-send.sagemaker.*", deny)
    created = _sent(client, "CreateEndpoint")
    try:
        with pytest.raises(AwsAccessDenied, match=f"sagemaker:CreateEndpoint on endpoint {endpoint} "):
            variants.put(endpoint, [_variant(moto, "1.0.0", 1.0)], config_suffix="r1")
    finally:
        client.meta.events.unregister("before-send.sagemaker.*", deny)
    assert created == []


@pytest.mark.parametrize("operation", ["ListModels", "CreateEndpointConfig"])
def test_what_may_not_be_created_is_named_in_the_error(env, operation):
    from modelway.backends.aws.clients import AwsAccessDenied

    moto, backends, variants, endpoint = env
    client = backends.clients.get("sagemaker")

    def deny(request, **_):
        if operation.encode() in request.headers.get("X-Amz-Target", b""):
            return _answer(400, "AccessDeniedException")

    client.meta.events.register("before-send.sagemaker.*", deny)
    variant = _variant(moto, "1.0.0", 1.0, model=endpoint)
    try:
        with pytest.raises(AwsAccessDenied) as caught:
            variants.put(endpoint, [variant], config_suffix="r1")
    finally:
        client.meta.events.unregister("before-send.sagemaker.*", deny)
    what = (f"sagemaker:CreateModel on model {_model_name(variant)}" if operation == "ListModels"
            else f"sagemaker:CreateEndpointConfig on endpoint config {endpoint}-r1")
    assert f" is not allowed to {what} (AccessDeniedException)" in str(caught.value)
