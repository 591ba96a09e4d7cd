"""Evidence behind the headline metrics: curves, calibration, score distributions, bootstrap intervals.

For a binary classifier: ROC and precision-recall curves (down-sampled to at most ``points``
points), a reliability (calibration) curve with the Brier score, and histograms of the
positive-class score per true class. For any task: 95% bootstrap confidence intervals of the
headline metrics overall and of the primary metric per slice (``resamples`` resamples of the
test rows, seeded). Everything is plain JSON for the report, the card and MLflow.

Example:
    >>> import numpy as np
    >>> y = np.array([0] * 50 + [1] * 50); s = np.linspace(0, 1, 100)
    >>> ev = classification_curves(y, s)
    >>> sorted(ev), ev["roc"]["auc"] > 0.7
    (['calibration', 'pr', 'roc', 'score_distribution'], True)
"""
from __future__ import annotations

from typing import Any

import numpy as np


def classification_curves(y_true: np.ndarray, y_score: np.ndarray, *, points: int = 60, bins: int = 10) -> dict[str, Any]:
    """ROC, PR, calibration and per-class score histograms of a binary classifier."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve

    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    fpr, tpr, _ = roc_curve(y_true, y_score)
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    prob_true, prob_pred = calibration_curve(y_true, y_score, n_bins=bins, strategy="quantile")
    edges = np.linspace(0.0, 1.0, 21)
    positive = y_true == np.max(y_true)
    return {
        "roc": {"fpr": _thin(fpr, points), "tpr": _thin(tpr, points), "auc": round(float(roc_auc_score(y_true, y_score)), 6)},
        "pr": {"recall": _thin(recall, points), "precision": _thin(precision, points),
               "average_precision": round(float(average_precision_score(y_true, y_score)), 6),
               "prevalence": round(float(positive.mean()), 6)},
        "calibration": {"mean_predicted": _round(prob_pred), "fraction_positive": _round(prob_true),
                        "brier": round(float(brier_score_loss(positive.astype(int), y_score)), 6)},
        "score_distribution": {"edges": _round(edges), "positive": np.histogram(y_score[positive], edges)[0].tolist(),
                               "negative": np.histogram(y_score[~positive], edges)[0].tolist()},
    }


def bootstrap_intervals(
    task: str, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None, metrics: tuple[str, ...], *,
    resamples: int = 200, seed: int = 0, level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """``{metric: {"low", "high", "resamples"}}``: percentile bootstrap over test rows.

    Example:
        >>> y = np.arange(50.0)
        >>> ci = bootstrap_intervals("regression", y, y + 1, None, ("mae",), resamples=20)
        >>> ci["mae"]["low"], ci["mae"]["high"]
        (1.0, 1.0)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    score_all = None if y_score is None else np.asarray(y_score, dtype=float)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {m: [] for m in metrics}
    n = len(y_true)
    if n < 2:
        return {}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        for name in metrics:
            value = _fast_metric(name, y_true[idx], y_pred[idx], None if score_all is None else score_all[idx])
            if value is not None and not np.isnan(value):
                values[name].append(value)
    tail = (1 - level) / 2 * 100
    return {name: {"low": round(float(np.percentile(v, tail)), 6), "high": round(float(np.percentile(v, 100 - tail)), 6),
                   "resamples": len(v)} for name, v in values.items() if v}


def slice_intervals(task: str, frame: Any, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None,
                    slice_columns: tuple[str, ...], metric: str, *, resamples: int = 60, seed: int = 0) -> dict[str, dict[str, float]]:
    """Bootstrap interval of ``metric`` per ``column=value`` slice."""
    out: dict[str, dict[str, float]] = {}
    for column in slice_columns:
        values = frame[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            ci = bootstrap_intervals(task, np.asarray(y_true)[mask], np.asarray(y_pred)[mask],
                                     None if y_score is None else np.asarray(y_score)[mask], (metric,), resamples=resamples, seed=seed)
            if metric in ci:
                out[f"{column}={value}"] = ci[metric]
    return out


def _fast_metric(name: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> float | None:
    """The headline metrics without scikit-learn's per-call validation (bootstrap runs them hundreds of times)."""
    if name == "accuracy":
        return float(np.mean(y == pred))
    if name == "roc_auc":
        if score is None:
            return None
        from scipy.stats import rankdata

        positive = y == np.max(y)
        n1, n0 = int(positive.sum()), int((~positive).sum())
        if n1 == 0 or n0 == 0:
            return None
        return float((rankdata(score)[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    if name in ("f1", "precision", "recall"):
        positive = np.max(y)
        tp = float(np.sum((pred == positive) & (y == positive)))
        p, r = tp / max(float(np.sum(pred == positive)), 1.0), tp / max(float(np.sum(y == positive)), 1.0)
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}[name]
    err = y.astype(float) - pred.astype(float)
    if name == "mae":
        return float(np.mean(np.abs(err)))
    if name == "rmse":
        return float(np.sqrt(np.mean(err ** 2)))
    if name == "r2":
        total = float(np.sum((y - np.mean(y)) ** 2))
        return None if total == 0 else 1.0 - float(np.sum(err ** 2)) / total
    return None


def _thin(values: np.ndarray, points: int) -> list[float]:
    values = np.asarray(values, dtype=float)
    if len(values) > points:
        values = values[np.unique(np.linspace(0, len(values) - 1, points).round().astype(int))]
    return _round(values)


def _round(values: Any) -> list[float]:
    return [round(float(v), 5) for v in values]
