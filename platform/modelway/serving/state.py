"""Persisted deployment state of the embedded default: one SQLite file under ``$MODELWAY_HOME/deployments``.

Tables (``deployments.db``, WAL):

* ``endpoints``: per endpoint a revision number and the :class:`EndpointState` as JSON.
  Every change is a new revision, written in a ``BEGIN IMMEDIATE`` transaction; a server
  polls the revision and applies the new routing, so a restarted server comes back with
  exactly the routing that was last written.
* ``history``: every deployment decision (deploy, step, promote, rollback, refusal) with
  the numbers behind it and who or what triggered it.
* ``servers``: each running server's heartbeat (address, pid, the revision it applied, a
  load error if the last change could not be applied), so a deploy can wait until the
  routing it wrote is live.

Concurrent deploy commands on one endpoint are serialised by :meth:`DeploymentStore.lock`,
an exclusive ``flock`` on ``deployments/<endpoint>.lock``: a second command waits for the
first to finish (the kernel drops the lock if its holder dies).

Example:
    >>> import tempfile
    >>> store = DeploymentStore(Path(tempfile.mkdtemp()))
    >>> store.put("ep", EndpointState(model="m", environment="dev", variants={"1.0.0": 1.0}, incumbent="1.0.0"))
    1
    >>> store.get("ep")[1].variants
    {'1.0.0': 1.0}
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from modelway.errors import UserError
from modelway.sqlite_wal import connect_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, revision INTEGER NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL, ts TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, strategy TEXT, version TEXT, previous TEXT, revision INTEGER, details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS servers (
    endpoint TEXT NOT NULL, url TEXT NOT NULL, pid INTEGER NOT NULL, applied_revision INTEGER,
    heartbeat REAL NOT NULL, load_error TEXT, PRIMARY KEY (endpoint, url)
);
"""


@dataclass
class EndpointState:
    """Routing of one endpoint: which versions answer, with what share, and what rides along.

    ``variants`` maps version -> traffic weight (the weights sum to 1). ``shadow`` receives a
    copy of every request, off the response path; ``standby`` is the previous version, kept
    loaded for an instant rollback. ``sticky_key`` names the request field (or the
    ``X-Modelway-Key`` header) that pins a client to one variant (A/B).
    """

    model: str
    environment: str
    variants: dict[str, float]
    incumbent: str
    candidate: str | None = None
    strategy: str | None = None
    phase: str = "stable"  # stable | canary | blue-green | ab | shadow
    shadow: str | None = None
    standby: str | None = None
    sticky_key: str | None = None
    capture_rate: float = 0.1
    step: int = 0
    steps: list[float] = field(default_factory=list)

    def loaded_versions(self) -> list[str]:
        """Every version a server must hold in memory for this state."""
        out = [v for v in self.variants]
        for extra in (self.shadow, self.standby):
            if extra and extra not in out:
                out.append(extra)
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EndpointState:
        return cls(**json.loads(text))


class DeploymentStore:
    """Endpoint state, decision history and server heartbeats of the embedded default."""

    def __init__(self, home: Path):
        self.root = Path(home) / "deployments"
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "deployments.db"
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with connect_wal(self.path) as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- state ---------------------------------------------------------------------------

    def get(self, endpoint: str) -> tuple[int, EndpointState] | None:
        """(revision, state) of ``endpoint``, or None when it was never deployed."""
        with self._connect() as db:
            row = db.execute("SELECT revision, state FROM endpoints WHERE name = ?", (endpoint,)).fetchone()
        return (row[0], EndpointState.from_json(row[1])) if row else None

    def revision(self, endpoint: str) -> int | None:
        with self._connect() as db:
            row = db.execute("SELECT revision FROM endpoints WHERE name = ?", (endpoint,)).fetchone()
        return row[0] if row else None

    def require(self, endpoint: str) -> tuple[int, EndpointState]:
        found = self.get(endpoint)
        if found is None:
            known = self.endpoints()
            raise UserError(f"endpoint {endpoint!r} has no deployment; known endpoints: {known or 'none'} "
                            f"(start one with: modelway serve MODEL)")
        return found

    def endpoints(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM endpoints ORDER BY name")]

    def put(self, endpoint: str, state: EndpointState, *, history: dict[str, Any] | None = None) -> int:
        """Write a new revision of ``endpoint`` (and, in the same transaction, its history entry)."""
        total = sum(state.variants.values())
        if not state.variants or abs(total - 1.0) > 1e-6:
            raise ValueError(f"variant weights of {endpoint} must sum to 1, got {state.variants}")
        with self._transaction() as db:
            row = db.execute("SELECT revision FROM endpoints WHERE name = ?", (endpoint,)).fetchone()
            revision = (row[0] if row else 0) + 1
            db.execute("INSERT INTO endpoints (name, revision, state, updated_at) VALUES (?,?,?,?) ON CONFLICT(name) "
                       "DO UPDATE SET revision = excluded.revision, state = excluded.state, updated_at = excluded.updated_at",
                       (endpoint, revision, state.to_json(), _now()))
            if history is not None:
                self._append_history(db, endpoint, revision, **history)
        return revision

    # --- history -------------------------------------------------------------------------

    def add_history(self, endpoint: str, **entry: Any) -> None:
        with self._transaction() as db:
            self._append_history(db, endpoint, self._rev(db, endpoint), **entry)

    @staticmethod
    def _rev(db: sqlite3.Connection, endpoint: str) -> int | None:
        row = db.execute("SELECT revision FROM endpoints WHERE name = ?", (endpoint,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _append_history(db: sqlite3.Connection, endpoint: str, revision: int | None, *, actor: str, action: str,
                        strategy: str | None = None, version: str | None = None, previous: str | None = None,
                        details: dict[str, Any] | None = None) -> None:
        db.execute("INSERT INTO history (endpoint, ts, actor, action, strategy, version, previous, revision, details) "
                   "VALUES (?,?,?,?,?,?,?,?,?)", (endpoint, _now(), actor, action, strategy, version, previous, revision,
                                                  json.dumps(details or {}, sort_keys=True, default=str)))

    def history(self, endpoint: str, limit: int = 50) -> list[dict[str, Any]]:
        """Decisions on ``endpoint``, oldest first (the last ``limit``)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM (SELECT * FROM history WHERE endpoint = ? ORDER BY id DESC LIMIT ?) "
                              "ORDER BY id", (endpoint, limit)).fetchall()
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    # --- servers -------------------------------------------------------------------------

    def heartbeat(self, endpoint: str, url: str, applied_revision: int | None, load_error: str | None = None) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO servers (endpoint, url, pid, applied_revision, heartbeat, load_error) VALUES (?,?,?,?,?,?) "
                       "ON CONFLICT(endpoint, url) DO UPDATE SET pid = excluded.pid, applied_revision = excluded.applied_revision, "
                       "heartbeat = excluded.heartbeat, load_error = excluded.load_error",
                       (endpoint, url, os.getpid(), applied_revision, time.time(), load_error))

    def server_gone(self, endpoint: str, url: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM servers WHERE endpoint = ? AND url = ?", (endpoint, url))

    def live_servers(self, endpoint: str, max_age_s: float = 5.0) -> list[dict[str, Any]]:
        """Servers of ``endpoint`` whose last heartbeat is recent."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM servers WHERE endpoint = ? AND heartbeat >= ?",
                              (endpoint, time.time() - max_age_s)).fetchall()
        return [dict(r) for r in rows]

    # --- serialisation of deploy commands --------------------------------------------------

    @contextmanager
    def lock(self, endpoint: str, timeout_s: float = 600.0) -> Iterator[None]:
        """Hold the endpoint's deploy lock; waits (up to ``timeout_s``) while another command holds it."""
        path = self.root / f"{endpoint}.lock"
        with open(path, "a+") as handle:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise UserError(f"another deploy on endpoint {endpoint!r} is still running after {timeout_s:.0f}s "
                                        f"(lock {path}); try again when it has finished") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
