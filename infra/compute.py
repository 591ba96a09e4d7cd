"""GpuSpotPool: a spot-only GPU autoscaling group that scales to zero, and spot interruption alerts."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import GpuPoolConfig

NODE_LABELS: dict[str, str] = {"modelway.io/pool": "gpu-spot", "nvidia.com/gpu.present": "true"}
# Only pods that tolerate it (GPU training jobs) land on these expensive nodes.
NODE_TAINT = ("nvidia.com/gpu", "true", "NoSchedule")


@dataclass
class GpuSpotPoolArgs:
    """Inputs of :class:`GpuSpotPool`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    config: GpuPoolConfig
    """Instance types, sizes, AMI, subnets."""
    key_arn: pulumi.Input[str]
    """CMK for the node volumes."""
    instance_profile_arn: pulumi.Input[str]
    """Instance profile of the GPU node role."""
    alerts_topic_arn: pulumi.Input[str]
    """Where spot interruption warnings go."""
    tags: dict[str, str]
    """Tags for instances/volumes launched by the group (provider default tags do not reach them)."""
    cluster_name: str | None = None
    """EKS cluster the nodes join (user data + autoscaler discovery tags), when configured."""


def _field(value: Any, name: str) -> Any:
    # Invoke results nest typed objects, or plain dicts keyed camelCase when the engine
    # returns a shape the SDK does not re-type (e.g. under mocks).
    if isinstance(value, dict):
        camel = "".join(p if i == 0 else p.capitalize() for i, p in enumerate(name.split("_")))
        return value.get(name, value.get(camel))
    return getattr(value, name)


def _node_user_data(cluster: dict[str, Any]) -> str:
    """AL2023 nodeadm config (MIME multipart) that joins the EKS cluster with GPU labels and taint."""
    labels = ",".join(f"{k}={v}" for k, v in NODE_LABELS.items())
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
        f"      - --node-labels={labels}\n"
        f"      - --register-with-taints={taint}\n"
    )
    boundary = "MODELWAY"
    return (
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: application/node.eks.aws\n\n{node_config}\n--{boundary}--\n"
    )


def _autoscaler_tags(cluster_name: str | None) -> dict[str, str]:
    """Cluster-autoscaler discovery + node-template tags, so it can scale the group up from zero."""
    if cluster_name is None:
        return {}
    tags = {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        f"kubernetes.io/cluster/{cluster_name}": "owned",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1",
        f"k8s.io/cluster-autoscaler/node-template/taint/{NODE_TAINT[0]}": f"{NODE_TAINT[1]}:{NODE_TAINT[2]}",
    }
    tags.update({f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in NODE_LABELS.items()})
    return tags


def _spot_interruption_pattern() -> dict[str, Any]:
    return {"source": ["aws.ec2"],
            "detail-type": ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]}


class GpuSpotPool(pulumi.ComponentResource):
    """Launch template (IMDSv2, encrypted EBS, no public IP) + mixed-instances ASG: 100% spot, min 0.

    Example:
        >>> pool = GpuSpotPool("modelway-dev", GpuSpotPoolArgs(prefix="modelway-dev", config=cfg.gpu_pool,
        ...     key_arn=key_arn, instance_profile_arn=profile, alerts_topic_arn=topic, tags=tags))  # doctest: +SKIP
        >>> pool.asg_name                                                                          # doctest: +SKIP
    """

    asg_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]

    def __init__(self, name: str, args: GpuSpotPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:compute:GpuSpotPool", name, None, opts)
        self._name, self._args = name, args
        self._create_launch_template()
        self._create_group()
        self._create_interruption_alerts()
        self.register_outputs({"asg_name": self.asg_name, "launch_template_id": self.launch_template_id})

    def _image_id(self) -> pulumi.Input[str]:
        cfg = self._args.config
        if cfg.ami_id:
            return cfg.ami_id
        return aws.ssm.get_parameter_output(name=cfg.ami_ssm_parameter,
                                            opts=pulumi.InvokeOutputOptions(parent=self)).value

    def _user_data(self) -> pulumi.Input[str] | None:
        if self._args.cluster_name is None:
            return None
        cluster = aws.eks.get_cluster_output(name=self._args.cluster_name,
                                             opts=pulumi.InvokeOutputOptions(parent=self))
        return pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authorities,
                                 cluster.kubernetes_network_configs).apply(lambda v: base64.b64encode(
                                     _node_user_data({"name": v[0], "endpoint": v[1],
                                                      "certificate_authority": _field(v[2][0], "data"),
                                                      "service_cidr": _field(v[3][0], "service_ipv4_cidr")},
                                                     ).encode()).decode())

    def _create_launch_template(self) -> None:
        args, cfg = self._args, self._args.config
        launched_tags = {**args.tags, "Name": f"{args.prefix}-gpu-node"}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{self._name}-gpu-launch-template",
            name_prefix=f"{args.prefix}-gpu-",
            image_id=self._image_id(),
            user_data=self._user_data(),
            iam_instance_profile={"arn": args.instance_profile_arn},
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": cfg.imds_hop_limit,
                              "instance_metadata_tags": "disabled"},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "encrypted": "true", "kms_key_id": args.key_arn, "volume_size": cfg.root_volume_gb,
                "volume_type": "gp3", "delete_on_termination": "true"}}],
            network_interfaces=[{"device_index": 0, "associate_public_ip_address": "false",
                                 "security_groups": list(cfg.security_group_ids) or None,
                                 "delete_on_termination": "true"}],
            monitoring={"enabled": True},
            tag_specifications=[{"resource_type": kind, "tags": launched_tags} for kind in ("instance", "volume")],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.launch_template_id = self.launch_template.id

    def _create_group(self) -> None:
        args, cfg = self._args, self._args.config
        # ASG tags are a list (not a map) and provider default tags do not apply to them.
        tags = {**args.tags, **_autoscaler_tags(args.cluster_name)}
        self.group = aws.autoscaling.Group(
            f"{self._name}-gpu-pool",
            name=f"{args.prefix}-gpu-spot",
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            vpc_zone_identifiers=list(cfg.subnet_ids),
            capacity_rebalance=True,
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": cfg.on_demand_base_capacity,
                    "on_demand_percentage_above_base_capacity": 0,
                    "spot_allocation_strategy": cfg.spot_allocation_strategy,
                },
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": self.launch_template.id,
                                                      "version": "$Latest"},
                    "overrides": [{"instance_type": t} for t in cfg.instance_types],
                },
            },
            tags=[{"key": k, "value": v, "propagate_at_launch": not k.startswith("k8s.io/cluster-autoscaler/")}
                  for k, v in sorted(tags.items())],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.asg_name = self.group.name

    def _create_interruption_alerts(self) -> None:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(f"{self._name}-spot-interruption",
                                        description="Spot interruption warnings for the GPU pool",
                                        event_pattern=json.dumps(_spot_interruption_pattern()), opts=child)
        aws.cloudwatch.EventTarget(f"{self._name}-spot-interruption-alert", rule=rule.name,
                                   arn=self._args.alerts_topic_arn, opts=child)
