"""Run small pipelines through the real ``modelway`` CLI against a private $MODELWAY_HOME."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.modelway_cli import Done, ModelwayCli


class Modelway(ModelwayCli):
    """The CLI, running pipeline files in-process and writing reports next to the home."""

    def run(self, pipeline_file: Path, *params: str) -> Done:
        return self.run_file(pipeline_file, *params, extra=("--in-process",))

    def report(self, run_id: str) -> str:
        out = self.home / f"{run_id}.html"
        done = self("runs", "report", run_id, "-o", str(out))
        assert done.code == 0, done.stderr
        return out.read_text()


@pytest.fixture(scope="module")
def mw(tmp_path_factory) -> Modelway:
    return Modelway(tmp_path_factory.mktemp("mwhome"))
