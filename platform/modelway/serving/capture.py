"""Sampled request/response capture, as SageMaker data capture does it, into the local capture store.

A configurable share of requests (the endpoint's ``capture_rate``; rejected ones included)
is written as JSON lines to ``$MODELWAY_HOME/capture/<endpoint>/<YYYY-MM-DD>/<HH>-<pid>.jsonl``:
request id, time, model version, the validated inputs (or the raw fields and the error),
and the outputs. The server buffers lines and appends them in the background; the monitor
reads a time window back with :func:`read_capture`. On AWS the same layout is an S3 prefix.

Example:
    >>> import tempfile
    >>> home = Path(tempfile.mkdtemp())
    >>> w = CaptureWriter(home, "ep", rate=1.0)
    >>> w.maybe({"request_id": "r1", "ts": 1e9, "version": "1.0.0", "inputs": {"x": [1.0]}, "outputs": [{"prediction": 1}]})
    True
    >>> _ = w.flush(); len(read_capture(home, "ep"))
    1
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def capture_root(home: Path, endpoint: str) -> Path:
    return Path(home) / "capture" / endpoint


class CaptureWriter:
    """Samples records at ``rate`` and appends them to the hour's JSONL file on :meth:`flush`."""

    def __init__(self, home: Path, endpoint: str, rate: float, *, seed: int | None = None):
        self.root = capture_root(home, endpoint)
        self.rate = rate
        self._rng = random.Random(seed)
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def maybe(self, record: dict[str, Any]) -> bool:
        """Keep ``record`` with probability ``rate``; True if kept."""
        if self.rate <= 0 or (self.rate < 1 and self._rng.random() >= self.rate):
            return False
        with self._lock:
            self._buffer.append(record)
        return True

    def flush(self) -> int:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return 0
        now = datetime.now(timezone.utc)
        path = self.root / now.strftime("%Y-%m-%d") / f"{now:%H}-{os.getpid()}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        # one write() per flush of whole lines: a reader never sees half a record
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r, default=_plain, allow_nan=True) + "\n" for r in batch))
        return len(batch)


def read_capture(home: Path, endpoint: str, *, since: float | None = None) -> list[dict[str, Any]]:
    """Captured records of ``endpoint`` (newer than ``since``, a Unix time), oldest first."""
    root = capture_root(home, endpoint)
    if not root.exists():
        return []
    cutoff_day = datetime.fromtimestamp(since, timezone.utc).strftime("%Y-%m-%d") if since else ""
    out: list[dict[str, Any]] = []
    for day in sorted(p for p in root.iterdir() if p.is_dir() and p.name >= cutoff_day):
        for file in sorted(day.glob("*.jsonl")):
            for line in file.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                if since is None or rec.get("ts", 0) >= since:
                    out.append(rec)
    out.sort(key=lambda r: r.get("ts", 0))
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def now() -> float:
    return time.time()
