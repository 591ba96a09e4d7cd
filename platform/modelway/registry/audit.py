"""Append-only, hash-chained audit log of registry and approval events (in the registry's SQLite).

Every entry stores the hash of its predecessor and its own hash over (seq, time, actor,
event, model, version, payload, previous hash). SQLite triggers refuse UPDATE and DELETE
on the table, and a separate head record (last seq + hash) is written in the same
transaction as each append. :func:`verify_chain` recomputes the chain and reports:

* a **modified** entry (its stored hash no longer matches its content),
* a **deleted** entry in the middle (a gap in ``seq`` / a broken ``prev_hash`` link),
* deleted **trailing** entries (the head record points past the last entry).

Example:
    >>> import sqlite3
    >>> db = sqlite3.connect(":memory:"); ensure_schema(db)
    >>> _ = append(db, actor="alice", event="registered", model="m", version="1.0.0", payload={})
    >>> verify_chain(db).ok
    True
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


@dataclass
class AuditEntry:
    """One audit event as stored."""

    seq: int
    ts: str
    actor: str
    event: str
    model: str
    version: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_chain`: ``ok`` and a list of problems, one line each."""

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    head: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "problems": self.problems, "head": self.head}


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create the audit tables and the append-only triggers if missing."""
    db.executescript(SCHEMA)


def entry_hash(seq: int, ts: str, actor: str, event: str, model: str, version: str, payload: str, prev_hash: str) -> str:
    """sha256 over the canonical JSON of an entry's fields (the chain link)."""
    canonical = json.dumps([seq, ts, actor, event, model, version, payload, prev_hash], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(db: sqlite3.Connection, *, actor: str, event: str, model: str, version: str, payload: dict[str, Any]) -> AuditEntry:
    """Append one event; the caller's transaction makes it atomic with the change it records."""
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    ts = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    body = json.dumps(payload, sort_keys=True, default=str)
    digest = entry_hash(seq, ts, actor, event, model, version, body, prev)
    db.execute(
        "INSERT INTO audit_log (seq, ts, actor, event, model, version, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
        (seq, ts, actor, event, model, version, body, prev, digest),
    )
    db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
    return AuditEntry(seq, ts, actor, event, model, version, payload, prev, digest)


def entries(db: sqlite3.Connection, *, model: str | None = None, version: str | None = None) -> list[AuditEntry]:
    """Audit entries in order, optionally for one model (and version)."""
    sql, args = "SELECT seq, ts, actor, event, model, version, payload, prev_hash, hash FROM audit_log", []
    clauses = []
    if model is not None:
        clauses.append("model = ?"), args.append(model)
    if version is not None:
        clauses.append("version = ?"), args.append(version)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    rows = db.execute(sql + " ORDER BY seq", args).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8]) for r in rows]


def verify_chain(db: sqlite3.Connection) -> VerifyResult:
    """Recompute the chain; every edit or deletion shows up as a problem line.

    Example:
        >>> import sqlite3
        >>> db = sqlite3.connect(":memory:"); ensure_schema(db)
        >>> verify_chain(db).problems
        []
    """
    rows = db.execute("SELECT seq, ts, actor, event, model, version, payload, prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    problems: list[str] = []
    expected_seq, prev_hash = 1, GENESIS
    for seq, ts, actor, event, model, version, payload, stored_prev, stored_hash in rows:
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            problems.append(f"entry {missing} deleted: sequence jumps from {expected_seq - 1} to {seq}")
        if stored_prev != prev_hash:
            problems.append(f"entry {seq} ({event} {model} {version}): link to the previous entry is broken (an entry before it was deleted or altered)")
        if entry_hash(seq, ts, actor, event, model, version, payload, stored_prev) != stored_hash:
            problems.append(f"entry {seq} ({event} {model} {version}) was modified: its content no longer matches its hash")
        expected_seq, prev_hash = seq + 1, stored_hash
    last_seq = rows[-1][0] if rows else 0
    if head is None and rows:
        problems.append("audit head record is missing (it was deleted)")
    elif head is not None:
        if head[0] > last_seq:
            problems.append(f"entries {last_seq + 1}..{head[0]} deleted: the head records {head[0]} entries, the log ends at {last_seq}")
        elif head[0] < last_seq or head[1] != prev_hash:
            problems.append(f"audit head (seq {head[0]}) does not match the last entry (seq {last_seq}): entries were appended or altered outside the registry")
    return VerifyResult(ok=not problems, entries=len(rows), problems=problems, head={"seq": head[0], "hash": head[1]} if head else None)
