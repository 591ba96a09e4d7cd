"""AccessRoles: least-privilege IAM roles per persona, per team workload, and the SageMaker execution and GPU node roles.

Every statement names the ARNs this stack creates. ``Resource: "*"`` appears only for the
few actions whose AWS API has no resource-level permissions (listed in
``ACTIONS_WITHOUT_RESOURCE_SCOPE`` and commented where used). KMS use goes through the
services that encrypt for the caller (``kms:ViaService``), grants only for AWS resources.
Pods never act as the node role: each team's service account gets its own workload role
through EKS Pod Identity, and node IMDS is one hop away from pods.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.registries import MLFLOW_PREFIX
from modelway.contracts.platform_config import IdentityConfig

HUMAN_PERSONAS: tuple[str, ...] = ("data-scientist", "ml-engineer", "approver", "deployer", "auditor")
SERVICE_ROLES: tuple[str, ...] = ("sagemaker-execution", "gpu-node")
WORKLOAD_SERVICE_ACCOUNT = "modelway-workload"
"""Service account in each team namespace that carries the team's workload role."""

# Actions AWS only authorizes on Resource "*" (no resource-level permissions).
ACTIONS_WITHOUT_RESOURCE_SCOPE: frozenset[str] = frozenset({
    "ecr:GetAuthorizationToken",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
    "cloudwatch:PutMetricData",
    "cloudtrail:LookupEvents",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
})

# AWS managed policies an EKS worker node needs to join and pull images (none is admin).
_GPU_NODE_MANAGED_POLICIES: tuple[str, ...] = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)

# The MLflow REST API through SageMaker's tracking server (sagemaker-mlflow:*, spelled out).
MLFLOW_READ: tuple[str, ...] = (
    "sagemaker-mlflow:AccessUI", "sagemaker-mlflow:GetExperiment", "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:SearchExperiments", "sagemaker-mlflow:GetRun", "sagemaker-mlflow:SearchRuns",
    "sagemaker-mlflow:GetMetricHistory", "sagemaker-mlflow:ListArtifacts",
    "sagemaker-mlflow:GetRegisteredModel", "sagemaker-mlflow:SearchRegisteredModels",
    "sagemaker-mlflow:GetLatestModelVersions", "sagemaker-mlflow:GetModelVersion",
    "sagemaker-mlflow:SearchModelVersions", "sagemaker-mlflow:GetModelVersionByAlias",
    "sagemaker-mlflow:GetDownloadURIForModelVersionArtifacts",
)
MLFLOW_WRITE: tuple[str, ...] = MLFLOW_READ + (
    "sagemaker-mlflow:CreateExperiment", "sagemaker-mlflow:UpdateExperiment", "sagemaker-mlflow:SetExperimentTag",
    "sagemaker-mlflow:CreateRun", "sagemaker-mlflow:UpdateRun", "sagemaker-mlflow:DeleteRun",
    "sagemaker-mlflow:RestoreRun", "sagemaker-mlflow:LogMetric", "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:LogBatch", "sagemaker-mlflow:LogModel", "sagemaker-mlflow:LogInputs",
    "sagemaker-mlflow:SetTag", "sagemaker-mlflow:DeleteTag",
    "sagemaker-mlflow:CreateRegisteredModel", "sagemaker-mlflow:UpdateRegisteredModel",
    "sagemaker-mlflow:SetRegisteredModelTag", "sagemaker-mlflow:CreateModelVersion",
    "sagemaker-mlflow:UpdateModelVersion", "sagemaker-mlflow:SetRegisteredModelAlias",
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
    cluster_name: str | None = None
    tracking_server_name: str | None = None
    trail_name: str | None = None

    def via(self, *services: str) -> dict[str, Any]:
        """KMS only when one of these services calls it on the caller's behalf."""
        return {"StringEquals": {"kms:ViaService": [f"{svc}.{self.region}.amazonaws.com" for svc in services]}}

    def cluster_arn(self) -> str:
        return f"arn:{self.partition}:eks:{self.region}:{self.account_id}:cluster/{self.cluster_name}"

    def tracking_server_arn(self) -> str:
        return self.sagemaker("mlflow-tracking-server", str(self.tracking_server_name))

    def trail_arn(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.trail_name}"

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


def statement(sid: str, actions: list[str], resources: list[str] | str,
              condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """An Allow statement (public for the add-on roles built in other modules)."""
    return _allow(sid, actions, resources, condition)


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document of these statements."""
    return _doc(*statements)


def pod_identity_trust_policy(account_id: str) -> dict[str, Any]:
    """Trust of a role that EKS Pod Identity hands to one service account (the association names it)."""
    return _doc({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                 "Action": ["sts:AssumeRole", "sts:TagSession"],
                 "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}})


def _kms_use(s: _Scope, write: bool, services: tuple[str, ...] = ("s3",)) -> dict[str, Any]:
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return _allow("PlatformKey", actions, s.key_arn, condition=s.via(*services))


def _kms_grants(s: _Scope) -> dict[str, Any]:
    """SageMaker encrypts job volumes and endpoint storage through grants it creates for the caller."""
    return _allow("PlatformKeyGrantsForSageMaker", ["kms:CreateGrant"], s.key_arn,
                  condition={"Bool": {"kms:GrantIsForAWSResource": "true"}, **s.via("sagemaker")})


def _describe_cluster(s: _Scope) -> list[dict[str, Any]]:
    """Enough to build a kubeconfig (`aws eks update-kubeconfig`); RBAC decides the rest."""
    if s.cluster_name is None:
        return []
    return [_allow("DescribeCluster", ["eks:DescribeCluster"], s.cluster_arn())]


def _mlflow(s: _Scope, write: bool) -> list[dict[str, Any]]:
    """The tracking server: the REST API, a presigned UI URL, and its description (for the ARN-based client)."""
    if s.tracking_server_name is None:
        return []
    return [_allow("UseTrackingServer", list(MLFLOW_WRITE if write else MLFLOW_READ) + [
        "sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker:DescribeMlflowTrackingServer"],
        s.tracking_server_arn())]


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
    """Read raw data and features; read/write own experiments prefix and MLflow; read the registry; no deploy."""
    experiments = f"{s.experiments_prefix}/"
    return _doc(
        _allow("ReadRawDataAndFeatures", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("ListRawDataAndFeatures", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets["raw-data"], s.buckets["features"]]),
        # The MLflow client writes run artifacts straight to the artifact store, with the caller's credentials.
        _allow("WriteExperiments", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
               s.objects("artifacts", under=experiments) + s.objects("artifacts", under=f"{MLFLOW_PREFIX}/")),
        _allow("ListExperiments", ["s3:ListBucket"], s.buckets["artifacts"],
               condition={"StringLike": {"s3:prefix": [f"{experiments}*", f"{MLFLOW_PREFIX}/*"]}}),
        _kms_use(s, write=True),
        *_read_registry(s),
        *_mlflow(s, write=True),
        *_describe_cluster(s),
        _allow("ReadPlatformLogs", ["logs:FilterLogEvents", "logs:GetLogEvents"], s.log_streams()),
    )


def _pass_sagemaker_role(s: _Scope) -> dict[str, Any]:
    return _allow("PassSageMakerExecutionRole", ["iam:PassRole"], s.sagemaker_role_arn,
                  condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})


def _ml_engineer_policy(s: _Scope) -> dict[str, Any]:
    """Train (SageMaker jobs named after the stack), register model versions, push images; never approve
    a version (separation of duties) nor delete a stored model."""
    jobs = [s.sagemaker(kind, f"{s.prefix}-*") for kind in ("training-job", "processing-job")]
    return _doc(
        _allow("ReadData", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("WriteArtifacts", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], s.objects("artifacts")),
        # Models are written once: no s3:DeleteObject here (the bucket also locks versions in prod).
        _allow("WriteModels", ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], s.objects("models")),
        _allow("ListBuckets", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets[t] for t in ("raw-data", "features", "artifacts", "models")]),
        _kms_use(s, write=True, services=("s3", "sagemaker")),
        _kms_grants(s),
        _allow("RunTrainingJobs", ["sagemaker:AddTags", "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob",
                                   "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                                   "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob"], jobs),
        # Registers versions; approving them is the approver's (UpdateModelPackage is left out).
        _allow("RegisterModels", ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                                  "sagemaker:DescribeModelPackageGroup"], s.groups() + s.packages()),
        _allow("ListModelRegistry", ["sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"], "*"),
        _pass_sagemaker_role(s),
        _allow("PushImages", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                              "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage",
                              "ecr:UploadLayerPart"], sorted(s.repositories.values())),
        _allow("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        *_mlflow(s, write=True),
        *_describe_cluster(s),
        _allow("ReadPlatformLogs", ["logs:FilterLogEvents", "logs:GetLogEvents"], s.log_streams()),
    )


def _approver_policy(s: _Scope) -> dict[str, Any]:
    """Review a registered version (metadata, model card, MLflow runs) and set its approval status; nothing else."""
    return _doc(
        *_read_registry(s),
        _allow("ApproveModelVersions", ["sagemaker:UpdateModelPackage"], s.packages()),
        _allow("ReadModelCards", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("models")),
        _allow("ListModels", ["s3:GetBucketLocation", "s3:ListBucket"], s.buckets["models"]),
        _kms_use(s, write=False),
        *_mlflow(s, write=False),
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
        _kms_use(s, write=False, services=("s3", "sagemaker")),
        _kms_grants(s),
        *_read_registry(s),
        _pass_sagemaker_role(s),
        *_ecr_pull(s, [r for r in s.repositories if r != "training"] or list(s.repositories)),
        *_describe_cluster(s),
    )


def _auditor_policy(s: _Scope) -> dict[str, Any]:
    """Read-only: registry metadata, platform logs, access logs, the audit trail, alarms, the key, role definitions."""
    statements = [
        *_read_registry(s),
        _allow("ReadPlatformLogs", ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
               sorted(s.log_groups.values()) + s.log_streams()),
        _allow("ReadAccessLogsAndTrail", ["s3:GetObject"], s.objects("access-logs")),
        _allow("ListAccessLogs", ["s3:GetBucketLocation", "s3:ListBucket"], s.buckets["access-logs"]),
        # Trail log files are SSE-KMS with the platform key.
        _kms_use(s, write=False),
        _allow("ReadAlarms", ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"],
               f"arn:{s.partition}:cloudwatch:{s.region}:{s.account_id}:alarm:{s.prefix}-*"),
        _allow("ReadKeyConfiguration", ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"],
               s.key_arn),
        _allow("ReadRoleDefinitions", ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                                       "iam:ListRolePolicies"],
               f"arn:{s.partition}:iam::{s.account_id}:role/{s.prefix}-*"),
        *_mlflow(s, write=False),
        *_describe_cluster(s),
    ]
    if s.trail_name is not None:
        statements += [
            _allow("ReadTrail", ["cloudtrail:GetTrail", "cloudtrail:GetTrailStatus"], s.trail_arn()),
            # LookupEvents has no resource-level permissions.
            _allow("LookupEvents", ["cloudtrail:LookupEvents"], "*"),
        ]
    return _doc(*statements)


def _sagemaker_execution_policy(s: _Scope) -> dict[str, Any]:
    """What training/processing jobs and endpoints run with."""
    log_prefix = f"arn:{s.partition}:logs:{s.region}:{s.account_id}:log-group:/aws/sagemaker/"
    return _doc(
        _allow("ReadData", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        _allow("WriteArtifactsAndModels", ["s3:GetObject", "s3:PutObject"], s.objects("artifacts", "models")),
        _allow("ListBuckets", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets[t] for t in ("raw-data", "features", "artifacts", "models")]),
        _kms_use(s, write=True, services=("s3", "sagemaker")),
        _kms_grants(s),
        *_ecr_pull(s, list(s.repositories)),
        _allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
               [f"{log_prefix}{kind}*" for kind in ("TrainingJobs", "ProcessingJobs", "Endpoints/")]),
        # PutMetricData has no resource ARN; the namespace condition is the scope.
        _allow("PublishPlatformMetrics", ["cloudwatch:PutMetricData"], "*",
               condition={"StringEquals": {"cloudwatch:namespace": s.metrics_namespace}}),
        *_mlflow(s, write=True),
    )


def _gpu_node_policy(s: _Scope) -> dict[str, Any]:
    """The node itself only ships its logs; pods never see this role (IMDS hop limit 1, Pod Identity)."""
    return _doc(
        _allow("WriteNodeLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], s.log_streams()),
    )


def _workload_policy(s: _Scope) -> dict[str, Any]:
    """A team's pods (Kubernetes jobs): read data, write artifacts and spot checkpoints to S3, track to MLflow."""
    return _doc(
        _allow("ReadData", ["s3:GetObject", "s3:GetObjectVersion"], s.objects("raw-data", "features")),
        # Checkpoints live under artifacts/checkpoints/ (S3, not node disk: spot reclaims the node).
        _allow("WriteArtifactsAndCheckpoints", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
               s.objects("artifacts")),
        _allow("ListBuckets", ["s3:GetBucketLocation", "s3:ListBucket"],
               [s.buckets[t] for t in ("raw-data", "features", "artifacts")]),
        _kms_use(s, write=True),
        *_ecr_pull(s, list(s.repositories)),
        *_read_registry(s),
        _allow("WriteJobLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], s.log_streams()),
        _allow("PublishPlatformMetrics", ["cloudwatch:PutMetricData"], "*",
               condition={"StringEquals": {"cloudwatch:namespace": s.metrics_namespace}}),
        *_mlflow(s, write=True),
    )


_PERSONA_POLICIES = {
    "data-scientist": _data_scientist_policy,
    "ml-engineer": _ml_engineer_policy,
    "approver": _approver_policy,
    "deployer": _deployer_policy,
    "auditor": _auditor_policy,
}


def workload_role_name(prefix: str, team: str) -> str:
    """IAM role of a team's pods (<= 64 characters for any valid prefix and team name)."""
    return f"{prefix}-team-{team}"


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
    cluster_name: str | None = None
    """EKS cluster personas may describe (kubeconfig); None: no cluster."""
    teams: tuple[str, ...] = ()
    """Teams that get a workload role (Pod Identity), when there is a cluster."""
    tracking_server_name: str | None = None
    """MLflow tracking server personas and workloads use, when provisioned."""
    trail_name: str | None = None
    """CloudTrail trail the auditor reads, when provisioned."""


class AccessRoles(pulumi.ComponentResource):
    """Persona roles (MFA, account-scoped trust), per-team workload roles and service roles, least privilege.

    Example:
        >>> roles = AccessRoles("modelway-dev", AccessRolesArgs(...))   # doctest: +SKIP
        >>> roles.role_arns["data-scientist"]                            # doctest: +SKIP
    """

    role_arns: dict[str, pulumi.Output[str]]
    workload_role_arns: dict[str, pulumi.Output[str]]
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
        self.workload_role_arns = {team: self._create_workload_role(team) for team in args.teams}
        self.register_outputs({"role_arns": self.role_arns, "workload_role_arns": self.workload_role_arns,
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
                          list(a.model_families), log_groups, a.config.experiments_prefix, a.metrics_namespace,
                          cluster_name=a.cluster_name, tracking_server_name=a.tracking_server_name,
                          trail_name=a.trail_name)

        return pulumi.Output.all(*values).apply(build)

    def _role(self, role: str, trust: pulumi.Output[str], policy: pulumi.Output[str],
              physical_name: str | None = None) -> aws.iam.Role:
        # Fixed names (people assume them; the key policy and auditor scope to the prefix): a
        # replacement must delete the old role first, or the create collides with it.
        iam_role = aws.iam.Role(f"{self._name}-{role}", name=physical_name or f"{self._args.prefix}-{role}",
                                assume_role_policy=trust,
                                max_session_duration=self._args.config.max_session_duration_s,
                                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
        aws.iam.RolePolicy(f"{self._name}-{role}-policy", role=iam_role.id, policy=policy,
                           opts=pulumi.ResourceOptions(parent=self))
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
                                          role=node.name,
                                          opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
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

    def _create_workload_role(self, team: str) -> pulumi.Output[str]:
        role = self._role(f"team-{team}",
                          self._scope.apply(lambda s: json.dumps(pod_identity_trust_policy(s.account_id))),
                          self._scope.apply(lambda s: json.dumps(_workload_policy(s))),
                          physical_name=workload_role_name(self._args.prefix, team))
        del self.roles[f"team-{team}"]  # role_arns holds personas and service roles; workloads are per team
        return role.arn


AUTOSCALING_SERVICE_ROLE = "AWSServiceRoleForAutoScaling"


def autoscaling_service_role(name: str, mode: str, opts: pulumi.ResourceOptions,
                             invoke: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """ARN of the Auto Scaling service-linked role, as a dependency for the key policy that names it.

    ``create`` declares it (an account that never had an Auto Scaling group lacks it, and KMS
    rejects a key policy naming a missing principal); ``existing`` looks it up (creating it
    twice fails). It is account-wide, so it outlives the stack (retained on delete).
    """
    if mode == "create":
        role = aws.iam.ServiceLinkedRole(
            f"{name}-autoscaling-service-role", aws_service_name="autoscaling.amazonaws.com",
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)))
        return role.arn
    return aws.iam.get_role_output(name=AUTOSCALING_SERVICE_ROLE, opts=invoke).arn
