"""The automated ML Test Score checks that run with the model tests of every ``modelway run``.

:class:`MLTests` configures them (each can be turned off with ``None``); :func:`run_ml_tests`
runs them on the candidate and its split and returns the checks plus the evidence (tables
and curves) the report and card show:

* data: permutation importance (D2), per-feature cost (D3), derived-feature code (D7),
  outlier and label-noise screens;
* model: staleness impact (M4), dummy and linear baselines (M5);
* infrastructure: reproducible training (I1: the tuned estimator refitted twice on the same
  rows predicts identically), a held-out row stepped through the model and explained (I5,
  what ``modelway explain`` shows), targeted perturbations (adversarial robustness);
* monitoring: library versions compared with the champion's (Mon1).

PII (D5) runs with the data contract (:mod:`modelway.stages.validation`), spec review (M1)
and speed/memory history (Mon6) at registration (:mod:`modelway.stages.registration`).

Example:
    >>> MLTests().baselines.min_margin_over_dummy
    0.05
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.adversarial import TargetedPerturbation, targeted_check
from modelway.stages.baselines import BaselineGate, baseline_checks
from modelway.stages.data_screening import DataScreening, screening_checks
from modelway.stages.dependencies import dependency_check, model_libraries
from modelway.stages.feature_checks import FeatureChecks, cost_check, importance_check
from modelway.stages.gates import CheckResult
from modelway.stages.staleness import StalenessCheck, staleness_check

SCORERS = {"roc_auc": "roc_auc", "accuracy": "accuracy", "f1": "f1", "r2": "r2", "mae": "neg_mean_absolute_error",
           "rmse": "neg_root_mean_squared_error"}


@dataclass(frozen=True)
class MLTests:
    """Which ML Test Score checks run and with which limits (``None`` turns one off).

    ``derived_features`` maps a column to the plain function that computes it from the raw
    frame; the run recomputes each on the data and fails when the stored column differs
    (the tested function is the one that produced the data).

    Example:
        >>> MLTests(staleness=None).staleness is None
        True
    """

    features: FeatureChecks | None = field(default_factory=FeatureChecks)
    baselines: BaselineGate | None = field(default_factory=BaselineGate)
    staleness: StalenessCheck | None = field(default_factory=StalenessCheck)
    screening: DataScreening | None = field(default_factory=DataScreening)
    targeted: TargetedPerturbation | None = field(default_factory=TargetedPerturbation)
    reproducibility_rows: int | None = 1000
    explain_reference_rows: int | None = 4
    """I5: reference rows for explaining one held-out row (``modelway explain`` uses 10 by default)."""
    derived_features: Mapping[str, Callable[[pd.DataFrame], Any]] = field(default_factory=dict)


def run_ml_tests(split: Any, trained: Any, *, task: str, label: str, primary_metric: str, overall: dict[str, Any],
                 tests: MLTests, champion_libraries: dict[str, str] | None = None,
                 champion_label: str = "the champion") -> tuple[list[CheckResult], dict[str, Any]]:
    """Run the configured checks; returns ``(checks, evidence)``."""
    model, features = trained.model, list(trained.features)
    train, test = split.train, split.test
    X_test, y_test = test[features], test[label].to_numpy()
    checks: list[CheckResult] = []
    evidence: dict[str, Any] = {}
    if tests.derived_features:
        checks.append(derived_features_check(pd.concat([train, test]), tests.derived_features))
    if tests.features is not None:
        scoring = SCORERS.get(primary_metric, primary_metric)
        check, evidence["importance"] = importance_check(model, X_test, y_test, scoring=scoring, config=tests.features)
        checks.append(check)
        check, evidence["feature_cost"] = cost_check(model, X_test, tests.features)
        checks.append(check)
    if tests.screening is not None:
        found, evidence["screening"] = screening_checks(train, features=features, label=label, task=task, config=tests.screening)
        checks.extend(found)
    estimator = getattr(model, "model", model)  # the tuned estimator inside the schema guard
    if tests.baselines is not None:
        found, evidence["baselines"] = baseline_checks(task, primary_metric, overall.get(primary_metric), train[features],
                                                       train[label].to_numpy(), X_test, y_test, tests.baselines)
        checks.extend(found)
    if tests.staleness is not None:
        check, evidence["staleness"] = staleness_check(estimator, pd.concat([train, test]), features=features, label=label, task=task,
                                                       metric=primary_metric, config=tests.staleness)
        checks.append(check)
    if tests.reproducibility_rows:
        checks.append(reproducibility_check(estimator, train, features, label, tests.reproducibility_rows))
    if tests.explain_reference_rows:
        check, evidence["explanation"] = explain_check(model, train, X_test, tests.explain_reference_rows)
        checks.append(check)
    if tests.targeted is not None:
        check, evidence["targeted_perturbation"] = targeted_check(model, X_test, tests.targeted, classifier=task == "classification")
        checks.append(check)
    libraries = model_libraries(model)
    evidence["libraries"] = libraries
    checks.append(dependency_check(libraries, champion_libraries, champion_label))
    return checks, evidence


def derived_features_check(frame: pd.DataFrame, derived: Mapping[str, Callable[[pd.DataFrame], Any]]) -> CheckResult:
    """D7: each derived column equals what its (unit-tested) function computes from the frame.

    Example:
        >>> f = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 4.0]})
        >>> derived_features_check(f, {"b": lambda d: d["a"] * 2}).passed
        True
        >>> derived_features_check(f.assign(b=[2.0, 5.0]), {"b": lambda d: d["a"] * 2}).count
        1
    """
    wrong: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for column, fn in derived.items():
        if column not in frame.columns:
            wrong[column] = len(frame)
            continue
        expected = pd.Series(np.asarray(fn(frame)), index=frame.index)
        stored = frame[column]
        if pd.api.types.is_numeric_dtype(stored) and pd.api.types.is_numeric_dtype(expected):
            same = np.isclose(stored.to_numpy(float), expected.to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True)
        else:
            same = (stored.astype(str) == expected.astype(str)).to_numpy()
        if not same.all():
            wrong[column] = int((~same).sum())
            row = frame.index[~same][0]
            examples.append({"_row": _plain(row), "column": column, "stored": _plain(stored.loc[row]), "recomputed": _plain(expected.loc[row])})
    names = ", ".join(f"{getattr(fn, '__name__', 'fn')} -> {c}" for c, fn in derived.items())
    if wrong:
        return CheckResult("features.derived", False, "derived columns differ from their feature functions: "
                           + ", ".join(f"{c} ({n} rows)" for c, n in wrong.items()), count=sum(wrong.values()), examples=examples,
                           category="features")
    return CheckResult("features.derived", True, f"{len(derived)} derived column(s) match their unit-tested functions on "
                       f"{len(frame)} rows: {names}", category="features")


def reproducibility_check(estimator: Any, train: pd.DataFrame, features: list[str], label: str, rows: int) -> CheckResult:
    """I1: the tuned estimator, refitted twice on the same rows, predicts identically.

    Example:
        >>> from sklearn.tree import DecisionTreeRegressor
        >>> f = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0) % 7})
        >>> reproducibility_check(DecisionTreeRegressor(random_state=0), f, ["x"], "y", 40).passed
        True
    """
    from sklearn.base import clone

    sample = train.head(rows)
    X, y = sample[features], sample[label]
    first = np.asarray(clone(estimator).fit(X, y).predict(X))
    second = np.asarray(clone(estimator).fit(X, y).predict(X))
    if first.dtype.kind in "fc":
        differ = int((~np.isclose(first, second, rtol=1e-9, atol=1e-12)).sum())
    else:
        differ = int((first != second).sum())
    return CheckResult(
        "reproducibility.refit", differ == 0,
        f"refitting the tuned estimator twice on the same {len(sample)} rows gives identical predictions" if differ == 0 else
        f"refitting the tuned estimator twice on the same {len(sample)} rows changes {differ} predictions: seed every random "
        "component (random_state)", observed=differ, limit=0, count=differ or None, category="reproducibility",
    )


def explain_check(model: Any, train: pd.DataFrame, rows: pd.DataFrame, reference_rows: int) -> tuple[CheckResult, dict[str, Any]]:
    """I5: the first held-out row, stepped through the model's stages and explained as ``modelway explain`` does:
    the replayed stages reproduce the model's output, and the contributions add up to it.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> from modelway.stages.model_schema import GuardedModel, ModelSchema
        >>> X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
        >>> m = GuardedModel(LinearRegression().fit(X, X["a"] - X["b"]), ModelSchema.infer(X, task="regression"))
        >>> check, evidence = explain_check(m, X, X.tail(3), 4)
        >>> check.passed, evidence["method"], [c["feature"] for c in evidence["contributions"]]
        (True, 'linear', ['a', 'b'])
    """
    from modelway.profiling.profile import build_profile
    from modelway.stages.explain import explain_row, reference_rows as draw_reference

    kinds = {f.name: f.kind for f in model.schema.features}
    row = rows.iloc[[0]]
    try:
        explanation = explain_row(model, row, reference=lambda: draw_reference(build_profile(train[list(kinds)], kinds),
                                                                               list(kinds), reference_rows))
    except Exception as exc:  # noqa: BLE001 - any failure to step through the model is this check's finding
        return CheckResult("debug.explain", False, f"held-out row {_plain(row.index[0])} cannot be explained: "
                           f"{type(exc).__name__}: {exc}", category="debuggability"), {}
    error = explanation.additivity_error
    tolerance = 1e-6 * max(1.0, abs(explanation.output_value))
    finite = all(math.isfinite(c.contribution) for c in explanation.contributions)
    passed = explanation.replay_matches and finite and error <= tolerance
    top = explanation.contributions[0] if explanation.contributions else None
    if passed:
        message = (f"held-out row {_plain(row.index[0])} stepped through {len(explanation.stages)} stages reproduces the model's "
                   f"{explanation.output} {explanation.output_value:.4g}; its {explanation.method} contributions add up to it"
                   + (f" (largest: {top.feature} {top.contribution:+.4g})" if top else ""))
    elif not explanation.replay_matches:
        message = (f"replaying held-out row {_plain(row.index[0])} stage by stage does not reproduce the model's output "
                   "(a stateful or random stage?): the model cannot be debugged one row at a time")
    else:
        message = f"the contributions of held-out row {_plain(row.index[0])} miss its {explanation.output} by {error:.3g}"
    evidence = {"row": _plain(row.index[0]), "method": explanation.method, "output": explanation.output,
                "output_value": explanation.output_value, "base_value": explanation.base_value, "note": explanation.note,
                "stages": [f"{s.name}: {s.transformer}" for s in explanation.stages],
                "contributions": [{"feature": c.feature, "value": c.value, "contribution": c.contribution}
                                  for c in explanation.contributions[:10]]}
    return CheckResult("debug.explain", passed, message, observed=round(error, 12), limit=round(tolerance, 12),
                       category="debuggability"), evidence


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
