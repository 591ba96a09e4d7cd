"""One way to open the embedded SQLite databases: WAL mode, a 30 s busy timeout, and a
first open that survives company.

Switching a database to WAL needs an exclusive lock, and SQLite does not wait for that lock
through the busy handler: when several processes or threads open a *new* database at once
(four concurrent ``modelway run``\\ s registering models, a server and a deploy command),
``PRAGMA journal_mode=WAL`` fails at once with "database is locked", or leaves the mode
unchanged. The switch is retried here with a short, jittered backoff; everything after it
waits through the busy timeout as usual.

Example:
    >>> import tempfile, pathlib
    >>> with connect_wal(pathlib.Path(tempfile.mkdtemp()) / "x.db") as db:
    ...     db.execute("PRAGMA journal_mode").fetchone()[0]
    'wal'
"""
from __future__ import annotations

import random
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

BUSY_TIMEOUT_S = 30
_SWITCH_ATTEMPTS = 200


@contextmanager
def connect_wal(path: Path, *, row_factory: Any = None) -> Iterator[sqlite3.Connection]:
    """An autocommit connection to ``path`` in WAL mode (``BEGIN IMMEDIATE`` for a write transaction);
    closed on exit."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        switch_to_wal(db, path)
        if row_factory is not None:
            db.row_factory = row_factory
        yield db
    finally:
        db.close()


def switch_to_wal(db: sqlite3.Connection, path: Path) -> None:
    """Put ``db`` in WAL mode, retrying while another connection holds the lock the switch needs."""
    for attempt in range(_SWITCH_ATTEMPTS):
        try:
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        time.sleep(min(0.2, 0.005 * (attempt + 1)) * (0.5 + random.random()))
    raise sqlite3.OperationalError(f"database is locked: {path} could not be switched to WAL mode "
                                   f"after {_SWITCH_ATTEMPTS} attempts")
