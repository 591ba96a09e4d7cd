"""Run small pipelines through the real ``modelway`` CLI against a private $MODELWAY_HOME."""
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
    def __init__(self, home: Path):
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_")}
        self.env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": "pytest", "OMP_NUM_THREADS": "1"})

    def __call__(self, *args: str) -> Done:
        proc = subprocess.run([*CLI, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300)
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def run(self, pipeline_file: Path, *params: str) -> Done:
        args = ["run", str(pipeline_file), "--json", "--in-process"]
        for p in params:
            args += ["--param", p]
        return self(*args)

    def report(self, run_id: str) -> str:
        out = self.home / f"{run_id}.html"
        done = self("runs", "report", run_id, "-o", str(out))
        assert done.code == 0, done.stderr
        return out.read_text()


@pytest.fixture(scope="module")
def mw(tmp_path_factory) -> Modelway:
    return Modelway(tmp_path_factory.mktemp("mwhome"))
