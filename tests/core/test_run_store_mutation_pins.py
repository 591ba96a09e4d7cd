"""Pins on the run store (``modelway.store.runs``) that mutation testing found loose.

The run store is what `modelway runs show`, resume, the cache and lineage read back; each test
here fails on a plausible one-point change of it (see ``make mutate``): a field recorded under
the wrong name, a filter or an order dropped, a compare-and-set that lets two resumes win, a
cache entry written for a step that must not be cached. Plain SQLite on ``tmp_path``: fast.
"""
from __future__ import annotations

import errno
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelway.errors import ConfigError, UserError
from modelway.store import runs as runs_module
from modelway.store.runs import SCHEMA_VERSION, RunStore

STEPS = [{"name": "load", "func": "p.load", "upstream": [], "settings": {"retries": 1}},
         {"name": "train", "func": "p.train", "upstream": ["load"], "settings": {}}]


def ref(hash_: str = "h1", kind: str = "pickle", size: int = 7, type_: str = "builtins.int") -> SimpleNamespace:
    return SimpleNamespace(hash=hash_, kind=kind, size=size, type=type_)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path)
    yield store
    store.close()


def _run(store: RunStore, run_id: str = "20261203-aaa", pipeline: str = "p", **kw) -> str:
    store.create_run(run_id, pipeline, kw.get("file", "p.py"), kw.get("params", {"n": 3}), "process",
                     kw.get("use_cache", True), kw.get("lineage", {"host": {"name": "box"}}), STEPS)
    return run_id


def _kinds(store: RunStore, run_id: str) -> list[tuple]:
    return [(e["step"], e["kind"], e["attempt"], e["message"]) for e in store.events(run_id)]


# --- runs ----------------------------------------------------------------------------------------
def test_a_new_run_is_recorded_with_every_field(store: RunStore) -> None:
    _run(store, params={"n": 3}, use_cache=False, lineage={"host": {"name": "box"}, "git": "abc"})
    run = store.get_run("20261203-aaa")
    assert (run["pipeline"], run["pipeline_file"], run["status"], run["params"], run["executor"], run["use_cache"],
            run["lineage"], run["host"], run["resumes"], run["outputs"], run["error"], run["ended_at"]) == (
        "p", "p.py", "running", {"n": 3}, "process", False, {"host": {"name": "box"}, "git": "abc"}, "box", 0, None,
        None, None)
    assert run["pid"] > 0 and run["created_at"] == run["started_at"] == run["runner_started"] > 0
    assert _kinds(store, "20261203-aaa") == [(None, "run_started", None, "p")]
    assert store.get_run("20261203-zzz") is None


def test_a_run_without_host_lineage_has_no_host(store: RunStore) -> None:
    _run(store, lineage={})
    assert store.get_run("20261203-aaa")["host"] is None and store.get_run("20261203-aaa")["use_cache"] is True


def test_steps_are_recorded_pending_in_order_with_their_upstream_and_settings(store: RunStore) -> None:
    _run(store)
    steps = store.steps("20261203-aaa")
    assert [(s["name"], s["position"], s["func"], s["status"], s["upstream"], s["settings"], s["inputs"], s["cached"],
             s["attempts"]) for s in steps] == [
        ("load", 0, "p.load", "pending", [], {"retries": 1}, {}, False, 0),
        ("train", 1, "p.train", "pending", ["load"], {}, {}, False, 0)]
    assert store.steps("20261203-zzz") == []
    assert all(s["cached"] is False for s in steps)  # a bool in `runs show --json`, not 0


def test_a_step_row_without_upstream_or_settings_reads_as_empty(store: RunStore) -> None:
    # Rows written by hand or by tools that leave the optional columns out.
    with store.tx() as c:
        c.execute("INSERT INTO steps (run_id, name, position, status, cached) VALUES ('r', 's', 0, 'cached', 1)")
    step = store.steps("r")[0]
    assert (step["upstream"], step["settings"], step["inputs"], step["cached"]) == ([], {}, {}, True)
    assert step["cached"] is True


def test_finishing_a_run_records_status_error_outputs_and_an_event(store: RunStore) -> None:
    _run(store)
    store.finish_run("20261203-aaa", "failed", "boom", {"result": [1, 2]})
    run = store.get_run("20261203-aaa")
    assert (run["status"], run["error"], run["outputs"]) == ("failed", "boom", {"result": [1, 2]})
    assert run["ended_at"] >= run["started_at"]
    assert _kinds(store, "20261203-aaa")[-1] == (None, "run_failed", None, "boom")


def test_set_lineage_replaces_it(store: RunStore) -> None:
    _run(store)
    store.set_lineage("20261203-aaa", {"data": ["d@1"]})
    assert store.get_run("20261203-aaa")["lineage"] == {"data": ["d@1"]}


def test_list_runs_newest_first_filtered_and_limited(store: RunStore) -> None:
    for run_id, pipeline in (("r1", "a"), ("r2", "b"), ("r3", "a"), ("r4", "a")):
        _run(store, run_id, pipeline)
    store.finish_run("r3", "succeeded", None, 1)
    assert [r["run_id"] for r in store.list_runs()] == ["r4", "r3", "r2", "r1"]
    assert [r["run_id"] for r in store.list_runs(limit=2)] == ["r4", "r3"]
    assert [r["run_id"] for r in store.list_runs(pipeline="a")] == ["r4", "r3", "r1"]
    assert [r["run_id"] for r in store.list_runs(status="succeeded")] == ["r3"]
    assert [r["run_id"] for r in store.list_runs(pipeline="b", status="running")] == ["r2"]
    assert store.list_runs(pipeline="b", status="succeeded") == []


def test_list_runs_shows_the_newest_20_by_default(store: RunStore) -> None:
    for i in range(21):
        _run(store, f"r{i:02d}")
    assert [r["run_id"] for r in store.list_runs()] == [f"r{i:02d}" for i in range(20, 0, -1)]


# --- run ids -------------------------------------------------------------------------------------
def test_an_ambiguous_run_id_prefix_is_refused_naming_two_candidates(store: RunStore) -> None:
    for run_id in ("20261203-aaa1", "20261203-aaa2", "20261203-bbb1"):
        _run(store, run_id)
    with pytest.raises(UserError) as caught:
        store.resolve_run_id("20261203-aaa")
    assert str(caught.value) == "run id prefix '20261203-aaa' is ambiguous (20261203-aaa1, 20261203-aaa2, ...)"
    with pytest.raises(UserError, match="ambiguous"):
        store.resolve_run_id("2026")


def test_a_unique_prefix_an_exact_id_and_an_unknown_prefix(store: RunStore) -> None:
    for run_id in ("20261203-aaa1", "20261203-aaa12", "20261203-bbb1"):
        _run(store, run_id)
    assert store.resolve_run_id("20261203-b") == "20261203-bbb1"
    assert store.resolve_run_id("20261203-aaa1") == "20261203-aaa1"  # exact, though also a prefix of aaa12
    assert store.resolve_run_id("20261203-aaa12") == "20261203-aaa12"
    assert store.resolve_run_id("20261203-c") is None
    assert store.resolve_run_id("3") is None


def test_latest_and_last_name_the_newest_run(store: RunStore) -> None:
    assert store.resolve_run_id("latest") is None
    _run(store, "20261203-zzz")
    _run(store, "20261203-aaa")  # newer, though it sorts first
    assert store.resolve_run_id("latest") == store.resolve_run_id("last") == "20261203-aaa"


# --- resume: one winner ----------------------------------------------------------------------
def test_a_resume_takes_over_only_the_run_it_saw(store: RunStore) -> None:
    _run(store)
    store.step_started("20261203-aaa", "load", 1, "k1")
    store.step_succeeded("20261203-aaa", "load", attempt=1, output=ref(), duration_s=1.0, cpu_s=None,
                         peak_rss_mb=None, cache_key="k1", cacheable=True)
    store.step_started("20261203-aaa", "train", 1, "k2")
    store.step_failed("20261203-aaa", "train", attempt=1, status="failed", error="boom", traceback="tb",
                      duration_s=0.5)
    store.finish_run("20261203-aaa", "failed", "boom", None)
    run = store.get_run("20261203-aaa")
    seen = {"status": run["status"], "pid": run["pid"], "resumes": run["resumes"]}
    for stale in ({**seen, "status": "running"}, {**seen, "pid": run["pid"] + 1}, {**seen, "resumes": 1}):
        assert store.reopen_run("20261203-aaa", stale) is False
    assert store.get_run("20261203-aaa")["status"] == "failed"
    assert store.reopen_run("20261203-aaa", seen) is True
    assert store.reopen_run("20261203-aaa", seen) is False  # the second of two resumes loses
    run = store.get_run("20261203-aaa")
    assert (run["status"], run["error"], run["ended_at"], run["resumes"]) == ("running", None, None, 1)
    assert [s["status"] for s in store.steps("20261203-aaa")] == ["succeeded", "pending"]
    assert _kinds(store, "20261203-aaa")[-1] == (None, "run_resumed", None, None)


# --- steps -----------------------------------------------------------------------------------
def test_each_attempt_is_counted_and_the_first_start_kept(store: RunStore) -> None:
    _run(store)
    store.step_started("20261203-aaa", "load", 1, "k1", {"up": "h0"})
    first = store.steps("20261203-aaa")[0]
    assert (first["status"], first["attempts"], first["cache_key"], first["inputs"]) == ("running", 1, "k1", {"up": "h0"})
    store.step_failed("20261203-aaa", "load", attempt=1, status="retrying", error="flaky", traceback="tb",
                      duration_s=0.25, cpu_s=0.1, peak_rss_mb=12.0)
    failed = store.steps("20261203-aaa")[0]
    assert (failed["status"], failed["error"], failed["traceback"], failed["duration_s"], failed["cpu_s"],
            failed["peak_rss_mb"]) == ("retrying", "flaky", "tb", 0.25, 0.1, 12.0)
    store.step_started("20261203-aaa", "load", 2, "k2")
    second = store.steps("20261203-aaa")[0]
    assert (second["attempts"], second["started_at"], second["cache_key"], second["inputs"], second["error"],
            second["traceback"]) == (2, first["started_at"], "k2", {}, None, None)
    assert _kinds(store, "20261203-aaa")[1:] == [("load", "running", 1, None), ("load", "retrying", 1, "flaky"),
                                                 ("load", "running", 2, None)]


@pytest.mark.parametrize("cacheable, key, cached", [(True, "k1", True), (False, "k1", False), (True, None, False)])
def test_a_success_is_cached_only_when_cacheable_and_keyed(store: RunStore, cacheable: bool, key, cached: bool) -> None:
    _run(store)
    store.step_started("20261203-aaa", "load", 1, key)
    store.step_succeeded("20261203-aaa", "load", attempt=1, output=ref("h1", "json"), duration_s=2.0, cpu_s=1.5,
                         peak_rss_mb=30.0, cache_key=key, cacheable=cacheable)
    step = store.steps("20261203-aaa")[0]
    assert (step["status"], step["output_hash"], step["output_kind"], step["duration_s"], step["cpu_s"],
            step["peak_rss_mb"]) == ("succeeded", "h1", "json", 2.0, 1.5, 30.0)
    assert step["ended_at"] >= step["started_at"]
    expected = {"hash": "h1", "kind": "json", "run_id": "20261203-aaa", "step": "load"} if cached else None
    assert store.cache_lookup("k1") == expected
    assert _kinds(store, "20261203-aaa")[-1] == ("load", "succeeded", 1, None)


def test_a_cache_hit_carries_the_producers_dataset_reads_and_attachments(store: RunStore) -> None:
    _run(store, "r1")
    store.record_dataset_usage("r1", "load", "d", "v1", latest=True)
    store.add_attachment("r1", "load", "report", ref("a1", "text"))
    _run(store, "r2")
    store.step_cached("r2", "load", "k1", {"hash": "h1", "kind": "json", "run_id": "r1", "step": "load"}, {"x": "h0"})
    step = store.steps("r2")[0]
    assert (step["status"], step["cached"], step["duration_s"], step["cache_key"], step["output_hash"],
            step["output_kind"], step["inputs"]) == ("cached", True, 0, "k1", "h1", "json", {"x": "h0"})
    assert [(u["step"], u["name"], u["version"], u["latest"]) for u in store.dataset_usage("r2")] == [
        ("load", "d", "v1", 1)]
    assert [(a["step"], a["name"], a["hash"], a["kind"]) for a in store.attachments("r2")] == [
        ("load", "report", "a1", "text")]
    assert _kinds(store, "r2")[-1] == ("load", "cached", None, "from run r1 step load")


def test_a_cache_hit_from_the_same_run_copies_nothing(store: RunStore) -> None:
    _run(store, "r1")
    store.record_dataset_usage("r1", "load", "d", "v1")
    store.step_cached("r1", "train", "k2", {"hash": "h2", "kind": "pickle", "run_id": "r1", "step": "load"})
    assert [u["step"] for u in store.dataset_usage("r1")] == ["load"]
    assert store.steps("r1")[1]["inputs"] == {}


def test_steps_not_run_closes_only_pending_or_retrying_steps(store: RunStore) -> None:
    _run(store)
    store.steps_not_run("20261203-aaa", {})
    assert len(store.events("20261203-aaa")) == 1
    store.step_started("20261203-aaa", "load", 1, None)
    store.step_failed("20261203-aaa", "load", attempt=1, status="retrying", error="e", traceback=None,
                      duration_s=None)
    store.steps_not_run("20261203-aaa", {"load": ("cancelled", "stopped"), "train": ("skipped", "load failed")})
    load, train = store.steps("20261203-aaa")
    assert (load["status"], load["error"], load["ended_at"] is not None) == ("cancelled", "stopped", True)
    assert (train["status"], train["error"], train["ended_at"]) == ("skipped", "load failed", None)  # never started
    assert _kinds(store, "20261203-aaa")[-2:] == [("load", "cancelled", None, "stopped"),
                                                  ("train", "skipped", None, "load failed")]
    events = len(store.events("20261203-aaa"))
    store.steps_not_run("20261203-aaa", {"load": ("skipped", "again")})  # already closed: unchanged, no event
    assert store.steps("20261203-aaa")[0]["status"] == "cancelled" and len(store.events("20261203-aaa")) == events


def test_log_lines_are_events_in_order(store: RunStore) -> None:
    _run(store)
    store.log("20261203-aaa", "load", "hello")
    store.log("20261203-aaa", None, "warn", kind="warning")
    assert _kinds(store, "20261203-aaa")[1:] == [("load", "log", None, "hello"), (None, "warning", None, "warn")]


# --- attachments, checkpoints, datasets, models -----------------------------------------------
def test_attachments_and_checkpoints_are_per_run_and_step(store: RunStore) -> None:
    _run(store)
    store.add_attachment("20261203-aaa", "load", "plot", ref("a1", "file"))
    store.add_attachment("20261203-aaa", "load", "plot", ref("a2", "file"))  # replaced
    assert [(a["name"], a["hash"]) for a in store.attachments("20261203-aaa")] == [("plot", "a2")]
    assert store.checkpoint("20261203-aaa", "train") is None
    store.save_checkpoint("20261203-aaa", "train", ref("c1"))
    store.save_checkpoint("20261203-aaa", "train", ref("c2"))
    assert store.checkpoint("20261203-aaa", "train") == "c2"
    assert store.checkpoint("20261203-aaa", "load") is None
    kinds = {r["hash"]: (r["kind"], r["type"], r["size"]) for r in store.conn.execute("SELECT * FROM artifacts")}
    assert kinds == {"a1": ("file", "builtins.int", 7), "a2": ("file", "builtins.int", 7),
                     "c1": ("pickle", "builtins.int", 7), "c2": ("pickle", "builtins.int", 7)}


def test_a_dataset_version_is_registered_once_and_listed_newest_first(store: RunStore) -> None:
    assert store.add_dataset("d", "v1", ref("h1", "dir", 10), "s3://b/d", 3) is True
    assert store.add_dataset("d", "v1", ref("h9", "dir", 99), "elsewhere", 9) is False  # unchanged
    assert store.add_dataset("d", "v2", ref("h2", "dir", 20), "s3://b/d", 4) is True
    assert store.add_dataset("e", "v1", ref("h3", "dir", 30), "local", 1) is True
    assert [(d["version"], d["hash"], d["kind"], d["source"], d["size"], d["files"]) for d in store.datasets("d")] == [
        ("v2", "h2", "dir", "s3://b/d", 20, 4), ("v1", "h1", "dir", "s3://b/d", 10, 3)]
    assert [(d["name"], d["version"]) for d in store.datasets()] == [("d", "v2"), ("d", "v1"), ("e", "v1")]


def test_an_unpinned_read_is_stale_once_a_newer_version_exists(store: RunStore) -> None:
    store.add_dataset("d", "v1", ref("h1"), "s", 1)
    store.add_dataset("e", "v1", ref("h3"), "s", 1)
    _run(store, "r1")
    store.record_dataset_usage("r1", "load", "d", "v1", latest=True)
    store.record_dataset_usage("r1", "load", "e", "v1", latest=False)  # pinned: never stale
    assert store.stale_latest_reads("r1", "load") == []
    store.add_dataset("d", "v2", ref("h2"), "s", 1)
    store.add_dataset("e", "v2", ref("h4"), "s", 1)
    assert store.stale_latest_reads("r1", "load") == ["d@v1"]
    assert store.stale_latest_reads("r1", "train") == []
    store.record_dataset_usage("r1", "train", "e", "v1")
    store.record_dataset_usage("r1", "train", "e", "v1", latest=True)  # a later unpinned read marks it
    assert store.stale_latest_reads("r1", "train") == ["e@v1"]


def test_dataset_usage_is_filtered_by_run_name_and_version_with_its_hash(store: RunStore) -> None:
    store.add_dataset("d", "v1", ref("h1"), "s", 1)
    _run(store, "r1")
    _run(store, "r2")
    store.record_dataset_usage("r1", "load", "d", "v1")
    store.record_dataset_usage("r2", "load", "d", "v2")  # a version the store does not know
    store.record_dataset_usage("r2", "load", "e", "v1")
    assert [(u["run_id"], u["name"], u["version"], u["hash"], u["latest"]) for u in store.dataset_usage()] == [
        ("r1", "d", "v1", "h1", 0), ("r2", "d", "v2", None, 0), ("r2", "e", "v1", None, 0)]
    assert [u["run_id"] for u in store.dataset_usage(run_id="r2")] == ["r2", "r2"]
    assert [u["version"] for u in store.dataset_usage(name="d")] == ["v1", "v2"]
    assert [(u["run_id"], u["name"]) for u in store.dataset_usage(version="v1")] == [("r1", "d"), ("r2", "e")]
    assert [u["name"] for u in store.dataset_usage(run_id="r2", name="d", version="v2")] == ["d"]


def test_model_lineage_links(store: RunStore) -> None:
    assert store.model_version("m", "1.0.0") is None and store.models_of_runs([]) == []
    store.record_model("m", "1.0.0", "r1", "train", "file:///a")
    store.record_model("m", "1.1.0", "r2", "train", "file:///b")
    store.record_model("n", "1.0.0", "r2", "train", None)
    link = store.model_version("m", "1.0.0")
    assert (link["run_id"], link["step"], link["artifact"]) == ("r1", "train", "file:///a")
    assert store.recorded_versions("m") == ["1.0.0", "1.1.0"]
    assert [(r["model"], r["version"]) for r in store.models_of_runs(["r2"])] == [("m", "1.1.0"), ("n", "1.0.0")]
    assert [(r["model"], r["version"]) for r in store.models_of_runs(["r1", "r3"])] == [("m", "1.0.0")]


# --- the database file -------------------------------------------------------------------------
def test_a_failed_transaction_writes_nothing(store: RunStore) -> None:
    with pytest.raises(ValueError):
        with store.tx() as c:
            c.execute("INSERT INTO events (run_id, ts, kind) VALUES ('r', 0, 'x')")
            raise ValueError
    assert store.events("r") == []


def test_a_store_opened_before_a_fork_refuses_to_write_in_the_child(store: RunStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module.os, "getpid", lambda: store._pid + 1)
    with pytest.raises(RuntimeError) as caught:
        store.log("r", None, "x")
    assert str(caught.value) == "RunStore connection used across fork; open a new RunStore in the child"


def test_a_home_whose_parents_do_not_exist_yet_is_created(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "a" / "b")
    assert store.path == tmp_path / "a" / "b" / "modelway.db" and store.path.is_file()
    store.close()


def test_steps_may_write_and_read_from_other_threads(store: RunStore) -> None:
    # Steps log from worker threads through the process's one connection.
    _run(store)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.log("20261203-aaa", "load", "from a thread")
            store.get_run("20261203-aaa")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
    assert _kinds(store, "20261203-aaa")[-1] == ("load", "log", None, "from a thread")


def test_reopening_a_current_store_keeps_its_runs_and_its_settings(tmp_path: Path) -> None:
    first = RunStore(tmp_path)
    _run(first)
    second = RunStore(tmp_path)
    assert second.get_run("20261203-aaa")["pipeline"] == "p"
    for store in (first, second):  # NORMAL: durable in WAL mode, without an fsync per event
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1
        store.close()


def test_a_schema_created_by_another_process_first_is_used_not_refused(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two runs starting at once on a new home: the other one creates the schema between this
    # store's first look (empty) and its write lock. It then finds the current version: no error.
    original = RunStore.tx
    raced: list[bool] = []

    def tx_after_the_other_process(self):
        if not raced:
            raced.append(True)
            other = sqlite3.connect(self.path, isolation_level=None)
            for statement in runs_module.SCHEMA.split(";"):
                if statement.strip():
                    other.execute(statement)
            other.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            other.close()
        return original(self)

    monkeypatch.setattr(RunStore, "tx", tx_after_the_other_process)
    store = RunStore(tmp_path)
    assert raced and store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    _run(store)
    store.close()


def test_a_store_that_stays_locked_is_retried_50_times_with_growing_waits(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    holder = sqlite3.connect(tmp_path / "modelway.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the new database's write lock
    waits: list[float] = []
    monkeypatch.setattr(runs_module, "BUSY_TIMEOUT_S", 0.0)
    monkeypatch.setattr(runs_module.time, "sleep", waits.append)
    monkeypatch.setattr(runs_module.random, "random", lambda: 0.5)
    with pytest.raises(sqlite3.OperationalError) as caught:
        RunStore(tmp_path)
    assert str(caught.value) == f"{tmp_path / 'modelway.db'}: database stayed locked while creating the schema"
    assert waits == pytest.approx([0.02 + 0.5 * 0.05 * (attempt + 1) for attempt in range(50)])
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.parametrize("message, retried", [("database is locked", True), ("database busy", True),
                                              ("disk I/O error", False)])
def test_only_a_locked_or_busy_database_is_retried_while_creating_the_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, message: str, retried: bool) -> None:
    original = RunStore.tx
    failures = [message]

    def flaky_tx(self):
        if failures:
            raise sqlite3.OperationalError(failures.pop())
        return original(self)

    waits: list[float] = []
    monkeypatch.setattr(RunStore, "tx", flaky_tx)
    monkeypatch.setattr(runs_module.time, "sleep", waits.append)
    if retried:
        RunStore(tmp_path).close()
        assert len(waits) == 1
    else:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            RunStore(tmp_path)
        assert waits == []


def test_a_new_store_is_at_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60000
    assert store.read_only is False and store.path == tmp_path / "modelway.db"
    store.close()


def test_a_store_from_schema_one_is_upgraded_keeping_its_runs(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "modelway.db")
    db.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_file TEXT, status TEXT NOT NULL,
          params TEXT NOT NULL DEFAULT '{}', executor TEXT, use_cache INTEGER NOT NULL DEFAULT 1,
          created_at REAL NOT NULL, started_at REAL, ended_at REAL, error TEXT, outputs TEXT,
          lineage TEXT, pid INTEGER, host TEXT, resumes INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE steps (run_id TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, func TEXT,
          status TEXT NOT NULL, cached INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
          started_at REAL, ended_at REAL, duration_s REAL, cpu_s REAL, peak_rss_mb REAL, cache_key TEXT,
          output_hash TEXT, output_kind TEXT, upstream TEXT, settings TEXT, error TEXT, traceback TEXT,
          PRIMARY KEY (run_id, name));
        CREATE TABLE dataset_usage (run_id TEXT NOT NULL, step TEXT NOT NULL, name TEXT NOT NULL,
          version TEXT NOT NULL, ts REAL NOT NULL, PRIMARY KEY (run_id, step, name, version));
        INSERT INTO runs (run_id, pipeline, status, created_at) VALUES ('old', 'p', 'succeeded', 1.0);
        PRAGMA user_version=1;
    """)
    db.close()
    store = RunStore(tmp_path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.get_run("old")["status"] == "succeeded"
    _run(store, "new")  # needs runner_started (migration 2) and steps.inputs (migration 1)
    store.step_started("new", "load", 1, None, {"u": "h"})
    store.record_dataset_usage("new", "load", "d", "v1", latest=True)  # migration 3
    assert store.steps("new")[0]["inputs"] == {"u": "h"}
    assert store.dataset_usage("new")[0]["latest"] == 1
    store.close()


def test_a_store_from_a_newer_modelway_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "modelway.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError) as caught:
        RunStore(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'modelway.db'} was written by a newer Modelway (schema "
                                 f"{SCHEMA_VERSION + 1}, this one reads {SCHEMA_VERSION}); upgrade modelway")


def test_a_file_that_is_not_a_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "modelway.db").write_bytes(b"not sqlite at all, just some bytes" * 40)
    with pytest.raises(ConfigError) as caught:
        RunStore(tmp_path)
    path = tmp_path / "modelway.db"
    assert str(caught.value) == (f"{path} is not a Modelway run store (file is not a database); move it aside "
                                 f"(mv {path} {path}.broken) to start a new one, or set MODELWAY_HOME to another "
                                 "directory")


def test_a_read_only_home_is_readable_and_refuses_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = RunStore(tmp_path)
    _run(writer)
    writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()

    def locked(self):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(RunStore, "_open", locked)
    monkeypatch.setattr(runs_module, "writable", lambda home: False)
    store = RunStore(tmp_path)
    assert store.read_only is True
    assert store.get_run("20261203-aaa")["pipeline"] == "p"
    assert store.get_run("20261203-aaa")["params"] == {"n": 3}  # rows come back as named columns
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(store.resolve_run_id("latest")))  # steps read from threads
    reader.start()
    reader.join()
    assert seen == ["20261203-aaa"]
    with pytest.raises(OSError) as caught:
        store.log("20261203-aaa", None, "x")
    assert caught.value.errno == errno.EROFS and caught.value.filename == str(tmp_path / "modelway.db")
    monkeypatch.setattr(runs_module, "writable", lambda home: True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # writable home: the real error, no fallback
        RunStore(tmp_path)


def test_a_read_only_home_at_an_old_schema_says_to_upgrade_it_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = sqlite3.connect(tmp_path / "modelway.db")
    db.execute("PRAGMA user_version=3")
    db.close()

    def locked(self):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(RunStore, "_open", locked)
    monkeypatch.setattr(runs_module, "writable", lambda home: False)
    with pytest.raises(ConfigError) as caught:
        RunStore(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'modelway.db'} needs a schema upgrade (schema 3, this Modelway reads "
                                 f"{SCHEMA_VERSION}) but its home is read-only; run once with a writable home")


def test_a_missing_store_in_a_read_only_home_is_not_faked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(self):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(RunStore, "_open", locked)
    monkeypatch.setattr(runs_module, "writable", lambda home: False)
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        RunStore(tmp_path)
