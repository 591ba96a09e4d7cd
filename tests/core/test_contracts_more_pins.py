"""Pins on the smaller contracts, fast enough for ``make mutate``: the resources a step asks for
(memory and duration quantities, the one-line error for a bad one), the GPU instance shapes the
pool and the autoscaler read, the stack outputs the pipeline layer reads back, the platform's
metrics and alarm names, and the environments.

What a user notices: a quantity means what Kubernetes and the docs say it means, a value the
settings accept also works when the run starts (it is kept as text and parsed again then), a bad
value is refused at once with one line naming the field and the value, and the outputs of a stack
read back exactly as exported.
"""
from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.contracts.environments import ENVIRONMENTS, Environment
from modelway.contracts.gpu_shapes import GPU_INSTANCE_FAMILIES, GPU_SHAPES, GpuShape, shape_of
from modelway.contracts.platform_metrics import (
    ALARMS,
    DRIFT_SCORE,
    ENDPOINT_5XX,
    ENDPOINT_VARIANT,
    PIPELINE_RUNS_FAILED,
    SAGEMAKER_NAMESPACE,
    PlatformMetric,
    alarm_key,
    alarm_name,
    endpoint_name,
)
from modelway.contracts.resource_settings import ResourceSettings, kept_as_text, parse_duration, parse_memory
from modelway.contracts.stack_outputs import GpuToleration, StackOutputs
from modelway.errors import ConfigError
from modelway.light_models import InvalidFields

QUICK = settings(max_examples=80, deadline=None)

# --- memory quantities ------------------------------------------------------------------------------------
# Kubernetes' meaning of each suffix: powers of 1024 for Ki..Ti, of 1000 for K..T, bytes without one.
UNIT_BYTES = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
              "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


class TestMemory:
    @pytest.mark.parametrize("unit", sorted(UNIT_BYTES))
    def test_each_memory_unit_means_what_kubernetes_says(self, unit: str) -> None:
        assert parse_memory(f"3{unit}") == 3 * UNIT_BYTES[unit]
        assert parse_memory(f" 3 {unit} ") == 3 * UNIT_BYTES[unit]  # spaces around the number and the unit

    @QUICK
    @given(unit=st.sampled_from(sorted(UNIT_BYTES)), data=st.data())
    def test_a_memory_quantity_parses_to_its_number_of_bytes(self, unit: str, data: Any) -> None:
        # below 2**53 bytes (8 PiB) every such product is exact in a float too
        n = data.draw(st.integers(0, 2**53 // UNIT_BYTES[unit]))
        assert parse_memory(f"{n}{unit}") == n * UNIT_BYTES[unit]
        assert parse_memory(str(n * UNIT_BYTES[unit])) == parse_memory(n * UNIT_BYTES[unit]) == n * UNIT_BYTES[unit]

    def test_fractions_of_a_unit_round_down_to_whole_bytes(self) -> None:
        assert parse_memory("1.5Gi") == 1610612736
        assert parse_memory("0.5K") == 500
        assert parse_memory("1.9") == 1
        assert parse_memory("1e3") == 1000  # a Kubernetes quantity may have an exponent
        assert parse_memory("2E+3Mi") == 2000 * 1024**2

    def test_an_int_is_a_number_of_bytes(self) -> None:
        assert parse_memory(1024) == 1024
        assert parse_memory(0) == 0

    @pytest.mark.parametrize(("value", "why"), [
        ("lots", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("8 GB", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("8gi", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("-1Gi", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("Gi", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("8Gi extra", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        ("x8Gi", "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),
        (True, "use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'"),  # not 1 byte
        (-5, "must not be negative"),
        ("9" * 400, "too large"),
        ("1e400Ki", "too large"),
    ])
    def test_a_bad_memory_is_one_line_naming_the_value(self, value: Any, why: str) -> None:
        with pytest.raises(ValueError) as caught:
            parse_memory(value)
        assert str(caught.value) == f"invalid memory {value!r}: {why}"


# --- durations ----------------------------------------------------------------------------------------------
UNIT_SECONDS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class TestDurations:
    @pytest.mark.parametrize("unit", sorted(UNIT_SECONDS))
    def test_each_duration_unit(self, unit: str) -> None:
        assert parse_duration(f"2{unit}") == 2 * UNIT_SECONDS[unit]
        assert parse_duration(f" 2 {unit} ") == 2 * UNIT_SECONDS[unit]

    @QUICK
    @given(unit=st.sampled_from(sorted(UNIT_SECONDS)), n=st.integers(1, 10**6))
    def test_a_duration_parses_to_the_same_seconds_as_its_number(self, unit: str, n: int) -> None:
        seconds = parse_duration(f"{n}{unit}")
        assert seconds == n * UNIT_SECONDS[unit]
        assert parse_duration(seconds) == parse_duration(str(seconds)) == seconds  # the canonical form: seconds

    def test_a_number_is_seconds(self) -> None:
        assert parse_duration(90) == 90.0 and isinstance(parse_duration(90), float)
        assert parse_duration(0.25) == 0.25
        assert parse_duration("0.5h") == 1800.0
        assert parse_duration("1e-3") == 0.001  # as str() writes a small float

    @pytest.mark.parametrize(("value", "why"), [
        ("soon", "use a number with ms/s/m/h/d, e.g. '30m'"),
        ("30 min", "use a number with ms/s/m/h/d, e.g. '30m'"),
        ("-1s", "use a number with ms/s/m/h/d, e.g. '30m'"),
        ("1h30m", "use a number with ms/s/m/h/d, e.g. '30m'"),
        ("", "use a number with ms/s/m/h/d, e.g. '30m'"),
        (True, "use a number with ms/s/m/h/d, e.g. '30m'"),  # not 1 second
        (False, "use a number with ms/s/m/h/d, e.g. '30m'"),
        (0, "must be positive"),
        (0.0, "must be positive"),
        ("0s", "must be positive"),
        ("0ms", "must be positive"),
        (-1, "must be positive"),
        (-0.001, "must be positive"),
        (math.inf, "must be finite"),
        (math.nan, "must be finite"),
        (10**400, "must be finite"),
        ("9" * 400, "must be finite"),
    ])
    def test_a_bad_duration_is_one_line_naming_the_value(self, value: Any, why: str) -> None:
        with pytest.raises(ValueError) as caught:
            parse_duration(value)
        assert str(caught.value) == f"invalid duration {value!r}: {why}"

    def test_the_smallest_durations_are_positive(self) -> None:
        assert parse_duration("1ms") == 0.001
        assert parse_duration(1e-9) == 1e-9


# --- ResourceSettings ---------------------------------------------------------------------------------------
class TestResourceSettings:
    def test_resource_defaults_ask_for_nothing_special(self) -> None:
        r = ResourceSettings()
        assert (r.cpu, r.memory, r.gpus, r.spot, r.instance_type, r.max_runtime) == (None, None, 0, False, None, None)
        assert (r.memory_bytes, r.max_runtime_s) == (None, None)

    def test_resources_keep_the_users_spelling_and_give_numbers(self) -> None:
        r = ResourceSettings(cpu=0.5, memory="8Gi", gpus=2, spot=True, instance_type="ml.g5.xlarge", max_runtime="2h")
        assert (r.cpu, r.memory, r.gpus, r.spot, r.instance_type, r.max_runtime) == (0.5, "8Gi", 2, True, "ml.g5.xlarge",
                                                                                     "2h")
        assert (r.memory_bytes, r.max_runtime_s) == (8 * 2**30, 7200.0)
        numbers = ResourceSettings(memory=1024, max_runtime=90)
        assert (numbers.memory, numbers.max_runtime) == ("1024", "90")  # kept as text, like a spelled value
        assert (numbers.memory_bytes, numbers.max_runtime_s) == (1024, 90.0)

    def test_no_gpus_is_allowed_explicitly_and_a_cpu_may_be_a_fraction(self) -> None:
        assert ResourceSettings(gpus=0).gpus == 0
        assert ResourceSettings(cpu=0.01).cpu == 0.01

    @pytest.mark.parametrize(("fields", "message"), [
        ({"memory": "lots"}, "memory: Value error, invalid memory 'lots': use a number with Ki/Mi/Gi/Ti or K/M/G/T, "
                             "e.g. '8Gi'"),
        ({"memory": -1}, "memory: Value error, invalid memory -1: must not be negative"),
        ({"memory": True}, "memory: Value error, invalid memory True: use a number with Ki/Mi/Gi/Ti or K/M/G/T, "
                           "e.g. '8Gi'"),
        ({"max_runtime": "0s"}, "max_runtime: Value error, invalid duration '0s': must be positive"),
        ({"max_runtime": math.inf}, "max_runtime: Value error, invalid duration inf: must be finite"),
        ({"max_runtime": "2 hours"}, "max_runtime: Value error, invalid duration '2 hours': use a number with ms/s/m/h/d, "
                                     "e.g. '30m'"),
        ({"cpu": 0}, "cpu: Input should be greater than 0"),
        ({"gpus": -1}, "gpus: Input should be greater than or equal to 0"),
        ({"gpu": 1}, "gpu: Extra inputs are not permitted"),
    ])
    def test_a_bad_resource_is_refused_with_one_line_naming_the_field(self, fields: dict, message: str) -> None:
        with pytest.raises(InvalidFields) as caught:
            ResourceSettings(**fields)
        assert str(caught.value) == message

    def test_kept_as_text_keeps_none_and_the_text_of_a_value_that_parses(self) -> None:
        check = kept_as_text(parse_memory)
        assert check(None) is None
        assert check("8Gi") == "8Gi"
        assert check(2048) == "2048"
        with pytest.raises(ValueError, match="invalid memory 'x'"):
            check("x")


# What the settings accept is parsed again when the run starts (memory_bytes, max_runtime_s): a value
# accepted then must not fail then. Fixed: -5 and True as memory, and inf, nan, 1e20 or 1e-7 as a duration
# (str() writes '1e+20'), were accepted and made the run fail as it started.
QUANTITIES = st.one_of(
    st.integers(-10, 2**60), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.from_regex(r"\A ?[0-9]{1,4}(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})? ?(Ki|Mi|Gi|K|M|G|B|ms|s|m|h|d)? ?\Z"),
)


class TestAcceptedValuesParseAgain:
    @QUICK
    @given(value=QUANTITIES)
    def test_a_memory_the_settings_accept_works_when_the_run_starts(self, value: Any) -> None:
        try:
            resources = ResourceSettings(memory=value)
        except InvalidFields:
            return
        assert resources.memory_bytes == parse_memory(value) >= 0

    @QUICK
    @given(value=QUANTITIES)
    def test_a_max_runtime_the_settings_accept_works_when_the_run_starts(self, value: Any) -> None:
        try:
            resources = ResourceSettings(max_runtime=value)
        except InvalidFields:
            return
        assert resources.max_runtime_s == parse_duration(value) > 0 and math.isfinite(resources.max_runtime_s)


# --- GPU shapes ----------------------------------------------------------------------------------------------
# The facts of the EC2 instance type pages, written as their rules (vCPUs from the size, GiB per vCPU
# and GPUs per size for each g family) plus the types that follow none.
G_FAMILIES_GIB_PER_VCPU = {"g4dn": 4, "g5": 4, "g6": 4, "g6e": 8, "gr6": 8}
SUPPORTED = {
    "g4dn": {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"},
    "g5": {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"},
    "g6": {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"},
    "g6e": {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"},
    "gr6": {"4xlarge", "8xlarge"},
    "p3": {"2xlarge", "8xlarge", "16xlarge"},
    "p3dn": {"24xlarge"}, "p4d": {"24xlarge"}, "p4de": {"24xlarge"},
    "p5": {"48xlarge"}, "p5e": {"48xlarge"}, "p5en": {"48xlarge"},
}
# A g size's GPUs: one up to 16xlarge, four on 12xlarge and 24xlarge, eight on 48xlarge and metal.
G_SIZE_GPUS = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "24xlarge": 4,
               "48xlarge": 8, "metal": 8}
P_SHAPES = {"p3.2xlarge": GpuShape(1, 8, 61), "p3.8xlarge": GpuShape(4, 32, 244), "p3.16xlarge": GpuShape(8, 64, 488),
            "p3dn.24xlarge": GpuShape(8, 96, 768), "p4d.24xlarge": GpuShape(8, 96, 1152),
            "p4de.24xlarge": GpuShape(8, 96, 1152), "p5.48xlarge": GpuShape(8, 192, 2048),
            "p5e.48xlarge": GpuShape(8, 192, 2048), "p5en.48xlarge": GpuShape(8, 192, 2048)}


class TestGpuShapes:
    def test_the_supported_gpu_types_are_exactly_these(self) -> None:
        assert set(GPU_SHAPES) == {f"{family}.{size}" for family, sizes in SUPPORTED.items() for size in sizes}
        assert GPU_INSTANCE_FAMILIES == ("g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e",
                                         "p5en")

    @pytest.mark.parametrize("instance_type", sorted(GPU_SHAPES))
    def test_a_gpu_types_vcpus_follow_its_size(self, instance_type: str) -> None:
        size = instance_type.split(".")[1]
        multiple = 24 if size == "metal" else int(size.removesuffix("xlarge") or 1)  # g4dn.metal: 96 vCPUs
        assert shape_of(instance_type).vcpus == 4 * multiple

    @pytest.mark.parametrize("instance_type", sorted(t for t in GPU_SHAPES if t.split(".")[0] in G_FAMILIES_GIB_PER_VCPU))
    def test_a_g_types_memory_and_gpus_follow_its_family_and_size(self, instance_type: str) -> None:
        family, size = instance_type.split(".")
        shape = shape_of(instance_type)
        assert shape.memory_gib == G_FAMILIES_GIB_PER_VCPU[family] * shape.vcpus
        assert shape.gpus == G_SIZE_GPUS[size]

    def test_the_p_types_shapes(self) -> None:
        assert {t: shape_of(t) for t in P_SHAPES} == P_SHAPES

    def test_a_shape_is_what_the_autoscaler_reads_and_says_so(self) -> None:
        shape = shape_of("g5.12xlarge")
        assert shape == GpuShape(gpus=4, vcpus=48, memory_gib=192)
        assert (shape.gpus, shape.vcpus, shape.memory_gib) == (4, 48, 192)
        assert shape.describe() == "4 GPU, 48 vCPU, 192 GiB"
        assert shape_of("g6e.48xlarge").describe() == "8 GPU, 192 vCPU, 1536 GiB"

    @pytest.mark.parametrize("instance_type", ["m5.large", "g5", "g5.XLARGE", "ml.g5.xlarge", "g4dn.24xlarge",
                                               "g4dn.48xlarge", "p3.24xlarge", ""])
    def test_other_types_have_no_shape(self, instance_type: str) -> None:
        assert shape_of(instance_type) is None


# --- StackOutputs -----------------------------------------------------------------------------------------
ACCOUNT = "123456789012"
REQUIRED: dict[str, Any] = {
    "environment": "prod", "region": "eu-west-1", "account_id": ACCOUNT,
    "kms_key_arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1111",
    "buckets": {"raw_data": "r", "features": "f", "artifacts": "a", "models": "m", "access_logs": "l"},
    "roles": {r: f"arn:aws:iam::{ACCOUNT}:role/{r}" for r in
              ("data_scientist", "ml_engineer", "deployer", "auditor", "sagemaker_execution", "gpu_node")},
    "ecr_repository_urls": {"training": "x"}, "model_package_groups": {"credit-risk": "g"},
    "model_approval_status": "PendingManualApproval",
    "alerts_topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:alerts",
}


def _outputs(**changes: Any) -> StackOutputs:
    return StackOutputs.from_mapping({**REQUIRED, **changes})


def _refused(data: Any, source: str | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        StackOutputs.from_mapping(data) if source is None else StackOutputs.from_mapping(data, source=source)
    return str(caught.value)


class TestStackOutputs:
    def test_what_a_stack_did_not_export_reads_as_absent_or_empty(self) -> None:
        outputs = _outputs()
        assert outputs.roles.approver is None
        assert outputs.model_dump(exclude=set(REQUIRED)) == {
            "tracking_server_uri": None, "gpu_pool_asg_name": None, "kubernetes_namespaces": None, "cluster_name": None,
            "cluster_endpoint": None, "workload_role_arns": {}, "workload_service_account": None,
            "tracking_server_arn": None, "image_repositories": {}, "checkpoints_uri": None, "metrics_namespace": None,
            "alarm_names": {}, "endpoint_names": {}, "gpu_node_groups": {}, "gpu_node_selector": {},
            "gpu_toleration": None, "spot_priority_class": None, "audit_trail_arn": None, "training_subnet_ids": [],
            "training_security_group_ids": [],
        }

    def test_every_exported_field_reads_back_as_exported(self) -> None:
        full = {
            **REQUIRED, "roles": {**REQUIRED["roles"], "approver": "arn:aws:iam::1:role/approver"},
            "tracking_server_uri": "https://t", "gpu_pool_asg_name": "asg", "kubernetes_namespaces": ["team-a"],
            "cluster_name": "c", "cluster_endpoint": "https://k", "workload_role_arns": {"team-a": "arn:r"},
            "workload_service_account": "sa",
            "tracking_server_arn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/t",
            "image_repositories": {"training": "t", "serving": "s"}, "checkpoints_uri": "s3://b/checkpoints",
            "metrics_namespace": "Modelway/prod", "alarm_names": {"drift/credit-risk": "a"},
            "endpoint_names": {"credit-risk": "e"}, "gpu_node_groups": {"1gpu": "asg-1"},
            "gpu_node_selector": {"modelway.io/pool": "gpu"},
            "gpu_toleration": {"key": "nvidia.com/gpu", "operator": "Exists", "value": None, "effect": "NoSchedule"},
            "spot_priority_class": "spot", "audit_trail_arn": "arn:aws:cloudtrail:t",
            "training_subnet_ids": ["subnet-1"], "training_security_group_ids": ["sg-1"],
        }
        assert StackOutputs.from_mapping(full).model_dump() == full

    @pytest.mark.parametrize("environment", ENVIRONMENTS)
    def test_each_environment_is_accepted(self, environment: str) -> None:
        assert _outputs(environment=environment).environment == environment

    def test_the_environments_are_dev_staging_and_prod(self) -> None:
        assert ENVIRONMENTS == get_args(Environment) == ("dev", "staging", "prod")
        assert _refused({**REQUIRED, "environment": "test"}) == \
            "stack outputs: environment: Input should be 'dev', 'staging' or 'prod'"

    @pytest.mark.parametrize(("key", "good", "bad"), [
        ("account_id", ["000000000000", ACCOUNT], ["12345678901", "1234567890123", "12345678901a", "x123456789012"]),
        ("kms_key_arn", ["arn:aws:kms:eu-west-1:1:key/k", "arn:aws-cn:kms:cn-north-1:1:key/k",
                         "arn:aws-us-gov:kms:x"], ["arn:aws:sns:eu-west-1:1:k", "kms:arn:aws:kms:", "arn:aws:KMS:x"]),
        ("alerts_topic_arn", ["arn:aws:sns:eu-west-1:1:t", "arn:aws-cn:sns:x"], ["arn:aws:sqs:eu-west-1:1:t", "t"]),
        ("tracking_server_arn", [f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:mlflow-tracking-server/t",
                                 "arn:aws-cn:sagemaker:x:mlflow-tracking-server/t"],
         ["https://t-1.experiments.sagemaker.aws", "arn:aws:sagemaker:eu-west-1:1:endpoint/t"]),
        ("checkpoints_uri", ["s3://bucket/prefix"], ["/mnt/checkpoints", "gs://bucket", "s3:/bucket"]),
    ])
    def test_patterns_accept_what_aws_writes_and_refuse_the_rest(self, key: str, good: list[str], bad: list[str]) -> None:
        for value in good:
            assert getattr(_outputs(**{key: value}), key) == value
        for value in bad:
            assert _refused({**REQUIRED, key: value}).startswith(f"stack outputs: {key}: String should match pattern"), \
                value

    @pytest.mark.parametrize("status", ["PendingManualApproval", "Approved"])
    def test_both_approval_statuses_read_back(self, status: str) -> None:
        assert _outputs(model_approval_status=status).model_approval_status == status

    def test_other_approval_statuses_are_refused(self) -> None:
        assert _refused({**REQUIRED, "model_approval_status": "Rejected"}) == \
            "stack outputs: model_approval_status: Input should be 'PendingManualApproval' or 'Approved'"

    def test_a_missing_required_output_is_named_with_its_path(self) -> None:
        without_models = {**REQUIRED, "buckets": {k: v for k, v in REQUIRED["buckets"].items() if k != "models"}}
        assert _refused(without_models, source="prod.json") == "prod.json: buckets.models: Field required"
        without_gpu_role = {**REQUIRED, "roles": {k: v for k, v in REQUIRED["roles"].items() if k != "gpu_node"}}
        assert _refused(without_gpu_role) == "stack outputs: roles.gpu_node: Field required"
        assert _refused({k: v for k, v in REQUIRED.items() if k != "region"}) == "stack outputs: region: Field required"

    def test_an_unknown_output_is_refused_at_every_level(self) -> None:
        assert _refused({**REQUIRED, "bucket": "x"}) == "stack outputs: bucket: Extra inputs are not permitted"
        assert _refused({**REQUIRED, "buckets": {**REQUIRED["buckets"], "logs": "x"}}) == \
            "stack outputs: buckets.logs: Extra inputs are not permitted"
        assert _refused({**REQUIRED, "image_repositories": {"notebooks": "x"}}) == \
            "stack outputs: image_repositories.notebooks.[key]: Input should be 'training' or 'serving'"

    def test_only_the_first_problem_is_reported_in_one_line(self) -> None:
        assert _refused({**REQUIRED, "region": 1, "account_id": "1"}) == \
            "stack outputs: region: Input should be a valid string"

    def test_a_document_that_is_no_mapping_is_one_line_without_an_empty_key(self) -> None:
        # was "out.json: : Input should be ...": a JSON list or null has no key to name
        assert _refused([], source="out.json") == "out.json: Input should be a valid dictionary or instance of StackOutputs"
        assert _refused(None) == "stack outputs: Input should be a valid dictionary or instance of StackOutputs"

    def test_a_gpu_toleration_defaults_to_equal_and_takes_the_three_effects(self) -> None:
        toleration = GpuToleration(key="nvidia.com/gpu", effect="NoSchedule")
        assert (toleration.operator, toleration.value) == ("Equal", None)
        for effect in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            assert _outputs(gpu_toleration={"key": "k", "effect": effect}).gpu_toleration.effect == effect
        assert _outputs(gpu_toleration={"key": "k", "operator": "Exists", "effect": "NoSchedule"}).gpu_toleration.operator \
            == "Exists"
        assert _refused({**REQUIRED, "gpu_toleration": {"key": "k", "effect": "Never"}}) == \
            "stack outputs: gpu_toleration.effect: Input should be 'NoSchedule', 'PreferNoSchedule' or 'NoExecute'"
        assert _refused({**REQUIRED, "gpu_toleration": {"key": "k", "operator": "In", "effect": "NoSchedule"}}) == \
            "stack outputs: gpu_toleration.operator: Input should be 'Equal' or 'Exists'"

    def test_outputs_are_read_only(self) -> None:
        outputs = _outputs()
        with pytest.raises(Exception, match="frozen"):
            outputs.region = "us-east-1"  # type: ignore[misc]
        with pytest.raises(Exception, match="frozen"):
            outputs.buckets.models = "other"  # type: ignore[misc]

    def test_outputs_read_from_a_json_file(self, tmp_path: Path) -> None:
        path = tmp_path / "prod-outputs.json"
        path.write_text(json.dumps(REQUIRED), encoding="utf-8")
        assert StackOutputs.from_json_file(path).buckets.artifacts == "a"
        path.write_text(json.dumps({**REQUIRED, "region": None}), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            StackOutputs.from_json_file(path)
        assert str(caught.value) == f"{path}: region: Input should be a valid string"  # the file is the source

    def test_an_unreadable_outputs_file_is_one_line(self, tmp_path: Path) -> None:
        missing = tmp_path / "missing.json"
        with pytest.raises(ConfigError) as caught:
            StackOutputs.from_json_file(missing)
        assert str(caught.value) == f"{missing}: cannot read stack outputs ([Errno 2] No such file or directory: " \
                                    f"'{missing}')"
        broken = tmp_path / "broken.json"
        broken.write_text("{", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            StackOutputs.from_json_file(broken)
        assert str(caught.value) == f"{broken}: cannot read stack outputs (Expecting property name enclosed in double " \
                                    "quotes: line 1 column 2 (char 1))"


# --- platform metrics and alarms ---------------------------------------------------------------------------
class TestPlatformMetrics:
    def test_each_metric_carries_exactly_its_dimensions(self) -> None:
        assert DRIFT_SCORE.dimensions_for(environment="prod", model="credit-risk", endpoint="e") == \
            {"Environment": "prod", "Model": "credit-risk"}
        assert PIPELINE_RUNS_FAILED.dimensions_for(environment="dev", model="m", endpoint="e") == {"Environment": "dev"}
        assert ENDPOINT_5XX.dimensions_for(environment="prod", model="m", endpoint="modelway-prod-m") == \
            {"EndpointName": "modelway-prod-m", "VariantName": "AllTraffic"}
        assert list(DRIFT_SCORE.dimensions_for(environment="prod", model="m")) == ["Environment", "Model"]

    def test_a_missing_dimension_value_is_named(self) -> None:
        with pytest.raises(ValueError) as caught:
            DRIFT_SCORE.dimensions_for(environment="prod")
        assert str(caught.value) == "metric DriftScore needs Model"
        with pytest.raises(ValueError) as caught:
            ENDPOINT_5XX.dimensions_for(environment="prod", model="m")
        assert str(caught.value) == "metric Invocation5XXErrors needs EndpointName"
        both = PlatformMetric("Latency", "custom", ("Model", "EndpointName", "Environment"))
        with pytest.raises(ValueError) as caught:
            both.dimensions_for(environment="prod")
        assert str(caught.value) == "metric Latency needs Model, EndpointName"

    def test_dimension_values_are_text(self) -> None:
        metric = PlatformMetric("M", "custom", ("Environment", "Model"))
        assert metric.dimensions_for(environment="prod", model=7) == {"Environment": "prod", "Model": "7"}  # type: ignore

    def test_the_metrics_names_sources_and_units(self) -> None:
        assert (DRIFT_SCORE.name, DRIFT_SCORE.source, DRIFT_SCORE.unit) == ("DriftScore", "custom", "None")
        assert (PIPELINE_RUNS_FAILED.name, PIPELINE_RUNS_FAILED.source, PIPELINE_RUNS_FAILED.unit,
                PIPELINE_RUNS_FAILED.dimensions) == ("PipelineRunsFailed", "custom", "Count", ("Environment",))
        assert (ENDPOINT_5XX.name, ENDPOINT_5XX.source, ENDPOINT_5XX.unit) == ("Invocation5XXErrors", "sagemaker", "Count")
        # SageMaker publishes endpoint metrics under its namespace, per variant; the deployer names the variant so
        assert (SAGEMAKER_NAMESPACE, ENDPOINT_VARIANT) == ("AWS/SageMaker", "AllTraffic")
        with pytest.raises(FrozenInstanceError):
            DRIFT_SCORE.name = "Other"  # type: ignore[misc]

    def test_the_alarms(self) -> None:
        by_role = {spec.role: spec for spec in ALARMS}
        assert list(by_role) == ["drift", "endpoint-errors", "pipeline-failures"]
        drift, errors, failures = by_role["drift"], by_role["endpoint-errors"], by_role["pipeline-failures"]
        # drift: the largest score above the threshold; errors and failures: one is enough (sum >= threshold)
        assert (drift.metric, drift.statistic, drift.comparison, drift.per_model) == \
            (DRIFT_SCORE, "Maximum", "GreaterThanThreshold", True)
        assert (errors.metric, errors.statistic, errors.comparison, errors.per_model) == \
            (ENDPOINT_5XX, "Sum", "GreaterThanOrEqualToThreshold", True)
        assert (failures.metric, failures.statistic, failures.comparison, failures.per_model) == \
            (PIPELINE_RUNS_FAILED, "Sum", "GreaterThanOrEqualToThreshold", False)
        assert [spec.description for spec in ALARMS] == [
            "Feature drift of the deployed model exceeded the threshold", "The model's endpoint returned server errors",
            "A pipeline run failed"]
        with pytest.raises(FrozenInstanceError):  # one definition for infra and the runtime: nobody changes it
            drift.statistic = "Average"  # type: ignore[misc]

    def test_endpoint_and_alarm_names(self) -> None:
        assert endpoint_name("modelway-prod", "credit-risk") == "modelway-prod-credit-risk"
        assert alarm_name("modelway-prod", "pipeline-failures") == "modelway-prod-pipeline-failures"
        assert alarm_name("modelway-prod", "drift", "credit-risk") == "modelway-prod-drift-credit-risk"
        assert alarm_key("pipeline-failures") == "pipeline-failures"
        assert alarm_key("drift", "credit-risk") == "drift/credit-risk"

