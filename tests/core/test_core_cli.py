"""CLI behaviour around loading pipeline files, and the Python entry points."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from core_helpers import GATE, MODELWAY, REPO, cli, cli_json, write_pipeline

from modelway import pipeline, step
from modelway.runtime.errors import StepFailed

TWO = """
from modelway import pipeline, step

@step
def one() -> int:
    return 1

@pipeline
def first() -> int:
    return one()

@pipeline(name="second_name")
def second() -> int:
    return one()
"""


def test_choosing_among_several_pipelines(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO)
    proc = cli("run", str(path), home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path} defines several pipelines (first, second_name); choose one with --pipeline NAME"
    assert cli_json("run", str(path), "--pipeline", "second_name", home=home)["outputs"] == {"result": 1}
    proc = cli("run", str(path), "-p", "third", home=home)
    assert proc.returncode == 2 and "no pipeline named 'third' (pipelines: first, second_name)" in proc.stderr


@pytest.mark.parametrize(("source", "message"), [
    ("x = 1\n", "defines no @pipeline function"),
    ("def broken(:\n", ":1: syntax error"),
    ("import not_a_module_anywhere\n", "importing the pipeline file raised ModuleNotFoundError"),
    ("from modelway import step\n@step(gpus='many')\ndef f() -> int:\n    return 1\n",
     "step 'f': setting 'gpus': Input should be a valid integer"),
])
def test_loading_errors_are_one_line_exit_2(home: Path, tmp_path: Path, source: str, message: str) -> None:
    path = write_pipeline(tmp_path, source)
    proc = cli("run", str(path), home=home, real=True)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_missing_file_and_bad_param(home: Path, tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path / "nope.py"), home=home)
    assert proc.returncode == 2 and f"pipeline file {tmp_path / 'nope.py'} does not exist" in proc.stderr
    path = write_pipeline(tmp_path, TWO)
    proc = cli("run", str(path), "-p", "first", "--param", "x=1", home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: pipeline 'first': unknown parameter 'x' (parameters: none)"


def test_runs_list_and_show_text(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO)
    doc = cli_json("run", str(path), "-p", "first", "--in-process", home=home)
    listing = cli("runs", "list", home=home).stdout
    assert doc["run_id"] in listing and "first" in listing and "succeeded" in listing
    show = cli("runs", "show", doc["run_id"], home=home).stdout
    assert "STEP" in show and "one" in show and "lineage" in show
    assert cli_json("runs", "list", "--pipeline", "nope", home=home) == []


def test_calling_a_pipeline_runs_it_in_process(home: Path) -> None:
    @step
    def inc(x: int) -> int:
        return x + 1

    @step
    def fail(x: int) -> int:
        raise StepFailed(f"value {x} is below the gate")

    @pipeline
    def two(x: int = 1) -> dict:
        y = inc(x)
        return {"y": y, "z": inc(y)}

    @pipeline
    def gated(x: int = 1) -> int:
        return fail(inc(x))

    assert two(5) == {"y": 6, "z": 7}
    with pytest.raises(StepFailed, match=r"step 'fail' failed: value 2 is below the gate"):
        gated()


def test_step_logs_are_echoed_in_plain_mode_and_kept_out_of_json(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step, step_context

        @step
        def talk() -> int:
            step_context().log("hello from the step")
            return 1

        @pipeline
        def chatty() -> int:
            return talk()
    """)
    plain = cli("run", str(path), "--plain", "--no-cache", home=home)
    assert "[talk] hello from the step" in plain.stderr
    as_json = cli("run", str(path), "--json", "--no-cache", home=home)
    assert "hello" not in as_json.stderr + as_json.stdout
    logs = cli_json("runs", "show", as_json.stdout.split('"run_id": "')[1].split('"')[0], home=home)["logs"]
    assert [e["message"] for e in logs] == ["hello from the step"]


SUMMARY = """
from modelway import pipeline, step

@step
def summarize(n: int) -> dict:
    return {"model": "m", "version": "1.2.0", "rows": n, "notes": "x" * 500, "card": "/tmp/card.md"}

@step
def numbers(n: int) -> list:
    if n < 0:
        raise ValueError("n must be >= 0")
    return list(range(n))

@pipeline
def summary(n: int = 3) -> dict:
    return summarize(n)

@pipeline
def several(n: int = 3) -> dict:
    return {"summary": summarize(n), "numbers": numbers(n)}
"""


@pytest.mark.parametrize("display", ["plain", "rich"])
def test_a_successful_run_prints_its_outputs(home: Path, tmp_path: Path, display: str,
                                             capsys: pytest.CaptureFixture) -> None:
    from modelway.dsl.loader import load_pipeline
    from modelway.runtime.runner import run_pipeline

    path = write_pipeline(tmp_path, SUMMARY)
    result = run_pipeline(load_pipeline(path, "summary"), {"n": 7}, executor="inprocess", display=display)
    assert result.status == "succeeded"
    out = capsys.readouterr().out
    tail = out[out.index("succeeded in"):].splitlines()[1:]
    # one `key: value` line per key of a dict result, long values cut to one short line
    assert [line.split(":")[0].strip() for line in tail] == ["card", "model", "notes", "rows", "version"]  # stored sorted
    assert "  version: 1.2.0" in tail and "  rows: 7" in tail and "  card: /tmp/card.md" in tail
    notes = next(line for line in tail if "notes:" in line)
    assert notes.endswith("...") and len(notes) < 140


def test_outputs_of_several_steps_and_nothing_extra_on_failure_or_json(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, SUMMARY)
    done = cli("run", str(path), "-p", "several", "--plain", home=home)
    tail = done.stdout[done.stdout.index("succeeded in"):].splitlines()[1:]
    assert tail[0].startswith('  summary: {"card": "/tmp/card.md"') and tail[0].endswith("...")
    assert tail[1:] == ["  numbers: [0, 1, 2]"]
    as_json = cli("run", str(path), "-p", "several", "--json", home=home)
    assert "numbers: [0" not in as_json.stdout  # --json prints the one document only
    bad = cli("run", str(path), "-p", "several", "--plain", "--param", "n=-1", home=home)
    assert bad.returncode == 1 and "  summary: " not in bad.stdout


def test_core_cli_and_dsl_import_no_heavy_libraries(home: Path, tmp_path: Path) -> None:
    """`modelway run` of a pipeline that needs no heavy library must not import one (start-up time)."""
    import subprocess
    import sys

    from core_helpers import REPO

    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        @step
        def inc(x: int) -> int:
            return x + 1

        @pipeline
        def light() -> int:
            return inc(inc(1))
    """)
    code = (
        "import sys\n"
        "from modelway.cli import pipeline_runs\n"
        "from modelway.dsl.loader import load_pipeline\n"
        "from modelway.runtime.runner import run_pipeline\n"
        f"r = run_pipeline(load_pipeline({str(path)!r}), executor='process', display='none')\n"
        "assert r.status == 'succeeded', r.error\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'mlflow', 'boto3', 'pulumi', 'pyarrow') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO / "platform")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_invalid_environment_setting_is_a_one_line_error(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pipeline(tmp_path, TWO)
    monkeypatch.setenv("MODELWAY_EXECUTOR", "threads")
    proc = cli("run", str(path), "-p", "first", home=home, real=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: invalid MODELWAY_* environment setting: "
                                   "MODELWAY_EXECUTOR: Input should be 'process' or 'inprocess'")


def test_status_transitions_are_recorded_with_timestamps(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO)
    run_id = cli_json("run", str(path), "-p", "first", "--in-process", home=home)["run_id"]
    events = cli_json("runs", "show", run_id, home=home)["events"]
    assert [(e["step"], e["kind"]) for e in events] == [
        (None, "run_started"), ("one", "running"), ("one", "succeeded"), (None, "run_succeeded")]
    assert all(a["ts"] <= b["ts"] for a, b in zip(events, events[1:]))


@pytest.mark.parametrize("executor", ["inprocess", "process"])
def test_steps_may_log_from_threads(home: Path, executor: str, capfd: pytest.CaptureFixture) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from modelway import step_context
    from modelway.runtime.context import stores

    @step
    def threaded() -> int:
        ctx = step_context()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: ctx.log(f"message {i}"), range(40)))
        return 1

    @pipeline
    def p() -> int:
        return threaded()

    from modelway import run_pipeline

    result = run_pipeline(p, executor=executor, display="plain")
    assert result.status == "succeeded", result.error
    run_store, _ = stores(home)
    assert len([e for e in run_store.events(result.run_id) if e["kind"] == "log"]) == 40
    shown = [line for line in capfd.readouterr().err.splitlines() if line.startswith("  [threaded] message ")]
    assert sorted(shown) == sorted(f"  [threaded] message {i}" for i in range(40))


def test_unusable_home_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = write_pipeline(tmp_path, TWO)
    proc = cli("run", str(path), "-p", "first", home=blocker / "home")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: cannot use {blocker / 'home'} as the Modelway home")
    assert "set MODELWAY_HOME to a writable directory" in proc.stderr


def test_an_edited_pipeline_file_is_loaded_again_in_the_same_process(tmp_path: Path) -> None:
    from modelway.dsl.loader import load_pipeline

    path = write_pipeline(tmp_path, TWO)
    first = load_pipeline(path, "first")
    assert load_pipeline(path, "first") is first  # unchanged: same objects
    path.write_text(path.read_text().replace("return 1", "return 2"))
    again = load_pipeline(path, "first")
    assert again is not first
    assert again.build().nodes["one"].step.fn() == 2


def test_run_of_a_directory_says_it_is_a_directory(home: Path, tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path), home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path} is a directory, not a pipeline file; name the .py file in it that defines the @pipeline"


def test_a_repeated_param_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "from modelway import pipeline, step\n\n@step\ndef one(x: int) -> int:\n"
                                    "    return x\n\n@pipeline\ndef p(start: int = 0) -> int:\n    return one(start)\n")
    proc = cli("run", str(path), "--param", "start=5", "--param", "start=6", home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --param start is given twice (5, then 6); give it once"


def test_latest_is_accepted_wherever_a_run_id_is(home: Path, tmp_path: Path) -> None:
    assert cli("runs", "show", "latest", home=home).returncode == 2  # nothing yet: a clear error
    path = write_pipeline(tmp_path, GATE)
    first = cli_json("run", str(path), "--param", "x=2", home=home, ok_codes=(1,))
    second = cli_json("run", str(path), "--param", "x=2", home=home, ok_codes=(1,))
    assert cli_json("runs", "show", "latest", home=home)["run_id"] == second["run_id"]
    resumed = cli_json("resume", "latest", home=home, ok_codes=(1,))
    assert resumed["run_id"] == second["run_id"] != first["run_id"]


@pytest.mark.parametrize("command", [("runs", "list"), ("runs", "show", "latest"), ("data", "list")])
def test_read_only_commands_do_not_create_a_home(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODELWAY_HOME"}
    env["PYTHONPATH"] = str(REPO / "platform")
    proc = subprocess.run([*MODELWAY, *command], check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert not (tmp_path / ".modelway").exists()
    assert "Traceback" not in proc.stderr
    assert str(tmp_path / ".modelway") in proc.stdout + proc.stderr
