"""Running pipelines: both executors, artifacts between steps, retries, timeouts, failures."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelway import pipeline, run_pipeline, step, step_context
from modelway.runtime.context import stores

from core_helpers import GATE, cli, cli_json, write_pipeline


@step
def add_one(x: int) -> int:
    return x + 1


@pipeline
def chain(start: int = 0) -> int:
    x = start
    for _ in range(10):
        x = add_one(x)
    return x


@step
def source(n: int) -> list[int]:
    return list(range(n))


@step
def square_at(values: list[int], i: int) -> int:
    return values[i] ** 2


@step
def total(parts: list[int]) -> int:
    return sum(parts)


@pipeline
def fan(n: int = 10) -> int:
    values = source(n)
    return total([square_at(values, i) for i in range(n)])


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_chain_and_fan_produce_the_right_outputs(home: Path, executor: str) -> None:
    result = run_pipeline(chain, {"start": 5}, executor=executor, display="none")
    assert result.status == "succeeded"
    assert result.outputs == {"result": 15}
    assert [s.status for s in result.steps] == ["succeeded"] * 10

    result = run_pipeline(fan, {"n": 10}, executor=executor, display="none", workers=2)
    assert result.status == "succeeded"
    assert result.outputs == {"result": sum(i * i for i in range(10))}
    assert len(result.steps) == 12


@dataclass
class Bundle:
    model: object
    score: float


@step
def make_frame(n: int):  # unannotated on purpose: not checked
    import pandas as pd

    return pd.DataFrame({"x": list(range(n)), "y": [i % 2 for i in range(n)]})


@step
def fit(frame) -> Bundle:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    return Bundle(model, float(model.score(frame[["x"]], frame["y"])))


@step
def as_array(frame) -> object:
    return frame["x"].to_numpy() * 2


@step
def write_file(values) -> Path:
    out = Path(step_context().home) / "scratch.txt"
    out.write_text(",".join(str(v) for v in values))
    return out


@step
def summarize(model, score: float, values, report: Path) -> dict:
    from sklearn.base import BaseEstimator

    return {"is_estimator": isinstance(model, BaseEstimator), "score": score,
            "sum": int(values.sum()), "report": report.read_text()[:5], "report_in_store": "artifacts" in str(report)}


@pipeline
def typed_values(n: int = 6) -> dict:
    frame = make_frame(n)
    bundle = fit(frame)
    arr = as_array(frame)
    return summarize(bundle["model"], bundle["score"], arr, write_file(arr))


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_dataframes_arrays_estimators_and_files_flow_between_steps(home: Path, executor: str) -> None:
    result = run_pipeline(typed_values, executor=executor, display="none")
    assert result.status == "succeeded", result.error
    out = result.outputs["result"]
    assert out["is_estimator"] and out["sum"] == 30 and out["report"] == "0,2,4"
    assert out["report_in_store"]
    run_store, artifacts = stores(home)
    kinds = {s["name"]: s["output_kind"] for s in run_store.steps(result.run_id)}
    assert kinds == {"make_frame": "parquet", "fit": "pickle", "as_array": "numpy", "write_file": "file",
                     "summarize": "json"}


def test_unserializable_output_fails_the_step_with_a_clear_message(home: Path) -> None:
    @step
    def gen(n: int) -> object:
        return (i for i in range(n))

    @pipeline
    def p() -> object:
        return gen(3)

    result = run_pipeline(p, executor="inprocess", display="none")
    assert result.status == "failed"
    assert "step 'gen' returned a builtins.generator that cannot be stored" in result.error


def _flaky_pipeline(tmp_path: Path, fail_times: int, retries: int):
    counter = tmp_path / "attempts"

    @step(retries=retries, retry_delay="0.05s")
    def flaky() -> int:
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        if n < fail_times:
            raise RuntimeError(f"transient failure {n + 1}")
        return n

    @step
    def after(x: int) -> int:
        return x * 10

    @pipeline
    def p() -> int:
        return after(flaky())

    return p


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_retries_until_success(home: Path, tmp_path: Path, executor: str) -> None:
    result = run_pipeline(_flaky_pipeline(tmp_path, fail_times=2, retries=2), executor=executor, display="none")
    assert result.status == "succeeded"
    flaky = result.steps[0]
    assert (flaky.name, flaky.attempts) == ("flaky", 3)
    assert result.outputs == {"result": 20}
    run_store, _ = stores(home)
    kinds = [e["kind"] for e in run_store.events(result.run_id) if e["step"] == "flaky"]
    assert kinds == ["running", "retrying", "running", "retrying", "running", "succeeded"]


def test_retries_exhausted_fail_the_run_and_skip_downstream(home: Path, tmp_path: Path) -> None:
    result = run_pipeline(_flaky_pipeline(tmp_path, fail_times=5, retries=1), executor="inprocess", display="none")
    assert result.status == "failed"
    assert [(s.name, s.status, s.attempts) for s in result.steps] == [("flaky", "failed", 2), ("after", "skipped", 0)]
    assert result.error == "step 'flaky' failed: RuntimeError: transient failure 2"


def test_retry_backoff_doubles(home: Path, tmp_path: Path) -> None:
    p = _flaky_pipeline(tmp_path, fail_times=2, retries=2)
    p.fn.__globals__  # noqa: B018 - keep a reference for readability
    graph_settings = p.build().nodes["flaky"].settings
    assert graph_settings.retry_delay_s == 0.05
    start = time.monotonic()
    result = run_pipeline(p, executor="inprocess", display="none")
    assert result.status == "succeeded"
    assert time.monotonic() - start >= 0.05 + 0.10  # 0.05 s, then 0.10 s


@pytest.mark.parametrize("delay", ["0s", "0", 0, "0ms"])
def test_zero_retry_delay_retries_at_once(home: Path, tmp_path: Path, delay: object) -> None:
    counter = tmp_path / "attempts"

    @step(retries=2, retry_delay=delay)
    def flaky() -> int:
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        if n < 2:
            raise RuntimeError("transient")
        return n

    @pipeline
    def p() -> int:
        return flaky()

    assert p.build().nodes["flaky"].settings.retry_delay_s == 0.0
    start = time.monotonic()
    result = run_pipeline(p, executor="inprocess", display="none")
    assert (result.status, result.steps[0].attempts) == ("succeeded", 3)
    assert time.monotonic() - start < 0.5  # the default 1 s delay would take >= 3 s


def test_zero_timeout_is_still_rejected() -> None:
    from modelway.errors import DefinitionError

    with pytest.raises(DefinitionError, match="step 'f': setting 'timeout'.*must be positive"):
        @step(timeout="0s")
        def f() -> int:
            return 1


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_timeout_stops_a_slow_step(home: Path, executor: str) -> None:
    @step(timeout="0.3s")
    def slow() -> int:
        time.sleep(5)
        return 1

    @pipeline
    def p() -> int:
        return slow()

    start = time.monotonic()
    result = run_pipeline(p, executor=executor, display="none")
    elapsed = time.monotonic() - start
    assert result.status == "failed"
    assert result.error == "step 'slow' failed: timed out after 0.3s"
    assert elapsed < 3


def test_timed_out_attempt_is_retried(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "first"

    @step(timeout="0.3s", retries=1, retry_delay="0.01s")
    def slow_once() -> str:
        if not marker.exists():
            marker.write_text("x")
            time.sleep(5)
        return "done"

    @pipeline
    def p() -> str:
        return slow_once()

    result = run_pipeline(p, executor="process", display="none")
    assert result.status == "succeeded"
    assert result.steps[0].attempts == 2


def test_crashing_step_process_does_not_take_the_runner_down(home: Path) -> None:
    @step
    def crash() -> int:
        import os

        os._exit(3)

    @pipeline
    def p() -> int:
        return crash()

    result = run_pipeline(p, executor="process", display="none")
    assert result.status == "failed"
    assert "step process exited with code 3" in result.error


def test_checkpoint_survives_a_failed_attempt_and_attachments_are_kept(home: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen"

    @step(retries=1, retry_delay="0.01s")
    def train(epochs: int) -> int:
        ctx = step_context()
        start = ctx.load_checkpoint() or 0
        with seen.open("a") as fh:
            fh.write(f"{ctx.attempt}:{start}\n")
        for epoch in range(start, epochs):
            ctx.save_checkpoint(epoch + 1)
            if ctx.attempt == 1 and epoch == 2:
                raise RuntimeError("spot interruption")
        return epochs

    @step
    def gate(epochs: int) -> int:
        step_context().attach("report", {"epochs": epochs, "passed": False})
        raise ValueError("quality gate failed")

    @pipeline
    def p() -> int:
        return gate(train(5))

    result = run_pipeline(p, executor="process", display="none")
    assert seen.read_text().splitlines() == ["1:0", "2:3"]
    assert result.status == "failed"
    run_store, artifacts = stores(home)
    (attachment,) = run_store.attachments(result.run_id)
    assert (attachment["step"], attachment["name"]) == ("gate", "report")
    assert artifacts.get(attachment["hash"]) == {"epochs": 5, "passed": False}


def test_attach_text_is_a_file_with_its_suffix_listed_by_runs_show(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step, step_context

        @step
        def gate(rows: int) -> int:
            step_context().attach_text("report.md", "# Gate\\n\\n3 of %d rows failed" % rows)
            step_context().attach_text("rows.csv", "a,b\\n1,2\\n", suffix=".csv")
            raise ValueError("gate failed")

        @pipeline
        def p(rows: int = 10) -> int:
            return gate(rows)
    """)
    done = cli("run", str(path), "--json", home=home)
    assert done.returncode == 1
    run_id = json.loads(done.stdout)["run_id"]
    shown = cli("runs", "show", run_id, home=home)
    lines = {line.split()[0]: line.split() for line in shown.stdout.splitlines() if line.startswith("  gate/")}
    assert lines["gate/report.md"][1].startswith("text:") and lines["gate/report.md"][2].endswith("/data.md")
    assert Path(lines["gate/report.md"][2]).read_text() == "# Gate\n\n3 of 10 rows failed"
    assert Path(lines["gate/rows.csv"][2]).name == "data.csv"
    run_store, artifacts = stores(home)
    by_name = {a["name"]: a for a in run_store.attachments(run_id)}
    assert artifacts.get(by_name["report.md"]["hash"]) == "# Gate\n\n3 of 10 rows failed"  # loads back as str


def test_attach_text_refuses_non_text(home: Path) -> None:
    @step
    def bad() -> int:
        step_context().attach_text("report.md", {"not": "text"})
        return 1

    @pipeline
    def p() -> int:
        return bad()

    result = run_pipeline(p, executor="inprocess", display="none")
    assert result.status == "failed"
    assert "attach_text('report.md', ...) needs a str, got dict; use attach() for other values" in result.error


def test_raising_step_shows_its_traceback_in_runs_show(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        def helper(rows):
            raise KeyError(f"column 'income' missing in {len(rows)} rows")

        @step
        def load() -> list:
            return [1, 2, 3]

        @step
        def featurize(rows: list) -> list:
            return helper(rows)

        @pipeline
        def broken() -> list:
            return featurize(load())
    """)
    proc = cli("run", str(path), "--plain", home=home, real=True)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED  featurize" in proc.stdout
    run_id = proc.stdout.split()[1].rstrip(":")
    show = cli("runs", "show", run_id[:15], home=home)
    assert show.returncode == 0, show.stderr
    assert "featurize" in show.stdout and "failed" in show.stdout
    assert "Traceback (most recent call last):" in show.stdout
    assert 'in helper\n    raise KeyError(f"column \'income\' missing in {len(rows)} rows")' in show.stdout
    assert "KeyError: \"column 'income' missing in 3 rows\"" in show.stdout


def test_definition_error_exits_2_with_one_line(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        @step
        def text() -> str:
            return "a"

        @step
        def number(x: int) -> int:
            return x

        @pipeline
        def wrong() -> int:
            return number(text())
    """)
    proc = cli("run", str(path), home=home, real=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: step 'number' input 'x' expects int but text returns str"
    assert proc.stdout == ""


def test_resume_gets_a_fresh_retry_budget(home: Path, tmp_path: Path) -> None:
    from modelway.runtime.runner import resume_run

    path = write_pipeline(tmp_path, f"""
        from pathlib import Path
        from modelway import pipeline, step

        COUNTER = Path({str(tmp_path / "count")!r})

        @step(retries=1, retry_delay="0.01s")
        def flaky() -> int:
            n = int(COUNTER.read_text()) if COUNTER.exists() else 0
            COUNTER.write_text(str(n + 1))
            if n < 3:  # attempts 1-2 fail in the first run, 3 fails and 4 succeeds after resume
                raise RuntimeError(f"failure {{n + 1}}")
            return n

        @pipeline
        def p() -> int:
            return flaky()
    """)
    proc = cli("run", str(path), "--in-process", "--plain", home=home)
    assert proc.returncode == 1
    run_id = proc.stdout.split()[1].rstrip(":")
    result = resume_run(run_id, display="none")
    assert result.status == "succeeded"
    assert result.steps[0].attempts == 4
    assert result.outputs == {"result": 3}


def test_a_step_process_may_start_its_own_worker_processes(home: Path) -> None:
    @step
    def parallel_sum(n: int) -> int:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(2) as pool:
            return sum(pool.map(abs, range(-n, 0)))

    @pipeline
    def p(n: int = 10) -> int:
        return parallel_sum(n)

    result = run_pipeline(p, executor="process", display="none")
    assert result.status == "succeeded", result.error
    assert result.outputs == {"result": 55}


def test_ordering_only_dependency_runs_first(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "setup-done"

    @step
    def setup() -> None:
        marker.write_text("ok")

    @step
    def check() -> bool:
        return marker.exists()

    @pipeline
    def ordered() -> bool:
        return check().after(setup())

    result = run_pipeline(ordered, executor="process", display="none", workers=2)
    assert result.status == "succeeded"
    assert result.outputs == {"result": True}


def test_memory_limit_stops_a_step_that_blows_up(home: Path) -> None:
    @step(memory="64Mi")
    def hog() -> int:
        blocks = []
        for _ in range(100):  # up to ~800 MiB, 8 MiB at a time
            blocks.append(bytearray(8 * 2**20))
            time.sleep(0.01)
        return len(blocks)

    @step(memory="64Mi")
    def modest() -> int:
        return len(bytearray(8 * 2**20))

    @pipeline
    def p() -> list:
        return [modest(), hog()]

    start = time.monotonic()
    result = run_pipeline(p, executor="process", display="none", workers=2)
    assert result.status == "failed"
    assert result.error.startswith("step 'hog' failed: exceeded its memory limit 64Mi (using ")
    assert [s.status for s in result.steps] == ["succeeded", "failed"]
    assert time.monotonic() - start < 5


def test_constant_inputs_reach_the_step_unchanged(home: Path) -> None:
    from collections import OrderedDict, namedtuple

    Pair = namedtuple("Pair", "a b")

    @step
    def kinds(pair: object, mapping: object, values: list) -> list:
        return [type(pair).__name__, type(mapping).__name__, values]

    @pipeline
    def p() -> list:
        return kinds(Pair(1, 2), OrderedDict(x=1), [add_one(1), 5])

    result = run_pipeline(p, executor="inprocess", display="none")
    assert result.outputs == {"result": ["Pair", "OrderedDict", [2, 5]]}


def test_positional_only_and_variadic_parameters(home: Path) -> None:
    @step
    def combine(first: int, /, *rest: int, scale: int = 1, **named: int) -> dict:
        return {"sum": (first + sum(rest)) * scale, "named": named}

    @pipeline
    def p() -> dict:
        return combine(add_one(0), add_one(1), 3, scale=2, extra=add_one(4))

    result = run_pipeline(p, executor="inprocess", display="none")
    assert result.status == "succeeded", result.error
    assert result.outputs == {"result": {"sum": 12, "named": {"extra": 5}}}


MIXED_FAILURE = """
import os, time
from modelway import pipeline, step

# retries outlast hog's failure however busy the machine: the run must stop them between attempts
@step(timeout="1s", retries=20, retry_delay="0s")
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


@pytest.mark.parametrize("executor", ["process", "inprocess"])
def test_deliberate_failure_is_said_once_without_traceback_or_resume_hint(home: Path, tmp_path: Path,
                                                                          executor: str) -> None:
    path = write_pipeline(tmp_path, GATE)
    extra = ("--in-process",) if executor == "inprocess" else ()
    proc = cli("run", str(path), "--plain", *extra, home=home)
    assert proc.returncode == 1
    said = proc.stdout + proc.stderr
    assert said.count("AUC 0.61 is below the 0.70 gate") == 1, said
    assert "modelway runs show" in proc.stderr and "modelway resume" not in proc.stderr
    show = cli("runs", "show", cli_json("runs", "list", home=home)[0]["run_id"], home=home)
    assert show.returncode == 0, show.stderr
    assert show.stdout.count("AUC 0.61 is below the 0.70 gate") == 1, show.stdout
    assert "Traceback" not in show.stdout


def test_unexpected_failure_keeps_traceback_and_resume_hint(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, GATE)
    proc = cli("run", str(path), "--plain", "--param", "x=2", home=home)
    assert proc.returncode == 1
    assert "modelway resume" in proc.stderr
    show = cli("runs", "show", cli_json("runs", "list", home=home)[0]["run_id"], home=home)
    assert "Traceback" in show.stdout and "ValueError: unexpected bad value" in show.stdout


RETURNS = """
from typing import Optional
import numpy as np
import pandas as pd
from modelway import pipeline, step

@step
def fine_float() -> float:
    return 3  # an int is a fine float

@step
def fine_optional() -> Optional[int]:
    return None

@step
def fine_generic() -> list[int]:
    return [1, 2]

@step
def fine_numpy() -> int:
    return np.int64(4)

@step
def fine_frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1]})

@step
def bad(a: float, b: Optional[int], c: list[int], d: int, e: pd.DataFrame) -> int:
    return "5"

@pipeline
def p() -> int:
    return bad(fine_float(), fine_optional(), fine_generic(), fine_numpy(), fine_frame())
"""


@pytest.mark.parametrize("executor", ["process", "inprocess"])
def test_a_step_returning_the_wrong_type_fails_with_one_line(home: Path, tmp_path: Path, executor: str) -> None:
    path = write_pipeline(tmp_path, RETURNS)
    extra = ("--in-process",) if executor == "inprocess" else ()
    doc = cli_json("run", str(path), *extra, home=home, ok_codes=(1,))
    steps = {s["name"]: s for s in doc["steps"]}
    assert {n: s["status"] for n, s in steps.items() if n != "bad"} == dict.fromkeys(
        ["fine_float", "fine_optional", "fine_generic", "fine_numpy", "fine_frame"], "succeeded")
    assert steps["bad"]["status"] == "failed" and steps["bad"]["attempts"] == 1
    assert doc["error"] == "step 'bad' failed: returned str but is annotated -> int"
