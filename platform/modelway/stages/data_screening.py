"""Poisoning screens of the training data: outliers and labels that contradict their features.

* **Outliers**: scikit-learn's ``IsolationForest`` over the numeric features; the share of
  rows whose anomaly score (Liu et al.'s *s*, 0.5 = unremarkable, near 1 = isolated at once)
  exceeds ``outlier_score``.
* **Label noise** (a light form of confident learning): out-of-fold predictions of a simple
  model (3-fold ``cross_val_predict``). A classification row is suspicious when the
  predicted probability of its *given* label is below ``noise_probability``; a regression
  row when its residual exceeds ``noise_mads`` median absolute deviations.

Both shares are reported with example rows; each gates only when its limit is set (a
poisoned or mislabelled feed then stops the run before the model is registered).

Example:
    >>> DataScreening().noise_probability
    0.05
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult


@dataclass(frozen=True)
class DataScreening:
    """Limits of the screens (shares of training rows; None: reported only).

    Example:
        >>> DataScreening(max_label_noise_share=0.1).max_outlier_share is None
        True
    """

    max_outlier_share: float | None = None
    max_label_noise_share: float | None = None
    outlier_score: float = 0.65
    noise_probability: float = 0.05
    noise_mads: float = 6.0
    max_rows: int = 5000
    seed: int = 0


def screening_checks(frame: pd.DataFrame, *, features: list[str], label: str, task: str,
                     config: DataScreening) -> tuple[list[CheckResult], dict[str, Any]]:
    """Outlier and label-noise screens of the training rows.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame({"x": rng.normal(size=600)})
        >>> f["y"] = (f["x"] > 0).astype(int)
        >>> f.loc[f.index[:120], "y"] = 1 - f.loc[f.index[:120], "y"]     # 20% of labels flipped
        >>> checks, _ = screening_checks(f, features=["x"], label="y", task="classification",
        ...                              config=DataScreening(max_label_noise_share=0.05))
        >>> [(c.name, c.passed) for c in checks]
        [('data.screening.outliers', True), ('data.screening.label_noise', False)]
    """
    if len(frame) > config.max_rows:
        frame = frame.sample(n=config.max_rows, random_state=config.seed)
    X, y = frame[features], frame[label].to_numpy()
    outliers = _outliers(X, config)
    noisy = _label_noise(X, y, task, config)
    checks = [
        _share_check("data.screening.outliers", f"outliers (IsolationForest anomaly score > {config.outlier_score})",
                     outliers, frame, config.max_outlier_share),
        _share_check("data.screening.label_noise", "labels that out-of-fold predictions contradict" + (
            f" (p(label) < {config.noise_probability})" if task == "classification" else f" (residual > {config.noise_mads} MADs)"),
            noisy, frame, config.max_label_noise_share),
    ]
    return checks, {"rows": int(len(frame)), "outlier_share": round(float(outliers.mean()), 6),
                    "label_noise_share": round(float(noisy.mean()), 6)}


def _outliers(X: pd.DataFrame, config: DataScreening) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    numeric = X.select_dtypes("number")
    if numeric.shape[1] == 0:
        return np.zeros(len(X), dtype=bool)
    filled = numeric.fillna(numeric.median())
    forest = IsolationForest(n_estimators=50, random_state=config.seed).fit(filled)
    return -forest.score_samples(filled) > config.outlier_score


def _label_noise(X: pd.DataFrame, y: np.ndarray, task: str, config: DataScreening) -> np.ndarray:
    from sklearn.model_selection import cross_val_predict

    from modelway.stages.baselines import baseline_models

    model = baseline_models(task, X, config.seed)["linear"]
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2 or counts.min() < 3:
            return np.zeros(len(y), dtype=bool)
        proba = cross_val_predict(model, X, y, cv=3, method="predict_proba")
        given = proba[np.arange(len(y)), np.searchsorted(classes, y)]
        return given < config.noise_probability
    pred = cross_val_predict(model, X, y, cv=3)
    residual = np.abs(y - pred)
    mad = float(np.median(np.abs(residual - np.median(residual)))) or 1e-12
    return residual > np.median(residual) + config.noise_mads * mad


def _share_check(name: str, what: str, flags: np.ndarray, frame: pd.DataFrame, limit: float | None) -> CheckResult:
    share = float(flags.mean()) if len(flags) else 0.0
    ok = limit is None or share <= limit
    examples = frame[flags].head(3).reset_index().rename(columns={"index": "_row"}).to_dict(orient="records")
    return CheckResult(
        name, bool(ok), f"{share:.2%} of {len(flags)} training rows are {what}"
        + (f", limit {limit:.2%}" if limit is not None else " (reported; set a limit to gate)"),
        observed=round(share, 6), limit=limit, count=int(flags.sum()), examples=examples, category="data",
    )
