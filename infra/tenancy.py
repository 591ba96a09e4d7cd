"""KubernetesTenancy: a namespace per team with quotas, limits, default-deny networking, a workload identity and persona RBAC.

Created only when there is a cluster. Persona Roles use explicit verbs on explicit
resources (no wildcards, no bind/escalate/impersonate, no secrets); IAM persona roles map
to the ``modelway:<persona>`` Kubernetes groups through EKS access entries. Each team's
pods run as the ``modelway-workload`` service account, which EKS Pod Identity maps to the
team's own IAM role; egress is denied except DNS, HTTPS to the VPC (where the AWS API
endpoints are), S3 and configured destinations, and the Pod Identity agent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.identity import WORKLOAD_SERVICE_ACCOUNT
from modelway.contracts.platform_config import KubernetesConfig

# EKS Pod Identity agent: a node-local link address pods fetch their credentials from.
POD_IDENTITY_AGENT = ("169.254.170.23/32", 80)

_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "get", "list", "patch", "update", "watch"]

# persona -> RBAC rules inside a team namespace.
PERSONA_RULES: dict[str, list[dict[str, Any]]] = {
    "data-scientist": [
        {"api_groups": [""], "resources": ["pods", "pods/log", "events", "configmaps"], "verbs": _READ},
        {"api_groups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete", "get", "list", "watch"]},
    ],
    "ml-engineer": [
        {"api_groups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["delete", *_READ]},
        {"api_groups": [""], "resources": ["configmaps", "persistentvolumeclaims", "services"], "verbs": _WRITE},
        {"api_groups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _WRITE},
    ],
    "deployer": [
        {"api_groups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": _WRITE},
        {"api_groups": [""], "resources": ["services", "configmaps"], "verbs": _WRITE},
        {"api_groups": [""], "resources": ["pods", "pods/log", "events"], "verbs": _READ},
    ],
    "auditor": [
        {"api_groups": [""], "resources": ["pods", "events", "configmaps", "resourcequotas", "limitranges",
                                           "services"], "verbs": _READ},
        {"api_groups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _READ},
        {"api_groups": ["apps"], "resources": ["deployments"], "verbs": _READ},
        {"api_groups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": _READ},
    ],
}


@dataclass
class KubernetesTenancyArgs:
    """Inputs of :class:`KubernetesTenancy`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    config: KubernetesConfig
    """Teams, per-team quota, extra egress."""
    provider: k8s.Provider
    """The stack's Kubernetes provider (kubeconfig built from the cluster's outputs)."""
    cluster_name: pulumi.Input[str]
    """Cluster of the access entries and Pod Identity associations."""
    persona_role_arns: dict[str, pulumi.Input[str]]
    """IAM persona role ARNs to map to Kubernetes groups (personas with RBAC rules here)."""
    workload_role_arns: dict[str, pulumi.Input[str]]
    """team -> IAM role its pods get through Pod Identity."""
    vpc_cidr: pulumi.Input[str]
    """Where the interface endpoints (STS, ECR, SageMaker, CloudWatch, Logs, MLflow) answer."""
    s3_cidrs: pulumi.Input[list[str]]
    """S3's address ranges in the region (the gateway endpoint's prefix list)."""
    gpu_node_role_arn: pulumi.Input[str] | None = None
    """Node role to register as an EC2_LINUX access entry (GPU nodes join with it)."""


def egress_rules(vpc_cidr: str, s3_cidrs: list[str], extra: list[str]) -> list[dict[str, Any]]:
    """DNS to kube-dns; HTTPS to the VPC, S3 and extra CIDRs; the Pod Identity agent. Nothing else."""
    https = [{"ip_block": {"cidr": cidr}} for cidr in [vpc_cidr, *s3_cidrs, *extra]]
    return [
        {"to": [{"namespace_selector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "pod_selector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": https, "ports": [{"protocol": "TCP", "port": 443}]},
        {"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT[0]}}],
         "ports": [{"protocol": "TCP", "port": POD_IDENTITY_AGENT[1]}]},
    ]


def _quota_hard(gpus: int, cpu: str, memory: str) -> dict[str, str]:
    return {"requests.nvidia.com/gpu": str(gpus), "requests.cpu": cpu, "limits.cpu": cpu,
            "requests.memory": memory, "limits.memory": memory}


class KubernetesTenancy(pulumi.ComponentResource):
    """Per-team namespaces with GPU/CPU/memory quotas, LimitRange, default-deny NetworkPolicy and persona RBAC.

    Example:
        >>> tenancy = KubernetesTenancy("modelway-prod", KubernetesTenancyArgs(
        ...     prefix="modelway-prod", config=cfg.kubernetes, persona_role_arns=roles))   # doctest: +SKIP
        >>> tenancy.namespaces                                                              # doctest: +SKIP
    """

    namespaces: pulumi.Output[list[str]]
    priority_class_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesTenancyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:kubernetes:KubernetesTenancy", name, None, opts)
        self._name, self._args = name, args
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self._egress = pulumi.Output.all(args.vpc_cidr, args.s3_cidrs).apply(
            lambda v: egress_rules(v[0], list(v[1]), list(args.config.egress_cidrs)))
        self._create_priority_class()
        self.priority_class_name = self.priority_class.metadata.name
        names = [self._create_team(team) for team in args.config.teams]
        self._create_access_entries()
        self.namespaces = pulumi.Output.all(*names)
        self.register_outputs({"namespaces": self.namespaces})

    def _create_priority_class(self) -> None:
        # Spot training can be evicted at any time: low priority, and it never preempts others.
        self.priority_class = k8s.scheduling.v1.PriorityClass(
            f"{self._name}-spot-preemptible",
            metadata={"name": f"{self._args.prefix}-spot-preemptible"},
            value=100, global_default=False, preemption_policy="Never",
            description="Preemptible training on spot GPU nodes", opts=self._k8s)

    def _create_team(self, team: str) -> pulumi.Output[str]:
        cfg = self._args.config
        base = f"{self._name}-{team}"
        namespace = k8s.core.v1.Namespace(
            f"{base}-namespace",
            metadata={"name": team, "labels": {"modelway.io/team": team,
                                               "pod-security.kubernetes.io/enforce": "restricted"}},
            opts=self._k8s)
        ns = namespace.metadata.name
        k8s.core.v1.ResourceQuota(f"{base}-quota", metadata={"name": "team-quota", "namespace": ns},
                                  spec={"hard": _quota_hard(cfg.quota.gpus, cfg.quota.cpu, cfg.quota.memory)},
                                  opts=self._k8s)
        k8s.core.v1.LimitRange(f"{base}-limits", metadata={"name": "container-defaults", "namespace": ns},
                               spec={"limits": [{"type": "Container",
                                                 "default": {"cpu": "1", "memory": "2Gi"},
                                                 "default_request": {"cpu": "500m", "memory": "1Gi"}}]},
                               opts=self._k8s)
        k8s.networking.v1.NetworkPolicy(f"{base}-default-deny", metadata={"name": "default-deny", "namespace": ns},
                                        spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
                                        opts=self._k8s)
        # Default deny would also block DNS and the data plane: pods read S3, get credentials
        # (STS, Pod Identity), pull from ECR, log and track experiments. Allow exactly that.
        k8s.networking.v1.NetworkPolicy(
            f"{base}-allow-data-plane", metadata={"name": "allow-data-plane", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Egress"], "egress": self._egress},
            opts=self._k8s)
        self._create_workload_identity(team, base, ns)
        for persona, rules in PERSONA_RULES.items():
            role = k8s.rbac.v1.Role(f"{base}-{persona}", metadata={"name": f"modelway-{persona}", "namespace": ns},
                                    rules=rules, opts=self._k8s)
            k8s.rbac.v1.RoleBinding(
                f"{base}-{persona}-binding", metadata={"name": f"modelway-{persona}", "namespace": ns},
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
                subjects=[{"kind": "Group", "name": f"modelway:{persona}", "api_group": "rbac.authorization.k8s.io"}],
                opts=self._k8s)
        return ns

    def _create_workload_identity(self, team: str, base: str, ns: pulumi.Output[str]) -> None:
        args = self._args
        account = k8s.core.v1.ServiceAccount(
            f"{base}-workload-sa", metadata={"name": WORKLOAD_SERVICE_ACCOUNT, "namespace": ns,
                                             "labels": {"modelway.io/team": team}},
            # Pods get AWS credentials from Pod Identity; no Kubernetes API token is needed.
            automount_service_account_token=False, opts=self._k8s)
        aws.eks.PodIdentityAssociation(
            f"{base}-workload-identity", cluster_name=args.cluster_name, namespace=ns,
            service_account=account.metadata.name, role_arn=args.workload_role_arns[team],
            opts=pulumi.ResourceOptions(parent=self))

    def _create_access_entries(self) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        for persona in PERSONA_RULES:
            aws.eks.AccessEntry(f"{self._name}-{persona}-access", cluster_name=args.cluster_name,
                                principal_arn=args.persona_role_arns[persona],
                                kubernetes_groups=[f"modelway:{persona}"], type="STANDARD", opts=child)
        if args.gpu_node_role_arn is not None:
            aws.eks.AccessEntry(f"{self._name}-gpu-node-access", cluster_name=args.cluster_name,
                                principal_arn=args.gpu_node_role_arn, type="EC2_LINUX", opts=child)
