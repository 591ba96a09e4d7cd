"""EncryptedStorage: the platform's customer-managed KMS key and its S3 buckets (data tiers + access logs)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import StorageConfig

# Data tiers, in the order the pipeline uses them; each gets its own bucket.
DATA_TIERS: tuple[str, ...] = ("raw-data", "features", "artifacts", "models")
MODELS_TIER = "models"
LOGS_TIER = "access-logs"

# What the account root may do to administer the key (the AWS "key administrators" set,
# spelled out so no `kms:*` appears anywhere).
_KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias",
    "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
    "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
]
_KEY_USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


@dataclass
class EncryptedStorageArgs:
    """Inputs of :class:`EncryptedStorage`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``; platform role names start with it."""
    account_id: pulumi.Input[str]
    """AWS account that owns the key."""
    partition: pulumi.Input[str]
    """AWS partition (``aws``)."""
    region: pulumi.Input[str]
    """Region of the key (for service principals such as CloudWatch Logs)."""
    config: StorageConfig
    """Retention, lifecycle and deletion settings."""
    autoscaling_role_arn: pulumi.Input[str] | None = None
    """The Auto Scaling service-linked role, when a GPU pool launches encrypted volumes with the key.
    Pass the ARN of a declared (or looked-up) role: KMS rejects a key policy naming a principal that
    does not exist yet, and taking the ARN from the resource makes the key wait for it."""
    trail_arn: pulumi.Input[str] | None = None
    """ARN of the CloudTrail trail that encrypts its log files with the key (known before the trail exists)."""


def _key_policy(account_id: str, partition: str, region: str, role_prefix: str,
                autoscaling_role_arn: str | None = None, trail_arn: str | None = None) -> dict[str, Any]:
    """Key policy: the account administers it; only this platform's roles and the AWS services it uses encrypt/decrypt.

    Every principal named here exists before the key: the account root, service principals,
    and the Auto Scaling service-linked role only when its ARN comes from a declared resource.
    In a key policy ``Resource: "*"`` means "this key" (AWS requires it there).
    """
    root = f"arn:{partition}:iam::{account_id}:root"
    statements: list[dict[str, Any]] = [
        {"Sid": "AccountAdministersKey", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": _KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "PlatformRolesUseKey", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": _KEY_USE_ACTIONS, "Resource": "*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:{partition}:iam::{account_id}:role/{role_prefix}-*"}}},
        {"Sid": "CloudWatchLogsUseKey", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": _KEY_USE_ACTIONS, "Resource": "*",
         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                   f"arn:{partition}:logs:{region}:{account_id}:log-group:*"}}},
        {"Sid": "AlertPublishersUseKey", "Effect": "Allow",
         "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
    ]
    if trail_arn is not None:
        statements.append(
            {"Sid": "CloudTrailEncryptsLogs", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                          f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"}}})
    if autoscaling_role_arn is not None:
        statements += [
            {"Sid": "AutoScalingEncryptsGpuVolumes", "Effect": "Allow", "Principal": {"AWS": autoscaling_role_arn},
             "Action": _KEY_USE_ACTIONS, "Resource": "*"},
            {"Sid": "AutoScalingGrantsForVolumes", "Effect": "Allow", "Principal": {"AWS": autoscaling_role_arn},
             "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def _data_bucket_policy(bucket_arn: str, key_arn: str, locked: bool = False) -> dict[str, Any]:
    """TLS only; objects may only be written with SSE-KMS under this stack's key; locked: no version deletes."""
    return {
        "Version": "2012-10-17",
        "Statement": ([_models_bucket_deny_deletes(bucket_arn)] if locked else []) + [
            _tls_only_statement(bucket_arn),
            {"Sid": "DenyNonKmsEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": f"{bucket_arn}/*",
             # Null=false: only when the header is sent; the default encryption covers the rest.
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                           "Null": {"s3:x-amz-server-side-encryption": "false"}}},
            {"Sid": "DenyOtherKmsKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": f"{bucket_arn}/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                           "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}}},
        ],
    }


TRAIL_PREFIX = "cloudtrail"


def _logs_bucket_policy(bucket_arn: str, account_id: str, source_bucket_arns: list[str],
                        trail_arn: str | None = None) -> dict[str, Any]:
    """TLS only; S3 server access logging (a service principal, not "*") may write under its prefixes;
    the stack's CloudTrail trail under ``cloudtrail/`` (its log files are SSE-KMS with the platform key)."""
    statements: list[dict[str, Any]] = [
        _tls_only_statement(bucket_arn),
        {"Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
         "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{bucket_arn}/*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                       "ArnLike": {"aws:SourceArn": sorted(source_bucket_arns)}}},
    ]
    if trail_arn is not None:
        only_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
        statements += [
            {"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": bucket_arn, "Condition": only_this_trail},
            {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/{TRAIL_PREFIX}/AWSLogs/{account_id}/*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                            "s3:x-amz-acl": "bucket-owner-full-control"}}},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _models_bucket_deny_deletes(bucket_arn: str) -> dict[str, Any]:
    """Registered model versions are evidence: nobody deletes a version or lifts the lock (governance
    mode would let a principal with s3:BypassGovernanceRetention do it; this closes that door too)."""
    return {"Sid": "DenyDeletingModelVersions", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "s3:PutObjectRetention"],
            "Resource": f"{bucket_arn}/*"}


class EncryptedStorage(pulumi.ComponentResource):
    """One CMK with rotation, four data buckets (SSE-KMS) and an access-logs bucket (SSE-S3).

    Example:
        >>> storage = EncryptedStorage("modelway-dev", EncryptedStorageArgs(
        ...     prefix="modelway-dev", account_id=acct, partition="aws", region="eu-west-1",
        ...     config=cfg.storage))                                  # doctest: +SKIP
        >>> storage.bucket_names["artifacts"]                         # doctest: +SKIP
    """

    key_arn: pulumi.Output[str]
    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: EncryptedStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:storage:EncryptedStorage", name, None, opts)
        self._name, self._args = name, args
        cfg = args.config
        # Data and the key that encrypts it survive `pulumi destroy` where configured (prod).
        self._keep = pulumi.ResourceOptions(parent=self, retain_on_delete=cfg.retain_on_delete,
                                            protect=cfg.retain_on_delete)
        self._versioning: dict[str, aws.s3.BucketVersioning] = {}
        self._create_key()
        self._create_logs_bucket()
        self.buckets: dict[str, aws.s3.Bucket] = {}
        for tier in DATA_TIERS:
            self.buckets[tier] = self._create_data_bucket(tier)
        self._create_logs_bucket_policy()
        self.bucket_names = {tier: bucket.bucket for tier, bucket in self.buckets.items()}
        self.bucket_names[LOGS_TIER] = self.logs_bucket.bucket
        self.bucket_arns = {tier: bucket.arn for tier, bucket in self.buckets.items()}
        self.bucket_arns[LOGS_TIER] = self.logs_bucket.arn
        self.register_outputs({"key_arn": self.key_arn, "bucket_names": self.bucket_names})

    def _create_key(self) -> None:
        args = self._args
        policy = pulumi.Output.all(args.account_id, args.partition, args.region, args.autoscaling_role_arn,
                                   args.trail_arn).apply(
            lambda v: json.dumps(_key_policy(v[0], v[1], v[2], args.prefix, v[3], v[4])))
        self.key = aws.kms.Key(
            f"{self._name}-key",
            description=f"Modelway {args.prefix}: data, artifacts, models, logs and alerts",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=args.config.kms_deletion_window_days,
            policy=policy,
            opts=self._keep,
        )
        # A fixed name: a replacement must delete the old alias first, or the create collides.
        aws.kms.Alias(f"{self._name}-key-alias", name=f"alias/{args.prefix}", target_key_id=self.key.key_id,
                      opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
        self.key_arn = self.key.arn

    def _lifecycle(self, bucket: aws.s3.Bucket, role: str) -> None:
        cfg = self._args.config
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-{role}-lifecycle",
            bucket=bucket.id,
            rules=[{
                "id": "tiering-and-cleanup",
                "status": "Enabled",
                "filter": {},
                "transitions": [
                    {"days": cfg.transition_to_ia_days, "storage_class": "STANDARD_IA"},
                    {"days": cfg.transition_to_glacier_days, "storage_class": "GLACIER_IR"},
                ],
                "noncurrent_version_expiration": {"noncurrent_days": cfg.noncurrent_version_expiration_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": cfg.abort_incomplete_multipart_days},
            }],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _harden(self, bucket: aws.s3.Bucket, role: str, sse: dict[str, Any]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # BucketOwnerEnforced disables ACLs entirely: no object can be made public by ACL.
        aws.s3.BucketOwnershipControls(f"{self._name}-{role}-ownership", bucket=bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{self._name}-{role}-public-access-block", bucket=bucket.id,
                                       block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{self._name}-{role}-encryption", bucket=bucket.id,
                                                       rules=[sse], opts=child)
        self._versioning[role] = aws.s3.BucketVersioning(
            f"{self._name}-{role}-versioning", bucket=bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=child)
        self._lifecycle(bucket, role)

    def _create_logs_bucket(self) -> None:
        self.logs_bucket = aws.s3.Bucket(f"{self._name}-{LOGS_TIER}", force_destroy=self._args.config.force_destroy,
                                         opts=self._keep)
        # AWS cannot deliver server access logs to an SSE-KMS bucket: SSE-S3 here, by design.
        self._harden(self.logs_bucket, LOGS_TIER,
                     {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}})

    def _create_data_bucket(self, tier: str) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(f"{self._name}-{tier}", force_destroy=self._args.config.force_destroy, opts=self._keep)
        self._harden(bucket, tier, {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                         "kms_master_key_id": self.key.arn},
            # Bucket keys cut KMS request costs by ~99% for object-heavy ML workloads.
            "bucket_key_enabled": True,
        })
        aws.s3.BucketLogging(f"{self._name}-{tier}-access-logging", bucket=bucket.id,
                             target_bucket=self.logs_bucket.id, target_prefix=f"{tier}/",
                             opts=pulumi.ResourceOptions(parent=self))
        locked = tier == MODELS_TIER and self._args.config.model_lock_days > 0
        aws.s3.BucketPolicy(
            f"{self._name}-{tier}-policy", bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, self.key.arn).apply(
                lambda v: json.dumps(_data_bucket_policy(v[0], v[1], locked))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if locked:
            self._lock_versions(bucket, tier)
        return bucket

    def _lock_versions(self, bucket: aws.s3.Bucket, tier: str) -> None:
        # Governance mode on a versioned bucket: every new model version is kept for N days; S3 allows
        # enabling Object Lock on an existing versioned bucket, so prod buckets need no replacement.
        aws.s3.BucketObjectLockConfiguration(
            f"{self._name}-{tier}-object-lock", bucket=bucket.id, object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": "GOVERNANCE", "days": self._args.config.model_lock_days}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._versioning[tier]]))

    def _create_logs_bucket_policy(self) -> None:
        sources = [bucket.arn for bucket in self.buckets.values()]
        policy = pulumi.Output.all(self.logs_bucket.arn, self._args.account_id, self._args.trail_arn, *sources).apply(
            lambda v: json.dumps(_logs_bucket_policy(v[0], v[1], list(v[3:]), v[2])))
        self.logs_bucket_policy = aws.s3.BucketPolicy(
            f"{self._name}-{LOGS_TIER}-policy", bucket=self.logs_bucket.id, policy=policy,
            opts=pulumi.ResourceOptions(parent=self))
