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

SUBNETS = ["subnet-0a1b2c3d4e5f60001"]


@pytest.mark.parametrize("raw, message", [
    ({"gpu_pool": {"enabled": True, "subnet_ids": SUBNETS, "min_size": 3, "max_size": 1}},
     "modelway:gpu_pool.max_size: must be >= min_size (3), got 1"),
    ({"gpu_pool": {"enabled": True, "subnet_ids": SUBNETS, "instance_types": ["m5.large", "g5.xlarge"]}},
     "modelway:gpu_pool.instance_types: unknown GPU instance type 'm5.large'; allowed families: g4dn, g5,"),
    ({"gpu_pool": {"enabled": True, "subnet_ids": SUBNETS, "instance_types": ["g5.xlarge"]}},
     "modelway:gpu_pool.instance_types: list at least 2 different GPU instance types"),
    ({"gpu_pool": {"enabled": True}},
     "modelway:gpu_pool.subnet_ids: list the private subnets"),
    ({"gpu_pool": {"max_szie": 3}},
     "unknown key modelway:gpu_pool.max_szie; allowed keys here: enabled, instance_types, min_size, max_size"),
    ({"storage": {"retain_on_delete": "perhaps"}},
     "modelway:storage.retain_on_delete: Input should be a valid boolean"),
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
    ({"registries": {"model_families": ["churn", "churn"]}},
     "modelway:registries.model_families: duplicate entries: churn"),
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
    assert cfg.gpu_pool.min_size == 0 and not cfg.gpu_pool.enabled
    assert cfg.observability.log_retention_days >= 365
    with pytest.raises(Exception):
        cfg.environment = "prod"  # type: ignore[misc]


def test_bad_config_fails_the_render_before_any_resource():
    bad = {"modelway:gpu_pool": json.dumps({"enabled": True, "subnet_ids": SUBNETS, "min_size": 4, "max_size": 2})}
    with pytest.raises(UserError) as excinfo:
        render_stack("prod", **bad)
    assert str(excinfo.value) == "Pulumi.prod.yaml: modelway:gpu_pool.max_size: must be >= min_size (4), got 2"


def _project_copy(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "infra").symlink_to(REPO_ROOT / "infra")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_yaml)
    return tmp_path


def test_cli_render_exits_2_with_one_line_on_bad_config(tmp_path):
    project = _project_copy(tmp_path, "config:\n  modelway:gpu_pool:\n    instance_types: [t3.micro, g5.xlarge]\n")
    proc = subprocess.run([sys.executable, "-m", "modelway.cli.main", "render", "--stack", "dev",
                           "--project-dir", str(project)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: Pulumi.dev.yaml: modelway:gpu_pool.instance_types: unknown GPU instance type "
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
