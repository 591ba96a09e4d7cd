"""The traffic log: one row per scored request, and the labels that arrive later.

The server appends to an in-memory buffer on the request path and a background task writes
it to ``$MODELWAY_HOME/deployments/<endpoint>/traffic.db`` every few hundred milliseconds
(one transaction per flush, so logging costs the request path a list append). Rollout
guardrails, A/B tests and the monitor read it back with SQL: per version and revision,
request count, error count, latency percentiles, shadow agreement, and accuracy on the
requests whose label came back through ``modelway feedback``.

Example:
    >>> import tempfile
    >>> log = TrafficLog(Path(tempfile.mkdtemp()) / "traffic.db")
    >>> log.record(TrafficRecord("r1", 1.0, "1.0.0", 1, 200, 3.5, 1.0, 0.9))
    >>> _ = log.flush(); log.stats("1.0.0", revisions=[1]).requests
    1
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from modelway.sqlite_wal import connect_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS traffic (
    request_id TEXT NOT NULL, ts REAL NOT NULL, version TEXT NOT NULL, revision INTEGER NOT NULL,
    status INTEGER NOT NULL, latency_ms REAL NOT NULL, prediction REAL, score REAL,
    shadow INTEGER NOT NULL DEFAULT 0, agree INTEGER, error TEXT
);
CREATE INDEX IF NOT EXISTS traffic_by_version ON traffic (version, revision, shadow);
CREATE INDEX IF NOT EXISTS traffic_by_request ON traffic (request_id);
CREATE TABLE IF NOT EXISTS feedback (request_id TEXT PRIMARY KEY, label REAL NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    version TEXT NOT NULL, ts REAL NOT NULL, pid INTEGER NOT NULL, model_mb REAL NOT NULL, predict_peak_mb REAL NOT NULL,
    rows_per_s REAL NOT NULL, rows INTEGER NOT NULL
);
"""


@dataclass
class TrafficRecord:
    """One scored request (or one shadow scoring of it). ``prediction``: class or value of the first row."""

    request_id: str
    ts: float
    version: str
    revision: int
    status: int
    latency_ms: float
    prediction: float | None = None
    score: float | None = None
    shadow: int = 0
    agree: int | None = None
    error: str | None = None


@dataclass
class VariantStats:
    """What one version did in a window: the numbers the guardrails compare."""

    version: str
    requests: int
    errors: int
    p95_ms: float | None
    p50_ms: float | None
    labelled: int = 0
    correct: int = 0
    agreement: float | None = None
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # for significance tests, not reported

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "requests": self.requests, "errors": self.errors,
                "error_rate": round(self.error_rate, 4), "p50_ms": _r(self.p50_ms), "p95_ms": _r(self.p95_ms),
                "labelled": self.labelled, "accuracy": _r(self.accuracy, 4), "agreement": _r(self.agreement, 4)}


class TrafficLog:
    """Buffered writer and reader of one endpoint's traffic table."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._buffer: list[TrafficRecord] = []
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect_wal(self.path) as db:
            yield db

    def record(self, rec: TrafficRecord) -> None:
        with self._lock:
            self._buffer.append(rec)

    def flush(self) -> int:
        """Write the buffered records; returns how many."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            with self._connect() as db:
                db.execute("BEGIN")
                db.executemany("INSERT INTO traffic VALUES (?,?,?,?,?,?,?,?,?,?,?)", [astuple(r) for r in batch])
                db.execute("COMMIT")
        return len(batch)

    def add_feedback(self, labels: Iterable[tuple[str, float]], ts: float) -> tuple[int, int, int]:
        """Store (request_id, label) pairs; returns (stored, matched to a logged request, ambiguous).

        Ambiguous: the id names more than one served request (a client that sent the same
        ``X-Request-Id`` twice). Such a label cannot say which answer it judges, possibly one
        of each variant, so accuracy leaves it out (see :data:`_ONE_SERVED_ROW`).
        """
        labels = list(labels)
        with self._connect() as db:
            db.execute("BEGIN")
            db.executemany("INSERT INTO feedback VALUES (?,?,?) ON CONFLICT(request_id) DO UPDATE SET label = excluded.label, "
                           "ts = excluded.ts", [(rid, float(label), ts) for rid, label in labels])
            db.execute("COMMIT")
            matched = ambiguous = 0
            for chunk in _chunks([rid for rid, _ in labels], 500):
                rows = db.execute(f"SELECT COUNT(*) FROM traffic WHERE shadow = 0 AND request_id IN "
                                  f"({','.join('?' * len(chunk))}) GROUP BY request_id", chunk).fetchall()
                matched += len(rows)
                ambiguous += sum(1 for (n,) in rows if n > 1)
        return len(labels), matched, ambiguous

    def stats(self, version: str, *, revisions: list[int] | None = None, since: float | None = None,
              shadow: bool = False) -> VariantStats:
        """Requests, errors (5xx), latency percentiles and labelled accuracy of ``version``."""
        where, args = ["version = ?", "shadow = ?"], [version, int(shadow)]
        if revisions is not None:
            where.append(f"revision IN ({','.join('?' * len(revisions))})")
            args.extend(revisions)
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        clause = " AND ".join(where)
        with self._connect() as db:
            rows = db.execute(f"SELECT status, latency_ms, agree FROM traffic WHERE {clause}", args).fetchall()
            labelled, correct = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(t.prediction = f.label), 0) FROM traffic t JOIN feedback f "
                f"ON f.request_id = t.request_id WHERE {' AND '.join('t.' + w for w in where)} AND t.status = 200 "
                f"AND {_ONE_SERVED_ROW}", args,
            ).fetchone()
        # 4xx are the client's mistakes (bad payloads), not the model's: they are not guardrail errors
        scored = [r for r in rows if r[0] < 400 or r[0] >= 500]
        latencies = np.array([r[1] for r in scored if r[0] == 200], dtype="float64")
        agree = [r[2] for r in scored if r[2] is not None]
        return VariantStats(version, len(scored), sum(1 for r in scored if r[0] >= 500),
                            float(np.percentile(latencies, 95)) if latencies.size else None,
                            float(np.percentile(latencies, 50)) if latencies.size else None,
                            int(labelled), int(correct), (sum(agree) / len(agree)) if agree else None,
                            latencies.tolist())

    def outcomes(self, version: str, *, revisions: list[int] | None = None) -> tuple[list[int], list[float]]:
        """(correct flags, latencies) of ``version``'s labelled requests: the A/B test's samples."""
        where, args = "t.version = ? AND t.shadow = 0 AND t.status = 200", [version]
        if revisions is not None:
            where += f" AND t.revision IN ({','.join('?' * len(revisions))})"
            args.extend(revisions)
        with self._connect() as db:
            # no numeric prediction (a classifier with string classes): NULL, counted as wrong, as stats() counts it
            rows = db.execute(f"SELECT COALESCE(t.prediction = f.label, 0), t.latency_ms FROM traffic t JOIN feedback f "
                              f"ON f.request_id = t.request_id WHERE {where} AND {_ONE_SERVED_ROW}", args).fetchall()
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def record_resources(self, profile: Any, ts: float) -> None:
        """Store what loading ``profile.version`` cost a server (:mod:`modelway.serving.resources`)."""
        import os

        with self._connect() as db:
            db.execute("INSERT INTO resources VALUES (?,?,?,?,?,?,?)", (profile.version, ts, os.getpid(), profile.model_mb,
                                                                         profile.predict_peak_mb, profile.rows_per_s, profile.rows))

    def resources(self, version: str) -> dict[str, Any] | None:
        """The latest resource profile of ``version`` (None when no server measured it)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM resources WHERE version = ? ORDER BY ts DESC LIMIT 1", (version,)).fetchone()
        return dict(row) if row else None

    def count(self, version: str, since: float) -> int:
        """Requests (not shadow copies) ``version`` answered since ``since`` (a Unix time)."""
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM traffic WHERE version = ? AND shadow = 0 AND ts >= ?",
                              (version, since)).fetchone()[0]


# a label counts only when its request id names exactly one served (non-shadow) request
_ONE_SERVED_ROW = "(SELECT COUNT(*) FROM traffic u WHERE u.request_id = t.request_id AND u.shadow = 0) = 1"


def traffic_path(home: Path, endpoint: str) -> Path:
    return Path(home) / "deployments" / endpoint / "traffic.db"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
