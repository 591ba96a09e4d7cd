"""Integrity and fault handling of the pipeline core: each test failed before its fix.

Stored artifacts are verified on every read (an edited cache entry is recomputed, a replaced
pickle is never unpickled), user code cannot end a run silently with ``sys.exit``/``os._exit``,
and store faults (a home that is a file or read-only, a named pipe, a full disk) are one line.
"""
from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from core_helpers import MODELWAY, REPO, cli, cli_json, executed, write_pipeline

from modelway.artifacts.store import ArtifactStore, CorruptArtifact

TWO_STEPS = """
from modelway import pipeline, step

@step
def produce(n: int) -> dict:
    return {"value": n}

@step(cache=False)
def consume(d: dict) -> int:
    return d["value"] * 2

@pipeline
def two(n: int = 21) -> int:
    return consume(produce(n))
"""


def _artifact_dir(home: Path, digest: str) -> Path:
    return home / "artifacts" / digest[:2] / digest


def _output_of(doc: dict, step: str) -> str:
    return next(s["output"] for s in doc["steps"] if s["name"] == step)


def test_an_edited_cached_artifact_is_recomputed_not_returned(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO_STEPS)
    first = cli_json("run", str(path), home=home)
    assert first["outputs"] == {"result": 42}
    data = _artifact_dir(home, _output_of(first, "produce")) / "data.json"
    data.write_text('{"value":500}')  # an edit by hand: same size class, valid JSON

    proc = cli("run", str(path), "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    second = json.loads(proc.stdout)
    assert second["outputs"] == {"result": 42}  # before the fix: 1000, exit 0
    assert executed(second) == ["produce", "consume"]  # the bad cache entry was a miss
    assert "failed verification" in proc.stderr and "recomputing" in proc.stderr
    assert json.loads(data.read_text()) == {"value": 21}  # a good copy took its place
    assert list((home / "quarantine").iterdir())  # the edited copy is kept for inspection
    assert executed(cli_json("run", str(path), home=home)) == ["consume"]  # and caches again


PICKLED = """
from dataclasses import dataclass
from modelway import pipeline, step

@dataclass
class Box:
    value: int

@step
def make(n: int) -> Box:
    return Box(n)

@step(cache=False)
def read(box: Box) -> int:
    return box.value

@pipeline
def boxes(n: int = 7) -> int:
    return read(make(n))
"""


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_a_replaced_pickle_is_never_unpickled(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, PICKLED)
    first = cli_json("run", str(path), home=home)
    assert first["outputs"] == {"result": 7}
    marker = tmp_path / "code-ran"
    data = _artifact_dir(home, _output_of(first, "make")) / "data.pkl"
    data.write_bytes(pickle.dumps(_Payload(marker)))

    store = ArtifactStore(home)
    with pytest.raises(CorruptArtifact, match=_output_of(first, "make")[:12]):
        store.get(_output_of(first, "make"))
    second = cli_json("run", str(path), home=home)
    assert second["outputs"] == {"result": 7}
    assert not marker.exists()  # before the fix the replaced pickle ran its code


def test_a_resume_recomputes_a_finished_output_that_was_edited(home: Path, tmp_path: Path) -> None:
    flag = tmp_path / "fail-once"
    flag.touch()
    path = write_pipeline(tmp_path, f"""
        from pathlib import Path
        from modelway import pipeline, step

        @step
        def produce(n: int) -> dict:
            return {{"value": n}}

        @step
        def consume(d: dict) -> int:
            if Path({str(flag)!r}).exists():
                Path({str(flag)!r}).unlink()
                raise RuntimeError("transient")
            return d["value"] * 2

        @pipeline
        def two(n: int = 21) -> int:
            return consume(produce(n))
        """)
    failed = cli_json("run", str(path), "--in-process", home=home, ok_codes=(1,))
    (_artifact_dir(home, _output_of(failed, "produce")) / "data.json").write_text('{"value":1}')
    resumed = cli_json("resume", failed["run_id"], "--in-process", home=home)
    assert resumed["outputs"] == {"result": 42}  # before the fix: 2, from the edited output
    assert [s["name"] for s in resumed["steps"] if s["status"] == "succeeded"] == ["produce", "consume"]


def test_a_missing_or_garbage_artifact_file_is_recomputed(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO_STEPS)
    first = cli_json("run", str(path), home=home)
    folder = _artifact_dir(home, _output_of(first, "produce"))
    (folder / "data.json").unlink()
    proc = cli("run", str(path), "--json", home=home)
    assert proc.returncode == 0 and json.loads(proc.stdout)["outputs"] == {"result": 42}, proc.stderr
    (folder / "meta.json").write_bytes(os.urandom(64))
    proc = cli("run", str(path), "--json", home=home)
    assert proc.returncode == 0 and json.loads(proc.stdout)["outputs"] == {"result": 42}, proc.stderr
    assert "Traceback" not in proc.stderr


# --- process exits -------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["sys.exit(0)", "raise SystemExit", "os._exit(0)"])
def test_exiting_while_the_pipeline_file_loads_is_a_definition_error(home: Path, tmp_path: Path, call: str) -> None:
    path = write_pipeline(tmp_path, f"""
        import os, sys
        from modelway import pipeline, step

        @step
        def one() -> int:
            return 1

        @pipeline
        def p() -> int:
            return one()

        {call}
        """)
    proc = cli("run", str(path), home=home, real=True)  # os._exit would end this test process
    assert proc.returncode == 2, (proc.returncode, proc.stderr)  # before the fix: 0, no output, no run
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "importing the pipeline file called" in line, line


def test_exiting_in_the_pipeline_body_is_a_definition_error(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        import sys
        from modelway import pipeline, step

        @step
        def one() -> int:
            return 1

        @pipeline
        def p() -> int:
            sys.exit(0)
        """)
    proc = cli("run", str(path), home=home)
    assert proc.returncode == 2, proc.stderr
    assert "the pipeline body called sys.exit(0)" in proc.stderr
    assert cli_json("runs", "list", home=home) == []


@pytest.mark.parametrize("call", ["sys.exit(0)", "os._exit(0)"])
@pytest.mark.parametrize("executor", ["--in-process", "--plain"])
def test_a_step_that_exits_fails_the_run(home: Path, tmp_path: Path, call: str, executor: str) -> None:
    path = write_pipeline(tmp_path, f"""
        import os, sys
        from modelway import pipeline, step

        @step
        def quits() -> int:
            {call}
            return 1

        @pipeline
        def p() -> int:
            return quits()
        """)
    proc = cli("run", str(path), executor, home=home, real=True)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)  # before the fix: 0 (in-process)
    run = cli_json("runs", "show", "latest", home=home)
    assert run["status"] == "failed"  # not "interrupted"
    step_error = run["steps"][0]["error"]
    assert ("called" in step_error or "os._exit" in step_error), step_error


# --- store faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("runs", "list"), ("data", "list"), ("models", "list"), ("runs", "show", "latest")])
def test_a_home_that_is_a_file_is_refused(home: Path, command: tuple[str, ...]) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("not a directory")
    proc = cli(*command, home=home)
    assert proc.returncode == 2, proc.stdout  # before the fix `runs list` printed "no runs yet", exit 0
    assert proc.stderr.strip() == f"error: MODELWAY_HOME {home} is not a directory (it is a file); " \
                                  "set MODELWAY_HOME to a directory"


@pytest.mark.parametrize("inside_a_folder", [False, True])
def test_data_add_refuses_a_named_pipe_at_once(home: Path, tmp_path: Path, inside_a_folder: bool) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "rows.csv").write_text("a\n1\n")
    fifo = folder / "feed" if inside_a_folder else tmp_path / "feed"
    os.mkfifo(fifo)
    proc = cli("data", "add", "rows", str(folder if inside_a_folder else fifo), home=home, real=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"error: data add: {fifo} is not a regular file or directory (a named pipe, "
                                   "socket or device); register regular files only")
    assert not any((home / "tmp").iterdir()) if (home / "tmp").exists() else True


BIG_OUTPUT = """
from modelway import pipeline, step

@step
def big() -> bytes:
    return b"x" * (8 * 2**20)

@pipeline
def p() -> int:
    return big()
"""


def test_a_full_disk_while_storing_an_output_is_one_line_and_leaves_no_temp_folder(home: Path, tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes every write past 4 MiB fail (EFBIG) as a full disk would (ENOSPC).
    path = write_pipeline(tmp_path, BIG_OUTPUT)
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    limit = 4 * 2**20
    proc = subprocess.run([*MODELWAY, "run", str(path), "--plain", "--in-process"], capture_output=True, text=True,
                          env=env, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said
    assert "storing the output failed" in said and "File too large" in said
    assert "Traceback" not in said
    assert list((home / "tmp").iterdir()) == []  # before the fix the temp folder stayed


def _read_only_mount_available() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _read_only_mount_available(), reason="needs user namespaces (unshare -rm) for a read-only mount")
def test_a_read_only_home_can_still_be_listed_and_a_run_is_one_line(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, TWO_STEPS)
    cli_json("run", str(path), home=home)
    script = (f"mount --bind -o ro {home} {home} && "
              f"{sys.executable} -m modelway.cli.main runs list --json > {tmp_path}/list.json; "
              f"echo $? > {tmp_path}/list.rc; "
              f"{sys.executable} -m modelway.cli.main run {path} --plain 2> {tmp_path}/run.err; "
              f"echo $? > {tmp_path}/run.rc")
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, timeout=120, check=True)
    assert (tmp_path / "list.rc").read_text().strip() == "0"  # before the fix: "unable to open database file"
    assert [r["status"] for r in json.loads((tmp_path / "list.json").read_text())] == ["succeeded"]
    assert (tmp_path / "run.rc").read_text().strip() == "2"
    error = (tmp_path / "run.err").read_text().strip()
    assert len(error.splitlines()) == 1 and "read-only" in error.lower(), error


def test_a_step_refuses_an_input_edited_after_it_was_produced(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step, step_context
        from modelway.runtime.context import artifact_store

        @step(cache=False)
        def produce() -> dict:
            return {"value": 21}

        @step(cache=False)
        def tamper(d: dict) -> int:
            # someone edits the stored output of `produce` while the run goes on
            ref = artifact_store(step_context().home).put({"value": 21})
            (artifact_store(step_context().home).path_of(ref.hash) / "data.json").write_text('{"value":500}')
            return 0

        @step(cache=False)
        def consume(d: dict, after: int) -> int:
            return d["value"] * 2

        @pipeline
        def edited() -> int:
            d = produce()
            return consume(d, tamper(d))
        """)
    proc = cli("run", str(path), "--json", "--in-process", home=home)
    assert proc.returncode == 1, proc.stdout  # before the fix: exit 0 with 1000
    doc = json.loads(proc.stdout)
    assert [s["status"] for s in doc["steps"] if s["name"] == "consume"] == ["failed"]
    assert doc["error"].startswith("step 'consume' failed: its input from step 'produce' is unusable: artifact ")
    assert "no longer matches its sha256" in doc["error"] and "\n" not in doc["error"]


def test_a_full_disk_outside_a_step_is_one_line_and_leaves_no_temp_folder(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.bin"
    data.write_bytes(os.urandom(2 * 2**20))
    cli_json("data", "add", "small", str(write_pipeline(tmp_path, TWO_STEPS)), home=home)  # creates the home
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    limit = 2**20
    proc = subprocess.run([*MODELWAY, "data", "add", "rows", str(data)], capture_output=True, text=True, env=env,
                          timeout=120, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "File too large" in proc.stderr, proc.stderr  # before: a traceback
    assert len(proc.stderr.strip().splitlines()) == 1
    assert list((home / "tmp").iterdir()) == []


def test_an_edited_cached_pipeline_output_is_recomputed(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, """
        from modelway import pipeline, step

        @step
        def produce(n: int) -> dict:
            return {"value": n}

        @pipeline
        def one(n: int = 21) -> dict:
            return produce(n)
        """)
    first = cli_json("run", str(path), home=home)
    (_artifact_dir(home, _output_of(first, "produce")) / "data.json").write_text('{"value":500}')
    proc = cli("run", str(path), "--json", home=home)
    assert proc.returncode == 0 and json.loads(proc.stdout)["outputs"] == {"result": {"value": 21}}, proc.stderr
    assert "failed verification" in proc.stderr
    shown = cli_json("runs", "show", "latest", home=home)
    assert [(s["status"], s["cached"]) for s in shown["steps"]] == [("succeeded", False)]


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
