"""Pins on the stack config contract that mutation testing found loose: the prod safety rules (both
sides of each), every default, both ends of every range, every pattern and cross-key rule, and the
one-line error a user reads."""
from __future__ import annotations

import pytest

from modelway.contracts import PlatformConfig
from modelway.errors import ConfigError


@pytest.mark.parametrize("days, ok", [(180, False), (365, True), (400, True)])
def test_prod_log_retention_minimum_is_365_days(days: int, ok: bool) -> None:
    raw = {"observability": {"log_retention_days": days}}
    if ok:
        assert PlatformConfig.from_mapping(raw, stack="prod").observability.log_retention_days == days
    else:
        with pytest.raises(ConfigError) as caught:
            PlatformConfig.from_mapping(raw, stack="prod")
        assert str(caught.value) == "modelway:observability.log_retention_days: prod keeps logs at least 365 days"


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_shorter_log_retention_is_fine_outside_prod(stack: str) -> None:
    config = PlatformConfig.from_mapping({"observability": {"log_retention_days": 30}}, stack=stack)
    assert config.observability.log_retention_days == 30


def test_log_retention_must_be_a_value_cloudwatch_accepts() -> None:
    with pytest.raises(ConfigError, match=r"modelway:observability.log_retention_days: .*must be one of 1, 3, 5"):
        PlatformConfig.from_mapping({"observability": {"log_retention_days": 366}}, stack="dev")


@pytest.mark.parametrize("raw, key, why", [
    ({"registries": {"model_approval_status": "Approved"}}, "registries.model_approval_status",
     "prod requires PendingManualApproval"),
    ({"storage": {"retain_on_delete": False}}, "storage.retain_on_delete", "prod must retain data"),
    ({"storage": {"model_lock_days": 0}}, "storage.model_lock_days", "prod locks model versions (at least 1 day)"),
    ({"audit": {"cloudtrail": False}}, "audit.cloudtrail", "prod keeps a CloudTrail trail for the auditor"),
])
def test_each_prod_safety_rule_names_its_key(raw: dict, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(raw, stack="prod")
    assert str(caught.value).startswith(f"modelway:{key}: {why}")
    PlatformConfig.from_mapping(raw, stack="dev")  # the same values are allowed in dev


def test_prod_defaults_are_safe_and_one_day_of_model_lock_is_enough() -> None:
    config = PlatformConfig.from_mapping({"storage": {"model_lock_days": 1}}, stack="prod")
    assert (config.environment, config.storage.model_lock_days, config.observability.log_retention_days) == (
        "prod", 1, 365)


@pytest.mark.parametrize("claimed, stack, message", [
    ("dev", "prod", "modelway:environment: is 'dev' but the stack is 'prod'; remove the key or set it to prod"),
    (None, "sandbox", "modelway:environment: the stack 'sandbox' is not dev, staging or prod"),
])
def test_a_stack_cannot_claim_another_environment(claimed, stack: str, message: str) -> None:
    raw = {} if claimed is None else {"environment": claimed}
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(raw, stack=stack)
    assert str(caught.value).startswith(message)


def test_a_custom_stack_name_may_claim_an_environment() -> None:
    assert PlatformConfig.from_mapping({"environment": "prod"}, stack="prod-eu").environment == "prod"
    assert PlatformConfig.from_mapping({"environment": "prod"}, stack="prod").environment == "prod"


# --- every default, every bound, every pattern ---------------------------------------------------
def _error(raw: dict, stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(raw, stack=stack)
    assert caught.value.__suppress_context__  # one line, no chained pydantic traceback
    return str(caught.value)


def _nested(path: str, value) -> dict:
    raw: dict = {}
    node = raw
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return raw


DEFAULTS = {
    "environment": "dev", "region": "us-east-1",
    "storage": {"retain_on_delete": True, "transition_to_ia_days": 30, "transition_to_glacier_days": 90,
                "noncurrent_version_expiration_days": 90, "abort_incomplete_multipart_days": 7,
                "kms_deletion_window_days": 30, "force_destroy": False, "model_lock_days": 365},
    "identity": {"trusted_principals": [], "require_mfa": True, "max_session_duration_s": 3600,
                 "experiments_prefix": "experiments"},
    "network": {"vpc_id": None, "subnet_ids": [], "cidr_block": "10.40.0.0/16", "availability_zones": 3,
                "nat_gateways": "single", "vpc_endpoints": True},
    "cluster": {"mode": "none", "name": None, "version": "1.31", "public_access_cidrs": [],
                "system_instance_type": "m6i.large", "system_nodes": 2,
                "addons": {"cluster_autoscaler": "9.43.2", "nvidia_device_plugin": "0.17.0",
                           "node_termination_handler": "0.21.0"}},
    "gpu_pool": {"enabled": False, "node_groups": [{"name": "1gpu", "instance_types": ["g5.xlarge", "g6.xlarge",
                                                                                      "g4dn.xlarge"],
                                                    "min_size": 0, "max_size": 2}],
                 "on_demand_base_capacity": 0, "spot_allocation_strategy": "price-capacity-optimized", "ami_id": None,
                 "root_volume_gb": 200, "security_group_ids": [], "autoscaling_service_role": "create"},
    "registries": {"model_families": ["credit-risk"], "ecr_repositories": ["training", "serving"], "keep_images": 50,
                   "model_approval_status": "PendingManualApproval", "mlflow_tracking_server": False,
                   "tracking_server_size": "Small", "mlflow_version": "2.16"},
    "kubernetes": {"teams": ["ml"], "quota": {"gpus": 4, "cpu": "64", "memory": "256Gi"}, "egress_cidrs": []},
    "observability": {"log_retention_days": 365, "monthly_budget_usd": 1000.0, "budget_alert_emails": [],
                      "metrics_namespace": "Modelway", "drift_threshold": 0.2, "endpoint_5xx_threshold": 5,
                      "activate_cost_allocation_tag": True},
    "audit": {"cloudtrail": True},
    "tags": {"owner": "ml-platform", "cost_center": "ml", "extra": {}},
    "pipelines": [],
}


def test_every_default_of_an_empty_stack_config() -> None:
    # What `pulumi up` deploys when a key is left out: retention, lock, MFA, budget, ... each pinned.
    assert PlatformConfig.from_mapping({}, stack="dev").model_dump() == DEFAULTS


@pytest.mark.parametrize("path, low, high", [
    ("storage.transition_to_ia_days", 30, 3650), ("storage.transition_to_glacier_days", 60, 3650),
    ("storage.noncurrent_version_expiration_days", 1, 3650), ("storage.abort_incomplete_multipart_days", 1, 365),
    ("storage.kms_deletion_window_days", 7, 30), ("storage.model_lock_days", 0, 36500),
    ("identity.max_session_duration_s", 3600, 43200), ("gpu_pool.on_demand_base_capacity", 0, 1000),
    ("gpu_pool.root_volume_gb", 50, 16384), ("network.availability_zones", 2, 6), ("cluster.system_nodes", 1, 20),
    ("kubernetes.quota.gpus", 0, 1024),
])
def test_each_numeric_key_is_refused_just_outside_its_range(path: str, low: int, high: int) -> None:
    assert _error(_nested(path, low - 1)) == (
        f"modelway:{path}: Input should be greater than or equal to {low} (got {low - 1})")
    assert _error(_nested(path, high + 1)) == (
        f"modelway:{path}: Input should be less than or equal to {high} (got {high + 1})")


@pytest.mark.parametrize("path, value", [
    ("storage.kms_deletion_window_days", 7), ("storage.abort_incomplete_multipart_days", 365),
    ("storage.noncurrent_version_expiration_days", 1), ("identity.max_session_duration_s", 43200),
    ("gpu_pool.root_volume_gb", 50), ("network.availability_zones", 6), ("cluster.system_nodes", 20),
    ("kubernetes.quota.gpus", 1024), ("observability.drift_threshold", 1), ("storage.model_lock_days", 36500),
])
def test_each_bound_itself_is_allowed(path: str, value: int) -> None:
    config = PlatformConfig.from_mapping(_nested(path, value), stack="dev").model_dump()
    node = config
    for part in path.split("."):
        node = node[part]
    assert node == value


@pytest.mark.parametrize("field, low, high", [("min_size", 0, 1000), ("max_size", 0, 1000)])
def test_node_group_sizes_are_bounded(field: str, low: int, high: int) -> None:
    def group(value: int) -> dict:
        sizes = {"min_size": 0, "max_size": 1000, field: value}
        return {"gpu_pool": {"node_groups": [{"name": "a", "instance_types": ["g5.xlarge", "g6.xlarge"], **sizes}]}}

    key = f"modelway:gpu_pool.node_groups[0].{field}"
    assert _error(group(low - 1)) == f"{key}: Input should be greater than or equal to {low} (got {low - 1})"
    assert _error(group(high + 1)) == f"{key}: Input should be less than or equal to {high} (got {high + 1})"
    PlatformConfig.from_mapping(group(high), stack="dev")


def test_drift_threshold_is_above_zero_and_at_most_one() -> None:
    assert _error(_nested("observability.drift_threshold", 0)) == (
        "modelway:observability.drift_threshold: Input should be greater than 0 (got 0)")
    assert _error(_nested("observability.drift_threshold", 1.01)) == (
        "modelway:observability.drift_threshold: Input should be less than or equal to 1 (got 1.01)")


EVERYTHING_SET = {
    "region": "us-gov-west-1",
    "identity": {"trusted_principals": ["arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/admin",
                                        "arn:aws-us-gov:iam::123456789012:user/bob"],
                 "experiments_prefix": "team-a/exp_1"},
    "network": {"vpc_id": "vpc-0123abcd", "subnet_ids": ["subnet-0123abcd", "subnet-0123456789abcdef0"],
                "cidr_block": "10.0.0.0/8"},
    "cluster": {"mode": "existing", "name": "Prod_cluster-1", "version": "1.30", "public_access_cidrs": ["1.2.3.4/32"],
                "system_instance_type": "m7g.2xlarge", "addons": {"cluster_autoscaler": "10.0.1"}},
    "gpu_pool": {"enabled": True, "ami_id": "ami-0123abcd", "security_group_ids": ["sg-0123abcd"],
                 "node_groups": [{"name": "4gpu", "instance_types": ["g5.12xlarge", "g6.12xlarge"]}]},
    "registries": {"model_families": ["fraud", "credit-risk-2"], "ecr_repositories": ["serving", "training", "x-1"],
                   "mlflow_version": "2.16.1"},
    "kubernetes": {"teams": ["ml", "risk-team"], "quota": {"cpu": "500m", "memory": "1.5Ti"},
                   "egress_cidrs": ["192.168.0.0/16"]},
    "observability": {"budget_alert_emails": ["ops@example.com"], "metrics_namespace": "Team/ML_1.0-x"},
}


def test_a_config_using_every_optional_key_with_valid_values_is_accepted() -> None:
    config = PlatformConfig.from_mapping(EVERYTHING_SET, stack="dev")
    assert config.cluster.enabled and config.network.existing
    assert config.gpu_pool.node_groups[0].shape.gpus == 4


@pytest.mark.parametrize("path, value", [
    ("region", "useast-1"), ("identity.trusted_principals", ["arn:aws:iam::12345:root"]),
    ("identity.trusted_principals", ["arn:aws:iam::123456789012:group/x"]), ("identity.experiments_prefix", "-x"),
    ("network.vpc_id", "vpc-xyz"), ("network.subnet_ids", ["subnet-12"]), ("network.cidr_block", "10.0.0.0"),
    ("cluster.name", "-bad"), ("cluster.version", "2.1"), ("cluster.system_instance_type", "large"),
    ("cluster.public_access_cidrs", ["everywhere"]), ("cluster.addons.cluster_autoscaler", "9.43"),
    ("gpu_pool.ami_id", "ami-1"), ("gpu_pool.security_group_ids", ["sg-x"]),
    ("registries.model_families", ["Fraud"]), ("registries.ecr_repositories", ["training", "serving", "X"]),
    ("registries.mlflow_version", "latest"), ("kubernetes.teams", ["ML"]), ("kubernetes.quota.cpu", "lots"),
    ("kubernetes.egress_cidrs", ["1.2.3"]), ("observability.budget_alert_emails", ["ops"]),
    ("observability.metrics_namespace", "a b"), ("tags.owner", ""), ("tags.cost_center", "x" * 257),
])
def test_a_malformed_value_is_refused_naming_its_key(path: str, value) -> None:
    message = _error(_nested(path, value))
    assert message.startswith(f"modelway:{path}"), message


# --- the section rules: each message, each side --------------------------------------------------
def test_glacier_comes_at_least_30_days_after_standard_ia() -> None:
    assert _error({"storage": {"transition_to_ia_days": 60, "transition_to_glacier_days": 89}}) == (
        "modelway:storage.transition_to_glacier_days: must be at least transition_to_ia_days + 30 (90): S3 keeps "
        "objects 30 days in STANDARD_IA before GLACIER_IR, got 89")
    storage = PlatformConfig.from_mapping({"storage": {"transition_to_ia_days": 60, "transition_to_glacier_days": 90}},
                                          stack="dev").storage
    assert (storage.transition_to_ia_days, storage.transition_to_glacier_days) == (60, 90)


def test_force_destroy_needs_the_model_lock_off_and_retention_off() -> None:
    assert _error({"storage": {"force_destroy": True, "retain_on_delete": False}}) == (
        "modelway:storage.model_lock_days: must be 0 when force_destroy is true (locked model versions cannot be "
        "destroyed with the stack)")
    assert _error({"storage": {"force_destroy": True, "model_lock_days": 0}}) == (
        "modelway:storage.force_destroy: cannot be true while retain_on_delete is true")
    config = PlatformConfig.from_mapping({"storage": {"force_destroy": True, "model_lock_days": 0,
                                                      "retain_on_delete": False}}, stack="dev")
    assert config.storage.force_destroy is True
    assert PlatformConfig.from_mapping({"storage": {"model_lock_days": 0}}, stack="dev").storage.model_lock_days == 0


def test_prod_refuses_force_destroy_even_with_retention_on() -> None:
    assert _error({"storage": {"force_destroy": True, "model_lock_days": 1}}, stack="prod") == (
        "modelway:storage.model_lock_days: must be 0 when force_destroy is true (locked model versions cannot be "
        "destroyed with the stack)")
    assert _error({"storage": {"force_destroy": True, "model_lock_days": 0, "retain_on_delete": False}},
                  stack="prod") == ("modelway:storage.retain_on_delete: prod must retain data (retain_on_delete: true, "
                                    "force_destroy: false)")


@pytest.mark.parametrize("types, message", [
    (["m5.xlarge", "g5.xlarge"], "unknown GPU instance type 'm5.xlarge'; allowed families: g4dn, g5, g6, g6e, gr6, "
                                 "p3, p3dn, p4d, p4de, p5, p5e, p5en (e.g. g5.xlarge)"),
    (["g5.xlarge", "m5.xlarge"], "unknown GPU instance type 'm5.xlarge'; allowed families"),
    (["g5.xlarge", "g5.xlarge"], "list at least 2 different GPU instance types so spot capacity can be found"),
    (["g5.xlarge", "g5.12xlarge"], "g5.12xlarge (4 GPU, 48 vCPU, 192 GiB) differs from g5.xlarge (1 GPU, 4 vCPU, 16 GiB)"),
    (["g5.12xlarge", "g5.xlarge", "g6.xlarge"],
     "g5.xlarge (1 GPU, 4 vCPU, 16 GiB) differs from g5.12xlarge (4 GPU, 48 vCPU, 192 GiB)"),
    (["g5.xlarge", "g6.xlarge", "g5.12xlarge"],
     "g5.12xlarge (4 GPU, 48 vCPU, 192 GiB) differs from g5.xlarge (1 GPU, 4 vCPU, 16 GiB): one node group holds "
     "one shape (the cluster autoscaler scales it from zero by one type's GPUs, vCPUs and memory); put it in "
     "another node group"),
])
def test_a_node_group_holds_known_gpu_types_of_one_shape(types: list[str], message: str) -> None:
    raw = {"gpu_pool": {"node_groups": [{"name": "a", "instance_types": types}]}}
    assert _error(raw).startswith(f"modelway:gpu_pool.node_groups[0].instance_types: {message}")


def test_node_group_rules() -> None:
    def pool(*groups: dict, **extra) -> dict:
        return {"gpu_pool": {"node_groups": [{"instance_types": ["g5.xlarge", "g6.xlarge"], **g} for g in groups],
                             **extra}}

    assert _error(pool({"name": "a", "instance_types": ["g5.xlarge"]})) == (
        "modelway:gpu_pool.node_groups[0].instance_types: List should have at least 2 items after validation, not 1")
    assert _error({"gpu_pool": {"node_groups": []}}) == (
        "modelway:gpu_pool.node_groups: List should have at least 1 item after validation, not 0")
    assert _error(pool({"name": "a", "min_size": 3, "max_size": 2})) == (
        "modelway:gpu_pool.node_groups[0].max_size: must be >= min_size (3), got 2")
    PlatformConfig.from_mapping(pool({"name": "a", "min_size": 2, "max_size": 2}), stack="dev")
    assert _error(pool({"name": "b"}, {"name": "a"}, {"name": "b"}, {"name": "a"})) == (
        "modelway:gpu_pool.node_groups: duplicate node group names: a, b")
    assert _error(pool({"name": "a", "max_size": 3}, {"name": "b", "max_size": 1}, on_demand_base_capacity=2)) == (
        "modelway:gpu_pool.on_demand_base_capacity: must be <= every node group's max_size (1)")
    PlatformConfig.from_mapping(pool({"name": "a", "max_size": 3}, {"name": "b", "max_size": 2},
                                     on_demand_base_capacity=2), stack="dev")


def test_network_and_cluster_rules() -> None:
    assert _error({"network": {"vpc_id": "vpc-0123abcd", "subnet_ids": ["subnet-0123abcd"]}}) == (
        "modelway:network.subnet_ids: list at least 2 private subnets of vpc_id (in different AZs)")
    assert _error({"network": {"subnet_ids": ["subnet-0123abcd"]}}) == (
        "modelway:network.vpc_id: set the VPC the subnet_ids belong to")
    assert _error({"cluster": {"mode": "existing"}}) == (
        "modelway:cluster.name: name the existing EKS cluster (mode: existing)")
    assert _error({"cluster": {"mode": "create", "public_access_cidrs": ["1.2.3.4/32", "0.0.0.0/0"]}}) == (
        "modelway:cluster.public_access_cidrs: 0.0.0.0/0 opens the API to the internet; list the CIDRs `pulumi up` "
        "and operators connect from")
    assert _error({"gpu_pool": {"enabled": True}}) == (
        "modelway:gpu_pool.enabled: the GPU pool needs a cluster to join: set cluster.mode to create or existing "
        "(or gpu_pool.enabled: false)")
    assert _error({"cluster": {"mode": "existing", "name": "c"}}) == (
        "modelway:network.vpc_id: an existing cluster needs its VPC: set network.vpc_id and network.subnet_ids "
        "(private subnets the GPU nodes launch into)")
    created = PlatformConfig.from_mapping({"cluster": {"mode": "create"}, "gpu_pool": {"enabled": True}}, stack="dev")
    assert (created.cluster.enabled, created.network.existing) == (True, False)
    assert PlatformConfig.from_mapping({}, stack="dev").cluster.enabled is False


@pytest.mark.parametrize("repositories, missing", [
    (["serving"], "training"), (["training"], "serving"), (["other"], "training and serving"),
])
def test_ecr_repositories_include_training_and_serving(repositories: list[str], missing: str) -> None:
    assert _error({"registries": {"ecr_repositories": repositories}}) == (
        f"modelway:registries.ecr_repositories: must include {missing} (the runtime builds one image per use)")


@pytest.mark.parametrize("key", ["model_families", "ecr_repositories"])
def test_registry_lists_refuse_duplicates(key: str) -> None:
    values = ["training", "serving", "b-1", "a-1", "b-1", "a-1"]
    assert _error({"registries": {key: values}}) == f"modelway:registries.{key}: duplicate entries: a-1, b-1"


def test_default_tags_cannot_be_overridden_by_extra_tags() -> None:
    config = PlatformConfig.from_mapping({"tags": {"owner": "me", "cost_center": "cc",
                                                   "extra": {"team": "t", "owner": "x", "environment": "prod"}}},
                                         stack="dev")
    assert config.default_tags == {"team": "t", "owner": "me", "cost-center": "cc", "environment": "dev"}


# --- reading the engine's config strings -------------------------------------------------------
def test_pulumi_values_are_read_from_the_modelway_namespace_only() -> None:
    config = PlatformConfig.from_pulumi_values({
        "modelway:storage": ' {"model_lock_days": 30} ', "modelway:tags": '{"owner": "team"}',
        "other:storage": '{"model_lock_days": 5}', "modelway": "x", "aws:region": "eu-west-1",
    }, stack="dev")
    assert (config.storage.model_lock_days, config.tags.owner, config.region) == (30, "team", "eu-west-1")
    explicit = PlatformConfig.from_pulumi_values({"modelway:region": "us-west-2", "aws:region": "eu-west-1"},
                                                 stack="dev")
    assert explicit.region == "us-west-2"
    assert PlatformConfig.from_pulumi_values({"aws:region": ""}, stack="dev").region == "us-east-1"


def test_a_config_string_that_is_not_json_is_validated_as_the_text_it_is() -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_pulumi_values({"modelway:storage": "{not json"}, stack="dev")
    assert str(caught.value) == ("modelway:storage: Input should be a valid dictionary or instance of StorageConfig "
                                 "(got '{not json')")
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_pulumi_values({"modelway:kubernetes": '[1]'}, stack="dev")
    assert str(caught.value) == "modelway:kubernetes: Input should be a valid dictionary or instance of KubernetesConfig"


# --- one line per problem ------------------------------------------------------------------------
def test_an_unknown_key_lists_the_keys_allowed_there_and_counts_the_rest() -> None:
    assert _error({"bogus": 1}) == (
        "unknown key modelway:bogus; allowed keys here: environment, region, storage, identity, network, cluster, "
        "gpu_pool, registries, kubernetes, observability, audit, tags, pipelines")
    assert _error({"kubernetes": {"quota": {"bogus": 1}}}) == (
        "unknown key modelway:kubernetes.quota.bogus; allowed keys here: gpus, cpu, memory")
    assert _error({"gpu_pool": {"node_groups": [{"name": "a", "instance_types": ["g5.xlarge", "g6.xlarge"],
                                                 "foo": 1}]}}) == (
        "unknown key modelway:gpu_pool.node_groups[0].foo; allowed keys here: name, instance_types, min_size, max_size")
    assert _error({"storage": {"bogus": 1, "x": 2}}).endswith("model_lock_days (and 1 more problem)")
    assert _error({"storage": {"bogus": 1, "x": 2, "y": 3}}).endswith("model_lock_days (and 2 more problems)")
    assert _error({"storage": {"transition_to_ia_days": 29, "bogus": 1}}) == (
        "modelway:storage.transition_to_ia_days: Input should be greater than or equal to 30 (got 29) "
        "(and 1 more problem)")


def test_a_wrong_value_shows_what_was_given_unless_it_is_a_section() -> None:
    assert _error({"network": {"nat_gateways": "two"}}) == (
        "modelway:network.nat_gateways: Input should be 'none', 'single' or 'per-az' (got 'two')")
    assert _error({"storage": 5}) == "modelway:storage: Input should be a valid dictionary or instance of " \
                                     "StorageConfig (got 5)"
    assert _error({"storage": [1]}) == "modelway:storage: Input should be a valid dictionary or instance of " \
                                       "StorageConfig"


def test_log_retention_accepts_exactly_the_values_cloudwatch_accepts() -> None:
    accepted = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                3653)
    for days in accepted:
        assert PlatformConfig.from_mapping(_nested("observability.log_retention_days", days),
                                           stack="dev").observability.log_retention_days == days
    for days in {d + 1 for d in accepted} - set(accepted):  # each neighbour CloudWatch would reject
        assert _error(_nested("observability.log_retention_days", days)) == (
            "modelway:observability.log_retention_days: must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, "
            f"150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, got {days}")


def test_a_validated_config_cannot_be_changed_afterwards() -> None:
    config = PlatformConfig.from_mapping({}, stack="dev")
    for section, key, value in ((config, "region", "eu-west-1"), (config.storage, "force_destroy", True),
                                (config.observability, "log_retention_days", 1), (config.gpu_pool.node_groups[0],
                                                                                 "max_size", 9)):
        with pytest.raises(Exception, match="frozen"):
            setattr(section, key, value)


@pytest.mark.parametrize("path, values", [
    ("gpu_pool.spot_allocation_strategy", ["price-capacity-optimized", "capacity-optimized", "lowest-price"]),
    ("gpu_pool.autoscaling_service_role", ["create", "existing"]),
    ("network.nat_gateways", ["none", "single", "per-az"]),
    ("cluster.mode", ["none", "create"]),
    ("registries.model_approval_status", ["PendingManualApproval", "Approved"]),
    ("registries.tracking_server_size", ["Small", "Medium", "Large"]),
])
def test_every_documented_choice_is_accepted_when_written_out(path: str, values: list[str]) -> None:
    for value in values:
        config = PlatformConfig.from_mapping(_nested(path, value), stack="dev").model_dump()
        node = config
        for part in path.split("."):
            node = node[part]
        assert node == value


def test_registry_lists_need_at_least_one_entry_and_one_is_enough() -> None:
    assert PlatformConfig.from_mapping({"registries": {"model_families": ["fraud"]}},
                                       stack="dev").registries.model_families == ["fraud"]
    for key in ("model_families", "ecr_repositories"):
        assert _error({"registries": {key: []}}) == (
            f"modelway:registries.{key}: List should have at least 1 item after validation, not 0")


# --- tags: the lengths AWS accepts for a tag value -------------------------------------------------
@pytest.mark.parametrize("key", ["owner", "cost_center"])
def test_a_tag_value_of_one_to_256_characters_is_accepted_and_257_refused(key: str) -> None:
    for value in ("a", "a" * 256):
        assert getattr(PlatformConfig.from_mapping({"tags": {key: value}}, stack="dev").tags, key) == value
    assert _error({"tags": {key: "a" * 257}}).startswith(
        f"modelway:tags.{key}: String should have at most 256 characters (got 'aaaa")


# --- pipelines the stack deploys -------------------------------------------------------------------
def test_a_pipeline_given_as_a_path_is_a_deployment_with_the_defaults() -> None:
    config = PlatformConfig.from_mapping({"pipelines": ["pipelines/credit_risk.py"]}, stack="dev")
    [deployment] = config.pipelines
    assert (deployment.file, deployment.pipeline, deployment.params, deployment.image_tag) == (
        "pipelines/credit_risk.py", None, {}, "latest")
    full = PlatformConfig.from_mapping({"pipelines": [{"file": "p.py", "pipeline": "train", "params": {"rows": "10"},
                                                       "image_tag": "abc123"}]}, stack="dev").pipelines[0]
    assert (full.file, full.pipeline, full.params, full.image_tag) == ("p.py", "train", {"rows": "10"}, "abc123")


@pytest.mark.parametrize("pipelines, message", [
    (["pipelines/credit_risk.txt"], "modelway:pipelines[0].file: String should match pattern '\\.py$' "
                                    "(got 'pipelines/credit_risk.txt')"),
    ([{"pipeline": "train"}], "modelway:pipelines[0].file: Field required"),
    ([{"file": "p.py", "bogus": 1}],
     "unknown key modelway:pipelines[0].bogus; allowed keys here: file, pipeline, params, image_tag"),
])
def test_a_malformed_pipeline_deployment_is_one_exact_line(pipelines: list, message: str) -> None:
    assert _error({"pipelines": pipelines}) == message


def test_an_unknown_key_is_named_as_written() -> None:
    assert _error({"Xray": True}) == (
        "unknown key modelway:Xray; allowed keys here: environment, region, storage, identity, network, cluster, "
        "gpu_pool, registries, kubernetes, observability, audit, tags, pipelines")


def test_a_custom_stack_without_an_environment_is_told_what_to_set() -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping({}, stack="prod-eu")
    assert str(caught.value) == ("modelway:environment: the stack 'prod-eu' is not dev, staging or prod; set "
                                 "modelway:environment to one of them")


def test_every_modelway_key_is_read_after_another_namespace_s_key() -> None:
    config = PlatformConfig.from_pulumi_values({"aws:region": "eu-west-1", "modelway:storage": '{"model_lock_days": 30}',
                                                "kubernetes:context": "x", "modelway:tags": '{"owner": "team"}'},
                                               stack="dev")
    assert (config.storage.model_lock_days, config.tags.owner, config.region) == (30, "team", "eu-west-1")


def test_only_an_object_or_a_list_is_decoded_from_a_config_string() -> None:
    # "42" is valid JSON, but a scalar stays the text the user wrote (and is validated as such)
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_pulumi_values({"modelway:region": "42"}, stack="dev")
    assert str(caught.value) == ("modelway:region: String should match pattern '^[a-z]{2}(-gov)?-[a-z]+-\\d$' "
                                 "(got '42')")
