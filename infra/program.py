"""Compose the platform from one PlatformConfig and export the StackOutputs contract."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.addons import ClusterAddons, ClusterAddonsArgs
from infra.audit import AuditTrail, AuditTrailArgs, trail_name
from infra.cluster import EksCluster, EksClusterArgs
from infra.compute import NODE_TAINT, POOL_LABEL, GpuSpotPool, GpuSpotPoolArgs, group_name
from infra.identity import (
    WORKLOAD_SERVICE_ACCOUNT,
    AccessRoles,
    AccessRolesArgs,
    autoscaling_service_role,
)
from infra.network import Network, NetworkArgs
from infra.observability import Observability, ObservabilityArgs
from infra.pipelines import SageMakerPipelines, SageMakerPipelinesArgs
from infra.registries import Registries, RegistriesArgs, tracking_server_name
from infra.stack_config import load_platform_config
from infra.storage import EncryptedStorage, EncryptedStorageArgs
from infra.tenancy import PERSONA_RULES, KubernetesTenancy, KubernetesTenancyArgs
from modelway.contracts.platform_config import IMAGE_USES, PlatformConfig
from modelway.contracts.platform_metrics import endpoint_name
from modelway.contracts.stack_outputs import StackOutputs


def cluster_name_of(cfg: PlatformConfig, prefix: str) -> str | None:
    """The EKS cluster's name: the existing one named in config, or the one the stack creates."""
    if cfg.cluster.mode == "existing":
        return cfg.cluster.name
    return prefix if cfg.cluster.mode == "create" else None


def build(cfg: PlatformConfig) -> dict[str, pulumi.Input[object]]:
    """Declare every component for ``cfg`` and return the stack outputs (keys = StackOutputs fields)."""
    prefix = f"modelway-{cfg.environment}"
    # One explicit provider carries the default tags, so every AWS resource is tagged
    # (and the rendered program shows it); components inherit it through `providers`.
    provider = aws.Provider(f"{prefix}-aws", region=cfg.region, default_tags={"tags": cfg.default_tags})
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    invoke = pulumi.InvokeOutputOptions(provider=provider)
    account_id = aws.get_caller_identity_output(opts=invoke).account_id
    partition = aws.get_partition_output(opts=invoke).partition
    region = aws.get_region_output(opts=invoke).region
    cluster_name = cluster_name_of(cfg, prefix)
    trail_arn = None
    if cfg.audit.cloudtrail:
        trail_arn = pulumi.Output.all(partition, region, account_id).apply(
            lambda v: f"arn:{v[0]}:cloudtrail:{v[1]}:{v[2]}:trail/{trail_name(prefix)}")

    # The key policy names the Auto Scaling service-linked role: it must exist before the key.
    autoscaling_role = (autoscaling_service_role(prefix, cfg.gpu_pool.autoscaling_service_role, opts, invoke)
                        if cfg.gpu_pool.enabled else None)
    storage = EncryptedStorage(prefix, EncryptedStorageArgs(
        prefix=prefix, account_id=account_id, partition=partition, region=region, config=cfg.storage,
        autoscaling_role_arn=autoscaling_role, trail_arn=trail_arn), opts)
    trail = None
    if cfg.audit.cloudtrail:
        trail = AuditTrail(prefix, AuditTrailArgs(
            prefix=prefix, bucket=storage.bucket_names["access-logs"], bucket_policy=storage.logs_bucket_policy,
            key_arn=storage.key_arn, models_bucket_arn=storage.bucket_arns["models"]), opts)
    observability = Observability(prefix, ObservabilityArgs(
        prefix=prefix, environment=cfg.environment, account_id=account_id, key_arn=storage.key_arn,
        config=cfg.observability, model_families=list(cfg.registries.model_families)), opts)
    registries = Registries(prefix, RegistriesArgs(
        prefix=prefix, account_id=account_id, partition=partition, key_arn=storage.key_arn, region=region,
        artifacts_bucket=storage.bucket_names["artifacts"], config=cfg.registries), opts)
    teams = tuple(cfg.kubernetes.teams) if cluster_name else ()
    roles = AccessRoles(prefix, AccessRolesArgs(
        prefix=prefix, account_id=account_id, partition=partition, region=region, key_arn=storage.key_arn,
        bucket_arns=storage.bucket_arns, repository_arns=registries.repository_arns,
        model_families=list(cfg.registries.model_families), log_group_arns=observability.log_group_arns,
        metrics_namespace=cfg.observability.metrics_namespace, config=cfg.identity,
        cluster_name=cluster_name, teams=teams,
        tracking_server_name=tracking_server_name(prefix) if cfg.registries.mlflow_tracking_server else None,
        trail_name=trail_name(prefix) if cfg.audit.cloudtrail else None), opts)

    cluster_outputs: dict[str, pulumi.Input[object]] = {}
    if cluster_name is not None:
        cluster_outputs = _kubernetes_platform(cfg, prefix, cluster_name, opts, region, partition, account_id,
                                               storage, observability, roles)

    artifacts = storage.bucket_names["artifacts"]
    outputs: dict[str, pulumi.Input[object]] = {
        "environment": cfg.environment,
        "region": region,
        "account_id": account_id,
        "kms_key_arn": storage.key_arn,
        "buckets": {tier.replace("-", "_"): name for tier, name in storage.bucket_names.items()},
        "roles": {role.replace("-", "_"): arn for role, arn in roles.role_arns.items()},
        "ecr_repository_urls": registries.repository_urls,
        "model_package_groups": registries.model_package_group_names,
        "model_approval_status": cfg.registries.model_approval_status,
        "alerts_topic_arn": observability.alerts_topic_arn,
        "tracking_server_uri": registries.tracking_server_uri,
        "gpu_pool_asg_name": None,
        "kubernetes_namespaces": None,
        "cluster_name": None,
        "cluster_endpoint": None,
        "workload_role_arns": roles.workload_role_arns,
        "workload_service_account": WORKLOAD_SERVICE_ACCOUNT if cluster_name else None,
        "tracking_server_arn": registries.tracking_server_arn,
        "image_repositories": {use: registries.repository_urls[use] for use in IMAGE_USES},
        "checkpoints_uri": pulumi.Output.concat("s3://", artifacts, "/checkpoints/"),
        "metrics_namespace": cfg.observability.metrics_namespace,
        "alarm_names": observability.alarm_names,
        "endpoint_names": {family: endpoint_name(prefix, family) for family in cfg.registries.model_families},
        "gpu_node_groups": {},
        "gpu_node_selector": {},
        "gpu_toleration": None,
        "spot_priority_class": None,
        "audit_trail_arn": trail.trail_arn if trail else None,
        "training_subnet_ids": [],
        "training_security_group_ids": [],
        **cluster_outputs,
    }
    # The contract is the model: exporting anything else (or less) is a bug here, not downstream.
    mismatch = sorted(set(outputs) ^ set(StackOutputs.model_fields))
    if mismatch:
        raise RuntimeError(f"stack outputs differ from StackOutputs fields: {', '.join(mismatch)}")
    if cfg.pipelines and "training" in registries.repository_urls:
        # compiled against the very outputs above: the steps' containers read them back
        SageMakerPipelines(prefix, SageMakerPipelinesArgs(
            prefix=prefix, stack=pulumi.get_stack(), deployments=list(cfg.pipelines), outputs=outputs,
            training_repository=f"{prefix}/training", training_repository_url=registries.repository_urls["training"]),
            opts)
    return outputs


def _kubernetes_platform(cfg: PlatformConfig, prefix: str, cluster_name: str, opts: pulumi.ResourceOptions,
                         region: pulumi.Output[str], partition: pulumi.Output[str], account_id: pulumi.Output[str],
                         storage: EncryptedStorage, observability: Observability,
                         roles: AccessRoles) -> dict[str, pulumi.Input[object]]:
    """Network, cluster, GPU pool, add-ons and tenancy; returns the cluster-related stack outputs."""
    network = Network(prefix, NetworkArgs(prefix=prefix, config=cfg.network, region=region,
                                          cluster_name=cluster_name), opts)
    cluster = EksCluster(prefix, EksClusterArgs(
        prefix=prefix, config=cfg.cluster, region=region, partition=partition, subnet_ids=network.private_subnet_ids,
        key_arn=storage.key_arn, log_retention_days=cfg.observability.log_retention_days), opts)
    outputs: dict[str, pulumi.Input[object]] = {"cluster_name": cluster.name, "cluster_endpoint": cluster.endpoint,
                                                "training_subnet_ids": network.private_subnet_ids,
                                                "training_security_group_ids": [network.jobs_security_group_id]}

    if cfg.gpu_pool.enabled:
        pool = GpuSpotPool(prefix, GpuSpotPoolArgs(
            prefix=prefix, config=cfg.gpu_pool, cluster=cluster.join, subnet_ids=network.private_subnet_ids,
            key_arn=storage.key_arn, instance_profile_arn=roles.gpu_node_instance_profile_arn,
            alerts_topic_arn=observability.alerts_topic_arn, tags=cfg.default_tags), opts)
        ClusterAddons(prefix, ClusterAddonsArgs(
            prefix=prefix, config=cfg.cluster.addons, provider=cluster.provider, cluster_name=cluster.name,
            region=region, partition=partition, account_id=account_id,
            group_names=[group_name(prefix, g) for g in cfg.gpu_pool.node_groups],
            queue_url=pool.queue_url, queue_arn=pool.queue_arn, key_arn=storage.key_arn), opts)
        first = cfg.gpu_pool.node_groups[0].name
        outputs.update({
            "gpu_pool_asg_name": pool.group_names[first],
            "gpu_node_groups": pool.group_names,
            "gpu_node_selector": {POOL_LABEL[0]: POOL_LABEL[1]},
            "gpu_toleration": {"key": NODE_TAINT[0], "operator": "Equal", "value": NODE_TAINT[1],
                               "effect": NODE_TAINT[2]},
        })

    tenancy = KubernetesTenancy(prefix, KubernetesTenancyArgs(
        prefix=prefix, config=cfg.kubernetes, provider=cluster.provider, cluster_name=cluster.name,
        persona_role_arns={p: roles.role_arns[p] for p in PERSONA_RULES},
        workload_role_arns=roles.workload_role_arns, vpc_cidr=network.cidr_block, s3_cidrs=network.s3_cidrs,
        gpu_node_role_arn=roles.gpu_node_role_arn if cfg.gpu_pool.enabled else None), opts)
    outputs.update({"kubernetes_namespaces": tenancy.namespaces,
                    "spot_priority_class": tenancy.priority_class_name})
    return outputs


def main() -> None:
    """Entry point of the Pulumi program: config first, then resources, then exports."""
    cfg = load_platform_config()  # fails with one line before any resource is declared
    for key, value in build(cfg).items():
        pulumi.export(key, value)
