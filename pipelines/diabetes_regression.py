"""Diabetes progression: the same governed lifecycle for a regression model.

    validate -> train (CV + grid search) -> evaluate (quality, slices, fairness, robustness) -> track (MLflow) -> package -> register/approve

Uses scikit-learn's bundled diabetes dataset (442 patients, no download). The target is a
quantitative measure of disease progression one year after baseline. ``sex`` is audited
by the fairness gate (MAE gap between groups) and, as in the original study, is also a
feature: the pipeline says so explicitly.

    modelway run pipelines/diabetes_regression.py
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, NonNegativeInt

from modelway import pipeline, step
from modelway.contracts.environments import Environment
from modelway.stages.env import build_time_settings
from modelway.stages.results import Evaluation, RawData, Registration, Split, TrainedModel
from modelway.stages.steps import package, register, track

MODEL_NAME = "diabetes-progression"
LABEL = "target"
SEED = 7
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
# Imported once by the runner before the first step that really runs; every step process
# inherits them (see credit_risk.py).
PRELOAD = ["pandas", "pyarrow", "scipy.stats", "sklearn.linear_model", "sklearn.model_selection", "sklearn.metrics",
           "sklearn.pipeline", "sklearn.preprocessing", "modelway.stages.lifecycle"]


def sex_group(frame: Any) -> Any:
    """Derived slicing column: ``sex_1`` / ``sex_2`` from the numeric ``sex`` code (unit-tested in tests/pipelines)."""
    import numpy as np

    return np.where(frame["sex"] == 1.0, "sex_1", "sex_2").astype(object)


def bmi_band(frame: Any) -> Any:
    """Derived slicing column: WHO BMI bands (``normal`` < 25 <= ``overweight`` < 30 <= ``obese``)."""
    import numpy as np

    return np.select([frame["bmi"] < 25, frame["bmi"] < 30], ["normal", "overweight"], "obese").astype(object)


DERIVED = {"sex_group": sex_group, "bmi_band": bmi_band}  # column -> the plain function computing it; the run re-checks each


def contract() -> Any:
    """Columns, physiological ranges and quality limits of the (unscaled) diabetes data."""
    import pandera.pandas as pa

    from modelway.stages.validation import DatasetContract, QualityThresholds

    def measure(lo: float, hi: float) -> Any:
        return pa.Column(float, pa.Check.in_range(lo, hi))

    schema = pa.DataFrameSchema(
        {
            "age": measure(18, 90), "sex": pa.Column(float, pa.Check.isin([1.0, 2.0])), "bmi": measure(15, 50),
            "bp": measure(50, 150), "s1": measure(90, 320), "s2": measure(40, 250), "s3": measure(15, 110),
            "s4": measure(1, 10), "s5": measure(3, 7), "s6": measure(55, 130), "target": measure(20, 350),
            "sex_group": pa.Column(str, pa.Check.isin(["sex_1", "sex_2"])),
            "bmi_band": pa.Column(str, pa.Check.isin(["normal", "overweight", "obese"])),
        },
        strict=True,
    )
    return DatasetContract("diabetes", schema, label=LABEL, task="regression",
                           quality=QualityThresholds(min_rows=100, min_class_share=None))


@step(preload=PRELOAD)
def load_diabetes_data(n_rows: int) -> RawData:
    """scikit-learn's bundled diabetes data, unscaled, with named groups for slicing."""
    from sklearn.datasets import load_diabetes

    from modelway.stages.lifecycle import log, register_dataset

    frame = load_diabetes(as_frame=True, scaled=False).frame.astype(float)
    for column, derive in DERIVED.items():
        frame[column] = derive(frame)
    if n_rows and n_rows < len(frame):
        frame = frame.sample(n=n_rows, random_state=SEED).sort_index()
    version = register_dataset("sklearn-diabetes", frame)
    log(f"{len(frame)} patients, target mean {frame[LABEL].mean():.1f}, dataset sklearn-diabetes@{version}")
    return RawData(frame, {"sklearn-diabetes": version})


@step(preload=PRELOAD)
def validate(data: RawData) -> Split:
    """Contract, quality and leakage checks, then a seeded train/test split."""
    from modelway.stages.lifecycle import validate_and_split

    return validate_and_split(data.frame, contract(), features=FEATURES, test_size=0.25, seed=SEED,
                              data_versions=data.data_versions)


@step(preload=PRELOAD)
def train(split: Split, cv_folds: int) -> TrainedModel:
    """Ridge regression on standardised features; grid search over the regularisation strength."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from modelway.stages import lifecycle
    from modelway.stages.training import SearchSpec

    estimator = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    spec = SearchSpec(strategy="grid", space={"ridge__alpha": [0.1, 1.0, 3.0, 10.0, 30.0]}, n_trials=5, cv_folds=cv_folds,
                      scoring=("r2", "neg_root_mean_squared_error", "neg_mean_absolute_error"), refit="r2", seed=SEED)
    return lifecycle.train(split, estimator, spec, label=LABEL, features=FEATURES, task="regression", experiment=MODEL_NAME)


@step(preload=PRELOAD)
def evaluate(split: Split, trained: TrainedModel, env: str) -> Evaluation:
    """Model tests: R²/MAE overall and per BMI band and sex, regression vs champion, fairness, robustness."""
    from modelway.stages.evaluation import QualityGate
    from modelway.stages.fairness import FairnessGate
    from modelway.stages.baselines import BaselineGate
    from modelway.stages.lifecycle import EvaluationConfig, evaluate as run_model_tests
    from modelway.stages.ml_tests import MLTests
    from modelway.stages.robustness import RobustnessGate

    config = EvaluationConfig(
        task="regression", label=LABEL, primary_metric="r2",
        quality=QualityGate(min_metrics={"r2": 0.35}, max_metrics={"mae": 55.0}, slice_columns=("bmi_band", "sex_group"),
                            max_slice_metrics={"mae": 65.0}, min_slice_size=25, primary_metric="r2", regression_tolerance=0.02),
        fairness=FairnessGate("sex_group", max_relative_mae_gap=0.30, min_group_size=25),
        robustness=RobustnessGate(max_p95_single_ms=100, max_p95_batch_ms=500, batch_size=200, latency_runs=50, max_artifact_mb=5,
                                  max_relative_change=0.01),
        # the candidate is itself linear: it must beat the mean by 0.1 R² and be no worse than an untuned ridge
        ml_tests=MLTests(derived_features=DERIVED, baselines=BaselineGate(min_margin_over_dummy=0.1, min_margin_over_linear=-0.02)),
        intended_use="Illustrate a governed regression pipeline; estimates one-year disease progression. Not for clinical use.",
        sensitive_is_feature=True,  # sex (sex_group's source column) is a clinical feature here, by choice
        limitations=("442 patients from one study; small slices make per-slice metrics noisy.",
                     "Linear model: interactions and non-linear effects are not captured."),
    )
    return run_model_tests(split, trained, config, model_name=MODEL_NAME, environment=env)


@pipeline(name="diabetes_regression")
def diabetes_regression(
    n_rows: NonNegativeInt = 0,
    cv_folds: Annotated[int, Field(ge=2)] = 5,
    env: Environment | None = None,
) -> Registration:
    """Diabetes progression regressor; ``n_rows`` > 0 subsamples (tests), ``env`` picks the approval rules."""
    # Resolved now, not inside the steps: as constants they are part of the cache keys, so a
    # staging run after a dev run (or new promotion rules) re-runs evaluate/track/register.
    env, promotion_rules = build_time_settings(env)
    data = load_diabetes_data(n_rows)
    split = validate(data)
    trained = train(split, cv_folds)
    evaluation = evaluate(split, trained, env)
    mlflow_run_id = track(split, trained, evaluation)
    return register(package(trained, evaluation, split, mlflow_run_id, model_name=MODEL_NAME), env, promotion_rules)
