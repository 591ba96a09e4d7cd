"""PlatformConfig: the typed, validated form of a stack's ``modelway:`` Pulumi config.

The infra program reads the stack config ONCE into this frozen model before it declares
any resource, and passes sections down to the components. Invalid config fails with one
line naming the key (``modelway:gpu_pool.max_size``) and the allowed values.
No Pulumi import here: the contract is plain pydantic, testable on its own.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelway.contracts.environments import ENVIRONMENTS, Environment
from modelway.errors import ConfigError

CONFIG_NAMESPACE = "modelway"

# GPU instance families the pool may use (NVIDIA GPUs with EKS-optimized accelerated AMIs).
GPU_INSTANCE_FAMILIES: tuple[str, ...] = (
    "g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en",
)
# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
_SIZE = re.compile(r"^(x?large|\d+xlarge|metal(-\d+xl)?)$")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
ModelFamily = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,46}[a-z0-9]$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]
PrincipalArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
K8sQuantity = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageConfig(_Section):
    """Buckets and the platform KMS key."""

    retain_on_delete: bool = True
    """Keep data buckets and the KMS key when the stack is destroyed (and protect them)."""
    transition_to_ia_days: int = Field(30, ge=30, le=3650)
    """Days before objects move to STANDARD_IA (S3 requires at least 30)."""
    transition_to_glacier_days: int = Field(90, ge=60, le=3650)
    """Days before objects move to GLACIER_IR."""
    noncurrent_version_expiration_days: int = Field(90, ge=1, le=3650)
    abort_incomplete_multipart_days: int = Field(7, ge=1, le=365)
    kms_deletion_window_days: int = Field(30, ge=7, le=30)
    force_destroy: bool = False
    """Allow deleting non-empty buckets (dev only; never with retain_on_delete)."""

    @field_validator("transition_to_glacier_days")
    @classmethod
    def _glacier_after_ia(cls, value: int, info: ValidationInfo) -> int:
        ia = info.data.get("transition_to_ia_days")
        if ia is not None and value <= ia:
            raise ValueError(f"must be greater than transition_to_ia_days ({ia})")
        return value


class IdentityConfig(_Section):
    """Who may assume the persona roles."""

    trusted_principals: list[PrincipalArn] = Field(default_factory=list)
    """IAM principals (account root, roles, users) allowed to assume persona roles; default: this account's root."""
    require_mfa: bool = True
    """Human personas must have signed in with MFA to assume their role."""
    max_session_duration_s: int = Field(3600, ge=3600, le=43200)
    experiments_prefix: str = Field("experiments", pattern=r"^[a-z0-9][a-z0-9-_/]*[a-z0-9]$")
    """Prefix in the artifacts bucket where data scientists may write."""


class GpuPoolConfig(_Section):
    """The spot GPU node pool (autoscaling group)."""

    enabled: bool = False
    """Off unless configured: it needs the subnets to launch into."""
    instance_types: list[str] = Field(default_factory=lambda: ["g5.xlarge", "g6.xlarge", "g4dn.xlarge"])
    """Several GPU instance types, so spot capacity can be found (allowed families: see GPU_INSTANCE_FAMILIES)."""
    min_size: int = Field(0, ge=0, le=1000)
    max_size: int = Field(2, ge=0, le=1000)
    on_demand_base_capacity: int = Field(0, ge=0, le=1000)
    spot_allocation_strategy: Literal["price-capacity-optimized", "capacity-optimized", "lowest-price"] = (
        "price-capacity-optimized"
    )
    ami_ssm_parameter: str = Field(
        "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/nvidia/recommended/image_id",
        pattern=r"^/[A-Za-z0-9_./-]+$",
    )
    ami_id: str | None = Field(None, pattern=r"^ami-[0-9a-f]{8,17}$")
    """Pin an AMI instead of resolving ami_ssm_parameter."""
    root_volume_gb: int = Field(200, ge=50, le=16384)
    subnet_ids: list[SubnetId] = Field(default_factory=list)
    security_group_ids: list[SecurityGroupId] = Field(default_factory=list)
    imds_hop_limit: int = Field(2, ge=1, le=2)
    """2 lets containers on the node reach IMDSv2; 1 for hosts without containers."""

    @field_validator("instance_types")
    @classmethod
    def _known_gpu_families(cls, value: list[str]) -> list[str]:
        for instance_type in value:
            family, _, size = instance_type.partition(".")
            if family not in GPU_INSTANCE_FAMILIES or not _SIZE.match(size):
                raise ValueError(
                    f"unknown GPU instance type {instance_type!r}; allowed families: "
                    f"{', '.join(GPU_INSTANCE_FAMILIES)} (e.g. g5.xlarge)"
                )
        if len(set(value)) < 2:
            raise ValueError("list at least 2 different GPU instance types so spot capacity can be found")
        return value

    @field_validator("max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_size")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= min_size ({minimum}), got {value}")
        return value

    @model_validator(mode="after")
    def _subnets_when_enabled(self) -> "GpuPoolConfig":
        if self.enabled and not self.subnet_ids:
            raise ValueError("subnet_ids: list the private subnets the GPU pool launches into (or set enabled: false)")
        if self.on_demand_base_capacity > self.max_size:
            raise ValueError(f"on_demand_base_capacity: must be <= max_size ({self.max_size})")
        return self


class RegistriesConfig(_Section):
    """ECR repositories, SageMaker model package groups, optional MLflow tracking server."""

    model_families: list[ModelFamily] = Field(default_factory=lambda: ["credit-risk"], min_length=1)
    """One SageMaker model package group per model family."""
    ecr_repositories: list[Name] = Field(default_factory=lambda: ["training", "serving"], min_length=1)
    keep_images: PositiveInt = 50
    """ECR lifecycle: keep this many most recent images per repository."""
    model_approval_status: Literal["PendingManualApproval", "Approved"] = "PendingManualApproval"
    """Status a newly registered model version gets (prod must require manual approval)."""
    mlflow_tracking_server: bool = False
    tracking_server_size: Literal["Small", "Medium", "Large"] = "Small"

    @field_validator("model_families", "ecr_repositories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"duplicate entries: {', '.join(duplicates)}")
        return value


class TeamQuota(_Section):
    gpus: int = Field(4, ge=0, le=1024)
    cpu: K8sQuantity = "64"
    memory: K8sQuantity = "256Gi"


class KubernetesConfig(_Section):
    """Tenancy on an existing EKS cluster; nothing is created unless cluster_name is set."""

    cluster_name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    kubeconfig: str | None = None
    """kubeconfig content or path for the Kubernetes provider; default: the ambient one."""
    context: str | None = None
    teams: list[Name] = Field(default_factory=lambda: ["ml"])
    """One namespace per team."""
    quota: TeamQuota = Field(default_factory=TeamQuota)

    @property
    def enabled(self) -> bool:
        return self.cluster_name is not None


class ObservabilityConfig(_Section):
    """Alerts, logs, alarms and the budget."""

    log_retention_days: int = 365
    monthly_budget_usd: PositiveFloat = 1000.0
    budget_alert_emails: list[Email] = Field(default_factory=list)
    metrics_namespace: str = Field("Modelway", pattern=r"^[A-Za-z0-9/_.-]+$")
    drift_threshold: float = Field(0.2, gt=0, le=1)
    """Alarm when the platform's drift score metric exceeds this (0..1)."""
    endpoint_5xx_threshold: PositiveInt = 5

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}, got {value}")
        return value


class TagsConfig(_Section):
    """Tags every AWS resource gets through the provider's default tags."""

    owner: str = Field("ml-platform", min_length=1, max_length=256)
    cost_center: str = Field("ml", min_length=1, max_length=256)
    extra: dict[str, str] = Field(default_factory=dict)




class PlatformConfig(_Section):
    """The whole ``modelway:`` config of one stack.

    Example:
        >>> cfg = PlatformConfig.from_mapping({"gpu_pool": {"subnet_ids": ["subnet-0a1b2c3d"]}}, stack="dev")
        >>> cfg.gpu_pool.min_size, cfg.environment
        (0, 'dev')
    """

    environment: Environment
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    """AWS region of the stack (also read from aws:region by the program)."""
    storage: StorageConfig = Field(default_factory=StorageConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    gpu_pool: GpuPoolConfig = Field(default_factory=GpuPoolConfig)
    registries: RegistriesConfig = Field(default_factory=RegistriesConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    tags: TagsConfig = Field(default_factory=TagsConfig)

    @model_validator(mode="after")
    def _prod_is_safe(self) -> "PlatformConfig":
        if self.environment != "prod":
            return self
        if self.registries.model_approval_status != "PendingManualApproval":
            raise _KeyedError("registries.model_approval_status", "prod requires PendingManualApproval")
        if not self.storage.retain_on_delete or self.storage.force_destroy:
            raise _KeyedError("storage.retain_on_delete", "prod must retain data (retain_on_delete: true, force_destroy: false)")
        if self.observability.log_retention_days < 365:
            raise _KeyedError("observability.log_retention_days", "prod keeps logs at least 365 days")
        return self

    @model_validator(mode="after")
    def _no_force_destroy_when_retained(self) -> "PlatformConfig":
        if self.storage.retain_on_delete and self.storage.force_destroy:
            raise _KeyedError("storage.force_destroy", "cannot be true while retain_on_delete is true")
        return self

    @property
    def default_tags(self) -> dict[str, str]:
        """``owner``, ``cost-center``, ``environment`` (plus extra tags)."""
        return {**self.tags.extra, "owner": self.tags.owner, "cost-center": self.tags.cost_center,
                "environment": self.environment}

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, stack: str) -> "PlatformConfig":
        """Validate ``raw`` (section name -> value, as in ``Pulumi.<stack>.yaml``) or raise ConfigError.

        ``environment`` defaults to the stack name. A stack named dev, staging or prod cannot
        claim another environment (a ``Pulumi.prod.yaml`` saying ``dev`` would deploy prod
        without retention or manual approval and still pass the prod policy check).
        """
        data = dict(raw)
        claimed = data.get("environment")
        if claimed is None and stack not in ENVIRONMENTS:
            raise ConfigError(f"{CONFIG_NAMESPACE}:environment: the stack {stack!r} is not dev, staging or prod; "
                              "set modelway:environment to one of them")
        if stack in ENVIRONMENTS and claimed in ENVIRONMENTS and claimed != stack:
            raise ConfigError(f"{CONFIG_NAMESPACE}:environment: is {claimed!r} but the stack is {stack!r}; "
                              f"remove the key or set it to {stack}")
        data.setdefault("environment", stack)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    @classmethod
    def from_pulumi_values(cls, values: dict[str, str], *, stack: str) -> "PlatformConfig":
        """Validate the engine's config strings (fully qualified keys, JSON for objects).

        Keys outside the ``modelway:`` namespace are ignored; ``aws:region`` fills ``region``.
        """
        raw: dict[str, Any] = {}
        prefix = f"{CONFIG_NAMESPACE}:"
        for key, value in values.items():
            if not key.startswith(prefix):
                continue
            raw[key[len(prefix):]] = _decode(value)
        if "region" not in raw and values.get("aws:region"):
            raw["region"] = values["aws:region"]
        return cls.from_mapping(raw, stack=stack)


class _KeyedError(ValueError):
    """A cross-section rule, reported against the key it names."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}|{why}")


def _decode(value: str) -> Any:
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = PlatformConfig
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _one_line(exc: ValidationError) -> str:
    """First error as ``modelway:<dotted key>: <why>``, e.g. allowed values for a Literal."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = tuple(error["loc"])
    message = str(error.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if error["type"] == "value_error" and "|" in message:
        dotted, _, why = message.removeprefix("Value error, ").partition("|")
        return f"{CONFIG_NAMESPACE}:{dotted}: {why}{more}"
    message = message.removeprefix("Value error, ")
    if message.startswith("subnet_ids:") or message.startswith("on_demand_base_capacity:"):
        field, _, message = message.partition(": ")
        loc = loc + (field,)
    key = ".".join(str(part) for part in loc if not isinstance(part, int))
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else ""
        return f"unknown key {CONFIG_NAMESPACE}:{key}; allowed keys here: {allowed}{more}"
    got = error.get("input")
    quiet = isinstance(got, (dict, list)) or error["type"] in ("missing", "value_error")
    shown = "" if quiet else f" (got {got!r})"
    return f"{CONFIG_NAMESPACE}:{key}: {message}{shown}{more}"
