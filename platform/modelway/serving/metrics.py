"""Prometheus metrics of a model server (``GET /metrics``, text exposition format via prometheus_client).

Per variant (the model version that answered): requests by status code, a latency
histogram, rejected payloads by field, and shadow agreement. Each server owns its own
:class:`prometheus_client.CollectorRegistry`, so several servers in one process (tests)
never share counters.

Example:
    >>> m = ServerMetrics("credit-risk")
    >>> m.observe("1.0.0", 200, 0.004)
    >>> b'modelway_requests_total{endpoint="credit-risk",status="200",variant="1.0.0"} 1.0' in m.render()
    True
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the app)

# latency buckets around a single-row model call (ms range) up to slow batch calls
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServerMetrics:
    """The counters and histograms one server exposes."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.registry = CollectorRegistry()
        self.requests = Counter("modelway_requests", "Scoring requests by variant and HTTP status",
                                ["endpoint", "variant", "status"], registry=self.registry)
        self.latency = Histogram("modelway_request_latency_seconds", "Scoring latency by variant",
                                 ["endpoint", "variant"], buckets=_BUCKETS, registry=self.registry)
        self.invalid = Counter("modelway_invalid_payloads", "Rejected payloads (HTTP 400) by field",
                               ["endpoint", "field"], registry=self.registry)
        self.shadow = Counter("modelway_shadow_predictions", "Shadow predictions by variant and agreement",
                              ["endpoint", "variant", "agree"], registry=self.registry)

    def observe(self, variant: str, status: int, seconds: float) -> None:
        self.requests.labels(self.endpoint, variant, str(status)).inc()
        if status == 200:
            self.latency.labels(self.endpoint, variant).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
