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
    approver: str | None = None
    """Sets a model version's approval status (``sagemaker:UpdateModelPackage``); the ML engineer cannot."""


class GpuToleration(_Frozen):
    """The toleration a pod needs to land on the GPU pool's tainted nodes."""

    key: str
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


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
    """SageMaker MLflow tracking server URL (for people; clients use ``tracking_server_arn``), when provisioned."""
    gpu_pool_asg_name: str | None = None
    """Autoscaling group of the spot GPU pool's first node group, when enabled (all: ``gpu_node_groups``)."""
    kubernetes_namespaces: list[str] | None = None
    """Team namespaces, when a Kubernetes cluster is configured."""
    # --- added with the cluster, workload identity and MLflow fixes (older outputs still validate) ---
    cluster_name: str | None = None
    """EKS cluster (created or existing); ``aws eks update-kubeconfig --name <cluster_name>``."""
    cluster_endpoint: str | None = None
    """Its API server URL."""
    workload_role_arns: dict[str, str] = Field(default_factory=dict)
    """Team (= namespace) -> IAM role its pods get through EKS Pod Identity."""
    workload_service_account: str | None = None
    """Service account (in every team namespace) bound to the team's workload role; pods that need
    AWS (S3, ECR, MLflow, CloudWatch) run as it."""
    tracking_server_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:sagemaker:.*:mlflow-tracking-server/")
    """The MLflow tracking URI for clients (``mlflow`` + the ``sagemaker-mlflow`` plugin take the ARN)."""
    image_repositories: dict[Literal["training", "serving"], str] = Field(default_factory=dict)
    """Use -> ECR repository URL: where training and serving images are pushed."""
    checkpoints_uri: str | None = Field(None, pattern=r"^s3://")
    """S3 prefix for spot training checkpoints (never node disk: spot reclaims the node)."""
    metrics_namespace: str | None = None
    """CloudWatch namespace of the custom platform metrics (names/dimensions: modelway.contracts.platform_metrics)."""
    alarm_names: dict[str, str] = Field(default_factory=dict)
    """``platform_metrics.alarm_key`` (``drift/credit-risk``, ``pipeline-failures``) -> CloudWatch alarm name."""
    endpoint_names: dict[str, str] = Field(default_factory=dict)
    """Model family -> SageMaker endpoint name the endpoint-errors alarm watches (deploy under this name)."""
    gpu_node_groups: dict[str, str] = Field(default_factory=dict)
    """GPU shape (node group name, e.g. ``1gpu``) -> autoscaling group name."""
    gpu_node_selector: dict[str, str] = Field(default_factory=dict)
    """Labels that select the GPU pool's nodes (add ``modelway.io/gpu-shape: <group>`` for one shape)."""
    gpu_toleration: GpuToleration | None = None
    """Toleration for the GPU pool's taint."""
    spot_priority_class: str | None = None
    """PriorityClass for preemptible spot training pods."""
    audit_trail_arn: str | None = None
    """CloudTrail trail (log files in the access-logs bucket under ``cloudtrail/``)."""
    training_subnet_ids: list[str] = Field(default_factory=list)
    """Private subnets SageMaker jobs run in (with ``training_security_group_ids``), when the stack has a VPC."""
    training_security_group_ids: list[str] = Field(default_factory=list)
    """Security groups of SageMaker jobs: HTTPS out to the VPC's endpoints and S3 only."""

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "stack outputs") -> "StackOutputs":
        """Validate outputs (e.g. ``pulumi stack output --json``) or raise a one-line ConfigError."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in error["loc"])
            where = f"{key}: " if key else ""  # no key: the whole document is wrong (not a JSON object)
            raise ConfigError(f"{source}: {where}{error['msg']}") from None

    @classmethod
    def from_json_file(cls, path: Path) -> "StackOutputs":
        """Read ``pulumi stack output --json > path``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read stack outputs ({exc})") from None
        return cls.from_mapping(data, source=str(path))
