"""The CloudWatch metrics the platform alarms on, and the alarm names: one place for infra and the runtime.

The infra program creates one alarm per :data:`ALARMS` entry; the runtime's metrics sink
publishes the custom metrics (``namespace`` from the stack outputs, dimensions exactly as
listed here: an alarm only sees data points with exactly its dimensions). Endpoint errors
come from SageMaker itself (``AWS/SageMaker Invocation5XXErrors``), so the deployer must
name endpoints with :func:`endpoint_name` for the alarm to watch them.

Example:
    >>> DRIFT_SCORE.dimensions_for(environment="prod", model="credit-risk")
    {'Environment': 'prod', 'Model': 'credit-risk'}
    >>> endpoint_name("modelway-prod", "credit-risk")
    'modelway-prod-credit-risk'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# SageMaker's single-variant default; the deployer names its production variant so.
ENDPOINT_VARIANT = "AllTraffic"


@dataclass(frozen=True)
class PlatformMetric:
    """A metric: its name, whether the runtime publishes it (custom) or AWS does, and its dimensions."""

    name: str
    source: Literal["custom", "sagemaker"]
    dimensions: tuple[str, ...]
    unit: str = "None"

    def dimensions_for(self, *, environment: str, model: str | None = None,
                       endpoint: str | None = None) -> dict[str, str]:
        """The dimension values a data point (or an alarm) carries."""
        values = {"Environment": environment, "Model": model, "EndpointName": endpoint,
                  "VariantName": ENDPOINT_VARIANT}
        missing = [d for d in self.dimensions if values.get(d) is None]
        if missing:
            raise ValueError(f"metric {self.name} needs {', '.join(missing)}")
        return {d: str(values[d]) for d in self.dimensions}


DRIFT_SCORE = PlatformMetric("DriftScore", "custom", ("Environment", "Model"))
"""Largest per-feature drift score (0..1) of a deployed model; published by the monitor."""
PIPELINE_RUNS_FAILED = PlatformMetric("PipelineRunsFailed", "custom", ("Environment",), unit="Count")
"""1 per failed pipeline run; published by the runner."""
ENDPOINT_5XX = PlatformMetric("Invocation5XXErrors", "sagemaker", ("EndpointName", "VariantName"), unit="Count")
"""Server errors of a SageMaker endpoint (published by SageMaker)."""


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm kind; ``per_model`` alarms exist once per model family."""

    role: str
    metric: PlatformMetric
    statistic: Literal["Maximum", "Sum"]
    comparison: str
    per_model: bool
    description: str


ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec("drift", DRIFT_SCORE, "Maximum", "GreaterThanThreshold", True,
              "Feature drift of the deployed model exceeded the threshold"),
    AlarmSpec("endpoint-errors", ENDPOINT_5XX, "Sum", "GreaterThanOrEqualToThreshold", True,
              "The model's endpoint returned server errors"),
    AlarmSpec("pipeline-failures", PIPELINE_RUNS_FAILED, "Sum", "GreaterThanOrEqualToThreshold", False,
              "A pipeline run failed"),
)


def endpoint_name(prefix: str, model: str) -> str:
    """The SageMaker endpoint of ``model`` in the environment whose names start with ``prefix``."""
    return f"{prefix}-{model}"


def alarm_name(prefix: str, role: str, model: str | None = None) -> str:
    """``<prefix>-<role>`` or ``<prefix>-<role>-<model>`` (the name the stack exports in ``alarm_names``)."""
    return f"{prefix}-{role}" if model is None else f"{prefix}-{role}-{model}"


def alarm_key(role: str, model: str | None = None) -> str:
    """Key of an alarm in ``StackOutputs.alarm_names`` (``drift/credit-risk``, ``pipeline-failures``)."""
    return role if model is None else f"{role}/{model}"
