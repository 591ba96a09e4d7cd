"""Embedded implementations of :class:`~modelway.monitoring.base.MetricsSink` and :class:`~modelway.monitoring.base.Alerter`.

* :class:`SqliteMetricsSink`: ``$MODELWAY_HOME/monitoring/metrics.db``, one row per
  observation (name, value, labels as JSON, time); the monitoring page reads history back.
* :class:`LogAlerter`: one line per alert on stderr, a row in ``alerts`` (same database),
  and, when a webhook URL is configured, a JSON POST to it (Slack-compatible ``text`` field;
  a delivery failure is logged, never raised: monitoring must not die with the webhook).

Example:
    >>> import tempfile
    >>> sink = SqliteMetricsSink(Path(tempfile.mkdtemp()))
    >>> sink.put([Metric("drift.psi", 0.3, {"feature": "age"}, 1.0)])
    >>> [m.value for m in sink.query("drift.psi", {"feature": "age"})]
    [0.3]
"""
from __future__ import annotations

import json
import sqlite3
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from modelway.monitoring.base import Alert, Metric
from modelway.sqlite_wal import connect_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (ts REAL NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, labels TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics (name, ts);
CREATE TABLE IF NOT EXISTS alerts (ts REAL NOT NULL, severity TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
                                   message TEXT NOT NULL, details TEXT NOT NULL, delivered TEXT);
"""


def _db_path(home: Path) -> Path:
    path = Path(home) / "monitoring" / "metrics.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    with connect_wal(path) as db:
        db.executescript(SCHEMA)
        yield db


class SqliteMetricsSink:
    """Monitoring observations in SQLite (the embedded :class:`MetricsSink`)."""

    def __init__(self, home: Path):
        self.path = _db_path(home)

    def put(self, metrics: list[Metric]) -> None:
        with _connect(self.path) as db:
            db.execute("BEGIN")
            db.executemany("INSERT INTO metrics VALUES (?,?,?,?)",
                           [(m.ts or time.time(), m.name, float(m.value), json.dumps(m.labels, sort_keys=True)) for m in metrics])
            db.execute("COMMIT")

    def query(self, name: str, labels: dict[str, str] | None = None, since: float | None = None) -> list[Metric]:
        with _connect(self.path) as db:
            rows = db.execute("SELECT ts, name, value, labels FROM metrics WHERE name = ? AND ts >= ? ORDER BY ts",
                              (name, since or 0.0)).fetchall()
        out = [Metric(r[1], r[2], json.loads(r[3]), r[0]) for r in rows]
        return [m for m in out if all(m.labels.get(k) == v for k, v in (labels or {}).items())]


class LogAlerter:
    """Alerts as log lines and rows, plus an optional webhook POST (the embedded :class:`Alerter`)."""

    def __init__(self, home: Path, webhook_url: str | None = None, stream: Any = None, timeout_s: float = 5.0):
        self.path = _db_path(home)
        self.webhook_url = webhook_url
        self.stream = stream or sys.stderr
        self.timeout_s = timeout_s

    def send(self, alert: Alert) -> None:
        print(f"ALERT {alert.to_text()}", file=self.stream, flush=True)
        delivered = None
        if self.webhook_url:
            body = json.dumps({"text": alert.to_text(), **alert.to_dict()}, default=str).encode()
            request = urllib.request.Request(self.webhook_url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:  # noqa: S310 - configured URL
                    delivered = f"webhook {resp.status}"
            except Exception as exc:  # noqa: BLE001 - a webhook outage must not stop monitoring
                delivered = f"webhook failed: {exc}"
                print(f"  (alert webhook {self.webhook_url} failed: {exc})", file=self.stream, flush=True)
        with _connect(self.path) as db:
            db.execute("INSERT INTO alerts VALUES (?,?,?,?,?,?,?)", (time.time(), alert.severity, alert.kind, alert.subject,
                                                                    alert.message, json.dumps(alert.details, default=str),
                                                                    delivered))

    def history(self, subject: str | None = None) -> list[dict[str, Any]]:
        with _connect(self.path) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM alerts WHERE (? IS NULL OR subject = ?) ORDER BY ts", (subject, subject))
            return [dict(r) for r in rows]
