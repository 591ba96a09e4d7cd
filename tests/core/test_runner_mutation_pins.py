"""Mutation pins for modelway.runtime.runner: what a user sees of a run, in-process and fast.

Every run here uses the in-process executor and no display, so a test takes milliseconds;
the forked-process paths are covered by test_core_runner.py. Each test asserts what
``modelway run --json``, ``runs show`` or the Python API would show: statuses, exact
messages, the run record's fields and every step of the result.
"""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import psutil
import pytest

from modelway import pipeline, run_pipeline, step
from modelway.errors import UserError
from modelway.runtime import StepFailed
from modelway.runtime.errors import RunCancelled
from modelway.runtime.context import stores
from modelway.runtime.runner import RunResult, StepResult, new_run_id, resume_run, runner_alive

from core_helpers import write_pipeline

CALLS: dict[str, int] = {}


@step
def seed(n: int) -> int:
    return n * 2


@step
def inc(x: int) -> int:
    return x + 1


@step
def as_dict(x: int) -> dict:
    return {"k": x, "items": [x, x + 1]}


@step
def boom(x: int) -> int:
    raise ValueError(f"bad value {x}")


@step
def gate(x: int) -> int:
    raise StepFailed(f"AUC {x} is below the gate")


@step(retries=1, retry_delay=0)
def flaky(x: int) -> int:
    CALLS["flaky"] = CALLS.get("flaky", 0) + 1
    if CALLS["flaky"] == 1:
        raise RuntimeError("first attempt fails")
    return x


@step(retries=3, retry_delay="1h")
def slow_retry(x: int) -> int:
    raise RuntimeError("transient")


@step(cache=False)
def uncached(x: int) -> int:
    CALLS["uncached"] = CALLS.get("uncached", 0) + 1
    return x


@step
def as_set(x: int) -> set:
    return {x}


@pipeline
def two(n: int = 1) -> int:
    return inc(seed(n))


@pipeline
def fails_mid(n: int = 1) -> int:
    return inc(boom(seed(n)))


@pipeline
def fails_gate(n: int = 1) -> int:
    return inc(gate(n))


@pipeline
def retried(n: int = 1) -> int:
    return flaky(n)


@pipeline
def stopped_while_waiting(n: int = 1) -> tuple:
    # slow_retry runs first (graph order), fails and waits an hour; boom then fails for good;
    # tail never starts (one worker): each ends with its own reason.
    return slow_retry(n), boom(n), seed(n)


@pipeline
def uncached_pipe(n: int = 1) -> int:
    return uncached(n)


@pipeline
def many_outputs(n: int = 1) -> dict:
    d = as_dict(n)
    return {"whole": d, "k": d["k"], "second": d["items"][1], "obj": as_set(n),
            "const": 7, 3: (seed(n), "x")}


@pipeline
def missing_key(n: int = 1) -> dict:
    d = as_dict(n)
    return {"missing": d["nope"], "deep": d["items"][9]}


@pipeline
def nothing(n: int = 1) -> None:
    seed(n)


@pipeline(executor="inprocess")
def declares_inprocess(n: int = 1) -> int:
    return seed(n)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


def run(p, params=None, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("executor", "inprocess")
    return run_pipeline(p, params, display="none", **kw)


# -- run ids and the result object ----------------------------------------------------------

def test_run_ids_are_sortable_timestamps_with_a_random_suffix() -> None:
    ids = {new_run_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)


def test_to_json_lists_every_step_with_its_rounded_duration() -> None:
    result = RunResult("r1", "failed", [StepResult("a", "succeeded", False, 1, 0.12345678, "h1"),
                                        StepResult("b", "skipped", False, 0, None, None, "why")],
                       {"x": 1}, error="step 'a' failed")
    assert result.to_json() == {
        "run_id": "r1", "status": "failed", "error": "step 'a' failed",
        "steps": [{"name": "a", "status": "succeeded", "cached": False, "attempts": 1, "duration_s": 0.123457,
                   "output": "h1"},
                  {"name": "b", "status": "skipped", "cached": False, "attempts": 0, "duration_s": None,
                   "output": None}],
        "outputs": {"x": 1},
    }


def test_raise_for_status_on_each_status() -> None:
    RunResult("r", "succeeded", [], {}).raise_for_status()
    with pytest.raises(RunCancelled) as cancelled:
        RunResult("r2", "cancelled", [], {}, error="cancelled by user", failed_step="a").raise_for_status()
    assert cancelled.value.run_id == "r2"
    with pytest.raises(StepFailed, match=r"^step 'a' failed: boom$") as failed:
        RunResult("r3", "failed", [], {}, error="step 'a' failed: boom", failed_step="a").raise_for_status()
    assert (failed.value.step, failed.value.run_id) == ("a", "r3")
    with pytest.raises(StepFailed, match=r"^run failed$"):
        RunResult("r4", "failed", [], {}).raise_for_status()
    assert RunResult("r", "succeeded", [], {}).resumable is False


# -- a run end to end --------------------------------------------------------------------------

def test_a_successful_run_is_recorded_with_its_params_steps_and_outputs(home: Path) -> None:
    result = run(two, {"n": 3}, home=home, use_cache=False)
    assert (result.status, result.error, result.failed_step, result.resumable) == ("succeeded", None, None, False)
    assert result.home == home.absolute()
    assert result.outputs == {"result": 7}
    assert result.output_values() == 7
    assert [(s.name, s.status, s.cached, s.attempts, s.error) for s in result.steps] == [
        ("seed", "succeeded", False, 1, None), ("inc", "succeeded", False, 1, None)]
    assert all(s.output_hash and s.duration_s is not None and s.duration_s >= 0 for s in result.steps)
    run_store, _ = stores(home)
    record = run_store.get_run(result.run_id)
    assert (record["pipeline"], record["pipeline_file"], record["status"], record["executor"]) == (
        "two", None, "succeeded", "inprocess")
    assert record["params"] == {"n": 3}
    assert not record["use_cache"]
    steps = run_store.steps(result.run_id)
    assert [(s["name"], s["upstream"], s["status"], s["attempts"]) for s in steps] == [
        ("seed", [], "succeeded", 1), ("inc", ["seed"], "succeeded", 1)]
    assert steps[0]["func"].endswith("seed")
    assert steps[1]["inputs"] == {"seed": steps[0]["output_hash"]}


def test_params_that_are_not_json_are_recorded_as_text(home: Path) -> None:
    result = run(two, {"n": 2}, home=home, run_id="20260101-000000-abcdef")
    assert result.run_id == "20260101-000000-abcdef"
    assert result.outputs == {"result": 5}

    class Odd:
        def __int__(self) -> int:
            return 1

        def __str__(self) -> str:
            return "odd!"

    from modelway.runtime.runner import _jsonable_params

    assert _jsonable_params({"a": 1, "b": [1, "x"], "c": Odd()}) == {"a": 1, "b": [1, "x"], "c": "odd!"}


def test_a_second_run_is_served_from_the_cache_unless_disabled(home: Path) -> None:
    first = run(two, {"n": 1}, home=home)
    second = run(two, {"n": 1}, home=home)
    assert [(s.status, s.cached, s.attempts, s.duration_s) for s in second.steps] == [
        ("cached", True, 0, 0.0), ("cached", True, 0, 0.0)]
    assert [s.output_hash for s in second.steps] == [s.output_hash for s in first.steps]
    assert second.outputs == {"result": 3}
    run_store, _ = stores(home)
    assert [s["status"] for s in run_store.steps(second.run_id)] == ["cached", "cached"]
    third = run(two, {"n": 1}, home=home, use_cache=False)
    assert [s.status for s in third.steps] == ["succeeded", "succeeded"]
    other = run(two, {"n": 2}, home=home)  # other params: other keys
    assert [s.status for s in other.steps] == ["succeeded", "succeeded"]


def test_a_step_with_cache_off_runs_every_time(home: Path) -> None:
    run(uncached_pipe, {"n": 1}, home=home)
    again = run(uncached_pipe, {"n": 1}, home=home)
    assert [s.status for s in again.steps] == ["succeeded"]
    assert CALLS["uncached"] == 2


def test_a_failing_step_stops_the_run_and_skips_what_depends_on_it(home: Path) -> None:
    result = run(fails_mid, {"n": 1}, home=home)
    assert result.status == "failed"
    assert result.error == "step 'boom' failed: ValueError: bad value 2"
    assert result.failed_step == "boom"
    assert result.resumable is True
    assert result.outputs == {}
    assert [(s.name, s.status, s.error) for s in result.steps] == [
        ("seed", "succeeded", None), ("boom", "failed", "ValueError: bad value 2"),
        ("inc", "skipped", "not run: upstream step 'boom' failed")]
    with pytest.raises(StepFailed) as exc:
        result.raise_for_status()
    assert (exc.value.step, exc.value.run_id, str(exc.value)) == ("boom", result.run_id, result.error)
    run_store, _ = stores(home)
    record = run_store.get_run(result.run_id)
    assert (record["status"], record["error"]) == ("failed", "step 'boom' failed: ValueError: bad value 2")
    assert [(s["status"], s["error"]) for s in run_store.steps(result.run_id)] == [
        ("succeeded", None), ("failed", "ValueError: bad value 2"), ("skipped", "not run: upstream step 'boom' failed")]


def test_a_deliberate_failure_is_not_resumable(home: Path) -> None:
    result = run(fails_gate, {"n": 5}, home=home)
    assert (result.status, result.error, result.resumable) == (
        "failed", "step 'gate' failed: AUC 5 is below the gate", False)
    assert [(s.status, s.attempts) for s in result.steps] == [("failed", 1), ("skipped", 0)]


def test_a_retryable_failure_is_retried_and_recorded(home: Path) -> None:
    result = run(retried, {"n": 4}, home=home)
    assert result.status == "succeeded"
    assert result.outputs == {"result": 4}
    assert [(s.status, s.attempts, s.error) for s in result.steps] == [("succeeded", 2, None)]
    run_store, _ = stores(home)
    kinds = [(e["kind"], e["message"]) for e in run_store.events(result.run_id) if e["step"] == "flaky"]
    assert kinds == [("running", None), ("retrying", "RuntimeError: first attempt fails"), ("running", None), ("succeeded", None)]


def test_steps_left_by_a_failed_run_say_why(home: Path) -> None:
    result = run(stopped_while_waiting, {"n": 1}, home=home, workers=1)
    assert result.status == "failed"
    assert result.error == "step 'boom' failed: ValueError: bad value 1"
    assert result.resumable is True
    assert [(s.name, s.status, s.error) for s in result.steps] == [
        ("slow_retry", "cancelled", "not retried: the run failed at step 'boom' (last attempt: RuntimeError: transient)"),
        ("boom", "failed", "ValueError: bad value 1"),
        ("seed", "cancelled", "not started: the run failed at step 'boom'")]
    assert [s.attempts for s in result.steps] == [1, 1, 0]


def test_workers_limit_the_steps_in_flight(home: Path) -> None:
    # with two workers the independent seed starts before boom's failure is collected
    result = run(stopped_while_waiting, {"n": 1}, home=home, workers=3)
    assert [(s.name, s.status) for s in result.steps] == [
        ("slow_retry", "cancelled"), ("boom", "failed"), ("seed", "succeeded")]


def test_outputs_render_json_inline_and_other_artifacts_by_hash(home: Path) -> None:
    result = run(many_outputs, {"n": 4}, home=home)
    assert result.status == "succeeded", result.error
    hashes = {s.name: s.output_hash for s in result.steps}
    outputs = result.outputs
    assert outputs["whole"] == {"k": 4, "items": [4, 5]}
    assert outputs["k"] == 4
    assert outputs["second"] == 5
    assert outputs["obj"]["artifact"] == hashes["as_set"]
    assert "path" not in outputs["obj"]
    assert outputs["obj"]["kind"] != "json"
    assert outputs["const"] == 7
    assert outputs["3"] == [8, "x"]
    assert set(outputs) == {"whole", "k", "second", "obj", "const", "3"}
    values = result.output_values()
    assert values["obj"] == {4}
    assert values["k"] == 4


def test_an_output_path_json_cannot_follow_is_shown_as_the_artifact(home: Path) -> None:
    result = run(missing_key, {"n": 4}, home=home)
    digest = result.steps[0].output_hash
    assert result.outputs == {
        "missing": {"artifact": digest, "kind": "json", "type": "builtins.dict", "path": ["nope"]},
        "deep": {"artifact": digest, "kind": "json", "type": "builtins.dict", "path": ["items", 9]},
    }


def test_a_pipeline_without_outputs_records_none(home: Path) -> None:
    result = run(nothing, {"n": 1}, home=home)
    assert (result.status, result.outputs) == ("succeeded", {})


def test_the_executor_is_checked_and_defaults_to_the_pipelines(home: Path) -> None:
    with pytest.raises(UserError, match=r"^executor must be 'process' or 'inprocess', got 'threads'$"):
        run_pipeline(two, {"n": 1}, executor="threads", display="none", home=home)
    result = run_pipeline(declares_inprocess, {"n": 1}, display="none", home=home)
    run_store, _ = stores(home)
    assert run_store.get_run(result.run_id)["executor"] == "inprocess"


def test_a_corrupted_cache_hit_is_recomputed_with_a_warning(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run(two, {"n": 1}, home=home)
    _, artifacts = stores(home)
    digest = first.steps[1].output_hash
    path = artifacts.data_path(digest)
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    capsys.readouterr()
    second = run(two, {"n": 1}, home=home)
    assert [s.status for s in second.steps] == ["cached", "succeeded"]
    assert second.outputs == {"result": 3}
    err = capsys.readouterr().err
    assert err.startswith("warning: cached result of step 'inc' failed verification (")
    assert "; recomputing it (corrupted copy moved to " in err
    run_store, _ = stores(home)
    notes = [e["message"] for e in run_store.events(second.run_id) if e["kind"] == "note"]
    assert len(notes) == 1 and notes[0] == err.strip().removeprefix("warning: ")


@step(cache=False)
def read_seed(x: int) -> int:
    return x + 100


@pipeline
def uncached_reader(n: int = 1) -> int:
    return read_seed(seed(n))


def test_a_cached_input_that_fails_verification_runs_again_first(home: Path) -> None:
    run(uncached_reader, {"n": 1}, home=home)
    run_store, artifacts = stores(home)
    result = run(uncached_reader, {"n": 1}, home=home)
    assert [s.status for s in result.steps] == ["cached", "succeeded"]
    path = artifacts.data_path(result.steps[0].output_hash)
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    again = run(uncached_reader, {"n": 1}, home=home)
    assert [(s.name, s.status, s.attempts) for s in again.steps] == [("seed", "succeeded", 1), ("read_seed", "succeeded", 1)]
    assert again.outputs == {"result": 102}


# -- resume ------------------------------------------------------------------------------------

RESUMABLE = """
import os
from modelway import pipeline, step

@step
def first(n: int) -> int:
    return n + 1

@step
def second(x: int) -> int:
    if os.environ.get("PIN_FAIL"):
        raise ValueError("still broken")
    return x * 10

@pipeline
def p(n: int = 1) -> int:
    return second(first(n))
"""


def test_resume_reuses_finished_steps_and_runs_the_rest(home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.dsl.loader import load_pipeline

    path = write_pipeline(tmp_path, RESUMABLE)
    monkeypatch.setenv("PIN_FAIL", "1")
    failed = run_pipeline(load_pipeline(path, "p"), {"n": 1}, executor="inprocess", display="none", home=home,
                          pipeline_file=path)
    assert failed.status == "failed"
    run_store, _ = stores(home)
    assert run_store.get_run(failed.run_id)["pipeline_file"] == str(path)
    monkeypatch.delenv("PIN_FAIL")
    resumed = resume_run(failed.run_id[:10], display="none", home=home)
    assert resumed.run_id == failed.run_id
    assert (resumed.status, resumed.outputs) == ("succeeded", {"result": 20})
    assert [(s.name, s.status, s.attempts) for s in resumed.steps] == [("first", "reused", 1), ("second", "succeeded", 2)]
    with pytest.raises(UserError, match=rf"^run {failed.run_id} already succeeded; nothing to resume$"):
        resume_run(failed.run_id, display="none", home=home)


def test_resume_notes_a_changed_pipeline_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from modelway.dsl.loader import load_pipeline

    path = write_pipeline(tmp_path, RESUMABLE)
    monkeypatch.setenv("PIN_FAIL", "1")
    failed = run_pipeline(load_pipeline(path, "p"), {"n": 1}, executor="inprocess", display="none", home=home,
                          pipeline_file=path)
    path.write_text(RESUMABLE + "\n# edited\n")
    capsys.readouterr()
    again = resume_run(failed.run_id, display="plain", home=home, executor="inprocess")
    assert again.status == "failed"
    assert [s.status for s in again.steps] == ["reused", "failed"]
    err = capsys.readouterr().err
    assert f"note: {path} changed since run {failed.run_id} started; unfinished steps run the current code" in err
    run_store, _ = stores(home)
    notes = [e["message"] for e in run_store.events(failed.run_id) if e["kind"] == "note"]
    assert notes == ["pipeline file changed since the run started"]
    # a pipeline that lost a step cannot resume that run
    path.write_text(RESUMABLE.replace("return second(first(n))", "return first(n)"))
    with pytest.raises(UserError, match=rf"^pipeline 'p' in {re.escape(str(path))} no longer has the same steps as run "
                                        rf"{failed.run_id}; start a new run instead$"):
        resume_run(failed.run_id, display="none", home=home)


def test_resume_refuses_unknown_and_python_started_runs(home: Path) -> None:
    with pytest.raises(UserError, match=rf"^no run 'nope' in {re.escape(str(home.absolute()))}; "
                                        r"list runs with: modelway runs list$"):
        resume_run("nope", display="none", home=home)
    failed = run(fails_mid, {"n": 1}, home=home)
    with pytest.raises(UserError, match=rf"^run {failed.run_id} was started from Python, not from a file; "
                                        r"it cannot be resumed from the CLI$"):
        resume_run(failed.run_id, display="none", home=home)


# -- is the runner still alive? ---------------------------------------------------------------

def test_runner_alive_by_pid_host_and_start_time() -> None:
    assert runner_alive({}) is False
    assert runner_alive({"pid": None}) is False
    assert runner_alive({"pid": os.getpid(), "host": socket.gethostname()}) is False
    assert runner_alive({"pid": os.getpid() + 10**7, "host": "another-host"}) is True
    assert runner_alive({"pid": 2**22 + 12345, "host": socket.gethostname()}) is False  # no such process
    parent = os.getppid()
    created = psutil.Process(parent).create_time()
    here = socket.gethostname()
    assert runner_alive({"pid": parent, "host": here, "runner_started": created}) is True
    assert runner_alive({"pid": parent, "runner_started": created - 1.0}) is True  # within the 1 s slack
    assert runner_alive({"pid": parent, "runner_started": created - 1.5}) is False  # pid recycled since
    assert runner_alive({"pid": parent, "runner_started": None, "started_at": created}) is True
    assert runner_alive({"pid": parent, "runner_started": created - 5, "started_at": created}) is False
    assert runner_alive({"pid": parent}) is False  # no start recorded: any live process is newer than 0 + 1 s


# -- defaults, the display, and resume's other guards -----------------------------------------

def test_result_defaults_and_repr_hide_the_internals() -> None:
    step_result = StepResult("a", "succeeded", False, 1, 0.5)
    assert (step_result.output_hash, step_result.error) == (None, None)
    result = RunResult("r", "succeeded", [step_result], {"x": 1})
    assert (result.error, result.failed_step, result.home, result.resumable) == (None, None, None, False)
    assert "_graph_outputs" not in repr(result) and "_hashes" not in repr(result)
    assert repr(result).startswith("RunResult(run_id='r', status='succeeded', steps=[StepResult(name='a'")


def test_the_default_display_prints_plain_lines_when_not_on_a_terminal(home: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    result = run_pipeline(two, {"n": 1}, executor="inprocess", home=home)
    out = capsys.readouterr()
    assert f"run {result.run_id}: pipeline two (2 steps)" in out.out + out.err


def test_step_settings_are_recorded_without_their_defaults(home: Path) -> None:
    result = run(retried, {"n": 1}, home=home)
    plain = run(two, {"n": 1}, home=home)
    run_store, _ = stores(home)
    assert [s["settings"] for s in run_store.steps(plain.run_id)] == [{}, {}]
    assert run_store.steps(result.run_id)[0]["settings"] == {"retries": 1, "retry_delay": "0"}


@pipeline(preload=["modelway_no_such_module_h6"])
def preloading(n: int = 1) -> int:
    return seed(n)


def test_a_process_run_preloads_what_the_pipeline_declares(home: Path) -> None:
    result = run_pipeline(preloading, {"n": 2}, executor="process", display="none", home=home)
    assert result.outputs == {"result": 4}
    run_store, _ = stores(home)
    notes = [e["message"] for e in run_store.events(result.run_id) if e["kind"] == "note"]
    assert len(notes) == 1 and "modelway_no_such_module_h6" in notes[0]


def _started_from_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str = RESUMABLE) -> tuple[Path, RunResult]:
    from modelway.dsl.loader import load_pipeline

    path = write_pipeline(tmp_path, source)
    monkeypatch.setenv("PIN_FAIL", "1")
    failed = run_pipeline(load_pipeline(path, "p"), {"n": 1}, executor="inprocess", display="none", home=home,
                          pipeline_file=path)
    monkeypatch.delenv("PIN_FAIL")
    return path, failed


def test_resume_refuses_a_run_whose_runner_is_alive(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    _, failed = _started_from_file(home, tmp_path, monkeypatch)
    parent = os.getppid()
    db = sqlite3.connect(stores(home)[0].path)
    db.execute("UPDATE runs SET status='running', pid=?, host=?, runner_started=? WHERE run_id=?",
               (parent, socket.gethostname(), psutil.Process(parent).create_time(), failed.run_id))
    db.commit()
    db.close()
    with pytest.raises(UserError, match=rf"^run {failed.run_id} is still running \(pid {parent}\); "
                                        r"wait for it or stop it first$"):
        resume_run(failed.run_id, display="none", home=home)


def test_resume_without_an_executor_uses_the_runs_and_says_it_resumes(home: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # the second step only succeeds in this process: it proves the run's recorded executor (inprocess) is reused
    source = RESUMABLE.replace('if os.environ.get("PIN_FAIL"):',
                               'if os.environ.get("PIN_FAIL") or os.getpid() != int(os.environ["PIN_PID"]):')
    monkeypatch.setenv("PIN_PID", str(os.getpid()))
    path, failed = _started_from_file(home, tmp_path, monkeypatch, source)
    stores(home)[0].set_lineage(failed.run_id, {})  # no recorded file hash: nothing to compare
    capsys.readouterr()
    resumed = resume_run(failed.run_id, display="plain", home=home)
    assert resumed.status == "succeeded", resumed.error
    out = capsys.readouterr()
    assert f"resuming {failed.run_id}: pipeline p (2 steps)" in out.out + out.err
    assert "note:" not in out.err


def test_a_quiet_resume_logs_a_changed_file_without_printing(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, failed = _started_from_file(home, tmp_path, monkeypatch)
    path.write_text(RESUMABLE + "\n# edited\n")
    capsys.readouterr()
    resume_run(failed.run_id, display="none", home=home)
    assert capsys.readouterr().err == ""
    notes = [e["message"] for e in stores(home)[0].events(failed.run_id) if e["kind"] == "note"]
    assert notes == ["pipeline file changed since the run started"]


def test_resume_reuses_a_cached_step(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.dsl.loader import load_pipeline

    path = write_pipeline(tmp_path, RESUMABLE)
    run_pipeline(load_pipeline(path, "p"), {"n": 1}, executor="inprocess", display="none", home=home, pipeline_file=path)
    monkeypatch.setenv("PIN_FAIL", "1")
    failed = run_pipeline(load_pipeline(path, "p"), {"n": 2}, executor="inprocess", display="none", home=home,
                          pipeline_file=path)
    assert [s.status for s in failed.steps] == ["succeeded", "failed"]
    monkeypatch.setenv("PIN_FAIL", "1")
    cached = run_pipeline(load_pipeline(path, "p"), {"n": 2}, executor="inprocess", display="none", home=home,
                          pipeline_file=path)
    assert [s.status for s in cached.steps] == ["cached", "failed"]
    monkeypatch.delenv("PIN_FAIL")
    resumed = resume_run(cached.run_id, display="none", home=home)
    assert [s.status for s in resumed.steps] == ["reused", "succeeded"]


def test_runner_alive_for_this_process_is_false_even_when_recent() -> None:
    import time

    assert runner_alive({"pid": os.getpid(), "host": socket.gethostname(), "runner_started": time.time()}) is False


@step
def interrupt(x: int) -> int:
    import signal

    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while this in-process step runs
    return x


@pipeline
def interrupted(n: int = 1) -> tuple:
    first = interrupt(n)
    return as_dict(inc(first)), seed(n)


def test_ctrl_c_cancels_the_run_and_says_what_did_not_run(home: Path) -> None:
    result = run(interrupted, {"n": 1}, home=home, workers=1)
    assert (result.status, result.error, result.failed_step, result.resumable) == (
        "cancelled", "cancelled by user", None, True)
    assert [(s.name, s.status, s.error) for s in result.steps] == [
        ("interrupt", "cancelled", None),
        ("inc", "skipped", "not run: upstream step 'interrupt' was cancelled"),
        ("as_dict", "skipped", "not run: upstream step 'inc' did not run"),
        ("seed", "cancelled", "not started: the run was cancelled")]
    assert result.outputs == {}
    with pytest.raises(RunCancelled):
        result.raise_for_status()
    run_store, _ = stores(home)
    record = run_store.get_run(result.run_id)
    assert (record["status"], record["error"]) == ("cancelled", "cancelled by user")
    steps = run_store.steps(result.run_id)
    assert (steps[0]["status"], steps[0]["error"]) == ("cancelled", "cancelled")
    assert steps[0]["duration_s"] is not None and steps[0]["duration_s"] >= 0


# -- workers, executors, echo, waiting retries, a corrupted finished output ----------------------

@step
def pid_of_step(x: int) -> int:
    return os.getpid()


@step
def chatty(x: int) -> int:
    from modelway import step_context

    step_context().log(f"working on {x}")
    return x


@step(retries=1, retry_delay="0.05s")
def flaky_later(x: int) -> int:
    CALLS["later"] = CALLS.get("later", 0) + 1
    if CALLS["later"] == 1:
        raise RuntimeError("not yet")
    return x


@pipeline
def boom_then_seed(n: int = 1) -> tuple:
    return boom(n), seed(n)


@pipeline(workers=1)
def boom_then_seed_one_worker(n: int = 1) -> tuple:
    return boom(n), seed(n)


@pipeline
def where_steps_run(n: int = 1) -> int:
    return pid_of_step(n)


@pipeline
def talks(n: int = 1) -> int:
    return chatty(n)


@pipeline
def retried_later(n: int = 1) -> int:
    return flaky_later(n)


def test_one_worker_runs_one_step_at_a_time(home: Path) -> None:
    one = run(boom_then_seed, {"n": 1}, home=home, workers=1)
    assert [(s.name, s.status) for s in one.steps] == [("boom", "failed"), ("seed", "cancelled")]
    two = run(boom_then_seed, {"n": 1}, home=home, workers=2)
    assert [(s.name, s.status) for s in two.steps] == [("boom", "failed"), ("seed", "succeeded")]
    declared = run(boom_then_seed_one_worker, {"n": 1}, home=home)  # the pipeline's own workers=1
    assert [(s.name, s.status) for s in declared.steps] == [("boom", "failed"), ("seed", "cancelled")]


def test_the_process_executor_runs_steps_in_another_process(home: Path) -> None:
    forked = run_pipeline(where_steps_run, {"n": 1}, executor="process", display="none", home=home)
    assert forked.status == "succeeded" and forked.outputs["result"] != os.getpid()
    here = run(where_steps_run, {"n": 2}, home=home)
    assert here.outputs == {"result": os.getpid()}


def test_a_run_uses_the_home_it_is_given_not_the_environments(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    result = run(two, {"n": 1}, home=other)
    assert result.home == other.absolute()
    assert stores(other)[0].get_run(result.run_id) is not None
    assert not (home / "modelway.db").exists()


def test_step_logs_are_echoed_by_a_visible_display_only(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_pipeline(talks, {"n": 7}, executor="inprocess", display="plain", home=home)
    assert "  [chatty] working on 7\n" in capsys.readouterr().err
    run_pipeline(talks, {"n": 8}, executor="inprocess", display="none", home=home)
    assert "working on 8" not in capsys.readouterr().err


def test_a_retry_with_a_delay_waits_then_runs(home: Path) -> None:
    result = run(retried_later, {"n": 5}, home=home)
    assert (result.status, result.outputs) == ("succeeded", {"result": 5})
    assert [(s.status, s.attempts) for s in result.steps] == [("succeeded", 2)]
    assert CALLS["later"] == 2


def test_steps_that_never_ran_have_no_duration(home: Path) -> None:
    result = run(fails_mid, {"n": 1}, home=home)
    assert result.steps[2].duration_s is None
    assert result.to_json()["steps"][2]["duration_s"] is None


def test_an_in_process_run_preloads_nothing(home: Path) -> None:
    result = run(preloading, {"n": 2}, home=home)
    run_store, _ = stores(home)
    assert [e for e in run_store.events(result.run_id) if e["kind"] == "note"] == []


def test_resume_recomputes_a_finished_output_that_fails_verification(home: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, failed = _started_from_file(home, tmp_path, monkeypatch)
    _, artifacts = stores(home)
    path = artifacts.data_path(failed.steps[0].output_hash)
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    capsys.readouterr()
    resumed = resume_run(failed.run_id, home=home)  # default display: plain lines when not on a terminal
    assert [(s.name, s.status) for s in resumed.steps] == [("first", "succeeded"), ("second", "succeeded")]
    out = capsys.readouterr()
    assert f"resuming {failed.run_id}: pipeline p (2 steps)" in out.out + out.err
    assert "the finished output of step 'first' failed verification (" in out.out + out.err


def test_a_failed_run_resumes_even_if_its_old_pid_is_alive(home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    _, failed = _started_from_file(home, tmp_path, monkeypatch)
    parent = os.getppid()
    db = sqlite3.connect(stores(home)[0].path)
    db.execute("UPDATE runs SET pid=?, host=?, runner_started=? WHERE run_id=?",
               (parent, socket.gethostname(), psutil.Process(parent).create_time(), failed.run_id))
    db.commit()
    db.close()
    assert resume_run(failed.run_id, display="none", home=home).status == "succeeded"


PRELOADING = RESUMABLE.replace("@pipeline\n", '@pipeline(preload=["modelway_no_such_module_h6"])\n')


def test_a_resumed_process_run_preloads_what_the_pipeline_declares(home: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, failed = _started_from_file(home, tmp_path, monkeypatch, PRELOADING)
    resumed = resume_run(failed.run_id, display="none", home=home, executor="process")
    assert resumed.status == "succeeded"
    notes = [e["message"] for e in stores(home)[0].events(failed.run_id) if e["kind"] == "note"]
    assert len(notes) == 1 and "modelway_no_such_module_h6" in notes[0]


# -- what goes into a cache key, and what makes a hit unusable -------------------------------------

@step
def ident(x: object) -> object:
    return x


@step
def reads_params(x: int) -> int:
    from modelway import step_context

    return x + int(step_context().params["extra"])


@step
def reads_latest(x: int) -> int:
    from modelway import step_context

    step_context().record_dataset("credit", "v1", latest=True)
    return x


@step
def takes_anything(x: int, thing: object) -> int:
    CALLS["anything"] = CALLS.get("anything", 0) + 1
    return x


@pipeline
def two_paths(n: int = 1) -> tuple:
    d = as_dict(n)
    return ident(d["k"]), ident(d["items"])


@pipeline
def with_extra(n: int = 1, extra: int = 0) -> int:
    return reads_params(n)


@pipeline
def latest_reader(n: int = 1) -> int:
    return reads_latest(n)


@pipeline
def with_object(n: int = 1, thing: object = None) -> int:
    return takes_anything(n, thing)


@pipeline
def two_failures(n: int = 1) -> tuple:
    return boom(n), gate(n)


def test_steps_reading_different_items_of_one_output_have_their_own_results(home: Path) -> None:
    first = run(two_paths, {"n": 3}, home=home)
    assert first.outputs == {"result": [3, [3, 4]]}
    again = run(two_paths, {"n": 3}, home=home)
    assert again.outputs == {"result": [3, [3, 4]]}
    assert [s.status for s in again.steps] == ["cached", "cached", "cached"]


def test_a_step_reading_the_pipeline_params_is_keyed_on_them(home: Path) -> None:
    assert run(with_extra, {"n": 1, "extra": 10}, home=home).outputs == {"result": 11}
    other = run(with_extra, {"n": 1, "extra": 20}, home=home)
    assert (other.outputs, other.steps[0].status) == ({"result": 21}, "succeeded")
    same = run(with_extra, {"n": 1, "extra": 20}, home=home)
    assert same.steps[0].status == "cached"


def test_a_cached_result_that_read_an_outdated_latest_dataset_is_recomputed(home: Path) -> None:
    from types import SimpleNamespace

    run(latest_reader, {"n": 1}, home=home)
    assert run(latest_reader, {"n": 1}, home=home).steps[0].status == "cached"
    run_store, _ = stores(home)
    for version, digest in (("v1", "a"), ("v2", "b")):
        run_store.add_dataset("credit", version, SimpleNamespace(hash=digest * 64, kind="json", type="dict", size=1), "s", 1)
    assert run(latest_reader, {"n": 1}, home=home).steps[0].status == "succeeded"


def test_an_input_that_cannot_be_fingerprinted_is_never_cached(home: Path) -> None:
    import threading

    lock = threading.Lock()  # cannot be pickled: no cache key
    run(with_object, {"n": 1, "thing": lock}, home=home)
    again = run(with_object, {"n": 1, "thing": lock}, home=home)
    assert [s.status for s in again.steps] == ["succeeded"]
    assert CALLS["anything"] == 2
    assert stores(home)[0].steps(again.run_id)[0]["cache_key"] is None


def test_a_cache_hit_whose_artifact_is_gone_runs_again(home: Path) -> None:
    import shutil

    first = run(two, {"n": 1}, home=home)
    _, artifacts = stores(home)
    shutil.rmtree(artifacts.path_of(first.steps[0].output_hash))
    again = run(two, {"n": 1}, home=home)
    assert [s.status for s in again.steps] == ["succeeded", "cached"]
    assert again.outputs == {"result": 3}


def test_the_first_failure_is_the_one_reported(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_pipeline(two_failures, {"n": 1}, executor="inprocess", display="plain", home=home, workers=2)
    assert (result.failed_step, result.error) == ("boom", "step 'boom' failed: ValueError: bad value 1")
    assert [s.status for s in result.steps] == ["failed", "failed"]
    lines = capsys.readouterr()
    finish = [line for line in (lines.out + lines.err).splitlines() if line.startswith("failed in ")]
    assert len(finish) == 1 and finish[0].endswith("s: step 'boom' failed")  # the step's own line has the message


def test_signal_handlers_are_restored_after_a_run(home: Path) -> None:
    import signal

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    run(two, {"n": 1}, home=home)
    run(interrupted, {"n": 1}, home=home)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@step
def keyed_dict(d: dict) -> int:
    return d["a"]


@pipeline
def same_input_two_steps(n: int = 1) -> tuple:
    return seed(n), inc(n)  # the same input: only the code tells the cache keys apart


@pipeline
def dict_param(n: int = 1) -> int:
    return keyed_dict({"a": n, "b": "x"})


def test_cache_keys_depend_on_each_steps_code_and_on_dict_inputs(home: Path) -> None:
    first = run(same_input_two_steps, {"n": 5}, home=home)
    assert first.outputs == {"result": [10, 6]}
    assert run(same_input_two_steps, {"n": 5}, home=home).outputs == {"result": [10, 6]}
    assert run(dict_param, {"n": 1}, home=home).outputs == {"result": 1}
    other = run(dict_param, {"n": 2}, home=home)
    assert (other.outputs, other.steps[0].status) == ({"result": 2}, "succeeded")


def test_a_resume_shows_the_reused_steps(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _, failed = _started_from_file(home, tmp_path, monkeypatch)
    capsys.readouterr()
    resume_run(failed.run_id, display="plain", home=home)
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert [line for line in lines if line.endswith("  first")] == ["     reused  first"]
