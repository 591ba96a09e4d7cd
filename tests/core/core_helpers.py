"""Helpers for the pipeline-core tests: write a pipeline file, run the CLI.

``cli()`` runs the ``modelway`` commands of the core inside the test process (fast: no
interpreter start-up per call) with the same error handling as the entry point;
``real=True`` (or MODELWAY_TEST_REAL_CLI=1 for the whole suite) runs the real
``modelway`` executable in a subprocess instead. Tests that kill or interrupt a runner
always use real processes.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

MODELWAY = [sys.executable, "-m", "modelway.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def write_pipeline(directory: Path, source: str, name: str = "pipe.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


def cli(*args: str, home: Path, cwd: Path | None = None, timeout: float = 60,
        real: bool = False) -> subprocess.CompletedProcess:
    """Run ``modelway ARGS`` against ``home``; returns exit code, stdout and stderr."""
    if real or cwd is not None or os.environ.get("MODELWAY_TEST_REAL_CLI"):
        env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
        return subprocess.run([*MODELWAY, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    return _cli_in_process(list(args), home)


def _cli_in_process(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """The real entry point (same error mapping and exit codes), without a new interpreter."""
    from modelway.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.environ.get("MODELWAY_HOME")
    os.environ["MODELWAY_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if previous is None:
            os.environ.pop("MODELWAY_HOME", None)
        else:
            os.environ["MODELWAY_HOME"] = previous
    return subprocess.CompletedProcess(["modelway", *args], code, out.getvalue(), err.getvalue())


def cli_json(*args: str, home: Path, cwd: Path | None = None, ok_codes: tuple[int, ...] = (0,),
             real: bool = False) -> dict:
    proc = cli(*args, "--json", home=home, cwd=cwd, real=real)
    assert proc.returncode in ok_codes, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return json.loads(proc.stdout)


def executed(doc: dict) -> list[str]:
    """Names of steps that really executed (not cache hits) in a run's --json document."""
    return [s["name"] for s in doc["steps"] if s["status"] == "succeeded" and not s["cached"]]


# A step that fails deliberately (StepFailed, x=1) or by a bug (ValueError, any other x).
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
