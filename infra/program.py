"""Compose the platform from one PlatformConfig and export the StackOutputs contract."""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.compute import GpuSpotPool, GpuSpotPoolArgs
from infra.identity import HUMAN_PERSONAS, AccessRoles, AccessRolesArgs
from infra.observability import Observability, ObservabilityArgs
from infra.registries import Registries, RegistriesArgs
from infra.stack_config import load_platform_config
from infra.storage import EncryptedStorage, EncryptedStorageArgs
from infra.tenancy import KubernetesTenancy, KubernetesTenancyArgs
from modelway.contracts.platform_config import PlatformConfig
from modelway.contracts.stack_outputs import StackOutputs


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

    storage = EncryptedStorage(prefix, EncryptedStorageArgs(
        prefix=prefix, account_id=account_id, partition=partition, region=region, config=cfg.storage), opts)
    observability = Observability(prefix, ObservabilityArgs(
        prefix=prefix, environment=cfg.environment, account_id=account_id, key_arn=storage.key_arn,
        config=cfg.observability), opts)
    registries = Registries(prefix, RegistriesArgs(
        prefix=prefix, account_id=account_id, partition=partition, key_arn=storage.key_arn,
        artifacts_bucket=storage.bucket_names["artifacts"], config=cfg.registries), opts)
    roles = AccessRoles(prefix, AccessRolesArgs(
        prefix=prefix, account_id=account_id, partition=partition, region=region, key_arn=storage.key_arn,
        bucket_arns=storage.bucket_arns, repository_arns=registries.repository_arns,
        model_families=list(cfg.registries.model_families), log_group_arns=observability.log_group_arns,
        metrics_namespace=cfg.observability.metrics_namespace, config=cfg.identity), opts)

    asg_name = None
    if cfg.gpu_pool.enabled:
        pool = GpuSpotPool(prefix, GpuSpotPoolArgs(
            prefix=prefix, config=cfg.gpu_pool, key_arn=storage.key_arn,
            instance_profile_arn=roles.gpu_node_instance_profile_arn,
            alerts_topic_arn=observability.alerts_topic_arn, tags=cfg.default_tags,
            cluster_name=cfg.kubernetes.cluster_name), opts)
        asg_name = pool.asg_name

    namespaces = None
    if cfg.kubernetes.enabled:
        tenancy = KubernetesTenancy(prefix, KubernetesTenancyArgs(
            prefix=prefix, config=cfg.kubernetes,
            persona_role_arns={p: roles.role_arns[p] for p in HUMAN_PERSONAS},
            gpu_node_role_arn=roles.gpu_node_role_arn if cfg.gpu_pool.enabled else None), opts)
        namespaces = tenancy.namespaces

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
        "gpu_pool_asg_name": asg_name,
        "kubernetes_namespaces": namespaces,
    }
    # The contract is the model: exporting anything else (or less) is a bug here, not downstream.
    mismatch = sorted(set(outputs) ^ set(StackOutputs.model_fields))
    if mismatch:
        raise RuntimeError(f"stack outputs differ from StackOutputs fields: {', '.join(mismatch)}")
    return outputs


def main() -> None:
    """Entry point of the Pulumi program: config first, then resources, then exports."""
    cfg = load_platform_config()  # fails with one line before any resource is declared
    for key, value in build(cfg).items():
        pulumi.export(key, value)
