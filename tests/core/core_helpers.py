"""Helpers for the pipeline-core tests: write a pipeline file, run the real CLI."""
from __future__ import annotations

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


def cli(*args: str, home: Path, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``modelway ARGS`` as a real process."""
    env = {**os.environ, "MODELWAY_HOME": str(home), "PYTHONPATH": str(REPO / "platform")}
    return subprocess.run([*MODELWAY, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def cli_json(*args: str, home: Path, cwd: Path | None = None, ok_codes: tuple[int, ...] = (0,)) -> dict:
    proc = cli(*args, "--json", home=home, cwd=cwd)
    assert proc.returncode in ok_codes, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return json.loads(proc.stdout)


def executed(doc: dict) -> list[str]:
    """Names of steps that really executed (not cache hits) in a run's --json document."""
    return [s["name"] for s in doc["steps"] if s["status"] == "succeeded" and not s["cached"]]
