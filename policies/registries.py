"""Registry and SageMaker rules: ECR repositories and policies, SageMaker endpoints, models, notebooks.

Example:
    >>> list(check_ecr_immutable_tags(ECR_REPOSITORY, {"imageTagMutability": "IMMUTABLE"}, None))
    []
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from .core import Context, Note, ResourceRule, Severity
from .documents import public_allows
from .values import (
    UNKNOWN,
    as_list,
    falsy,
    get,
    truthy,
)

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_POLICIES = ["aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:ecr/registryPolicy:RegistryPolicy"]
ENDPOINT_CONFIGURATION = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
MODEL = "aws:sagemaker/model:Model"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"


def check_ecr_immutable_tags(resource_type: str, props: Mapping[str, Any], ctx: Context | None) -> Iterator[Any]:
    mutability = props.get("imageTagMutability")
    if mutability is UNKNOWN:
        yield Note("imageTagMutability is not known yet")
    elif not (isinstance(mutability, str) and mutability.startswith("IMMUTABLE")):  # IMMUTABLE_WITH_EXCLUSION too
        yield f"imageTagMutability is {mutability or 'MUTABLE (default)'}; set IMMUTABLE so tags cannot be overwritten"


def check_ecr_scan_on_push(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    scan = get(props, "imageScanningConfiguration", "scanOnPush")
    if scan is UNKNOWN:
        yield Note("imageScanningConfiguration.scanOnPush is not known yet")
    elif not truthy(scan):
        yield "images are not scanned on push; set imageScanningConfiguration.scanOnPush=true"


def check_ecr_kms(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    configs = props.get("encryptionConfigurations")
    if configs is UNKNOWN:
        yield Note("encryptionConfigurations is not known yet")
        return
    types = [get(c, "encryptionType") for c in as_list(configs)]
    if UNKNOWN in types:
        yield Note("encryptionType is not known yet")
    elif not any(t in ("KMS", "KMS_DSSE") for t in types):  # DSSE: dual-layer KMS encryption
        yield "repository is encrypted with AES256 (default); set encryptionType KMS with a customer-managed key"


def check_ecr_no_public_policy(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in public_allows(props.get("policy"), "repository policy"):
        yield item if isinstance(item, Note) else \
            f"policy statement {item[0]} allows Principal \"*\"; name the accounts or roles"


def check_sagemaker_endpoint_kms(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    key = props.get("kmsKeyArn")
    if key is UNKNOWN:
        yield Note("kmsKeyArn is not known yet")
    elif not key:
        yield "kmsKeyArn is not set; the endpoint's storage volumes are not encrypted with your key"


def check_sagemaker_model_network_isolation(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    isolation = props.get("enableNetworkIsolation")
    if isolation is UNKNOWN:
        yield Note("enableNetworkIsolation is not known yet")
    elif not truthy(isolation):
        yield "enableNetworkIsolation is not true; the model container can reach the network"


def check_sagemaker_notebook_hardened(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    expectations = [
        ("directInternetAccess", "Disabled", "direct internet access is enabled (default); set directInternetAccess "
                                             "'Disabled' with a subnetId"),
        ("rootAccess", "Disabled", "root access is enabled (default); set rootAccess 'Disabled'"),
    ]
    for key, wanted, message in expectations:
        value = props.get(key)
        if value is UNKNOWN:
            yield Note(f"{key} is not known yet")
        elif value != wanted:
            yield message
    kms = props.get("kmsKeyId")
    if kms is UNKNOWN:
        yield Note("kmsKeyId is not known yet")
    elif not kms:
        yield "kmsKeyId is not set; the notebook volume is not encrypted with your key"


def check_sagemaker_endpoint_safe_rollout(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    deployment = props.get("deploymentConfig")
    if deployment is UNKNOWN:
        yield Note("deploymentConfig is not known yet")
        return
    updates = [get(deployment, "blueGreenUpdatePolicy"), get(deployment, "rollingUpdatePolicy")]
    if not any(updates) and UNKNOWN in updates:  # UNKNOWN is falsy: not known yet is not "no policy"
        yield Note("deploymentConfig update policy is not known yet")
    elif not any(updates):
        yield "no blue/green (or rolling) deploymentConfig; updates replace all instances at once"
    alarms = get(deployment, "autoRollbackConfiguration", "alarms")
    if alarms is UNKNOWN:
        yield Note("autoRollbackConfiguration.alarms is not known yet")
    elif not as_list(alarms):
        yield "no autoRollbackConfiguration alarms; a bad model version is not rolled back automatically"


def check_sagemaker_endpoint_data_capture(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    capture = props.get("dataCaptureConfig")
    if capture is UNKNOWN:
        yield Note("dataCaptureConfig is not known yet")
        return
    if not capture:
        yield "no dataCaptureConfig; Model Monitor has no captured requests to compare with the baseline"
        return
    enabled = get(capture, "enableCapture")
    percentage = get(capture, "initialSamplingPercentage")
    if enabled is UNKNOWN or percentage is UNKNOWN:
        yield Note("dataCaptureConfig values are not known yet")
    elif enabled is None:  # the provider's default is false: a config without the flag captures nothing
        yield "data capture is switched off (enableCapture is not set, and it defaults to false)"
    elif falsy(enabled) or percentage in (0, "0"):
        yield "data capture is switched off (enableCapture false or 0% sampling)"


POLICIES = [
    ResourceRule(
        "ecr-immutable-tags",
        "ECR repositories have immutable image tags.",
        check=check_ecr_immutable_tags, resource_types=[ECR_REPOSITORY], concern="registries",
        severity=Severity.MEDIUM, mirrors=["CKV_AWS_51", "AWS-0031"],
        remediation="Set imageTagMutability='IMMUTABLE' and tag images with the commit or model version.",
    ),
    ResourceRule(
        "ecr-scan-on-push",
        "ECR repositories scan images on push.",
        check=check_ecr_scan_on_push, resource_types=[ECR_REPOSITORY], concern="registries",
        severity=Severity.MEDIUM, mirrors=["CKV_AWS_163", "AWS-0030"],
        remediation="Set imageScanningConfiguration={'scanOnPush': True}.",
    ),
    ResourceRule(
        "ecr-kms",
        "ECR repositories are encrypted with KMS.",
        check=check_ecr_kms, resource_types=[ECR_REPOSITORY], concern="registries", severity=Severity.LOW,
        mirrors=["CKV_AWS_136", "AWS-0033"],
        remediation="Set encryptionConfigurations=[{'encryptionType': 'KMS', 'kmsKey': <key arn>}].",
    ),
    ResourceRule(
        "ecr-no-public-policy",
        "ECR repository and registry policies never allow Principal \"*\".",
        check=check_ecr_no_public_policy, resource_types=ECR_POLICIES, concern="registries",
        severity=Severity.CRITICAL, mirrors=["CKV_AWS_32"],
        remediation="Grant pull/push to named account or role ARNs only.",
    ),
    ResourceRule(
        "sagemaker-endpoint-kms",
        "SageMaker endpoint configurations encrypt their storage with a KMS key.",
        check=check_sagemaker_endpoint_kms, resource_types=[ENDPOINT_CONFIGURATION], concern="registries",
        severity=Severity.HIGH, mirrors=["CKV_AWS_98"],
        remediation="Set kmsKeyArn on the aws.sagemaker.EndpointConfiguration.",
    ),
    ResourceRule(
        "sagemaker-model-network-isolation",
        "SageMaker models run with network isolation.",
        check=check_sagemaker_model_network_isolation, resource_types=[MODEL], concern="registries",
        severity=Severity.MEDIUM, mirrors=["CKV_AWS_370"],
        remediation="Set enableNetworkIsolation=True on the aws.sagemaker.Model.",
    ),
    ResourceRule(
        "sagemaker-notebook-hardened",
        "SageMaker notebooks have no direct internet access, no root access, and a KMS key.",
        check=check_sagemaker_notebook_hardened, resource_types=[NOTEBOOK], concern="registries",
        severity=Severity.HIGH, mirrors=["CKV_AWS_122", "CKV_AWS_187", "CKV_AWS_307", "CKV_AWS_22"],
        remediation="Set directInternetAccess='Disabled' (with subnetId), rootAccess='Disabled' and kmsKeyId.",
    ),
    ResourceRule(
        "sagemaker-endpoint-safe-rollout",
        "SageMaker endpoints roll out blue/green with automatic rollback alarms.",
        check=check_sagemaker_endpoint_safe_rollout, resource_types=[ENDPOINT], concern="registries",
        severity=Severity.MEDIUM, mirrors=["deployment guardrails"],
        remediation="Set deploymentConfig with blueGreenUpdatePolicy (canary or linear traffic shifting) and "
                    "autoRollbackConfiguration.alarms naming CloudWatch alarms on errors/latency.",
    ),
    ResourceRule(
        "sagemaker-endpoint-data-capture",
        "SageMaker endpoint configurations capture request/response data for monitoring.",
        check=check_sagemaker_endpoint_data_capture, resource_types=[ENDPOINT_CONFIGURATION],
        concern="registries", severity=Severity.LOW, mirrors=["Model Monitor"],
        remediation="Set dataCaptureConfig with enableCapture=True, initialSamplingPercentage>0, an S3 "
                    "destination and a KMS key.",
    ),
]
