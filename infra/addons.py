"""ClusterAddons: what makes the GPU pool work: cluster autoscaler, NVIDIA device plugin, node termination handler.

Helm releases with chart versions pinned in config. The autoscaler and the termination
handler act on AWS through their own roles (EKS Pod Identity, scoped to the pool's groups
and queue), never through the node role. The device plugin tolerates the pool's taint and
runs only on its nodes: without it ``nvidia.com/gpu`` is never advertised and GPU pods
never schedule (the EKS GPU AMIs ship the driver, not the plugin).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.compute import NODE_TAINT, NTH_MANAGED_TAG, POOL_LABEL
from infra.identity import document, pod_identity_trust_policy, statement
from modelway.contracts.platform_config import AddonsConfig

SYSTEM_NAMESPACE = "kube-system"
AUTOSCALER_SA = "cluster-autoscaler"
NTH_SA = "aws-node-termination-handler"
CHARTS: dict[str, tuple[str, str]] = {
    # add-on -> (chart, repository); OCI charts carry their registry in the chart reference.
    "cluster-autoscaler": ("cluster-autoscaler", "https://kubernetes.github.io/autoscaler"),
    "nvidia-device-plugin": ("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin"),
    "node-termination-handler": ("oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler", ""),
}


@dataclass
class ClusterAddonsArgs:
    """Inputs of :class:`ClusterAddons`."""

    prefix: str
    """Name prefix of this environment; add-on role names start with it."""
    config: AddonsConfig
    """Pinned chart versions."""
    provider: k8s.Provider
    """The stack's Kubernetes provider (kubeconfig from the cluster's outputs)."""
    cluster_name: pulumi.Input[str]
    """Cluster the add-ons run in (autoscaler auto-discovery, Pod Identity associations)."""
    region: pulumi.Input[str]
    partition: pulumi.Input[str]
    account_id: pulumi.Input[str]
    group_names: list[str]
    """Autoscaling groups of the GPU pool (the only ones the autoscaler and handler may act on)."""
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    """The interruption queue the termination handler consumes."""
    key_arn: pulumi.Input[str]
    """The key the queue is encrypted with."""


def _group_arns(partition: str, region: str, account: str, names: list[str]) -> list[str]:
    # An ASG ARN embeds a random id; the name part is stable.
    return [f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{n}"
            for n in sorted(names)]


def autoscaler_policy(group_arns: list[str]) -> dict[str, Any]:
    """Scale and terminate the pool's groups only; describe calls have no resource scope."""
    return document(
        statement("ScaleGpuPool", ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                  group_arns),
        statement("DiscoverGroupsAndShapes", [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements"], "*"),
    )


def termination_handler_policy(queue_arn: str, group_arns: list[str], key_arn: str, region: str) -> dict[str, Any]:
    """Consume the (KMS-encrypted) interruption queue, complete the pool's lifecycle hooks, look up instances."""
    return document(
        statement("ConsumeInterruptions", ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                  queue_arn),
        statement("DecryptInterruptions", ["kms:Decrypt"], key_arn,
                  condition={"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}}),
        statement("CompleteDrain", ["autoscaling:CompleteLifecycleAction"], group_arns),
        statement("FindInstances", ["autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeTags",
                                    "ec2:DescribeInstances"], "*"),
    )


def device_plugin_values() -> dict[str, Any]:
    """Runs on the pool's nodes only, tolerating their taint."""
    return {
        "nodeSelector": {POOL_LABEL[0]: POOL_LABEL[1]},
        "tolerations": [{"key": NODE_TAINT[0], "operator": "Equal", "value": NODE_TAINT[1],
                         "effect": NODE_TAINT[2]}],
        "priorityClassName": "system-node-critical",
    }


class ClusterAddons(pulumi.ComponentResource):
    """Cluster autoscaler, NVIDIA device plugin and node termination handler (queue processor).

    Example:
        >>> addons = ClusterAddons("modelway-prod", ClusterAddonsArgs(...))   # doctest: +SKIP
        >>> sorted(addons.releases)                                          # doctest: +SKIP
        ['cluster-autoscaler', 'node-termination-handler', 'nvidia-device-plugin']
    """

    releases: dict[str, k8s.helm.v3.Release]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:addons:ClusterAddons", name, None, opts)
        self._name, self._args = name, args
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.provider)
        group_arns = pulumi.Output.all(args.partition, args.region, args.account_id).apply(
            lambda v: _group_arns(v[0], v[1], v[2], args.group_names))
        self.releases = {}
        self._pod_role("cluster-autoscaler", AUTOSCALER_SA, group_arns.apply(autoscaler_policy))
        self.releases["cluster-autoscaler"] = self._release("cluster-autoscaler", args.config.cluster_autoscaler, {
            "autoDiscovery": {"clusterName": args.cluster_name},
            "awsRegion": args.region,
            "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SA}},
            "extraArgs": {"balance-similar-node-groups": "true", "expander": "least-waste",
                          "skip-nodes-with-system-pods": "false", "scale-down-unneeded-time": "5m"},
        })
        self.releases["nvidia-device-plugin"] = self._release(
            "nvidia-device-plugin", args.config.nvidia_device_plugin, device_plugin_values())
        self._pod_role("node-termination-handler", NTH_SA,
                       pulumi.Output.all(args.queue_arn, group_arns, args.key_arn, args.region).apply(
                           lambda v: termination_handler_policy(*v)))
        self.releases["node-termination-handler"] = self._release(
            "node-termination-handler", args.config.node_termination_handler, {
                "enableSqsTerminationDraining": True,
                "queueURL": args.queue_url,
                "awsRegion": args.region,
                "checkASGTagBeforeDraining": True,
                "managedTag": NTH_MANAGED_TAG,
                "serviceAccount": {"create": True, "name": NTH_SA},
            })
        self.register_outputs({"releases": sorted(self.releases)})

    def _pod_role(self, addon: str, service_account: str, policy: pulumi.Output[dict[str, Any]]) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{self._name}-{addon}-role", name=f"{args.prefix}-{addon}",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda a: json.dumps(pod_identity_trust_policy(a))),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
        aws.iam.RolePolicy(f"{self._name}-{addon}-policy", role=role.id, policy=policy.apply(json.dumps), opts=child)
        aws.eks.PodIdentityAssociation(f"{self._name}-{addon}-identity", cluster_name=args.cluster_name,
                                       namespace=SYSTEM_NAMESPACE, service_account=service_account,
                                       role_arn=role.arn, opts=child)

    def _release(self, addon: str, version: str, values: dict[str, Any]) -> k8s.helm.v3.Release:
        chart, repository = CHARTS[addon]
        return k8s.helm.v3.Release(
            f"{self._name}-{addon}", name=addon, chart=chart, version=version, namespace=SYSTEM_NAMESPACE,
            repository_opts={"repo": repository} if repository else None, values=values,
            opts=self._k8s)
