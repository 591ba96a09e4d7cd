"""Defects found by a new-user trial: each test failed before its fix."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from core_helpers import cli, write_pipeline


@pytest.mark.parametrize("command", [("runs", "list"), ("runs", "show", "latest")])
def test_corrupt_run_store_is_a_one_line_user_error(home: Path, command: tuple[str, ...]) -> None:
    home.mkdir(parents=True)
    db = home / "modelway.db"
    db.write_bytes(os.urandom(4096))
    proc = cli(*command, home=home)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert str(db) in line and "not a Modelway run store" in line and "move it aside" in line


MIXED_FAILURE = """
import os, time
from modelway import pipeline, step

@step(timeout="1s", retries=1, retry_delay="0s")
def sleeper() -> int:
    time.sleep(30)
    return 1

@step(memory="200Mi")
def hog() -> int:
    block = bytearray(400 * 2**20)  # zero-filled: really resident
    time.sleep(30)
    return len(block)

@step
def after_hog(n: int) -> int:
    return n

@step
def crash() -> int:
    os._exit(3)

@pipeline(workers=2)
def mixed() -> dict:
    return {"a": sleeper(), "b": after_hog(hog()), "c": crash()}
"""


def test_failed_run_leaves_every_step_in_a_terminal_state(home: Path, tmp_path: Path) -> None:
    from core_helpers import cli_json

    path = write_pipeline(tmp_path, MIXED_FAILURE)
    doc = cli_json("run", str(path), home=home, ok_codes=(1,))
    assert doc["status"] == "failed" and "memory limit" in doc["error"]
    show = cli_json("runs", "show", doc["run_id"], home=home)
    steps = {s["name"]: s for s in show["steps"]}
    assert steps["hog"]["status"] == "failed"
    # stopped between attempts because the run failed: not "retrying" forever
    assert steps["sleeper"]["status"] == "cancelled"
    assert "not retried" in steps["sleeper"]["error"] and "'hog'" in steps["sleeper"]["error"]
    # never started, and nothing it depends on failed: cancelled, not skipped
    assert steps["crash"]["status"] == "cancelled"
    assert steps["crash"]["attempts"] == 0 and "'hog'" in steps["crash"]["error"]
    # never started because its upstream failed
    assert steps["after_hog"]["status"] == "skipped"
    assert "upstream step 'hog' failed" in steps["after_hog"]["error"]
    assert {s["status"] for s in doc["steps"]} <= {"failed", "cancelled", "skipped", "succeeded"}
    assert {s["name"]: s["status"] for s in doc["steps"]} == {n: s["status"] for n, s in steps.items()}
