"""Suite-wide settings: one MLflow template store shared by every test's fresh $MODELWAY_HOME.

Modelway writes nothing outside $MODELWAY_HOME unless asked: the empty, migrated MLflow store
that saves 2-7 s per new home is kept only in ``$MODELWAY_CACHE_DIR``. The suite creates
hundreds of homes, so it asks for one, under pytest's own temp root (shared by xdist workers).
"""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _shared_mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> None:
    if "MODELWAY_CACHE_DIR" not in os.environ:
        cache = tmp_path_factory.getbasetemp().parent / "modelway-cache"
        cache.mkdir(exist_ok=True)
        os.environ["MODELWAY_CACHE_DIR"] = str(cache)
