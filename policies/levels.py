"""The one map of default enforcement levels (the ``prod`` levels of POLICY_CATALOG.md).

Per-environment changes live in ``policies/config.<env>.json``; ``dev`` may downgrade a
mandatory rule to advisory, nothing is ever disabled.

Example:
    >>> DEFAULT_LEVELS["kms-key-rotation"].value
    'mandatory'
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

DEFAULT_LEVELS: dict[str, EnforcementLevel] = {
    # storage
    "s3-encryption-cmk": MANDATORY,
    "s3-public-access-blocked": MANDATORY,
    "s3-no-public-acl": MANDATORY,
    "s3-tls-only": MANDATORY,
    "s3-versioning": MANDATORY,
    "s3-access-logging": ADVISORY,
    "s3-lifecycle-tiering": ADVISORY,
    "kms-key-rotation": MANDATORY,
    "kms-no-public-principal": MANDATORY,
    # identity
    "iam-no-admin-wildcard": MANDATORY,
    "iam-no-service-wildcard-on-all": MANDATORY,
    "iam-no-admin-managed-policy": MANDATORY,
    "iam-trust-not-public": MANDATORY,
    "iam-passrole-scoped": MANDATORY,
    # compute
    "ec2-imdsv2-required": MANDATORY,
    "ec2-imds-hop-limit": ADVISORY,
    "ec2-ebs-encrypted": MANDATORY,
    "ec2-no-public-ip": MANDATORY,
    "ec2-no-secrets-in-user-data": MANDATORY,
    "gpu-pool-spot": ADVISORY,
    "gpu-pool-scale-to-zero": ADVISORY,
    "gpu-pool-homogeneous": MANDATORY,
    "eks-secrets-encryption": MANDATORY,
    "eks-no-open-public-endpoint": MANDATORY,
    "eks-control-plane-logging": ADVISORY,
    # registries and SageMaker
    "ecr-immutable-tags": MANDATORY,
    "ecr-scan-on-push": MANDATORY,
    "ecr-kms": ADVISORY,
    "ecr-no-public-policy": MANDATORY,
    "sagemaker-endpoint-kms": MANDATORY,
    "sagemaker-model-network-isolation": ADVISORY,
    "sagemaker-notebook-hardened": MANDATORY,
    "sagemaker-endpoint-safe-rollout": ADVISORY,
    "sagemaker-endpoint-data-capture": ADVISORY,
    # observability
    "logs-retention": ADVISORY,
    "logs-kms": ADVISORY,
    "sns-kms": ADVISORY,
    # kubernetes
    "k8s-rbac-no-wildcards": MANDATORY,
    "k8s-no-cluster-admin-binding": MANDATORY,
    "k8s-rbac-no-escalation-verbs": MANDATORY,
    "k8s-no-privileged": MANDATORY,
    "k8s-run-as-non-root": ADVISORY,
    "k8s-resource-limits": ADVISORY,
    "k8s-no-latest-tag": MANDATORY,  # prod: pinned by digest (config requireDigest); dev downgrades
    "k8s-no-host-path": MANDATORY,
    "k8s-gpu-quota": MANDATORY,
    "k8s-namespace-quota": MANDATORY,
    # tagging and cost
    "required-tags": MANDATORY,
    "budget-exists": ADVISORY,
    # ML governance
    "model-registry-per-model": MANDATORY,
    "pipeline-has-quality-gate": MANDATORY,
    "prod-requires-manual-approval": MANDATORY,
    "pipeline-steps-use-stack-role-and-kms": MANDATORY,
    # operability: lessons of a real `pulumi up` (issue 12)
    "kms-key-policy-principals-exist": MANDATORY,
    "s3-lifecycle-transitions-valid": MANDATORY,
    "k8s-provider-explicit-kubeconfig": MANDATORY,
    "eks-pods-no-node-role": MANDATORY,
    "k8s-namespace-egress-data-plane": MANDATORY,
    "gpu-pool-cluster-addons": MANDATORY,
}
