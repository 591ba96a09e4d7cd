"""Helpers to run the example pipelines end to end through the real ``modelway`` CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "modelway.cli.main"]


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Modelway:
    """Runs ``modelway ...`` in a subprocess against one $MODELWAY_HOME."""

    def __init__(self, home: Path):
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_")}
        self.env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": "pytest", "OMP_NUM_THREADS": "1"})

    def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: int = 300) -> Done:
        proc = subprocess.run([*CLI, *args], cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def run(self, pipeline: str, *params: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Done:
        args = ["run", f"pipelines/{pipeline}.py", "--json", *extra]
        for p in params:
            args += ["--param", p]
        return self(*args, env=env)


@pytest.fixture(scope="module")
def mw(tmp_path_factory) -> Modelway:
    return Modelway(tmp_path_factory.mktemp("mwhome"))
