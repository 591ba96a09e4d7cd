"""``modelway monitor`` on a stack: observations reach CloudWatch, a breach reaches the stack's SNS topic.

The sink and alerter are the monitoring protocols' AWS implementations, picked by the backend
mapping; alerts are read back through an SQS queue subscribed to the topic (real SNS fan-out in moto).
"""
from __future__ import annotations

import json

import pytest

from modelway.backends.mapping import backends_for
from modelway.backends.stack import resolve_stack
from modelway.monitoring.base import Alert, Alerter, Metric, MetricsSink


@pytest.fixture
def backends(moto_stack):
    return backends_for(resolve_stack(None, moto_stack.outputs_file))


def _inbox(moto_stack):
    """An SQS queue subscribed to the stack's alerts topic; returns a function reading the SNS envelopes."""
    sqs = moto_stack.client("sqs")
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    moto_stack.client("sns").subscribe(TopicArn=moto_stack.outputs["alerts_topic_arn"], Protocol="sqs", Endpoint=queue_arn)
    return lambda: [json.loads(m["Body"]) for m in
                    sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])]


def test_sink_and_alerter_implement_the_monitoring_protocols(backends, tmp_path):
    assert isinstance(backends.metrics_sink(tmp_path), MetricsSink)
    assert isinstance(backends.alerter(tmp_path), Alerter)


def test_metrics_reach_cloudwatch_with_labels_as_dimensions(backends, moto_stack, tmp_path):
    import time

    sink = backends.metrics_sink(tmp_path)
    now = time.time()
    sink.put([Metric("drift.psi", 0.31, {"model": "credit-risk", "feature": "age"}, now),
              Metric("drift.psi", 0.05, {"model": "credit-risk", "feature": "income"}, now),
              Metric("serving.p95_ms", 12.5, {"model": "credit-risk"}, now)])
    cloudwatch = moto_stack.client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace=sink.namespace)["Metrics"]
    age = [m for m in listed if {"Name": "feature", "Value": "age"} in m["Dimensions"]]
    assert age and {"Name": "Environment", "Value": "dev"} in age[0]["Dimensions"]
    assert [m.value for m in sink.query("drift.psi", {"model": "credit-risk", "feature": "age"})] == [0.31]
    assert [m.labels for m in sink.query("serving.p95_ms", {"model": "credit-risk"})] == [{"model": "credit-risk"}]
    # the stack's drift alarm watches DriftScore with exactly Environment + Model: the worst feature's PSI
    score = [m for m in listed if m["MetricName"] == "DriftScore"]
    assert [sorted(d["Name"] for d in m["Dimensions"]) for m in score] == [["Environment", "Model"]]
    assert [m.value for m in sink.query("DriftScore", {"Model": "credit-risk"})] == [0.31]


def test_non_finite_metric_is_refused_naming_it(backends, tmp_path):
    with pytest.raises(ValueError, match="'loss'.*finite numbers only"):
        backends.metrics_sink(tmp_path).put([Metric("loss", float("nan"), {"model": "credit-risk"})])


def test_alert_reaches_the_stack_topic(backends, moto_stack, tmp_path):
    read = _inbox(moto_stack)
    backends.alerter(tmp_path).send(Alert("warning", "drift", "credit-risk", "PSI 0.31 > 0.20 on debt_to_income",
                                          {"feature": "debt_to_income", "psi": 0.31}))
    [envelope] = read()
    assert envelope["Subject"] == "[modelway dev] drift: credit-risk"
    body = json.loads(envelope["Message"])
    assert body["details"] == {"feature": "debt_to_income", "psi": 0.31} and body["severity"] == "warning"


def test_undeliverable_alert_is_logged_not_raised(backends, tmp_path, capsys):
    from modelway.backends.aws.observability import SnsAlerter

    gone = SnsAlerter(backends.clients, topic_arn=backends.outputs.alerts_topic_arn + "-deleted", environment="dev")
    gone.send(Alert("critical", "quality", "credit-risk", "missing values"))
    assert "alert not delivered" in capsys.readouterr().err and gone.sent == []


def test_monitor_on_the_stack_sends_drift_to_cloudwatch_and_sns(moto_stack, tmp_path, monkeypatch):
    """The CLI end to end: a registered model, a drifted data file, ``modelway monitor --data --outputs``."""
    from modelway.backends.mapping import use
    from tests.modelway_cli import ModelwayCli
    from tests.serving.helpers import register, train_credit

    home = tmp_path / "home"
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    use(resolve_stack(None, moto_stack.outputs_file))
    credit = train_credit(n_rows=1200)
    register(home, credit)
    drifted = credit.test.copy()
    drifted["debt_to_income"] = drifted["debt_to_income"] * 3 + 1
    data = tmp_path / "drifted.csv"
    drifted.to_csv(data, index=False)
    read = _inbox(moto_stack)
    done = ModelwayCli(home)("monitor", "credit-risk", "--data", str(data), "--outputs", str(moto_stack.outputs_file))
    assert done.code == 1, done.stderr  # an alert fired
    subjects = [e["Subject"] for e in read()]
    assert "[modelway dev] drift: credit-risk" in subjects
    score = moto_stack.client("cloudwatch").list_metrics(Namespace="Modelway", MetricName="DriftScore")["Metrics"]
    assert score, "DriftScore did not reach CloudWatch"
