"""Fixtures for the ML stage tests: an isolated $MODELWAY_HOME and small deterministic data."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# One native thread per process: OpenMP's spinning threads oversubscribe a small shared box
# (the pipelines do the same through MODELWAY_ML_THREADS). Set before sklearn loads OpenMP.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _one_native_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # for libraries loaded before this conftest
        yield


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh $MODELWAY_HOME (registry, MLflow store, run store) for one test."""
    path = tmp_path / "mwhome"
    monkeypatch.setenv("MODELWAY_HOME", str(path))
    monkeypatch.delenv("MODELWAY_TRACKING_URI", raising=False)
    monkeypatch.delenv("MODELWAY_ENV", raising=False)
    monkeypatch.delenv("MODELWAY_PROMOTION_RULES", raising=False)
    return path


def load_pipeline_module(name: str):
    """Import ``pipelines/<name>.py`` (the example pipelines hold the dataset contracts)."""
    spec = importlib.util.spec_from_file_location(f"_mw_pipeline_{name}", REPO / "pipelines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def credit_pipeline():
    return load_pipeline_module("credit_risk")


@pytest.fixture(scope="session")
def credit_df():
    from modelway.datasets.credit import generate_credit_data

    return generate_credit_data(4000, seed=3)


@pytest.fixture(scope="session")
def credit_model(credit_df):
    """A small fitted, schema-guarded credit model plus its held-out test frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from modelway.datasets import credit
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    train, test = train_test_split(credit_df, test_size=0.3, random_state=0, stratify=credit_df["default"])
    features = list(credit.FEATURES)
    est = Pipeline([
        ("encode", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                       list(credit.CATEGORICAL_FEATURES))], remainder="passthrough")),
        ("clf", HistGradientBoostingClassifier(max_iter=40, class_weight="balanced", early_stopping=False, random_state=0)),
    ]).fit(train[features], train["default"])
    model = GuardedModel(est, ModelSchema.infer(train[features], task="classification", classes=[0, 1]))
    return model, train, test, features
