"""Metrics reach CloudWatch as custom metrics; an alert reaches the stack's SNS topic (read back through SQS)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from modelway.backends.mapping import backends_for
from modelway.backends.stack import resolve_stack


@pytest.fixture
def backends(moto_stack):
    return backends_for(resolve_stack(None, moto_stack.outputs_file))


def test_metrics_reach_cloudwatch_with_model_dimensions(backends, moto_stack):
    sink = backends.metrics_sink(namespace="Modelway/Test")
    assert sink.put({"roc_auc": 0.81, "drift_psi": 0.04}, model="credit-risk", version="1.0.0") == 2
    cloudwatch = moto_stack.client("cloudwatch")
    names = {m["MetricName"]: m for m in cloudwatch.list_metrics(Namespace="Modelway/Test")["Metrics"]}
    assert set(names) == {"roc_auc", "drift_psi"}
    assert {"Name": "Environment", "Value": "dev"} in names["roc_auc"]["Dimensions"]
    stats = cloudwatch.get_metric_statistics(
        Namespace="Modelway/Test", MetricName="roc_auc", Dimensions=names["roc_auc"]["Dimensions"],
        StartTime=datetime.now(timezone.utc) - timedelta(minutes=5), EndTime=datetime.now(timezone.utc) + timedelta(minutes=1),
        Period=60, Statistics=["Maximum"])
    assert [p["Maximum"] for p in stats["Datapoints"]] == [0.81]


def test_non_finite_metric_is_refused(backends):
    with pytest.raises(ValueError, match="finite numbers only"):
        backends.metrics_sink().put({"loss": float("nan")}, model="credit-risk")


def test_alert_reaches_the_stack_topic(backends, moto_stack):
    sqs = moto_stack.client("sqs")
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    moto_stack.client("sns").subscribe(TopicArn=moto_stack.outputs["alerts_topic_arn"], Protocol="sqs",
                                       Endpoint=queue_arn)
    backends.alerter().alert("drift", "credit-risk 1.0.0: PSI 0.31 > 0.20 on debt_to_income", severity="high",
                             details={"feature": "debt_to_income", "psi": 0.31})
    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"].startswith("[modelway dev] drift: credit-risk 1.0.0")
    body = json.loads(envelope["Message"])
    assert body["details"] == {"feature": "debt_to_income", "psi": 0.31} and body["severity"] == "high"
