"""The monitoring interfaces: where results go (:class:`MetricsSink`) and who hears about breaches (:class:`Alerter`).

The embedded default implements both in :mod:`modelway.monitoring.sinks` (a SQLite table
under ``$MODELWAY_HOME/monitoring``; log lines plus an optional webhook). A cloud backend
implements the same two protocols: CloudWatch ``PutMetricData`` for :class:`MetricsSink`
(``name`` -> MetricName, ``labels`` -> Dimensions) and SNS ``Publish`` for :class:`Alerter`
(``title`` -> Subject, ``to_text()`` -> Message).

Example:
    >>> Alert("warning", "drift", "credit-risk", "PSI 0.31 on age").to_text()
    '[warning] credit-risk: drift - PSI 0.31 on age'
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Metric:
    """One observation: ``name`` (e.g. ``drift.psi``), value, labels (model, version, feature...), Unix time."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    ts: float = 0.0


@dataclass(frozen=True)
class Alert:
    """A breach worth a human's attention."""

    severity: str  # info | warning | critical
    kind: str  # drift | quality | performance | staleness | latency | memory | throughput
    subject: str  # the model or endpoint
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_text(self) -> str:
        return f"[{self.severity}] {self.subject}: {self.kind} - {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class MetricsSink(Protocol):
    """Stores monitoring observations (embedded: SQLite; AWS: CloudWatch)."""

    def put(self, metrics: list[Metric]) -> None:
        """Record ``metrics`` (a batch from one monitor run)."""

    def query(self, name: str, labels: dict[str, str] | None = None, since: float | None = None) -> list[Metric]:
        """Observations of ``name`` (matching ``labels``), oldest first."""


@runtime_checkable
class Alerter(Protocol):
    """Delivers alerts (embedded: log line + optional webhook; AWS: SNS)."""

    def send(self, alert: Alert) -> None:
        """Deliver ``alert``; must not raise on a delivery failure (log it instead)."""
