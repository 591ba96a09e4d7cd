"""Append-only, hash-chained audit log of registry and approval events (in the registry's SQLite).

Every entry stores the hash of its predecessor and its own hash over (seq, time, actor,
event, model, version, payload, previous hash). SQLite triggers refuse UPDATE and DELETE
on the table, and a separate head record (last seq + hash) is written in the same
transaction as each append. :func:`verify_chain` recomputes the chain and reports:

* a **modified** entry (its stored hash no longer matches its content),
* a **deleted** entry in the middle (a gap in ``seq`` / a broken ``prev_hash`` link),
* deleted **trailing** entries (the head record points past the last entry).

With an :class:`~modelway.registry.anchor.AuditAnchor` (the registry always passes one), each
entry is also signed with a key kept outside the database and the head is mirrored to a
witness file, so a chain rewritten *consistently* (every later hash and the head recomputed)
fails too: its signatures do not match without the key.

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

from modelway.registry.anchor import AuditAnchor, sign, signature_ok
from modelway.registry.base import RegistryError

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
    hash TEXT NOT NULL,
    mac TEXT
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
    mac: str | None = None


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
    """Create the audit tables and the append-only triggers if missing (and add the ``mac``
    column to a log created before entries were signed)."""
    db.executescript(SCHEMA)
    if "mac" not in {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}:
        db.execute("ALTER TABLE audit_log ADD COLUMN mac TEXT")


def entry_hash(seq: int, ts: str, actor: str, event: str, model: str, version: str, payload: str, prev_hash: str) -> str:
    """sha256 over the canonical JSON of an entry's fields (the chain link)."""
    canonical = json.dumps([seq, ts, actor, event, model, version, payload, prev_hash], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(db: sqlite3.Connection, *, actor: str, event: str, model: str, version: str, payload: dict[str, Any],
           anchor: AuditAnchor | None = None) -> AuditEntry:
    """Append one event; the caller's transaction makes it atomic with the change it records.

    With ``anchor`` the entry is signed and the witness file updated (the caller restores the
    witness if its transaction rolls back); the key is created on the first signed event."""
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    ts = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    body = json.dumps(payload, sort_keys=True, default=str)
    digest = entry_hash(seq, ts, actor, event, model, version, body, prev)
    mac = None
    if anchor is not None:
        key = anchor.key()
        if key is None:
            if db.execute("SELECT 1 FROM audit_log WHERE mac IS NOT NULL LIMIT 1").fetchone():
                raise RegistryError(f"the audit key {anchor.key_file} is missing but the audit log is signed with it; "
                                    "restore the key file (nothing was written)")
            key = anchor.create_key()
        mac = sign(key, seq, digest)
    db.execute(
        "INSERT INTO audit_log (seq, ts, actor, event, model, version, payload, prev_hash, hash, mac)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (seq, ts, actor, event, model, version, body, prev, digest, mac),
    )
    db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))
    if anchor is not None and mac is not None:
        anchor.write_witness(seq, digest, mac)
    return AuditEntry(seq, ts, actor, event, model, version, payload, prev, digest, mac)


def entries(db: sqlite3.Connection, *, model: str | None = None, version: str | None = None) -> list[AuditEntry]:
    """Audit entries in order, optionally for one model (and version)."""
    sql, args = "SELECT seq, ts, actor, event, model, version, payload, prev_hash, hash, mac FROM audit_log", []
    clauses = []
    if model is not None:
        clauses.append("model = ?"), args.append(model)
    if version is not None:
        clauses.append("version = ?"), args.append(version)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    rows = db.execute(sql + " ORDER BY seq", args).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9]) for r in rows]


def verify_chain(db: sqlite3.Connection, anchor: AuditAnchor | None = None) -> VerifyResult:
    """Recompute the chain; every edit or deletion shows up as a problem line. With ``anchor``,
    check every signature and the witnessed head too (a consistently rewritten chain fails).

    Example:
        >>> import sqlite3
        >>> db = sqlite3.connect(":memory:"); ensure_schema(db)
        >>> verify_chain(db).problems
        []
    """
    rows = db.execute("SELECT seq, ts, actor, event, model, version, payload, prev_hash, hash, mac FROM audit_log"
                      " ORDER BY seq").fetchall()
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    problems: list[str] = []
    expected_seq, prev_hash = 1, GENESIS
    for seq, ts, actor, event, model, version, payload, stored_prev, stored_hash, _mac in rows:
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
    if anchor is not None:
        problems.extend(_anchor_problems(rows, anchor))
    return VerifyResult(ok=not problems, entries=len(rows), problems=problems, head={"seq": head[0], "hash": head[1]} if head else None)


def _anchor_problems(rows: list[tuple], anchor: AuditAnchor) -> list[str]:
    """What the key and the witness file say about the stored chain."""
    if not rows:
        return []
    key = anchor.key()
    if key is None:
        signed = any(row[9] is not None for row in rows)
        return [f"the audit key {anchor.key_file} is missing: " + (
            "the log is signed with it, so its signatures cannot be checked (restore the key)" if signed else
            "the log is not anchored (a home from before signing, or the key and signatures were removed); "
            "the next registry event anchors it")]
    problems: list[str] = []
    seen_signed = False
    by_seq = {row[0]: row for row in rows}
    for seq, _ts, _actor, event, model, version, _payload, _prev, digest, mac in rows:
        if mac is None:
            if seen_signed:
                problems.append(f"entry {seq} ({event} {model} {version}) is not signed: it was written outside the registry")
            continue
        seen_signed = True
        if not signature_ok(key, seq, digest, mac):
            problems.append(f"entry {seq} ({event} {model} {version}): its signature does not match the audit key "
                            "(the chain was rewritten)")
    if not seen_signed:
        problems.append("no audit entry is signed although the audit key exists (the log was replaced)")
    witness = anchor.witness()
    if witness is None:
        problems.append(f"the audit head witness {anchor.witness_file} is missing (deleted)")
    elif not isinstance(witness.get("seq"), int) or not isinstance(witness.get("hash"), str):
        problems.append(f"the audit head witness {anchor.witness_file} is unreadable")
    elif not signature_ok(key, witness["seq"], witness["hash"], witness.get("mac")):
        problems.append(f"the audit head witness {anchor.witness_file} is not signed with the audit key (edited)")
    elif witness["seq"] not in by_seq:
        problems.append(f"entries up to {witness['seq']} were witnessed but the log ends at {rows[-1][0]} "
                        "(newest entries deleted)")
    elif by_seq[witness["seq"]][8] != witness["hash"]:
        problems.append(f"entry {witness['seq']} differs from the witnessed head (the chain was rewritten)")
    return problems
