"""Monitoring on a stack: observations to CloudWatch custom metrics, alerts to the stack's SNS topic.

:class:`CloudWatchMetrics` is the stack's :class:`~modelway.monitoring.base.MetricsSink`
(``PutMetricData``: ``name`` -> MetricName, ``labels`` -> Dimensions plus ``Environment``;
up to 1000 values per call). The largest ``drift.psi`` of a model is also published as the
contract's ``DriftScore`` (dimensions exactly ``Environment``, ``Model``), the metric the
stack's drift alarm watches. :class:`SnsAlerter` is its :class:`~modelway.monitoring.base.Alerter`:
one ``Publish`` per alert, subject and message attributes a subscription can filter on.
Both are what ``modelway monitor --stack`` uses (:mod:`modelway.backends.mapping`).
"""
from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from modelway.backends.aws.clients import AwsClients
from modelway.contracts.platform_metrics import DRIFT_SCORE
from modelway.monitoring.base import Alert, Metric

_BATCH = 1000  # PutMetricData accepts up to 1000 values per call
_MAX_DIMENSIONS = 30  # CloudWatch's limit per data point
_QUERY_PERIOD_S = 60  # CloudWatch keeps aggregates, not single observations: one per minute comes back


class CloudWatchMetrics:
    """:class:`~modelway.monitoring.base.MetricsSink` on CloudWatch custom metrics.

    Example:
        >>> sink = CloudWatchMetrics(clients, namespace="Modelway", environment="dev")         # doctest: +SKIP
        >>> sink.put([Metric("drift.psi", 0.31, {"model": "credit-risk", "feature": "age"})])  # doctest: +SKIP
        >>> sink.query("drift.psi", {"model": "credit-risk"})[0].value                         # doctest: +SKIP
        0.31
    """

    def __init__(self, clients: AwsClients, *, namespace: str, environment: str) -> None:
        self.clients = clients
        self.namespace = namespace
        self.environment = environment

    def put(self, metrics: list[Metric]) -> None:
        """Send ``metrics``; a non-finite value is an error naming the metric (CloudWatch refuses them)."""
        data = [self._datum(m) for m in metrics]
        data += self._drift_scores(metrics)
        cloudwatch = self.clients.get("cloudwatch")
        with self.clients.call("cloudwatch:PutMetricData", f"namespace {self.namespace}"):
            for start in range(0, len(data), _BATCH):
                cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=data[start:start + _BATCH])

    def query(self, name: str, labels: dict[str, str] | None = None, since: float | None = None) -> list[Metric]:
        """Per-minute averages of ``name`` for every dimension set matching ``labels``, oldest first."""
        cloudwatch = self.clients.get("cloudwatch")
        wanted = {**{k: str(v) for k, v in (labels or {}).items()}, "Environment": self.environment}
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        start = datetime.fromtimestamp(since, timezone.utc) if since else end - timedelta(days=14)
        out: list[Metric] = []
        with self.clients.call("cloudwatch:GetMetricStatistics", f"namespace {self.namespace} metric {name}"):
            for listed in _paged(cloudwatch, "list_metrics", "Metrics", Namespace=self.namespace, MetricName=name):
                dims = {d["Name"]: d["Value"] for d in listed["Dimensions"]}
                if any(dims.get(k) != v for k, v in wanted.items()):
                    continue
                points = cloudwatch.get_metric_statistics(
                    Namespace=self.namespace, MetricName=name, Dimensions=listed["Dimensions"], StartTime=start,
                    EndTime=end, Period=_QUERY_PERIOD_S, Statistics=["Average"])["Datapoints"]
                shown = {k: v for k, v in dims.items() if k != "Environment"}
                out += [Metric(name, p["Average"], shown, p["Timestamp"].timestamp()) for p in points]
        return sorted(out, key=lambda m: m.ts)

    def _datum(self, metric: Metric) -> dict[str, Any]:
        value = float(metric.value)
        if not math.isfinite(value):
            raise ValueError(f"metric {metric.name!r} {metric.labels} is {metric.value!r}; CloudWatch takes finite "
                             "numbers only")
        dims = {**{str(k): str(v) for k, v in metric.labels.items() if v not in (None, "")},
                "Environment": self.environment}
        if len(dims) > _MAX_DIMENSIONS:
            raise ValueError(f"metric {metric.name!r} has {len(dims)} labels; CloudWatch allows {_MAX_DIMENSIONS}")
        when = datetime.fromtimestamp(metric.ts, timezone.utc) if metric.ts else datetime.now(timezone.utc)
        return {"MetricName": metric.name, "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dims.items())],
                "Timestamp": when, "Value": value, "Unit": "None"}

    def _drift_scores(self, metrics: list[Metric]) -> list[dict[str, Any]]:
        """The largest per-feature PSI per model, as the alarm's ``DriftScore`` (exactly its dimensions)."""
        worst: dict[str, Metric] = {}
        for m in metrics:
            model = m.labels.get("model")
            if m.name == "drift.psi" and model and math.isfinite(m.value) and (
                    model not in worst or m.value > worst[model].value):
                worst[model] = m
        out = []
        for model, m in sorted(worst.items()):
            dims = DRIFT_SCORE.dimensions_for(environment=self.environment, model=model)
            when = datetime.fromtimestamp(m.ts, timezone.utc) if m.ts else datetime.now(timezone.utc)
            out.append({"MetricName": DRIFT_SCORE.name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        "Timestamp": when, "Value": float(m.value), "Unit": DRIFT_SCORE.unit})
        return out


class SnsAlerter:
    """:class:`~modelway.monitoring.base.Alerter` publishing to the stack's SNS topic.

    A delivery failure (no permission, topic gone) is printed, never raised: monitoring must
    not die with the alert channel. :attr:`sent` keeps the message ids of this process's alerts.

    Example:
        >>> SnsAlerter(clients, topic_arn=arn, environment="dev").send(                  # doctest: +SKIP
        ...     Alert("warning", "drift", "credit-risk", "PSI 0.31 > 0.2 on debt_to_income"))
    """

    def __init__(self, clients: AwsClients, *, topic_arn: str, environment: str, stream: Any = None) -> None:
        self.clients = clients
        self.topic_arn = topic_arn
        self.environment = environment
        self.stream = stream or sys.stderr
        self.sent: list[str] = []

    def send(self, alert: Alert) -> None:
        subject = f"[modelway {self.environment}] {alert.kind}: {alert.subject}"[:100]  # SNS subjects stop at 100
        body = json.dumps({**alert.to_dict(), "environment": self.environment, "text": alert.to_text()}, indent=2,
                          default=str)
        print(f"ALERT {alert.to_text()} -> SNS {self.topic_arn}", file=self.stream, flush=True)
        try:
            with self.clients.call("sns:Publish", self.topic_arn):
                response = self.clients.get("sns").publish(
                    TopicArn=self.topic_arn, Subject=subject, Message=body,
                    MessageAttributes={"severity": {"DataType": "String", "StringValue": alert.severity},
                                       "kind": {"DataType": "String", "StringValue": alert.kind}})
            self.sent.append(response["MessageId"])
        except Exception as exc:  # noqa: BLE001 - the protocol: log a delivery failure, never raise it
            print(f"  (alert not delivered to {self.topic_arn}: {exc})", file=self.stream, flush=True)


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items += page[key]
    return items
