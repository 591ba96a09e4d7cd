"""Observability rules: log retention (per-environment minimum), log and topic encryption."""
from __future__ import annotations

from policy_helpers import assert_passes, assert_violates

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"


def test_logs_retention_prod_minimum_and_dev_override():
    assert_passes("logs-retention", LOG_GROUP, {"retentionInDays": 365})
    assert_passes("logs-retention", LOG_GROUP, {"retentionInDays": 0})  # never expire
    assert_violates("logs-retention", LOG_GROUP, {"retentionInDays": 30}, contains="365")
    assert_passes("logs-retention", LOG_GROUP, {"retentionInDays": 30}, config={"minRetentionDays": 7})
    assert_violates("logs-retention", LOG_GROUP, {}, contains="not set")


def test_logs_kms():
    assert_passes("logs-kms", LOG_GROUP, {"kmsKeyId": "arn:aws:kms:eu-west-1:1:key/k"})
    assert_violates("logs-kms", LOG_GROUP, {"retentionInDays": 365})


def test_sns_kms():
    assert_passes("sns-kms", TOPIC, {"kmsMasterKeyId": "alias/alerts"})
    assert_violates("sns-kms", TOPIC, {"name": "alerts"})
