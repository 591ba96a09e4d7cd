"""Observability: the alerts topic (SNS + KMS), log groups, alarms on platform metrics, and the budget.

Alarm names, metric names and dimensions come from :mod:`modelway.contracts.platform_metrics`,
the same module the runtime's metrics sink publishes with: an alarm watches exactly what is
published (endpoint errors: SageMaker's own ``Invocation5XXErrors``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import ObservabilityConfig
from modelway.contracts.platform_metrics import (
    ALARMS,
    SAGEMAKER_NAMESPACE,
    AlarmSpec,
    alarm_key,
    alarm_name,
    endpoint_name,
)

# Log groups the platform writes to (pipelines, training and serving containers).
LOG_STREAMS: tuple[str, ...] = ("pipelines", "training", "serving")
# Budget notification thresholds, in percent of the monthly limit.
BUDGET_THRESHOLDS: tuple[int, ...] = (80, 100)


@dataclass
class ObservabilityArgs:
    """Inputs of :class:`Observability`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    environment: str
    """dev, staging or prod (budget cost filter, log group paths)."""
    account_id: pulumi.Input[str]
    """Only this account's services may publish to the topic."""
    key_arn: pulumi.Input[str]
    """CMK for the topic and the log groups."""
    config: ObservabilityConfig
    """Retention, thresholds, budget."""
    model_families: list[str]
    """Model families: drift and endpoint alarms exist per model."""


def _topic_policy(topic_arn: str, account_id: str) -> dict[str, Any]:
    """EventBridge, CloudWatch alarms and Budgets of this account may publish alerts."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AccountServicesPublishAlerts", "Effect": "Allow",
            "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"]},
            "Action": "sns:Publish", "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }],
    }


def _alarm_inputs(spec: AlarmSpec, cfg: ObservabilityConfig, environment: str, prefix: str,
                  model: str | None) -> dict[str, Any]:
    """Metric, dimensions and threshold of one alarm, as the metric's publisher emits it."""
    metric = spec.metric
    dimensions = metric.dimensions_for(environment=environment, model=model,
                                       endpoint=endpoint_name(prefix, model) if model else None)
    threshold = {"drift": cfg.drift_threshold, "endpoint-errors": cfg.endpoint_5xx_threshold}.get(spec.role, 1)
    return {"metric_name": metric.name, "dimensions": dimensions, "statistic": spec.statistic,
            "threshold": threshold, "comparison_operator": spec.comparison,
            "namespace": SAGEMAKER_NAMESPACE if metric.source == "sagemaker" else cfg.metrics_namespace}


class Observability(pulumi.ComponentResource):
    """Alerts topic, encrypted log groups with retention, metric alarms and a monthly budget.

    Example:
        >>> obs = Observability("modelway-dev", ObservabilityArgs(
        ...     prefix="modelway-dev", environment="dev", account_id=acct, key_arn=key_arn,
        ...     config=cfg.observability))                             # doctest: +SKIP
        >>> obs.alerts_topic_arn                                        # doctest: +SKIP
    """

    alerts_topic_arn: pulumi.Output[str]
    log_group_arns: dict[str, pulumi.Output[str]]
    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:observability:Observability", name, None, opts)
        self._name, self._args = name, args
        self._create_topic()
        self._create_log_groups()
        self._create_alarms()
        self._create_budget()
        self.register_outputs({"alerts_topic_arn": self.alerts_topic_arn, "log_group_arns": self.log_group_arns})

    def _create_topic(self) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(f"{self._name}-alerts", kms_master_key_id=args.key_arn, opts=child)
        aws.sns.TopicPolicy(
            f"{self._name}-alerts-policy", arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, args.account_id).apply(lambda v: json.dumps(_topic_policy(*v))),
            opts=child,
        )
        for index, email in enumerate(args.config.budget_alert_emails):
            aws.sns.TopicSubscription(f"{self._name}-alerts-email-{index}", topic=self.topic.arn,
                                      protocol="email", endpoint=email, opts=child)
        self.alerts_topic_arn = self.topic.arn

    def _create_log_groups(self) -> None:
        args = self._args
        self.log_groups = {
            stream: aws.cloudwatch.LogGroup(
                f"{self._name}-{stream}-logs",
                name=f"/modelway/{args.environment}/{stream}",
                retention_in_days=args.config.log_retention_days,
                kms_key_id=args.key_arn,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for stream in LOG_STREAMS
        }
        self.log_group_arns = {stream: group.arn for stream, group in self.log_groups.items()}

    def _create_alarms(self) -> None:
        args, cfg = self._args, self._args.config
        self.alarm_names = {}
        for spec in ALARMS:
            for model in (args.model_families if spec.per_model else [None]):
                label = spec.role if model is None else f"{spec.role}-{model}"
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{self._name}-{label}-alarm",
                    name=alarm_name(args.prefix, spec.role, model),
                    alarm_description=spec.description,
                    period=300,
                    evaluation_periods=1,
                    # No data means nothing ran, not that something broke.
                    treat_missing_data="notBreaching",
                    alarm_actions=[self.topic.arn],
                    ok_actions=[self.topic.arn],
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                    **_alarm_inputs(spec, cfg, args.environment, args.prefix, model),
                )
                self.alarm_names[alarm_key(spec.role, model)] = alarm.name

    def _create_budget(self) -> None:
        args = self._args
        notifications = [
            {"comparison_operator": "GREATER_THAN", "notification_type": kind, "threshold": threshold,
             "threshold_type": "PERCENTAGE", "subscriber_sns_topic_arns": [self.topic.arn],
             "subscriber_email_addresses": list(args.config.budget_alert_emails) or None}
            for threshold in BUDGET_THRESHOLDS
            for kind in (("ACTUAL", "FORECASTED") if threshold == 100 else ("ACTUAL",))
        ]
        self.budget = aws.budgets.Budget(
            f"{self._name}-budget",
            name=f"{args.prefix}-monthly",
            budget_type="COST",
            limit_amount=f"{args.config.monthly_budget_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            # Counts only this environment's spend (cost allocation tag `environment`, activated below).
            cost_filters=[{"name": "TagKeyValue", "values": [f"user:environment${args.environment}"]}],
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.config.activate_cost_allocation_tag:
            # A budget filtering on a tag that is not an active cost allocation tag counts nothing.
            # Account-wide and shared by every stack: kept (active) when this stack goes away.
            aws.costexplorer.CostAllocationTag(
                f"{self._name}-environment-cost-tag", tag_key="environment", status="Active",
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True))
