"""Invalid stack config fails before any resource is declared, with one line naming the key."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from infra_helpers import REPO_ROOT, render_stack

from modelway.contracts import PlatformConfig
from modelway.errors import ConfigError, UserError

CLUSTER = {"cluster": {"mode": "create"}}


def pool(**groups_and_settings):
    """A gpu_pool section with one node group of the given keys (plus pool-level keys after `pool_`)."""
    group = {"name": "a", "instance_types": ["g5.xlarge", "g6.xlarge"]}
    pool_keys = {k[5:]: v for k, v in groups_and_settings.items() if k.startswith("pool_")}
    group.update({k: v for k, v in groups_and_settings.items() if not k.startswith("pool_")})
    return {**CLUSTER, "gpu_pool": {"enabled": True, "node_groups": [group], **pool_keys}}


@pytest.mark.parametrize("raw, message", [
    (pool(min_size=3, max_size=1), "modelway:gpu_pool.node_groups[0].max_size: must be >= min_size (3), got 1"),
    (pool(instance_types=["m5.large", "g5.xlarge"]),
     "modelway:gpu_pool.node_groups[0].instance_types: unknown GPU instance type 'm5.large'; allowed families: g4dn, g5,"),
    (pool(instance_types=["g5.xlarge"]),
     "modelway:gpu_pool.node_groups[0].instance_types: List should have at least 2 items"),
    (pool(instance_types=["g5.xlarge", "g5.xlarge"]),
     "modelway:gpu_pool.node_groups[0].instance_types: list at least 2 different GPU instance types"),
    # defect 7: a 4-GPU type in a 1-GPU group (the autoscaler would scale it from zero as 1 GPU)
    (pool(instance_types=["g5.2xlarge", "g5.12xlarge"]),
     "modelway:gpu_pool.node_groups[0].instance_types: g5.12xlarge (4 GPU, 48 vCPU, 192 GiB) differs from "
     "g5.2xlarge (1 GPU, 8 vCPU, 32 GiB): one node group holds one shape"),
    # same GPU count, different memory: still two shapes
    (pool(instance_types=["g5.2xlarge", "g6e.2xlarge"]),
     "modelway:gpu_pool.node_groups[0].instance_types: g6e.2xlarge (1 GPU, 8 vCPU, 64 GiB) differs from g5.2xlarge"),
    (pool(pool_on_demand_base_capacity=5),
     "modelway:gpu_pool.on_demand_base_capacity: must be <= every node group's max_size (2)"),
    # defect 15: a GPU pool with no cluster to join
    ({"gpu_pool": {"enabled": True}},
     "modelway:gpu_pool.enabled: the GPU pool needs a cluster to join: set cluster.mode to create or existing"),
    ({"cluster": {"mode": "existing"}}, "modelway:cluster.name: name the existing EKS cluster (mode: existing)"),
    ({"cluster": {"mode": "existing", "name": "c1"}},
     "modelway:network.vpc_id: an existing cluster needs its VPC: set network.vpc_id and network.subnet_ids"),
    ({"network": {"vpc_id": "vpc-0a1b2c3d4e5f60001", "subnet_ids": ["subnet-0a1b2c3d4e5f60001"]}},
     "modelway:network.subnet_ids: list at least 2 private subnets of vpc_id (in different AZs)"),
    ({"cluster": {"mode": "create", "public_access_cidrs": ["0.0.0.0/0"]}},
     "modelway:cluster.public_access_cidrs: 0.0.0.0/0 opens the API to the internet"),
    ({"cluster": {"mode": "create", "addons": {"cluster_autoscaler": "latest"}}},
     "modelway:cluster.addons.cluster_autoscaler: String should match pattern"),
    ({"gpu_pool": {"max_szie": 3}},
     "unknown key modelway:gpu_pool.max_szie; allowed keys here: enabled, node_groups, on_demand_base_capacity"),
    ({**CLUSTER, "gpu_pool": {"node_groups": [{"name": "a", "instance_types": ["g5.xlarge", "g6.xlarge"],
                                               "maxsize": 2}]}},
     "unknown key modelway:gpu_pool.node_groups[0].maxsize; allowed keys here: name, instance_types, min_size"),
    ({"storage": {"retain_on_delete": "perhaps"}},
     "modelway:storage.retain_on_delete: Input should be a valid boolean"),
    # defect 3: S3 keeps objects 30 days in STANDARD_IA before a later transition
    ({"storage": {"transition_to_ia_days": 30, "transition_to_glacier_days": 45}},
     "modelway:storage.transition_to_glacier_days: Input should be greater than or equal to 60"),
    ({"storage": {"transition_to_ia_days": 60, "transition_to_glacier_days": 75}},
     "modelway:storage.transition_to_glacier_days: must be at least transition_to_ia_days + 30 (90): S3 keeps"),
    ({"storage": {"retain_on_delete": False, "force_destroy": True}},
     "modelway:storage.model_lock_days: must be 0 when force_destroy is true"),
    ({"gpu_pool": {"spot_allocation_strategy": "cheapest"}},
     "modelway:gpu_pool.spot_allocation_strategy: Input should be 'price-capacity-optimized', 'capacity-optimized'"
     " or 'lowest-price' (got 'cheapest')"),
    ({"observability": {"log_retention_days": 42}},
     "modelway:observability.log_retention_days: must be one of 1, 3, 5"),
    ({"bogus": 1}, "unknown key modelway:bogus; allowed keys here: environment, region, storage"),
    ({"environment": "qa"}, "modelway:environment: Input should be 'dev', 'staging' or 'prod' (got 'qa')"),
    ({"environment": "prod", "registries": {"model_approval_status": "Approved"}},
     "modelway:registries.model_approval_status: prod requires PendingManualApproval"),
    ({"environment": "prod", "observability": {"log_retention_days": 90}},
     "modelway:observability.log_retention_days: prod keeps logs at least 365 days"),
    ({"environment": "prod", "storage": {"model_lock_days": 0}},
     "modelway:storage.model_lock_days: prod locks model versions (at least 1 day)"),
    ({"environment": "prod", "audit": {"cloudtrail": False}},
     "modelway:audit.cloudtrail: prod keeps a CloudTrail trail for the auditor"),
    ({"registries": {"model_families": ["churn", "churn"]}},
     "modelway:registries.model_families: duplicate entries: churn"),
    ({"registries": {"ecr_repositories": ["training", "notebooks"]}},
     "modelway:registries.ecr_repositories: must include serving (the runtime builds one image per use)"),
    ({"registries": {"mlflow_version": "latest"}}, "modelway:registries.mlflow_version: String should match"),
])
def test_invalid_config_names_the_key_and_allowed_values(raw, message):
    with pytest.raises(ConfigError) as excinfo:
        PlatformConfig.from_mapping(raw, stack=raw.get("environment", "dev"))
    text = str(excinfo.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_defaults_are_safe_and_config_is_frozen():
    cfg = PlatformConfig.from_mapping({}, stack="staging")
    assert cfg.storage.retain_on_delete and not cfg.storage.force_destroy
    assert cfg.identity.require_mfa
    assert cfg.registries.model_approval_status == "PendingManualApproval"
    assert all(g.min_size == 0 for g in cfg.gpu_pool.node_groups) and not cfg.gpu_pool.enabled
    assert cfg.storage.model_lock_days > 0 and cfg.audit.cloudtrail and cfg.cluster.mode == "none"
    assert cfg.observability.log_retention_days >= 365
    with pytest.raises(Exception):
        cfg.environment = "prod"  # type: ignore[misc]


def test_bad_config_fails_the_render_before_any_resource():
    bad = {"modelway:gpu_pool": json.dumps(pool(min_size=4, max_size=2)["gpu_pool"])}
    with pytest.raises(UserError) as excinfo:
        render_stack("prod", **bad)
    assert str(excinfo.value) == ("Pulumi.prod.yaml: modelway:gpu_pool.node_groups[0].max_size: "
                                  "must be >= min_size (4), got 2")


def _project_copy(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "infra").symlink_to(REPO_ROOT / "infra")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_yaml)
    return tmp_path


def test_cli_render_exits_2_with_one_line_on_bad_config(tmp_path):
    project = _project_copy(tmp_path, "config:\n  modelway:cluster:\n    mode: create\n  modelway:gpu_pool:\n"
                                      "    node_groups:\n      - name: a\n        instance_types: [t3.micro, g5.xlarge]\n")
    proc = subprocess.run([sys.executable, "-m", "modelway.cli.main", "render", "--stack", "dev",
                           "--project-dir", str(project)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: Pulumi.dev.yaml: modelway:gpu_pool.node_groups[0].instance_types: unknown GPU instance type "
                     "'t3.micro'; allowed families: g4dn, g5, g6, g6e, gr6, p3, p3dn, p4d, p4de, p5, p5e, p5en "
                     "(e.g. g5.xlarge)"]
    assert proc.stdout == ""


@pytest.mark.parametrize("stack, environment", [("prod", "dev"), ("dev", "prod"), ("staging", "prod")])
def test_environment_must_match_a_standard_stack_name(stack, environment):
    with pytest.raises(ConfigError) as excinfo:
        PlatformConfig.from_mapping({"environment": environment}, stack=stack)
    assert str(excinfo.value) == (f"modelway:environment: is {environment!r} but the stack is {stack!r}; "
                                  f"remove the key or set it to {stack}")
    # a custom stack name may pick its environment; a matching one is accepted
    assert PlatformConfig.from_mapping({"environment": environment}, stack=f"{stack}-eu").environment == environment
    assert PlatformConfig.from_mapping({"environment": stack}, stack=stack).environment == stack


def test_prod_stack_file_saying_dev_fails_the_render_naming_file_and_key():
    with pytest.raises(UserError) as excinfo:
        render_stack("prod", **{"modelway:environment": "dev"})
    assert str(excinfo.value) == ("Pulumi.prod.yaml: modelway:environment: is 'dev' but the stack is 'prod'; "
                                  "remove the key or set it to prod")


def test_stack_file_without_modelway_config_renders_defaults_with_a_warning(tmp_path):
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "infra").symlink_to(REPO_ROOT / "infra")
    (tmp_path / "Pulumi.prod.yaml").write_text("")
    from modelway.rendering.engine import render_in_process
    from modelway.rendering.project import load_program_spec

    result = render_in_process(load_program_spec(tmp_path, "prod"), strict_invokes=True)
    assert [w for w in result.warnings if "modelway" in w] == [
        "Pulumi.prod.yaml sets no modelway: config; the prod stack uses the default of every key "
        "(no GPU pool, no Kubernetes tenancy, default tags and budget): set the keys it needs (README.md, section 'Config keys')"]
    assert result.resources  # still renders: the defaults are safe
    assert not [w for w in render_stack("prod").warnings if "sets no modelway" in w]



def test_a_json_config_value_with_a_duplicate_key_is_refused_naming_the_key_and_line():
    """Pulumi keeps object config as JSON strings; a repeated key must not be last-one-wins."""
    values = {"modelway:tags": '{"owner": "ml-platform",\n "owner": "someone-else"}'}
    with pytest.raises(ConfigError, match=r"^modelway:tags:2: duplicate key 'owner' \(the first is on line 1\)$"):
        PlatformConfig.from_pulumi_values(values, stack="dev")


def test_a_config_value_that_only_looks_like_json_is_judged_by_its_field():
    with pytest.raises(ConfigError, match="tags"):
        PlatformConfig.from_pulumi_values({"modelway:tags": "{owner: broken"}, stack="dev")
