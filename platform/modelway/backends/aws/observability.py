"""Metrics to CloudWatch custom metrics, alerts to the stack's SNS topic.

Two small classes with one job each, for the monitoring interfaces (metrics sink, alerter)
to wrap: :class:`CloudWatchMetrics` puts a batch of named values as one ``PutMetricData``
call per 1000 values; :class:`SnsAlerter` publishes one message per alert with a subject
and message attributes a subscription can filter on.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from modelway.backends.aws.clients import AwsClients

_BATCH = 1000  # PutMetricData accepts up to 1000 values per call


class CloudWatchMetrics:
    """Put model and pipeline metrics as CloudWatch custom metrics, dimensioned by model and environment.

    Example:
        >>> sink = CloudWatchMetrics(clients, namespace="Modelway", environment="dev")    # doctest: +SKIP
        >>> sink.put({"roc_auc": 0.81, "drift_psi": 0.04}, model="credit-risk", version="1.0.0")  # doctest: +SKIP
        2
    """

    def __init__(self, clients: AwsClients, *, namespace: str, environment: str) -> None:
        self.clients = clients
        self.namespace = namespace
        self.environment = environment

    def put(self, values: Mapping[str, float], *, model: str, version: str | None = None,
            timestamp: datetime | None = None, unit: str = "None") -> int:
        """Send ``values`` (name -> number); returns how many were sent. Non-finite values are an error."""
        import math

        when = timestamp or datetime.now(timezone.utc)
        dimensions = [{"Name": "Model", "Value": model}, {"Name": "Environment", "Value": self.environment}]
        if version:
            dimensions.append({"Name": "Version", "Value": version})
        data = []
        for name, value in sorted(values.items()):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"metric {name!r} of {model} is {value!r}; CloudWatch takes finite numbers only")
            data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Value": number,
                         "Unit": unit})
        cloudwatch = self.clients.get("cloudwatch")
        with self.clients.call("cloudwatch:PutMetricData", f"namespace {self.namespace}"):
            for start in range(0, len(data), _BATCH):
                cloudwatch.put_metric_data(Namespace=self.namespace, MetricData=data[start:start + _BATCH])
        return len(data)


class SnsAlerter:
    """Publish alerts (a breached threshold, a failed gate) to the stack's SNS topic.

    Example:
        >>> SnsAlerter(clients, topic_arn=arn, environment="dev").alert(           # doctest: +SKIP
        ...     "drift", "credit-risk 1.0.0: PSI 0.31 > 0.2 on debt_to_income", severity="high")
        '3f1c...'
    """

    def __init__(self, clients: AwsClients, *, topic_arn: str, environment: str) -> None:
        self.clients = clients
        self.topic_arn = topic_arn
        self.environment = environment

    def alert(self, kind: str, summary: str, *, severity: str = "high", details: Mapping[str, Any] | None = None) -> str:
        """Publish one alert; returns the SNS message id."""
        subject = f"[modelway {self.environment}] {kind}: {summary}"[:100]  # SNS subjects stop at 100 characters
        body = json.dumps({"kind": kind, "summary": summary, "severity": severity, "environment": self.environment,
                           "details": dict(details or {})}, indent=2, default=str)
        with self.clients.call("sns:Publish", self.topic_arn):
            response = self.clients.get("sns").publish(
                TopicArn=self.topic_arn, Subject=subject, Message=body,
                MessageAttributes={"severity": {"DataType": "String", "StringValue": severity},
                                   "kind": {"DataType": "String", "StringValue": kind}})
        return response["MessageId"]
