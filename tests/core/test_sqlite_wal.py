"""The one way the embedded stores open SQLite: concurrent first opens of a new database all succeed."""
from __future__ import annotations

import threading
from pathlib import Path

from modelway.sqlite_wal import connect_wal


def test_many_threads_opening_a_new_database_at_once_all_get_wal(tmp_path: Path) -> None:
    # the plain connect + PRAGMA journal_mode=WAL lost this race about once in 20 new databases
    for trial in range(20):
        _open_new_database_from_12_threads(tmp_path / f"new-{trial}.db")


def _open_new_database_from_12_threads(path: Path) -> None:
    start, errors, modes = threading.Barrier(12), [], []

    def open_and_write(i: int) -> None:
        try:
            start.wait()
            with connect_wal(path) as db:
                modes.append(db.execute("PRAGMA journal_mode").fetchone()[0])
                db.execute("CREATE TABLE IF NOT EXISTS t (i INTEGER)")
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO t VALUES (?)", (i,))
                db.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert modes == ["wal"] * 12
    with connect_wal(path) as db:
        assert sorted(r[0] for r in db.execute("SELECT i FROM t")) == list(range(12))
