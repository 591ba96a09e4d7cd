"""SQLite run store (WAL): runs, steps, status events, cache, attachments, checkpoints, lineage.

Safe for several concurrent runs on one ``$MODELWAY_HOME``: WAL lets readers proceed while
one writer commits, every write transaction starts with ``BEGIN IMMEDIATE`` (so it takes
the write lock up front instead of failing on upgrade) and waits up to ``busy_timeout``.
Each process opens its own connection (never shared across fork).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from modelway.errors import ConfigError, UserError
from modelway.store.faults import writable

SCHEMA_VERSION = 4
# Upgrades from an older user_version, applied in order inside the schema transaction.
MIGRATIONS = {
    1: ("ALTER TABLE steps ADD COLUMN inputs TEXT",),
    2: ("ALTER TABLE runs ADD COLUMN runner_started REAL",),
    3: ("ALTER TABLE dataset_usage ADD COLUMN latest INTEGER NOT NULL DEFAULT 0",),
}
BUSY_TIMEOUT_S = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_file TEXT, status TEXT NOT NULL,
  params TEXT NOT NULL DEFAULT '{}', executor TEXT, use_cache INTEGER NOT NULL DEFAULT 1,
  created_at REAL NOT NULL, started_at REAL, ended_at REAL, error TEXT, outputs TEXT,
  lineage TEXT, pid INTEGER, host TEXT, resumes INTEGER NOT NULL DEFAULT 0, runner_started REAL);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, func TEXT, status TEXT NOT NULL,
  cached INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, started_at REAL, ended_at REAL,
  duration_s REAL, cpu_s REAL, peak_rss_mb REAL, cache_key TEXT, output_hash TEXT, output_kind TEXT,
  upstream TEXT, settings TEXT, error TEXT, traceback TEXT, inputs TEXT,
  PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step TEXT, ts REAL NOT NULL,
  kind TEXT NOT NULL, attempt INTEGER, message TEXT);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
CREATE TABLE IF NOT EXISTS artifacts (
  hash TEXT PRIMARY KEY, kind TEXT NOT NULL, type TEXT, size INTEGER, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  run_id TEXT NOT NULL, step TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL,
  created_at REAL NOT NULL, PRIMARY KEY (run_id, step, name));
CREATE TABLE IF NOT EXISTS checkpoints (
  run_id TEXT NOT NULL, step TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS cache (
  key TEXT PRIMARY KEY, hash TEXT NOT NULL, kind TEXT NOT NULL, run_id TEXT, step TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT NOT NULL, version TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, source TEXT,
  size INTEGER, files INTEGER, created_at REAL NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS dataset_usage (
  run_id TEXT NOT NULL, step TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, ts REAL NOT NULL,
  latest INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, step, name, version));
CREATE TABLE IF NOT EXISTS model_versions (
  model TEXT NOT NULL, version TEXT NOT NULL, run_id TEXT, step TEXT, artifact TEXT, created_at REAL NOT NULL,
  PRIMARY KEY (model, version));
"""

FINISHED_STEP = ("succeeded", "cached")
LATEST = ("latest", "last")  # accepted wherever a run id is (run ids start with a digit)


class RunStore:
    """Connection to ``<home>/modelway.db``; one per process.

    Example:
        >>> import tempfile
        >>> store = RunStore(Path(tempfile.mkdtemp()))
        >>> store.list_runs()
        []
    """

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / "modelway.db"
        self._pid = os.getpid()
        # One connection per process; steps may log from several threads, so transactions
        # on it are serialized here (sqlite3 would otherwise interleave BEGIN/COMMIT).
        self._lock = threading.RLock()
        self.read_only = False
        try:
            self.conn = self._open()
        except sqlite3.OperationalError:
            if not self.path.is_file() or writable(home):
                raise  # locked, or a problem a read-only fallback would not solve: the caller names the home
            # A read-only home (mounted read-only, or not ours): read commands still work.
            self.conn = self._open_read_only()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self.conn = conn
        try:
            self._init_schema()
        except sqlite3.OperationalError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
            conn.close()
            raise self._not_a_store(exc) from None
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """Open the store for reading where the home cannot be written. ``immutable`` because
        SQLite cannot create the WAL index (``-shm``) there; nothing can write through it either."""
        try:
            conn = sqlite3.connect(f"{self.path.absolute().as_uri()}?immutable=1", uri=True, isolation_level=None,
                                   check_same_thread=False)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._not_a_store(exc) from None
        if version != SCHEMA_VERSION:
            conn.close()
            raise ConfigError(f"{self.path} needs a schema upgrade (schema {version}, this Modelway reads "
                              f"{SCHEMA_VERSION}) but its home is read-only; run once with a writable home")
        conn.row_factory = sqlite3.Row
        self.read_only = True
        return conn

    def _not_a_store(self, exc: Exception) -> Exception:
        return ConfigError(f"{self.path} is not a Modelway run store ({exc}); move it aside "
                           f"(mv {self.path} {self.path}.broken) to start a new one, or set MODELWAY_HOME "
                           "to another directory")

    def _init_schema(self) -> None:
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            self.conn.execute("PRAGMA synchronous=NORMAL")
            return
        for attempt in range(50):
            try:
                mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise sqlite3.OperationalError("database is locked (journal mode not switched)")
                with self.tx() as conn:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    if version > SCHEMA_VERSION:
                        raise ConfigError(f"{self.path} was written by a newer Modelway (schema {version}, "
                                          f"this one reads {SCHEMA_VERSION}); upgrade modelway")
                    if version != SCHEMA_VERSION:
                        for old in range(version, SCHEMA_VERSION) if version else ():  # 0 = new database
                            for statement in MIGRATIONS.get(old, ()):
                                conn.execute(statement)
                        for statement in SCHEMA.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(0.02 + random.random() * 0.05 * (attempt + 1))
        else:
            raise sqlite3.OperationalError(f"{self.path}: database stayed locked while creating the schema")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE)."""
        if self.read_only:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self.path))
        if os.getpid() != self._pid:
            raise RuntimeError("RunStore connection used across fork; open a new RunStore in the child")
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # -- runs ---------------------------------------------------------------------------
    def create_run(self, run_id: str, pipeline: str, pipeline_file: str | None, params: dict[str, Any],
                   executor: str, use_cache: bool, lineage: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO runs (run_id, pipeline, pipeline_file, status, params, executor, use_cache, created_at,"
                " started_at, lineage, pid, host, runner_started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, pipeline, pipeline_file, "running", json.dumps(params, default=str), executor,
                 int(use_cache), now, now, json.dumps(lineage, default=str), os.getpid(),
                 lineage.get("host", {}).get("name"), now),
            )
            c.executemany(
                "INSERT INTO steps (run_id, name, position, func, status, upstream, settings) VALUES (?,?,?,?,?,?,?)",
                [(run_id, s["name"], i, s["func"], "pending", json.dumps(s["upstream"]), json.dumps(s["settings"]))
                 for i, s in enumerate(steps)],
            )
            c.execute("INSERT INTO events (run_id, ts, kind, message) VALUES (?,?,?,?)", (run_id, now, "run_started", pipeline))

    def reopen_run(self, run_id: str, seen: dict[str, Any]) -> bool:
        """Take over a run for a resume: it becomes running under this process and unfinished
        steps go back to pending. Compare-and-set on the status/pid ``seen`` by the caller, so
        of two resumes started at once only one wins (False for the other)."""
        now = time.time()
        with self.tx() as c:
            cur = c.execute("UPDATE runs SET status='running', ended_at=NULL, error=NULL, pid=?, host=?, runner_started=?,"
                            " resumes=resumes+1 WHERE run_id=? AND status=? AND pid IS ? AND resumes=?",
                            (os.getpid(), socket.gethostname(), now, run_id, seen["status"], seen["pid"], seen["resumes"]))
            if cur.rowcount != 1:
                return False
            c.execute("UPDATE steps SET status='pending' WHERE run_id=? AND status NOT IN ('succeeded','cached')", (run_id,))
            c.execute("INSERT INTO events (run_id, ts, kind) VALUES (?,?,?)", (run_id, now, "run_resumed"))
        return True

    def finish_run(self, run_id: str, status: str, error: str | None, outputs: Any) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute("UPDATE runs SET status=?, ended_at=?, error=?, outputs=? WHERE run_id=?",
                      (status, now, error, json.dumps(outputs, default=str), run_id))
            c.execute("INSERT INTO events (run_id, ts, kind, message) VALUES (?,?,?,?)", (run_id, now, f"run_{status}", error))

    def set_lineage(self, run_id: str, lineage: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("UPDATE runs SET lineage=? WHERE run_id=?", (json.dumps(lineage, default=str), run_id))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def resolve_run_id(self, prefix: str) -> str | None:
        """The run id starting with ``prefix`` if exactly one matches, or the newest run for
        ``latest``/``last``; None when none; raises on ambiguity. Every command taking a run id uses it."""
        if prefix in LATEST:
            row = self.conn.execute("SELECT run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
            return row["run_id"] if row else None
        rows = self.conn.execute("SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT 2",
                                 (prefix, prefix + "\uffff")).fetchall()
        if len(rows) > 1 and rows[0]["run_id"] != prefix:
            raise UserError(f"run id prefix {prefix!r} is ambiguous ({rows[0]['run_id']}, {rows[1]['run_id']}, ...)")
        return rows[0]["run_id"] if rows else None

    def list_runs(self, limit: int = 20, pipeline: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM runs", []
        where = []
        if pipeline:
            where.append("pipeline=?")
            args.append(pipeline)
        if status:
            where.append("status=?")
            args.append(status)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        return [_run_dict(r) for r in self.conn.execute(query, args).fetchall()]

    # -- steps --------------------------------------------------------------------------
    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM steps WHERE run_id=? ORDER BY position", (run_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["upstream"] = json.loads(d["upstream"] or "[]")
            d["settings"] = json.loads(d["settings"] or "{}")
            d["inputs"] = json.loads(d["inputs"] or "{}")
            d["cached"] = bool(d["cached"])
            out.append(d)
        return out

    def step_started(self, run_id: str, step: str, attempt: int, cache_key: str | None,
                     inputs: dict[str, str] | None = None) -> None:
        """Record an attempt's start; ``inputs`` maps upstream step names to the artifact hashes consumed."""
        now = time.time()
        with self.tx() as c:
            c.execute("UPDATE steps SET status='running', cached=0, attempts=attempts+1, started_at=COALESCE(started_at, ?),"
                      " cache_key=?, inputs=?, error=NULL, traceback=NULL WHERE run_id=? AND name=?",
                      (now, cache_key, json.dumps(inputs or {}), run_id, step))
            c.execute("INSERT INTO events (run_id, step, ts, kind, attempt) VALUES (?,?,?,?,?)",
                      (run_id, step, now, "running", attempt))

    def step_succeeded(self, run_id: str, step: str, *, attempt: int, output: Any, duration_s: float, cpu_s: float | None,
                       peak_rss_mb: float | None, cache_key: str | None, cacheable: bool) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute("UPDATE steps SET status='succeeded', ended_at=?, duration_s=?, cpu_s=?, peak_rss_mb=?,"
                      " output_hash=?, output_kind=? WHERE run_id=? AND name=?",
                      (now, duration_s, cpu_s, peak_rss_mb, output.hash, output.kind, run_id, step))
            c.execute("INSERT OR IGNORE INTO artifacts (hash, kind, type, size, created_at) VALUES (?,?,?,?,?)",
                      (output.hash, output.kind, output.type, output.size, now))
            if cacheable and cache_key:
                c.execute("INSERT OR REPLACE INTO cache (key, hash, kind, run_id, step, created_at) VALUES (?,?,?,?,?,?)",
                          (cache_key, output.hash, output.kind, run_id, step, now))
            c.execute("INSERT INTO events (run_id, step, ts, kind, attempt) VALUES (?,?,?,?,?)",
                      (run_id, step, now, "succeeded", attempt))

    def step_cached(self, run_id: str, step: str, cache_key: str, hit: dict[str, Any],
                    inputs: dict[str, str] | None = None) -> None:
        """Record a cache hit. The producing execution's dataset usage and attachments are
        carried over, so lineage and reports of this run stay complete."""
        now = time.time()
        with self.tx() as c:
            c.execute("UPDATE steps SET status='cached', cached=1, started_at=?, ended_at=?, duration_s=0, cache_key=?,"
                      " output_hash=?, output_kind=?, inputs=? WHERE run_id=? AND name=?",
                      (now, now, cache_key, hit["hash"], hit["kind"], json.dumps(inputs or {}), run_id, step))
            if hit.get("run_id") and hit["run_id"] != run_id:
                c.execute("INSERT OR IGNORE INTO dataset_usage (run_id, step, name, version, ts, latest)"
                          " SELECT ?, ?, name, version, ?, latest FROM dataset_usage WHERE run_id=? AND step=?",
                          (run_id, step, now, hit["run_id"], hit["step"]))
                c.execute("INSERT OR IGNORE INTO attachments (run_id, step, name, hash, kind, created_at)"
                          " SELECT ?, ?, name, hash, kind, ? FROM attachments WHERE run_id=? AND step=?",
                          (run_id, step, now, hit["run_id"], hit["step"]))
            c.execute("INSERT INTO events (run_id, step, ts, kind, message) VALUES (?,?,?,?,?)",
                      (run_id, step, now, "cached", f"from run {hit.get('run_id')} step {hit.get('step')}"))

    def step_failed(self, run_id: str, step: str, *, attempt: int, status: str, error: str, traceback: str | None,
                    duration_s: float | None, cpu_s: float | None = None, peak_rss_mb: float | None = None) -> None:
        """Record a failed attempt; ``status`` is 'retrying', 'failed' or 'cancelled'."""
        now = time.time()
        with self.tx() as c:
            c.execute("UPDATE steps SET status=?, ended_at=?, duration_s=?, cpu_s=?, peak_rss_mb=?, error=?, traceback=?"
                      " WHERE run_id=? AND name=?",
                      (status, now, duration_s, cpu_s, peak_rss_mb, error, traceback, run_id, step))
            c.execute("INSERT INTO events (run_id, step, ts, kind, attempt, message) VALUES (?,?,?,?,?,?)",
                      (run_id, step, now, status, attempt, error))

    def steps_not_run(self, run_id: str, ended: dict[str, tuple[str, str]]) -> None:
        """Close the steps a stopped run left open: ``{name: (status, why)}`` with status
        'skipped' (an upstream did not finish) or 'cancelled' (the run stopped first).
        Only steps still pending or waiting for a retry change."""
        if not ended:
            return
        now = time.time()
        with self.tx() as c:
            for name, (status, why) in ended.items():
                cur = c.execute("UPDATE steps SET status=?, error=?, ended_at=CASE WHEN started_at IS NULL THEN NULL"
                                " ELSE ? END WHERE run_id=? AND name=? AND status IN ('pending','retrying')",
                                (status, why, now, run_id, name))
                if cur.rowcount:
                    c.execute("INSERT INTO events (run_id, step, ts, kind, message) VALUES (?,?,?,?,?)",
                              (run_id, name, now, status, why))

    def log(self, run_id: str, step: str | None, message: str, kind: str = "log") -> None:
        with self.tx() as c:
            c.execute("INSERT INTO events (run_id, step, ts, kind, message) VALUES (?,?,?,?,?)",
                      (run_id, step, time.time(), kind, message))

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM events WHERE run_id=? ORDER BY id", (run_id,))]

    # -- cache ----------------------------------------------------------------------------
    def cache_lookup(self, key: str) -> dict[str, Any] | None:
        """The cached output for a cache key: hash, kind, and the run/step that produced it."""
        row = self.conn.execute("SELECT hash, kind, run_id, step FROM cache WHERE key=?", (key,)).fetchone()
        return dict(row) if row else None

    # -- attachments and checkpoints ----------------------------------------------------
    def add_attachment(self, run_id: str, step: str, name: str, ref: Any) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute("INSERT OR IGNORE INTO artifacts (hash, kind, type, size, created_at) VALUES (?,?,?,?,?)",
                      (ref.hash, ref.kind, ref.type, ref.size, now))
            c.execute("INSERT OR REPLACE INTO attachments (run_id, step, name, hash, kind, created_at) VALUES (?,?,?,?,?,?)",
                      (run_id, step, name, ref.hash, ref.kind, now))

    def attachments(self, run_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(
            "SELECT * FROM attachments WHERE run_id=? ORDER BY created_at", (run_id,))]

    def save_checkpoint(self, run_id: str, step: str, ref: Any) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute("INSERT OR IGNORE INTO artifacts (hash, kind, type, size, created_at) VALUES (?,?,?,?,?)",
                      (ref.hash, ref.kind, ref.type, ref.size, now))
            c.execute("INSERT OR REPLACE INTO checkpoints (run_id, step, hash, kind, created_at) VALUES (?,?,?,?,?)",
                      (run_id, step, ref.hash, ref.kind, now))

    def checkpoint(self, run_id: str, step: str) -> str | None:
        row = self.conn.execute("SELECT hash FROM checkpoints WHERE run_id=? AND step=?", (run_id, step)).fetchone()
        return row["hash"] if row else None

    # -- datasets and lineage ---------------------------------------------------------------
    def add_dataset(self, name: str, version: str, ref: Any, source: str, files: int) -> bool:
        """Register a dataset version; False when that exact version already exists."""
        now = time.time()
        with self.tx() as c:
            c.execute("INSERT OR IGNORE INTO artifacts (hash, kind, type, size, created_at) VALUES (?,?,?,?,?)",
                      (ref.hash, ref.kind, ref.type, ref.size, now))
            cur = c.execute("INSERT OR IGNORE INTO datasets (name, version, hash, kind, source, size, files, created_at)"
                            " VALUES (?,?,?,?,?,?,?,?)", (name, version, ref.hash, ref.kind, source, ref.size, files, now))
            return cur.rowcount == 1

    def datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        if name:
            rows = self.conn.execute("SELECT * FROM datasets WHERE name=? ORDER BY created_at DESC, rowid DESC", (name,))
        else:
            rows = self.conn.execute("SELECT * FROM datasets ORDER BY name, created_at DESC, rowid DESC")
        return [dict(r) for r in rows]

    def record_dataset_usage(self, run_id: str, step: str, name: str, version: str, latest: bool = False) -> None:
        """Record that a step consumed ``name@version``; ``latest`` = it asked for the newest version
        (unpinned), so its cached result is only valid while that is still the newest version."""
        with self.tx() as c:
            c.execute("INSERT OR IGNORE INTO dataset_usage (run_id, step, name, version, ts, latest) VALUES (?,?,?,?,?,?)",
                      (run_id, step, name, version, time.time(), int(latest)))
            if latest:
                c.execute("UPDATE dataset_usage SET latest=1 WHERE run_id=? AND step=? AND name=? AND version=?",
                          (run_id, step, name, version))

    def stale_latest_reads(self, run_id: str, step: str) -> list[str]:
        """Unpinned dataset reads of an execution whose dataset has a newer version now ("name@old")."""
        rows = self.conn.execute("SELECT name, version FROM dataset_usage WHERE run_id=? AND step=? AND latest=1",
                                 (run_id, step)).fetchall()
        stale = []
        for row in rows:
            newest = self.conn.execute("SELECT version FROM datasets WHERE name=? ORDER BY created_at DESC, rowid DESC"
                                       " LIMIT 1", (row["name"],)).fetchone()
            if newest is not None and newest["version"] != row["version"]:
                stale.append(f"{row['name']}@{row['version']}")
        return stale

    def dataset_usage(self, run_id: str | None = None, name: str | None = None, version: str | None = None) -> list[dict[str, Any]]:
        """Dataset reads (with the version's full content hash), filtered by run and/or dataset version."""
        query = ("SELECT u.*, d.hash AS hash FROM dataset_usage u"
                 " LEFT JOIN datasets d ON d.name = u.name AND d.version = u.version")
        args, where = [], []
        for col, val in (("u.run_id", run_id), ("u.name", name), ("u.version", version)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        if where:
            query += " WHERE " + " AND ".join(where)
        return [dict(r) for r in self.conn.execute(query + " ORDER BY u.ts", args)]

    def record_model(self, model: str, version: str, run_id: str | None, step: str | None, artifact: str | None) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO model_versions (model, version, run_id, step, artifact, created_at)"
                      " VALUES (?,?,?,?,?,?)", (model, version, run_id, step, artifact, time.time()))

    def model_version(self, model: str, version: str) -> dict[str, Any] | None:
        """The lineage link of a model version (run, step, artifact), or None."""
        row = self.conn.execute("SELECT * FROM model_versions WHERE model=? AND version=?", (model, version)).fetchone()
        return dict(row) if row else None

    def recorded_versions(self, model: str) -> list[str]:
        """The versions of ``model`` with a lineage link, oldest first."""
        return [r["version"] for r in self.conn.execute(
            "SELECT version FROM model_versions WHERE model=? ORDER BY created_at, rowid", (model,))]

    def models_of_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        if not run_ids:
            return []
        marks = ",".join("?" * len(run_ids))
        return [dict(r) for r in self.conn.execute(
            f"SELECT * FROM model_versions WHERE run_id IN ({marks}) ORDER BY created_at", run_ids)]


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["params"] = json.loads(d["params"] or "{}")
    d["lineage"] = json.loads(d["lineage"] or "{}")
    d["outputs"] = json.loads(d["outputs"]) if d["outputs"] else None
    d["use_cache"] = bool(d["use_cache"])
    return d
