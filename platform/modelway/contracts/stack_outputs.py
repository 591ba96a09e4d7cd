"""StackOutputs: what a provisioned Modelway stack tells the pipeline layer (the infra <-> runtime contract).

The Pulumi program exports exactly these fields (``pulumi stack output --json``); the
pipeline layer reads them back with :meth:`StackOutputs.from_json_file` or
:meth:`StackOutputs.from_mapping`. No Pulumi import here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelway.contracts.environments import Environment
from modelway.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BucketNames(_Frozen):
    """S3 bucket names, one per data tier."""

    raw_data: str
    features: str
    artifacts: str
    models: str
    access_logs: str


class RoleArns(_Frozen):
    """IAM role ARNs per persona and service."""

    data_scientist: str
    ml_engineer: str
    deployer: str
    auditor: str
    sagemaker_execution: str
    gpu_node: str


class StackOutputs(_Frozen):
    """The stack outputs of one Modelway environment.

    Example:
        >>> outputs = StackOutputs.from_json_file(Path("prod-outputs.json"))   # doctest: +SKIP
        >>> outputs.buckets.artifacts                                          # doctest: +SKIP
        'modelway-prod-artifacts-...'
    """

    environment: Environment
    region: str
    account_id: str = Field(pattern=r"^\d{12}$")
    kms_key_arn: str = Field(pattern=r"^arn:aws[a-z-]*:kms:")
    buckets: BucketNames
    roles: RoleArns
    ecr_repository_urls: dict[str, str]
    """Repository name (e.g. ``training``, ``serving``) -> repository URL."""
    model_package_groups: dict[str, str]
    """Model family -> SageMaker model package group name."""
    model_approval_status: Literal["PendingManualApproval", "Approved"]
    """Status new model versions are registered with (``PendingManualApproval`` in prod)."""
    alerts_topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:")
    tracking_server_uri: str | None = None
    """SageMaker MLflow tracking server URL, when one is provisioned."""
    gpu_pool_asg_name: str | None = None
    """Autoscaling group of the spot GPU pool, when enabled."""
    kubernetes_namespaces: list[str] | None = None
    """Team namespaces, when a Kubernetes cluster is configured."""

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "stack outputs") -> "StackOutputs":
        """Validate outputs (e.g. ``pulumi stack output --json``) or raise a one-line ConfigError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in error["loc"])
            raise ConfigError(f"{source}: {key}: {error['msg']}") from None

    @classmethod
    def from_json_file(cls, path: Path) -> "StackOutputs":
        """Read ``pulumi stack output --json > path``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read stack outputs ({exc})") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def output_names(cls) -> list[str]:
        """The top-level keys the Pulumi program must export."""
        return list(cls.model_fields)
