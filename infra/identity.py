"""AccessRoles: least-privilege IAM roles per persona, plus the SageMaker execution and GPU node roles.

Every statement names the ARNs this stack creates. ``Resource: "*"`` appears only for the
few actions whose AWS API has no resource-level permissions (listed in
``ACTIONS_WITHOUT_RESOURCE_SCOPE`` and commented where used).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import IdentityConfig

HUMAN_PERSONAS: tuple[str, ...] = ("data-scientist", "ml-engineer", "deployer", "auditor")
SERVICE_ROLES: tuple[str, ...] = ("sagemaker-execution", "gpu-node")

# Actions AWS only authorizes on Resource "*" (no resource-level permissions).
ACTIONS_WITHOUT_RESOURCE_SCOPE: frozenset[str] = frozenset({
    "ecr:GetAuthorizationToken",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
    "cloudwatch:PutMetricData",
})

# AWS managed policies an EKS worker node needs to join and pull images (none is admin).
_GPU_NODE_MANAGED_POLICIES: tuple[str, ...] = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)


@dataclass(frozen=True)
class _Scope:
    """The concrete ARNs (plain strings) the role policies are scoped to."""

    partition: str
    region: str
    account_id: str
    prefix: str
    key_arn: str
    buckets: dict[str, str]
    """tier -> bucket ARN (raw-data, features, artifacts, models, access-logs)."""
    repositories: dict[str, str]
    """repository name -> ARN."""
    model_families: list[str]
    log_groups: dict[str, str]
    """stream -> log group ARN."""
    experiments_prefix: str
    metrics_namespace: str
    sagemaker_role_arn: str = ""

    def sagemaker(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:sagemaker:{self.region}:{self.account_id}:{kind}/{name}"

    def groups(self) -> list[str]:
        return [self.sagemaker("model-package-group", f"{self.prefix}-{f}") for f in self.model_families]

    def packages(self) -> list[str]:
        return [self.sagemaker("model-package", f"{self.prefix}-{f}/*") for f in self.model_families]

    def objects(self, *tiers: str, under: str = "") -> list[str]:
        return [f"{self.buckets[t]}/{under}*" for t in tiers]

    def log_streams(self) -> list[str]:
        return [f"{arn}:*" for arn in self.log_groups.values()]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(sid: str, actions: list[str], resources: list[str] | str,
           condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _human_trust_policy(principals: list[str], require_mfa: bool) -> dict[str, Any]:
    """Only the configured principals of this account; with MFA for people."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": sorted(principals)},
                                 "Action": "sts:AssumeRole"}
    if require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return _doc(statement)


def _service_trust_policy(service: str, account_id: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if service != "ec2.amazonaws.com":  # EC2 does not send aws:SourceAccount for instance roles
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return _doc(statement)


def _kms_use(s: _Scope, write: bool) -> dict[str, Any]:
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return _allow("PlatformKey", actions, s.key_arn)


def _read_registry(s: _Scope) -> list[dict[str, Any]]:
    return [
        _allow("ReadModelRegistry", ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"],
               s.groups() + s.packages()),
        # List APIs of the model registry have no resource-level permissions.
        _allow("ListModelRegistry", ["sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"], "*"),
    ]


def _ecr_pull(s: _Scope, repos: list[str]) -> list[dict[str, Any]]:
    return [
        _allow("PullImages", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
               [s.repositories[r] for r in repos]),
        # GetAuthorizationToken is account-wide by design (it has no resource ARN).
        _allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
    ]


def _data_scientist_policy(s: _Scope) -> dict[str, Any]:
    """Read raw data and features; read/write own experiments prefix; read the registry; no deploy."""
    experiments = f"{s.experiments_prefix}/"
    return _doc(
        _allow("ReadRawDataAndFeatures", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("ListRawDataAndFeatures", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets["raw-data"], s.buckets["features"]]),
        _allow("WriteExperiments", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
               s.objects("artifacts", under=experiments)),
        _allow("ListExperiments", ["s3:ListBucket"], s.buckets["artifacts"],
               condition={"StringLike": {"s3:prefix": [f"{experiments}*"]}}),
        _kms_use(s, write=True),
        *_read_registry(s),
        _allow("ReadPlatformLogs", ["logs:FilterLogEvents", "logs:GetLogEvents"], s.log_streams()),
    )


def _pass_sagemaker_role(s: _Scope) -> dict[str, Any]:
    return _allow("PassSageMakerExecutionRole", ["iam:PassRole"], s.sagemaker_role_arn,
                  condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})


def _ml_engineer_policy(s: _Scope) -> dict[str, Any]:
    """Train (SageMaker jobs named after the stack), register model versions, push images."""
    jobs = [s.sagemaker(kind, f"{s.prefix}-*") for kind in ("training-job", "processing-job")]
    return _doc(
        _allow("ReadData", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("WriteArtifactsAndModels", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
               s.objects("artifacts", "models")),
        _allow("ListBuckets", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets[t] for t in ("raw-data", "features", "artifacts", "models")]),
        _kms_use(s, write=True),
        _allow("RunTrainingJobs", ["sagemaker:AddTags", "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob",
                                   "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                                   "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob"], jobs),
        # Registers versions; approving them is not granted (UpdateModelPackage is left out).
        _allow("RegisterModels", ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                                  "sagemaker:DescribeModelPackageGroup"], s.groups() + s.packages()),
        _allow("ListModelRegistry", ["sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"], "*"),
        _pass_sagemaker_role(s),
        _allow("PushImages", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                              "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
                              "ecr:UploadLayerPart"], sorted(s.repositories.values())),
        _allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        _allow("ReadPlatformLogs", ["logs:FilterLogEvents", "logs:GetLogEvents"], s.log_streams()),
    )


def _deployer_policy(s: _Scope) -> dict[str, Any]:
    """Create/update endpoints from registered models; read model artifacts; never raw data."""
    serving = [s.sagemaker(kind, f"{s.prefix}-*") for kind in ("model", "endpoint-config", "endpoint")]
    return _doc(
        _allow("ManageEndpoints", ["sagemaker:AddTags", "sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
                                   "sagemaker:CreateModel", "sagemaker:DeleteEndpoint",
                                   "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel",
                                   "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
                                   "sagemaker:DescribeModel", "sagemaker:UpdateEndpoint",
                                   "sagemaker:UpdateEndpointWeightsAndCapacities"], serving),
        _allow("ReadModels", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("models")),
        _allow("ListModels", ["s3:GetBucketLocation", "s3:ListBucket"], s.buckets["models"]),
        _kms_use(s, write=False),
        *_read_registry(s),
        _pass_sagemaker_role(s),
        *_ecr_pull(s, [r for r in s.repositories if r != "training"] or list(s.repositories)),
    )


def _auditor_policy(s: _Scope) -> dict[str, Any]:
    """Read-only: registry metadata, platform logs, access logs, alarms, the key's configuration, role definitions."""
    return _doc(
        *_read_registry(s),
        _allow("ReadPlatformLogs", ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
               sorted(s.log_groups.values()) + s.log_streams()),
        _allow("ReadAccessLogs", ["s3:GetObject"], s.objects("access-logs")),
        _allow("ListAccessLogs", ["s3:GetBucketLocation", "s3:ListBucket"], s.buckets["access-logs"]),
        _allow("ReadAlarms", ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"],
               f"arn:{s.partition}:cloudwatch:{s.region}:{s.account_id}:alarm:{s.prefix}-*"),
        _allow("ReadKeyConfiguration", ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"], s.key_arn),
        _allow("ReadRoleDefinitions", ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                                       "iam:ListRolePolicies"],
               f"arn:{s.partition}:iam::{s.account_id}:role/{s.prefix}-*"),
    )


def _sagemaker_execution_policy(s: _Scope) -> dict[str, Any]:
    """What training/processing jobs and endpoints run with."""
    log_prefix = f"arn:{s.partition}:logs:{s.region}:{s.account_id}:log-group:/aws/sagemaker/"
    return _doc(
        _allow("ReadData", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("WriteArtifactsAndModels", ["s3:GetObject", "s3:PutObject"], s.objects("artifacts", "models")),
        _allow("ListBuckets", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets[t] for t in ("raw-data", "features", "artifacts", "models")]),
        _kms_use(s, write=True),
        *_ecr_pull(s, list(s.repositories)),
        _allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
               [f"{log_prefix}{kind}*" for kind in ("TrainingJobs", "ProcessingJobs", "Endpoints/")]),
        # PutMetricData has no resource ARN; the namespace condition is the scope.
        _allow("PublishPlatformMetrics", ["cloudwatch:PutMetricData"], "*",
               condition={"StringEquals": {"cloudwatch:namespace": s.metrics_namespace}}),
    )


def _gpu_node_policy(s: _Scope) -> dict[str, Any]:
    """Training pods on GPU nodes checkpoint to the artifacts bucket (spot can reclaim the node any time)."""
    return _doc(
        _allow("ReadData", ["s3:GetObject"], s.objects("raw-data", "features")),
        _allow("Checkpoints", ["s3:GetObject", "s3:PutObject"], s.objects("artifacts", under="checkpoints/")),
        _allow("ListCheckpoints", ["s3:ListBucket"], s.buckets["artifacts"],
               condition={"StringLike": {"s3:prefix": ["checkpoints/*"]}}),
        _kms_use(s, write=True),
        _allow("WriteNodeLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], s.log_streams()),
    )


_PERSONA_POLICIES = {
    "data-scientist": _data_scientist_policy,
    "ml-engineer": _ml_engineer_policy,
    "deployer": _deployer_policy,
    "auditor": _auditor_policy,
}


@dataclass
class AccessRolesArgs:
    """Inputs of :class:`AccessRoles`."""

    prefix: str
    """Name prefix; every role is named ``<prefix>-<persona>`` (the KMS key policy relies on it)."""
    account_id: pulumi.Input[str]
    """Account that owns every scoped ARN (and the default trusted principal)."""
    partition: pulumi.Input[str]
    """AWS partition (``aws``)."""
    region: pulumi.Input[str]
    """Region of the SageMaker, logs and alarm ARNs."""
    key_arn: pulumi.Input[str]
    """The platform CMK."""
    bucket_arns: dict[str, pulumi.Input[str]]
    """tier -> bucket ARN."""
    repository_arns: dict[str, pulumi.Input[str]]
    """ECR repository name -> ARN."""
    model_families: list[str]
    """Model families; their package groups are named ``<prefix>-<family>``."""
    log_group_arns: dict[str, pulumi.Input[str]]
    """Platform log group ARNs (stream -> ARN)."""
    metrics_namespace: str
    """CloudWatch namespace jobs may publish metrics to."""
    config: IdentityConfig
    """Trusted principals, MFA, session duration, experiments prefix."""


class AccessRoles(pulumi.ComponentResource):
    """Persona roles (MFA, account-scoped trust) and service roles with least-privilege inline policies.

    Example:
        >>> roles = AccessRoles("modelway-dev", AccessRolesArgs(...))   # doctest: +SKIP
        >>> roles.role_arns["data-scientist"]                            # doctest: +SKIP
    """

    role_arns: dict[str, pulumi.Output[str]]
    gpu_node_instance_profile_arn: pulumi.Output[str]
    gpu_node_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccessRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:identity:AccessRoles", name, None, opts)
        self._name, self._args = name, args
        self._scope = self._resolve_scope()
        self.roles: dict[str, aws.iam.Role] = {}
        self._create_service_roles()
        self._create_persona_roles()
        self.role_arns = {role: r.arn for role, r in self.roles.items()}
        self.register_outputs({"role_arns": self.role_arns,
                               "gpu_node_instance_profile_arn": self.gpu_node_instance_profile_arn})

    def _resolve_scope(self) -> pulumi.Output[_Scope]:
        a = self._args
        tiers, repos, streams = sorted(a.bucket_arns), sorted(a.repository_arns), sorted(a.log_group_arns)
        values = [a.partition, a.region, a.account_id, a.key_arn,
                  *[a.bucket_arns[t] for t in tiers], *[a.repository_arns[r] for r in repos],
                  *[a.log_group_arns[s] for s in streams]]

        def build(v: list[Any]) -> _Scope:
            partition, region, account, key = v[:4]
            rest = v[4:]
            buckets = dict(zip(tiers, rest[:len(tiers)]))
            repositories = dict(zip(repos, rest[len(tiers):len(tiers) + len(repos)]))
            log_groups = dict(zip(streams, rest[len(tiers) + len(repos):]))
            return _Scope(partition, region, account, a.prefix, key, buckets, repositories,
                          list(a.model_families), log_groups, a.config.experiments_prefix, a.metrics_namespace)

        return pulumi.Output.all(*values).apply(build)

    def _role(self, role: str, trust: pulumi.Output[str], policy: pulumi.Output[str]) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        iam_role = aws.iam.Role(f"{self._name}-{role}", name=f"{self._args.prefix}-{role}",
                                assume_role_policy=trust,
                                max_session_duration=self._args.config.max_session_duration_s, opts=child)
        aws.iam.RolePolicy(f"{self._name}-{role}-policy", role=iam_role.id, policy=policy, opts=child)
        self.roles[role] = iam_role
        return iam_role

    def _create_service_roles(self) -> None:
        scope = self._scope
        sagemaker = self._role(
            "sagemaker-execution",
            scope.apply(lambda s: json.dumps(_service_trust_policy("sagemaker.amazonaws.com", s.account_id))),
            scope.apply(lambda s: json.dumps(_sagemaker_execution_policy(s))),
        )
        node = self._role(
            "gpu-node",
            scope.apply(lambda s: json.dumps(_service_trust_policy("ec2.amazonaws.com", s.account_id))),
            scope.apply(lambda s: json.dumps(_gpu_node_policy(s))),
        )
        for policy in _GPU_NODE_MANAGED_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{self._name}-gpu-node-{policy}", role=node.name,
                policy_arn=pulumi.Output.from_input(self._args.partition).apply(
                    lambda p, policy=policy: f"arn:{p}:iam::aws:policy/{policy}"),
                opts=pulumi.ResourceOptions(parent=self))
        profile = aws.iam.InstanceProfile(f"{self._name}-gpu-node-profile", name=f"{self._args.prefix}-gpu-node",
                                          role=node.name, opts=pulumi.ResourceOptions(parent=self))
        self.gpu_node_instance_profile_arn = profile.arn
        self.gpu_node_role_arn = node.arn
        # Personas that start jobs may pass exactly this role, nothing else.
        self._scope = pulumi.Output.all(scope, sagemaker.arn).apply(
            lambda v: dataclasses.replace(v[0], sagemaker_role_arn=v[1]))

    def _create_persona_roles(self) -> None:
        cfg = self._args.config
        for persona, build in _PERSONA_POLICIES.items():
            trust = self._scope.apply(lambda s: json.dumps(_human_trust_policy(
                list(cfg.trusted_principals) or [f"arn:{s.partition}:iam::{s.account_id}:root"], cfg.require_mfa)))
            self._role(persona, trust, self._scope.apply(lambda s, build=build: json.dumps(build(s))))
