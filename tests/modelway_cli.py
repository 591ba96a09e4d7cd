"""Run the real ``modelway`` CLI in a subprocess against one private $MODELWAY_HOME (shared by test folders)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "modelway.cli.main"]


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class ModelwayCli:
    """Runs ``modelway ...`` in a subprocess from the repository root against one $MODELWAY_HOME."""

    def __init__(self, home: Path):
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_") or k == "MODELWAY_CACHE_DIR"}
        self.env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": "pytest", "OMP_NUM_THREADS": "1"})

    def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: int = 300) -> Done:
        proc = subprocess.run([*CLI, *args], cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def run_file(self, pipeline_file: Path | str, *params: str, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> Done:
        """``modelway run FILE --json [extra] --param p ...``"""
        args = ["run", str(pipeline_file), "--json", *extra]
        for p in params:
            args += ["--param", p]
        return self(*args, env=env)
