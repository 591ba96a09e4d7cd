"""PlatformConfig: the typed, validated form of a stack's ``modelway:`` Pulumi config.

The infra program reads the stack config ONCE into this frozen model before it declares
any resource, and passes sections down to the components. Invalid config fails with one
line naming the key (``modelway:gpu_pool.max_size``) and the allowed values.
No Pulumi import here: the contract is plain pydantic, testable on its own.
"""
from __future__ import annotations

import json
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
from modelway.contracts.gpu_shapes import GPU_INSTANCE_FAMILIES, GpuShape, shape_of
from modelway.config_files import load_json_text
from modelway.errors import ConfigError

CONFIG_NAMESPACE = "modelway"
# The values CloudWatch Logs accepts for retentionInDays.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
ModelFamily = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,46}[a-z0-9]$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]
PrincipalArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/.+|user/.+)$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
K8sQuantity = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")]
Cidr = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
ChartVersion = Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageConfig(_Section):
    """Buckets and the platform KMS key."""

    retain_on_delete: bool = True
    """Keep data buckets and the KMS key when the stack is destroyed (and protect them)."""
    transition_to_ia_days: int = Field(30, ge=30, le=3650)
    """Days before objects move to STANDARD_IA (S3 requires at least 30)."""
    transition_to_glacier_days: int = Field(90, ge=60, le=3650)
    """Days before objects move to GLACIER_IR (S3: at least 30 days after the STANDARD_IA transition)."""
    noncurrent_version_expiration_days: int = Field(90, ge=1, le=3650)
    abort_incomplete_multipart_days: int = Field(7, ge=1, le=365)
    kms_deletion_window_days: int = Field(30, ge=7, le=30)
    force_destroy: bool = False
    """Allow deleting non-empty buckets (dev only; never with retain_on_delete)."""
    model_lock_days: int = Field(365, ge=0, le=36500)
    """S3 Object Lock (governance mode) on the models bucket: versions cannot be deleted for this
    many days; 0 turns it off (dev, where the stack may destroy its buckets)."""

    @field_validator("transition_to_glacier_days")
    @classmethod
    def _glacier_after_ia(cls, value: int, info: ValidationInfo) -> int:
        # S3 rejects a lifecycle rule that moves objects out of STANDARD_IA before they spent
        # 30 days there (InvalidArgument on PutBucketLifecycleConfiguration).
        ia = info.data.get("transition_to_ia_days")
        if ia is not None and value < ia + 30:
            raise ValueError(f"must be at least transition_to_ia_days + 30 ({ia + 30}): S3 keeps objects "
                             f"30 days in STANDARD_IA before GLACIER_IR, got {value}")
        return value

    @model_validator(mode="after")
    def _lock_or_destroy(self) -> "StorageConfig":
        if self.force_destroy and self.model_lock_days:
            raise _KeyedError("storage.model_lock_days", "must be 0 when force_destroy is true "
                              "(locked model versions cannot be destroyed with the stack)")
        return self


class IdentityConfig(_Section):
    """Who may assume the persona roles."""

    trusted_principals: list[PrincipalArn] = Field(default_factory=list)
    """IAM principals (account root, roles, users) allowed to assume persona roles; default: this account's root."""
    require_mfa: bool = True
    """Human personas must have signed in with MFA to assume their role."""
    max_session_duration_s: int = Field(3600, ge=3600, le=43200)
    experiments_prefix: str = Field("experiments", pattern=r"^[a-z0-9][a-z0-9-_/]*[a-z0-9]$")
    """Prefix in the artifacts bucket where data scientists may write."""


class GpuNodeGroup(_Section):
    """One autoscaling group of the GPU pool: instance types of ONE shape (GPUs, vCPUs, memory)."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,12}$")]
    """Short name, e.g. ``1gpu``; labels the nodes ``modelway.io/gpu-shape=<name>``."""
    instance_types: list[str] = Field(min_length=2)
    """At least 2 types, so spot capacity can be found; all of one shape (the autoscaler scales
    a group from zero by the first type's shape)."""
    min_size: int = Field(0, ge=0, le=1000)
    max_size: int = Field(2, ge=0, le=1000)

    @field_validator("instance_types")
    @classmethod
    def _one_shape(cls, value: list[str]) -> list[str]:
        for instance_type in value:
            if shape_of(instance_type) is None:
                raise ValueError(
                    f"unknown GPU instance type {instance_type!r}; allowed families: "
                    f"{', '.join(GPU_INSTANCE_FAMILIES)} (e.g. g5.xlarge)"
                )
        if len(set(value)) < 2:
            raise ValueError("list at least 2 different GPU instance types so spot capacity can be found")
        first = shape_of(value[0])
        for instance_type in value[1:]:
            shape = shape_of(instance_type)
            if shape != first:
                raise ValueError(
                    f"{instance_type} ({shape.describe()}) differs from {value[0]} ({first.describe()}): "
                    "one node group holds one shape (the cluster autoscaler scales it from zero by one "
                    "type's GPUs, vCPUs and memory); put it in another node group"
                )
        return value

    @field_validator("max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_size")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= min_size ({minimum}), got {value}")
        return value

    @property
    def shape(self) -> GpuShape:
        """The shape every instance type of this group has (validated: one per group)."""
        shape = shape_of(self.instance_types[0])
        assert shape is not None  # the validator admits known GPU types only
        return shape


def _default_node_groups() -> list[GpuNodeGroup]:
    return [GpuNodeGroup(name="1gpu", instance_types=["g5.xlarge", "g6.xlarge", "g4dn.xlarge"])]


class GpuPoolConfig(_Section):
    """The spot GPU node pool: one autoscaling group per GPU shape, joined to the cluster."""

    enabled: bool = False
    """Off unless configured: it needs a cluster to join (``cluster.mode``)."""
    node_groups: list[GpuNodeGroup] = Field(default_factory=_default_node_groups, min_length=1)
    """One group per GPU shape (e.g. 1-GPU and 4-GPU types in separate groups)."""
    on_demand_base_capacity: int = Field(0, ge=0, le=1000)
    spot_allocation_strategy: Literal["price-capacity-optimized", "capacity-optimized", "lowest-price"] = (
        "price-capacity-optimized"
    )
    ami_id: str | None = Field(None, pattern=r"^ami-[0-9a-f]{8,17}$")
    """Pin an AMI; default: the EKS AL2023 NVIDIA AMI of the cluster's Kubernetes version (SSM)."""
    root_volume_gb: int = Field(200, ge=50, le=16384)
    security_group_ids: list[SecurityGroupId] = Field(default_factory=list)
    """Extra security groups for the nodes (the cluster security group is always attached)."""
    autoscaling_service_role: Literal["create", "existing"] = "create"
    """The account's Auto Scaling service-linked role (the key policy names it): ``create`` on an account
    that never had an Auto Scaling group, ``existing`` where it exists (another stack created it)."""

    @field_validator("node_groups")
    @classmethod
    def _unique_names(cls, value: list[GpuNodeGroup]) -> list[GpuNodeGroup]:
        names = [g.name for g in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate node group names: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _base_capacity(self) -> "GpuPoolConfig":
        smallest = min(g.max_size for g in self.node_groups)
        if self.on_demand_base_capacity > smallest:
            raise _KeyedError("gpu_pool.on_demand_base_capacity", f"must be <= every node group's max_size ({smallest})")
        return self


class NetworkConfig(_Section):
    """The VPC: created by the stack (private subnets across AZs, NAT, VPC endpoints), or an existing one."""

    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """An existing VPC; unset: the stack creates one when the cluster is created."""
    subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Private subnets of the existing VPC (at least 2 AZs) for the cluster and the GPU nodes."""
    cidr_block: Cidr = "10.40.0.0/16"
    """CIDR of a created VPC."""
    availability_zones: int = Field(3, ge=2, le=6)
    nat_gateways: Literal["none", "single", "per-az"] = "single"
    """Internet egress of a created VPC (charts pull images from public registries); ``none``: VPC endpoints only."""
    vpc_endpoints: bool = True
    """Interface endpoints (STS, ECR, SageMaker, CloudWatch, Logs, EKS Auth, ...) and the S3 gateway endpoint."""

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None

    @model_validator(mode="after")
    def _existing_needs_subnets(self) -> "NetworkConfig":
        if self.vpc_id is not None and len(self.subnet_ids) < 2:
            raise _KeyedError("network.subnet_ids", "list at least 2 private subnets of vpc_id (in different AZs)")
        if self.vpc_id is None and self.subnet_ids:
            raise _KeyedError("network.vpc_id", "set the VPC the subnet_ids belong to")
        return self


class AddonsConfig(_Section):
    """Helm chart versions of the cluster add-ons (pinned: an upgrade is a reviewed config change)."""

    cluster_autoscaler: ChartVersion = "9.43.2"
    """kubernetes/autoscaler chart (9.43.x ships cluster-autoscaler 1.31)."""
    nvidia_device_plugin: ChartVersion = "0.17.0"
    """NVIDIA/k8s-device-plugin chart: advertises ``nvidia.com/gpu`` on the GPU nodes."""
    node_termination_handler: ChartVersion = "0.21.0"
    """aws/aws-node-termination-handler chart (queue processor: drains spot nodes before reclaim)."""


class ClusterConfig(_Section):
    """The EKS cluster: none, created by the stack, or an existing one named here."""

    mode: Literal["none", "create", "existing"] = "none"
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    """Name of an existing cluster (mode existing); a created one is named ``modelway-<env>``."""
    version: str = Field("1.31", pattern=r"^1\.\d{2}$")
    """Kubernetes version of a created cluster (an existing cluster's own version is used)."""
    public_access_cidrs: list[Cidr] = Field(default_factory=list)
    """CIDRs allowed to reach the API endpoint publicly (e.g. where `pulumi up` runs); empty: private only."""
    system_instance_type: str = Field("m6i.large", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    system_nodes: int = Field(2, ge=1, le=20)
    """Size of the on-demand node group a created cluster runs its add-ons on (GPU nodes are tainted)."""
    addons: AddonsConfig = Field(default_factory=AddonsConfig)

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    @model_validator(mode="after")
    def _name_when_existing(self) -> "ClusterConfig":
        if self.mode == "existing" and self.name is None:
            raise _KeyedError("cluster.name", "name the existing EKS cluster (mode: existing)")
        if "0.0.0.0/0" in self.public_access_cidrs:
            raise _KeyedError("cluster.public_access_cidrs", "0.0.0.0/0 opens the API to the internet; "
                              "list the CIDRs `pulumi up` and operators connect from")
        return self


IMAGE_USES: tuple[str, ...] = ("training", "serving")


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
    mlflow_version: str = Field("2.16", pattern=r"^\d+\.\d+(\.\d+)?$")
    """MLflow version of the tracking server (clients need a compatible ``mlflow`` + ``sagemaker-mlflow``)."""

    @field_validator("ecr_repositories")
    @classmethod
    def _training_and_serving(cls, value: list[str]) -> list[str]:
        missing = [use for use in IMAGE_USES if use not in value]
        if missing:
            raise ValueError(f"must include {' and '.join(missing)} (the runtime builds one image per use)")
        return value

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
    """Tenancy on the cluster (``cluster.mode`` create or existing): a namespace per team."""

    teams: list[Name] = Field(default_factory=lambda: ["ml"])
    """One namespace per team, each with its own workload role (EKS Pod Identity)."""
    quota: TeamQuota = Field(default_factory=TeamQuota)
    egress_cidrs: list[Cidr] = Field(default_factory=list)
    """Extra HTTPS destinations team pods may reach (default: the VPC, where the endpoints are, and S3)."""


class ObservabilityConfig(_Section):
    """Alerts, logs, alarms and the budget."""

    log_retention_days: int = 365
    monthly_budget_usd: PositiveFloat = 1000.0
    budget_alert_emails: list[Email] = Field(default_factory=list)
    metrics_namespace: str = Field("Modelway", pattern=r"^[A-Za-z0-9/_.-]+$")
    drift_threshold: float = Field(0.2, gt=0, le=1)
    """Alarm when the platform's drift score metric exceeds this (0..1)."""
    endpoint_5xx_threshold: PositiveInt = 5
    activate_cost_allocation_tag: bool = True
    """Activate the ``environment`` cost allocation tag the budget filters on (account-wide; AWS only
    lists a tag key for activation once billing saw it on a resource, up to 24 h after the first tag)."""

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


class AuditConfig(_Section):
    """The CloudTrail trail the auditor reads."""

    cloudtrail: bool = True
    """A multi-region trail, KMS-encrypted, with log file validation, into its own bucket."""


class PipelineDeployment(_Section):
    """A pipeline file the stack deploys as an ``aws.sagemaker.Pipeline`` (compiled like ``modelway export sagemaker``)."""

    file: str = Field(pattern=r"\.py$")
    """Pipeline file, relative to the project (the folder of ``Pulumi.yaml``), e.g. ``pipelines/credit_risk.py``."""
    pipeline: str | None = None
    """Which ``@pipeline`` when the file defines several."""
    params: dict[str, str] = Field(default_factory=dict)
    """Pipeline parameters (``--param KEY=VALUE``), as strings."""
    image_tag: str = "latest"
    """Tag of the training image in the stack's ECR repository (CI pushes one per commit); pinned by digest."""


class PlatformConfig(_Section):
    """The whole ``modelway:`` config of one stack.

    Example:
        >>> cfg = PlatformConfig.from_mapping({"cluster": {"mode": "create"}, "gpu_pool": {"enabled": True}},
        ...                                   stack="dev")
        >>> cfg.gpu_pool.node_groups[0].shape.gpus, cfg.environment
        (1, 'dev')
    """

    environment: Environment
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    """AWS region of the stack (also read from aws:region by the program)."""
    storage: StorageConfig = Field(default_factory=StorageConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    gpu_pool: GpuPoolConfig = Field(default_factory=GpuPoolConfig)
    registries: RegistriesConfig = Field(default_factory=RegistriesConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    tags: TagsConfig = Field(default_factory=TagsConfig)
    pipelines: list[PipelineDeployment] = Field(default_factory=list)
    """Pipelines deployed as SageMaker Pipelines (``modelway:pipelines: [pipelines/credit_risk.py]``)."""

    @field_validator("pipelines", mode="before")
    @classmethod
    def _paths_are_deployments(cls, value: Any) -> Any:
        # the short form: a list of file paths
        if isinstance(value, list):
            return [{"file": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _pool_and_cluster_fit(self) -> "PlatformConfig":
        if self.gpu_pool.enabled and not self.cluster.enabled:
            raise _KeyedError("gpu_pool.enabled", "the GPU pool needs a cluster to join: set cluster.mode "
                              "to create or existing (or gpu_pool.enabled: false)")
        if self.cluster.mode == "existing" and not self.network.existing:
            raise _KeyedError("network.vpc_id", "an existing cluster needs its VPC: set network.vpc_id and "
                              "network.subnet_ids (private subnets the GPU nodes launch into)")
        return self

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
        if self.storage.model_lock_days < 1:
            raise _KeyedError("storage.model_lock_days", "prod locks model versions (at least 1 day)")
        if not self.audit.cloudtrail:
            raise _KeyedError("audit.cloudtrail", "prod keeps a CloudTrail trail for the auditor")
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
            raw[key[len(prefix):]] = _decode(key, value)
        if "region" not in raw and values.get("aws:region"):
            raw["region"] = values["aws:region"]
        return cls.from_mapping(raw, stack=stack)


class _KeyedError(ValueError):
    """A cross-section rule, reported against the key it names."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}|{why}")


def _decode(key: str, value: str) -> Any:
    """A config string that holds a JSON object or list, decoded strictly (a duplicate key is an
    error naming the config key and line, not last-one-wins); any other string stays as it is."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text[:1] in "{[":
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return value  # not JSON after all: the field's own validation names the problem
        return load_json_text(text, key)
    return value


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = PlatformConfig
    item: Any = None
    for part in loc:
        if isinstance(part, int) and item is not None:  # an element of a list of sections
            model, item = item, None
            continue  # the next part names a field of the element's section
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        args = getattr(annotation, "__args__", ())
        item = args[0] if getattr(annotation, "__origin__", None) is list and args else None
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
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else ""
        return f"unknown key {CONFIG_NAMESPACE}:{key}; allowed keys here: {allowed}{more}"
    got = error.get("input")
    quiet = isinstance(got, (dict, list)) or error["type"] in ("missing", "value_error")
    shown = "" if quiet else f" (got {got!r})"
    return f"{CONFIG_NAMESPACE}:{key}: {message}{shown}{more}"
