"""Helpers to run the example pipelines end to end through the real ``modelway`` CLI."""
from __future__ import annotations


import pytest

from tests.modelway_cli import Done, ModelwayCli


class Modelway(ModelwayCli):
    """The CLI, with the example pipelines by name."""

    def run(self, pipeline: str, *params: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Done:
        return self.run_file(f"pipelines/{pipeline}.py", *params, extra=extra, env=env)


@pytest.fixture(scope="module")
def mw(tmp_path_factory) -> Modelway:
    return Modelway(tmp_path_factory.mktemp("mwhome"))
