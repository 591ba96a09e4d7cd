"""EksCluster: the EKS cluster (created, or an existing one looked up) and the Kubernetes provider built from it.

Created: API authentication mode (access entries, no aws-auth ConfigMap), secrets encrypted
with the stack key, every control-plane log type into a retained, encrypted log group, the
EKS Pod Identity agent, and a small on-demand system node group for the add-ons (GPU nodes
are tainted). Either way the Kubernetes provider gets a kubeconfig built from the cluster's
own endpoint and CA with ``aws eks get-token``: never the operator's ambient kubeconfig,
which could point at any cluster.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.compute import ClusterJoin
from modelway.contracts.platform_config import ClusterConfig
from modelway.errors import ConfigError

CONTROL_PLANE_LOGS: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")
_NODE_MANAGED_POLICIES: tuple[str, ...] = (
    "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly",
)


def kubeconfig(name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig for exactly this cluster; credentials come from ``aws eks get-token`` at use time."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint,
                                                "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region],
            "interactiveMode": "Never"}}}],
    })


def require_access_entries(cluster_name: str, access_configs: Any) -> str:
    """The existing cluster's authentication mode, if access entries work on it; else a one-line ConfigError.

    The stack maps persona and node roles into the cluster with access entries (the
    ``aws-auth`` ConfigMap is deprecated); a ``CONFIG_MAP``-only cluster rejects them halfway
    through `pulumi up`.
    """
    mode = _field(access_configs[0], "authentication_mode") if access_configs else None
    if mode not in ("API", "API_AND_CONFIG_MAP"):
        raise ConfigError(f"modelway:cluster.name: the existing cluster {cluster_name} uses authentication mode "
                          f"{mode or 'CONFIG_MAP'}; access entries need API or API_AND_CONFIG_MAP "
                          f"(aws eks update-cluster-config --name {cluster_name} "
                          "--access-config authenticationMode=API_AND_CONFIG_MAP)")
    return str(mode)


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


@dataclass
class EksClusterArgs:
    """Inputs of :class:`EksCluster`."""

    prefix: str
    """Name prefix; a created cluster is named after it (``modelway-prod``)."""
    config: ClusterConfig
    """Mode, version, API access, system nodes."""
    region: pulumi.Input[str]
    """Region of the cluster (kubeconfig ``--region``)."""
    partition: pulumi.Input[str]
    """AWS partition of managed policy ARNs."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets of a created cluster and its system nodes."""
    key_arn: pulumi.Input[str]
    """CMK for secrets encryption, the control-plane logs and the system nodes' volumes."""
    log_retention_days: int
    """Retention of the control-plane log group."""


class EksCluster(pulumi.ComponentResource):
    """A created or looked-up EKS cluster, and the one Kubernetes provider of the stack.

    Example:
        >>> cluster = EksCluster("modelway-prod", EksClusterArgs(prefix="modelway-prod", config=cfg.cluster,
        ...     region=region, partition=partition, subnet_ids=subnets, key_arn=key_arn,
        ...     log_retention_days=731))                                              # doctest: +SKIP
        >>> cluster.provider                                                            # doctest: +SKIP
    """

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    arn: pulumi.Output[str]
    join: ClusterJoin
    provider: k8s.Provider

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:cluster:EksCluster", name, None, opts)
        self._name, self._args = name, args
        ready: list[pulumi.Resource] = []
        if args.config.mode == "create":
            ready = self._create()
        else:
            self._look_up()
        config = pulumi.Output.all(self.name, self.endpoint, self.join.certificate_authority, args.region).apply(
            lambda v: kubeconfig(*v))
        # Everything Kubernetes waits for the system nodes (Helm releases wait for their pods).
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=pulumi.Output.secret(config),
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=ready))
        self.register_outputs({"name": self.name, "endpoint": self.endpoint})

    def _look_up(self) -> None:
        name = str(self._args.config.name)
        cluster = aws.eks.get_cluster_output(name=name, opts=pulumi.InvokeOutputOptions(parent=self))
        # Checked before anything uses the cluster: its name flows into every access entry.
        def checked_name(values: list[Any]) -> str:
            require_access_entries(name, values[1])
            return values[0]

        checked = pulumi.Output.all(cluster.name, cluster.access_configs).apply(checked_name)
        self.name, self.endpoint, self.arn = checked, cluster.endpoint, cluster.arn
        self.join = ClusterJoin(
            name=checked, endpoint=cluster.endpoint,
            certificate_authority=cluster.certificate_authorities.apply(lambda cas: _field(cas[0], "data")),
            service_cidr=cluster.kubernetes_network_configs.apply(lambda c: _field(c[0], "service_ipv4_cidr")),
            version=cluster.version,
            security_group_id=cluster.vpc_config.apply(lambda c: _field(c, "cluster_security_group_id")),
        )

    def _create(self) -> list[pulumi.Resource]:
        args, cfg = self._args, self._args.config
        child = pulumi.ResourceOptions(parent=self)
        fixed = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        cluster_name = args.prefix
        role = aws.iam.Role(f"{self._name}-eks-cluster-role", name=f"{args.prefix}-eks-cluster",
                            assume_role_policy=_trust("eks.amazonaws.com"), opts=fixed)
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-eks-cluster-policy", role=role.name,
            policy_arn=pulumi.Output.concat("arn:", args.partition, ":iam::aws:policy/AmazonEKSClusterPolicy"),
            opts=child)
        # EKS would create this group itself, unencrypted and kept forever; create it first, ours.
        logs = aws.cloudwatch.LogGroup(f"{self._name}-eks-logs", name=f"/aws/eks/{cluster_name}/cluster",
                                       retention_in_days=args.log_retention_days, kms_key_id=args.key_arn,
                                       opts=fixed)
        public = bool(cfg.public_access_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{self._name}-eks", name=cluster_name, version=cfg.version, role_arn=role.arn,
            vpc_config={"subnet_ids": args.subnet_ids, "endpoint_private_access": True,
                        "endpoint_public_access": public,
                        "public_access_cidrs": list(cfg.public_access_cidrs) if public else None},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            encryption_config={"provider": {"key_arn": args.key_arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=[attachment, logs]))
        c = self.cluster
        self.name, self.endpoint, self.arn = c.name, c.endpoint, c.arn
        self.join = ClusterJoin(
            name=c.name, endpoint=c.endpoint, certificate_authority=c.certificate_authority.data,
            service_cidr=c.kubernetes_network_config.service_ipv4_cidr, version=c.version,
            security_group_id=c.vpc_config.cluster_security_group_id)
        # Pod Identity gives each workload its own role (no node role through IMDS).
        agent = aws.eks.Addon(f"{self._name}-pod-identity-agent", cluster_name=c.name,
                              addon_name="eks-pod-identity-agent", opts=child)
        return [self._create_system_nodes(), agent]

    def _create_system_nodes(self) -> aws.eks.NodeGroup:
        args, cfg = self._args, self._args.config
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{self._name}-system-node-role", name=f"{args.prefix}-system-node",
                            assume_role_policy=_trust("ec2.amazonaws.com"),
                            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
        attachments = [aws.iam.RolePolicyAttachment(
            f"{self._name}-system-node-{policy}", role=role.name,
            policy_arn=pulumi.Output.concat("arn:", args.partition, f":iam::aws:policy/{policy}"), opts=child)
            for policy in _NODE_MANAGED_POLICIES]
        template = aws.ec2.LaunchTemplate(
            f"{self._name}-system-launch-template", name_prefix=f"{args.prefix}-system-",
            # Hop limit 1: add-on pods use Pod Identity, never the node role.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "encrypted": "true", "kms_key_id": args.key_arn, "volume_size": 50, "volume_type": "gp3",
                "delete_on_termination": "true"}}],
            opts=child)
        return aws.eks.NodeGroup(
            f"{self._name}-system-nodes", cluster_name=self.cluster.name, node_role_arn=role.arn,
            subnet_ids=args.subnet_ids, instance_types=[cfg.system_instance_type], capacity_type="ON_DEMAND",
            ami_type="AL2023_x86_64_STANDARD",
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={"desired_size": cfg.system_nodes, "min_size": cfg.system_nodes,
                            "max_size": cfg.system_nodes + 1},
            labels={"modelway.io/pool": "system"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments))


def _field(value: Any, name: str) -> Any:
    # Invoke results nest typed objects, or plain dicts keyed camelCase when the engine
    # returns a shape the SDK does not re-type (e.g. under mocks).
    if isinstance(value, dict):
        camel = "".join(p if i == 0 else p.capitalize() for i, p in enumerate(name.split("_")))
        return value.get(name, value.get(camel))
    return getattr(value, name)
