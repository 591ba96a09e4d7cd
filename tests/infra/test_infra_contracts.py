"""The contracts infra shares with the runtime: StackOutputs (old outputs still read), GPU shapes, platform metrics."""
from __future__ import annotations

import json

import pytest

from modelway.contracts import StackOutputs
from modelway.contracts.gpu_shapes import GPU_INSTANCE_FAMILIES, GPU_SHAPES, shape_of
from modelway.contracts.platform_metrics import ALARMS, DRIFT_SCORE, ENDPOINT_5XX, alarm_key, alarm_name
from modelway.errors import ConfigError

# What a stack exported before issue 12 added fields: a reader must still accept it.
OLD_OUTPUTS = {
    "environment": "prod", "region": "eu-west-1", "account_id": "123456789012",
    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/1111",
    "buckets": {"raw_data": "r", "features": "f", "artifacts": "a", "models": "m", "access_logs": "l"},
    "roles": {r: f"arn:aws:iam::123456789012:role/{r}" for r in
              ("data_scientist", "ml_engineer", "deployer", "auditor", "sagemaker_execution", "gpu_node")},
    "ecr_repository_urls": {"training": "x"}, "model_package_groups": {"credit-risk": "g"},
    "model_approval_status": "PendingManualApproval",
    "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
    "tracking_server_uri": None, "gpu_pool_asg_name": None, "kubernetes_namespaces": None,
}


def test_outputs_of_a_stack_before_the_new_fields_still_validate():
    outputs = StackOutputs.from_mapping(OLD_OUTPUTS)
    assert outputs.roles.approver is None and outputs.workload_role_arns == {} and outputs.cluster_name is None


def test_new_fields_are_validated_with_one_line_naming_the_key(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**OLD_OUTPUTS, "tracking_server_arn": "https://t-1.experiments.sagemaker.aws"}))
    with pytest.raises(ConfigError) as excinfo:
        StackOutputs.from_json_file(path)
    assert str(excinfo.value).startswith(f"{path}: tracking_server_arn: String should match pattern")
    with pytest.raises(ConfigError, match="image_repositories.notebooks"):
        StackOutputs.from_mapping({**OLD_OUTPUTS, "image_repositories": {"notebooks": "x"}})


def test_every_gpu_shape_is_plausible_and_every_family_has_one():
    assert set(GPU_INSTANCE_FAMILIES) == {t.split(".")[0] for t in GPU_SHAPES}
    for instance_type, shape in GPU_SHAPES.items():
        assert shape.gpus in (1, 4, 8) and shape.vcpus >= 4 and shape.memory_gib >= 4 * shape.gpus, instance_type
    assert shape_of("g5.xlarge") == shape_of("g6.xlarge") != shape_of("g6e.xlarge")
    assert shape_of("m5.large") is None


def test_metric_dimensions_and_alarm_names_are_one_spelling():
    assert DRIFT_SCORE.dimensions_for(environment="prod", model="churn") == {"Environment": "prod", "Model": "churn"}
    assert ENDPOINT_5XX.dimensions_for(environment="prod", endpoint="e") == {"EndpointName": "e",
                                                                              "VariantName": "AllTraffic"}
    with pytest.raises(ValueError, match="needs Model"):
        DRIFT_SCORE.dimensions_for(environment="prod")
    assert {spec.role for spec in ALARMS} == {"drift", "endpoint-errors", "pipeline-failures"}
    assert alarm_name("modelway-prod", "drift", "churn") == "modelway-prod-drift-churn"
    assert alarm_key("drift", "churn") == "drift/churn" and alarm_key("pipeline-failures") == "pipeline-failures"
