"""Model quality gate: metrics overall and per slice, and no regression against the champion.

:func:`compute_metrics` scores predictions (classification: ROC AUC, accuracy, F1,
precision, recall, confusion matrix; regression: R², RMSE, MAE). :func:`quality_checks`
turns them into gate checks: overall thresholds, the same thresholds per slice (named
segments such as ``region=south`` or ``age_band=18-25``; slices smaller than
``min_slice_size`` are not gated and carry an advisory ``slice.<name>.support`` warning), and — when a champion exists (the
current approved model of the family) — no drop in the primary metric beyond
``regression_tolerance`` on the *same* test set.

Example:
    >>> import numpy as np
    >>> m = compute_metrics("regression", np.array([1.0, 2.0, 3.0]), np.array([1.1, 1.9, 3.2]))
    >>> round(m["mae"], 3)
    0.133
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss"})


@dataclass(frozen=True)
class QualityGate:
    """Limits for the quality gate.

    ``min_metrics``/``max_metrics`` apply overall; ``min_slice_metrics``/``max_slice_metrics``
    to every slice of each ``slice_columns`` column with at least ``min_slice_size`` rows.

    Example:
        >>> QualityGate(min_metrics={"roc_auc": 0.7}, primary_metric="roc_auc").regression_tolerance
        0.01
    """

    min_metrics: dict[str, float] = field(default_factory=dict)
    max_metrics: dict[str, float] = field(default_factory=dict)
    slice_columns: tuple[str, ...] = ()
    min_slice_metrics: dict[str, float] = field(default_factory=dict)
    max_slice_metrics: dict[str, float] = field(default_factory=dict)
    min_slice_size: int = 50
    primary_metric: str = "roc_auc"
    regression_tolerance: float = 0.01


def compute_metrics(
    task: Literal["classification", "regression"],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
) -> dict[str, Any]:
    """Standard metrics for the task (plus ``confusion_matrix`` and ``n`` for classifiers).

    Example:
        >>> compute_metrics("classification", np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]),
        ...                 np.array([0.1, 0.9, 0.4, 0.2]))["accuracy"]
        0.75
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    out: dict[str, Any] = {"n": int(len(y_true))}
    if task == "classification":
        out["accuracy"] = float(skm.accuracy_score(y_true, y_pred))
        labels = np.unique(np.concatenate([y_true, y_pred]))
        binary = len(labels) <= 2
        average = "binary" if binary else "macro"
        out["precision"] = float(skm.precision_score(y_true, y_pred, average=average, zero_division=0))
        out["recall"] = float(skm.recall_score(y_true, y_pred, average=average, zero_division=0))
        out["f1"] = float(skm.f1_score(y_true, y_pred, average=average, zero_division=0))
        if y_score is not None and len(np.unique(y_true)) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, y_score))
        out["confusion_matrix"] = {
            "labels": [_plain(v) for v in labels],
            "matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        }
    else:
        out["r2"] = float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan")
        out["rmse"] = float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
        out["mae"] = float(skm.mean_absolute_error(y_true, y_pred))
    return out


def predict_for_metrics(model: Any, X: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions and (for binary classifiers) positive-class scores."""
    y_pred = np.asarray(model.predict(X))
    y_score = None
    if task == "classification" and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
        if proba.ndim == 2 and proba.shape[1] == 2:
            y_score = proba[:, 1]
    return y_pred, y_score


def slice_metrics(
    task: str, frame: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None, slice_columns: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Metrics per named slice ``"<column>=<value>"``.

    Example:
        >>> f = pd.DataFrame({"r": ["a", "a", "b", "b"]})
        >>> sorted(slice_metrics("regression", f, np.ones(4), np.ones(4), None, ("r",)))
        ['r=a', 'r=b']
    """
    out: dict[str, dict[str, Any]] = {}
    for column in slice_columns:
        values = frame[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            score = None if y_score is None else y_score[mask]
            if task == "classification" and score is not None and len(np.unique(y_true[mask])) < 2:
                score = None  # AUC is undefined on a one-class slice
            m = compute_metrics(task, y_true[mask], y_pred[mask], score)
            m.pop("confusion_matrix", None)
            out[f"{column}={value}"] = m
    return out


def quality_checks(
    gate: QualityGate,
    overall: dict[str, Any],
    slices: dict[str, dict[str, Any]],
    champion: dict[str, Any] | None = None,
) -> list[CheckResult]:
    """Gate checks for overall thresholds, per-slice thresholds and champion regression.

    ``champion`` is ``{"version": ..., "metrics": {...}}`` scored on the same test set.

    Example:
        >>> checks = quality_checks(QualityGate(min_metrics={"r2": 0.5}, primary_metric="r2"), {"r2": 0.4}, {})
        >>> checks[0].message
        'r2 = 0.4000, required >= 0.5'
    """
    checks: list[CheckResult] = []
    for name, limit in gate.min_metrics.items():
        checks.append(_threshold(f"quality.{name}", name, overall.get(name), limit, ">="))
    for name, limit in gate.max_metrics.items():
        checks.append(_threshold(f"quality.{name}", name, overall.get(name), limit, "<="))
    for slice_name, metrics in slices.items():
        if metrics.get("n", 0) < gate.min_slice_size:
            # never silently passed: shown as a warning that this slice's metrics are not evidence either way
            checks.append(CheckResult(
                f"slice.{slice_name}.support", False,
                f"slice {slice_name} has {metrics.get('n', 0)} test rows, below the minimum support of {gate.min_slice_size}: "
                "its metrics are reported but not gated (too few rows to trust them)",
                observed=metrics.get("n", 0), limit=gate.min_slice_size, category="slice", advisory=True,
            ))
            continue
        for name, limit in gate.min_slice_metrics.items():
            if metrics.get(name) is not None:
                checks.append(_threshold(f"slice.{slice_name}.{name}", name, metrics.get(name), limit, ">=", where=f"slice {slice_name} (n={metrics['n']})"))
        for name, limit in gate.max_slice_metrics.items():
            if metrics.get(name) is not None:
                checks.append(_threshold(f"slice.{slice_name}.{name}", name, metrics.get(name), limit, "<=", where=f"slice {slice_name} (n={metrics['n']})"))
    # always one regression check (passed when there is no champion yet), so a first run and a
    # later one are scored on the same set of checks
    checks.append(_regression_check(gate, overall, champion) if champion is not None else
                  CheckResult("regression.vs_champion", True, "no approved champion to compare against yet", category="regression"))
    return checks


def _threshold(check: str, metric: str, value: Any, limit: float, op: str, where: str = "") -> CheckResult:
    prefix = f"{where}: " if where else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return CheckResult(check, False, f"{prefix}{metric} could not be computed, required {op} {limit}", limit=limit, category="slice" if where else "quality")
    ok = value >= limit if op == ">=" else value <= limit
    return CheckResult(
        check, bool(ok), f"{prefix}{metric} = {value:.4f}, required {op} {limit}", observed=round(float(value), 6), limit=limit,
        category="slice" if where else "quality",
    )


def _regression_check(gate: QualityGate, overall: dict[str, Any], champion: dict[str, Any]) -> CheckResult:
    name = gate.primary_metric
    new, old = overall.get(name), champion.get("metrics", {}).get(name)
    label = f"champion {champion.get('name', '')} {champion.get('version', '')}".strip()
    if new is None or old is None:
        return CheckResult("regression.vs_champion", True, f"{label}: {name} not comparable, skipped", category="regression")
    delta = (old - new) if name not in LOWER_IS_BETTER else (new - old)  # > 0 means worse
    ok = delta <= gate.regression_tolerance
    return CheckResult(
        "regression.vs_champion", bool(ok),
        f"{name} {new:.4f} vs {label} {old:.4f} on the same test set (worse by {max(delta, 0):.4f}, tolerance {gate.regression_tolerance})",
        observed=round(float(new), 6), limit=round(float(old - gate.regression_tolerance if name not in LOWER_IS_BETTER else old + gate.regression_tolerance), 6),
        category="regression",
    )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
