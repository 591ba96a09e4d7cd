"""A simpler model is not better (ML Test Score M5): dummy and linear baselines on the same split.

Both baselines are fitted on the candidate's training rows and scored on its test rows with
the primary metric: a *dummy* (prior class / mean) and a *linear* model (logistic or ridge
regression on one-hot categories and standardised numbers). The candidate must beat each by
its configured margin (in the metric's units; a negative margin tolerates a candidate that
is at most that much worse, e.g. when the candidate itself is linear).

Example:
    >>> BaselineGate().min_margin_over_dummy
    0.05
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss"})


@dataclass(frozen=True)
class BaselineGate:
    """Margins the candidate must beat the baselines by (primary metric units).

    Example:
        >>> BaselineGate(min_margin_over_linear=-0.01).min_margin_over_linear
        -0.01
    """

    min_margin_over_dummy: float = 0.05
    min_margin_over_linear: float = 0.0
    seed: int = 0


def baseline_models(task: str, X: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Unfitted ``{"dummy": ..., "linear": ...}`` estimators for ``task`` and the columns of ``X``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    # missing numbers are imputed (the median): training data may hold them (a nullable column, a tolerated
    # missing rate, a candidate that takes NaN natively), and a linear model refuses NaN; a missing category
    # is a category of its own to the encoder
    prep = ColumnTransformer([("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])
    if task == "classification":
        return {"dummy": DummyClassifier(strategy="prior"),
                "linear": Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=500, class_weight="balanced"))])}
    return {"dummy": DummyRegressor(strategy="mean"), "linear": Pipeline([("prep", prep), ("model", Ridge(alpha=1.0))])}


def baseline_checks(
    task: str, metric: str, candidate_score: float | None,
    X_train: pd.DataFrame, y_train: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray, gate: BaselineGate,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """One check per baseline: the candidate's ``metric`` beats the baseline's by the margin.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"x": rng.normal(size=200)})
        >>> y = 2 * X["x"].to_numpy() + rng.normal(scale=0.1, size=200)
        >>> checks, scores = baseline_checks("regression", "r2", 0.2, X[:150], y[:150], X[150:], y[150:], BaselineGate())
        >>> [c.passed for c in checks]   # a candidate with R² 0.2 loses to a linear fit of a linear target
        [True, False]
    """
    from modelway.stages.evaluation import compute_metrics, predict_for_metrics

    scores: dict[str, float | None] = {}
    checks = []
    for name, estimator in baseline_models(task, X_train, gate.seed).items():
        estimator.fit(X_train, y_train)
        y_pred, y_score = predict_for_metrics(estimator, X_test, task)
        if task == "classification" and y_score is None and metric == "roc_auc":
            y_score = np.zeros(len(y_test))
        value = compute_metrics(task, y_test, y_pred, y_score).get(metric)
        scores[name] = None if value is None else round(float(value), 6)
        margin = gate.min_margin_over_dummy if name == "dummy" else gate.min_margin_over_linear
        checks.append(_beats(f"baseline.{name}", metric, candidate_score, scores[name], margin))
    return checks, {"metric": metric, "candidate": candidate_score, "baselines": scores,
                    "margins": {"dummy": gate.min_margin_over_dummy, "linear": gate.min_margin_over_linear}}


def _beats(name: str, metric: str, candidate: float | None, baseline: float | None, margin: float) -> CheckResult:
    if candidate is None or baseline is None or np.isnan(candidate) or np.isnan(baseline):
        return CheckResult(name, False, f"{metric} could not be computed for the candidate or the {name} model", category="baseline")
    lower = metric in LOWER_IS_BETTER
    gain = (baseline - candidate) if lower else (candidate - baseline)
    required = baseline - margin if lower else baseline + margin
    ok = gain >= margin
    return CheckResult(
        name, bool(ok),
        f"candidate {metric} {candidate:.4f} vs {name.split('.')[-1]} baseline {baseline:.4f} on the same split: "
        f"{'better' if gain >= 0 else 'worse'} by {abs(gain):.4f}, required margin {margin:+.4f}",
        observed=round(float(candidate), 6), limit=round(float(required), 6), category="baseline",
    )
