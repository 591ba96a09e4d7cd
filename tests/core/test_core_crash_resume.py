"""Crash safety: kill -9 or Ctrl-C a real `modelway run`, then `modelway resume` finishes it consistently."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from core_helpers import MODELWAY, REPO, cli, cli_json, write_pipeline

SLOW = """
import time
from pathlib import Path
from modelway import pipeline, step

MARKS = Path({marks!r})

@step
def stage(x: int, i: int) -> int:
    (MARKS / f"start-{{i}}").write_text("")
    time.sleep(0.25)
    return x * 2 + i

@pipeline
def slow(start: int = 1) -> int:
    x = start
    for i in range(6):
        x = stage(x, i)
    return x
"""


def _expected() -> int:
    x = 1
    for i in range(6):
        x = x * 2 + i
    return x


def _start(path: Path, home: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    return subprocess.Popen([*MODELWAY, "run", str(path), "--plain", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def _run_id(home: Path) -> str:
    conn = sqlite3.connect(home / "modelway.db")
    (run_id,) = conn.execute("SELECT run_id FROM runs").fetchone()
    conn.close()
    return run_id


def _assert_consistent(home: Path, run_id: str) -> None:
    conn = sqlite3.connect(home / "modelway.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT name, status, output_hash FROM steps WHERE run_id=?", (run_id,)).fetchall()
    assert rows and all(status in ("succeeded", "cached") for _, status, _ in rows), rows
    for name, _, digest in rows:
        assert (home / "artifacts" / digest[:2] / digest / "meta.json").exists(), name
        assert conn.execute("SELECT 1 FROM artifacts WHERE hash=?", (digest,)).fetchone(), name
    conn.close()
    leftovers = list((home / "tmp").iterdir())
    assert leftovers == [], leftovers


@pytest.mark.parametrize("executor", ["process", "inprocess"])
def test_kill_9_then_resume_completes_with_the_same_outputs(home: Path, tmp_path: Path, executor: str) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(tmp_path, SLOW.format(marks=str(marks)))
    extra = ("--in-process",) if executor == "inprocess" else ()
    proc = _start(path, home, *extra)
    _wait_for(marks / "start-3")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    run_id = _run_id(home)

    listed = cli_json("runs", "list", home=home)
    assert listed[0]["status"] == "interrupted"  # the runner is gone
    assert [r["run_id"] for r in cli_json("runs", "list", "--status", "interrupted", home=home)] == [run_id]
    assert cli_json("runs", "list", "--status", "running", home=home) == []

    resumed = cli_json("resume", run_id[:12], *extra, home=home)
    assert resumed["status"] == "succeeded"
    assert resumed["run_id"] == run_id
    assert resumed["outputs"] == {"result": _expected()}
    by_name = {s["name"]: s for s in resumed["steps"]}
    # stages 0..2 finished before the kill and were reused, not re-executed
    assert [by_name[n]["status"] for n in ("stage", "stage_2", "stage_3")] == ["reused"] * 3
    assert by_name["stage_6"]["status"] == "succeeded"
    _assert_consistent(home, run_id)

    show = cli_json("runs", "show", run_id, home=home)
    assert show["status"] == "succeeded" and show["resumes"] == 1


@pytest.mark.parametrize("executor", ["process", "inprocess"])
def test_ctrl_c_cancels_cleanly_and_resume_finishes(home: Path, tmp_path: Path, executor: str) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(tmp_path, SLOW.format(marks=str(marks)))
    extra = ("--in-process",) if executor == "inprocess" else ()
    proc = _start(path, home, *extra)
    _wait_for(marks / "start-2")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    run_id = _run_id(home)
    show = cli_json("runs", "show", run_id, home=home)
    assert show["status"] == "cancelled"
    statuses = {s["name"]: s["status"] for s in show["steps"]}
    assert statuses["stage_3"] == "cancelled"
    assert statuses["stage_6"] == "skipped"
    assert list((home / "tmp").iterdir()) == []
    resumed = cli_json("resume", run_id, home=home)
    assert resumed["outputs"] == {"result": _expected()}
    _assert_consistent(home, run_id)


def test_resume_of_a_succeeded_run_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(tmp_path, SLOW.replace("range(6)", "range(1)").format(marks=str(marks)))
    doc = cli_json("run", str(path), "--in-process", home=home)
    proc = cli("resume", doc["run_id"], home=home, real=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: run {doc['run_id']} already succeeded; nothing to resume"
    proc = cli("resume", "nope", home=home)
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr


def test_json_document_shape(home: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(tmp_path, SLOW.replace("range(6)", "range(2)").format(marks=str(marks)))
    proc = cli("run", str(path), "--json", home=home, real=True)
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"run_id", "status", "steps", "outputs"}
    assert set(doc["steps"][0]) >= {"name", "status", "cached", "attempts", "duration_s"}
    assert doc["steps"][0]["attempts"] == 1 and doc["steps"][0]["duration_s"] >= 0.25


def test_resume_continues_a_killed_step_from_its_checkpoint(home: Path, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = write_pipeline(tmp_path, f"""
        import time
        from pathlib import Path
        from modelway import pipeline, step, step_context

        MARKS = Path({str(marks)!r})

        @step
        def train(epochs: int) -> int:
            ctx = step_context()
            start = ctx.load_checkpoint() or 0
            (MARKS / f"resumed-from-{{start}}").write_text("")
            total = 0
            for epoch in range(start, epochs):
                time.sleep(0.1)
                ctx.save_checkpoint(epoch + 1)
                (MARKS / f"epoch-{{epoch + 1}}").write_text("")
            return epochs

        @pipeline
        def long(epochs: int = 12) -> int:
            return train(epochs)
    """)
    proc = _start(path, home)
    _wait_for(marks / "epoch-4")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    resumed = cli_json("resume", _run_id(home), home=home)
    assert resumed["outputs"] == {"result": 12}
    starts = sorted(int(p.name.rsplit("-", 1)[1]) for p in marks.glob("resumed-from-*"))
    assert starts[0] == 0 and starts[1] >= 4  # the second execution continued, not restarted


def test_liveness_of_a_running_run_uses_pid_and_process_start_time(home: Path, tmp_path: Path) -> None:
    from modelway.runtime.context import stores
    from modelway.runtime.runner import runner_alive

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.05)
        started_before = time.time() - 100  # the run claims to have started long before `sleep`
        run = {"pid": sleeper.pid, "host": None, "runner_started": started_before}
        assert runner_alive(run) is False  # the pid was recycled: not our runner
        run["runner_started"] = time.time()
        assert runner_alive(run) is True
        run_store, _ = stores(home)
        run_store.create_run("r-live", "p", str(tmp_path / "p.py"), {}, "process", True, {}, [])
        run_store.conn.execute("UPDATE runs SET pid=?, runner_started=? WHERE run_id='r-live'", (sleeper.pid, time.time()))
        proc = cli("resume", "r-live", home=home)
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"error: run r-live is still running (pid {sleeper.pid}); wait for it or stop it first"
        assert cli_json("runs", "list", home=home)[0]["status"] == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert cli_json("runs", "list", home=home)[0]["status"] == "interrupted"


def test_resume_notes_a_changed_pipeline_file(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        @step
        def boom() -> int:
            raise RuntimeError("not yet")

        @pipeline
        def p() -> int:
            return boom()
    """)
    proc = cli("run", str(path), "--in-process", "--plain", home=home)
    run_id = proc.stdout.split()[1].rstrip(":")
    path.write_text(path.read_text().replace('raise RuntimeError("not yet")', "return 7"))
    proc = cli("resume", run_id, "--in-process", "--plain", home=home)
    assert proc.returncode == 0, proc.stderr
    assert f"note: {path} changed since run {run_id} started; unfinished steps run the current code" in proc.stderr
    assert cli_json("runs", "show", run_id, home=home)["outputs"] == {"result": 7}


def test_two_resumes_at_once_only_one_takes_the_run(home: Path, tmp_path: Path) -> None:
    from modelway.runtime.context import stores

    run_store, _ = stores(home)
    run_store.create_run("r-race", "p", str(tmp_path / "p.py"), {}, "process", True, {}, [])
    run_store.conn.execute("UPDATE runs SET status='failed'")
    seen = run_store.get_run("r-race")
    assert run_store.reopen_run("r-race", seen) is True
    assert run_store.reopen_run("r-race", seen) is False  # the second one saw the old state
    assert run_store.get_run("r-race")["resumes"] == 1
