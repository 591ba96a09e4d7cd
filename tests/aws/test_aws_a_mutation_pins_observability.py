"""Mutation pins for :mod:`modelway.backends.aws.observability`: CloudWatch metrics and SNS alerts, on moto.

What ``modelway monitor --stack`` leaves in CloudWatch (every field of a datum, the labels
kept and dropped, the DriftScore the drift alarm watches, batching at 1000) and on the alerts
topic (subject, body and attributes, read back through an SQS subscription); a failed delivery
is printed, never raised.
"""
from __future__ import annotations

import io
import json
import math
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from modelway.backends.aws.observability import CloudWatchMetrics, SnsAlerter
from modelway.monitoring.base import Alert, Metric
from tests.aws.test_aws_a_mutation_pins_deployer import stack  # noqa: F401 - the module's moto stack


@pytest.fixture
def sink(stack):  # noqa: F811
    """A sink in a namespace of its own (the stack is shared by the module's tests)."""
    _, backends = stack
    return CloudWatchMetrics(backends.clients, namespace=f"pins-{uuid.uuid4().hex[:8]}", environment="dev")


def _sent(sink):
    """MetricData of every PutMetricData request the sink sends from now on."""
    seen: list[list[dict]] = []
    sink.clients.get("cloudwatch").meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData", lambda params, **_: seen.append(params["MetricData"]))
    return seen


def test_a_datum_in_full(sink):
    sent = _sent(sink)
    ts = 1_700_000_000.5
    sink.put([Metric("serving.p95_ms", 12, {"model": "credit-risk", "version": None, "feature": "", "b": 1}, ts)])
    assert sent == [[{"MetricName": "serving.p95_ms", "Timestamp": datetime.fromtimestamp(ts, timezone.utc),
                      "Value": 12.0, "Unit": "None",
                      "Dimensions": [{"Name": "Environment", "Value": "dev"}, {"Name": "b", "Value": "1"},
                                     {"Name": "model", "Value": "credit-risk"}]}]]
    assert isinstance(sent[0][0]["Value"], float)


def test_a_metric_without_time_is_stamped_now(sink):
    sent = _sent(sink)
    before = datetime.now(timezone.utc)
    sink.put([Metric("loss", 1.0, {"model": "m"}), Metric("drift.psi", 0.5, {"model": "m"})])
    stamps = [d["Timestamp"] for d in sent[0]]
    assert len(stamps) == 3 and all(before <= s <= datetime.now(timezone.utc) for s in stamps)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused_naming_the_metric_and_labels(sink, value):
    sent = _sent(sink)
    with pytest.raises(ValueError) as caught:
        sink.put([Metric("ok", 1.0, {}), Metric("loss", value, {"model": "credit-risk"})])
    assert str(caught.value) == (f"metric 'loss' {{'model': 'credit-risk'}} is {value!r}; CloudWatch takes finite "
                                 "numbers only")
    assert sent == []  # nothing half-sent


def test_thirty_dimensions_pass_thirty_one_do_not(sink):
    sent = _sent(sink)
    labels = {f"l{i:02}": "x" for i in range(29)}  # + Environment = 30
    sink.put([Metric("wide", 1.0, labels, 1_700_000_000)])
    assert len(sent[0][0]["Dimensions"]) == 30
    with pytest.raises(ValueError) as caught:
        sink.put([Metric("wider", 1.0, {**labels, "l29": "x"}, 1_700_000_000)])
    assert str(caught.value) == "metric 'wider' has 31 labels; CloudWatch allows 30"


def test_more_than_a_thousand_values_go_in_batches_of_a_thousand(sink):
    sent = _sent(sink)
    sink.put([Metric("n", float(i), {"i": str(i % 3)}, 1_700_000_000) for i in range(1001)])
    assert [len(batch) for batch in sent] == [1000, 1]
    assert [d["Value"] for batch in sent for d in batch] == [float(i) for i in range(1001)]  # every one, in order


def test_drift_score_is_the_worst_feature_per_model(sink):
    sent = _sent(sink)
    sink.put([Metric("drift.psi", 0.1, {"model": "b", "feature": "x"}, 1_700_000_001),
              Metric("drift.psi", 0.4, {"model": "b", "feature": "y"}, 1_700_000_002),
              Metric("drift.psi", 0.3, {"model": "b", "feature": "z"}, 1_700_000_003),
              Metric("drift.psi", 0.2, {"model": "a", "feature": "x"}, 0),
              Metric("drift.psi", 0.9, {"feature": "x"}, 1_700_000_000),  # no model: no alarm to feed
              Metric("drift.ks", 0.99, {"model": "a"}, 1_700_000_000)])  # not PSI
    scores = [d for d in sent[0] if d["MetricName"] == "DriftScore"]
    assert [(d["Dimensions"], d["Value"], d["Unit"]) for d in scores] == [
        ([{"Name": "Environment", "Value": "dev"}, {"Name": "Model", "Value": "a"}], 0.2, "None"),
        ([{"Name": "Environment", "Value": "dev"}, {"Name": "Model", "Value": "b"}], 0.4, "None")]
    assert scores[1]["Timestamp"] == datetime.fromtimestamp(1_700_000_002, timezone.utc)
    assert abs(scores[0]["Timestamp"].timestamp() - time.time()) < 60  # ts 0: now
    assert len(sent[0]) == 6 + 2


def test_a_tie_keeps_the_first_worst_feature(sink):
    sent = _sent(sink)
    sink.put([Metric("drift.psi", 0.4, {"model": "m", "feature": "x"}, 1_700_000_001),
              Metric("drift.psi", 0.4, {"model": "m", "feature": "y"}, 1_700_000_009)])
    [score] = [d for d in sent[0] if d["MetricName"] == "DriftScore"]
    assert score["Timestamp"] == datetime.fromtimestamp(1_700_000_001, timezone.utc)


def test_query_filters_by_labels_and_environment_oldest_first(sink, stack):  # noqa: F811
    _, backends = stack
    now = time.time()
    sink.put([Metric("lat", 3.0, {"model": "a", "region": "x"}, now - 120),
              Metric("lat", 1.0, {"model": "a", "region": "y"}, now - 240),
              Metric("lat", 7.0, {"model": "b"}, now - 60)])
    prod = CloudWatchMetrics(backends.clients, namespace=sink.namespace, environment="prod")
    prod.put([Metric("lat", 100.0, {"model": "a"}, now - 60)])
    got = sink.query("lat", {"model": "a"})
    assert [(m.name, m.value, m.labels) for m in got] == [("lat", 1.0, {"model": "a", "region": "y"}),
                                                          ("lat", 3.0, {"model": "a", "region": "x"})]
    assert got[0].ts < got[1].ts
    assert [m.value for m in sink.query("lat")] == [1.0, 3.0, 7.0]
    assert [m.value for m in sink.query("lat", {"model": "a"}, since=now - 180)] == [3.0]
    assert [m.value for m in prod.query("lat")] == [100.0]
    assert sink.query("lat", {"model": "c"}) == []
    # what is asked: per-minute averages, from `since` (else the last 14 days) to a minute ahead
    asked: list[dict] = []
    sink.clients.get("cloudwatch").meta.events.register(
        "provide-client-params.cloudwatch.GetMetricStatistics", lambda params, **_: asked.append(params))
    before = datetime.now(timezone.utc)
    sink.query("lat", {"model": "b"})
    sink.query("lat", {"model": "b"}, since=now - 180)
    sink.query("lat", {"model": "b"}, since=0)  # 0 is "no since"
    assert [(a["Period"], a["Statistics"], a["Namespace"], a["MetricName"]) for a in asked] == [
        (60, ["Average"], sink.namespace, "lat")] * 3
    for a in asked:
        assert before + timedelta(seconds=59) <= a["EndTime"] <= datetime.now(timezone.utc) + timedelta(seconds=61)
    assert [a["EndTime"] - a["StartTime"] for a in (asked[0], asked[2])] == [timedelta(days=14)] * 2
    assert asked[1]["StartTime"] == datetime.fromtimestamp(now - 180, timezone.utc)


def _inbox(moto):
    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = moto.client("sns").create_topic(Name=f"alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    moto.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, lambda: [json.loads(m["Body"]) for m in
                           sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])]


def test_an_alert_reaches_the_topic_with_subject_body_and_attributes(stack):  # noqa: F811
    moto, backends = stack
    topic, inbox = _inbox(moto)
    stream = io.StringIO()
    alerter = SnsAlerter(backends.clients, topic_arn=topic, environment="dev", stream=stream)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    alert = Alert("warning", "drift", "credit-risk", "PSI 0.31 > 0.2", {"psi": 0.31, "at": at})
    alerter.send(alert)
    [envelope] = inbox()
    assert envelope["Subject"] == "[modelway dev] drift: credit-risk"
    assert json.loads(envelope["Message"]) == {"severity": "warning", "kind": "drift", "subject": "credit-risk",
                                               "message": "PSI 0.31 > 0.2", "details": {"psi": 0.31, "at": str(at)},
                                               "environment": "dev",
                                               "text": "[warning] credit-risk: drift - PSI 0.31 > 0.2"}
    assert envelope["Message"].startswith('{\n  "severity"')  # indented for the e-mail reader
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {"severity": "warning", "kind": "drift"}
    assert alerter.sent == [envelope["MessageId"]]
    assert stream.getvalue() == f"ALERT [warning] credit-risk: drift - PSI 0.31 > 0.2 -> SNS {topic}\n"


def test_subjects_stop_at_100_characters(stack):  # noqa: F811
    moto, backends = stack
    topic, inbox = _inbox(moto)
    alerter = SnsAlerter(backends.clients, topic_arn=topic, environment="dev", stream=io.StringIO())
    alerter.send(Alert("critical", "latency", "e" * 200, "slow"))
    [envelope] = inbox()
    assert envelope["Subject"] == ("[modelway dev] latency: " + "e" * 200)[:100]
    assert {k: v["Value"] for k, v in envelope["MessageAttributes"].items()} == {"severity": "critical",
                                                                                 "kind": "latency"}


def test_a_failed_delivery_is_printed_not_raised(stack, capsys):  # noqa: F811
    _, backends = stack
    gone = "arn:aws:sns:eu-west-1:123456789012:no-such-topic"
    alerter = SnsAlerter(backends.clients, topic_arn=gone, environment="dev")
    assert alerter.stream is __import__("sys").stderr
    alerter.send(Alert("info", "staleness", "m", "old"))
    assert alerter.sent == []
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"ALERT [info] m: staleness - old -> SNS {gone}"
    assert err[1].startswith(f"  (alert not delivered to {gone}: ") and err[1].endswith(")")
    assert len(err) == 2
