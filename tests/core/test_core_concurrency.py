"""8 runs at once on one $MODELWAY_HOME: every run and artifact recorded, nothing corrupted."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from core_helpers import MODELWAY, REPO, write_pipeline

PIPE = """
from modelway import pipeline, step, step_context

@step
def make(seed: int) -> list[int]:
    return [seed * i for i in range(50)]

@step
def stat(values: list[int], k: int) -> int:
    step_context().log(f"k={k}")
    return sum(values) + k

@step
def join(parts: list[int]) -> int:
    return sum(parts)

@pipeline
def conc(seed: int = 0) -> int:
    values = make(seed)
    return join([stat(values, k) for k in range(4)])
"""


def test_eight_concurrent_runs(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, PIPE)
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    # seeds repeat so that concurrent runs also race on the same cache keys and artifacts
    seeds = [0, 1, 2, 3, 0, 1, 2, 3]
    procs = [subprocess.Popen([*MODELWAY, "run", str(path), "--param", f"seed={s}", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in seeds]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        docs.append(json.loads(out))
    for seed, doc in zip(seeds, docs):
        assert doc["status"] == "succeeded"
        assert doc["outputs"] == {"result": 4 * seed * sum(range(50)) + sum(range(4))}

    conn = sqlite3.connect(home / "modelway.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    runs = conn.execute("SELECT run_id, status FROM runs").fetchall()
    assert sorted(r for r, _ in runs) == sorted(d["run_id"] for d in docs)
    assert {s for _, s in runs} == {"succeeded"}
    steps = conn.execute("SELECT run_id, status, output_hash FROM steps").fetchall()
    assert len(steps) == 8 * 6
    for run_id, status, digest in steps:
        assert status in ("succeeded", "cached")
        assert (home / "artifacts" / digest[:2] / digest / "meta.json").exists()
        assert conn.execute("SELECT kind FROM artifacts WHERE hash=?", (digest,)).fetchone() is not None
    logs = conn.execute("SELECT COUNT(*) FROM events WHERE kind='log'").fetchone()[0]
    executed = conn.execute("SELECT COUNT(*) FROM steps WHERE name LIKE 'stat%' AND status='succeeded'").fetchone()[0]
    assert logs == executed
    assert list((home / "tmp").iterdir()) == []


def test_an_older_run_store_is_migrated_in_place(tmp_path: Path) -> None:
    from modelway.store import runs

    old_schema = (runs.SCHEMA.replace(", inputs TEXT,", ",").replace(", runner_started REAL);", ");")
                  .replace("  latest INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, step, name, version));",
                           "  PRIMARY KEY (run_id, step, name, version));"))
    assert old_schema != runs.SCHEMA
    conn = sqlite3.connect(tmp_path / "modelway.db")
    conn.executescript(old_schema)
    conn.execute("INSERT INTO runs (run_id, pipeline, status, created_at) VALUES ('old', 'p', 'succeeded', 0)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = runs.RunStore(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == runs.SCHEMA_VERSION
    columns = {r[1] for r in store.conn.execute("PRAGMA table_info(steps)")}
    assert "inputs" in columns
    assert "runner_started" in {r[1] for r in store.conn.execute("PRAGMA table_info(runs)")}
    assert "latest" in {r[1] for r in store.conn.execute("PRAGMA table_info(dataset_usage)")}
    assert store.get_run("old")["status"] == "succeeded"  # data kept
