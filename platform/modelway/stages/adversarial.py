"""Targeted robustness: the worst small single-feature change, searched per row (black box).

Random noise (``robustness.perturbation_stability``) rarely finds a model's weak spots. This
check searches for them: for every row of a sample, every continuous feature is moved by
``epsilon`` x the feature's standard deviation in both directions, and the change that moves
the prediction the most is kept (integer features — counts, ages — are left alone: one more
late payment is a different applicant, not a perturbation) (for a classifier: any change that
flips the predicted class; for a regressor: the largest move relative to the spread of
predictions). Two batch predictions per feature, whatever the sample size.

Example:
    >>> TargetedPerturbation().epsilon
    0.02
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult


@dataclass(frozen=True)
class TargetedPerturbation:
    """Size of the searched changes and the tolerated effect.

    Example:
        >>> TargetedPerturbation(max_flip_rate=0.1).max_relative_change
        0.1
    """

    epsilon: float = 0.02
    max_flip_rate: float = 0.05
    max_relative_change: float = 0.1
    rows: int = 500
    seed: int = 0


def targeted_check(model: Any, X: pd.DataFrame, config: TargetedPerturbation, *, classifier: bool) -> tuple[CheckResult, dict[str, Any]]:
    """Worst-case single-feature perturbation per row; flip rate (or largest relative move) against the limit.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> X = pd.DataFrame({"a": np.linspace(0, 1, 100)})
        >>> m = LinearRegression().fit(X, 1000 * X["a"])
        >>> targeted_check(m, X, TargetedPerturbation(), classifier=False)[0].passed
        True
    """
    sample = X.sample(n=min(config.rows, len(X)), random_state=config.seed)
    base = np.asarray(model.predict(sample))
    spread = 1.0 if classifier else (float(np.std(base)) or 1.0)
    worst = np.zeros(len(sample))
    by_feature: dict[str, float] = {}
    culprit = np.array([""] * len(sample), dtype=object)
    for column in sample.columns:
        col = sample[column]
        if not pd.api.types.is_float_dtype(col):
            continue
        step = config.epsilon * (float(col.std()) or 1.0)
        effect = np.zeros(len(sample))
        for sign in (1, -1):
            moved = sample.copy()
            moved[column] = (col + sign * step).astype(col.dtype)
            out = np.asarray(model.predict(moved))
            effect = np.maximum(effect, (out != base).astype(float) if classifier else np.abs(out - base) / spread)
        by_feature[column] = round(float(effect.mean() if classifier else effect.max()), 6)
        culprit = np.where(effect > worst, column, culprit)
        worst = np.maximum(worst, effect)
    top = sorted(by_feature, key=lambda c: -by_feature[c])[:3]
    if classifier:
        value, limit = float(worst.mean()), config.max_flip_rate
        what = f"{value:.2%} of {len(sample)} rows flip class under the worst single-feature change of {config.epsilon:g} std"
    else:
        value, limit = float(worst.max()), config.max_relative_change
        what = f"the worst single-feature change of {config.epsilon:g} std moves a prediction by {value:.2%} of their spread"
    examples = [{"_row": _plain(i), "feature": str(f)} for i, f, w in zip(sample.index, culprit, worst) if w > (0 if classifier else limit)][:3]
    message = f"{what}, limit {limit:.2%}; most sensitive: " + ", ".join(f"{c} {by_feature[c]:.2%}" for c in top)
    return (CheckResult("robustness.targeted_perturbation", value <= limit, message, observed=round(value, 6), limit=limit,
                        examples=examples, category="robustness"),
            {"epsilon": config.epsilon, "rows": int(len(sample)), "by_feature": by_feature, "value": round(value, 6)})


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
