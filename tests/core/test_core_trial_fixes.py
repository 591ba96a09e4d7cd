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


GATE = """
from modelway import pipeline, step
from modelway.runtime import StepFailed

class GateFailed(StepFailed):
    pass

@step
def gate(x: int) -> int:
    if x == 1:
        raise GateFailed("AUC 0.61 is below the 0.70 gate")
    raise ValueError("unexpected bad value")

@pipeline
def p(x: int = 1) -> int:
    return gate(x)
"""


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
    show = cli("runs", "show", _newest_run(home), home=home)
    assert show.returncode == 0, show.stderr
    assert show.stdout.count("AUC 0.61 is below the 0.70 gate") == 1, show.stdout
    assert "Traceback" not in show.stdout


def test_unexpected_failure_keeps_traceback_and_resume_hint(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, GATE)
    proc = cli("run", str(path), "--plain", "--param", "x=2", home=home)
    assert proc.returncode == 1
    assert "modelway resume" in proc.stderr
    show = cli("runs", "show", _newest_run(home), home=home)
    assert "Traceback" in show.stdout and "ValueError: unexpected bad value" in show.stdout


def _newest_run(home: Path) -> str:
    from core_helpers import cli_json

    return cli_json("runs", "list", home=home)[0]["run_id"]


def test_run_of_a_directory_says_it_is_a_directory(home: Path, tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path), home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path} is a directory, not a pipeline file; name the .py file in it that defines the @pipeline"


DUP = """
from modelway import pipeline, step

@step(name="load")
def a() -> int:
    return 1

@step(name="load")
def b() -> int:
    return 2

@pipeline
def dup() -> list:
    return [a(), b()]
"""


def test_duplicate_step_name_names_the_users_file_not_the_internal_module(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, DUP, name="dup.py")
    proc = cli("run", str(path), home=home)
    assert proc.returncode == 2
    assert "_mw_" not in proc.stderr
    assert f"used by a ({path}:4) and b ({path}:8)" in proc.stderr, proc.stderr


def test_lineage_of_a_version_that_does_not_exist_says_so(home: Path) -> None:
    from modelway.lineage import record_model

    record_model("credit-risk", "1.0.0", run_id=None, home=home)
    record_model("credit-risk", "1.1.0", run_id=None, home=home)
    missing = cli("lineage", "model", "credit-risk", "3.0.0", home=home)
    assert missing.returncode == 2
    assert "no version 3.0.0 of model credit-risk is recorded (recorded: 1.0.0, 1.1.0)" in missing.stderr
    assert "not registered by a pipeline run" not in missing.stderr
    unknown = cli("lineage", "model", "fraud", "1.0.0", home=home)
    assert unknown.returncode == 2 and "no version of model 'fraud' is recorded" in unknown.stderr


def test_a_repeated_param_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "from modelway import pipeline, step\n\n@step\ndef one(x: int) -> int:\n"
                                    "    return x\n\n@pipeline\ndef p(start: int = 0) -> int:\n    return one(start)\n")
    proc = cli("run", str(path), "--param", "start=5", "--param", "start=6", home=home)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --param start is given twice (5, then 6); give it once"


@pytest.mark.parametrize("name", ["bad name!", "x@y", "a/b", "", ".hidden", "é"])
def test_data_add_validates_the_name(home: Path, tmp_path: Path, name: str) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    proc = cli("data", "add", name, str(data), home=home)
    assert proc.returncode == 2, proc.stdout
    assert "must start with a letter or digit and use only letters, digits, '-', '_' and '.'" in proc.stderr
    assert cli("data", "add", "credit-v2.raw_1", str(data), home=home).returncode == 0


def test_latest_is_accepted_wherever_a_run_id_is(home: Path, tmp_path: Path) -> None:
    from core_helpers import cli_json

    assert cli("runs", "show", "latest", home=home).returncode == 2  # nothing yet: a clear error
    path = write_pipeline(tmp_path, GATE)
    first = cli_json("run", str(path), "--param", "x=2", home=home, ok_codes=(1,))
    second = cli_json("run", str(path), "--param", "x=2", home=home, ok_codes=(1,))
    assert cli_json("runs", "show", "latest", home=home)["run_id"] == second["run_id"]
    resumed = cli_json("resume", "latest", home=home, ok_codes=(1,))
    assert resumed["run_id"] == second["run_id"] != first["run_id"]


@pytest.mark.parametrize("command", [("runs", "list"), ("runs", "show", "latest"), ("data", "list")])
def test_read_only_commands_do_not_create_a_home(tmp_path: Path, command: tuple[str, ...]) -> None:
    import subprocess

    from core_helpers import MODELWAY, REPO

    env = {k: v for k, v in os.environ.items() if k != "MODELWAY_HOME"}
    env["PYTHONPATH"] = str(REPO / "platform")
    proc = subprocess.run([*MODELWAY, *command], check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert not (tmp_path / ".modelway").exists()
    assert "Traceback" not in proc.stderr
    assert str(tmp_path / ".modelway") in proc.stdout + proc.stderr


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
    from core_helpers import cli_json

    path = write_pipeline(tmp_path, RETURNS)
    extra = ("--in-process",) if executor == "inprocess" else ()
    doc = cli_json("run", str(path), *extra, home=home, ok_codes=(1,))
    steps = {s["name"]: s for s in doc["steps"]}
    assert {n: s["status"] for n, s in steps.items() if n != "bad"} == dict.fromkeys(
        ["fine_float", "fine_optional", "fine_generic", "fine_numpy", "fine_frame"], "succeeded")
    assert steps["bad"]["status"] == "failed" and steps["bad"]["attempts"] == 1
    assert doc["error"] == "step 'bad' failed: returned str but is annotated -> int"
