"""``preload=[...]``: the runner imports declared modules once, before forking the first step that runs."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from core_helpers import cli, cli_json, write_pipeline

from modelway import pipeline, step
from modelway.errors import DefinitionError

# A stand-in for a heavy library: it writes the pid of every process that imports it.
PROBE = """
import os
from pathlib import Path

with open(Path(__file__).with_name("imports.log"), "a") as fh:
    fh.write(f"{os.getpid()}\\n")
"""

PIPELINE = """
import os
import sys

from modelway import pipeline, step

@step{step_args}
def first(x: int) -> dict:
    inherited = "probe_mod" in sys.modules
    import probe_mod  # noqa: F401
    return {{"pid": os.getpid(), "inherited": inherited, "x": x}}

@step
def second(prev: dict) -> dict:
    inherited = "probe_mod" in sys.modules
    import probe_mod  # noqa: F401
    return {{"pid": os.getpid(), "inherited": inherited, "first": prev}}

@pipeline{pipeline_args}
def probed(x: int = 1) -> dict:
    return second(first(x))
"""


def _setup(tmp_path: Path, pipeline_args: str = "", step_args: str = "") -> tuple[Path, Path]:
    (tmp_path / "probe_mod.py").write_text(textwrap.dedent(PROBE))
    path = write_pipeline(tmp_path, PIPELINE.format(pipeline_args=pipeline_args, step_args=step_args))
    return path, tmp_path / "imports.log"


def _run(path: Path, home: Path, *args: str) -> dict:
    # a real runner process: what it imports must not leak into (or come from) this test process
    done = cli("run", str(path), "--json", *args, home=home, real=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _importers(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def test_pipeline_preload_is_imported_once_by_the_runner_and_inherited(home: Path, tmp_path: Path) -> None:
    path, log = _setup(tmp_path, pipeline_args='(preload=["probe_mod"])')
    doc = _run(path, home)
    out = doc["outputs"]["result"]
    step_pids = {out["pid"], out["first"]["pid"]}
    (importer,) = _importers(log)  # one import for the whole run...
    assert importer not in step_pids  # ...in the runner, not in a step process
    assert out["inherited"] and out["first"]["inherited"]
    notes = [e["message"] for e in cli_json("runs", "show", doc["run_id"], home=home)["events"] if e["kind"] == "note"]
    assert len(notes) == 1 and notes[0].startswith("preloaded probe_mod in ")

    cached = _run(path, home)  # fully cached: nothing is imported at all
    assert all(s["cached"] for s in cached["steps"])
    assert _importers(log) == [importer]


def test_without_preload_every_step_imports_again(home: Path, tmp_path: Path) -> None:
    path, log = _setup(tmp_path)
    out = _run(path, home)["outputs"]["result"]
    assert sorted(_importers(log)) == sorted([out["pid"], out["first"]["pid"]])
    assert not out["inherited"] and not out["first"]["inherited"]


def test_preload_can_be_turned_off_by_the_environment(home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWAY_PRELOAD", "0")
    path, log = _setup(tmp_path, pipeline_args='(preload=["probe_mod"])')
    out = _run(path, home)["outputs"]["result"]
    assert sorted(_importers(log)) == sorted([out["pid"], out["first"]["pid"]])


def test_step_preload_waits_until_that_step_runs(home: Path, tmp_path: Path) -> None:
    # declared on `first`: imported before `first` forks, so `second` inherits it as well
    path, log = _setup(tmp_path, step_args='(preload=["probe_mod"])')
    out = _run(path, home)["outputs"]["result"]
    assert out["first"]["inherited"] and out["inherited"]
    assert len(_importers(log)) == 1
    # `first` cached, `second` re-runs (new code): the preload of a cache hit is not imported
    log.unlink()
    path.write_text(path.read_text().replace('"first": prev}', '"first": prev, "v": 2}'))
    again = _run(path, home)
    assert [s["cached"] for s in again["steps"]] == [True, False]
    assert not again["outputs"]["result"]["inherited"]
    assert len(_importers(log)) == 1


def test_a_missing_preload_module_is_a_note_not_a_failure(home: Path, tmp_path: Path) -> None:
    path, _ = _setup(tmp_path, pipeline_args='(preload=["no_such_module_for_modelway"])')
    doc = _run(path, home)
    assert doc["status"] == "succeeded"
    notes = [e["message"] for e in cli_json("runs", "show", doc["run_id"], home=home)["events"] if e["kind"] == "note"]
    assert any("cannot import 'no_such_module_for_modelway'" in n for n in notes)


@pytest.mark.parametrize("value, message", [
    (["pandas", "not a module"], "preload entry 'not a module' is not a module name"),
    ("3rd", "preload entry '3rd' is not a module name"),
    ({"pandas": 1}, "preload must be a list of module names"),
])
def test_bad_preload_values_fail_at_definition(value: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=f"pipeline 'p': {message}"):
        @pipeline(preload=value)
        def p() -> int:
            return 1
    with pytest.raises(DefinitionError, match=f"step 's': {message}"):
        @step(preload=value)
        def s() -> int:
            return 1
