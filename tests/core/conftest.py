"""Fixtures for the pipeline core: an isolated $MODELWAY_HOME per test."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MODELWAY_HOME for this test (env var set for the API and for CLI subprocesses)."""
    path = tmp_path / "mwhome"
    monkeypatch.setenv("MODELWAY_HOME", str(path))
    return path


