"""Fixtures for the serving, rollout, monitoring and trigger tests: a home with registered credit models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "mwhome"
    monkeypatch.setenv("MODELWAY_HOME", str(path))
    for var in ("MODELWAY_ENV", "MODELWAY_PROMOTION_RULES", "MODELWAY_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture(scope="session")
def credit():
    """A small trained credit model and the data it was trained and tested on (trained once per session)."""
    from tests.serving.helpers import train_credit

    return train_credit()
