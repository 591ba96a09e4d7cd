"""AuditTrail: the CloudTrail trail the auditor reads (KMS-encrypted, log file validation, every region).

Log files go to the access-logs bucket under ``cloudtrail/`` (its policy admits exactly this
trail), encrypted with the platform key; management events everywhere plus S3 data events
on the models bucket (who read or overwrote a registered model).
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.storage import TRAIL_PREFIX


def trail_name(prefix: str) -> str:
    """Physical name of the stack's trail (the key and bucket policies name its ARN before it exists)."""
    return f"{prefix}-audit"


@dataclass
class AuditTrailArgs:
    """Inputs of :class:`AuditTrail`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    bucket: pulumi.Input[str]
    """Bucket the log files go to (the access-logs bucket)."""
    bucket_policy: pulumi.Resource
    """That bucket's policy: CloudTrail checks it when the trail is created."""
    key_arn: pulumi.Input[str]
    """The platform key (its policy lets this trail encrypt)."""
    models_bucket_arn: pulumi.Input[str]
    """Data events of this bucket are recorded."""


class AuditTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail trail with log file validation, SSE-KMS log files.

    Example:
        >>> trail = AuditTrail("modelway-prod", AuditTrailArgs(...))   # doctest: +SKIP
        >>> trail.trail_arn                                            # doctest: +SKIP
    """

    trail_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:audit:AuditTrail", name, None, opts)
        trail = aws.cloudtrail.Trail(
            f"{name}-trail", name=trail_name(args.prefix), s3_bucket_name=args.bucket, s3_key_prefix=TRAIL_PREFIX,
            kms_key_id=args.key_arn, enable_log_file_validation=True, is_multi_region_trail=True,
            include_global_service_events=True,
            event_selectors=[{"read_write_type": "All", "include_management_events": True,
                              "data_resources": [{"type": "AWS::S3::Object",
                                                  "values": [pulumi.Output.concat(args.models_bucket_arn, "/")]}]}],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, depends_on=[args.bucket_policy]))
        self.trail_arn = trail.arn
        self.register_outputs({"trail_arn": self.trail_arn})
