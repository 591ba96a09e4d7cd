"""Observability rules: CloudWatch log groups (retention, KMS) and SNS topics (KMS).

Example:
    >>> list(check_sns_kms("aws:sns/topic:Topic", {"kmsMasterKeyId": "alias/alerts"}, None))
    []
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from .core import Context, Note, ResourceRule, Severity
from .values import UNKNOWN, to_int

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SNS_TOPIC = "aws:sns/topic:Topic"


def check_logs_retention(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    days = props.get("retentionInDays")
    if days is UNKNOWN:
        yield Note("retentionInDays is not known yet")
        return
    minimum = int(ctx.config["minRetentionDays"])
    if days is None:
        yield f"retentionInDays is not set; set it (≥ {minimum} days here)"
    elif to_int(days) is None:
        yield Note(f"retentionInDays {days!r} is not a number")
    elif to_int(days) != 0 and to_int(days) < minimum:  # 0 means "never expire"
        yield f"retentionInDays is {days}; keep logs at least {minimum} days"


def check_logs_kms(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    key = props.get("kmsKeyId")
    if key is UNKNOWN:
        yield Note("kmsKeyId is not known yet")
    elif not key:
        yield "kmsKeyId is not set; log data is not encrypted with your key"


def check_sns_kms(resource_type: str, props: Mapping[str, Any], ctx: Context | None) -> Iterator[Any]:
    key = props.get("kmsMasterKeyId")
    if key is UNKNOWN:
        yield Note("kmsMasterKeyId is not known yet")
    elif not key:
        yield "kmsMasterKeyId is not set; messages are not encrypted at rest with your key"


POLICIES = [
    ResourceRule(
        "logs-retention",
        "CloudWatch log groups have a retention period (≥ 365 days in prod).",
        check=check_logs_retention, resource_types=[LOG_GROUP], concern="observability", severity=Severity.LOW,
        mirrors=["CKV_AWS_66", "CKV_AWS_338"],
        params={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 365,
                                     "description": "Smallest acceptable retentionInDays (0 = never expire is fine)."}},
        remediation="Set retentionInDays (365 or more in prod).",
    ),
    ResourceRule(
        "logs-kms",
        "CloudWatch log groups are encrypted with a KMS key.",
        check=check_logs_kms, resource_types=[LOG_GROUP], concern="observability", severity=Severity.LOW,
        mirrors=["CKV_AWS_158"],
        remediation="Set kmsKeyId to a KMS key whose policy allows the logs.<region>.amazonaws.com principal.",
    ),
    ResourceRule(
        "sns-kms",
        "SNS topics are encrypted with a KMS key.",
        check=check_sns_kms, resource_types=[SNS_TOPIC], concern="observability", severity=Severity.LOW,
        mirrors=["CKV_AWS_26"], remediation="Set kmsMasterKeyId on the aws.sns.Topic.",
    ),
]
