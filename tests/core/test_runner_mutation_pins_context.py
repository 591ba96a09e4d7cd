"""Mutation pins for modelway.runtime.context (what a step can ask the runtime for) and
modelway.runtime.run_details (what ``runs show`` knows about a run).

The context is used as a step uses it, on a run recorded by the in-process runner; every
effect is read back from the run store (checkpoints, attachments, logs, dataset usage).
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from modelway import pipeline, run_pipeline, step
from modelway.errors import UserError
from modelway.runtime import context
from modelway.runtime.context import StepContext, step_context, stores
from modelway.runtime.run_details import effective_status, run_details


@step
def one() -> int:
    step_context().log("hello from one")
    return 1


@pipeline
def single() -> int:
    return one()


@pytest.fixture
def ctx(home: Path) -> StepContext:
    result = run_pipeline(single, {}, executor="inprocess", display="none", home=home)
    return StepContext(run_id=result.run_id, step_name="one", pipeline_name="single", home=home, params={})


def test_context_defaults_and_outside_a_step() -> None:
    c = StepContext("r", "s", "p", Path("/tmp"), {})
    assert (c.attempt, c.echo) == (1, None)
    assert context.current_or_none() is None
    with pytest.raises(UserError, match=r"^step_context\(\) is only available inside a running step "
                                        r"\(called from a @step function\)$"):
        step_context()
    token = context.activate(c)
    try:
        assert step_context() is c and context.current_or_none() is c
    finally:
        context.deactivate(token)
    assert context.current_or_none() is None


def test_checkpoints_round_trip_and_a_bad_one_is_dropped(ctx: StepContext) -> None:
    seen: list[tuple[str, str]] = []
    ctx.echo = lambda step_name, message: seen.append((step_name, message))
    assert ctx.load_checkpoint() is None
    digest = ctx.save_checkpoint({"epoch": 3})
    run_store, artifacts = stores(ctx.home)
    assert run_store.checkpoint(ctx.run_id, "one") == digest
    assert ctx.load_checkpoint() == {"epoch": 3}
    path = artifacts.data_path(digest)
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    assert ctx.load_checkpoint() is None
    assert len(seen) == 1 and seen[0][0] == "one"
    assert seen[0][1].startswith(f"warning: checkpoint {digest[:12]} is unusable (") and seen[0][1].endswith(
        "); starting without it")
    assert not artifacts.exists(digest)  # quarantined
    assert (ctx.home / "quarantine").is_dir()
    logs = [e["message"] for e in run_store.events(ctx.run_id) if e["kind"] == "log" and e["step"] == "one"]
    assert logs == ["hello from one", seen[0][1]]
    assert ctx.load_checkpoint() is None  # gone: a miss, still no error


def test_attach_stores_values_files_and_text(ctx: StepContext, tmp_path: Path) -> None:
    run_store, artifacts = stores(ctx.home)
    value = ctx.attach("metrics", {"auc": 0.9})
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    as_file = ctx.attach("report", str(report))
    as_path = ctx.attach("report-path", report)
    not_a_path = ctx.attach("note", "no/such/file.txt")
    text = ctx.attach_text("summary.md", "# Summary")
    txt = ctx.attach_text("plain", "hello", suffix=".txt")
    rows = {a["name"]: a for a in run_store.attachments(ctx.run_id)}
    assert {n: (r["hash"], r["step"]) for n, r in rows.items()} == {
        "metrics": (value, "one"), "report": (as_file, "one"), "report-path": (as_path, "one"),
        "note": (not_a_path, "one"), "summary.md": (text, "one"), "plain": (txt, "one")}
    assert as_file == as_path
    assert artifacts.get(not_a_path) == "no/such/file.txt"
    assert rows["report"]["kind"] == "file" and rows["note"]["kind"] != "file"
    assert artifacts.data_path(text).name == "data.md" and artifacts.get(text) == "# Summary"
    assert artifacts.data_path(txt).name == "data.txt"
    long_name = "x" * 4096
    assert artifacts.get(ctx.attach("long", long_name)) == long_name  # too long to be a path: a value


def test_attach_text_errors_name_the_step_and_attachment(ctx: StepContext) -> None:
    with pytest.raises(UserError, match=r"^step 'one': attach_text\('r', \.\.\.\) needs a str, got dict; "
                                        r"use attach\(\) for other values$"):
        ctx.attach_text("r", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^step 'one': attach_text\('r', \.\.\.\): "):
        ctx.attach_text("r", "text", suffix="../x")


def test_log_and_dataset_usage_are_recorded(ctx: StepContext) -> None:
    run_store, _ = stores(ctx.home)
    ctx.log(42)  # type: ignore[arg-type]
    assert [e["message"] for e in run_store.events(ctx.run_id) if e["kind"] == "log"][-1] == "42"
    ctx.record_dataset("credit", "v1")
    ctx.record_dataset("other", "v2", latest=True)
    usage = {(u["name"], u["version"]): u for u in run_store.dataset_usage(run_id=ctx.run_id)}
    assert set(usage) == {("credit", "v1"), ("other", "v2")}
    assert (usage[("credit", "v1")]["latest"], usage[("other", "v2")]["latest"]) == (0, 1)
    assert usage[("credit", "v1")]["step"] == "one"


# -- run_details ----------------------------------------------------------------------------------

def test_run_details_of_a_finished_run(ctx: StepContext, tmp_path: Path) -> None:
    ctx.attach_text("summary.md", "# ok")
    ctx.attach("metrics", {"auc": 1})
    (tmp_path / "table.csv").write_text("a\n1\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "p.txt").write_text("x")
    ctx.attach("table", tmp_path / "table.csv")
    ctx.attach("plots", tmp_path / "plots")
    ctx.record_dataset("credit", "v1")
    run_store, artifacts = stores(ctx.home)
    details = run_details(run_store, ctx.run_id[:8])
    assert details["run_id"] == ctx.run_id and details["status"] == "succeeded"
    assert [s["name"] for s in details["steps"]] == ["one"]
    atts = {a["name"]: a for a in details["attachments"]}
    assert atts["summary.md"]["path"] == str(artifacts.data_path(atts["summary.md"]["hash"]))
    assert "path" not in atts["metrics"]
    assert (atts["table"]["kind"], atts["plots"]["kind"]) == ("file", "dir")
    for name in ("table", "plots"):
        assert atts[name]["path"] == str(artifacts.data_path(atts[name]["hash"]))
    assert [(d["name"], d["version"]) for d in details["datasets"]] == [("credit", "v1")]
    assert details["models"] == []
    assert [e["message"] for e in details["logs"]] == ["hello from one"]
    assert all(e["kind"] != "log" for e in details["events"])
    assert [e["kind"] for e in details["events"]][0] == "run_started"
    assert run_details(run_store, "latest")["run_id"] == ctx.run_id


def test_run_details_show_a_run_whose_runner_died_as_interrupted(ctx: StepContext) -> None:
    import sqlite3

    run_store, _ = stores(ctx.home)
    db = sqlite3.connect(run_store.path)
    db.execute("UPDATE runs SET status='running', pid=NULL WHERE run_id=?", (ctx.run_id,))
    db.commit()
    db.close()
    assert run_details(run_store, ctx.run_id)["status"] == "interrupted"


def test_run_details_errors(tmp_path: Path) -> None:
    run_store, _ = stores(tmp_path / "empty")
    for alias in ("latest", "last"):
        with pytest.raises(UserError, match=rf"^no runs yet in {tmp_path / 'empty'}; start one with: "
                                            r"modelway run PIPELINE\.py$"):
            run_details(run_store, alias)
    with pytest.raises(UserError, match=r"^no run 'abc'; list runs with: modelway runs list$"):
        run_details(run_store, "abc")


def test_a_running_run_without_its_runner_is_interrupted() -> None:
    here = socket.gethostname()
    assert effective_status({"status": "running", "pid": os.getpid() + 10**7, "host": "elsewhere"}) == "running"
    assert effective_status({"status": "running", "pid": None}) == "interrupted"
    assert effective_status({"status": "failed", "pid": None}) == "failed"
    parent = os.getppid()
    import psutil

    alive = {"status": "running", "pid": parent, "host": here, "runner_started": psutil.Process(parent).create_time()}
    assert effective_status(alive) == "running"
    assert effective_status({**alive, "runner_started": time.time() - 10**8}) == "interrupted"
