"""Mutation pins for modelway.triggers (config and engine): each condition on both sides of its
threshold, the exact reasons a user reads from ``modelway triggers evaluate``, and the storm guards.

Conditions read what monitor passes, dataset registrations and feedback left behind; these
tests write those records directly (metrics DB, run store, traffic log) at chosen times, and
evaluate with ``dry_run`` where a launch is not the point. One test launches a real run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from modelway.errors import ConfigError
from modelway.monitoring.base import Metric
from modelway.monitoring.sinks import SqliteMetricsSink
from modelway.runtime.context import stores
from modelway.triggers import engine
from modelway.triggers.config import PipelineTriggers, TriggersConfig, TriggerSpec, load_triggers
from modelway.triggers.engine import TriggerState, condition, evaluate, reap, record_trigger_lineage

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()  # midnight UTC


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


# -- the triggers file ----------------------------------------------------------------------------

def test_trigger_defaults_and_the_fields_each_kind_needs() -> None:
    spec = TriggerSpec(name="d", kind="drift", model="m")
    assert (spec.cron, spec.max_drifted_features, spec.metric, spec.below, spec.dataset, spec.endpoint, spec.new_rows,
            spec.incremental) == (None, 0, "performance.accuracy", None, None, None, None, False)
    for kind, needs in (("schedule", "cron"), ("drift", "model"), ("performance", "model, below"), ("data", "dataset"),
                        ("labels", "endpoint, new_rows")):
        with pytest.raises(ValidationError, match=rf"Value error, trigger 't' \({kind}\) needs {needs} \["):
            TriggerSpec(name="t", kind=kind)
    with pytest.raises(ValidationError, match=r"trigger 't' \(performance\) needs below \["):
        TriggerSpec(name="t", kind="performance", model="m")
    TriggerSpec(name="t", kind="labels", endpoint="e", new_rows=1, incremental=True)
    with pytest.raises(ValidationError, match=r"trigger 't': incremental updates need a labels trigger \(new labelled rows\) \["):
        TriggerSpec(name="t", kind="data", dataset="d", incremental=True)
    with pytest.raises(ValidationError, match=r"trigger 't': '61 \* \* \* \*' is not a valid cron expression \["):
        TriggerSpec(name="t", kind="schedule", cron="61 * * * *")
    with pytest.raises(ValidationError, match=r"is not a valid cron expression"):
        TriggerSpec(name="t", kind="drift", model="m", cron="nope")  # any cron given is checked
    for bad in ({"new_rows": 0}, {"max_drifted_features": -1}, {"other": 1}):
        with pytest.raises(ValidationError):
            TriggerSpec(name="t", kind="labels", endpoint="e", **{"new_rows": 5, **bad})
    TriggerSpec(name="t", kind="drift", model="m", max_drifted_features=0)


def test_pipeline_and_file_defaults() -> None:
    pipe = PipelineTriggers(file="p.py", triggers=[])
    assert (pipe.params, pipe.cooldown, pipe.cooldown_s) == ({}, "1h", 3600.0)
    assert PipelineTriggers(file="p.py", cooldown="90m", triggers=[]).cooldown_s == 5400.0
    with pytest.raises(ValidationError, match=r"Value error, 'soon' is not a duration such as 30m, 1h or 2d \["):
        PipelineTriggers(file="p.py", cooldown="soon", triggers=[])
    assert TriggersConfig(pipelines={}).max_concurrent == 1
    # unknown keys are errors (a typo must not silently disable a guard), and a loaded config is frozen
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        PipelineTriggers(file="p.py", triggers=[], cooldwon="2h")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TriggersConfig(pipelines={}, max_concurent=2)
    cfg = TriggersConfig(pipelines={"p": pipe})
    for obj, attr, value in ((cfg, "max_concurrent", 5), (pipe, "cooldown", "2h"),
                             (TriggerSpec(name="d", kind="drift", model="m"), "max_drifted_features", 9)):
        with pytest.raises(ValidationError, match="Instance is frozen"):
            setattr(obj, attr, value)
    with pytest.raises(ValidationError):
        TriggersConfig(pipelines={}, max_concurrent=0)


def test_load_triggers_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("max_concurrent: 2\npipelines:\n  p:\n    file: p.py\n    params: {n: 3}\n    cooldown: 6h\n"
                    "    triggers:\n      - {name: nightly, kind: schedule, cron: '0 3 * * *'}\n")
    cfg = load_triggers(path)
    assert cfg.max_concurrent == 2
    assert cfg.pipelines["p"].params == {"n": 3} and cfg.pipelines["p"].cooldown_s == 21600.0
    assert cfg.pipelines["p"].triggers[0].cron == "0 3 * * *"
    path.write_text("pipelines:\n  p:\n    file: p.py\n    triggers:\n      - {name: x, kind: data}\n")
    with pytest.raises(ConfigError, match=rf"^triggers file {path}: pipelines.p.triggers.0: Value error, "
                                          r"trigger 'x' \(data\) needs dataset$"):
        load_triggers(path)
    path.write_text("")
    with pytest.raises(ConfigError, match=rf"^triggers file {path}: pipelines: Field required$"):
        load_triggers(path)
    path.write_text("pipelines:\n  p:\n    file: p.py\n    cooldown: soon\n    triggers: []\n")
    # a bad cooldown names the file and the key (it used to surface as the monitor's "--window" error)
    with pytest.raises(ConfigError, match=rf"^triggers file {path}: pipelines.p.cooldown: Value error, "
                                          r"'soon' is not a duration such as 30m, 1h or 2d$"):
        load_triggers(path)
    path.write_text("- 1\n")
    with pytest.raises(ConfigError, match=rf"^triggers file {path}: Input should be a valid dictionary"):
        load_triggers(path)
    with pytest.raises(ConfigError, match=rf"^triggers file {tmp_path / 'none.yaml'} not found$"):
        load_triggers(tmp_path / "none.yaml")


# -- conditions -----------------------------------------------------------------------------------

def state(home: Path, spec: TriggerSpec, armed: float, fired: float | None = None, marker: str | None = None):  # type: ignore[no-untyped-def]
    store = TriggerState(home)
    store.get("p", spec.name, armed)
    if fired is not None or marker is not None:
        store.fired("p", spec.name, fired, marker)
    return store.get("p", spec.name, armed)


def test_schedule_is_due_from_the_last_firing_or_arming(tmp_path: Path) -> None:
    spec = TriggerSpec(name="n", kind="schedule", cron="0 3 * * *")
    row = state(tmp_path, spec, T0)
    due = T0 + 3 * 3600
    assert condition(spec, row, tmp_path, due - 1) == (False, f"next run {iso(due)}", None)
    assert condition(spec, row, tmp_path, due) == (True, f"schedule '0 3 * * *' was due at {iso(due)}", None)
    fired = state(tmp_path, TriggerSpec(name="m", kind="schedule", cron="0 3 * * *"), T0, fired=due)
    assert condition(spec, fired, tmp_path, due + 3600) == (False, f"next run {iso(due + 86400)}", None)


def test_drift_counts_only_passes_after_the_last_launch(tmp_path: Path) -> None:
    spec = TriggerSpec(name="d", kind="drift", model="m", max_drifted_features=2)
    row = state(tmp_path, spec, T0)
    assert condition(spec, row, tmp_path, T0) == (
        False, "no drift.features_drifted of m from a monitor pass since the last launch", None)
    sink = SqliteMetricsSink(tmp_path)
    sink.put([Metric("drift.features_drifted", 5, {"model": "other"}, T0 + 1),
              Metric("drift.features_drifted", 3, {"model": "m"}, T0 + 10),
              Metric("drift.features_drifted", 2, {"model": "m"}, T0 + 20)])
    assert condition(spec, row, tmp_path, T0 + 30) == (
        False, f"monitor at {iso(T0 + 20)} found 2 drifted feature(s) of m (limit 2)", None)  # the latest, at the limit
    sink.put([Metric("drift.features_drifted", 3, {"model": "m"}, T0 + 25)])
    assert condition(spec, row, tmp_path, T0 + 30) == (
        True, f"monitor at {iso(T0 + 25)} found 3 drifted feature(s) of m (limit 2)", None)
    after = state(tmp_path, TriggerSpec(name="e", kind="drift", model="m"), T0, fired=T0 + 25)
    assert condition(spec, after, tmp_path, T0 + 30)[0] is False  # the pass at the launch itself is not new
    later = state(tmp_path, TriggerSpec(name="f", kind="drift", model="m"), T0, fired=T0 + 24.5)
    assert condition(spec, later, tmp_path, T0 + 30)[0] is True


def test_performance_fires_below_the_threshold_only(tmp_path: Path) -> None:
    spec = TriggerSpec(name="a", kind="performance", model="m", below=0.7)
    row = state(tmp_path, spec, T0)
    sink = SqliteMetricsSink(tmp_path)
    sink.put([Metric("performance.accuracy", 0.7, {"model": "m"}, T0 + 5)])
    assert condition(spec, row, tmp_path, T0 + 9) == (
        False, f"performance.accuracy of m is 0.700 at {iso(T0 + 5)} (threshold 0.7)", None)
    sink.put([Metric("performance.accuracy", 0.6994, {"model": "m"}, T0 + 6)])
    assert condition(spec, row, tmp_path, T0 + 9) == (
        True, f"performance.accuracy of m is 0.699 at {iso(T0 + 6)} (threshold 0.7)", None)
    custom = TriggerSpec(name="b", kind="performance", model="m", below=10, metric="serving.p95_ms")
    assert condition(custom, row, tmp_path, T0 + 9) == (
        False, "no serving.p95_ms of m from a monitor pass since the last launch", None)


def test_data_arms_on_the_current_version_then_fires_on_a_new_one(tmp_path: Path) -> None:
    spec = TriggerSpec(name="n", kind="data", dataset="credit")
    row = state(tmp_path, spec, T0)
    assert condition(spec, row, tmp_path, T0) == (False, "dataset credit has no version yet", None)
    run_store, _ = stores(tmp_path)
    ref = SimpleNamespace(hash="a" * 64, kind="json", type="dict", size=1)
    run_store.add_dataset("credit", "v1", ref, "src", 1)
    assert condition(spec, row, tmp_path, T0) == (False, "armed on credit@v1", "v1")
    armed = state(tmp_path, TriggerSpec(name="m", kind="data", dataset="credit"), T0, marker="v1")
    assert condition(spec, armed, tmp_path, T0) == (False, "new dataset version credit@v1 (was v1)", "v1")
    run_store.add_dataset("credit", "v2", SimpleNamespace(hash="b" * 64, kind="json", type="dict", size=1), "src", 1)
    assert condition(spec, armed, tmp_path, T0) == (True, "new dataset version credit@v2 (was v1)", "v2")


def test_labels_count_feedback_since_the_last_launch(tmp_path: Path) -> None:
    from modelway.serving.traffic import TrafficLog, traffic_path

    spec = TriggerSpec(name="l", kind="labels", endpoint="ep", new_rows=3)
    row = state(tmp_path, spec, T0)
    assert condition(spec, row, tmp_path, T0) == (False, "0 new labelled rows on ep (need 3)", None)
    log = TrafficLog(traffic_path(tmp_path, "ep"))
    log.add_feedback([("r1", 1.0)], T0)  # at the arming time: not new
    log.add_feedback([("r2", 1.0), ("r3", 0.0)], T0 + 1)
    assert condition(spec, row, tmp_path, T0 + 2) == (False, "2 new labelled rows on ep (need 3)", None)
    log.add_feedback([("r4", 1.0)], T0 + 2)
    assert condition(spec, row, tmp_path, T0 + 3) == (True, "3 new labelled rows on ep (need 3)", None)
    fired = state(tmp_path, TriggerSpec(name="k", kind="labels", endpoint="ep", new_rows=1), T0, fired=T0 + 1)
    assert condition(spec, fired, tmp_path, T0 + 3)[1] == "1 new labelled rows on ep (need 3)"


# -- evaluation: the storm guards -----------------------------------------------------------------

def config(tmp_path: Path, *, cooldown: str = "1h", max_concurrent: int = 1, pipelines: tuple[str, ...] = ("p",),
           extra: list[dict] | None = None) -> TriggersConfig:
    triggers = [{"name": "drift", "kind": "drift", "model": "m", "max_drifted_features": 1}, *(extra or [])]
    return TriggersConfig.model_validate({"max_concurrent": max_concurrent, "pipelines": {
        name: {"file": "pipe.py", "cooldown": cooldown, "triggers": triggers} for name in pipelines}})


def drift_seen(home: Path, when: float, drifted: int = 3) -> None:
    SqliteMetricsSink(home).put([Metric("drift.features_drifted", drifted, {"model": "m"}, when)])


def test_nothing_holds_and_a_dry_run_explains(tmp_path: Path) -> None:
    cfg = config(tmp_path, pipelines=("p", "q"))
    assert [d.to_dict() for d in evaluate(cfg, tmp_path, base_dir=tmp_path, now=T0)] == [
        {"pipeline": name, "fire": False, "reason": "no trigger condition holds", "triggers": [], "launch_id": None,
         "run_id": None, "status": None} for name in ("p", "q")]
    drift_seen(tmp_path, T0 + 1)
    decisions = evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 2)
    why = f"drift: monitor at {iso(T0 + 1)} found 3 drifted feature(s) of m (limit 1)"
    assert [(d.pipeline, d.fire, d.reason, d.triggers, d.launch_id) for d in decisions] == [
        ("p", True, why, ["drift"], None), ("q", True, why, ["drift"], None)]
    assert TriggerState(tmp_path).launches() == []  # a dry run launches and records nothing


def test_every_holding_trigger_is_named_in_the_reason(tmp_path: Path) -> None:
    cfg = config(tmp_path, extra=[{"name": "nightly", "kind": "schedule", "cron": "0 3 * * *"},
                                  {"name": "never", "kind": "data", "dataset": "nothing"}])
    drift_seen(tmp_path, T0 + 1)
    evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0)  # arms the schedule at T0
    d = evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 4 * 3600)[0]
    assert d.triggers == ["drift", "nightly"]
    assert d.reason == (f"drift: monitor at {iso(T0 + 1)} found 3 drifted feature(s) of m (limit 1); "
                        f"nightly: schedule '0 3 * * *' was due at {iso(T0 + 3 * 3600)}")


def test_a_data_trigger_is_armed_by_a_real_evaluation_not_by_a_dry_run(tmp_path: Path) -> None:
    cfg = TriggersConfig.model_validate({"pipelines": {"p": {"file": "pipe.py", "triggers": [
        {"name": "new", "kind": "data", "dataset": "credit"}]}}})
    run_store, _ = stores(tmp_path)
    run_store.add_dataset("credit", "v1", SimpleNamespace(hash="a" * 64, kind="json", type="dict", size=1), "s", 1)
    evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0)
    assert TriggerState(tmp_path).get("p", "new", T0)["marker"] is None
    evaluate(cfg, tmp_path, base_dir=tmp_path, now=T0)
    assert TriggerState(tmp_path).get("p", "new", T0)["marker"] == "v1"
    run_store.add_dataset("credit", "v2", SimpleNamespace(hash="b" * 64, kind="json", type="dict", size=1), "s", 1)
    d = evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 1)[0]
    assert (d.fire, d.reason) == (True, "new: new dataset version credit@v2 (was v1)")


def test_a_running_launch_holds_its_pipeline_back(tmp_path: Path) -> None:
    store = TriggerState(tmp_path)
    launch_id = store.add_launch("p", ["drift"], "earlier", os.getpid(), None, T0 - 7200)  # alive: this process
    drift_seen(tmp_path, T0 + 1)
    d = evaluate(config(tmp_path, max_concurrent=5), tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 2)[0]
    why = f"drift: monitor at {iso(T0 + 1)} found 3 drifted feature(s) of m (limit 1)"
    assert (d.fire, d.reason, d.triggers) == (False, f"already retraining (launch {launch_id}); {why}", ["drift"])


def test_the_cooldown_holds_until_it_has_passed(tmp_path: Path) -> None:
    store = TriggerState(tmp_path)
    launch_id = store.add_launch("p", ["drift"], "earlier", None, None, T0)
    store.finish(launch_id, "succeeded", None)
    drift_seen(tmp_path, T0 + 10)
    cfg = config(tmp_path, cooldown="1h")
    d = evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 3599)[0]
    why = f"drift: monitor at {iso(T0 + 10)} found 3 drifted feature(s) of m (limit 1)"
    assert (d.fire, d.reason) == (False, f"cooling down until {iso(T0 + 3600)} (cooldown 1h); {why}")
    assert evaluate(cfg, tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 3600)[0].fire is True


def test_the_concurrency_cap_counts_every_pipeline(tmp_path: Path) -> None:
    store = TriggerState(tmp_path)
    store.add_launch("other", ["x"], "r", os.getpid(), None, T0)
    drift_seen(tmp_path, T0 + 1)
    why = f"drift: monitor at {iso(T0 + 1)} found 3 drifted feature(s) of m (limit 1)"
    d = evaluate(config(tmp_path, max_concurrent=1), tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 2)[0]
    assert (d.fire, d.reason) == (False, f"concurrency cap: 1 retrain(s) running (max_concurrent 1); {why}")
    assert evaluate(config(tmp_path, max_concurrent=2), tmp_path, base_dir=tmp_path, dry_run=True, now=T0 + 2)[0].fire


# -- launches and their bookkeeping ---------------------------------------------------------------

def test_trigger_state_rows_and_launch_records(tmp_path: Path) -> None:
    store = TriggerState(tmp_path / "new" / "home")  # a home that does not exist yet
    assert store.path == tmp_path / "new" / "home" / "triggers" / "triggers.db"
    row = store.get("p", "t", 5.0)
    assert (row["pipeline"], row["trigger"], row["armed_at"], row["last_fired"], row["marker"]) == ("p", "t", 5.0, None, None)
    assert store.get("p", "t", 9.0)["armed_at"] == 5.0  # armed once
    store.set_marker("p", "t", "m1")
    store.fired("p", "t", 7.0, None)
    assert (store.get("p", "t", 9.0)["last_fired"], store.get("p", "t", 9.0)["marker"]) == (7.0, "m1")
    store.fired("p", "t", 8.0, "m2")
    assert store.get("p", "t", 9.0)["marker"] == "m2"
    assert store.last_launch("p") is None
    first = store.add_launch("p", ["a", "b"], "why", 123, "/x.json", 10.0)
    second = store.add_launch("q", ["c"], "because", None, None, 20.0)
    store.add_launch("p", ["a"], "again", None, None, 15.0)
    assert store.last_launch("p") == 15.0
    assert [r["id"] for r in store.running()] == [first, second, first + 2]
    assert [r["id"] for r in store.running("q")] == [second]
    store.finish(first, "succeeded", "run-1")
    launches = store.launches()
    assert (launches[0]["status"], launches[0]["run_id"], json.loads(launches[0]["triggers"]), launches[0]["pid"],
            launches[0]["log_path"], launches[0]["reason"]) == ("succeeded", "run-1", ["a", "b"], 123, "/x.json", "why")
    assert launches[0]["finished"] is not None and launches[1]["finished"] is None
    assert [r["id"] for r in store.running("p")] == [first + 2]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_reap_records_each_finished_launch_and_its_lineage(tmp_path: Path) -> None:
    from modelway import pipeline, run_pipeline, step

    @step
    def one() -> int:
        return 1

    @pipeline
    def tiny() -> int:
        return one()

    result = run_pipeline(tiny, {}, executor="inprocess", display="none", home=tmp_path)
    store = TriggerState(tmp_path)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"run_id": result.run_id, "status": "succeeded"}))
    empty = tmp_path / "empty.json"
    empty.write_text("")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    dead = _dead_pid()
    ids = [store.add_launch("p", ["drift", "labels"], "the reason", dead, str(good), T0),
           store.add_launch("p", ["x"], "r", None, str(empty), T0),
           store.add_launch("p", ["x"], "r", dead, str(broken), T0),
           store.add_launch("p", ["x"], "r", dead, str(tmp_path / "missing.json"), T0),
           store.add_launch("p", ["x"], "r", os.getpid(), str(good), T0)]
    reap(store, tmp_path)
    rows = {r["id"]: r for r in store.launches()}
    assert [(rows[i]["status"], rows[i]["run_id"]) for i in ids] == [
        ("succeeded", result.run_id), ("unknown", None), ("failed", None), ("failed", None), ("running", None)]
    lineage = stores(tmp_path)[0].get_run(result.run_id)["lineage"]
    assert lineage["trigger"] == {"pipeline": "p", "triggers": ["drift", "labels"], "reason": "the reason",
                                  "launched_at": iso(T0), "launch_id": ids[0]}
    assert "host" in lineage  # the rest of the lineage is kept
    record_trigger_lineage(tmp_path, result.run_id, {"x": 1})
    assert stores(tmp_path)[0].get_run(result.run_id)["lineage"]["trigger"] == {"x": 1}


def test_param_values_reach_the_command_line_as_text() -> None:
    assert engine._param("abc") == "abc"
    assert engine._param(3) == "3"
    assert engine._param([1, "a"]) == '[1, "a"]'
    assert engine._param(True) == "true"


PIPE = """
from modelway import pipeline, step

@step
def double(n: int, tag: str) -> str:
    return f"{tag}-{n * 2}"

@pipeline(executor="inprocess")
def p(n: int = 1, tag: str = "x") -> str:
    return double(n, tag)
"""


def test_a_firing_trigger_launches_the_pipeline_once_and_records_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "pipe.py").write_text(PIPE)
    cfg = TriggersConfig.model_validate({"pipelines": {"p": {"file": "pipe.py", "params": {"n": 21, "tag": "t"},
                                                             "triggers": [{"name": "drift", "kind": "drift", "model": "m",
                                                                           "max_drifted_features": 1}]}}})
    now = datetime.now(timezone.utc).timestamp()
    drift_seen(home, now - 5)
    lines: list[str] = []
    d = evaluate(cfg, home, base_dir=tmp_path, wait=True, now=now, log=lines.append)[0]
    why = f"drift: monitor at {iso(now - 5)} found 3 drifted feature(s) of m (limit 1)"
    assert (d.fire, d.reason, d.triggers, d.status) == (True, why, ["drift"], "succeeded")
    assert lines == [f"launched p (launch {d.launch_id}): {why}"]
    run = stores(home)[0].get_run(d.run_id)
    assert run["outputs"] == {"result": "t-42"}
    assert run["lineage"]["trigger"]["launch_id"] == d.launch_id
    launch = TriggerState(home).launches()[0]
    assert launch["log_path"] == str(home / "triggers" / "logs" / f"p-{int(now * 1000)}.json")
    assert Path(launch["log_path"]).with_suffix(".log").exists()
    assert TriggerState(home).get("p", "drift", now)["last_fired"] == now
    # the condition still holds, but its evidence predates the launch: nothing fires
    again = evaluate(cfg, home, base_dir=tmp_path, now=now + 1)[0]
    assert (again.fire, again.reason) == (False, "no trigger condition holds")


def test_without_wait_a_launch_is_left_running_and_reaped_later(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "pipe.py").write_text(PIPE)
    cfg = TriggersConfig.model_validate({"pipelines": {"p": {"file": "pipe.py", "triggers": [
        {"name": "drift", "kind": "drift", "model": "m", "max_drifted_features": 1}]}}})
    now = datetime.now(timezone.utc).timestamp()
    drift_seen(home, now - 5)
    d = evaluate(cfg, home, base_dir=tmp_path, now=now)[0]
    assert (d.fire, d.status, d.run_id) == (True, "running", None)
    store = TriggerState(home)
    engine._wait(store, d.launch_id)
    reap(store, home)
    launch = store.launches()[0]
    assert launch["status"] == "succeeded" and launch["run_id"] is not None
    assert stores(home)[0].get_run(launch["run_id"])["outputs"] == {"result": "x-2"}


def test_a_launch_of_another_home_in_this_process_does_not_decide_whether_this_one_runs(tmp_path: Path) -> None:
    # Launch ids restart at 1 in every home: the finished child of home A's launch 1 must not make
    # home B's live launch 1 count as ended (it was reaped, and its missing log crashed evaluate).
    other = tmp_path / "a"
    other_store = TriggerState(other)
    pipe = PipelineTriggers(file="missing.py", triggers=[])
    first = engine.launch(other_store, other, "p", pipe, ["drift"], "r", base_dir=tmp_path, now=T0)
    engine._wait(other_store, first, timeout_s=60)  # `modelway run missing.py` exits at once
    home = tmp_path / "b"
    launch_id = TriggerState(home).add_launch("p", ["drift"], "earlier", os.getpid(), None, T0 - 7200)
    assert launch_id == first == 1
    drift_seen(home, T0 + 1)
    d = evaluate(config(home, max_concurrent=5), home, base_dir=home, dry_run=True, now=T0 + 2)[0]
    assert d.reason.startswith(f"already retraining (launch {launch_id}); ")
