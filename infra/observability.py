"""Observability: the alerts topic (SNS + KMS), log groups, alarms on platform metrics, and the budget."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import ObservabilityConfig

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


def _alarm_specs(cfg: ObservabilityConfig) -> list[dict[str, Any]]:
    """Alarms on the platform's custom metrics (the runtime publishes them)."""
    return [
        {"role": "drift", "metric_name": "DriftScore", "statistic": "Maximum", "threshold": cfg.drift_threshold,
         "comparison_operator": "GreaterThanThreshold",
         "description": "Feature drift score of a deployed model exceeded the threshold"},
        {"role": "endpoint-errors", "metric_name": "Endpoint5xxErrors", "statistic": "Sum",
         "threshold": cfg.endpoint_5xx_threshold, "comparison_operator": "GreaterThanOrEqualToThreshold",
         "description": "A model endpoint returned server errors"},
        {"role": "pipeline-failures", "metric_name": "PipelineRunsFailed", "statistic": "Sum", "threshold": 1,
         "comparison_operator": "GreaterThanOrEqualToThreshold", "description": "A pipeline run failed"},
    ]


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
                opts=pulumi.ResourceOptions(parent=self),
            )
            for stream in LOG_STREAMS
        }
        self.log_group_arns = {stream: group.arn for stream, group in self.log_groups.items()}

    def _create_alarms(self) -> None:
        cfg = self._args.config
        self.alarms = []
        for spec in _alarm_specs(cfg):
            role = spec.pop("role")
            self.alarms.append(aws.cloudwatch.MetricAlarm(
                f"{self._name}-{role}-alarm",
                name=f"{self._args.prefix}-{role}",
                alarm_description=spec.pop("description"),
                namespace=cfg.metrics_namespace,
                dimensions={"Environment": self._args.environment},
                period=300,
                evaluation_periods=1,
                # No data means nothing ran, not that something broke.
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                opts=pulumi.ResourceOptions(parent=self),
                **spec,
            ))

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
            # Counts only this environment's spend (cost allocation tag `environment`).
            cost_filters=[{"name": "TagKeyValue", "values": [f"user:environment${args.environment}"]}],
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self),
        )
