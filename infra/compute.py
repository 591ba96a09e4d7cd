"""GpuSpotPool: spot-only GPU autoscaling groups (one per GPU shape) that scale to zero, and spot interruption handling.

Each node group joins the EKS cluster with the AMI of the cluster's own Kubernetes version,
advertises its shape to the cluster autoscaler (scale from zero), and hands interruptions to
the node termination handler through an SQS queue (EventBridge -> SQS), which drains the node
before EC2 reclaims it. Checkpoints belong in S3 (the workload role's ``checkpoints/``
prefix), never on the node's disk.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import GpuNodeGroup, GpuPoolConfig

POOL_LABEL = ("modelway.io/pool", "gpu-spot")
SHAPE_LABEL = "modelway.io/gpu-shape"
# Only pods that tolerate it (GPU training jobs, the device plugin) land on these expensive nodes.
NODE_TAINT = ("nvidia.com/gpu", "true", "NoSchedule")
# The node termination handler only drains instances of groups carrying this tag.
NTH_MANAGED_TAG = "aws-node-termination-handler/managed"
# Pods must not reach the node role through IMDS: one hop ends at the node itself.
IMDS_HOP_LIMIT = 1


def node_labels(group: GpuNodeGroup) -> dict[str, str]:
    """Labels the nodes of ``group`` register with (what GPU jobs select)."""
    return {POOL_LABEL[0]: POOL_LABEL[1], SHAPE_LABEL: group.name, "nvidia.com/gpu.present": "true"}


def ami_parameter(kubernetes_version: str) -> str:
    """SSM parameter of the EKS AL2023 NVIDIA AMI for the cluster's Kubernetes version."""
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/x86_64/nvidia/recommended/image_id"


@dataclass
class ClusterJoin:
    """What a node needs to join the cluster (outputs of the created cluster or of the lookup)."""

    name: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    certificate_authority: pulumi.Input[str]
    service_cidr: pulumi.Input[str]
    version: pulumi.Input[str]
    security_group_id: pulumi.Input[str]


@dataclass
class GpuSpotPoolArgs:
    """Inputs of :class:`GpuSpotPool`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    config: GpuPoolConfig
    """Node groups (one shape each), AMI pin, volumes, extra security groups."""
    cluster: ClusterJoin
    """The cluster the nodes join."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets the nodes launch into."""
    key_arn: pulumi.Input[str]
    """CMK for the node volumes and the interruption queue."""
    instance_profile_arn: pulumi.Input[str]
    """Instance profile of the GPU node role."""
    alerts_topic_arn: pulumi.Input[str]
    """Where interruption notices of the pool's nodes go."""
    tags: dict[str, str]
    """Tags for instances/volumes launched by the groups (provider default tags do not reach them)."""


def _node_user_data(cluster: dict[str, Any], labels: dict[str, str]) -> str:
    """AL2023 nodeadm config (MIME multipart) that joins the EKS cluster with GPU labels and taint."""
    label_flag = ",".join(f"{k}={v}" for k, v in labels.items())
    taint = f"{NODE_TAINT[0]}={NODE_TAINT[1]}:{NODE_TAINT[2]}"
    node_config = (
        "apiVersion: node.eks.aws/v1alpha1\n"
        "kind: NodeConfig\n"
        "spec:\n"
        "  cluster:\n"
        f"    name: {cluster['name']}\n"
        f"    apiServerEndpoint: {cluster['endpoint']}\n"
        f"    certificateAuthority: {cluster['certificate_authority']}\n"
        f"    cidr: {cluster['service_cidr']}\n"
        "  kubelet:\n"
        "    flags:\n"
        f"      - --node-labels={label_flag}\n"
        f"      - --register-with-taints={taint}\n"
    )
    boundary = "MODELWAY"
    return (
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: application/node.eks.aws\n\n{node_config}\n--{boundary}--\n"
    )


def autoscaler_tags(cluster_name: str, group: GpuNodeGroup) -> dict[str, str]:
    """Cluster-autoscaler discovery + node-template tags, so it can scale the group up from zero.

    The template states the group's one shape: its GPU count (the autoscaler cannot see GPUs of
    a node that does not exist yet), labels and taint.
    """
    shape = group.shape
    tags = {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        f"kubernetes.io/cluster/{cluster_name}": "owned",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": str(shape.gpus),
        f"k8s.io/cluster-autoscaler/node-template/taint/{NODE_TAINT[0]}": f"{NODE_TAINT[1]}:{NODE_TAINT[2]}",
        NTH_MANAGED_TAG: "true",
    }
    tags.update({f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in node_labels(group).items()})
    return tags


def lifecycle_event_pattern(group_names: list[str]) -> dict[str, Any]:
    """Termination lifecycle actions of THIS pool's groups (spot reclaim, rebalancing, scale-in)."""
    return {"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
            "detail": {"AutoScalingGroupName": sorted(group_names)}}


def ec2_event_pattern() -> dict[str, Any]:
    """Spot warnings, rebalance recommendations and state changes: EventBridge cannot filter them by group;
    the termination handler acts only on instances of groups tagged ``NTH_MANAGED_TAG``."""
    return {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning",
                                                   "EC2 Instance Rebalance Recommendation",
                                                   "EC2 Instance State-change Notification"]}


def _queue_policy(queue_arn: str, rule_arns: list[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeDeliversInterruptions", "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}}}]}


def group_name(prefix: str, group: GpuNodeGroup) -> str:
    """Physical name of a node group's autoscaling group (IAM policies scope to it)."""
    return f"{prefix}-gpu-{group.name}"


class GpuSpotPool(pulumi.ComponentResource):
    """Per shape: launch template (IMDSv2, hop limit 1, encrypted EBS, no public IP) + spot ASG, min 0.

    Example:
        >>> pool = GpuSpotPool("modelway-prod", GpuSpotPoolArgs(prefix="modelway-prod", config=cfg.gpu_pool,
        ...     cluster=join, subnet_ids=subnets, key_arn=key_arn, instance_profile_arn=profile,
        ...     alerts_topic_arn=topic, tags=tags))                                      # doctest: +SKIP
        >>> pool.group_names                                                              # doctest: +SKIP
    """

    group_names: dict[str, pulumi.Output[str]]
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GpuSpotPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:compute:GpuSpotPool", name, None, opts)
        self._name, self._args = name, args
        self._image = self._image_id()
        self.groups: dict[str, aws.autoscaling.Group] = {}
        for group in args.config.node_groups:
            template = self._create_launch_template(group)
            self.groups[group.name] = self._create_group(group, template)
        self.group_names = {g: asg.name for g, asg in self.groups.items()}
        self._create_interruption_handling()
        self.register_outputs({"group_names": self.group_names, "queue_url": self.queue_url})

    def _image_id(self) -> pulumi.Input[str]:
        cfg = self._args.config
        if cfg.ami_id:
            return cfg.ami_id
        # Follows the cluster: an upgraded control plane brings its matching node AMI on the next `up`.
        parameter = pulumi.Output.from_input(self._args.cluster.version).apply(ami_parameter)
        return aws.ssm.get_parameter_output(name=parameter, opts=pulumi.InvokeOutputOptions(parent=self)).value

    def _user_data(self, group: GpuNodeGroup) -> pulumi.Output[str]:
        c = self._args.cluster
        labels = node_labels(group)
        return pulumi.Output.all(c.name, c.endpoint, c.certificate_authority, c.service_cidr).apply(
            lambda v: base64.b64encode(_node_user_data(
                {"name": v[0], "endpoint": v[1], "certificate_authority": v[2], "service_cidr": v[3]},
                labels).encode()).decode())

    def _create_launch_template(self, group: GpuNodeGroup) -> aws.ec2.LaunchTemplate:
        args, cfg = self._args, self._args.config
        launched_tags = {**args.tags, "Name": f"{args.prefix}-gpu-{group.name}"}
        security_groups = pulumi.Output.all(args.cluster.security_group_id, *cfg.security_group_ids)
        return aws.ec2.LaunchTemplate(
            f"{self._name}-gpu-{group.name}-launch-template",
            name_prefix=f"{args.prefix}-gpu-{group.name}-",
            image_id=self._image,
            user_data=self._user_data(group),
            iam_instance_profile={"arn": args.instance_profile_arn},
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": IMDS_HOP_LIMIT,
                              "instance_metadata_tags": "disabled"},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "encrypted": "true", "kms_key_id": args.key_arn, "volume_size": cfg.root_volume_gb,
                "volume_type": "gp3", "delete_on_termination": "true"}}],
            network_interfaces=[{"device_index": 0, "associate_public_ip_address": "false",
                                 "security_groups": security_groups, "delete_on_termination": "true"}],
            monitoring={"enabled": True},
            tag_specifications=[{"resource_type": kind, "tags": launched_tags} for kind in ("instance", "volume")],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_group(self, group: GpuNodeGroup, template: aws.ec2.LaunchTemplate) -> aws.autoscaling.Group:
        args, cfg = self._args, self._args.config
        cluster_tags = pulumi.Output.from_input(args.cluster.name).apply(lambda n: autoscaler_tags(n, group))
        tags = cluster_tags.apply(lambda ct: [
            {"key": k, "value": v, "propagate_at_launch": not k.startswith(("k8s.io/cluster-autoscaler/",
                                                                              NTH_MANAGED_TAG))}
            for k, v in sorted({**args.tags, **ct}.items())])
        return aws.autoscaling.Group(
            f"{self._name}-gpu-{group.name}",
            # A fixed name (IAM policies and the event rule scope to it): replace by delete-then-create.
            name=group_name(args.prefix, group),
            min_size=group.min_size,
            max_size=group.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            capacity_rebalance=True,
            # The termination handler completes the hook once the node is drained.
            initial_lifecycle_hooks=[{"name": "drain-before-terminate", "default_result": "CONTINUE",
                                      "heartbeat_timeout": 300,
                                      "lifecycle_transition": "autoscaling:EC2_INSTANCE_TERMINATING"}],
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": cfg.on_demand_base_capacity,
                    "on_demand_percentage_above_base_capacity": 0,
                    "spot_allocation_strategy": cfg.spot_allocation_strategy,
                },
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": template.id, "version": "$Latest"},
                    "overrides": [{"instance_type": t} for t in group.instance_types],
                },
            },
            tags=tags,
            # desired_capacity is left unset: the cluster autoscaler owns it, `up` never resets it.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

    def _create_interruption_handling(self) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        names = [group_name(args.prefix, g) for g in args.config.node_groups]
        self.queue = aws.sqs.Queue(f"{self._name}-interruptions", message_retention_seconds=300,
                                   kms_master_key_id=args.key_arn, opts=child)
        lifecycle = aws.cloudwatch.EventRule(
            f"{self._name}-gpu-lifecycle", description="Termination of the GPU pool's nodes (drain first)",
            event_pattern=json.dumps(lifecycle_event_pattern(names)), opts=child)
        ec2_events = aws.cloudwatch.EventRule(
            f"{self._name}-ec2-interruptions", description="Spot interruptions, rebalance and state changes",
            event_pattern=json.dumps(ec2_event_pattern()), opts=child)
        aws.sqs.QueuePolicy(
            f"{self._name}-interruptions-policy", queue_url=self.queue.url,
            policy=pulumi.Output.all(self.queue.arn, lifecycle.arn, ec2_events.arn).apply(
                lambda v: json.dumps(_queue_policy(v[0], list(v[1:])))), opts=child)
        for rule, label in ((lifecycle, "lifecycle"), (ec2_events, "ec2")):
            aws.cloudwatch.EventTarget(f"{self._name}-{label}-to-queue", rule=rule.name, arn=self.queue.arn,
                                       opts=child)
        # People hear about the pool's nodes only (the rule is scoped to its groups).
        aws.cloudwatch.EventTarget(f"{self._name}-gpu-lifecycle-alert", rule=lifecycle.name,
                                   arn=args.alerts_topic_arn, opts=child)
        self.queue_url, self.queue_arn = self.queue.url, self.queue.arn
