"""Fairness gate with fairlearn: per-group metrics and disparity limits over a sensitive attribute.

Classification: a fairlearn ``MetricFrame`` of selection rate, true/false positive rate,
accuracy and count per group, plus ``demographic_parity_difference`` and
``equalized_odds_difference`` checked against configured limits. Regression: MAE, mean
prediction and count per group, with a limit on the largest MAE gap between groups
relative to the overall MAE. The sensitive attribute is only used here, to measure; it is
never a model feature unless a pipeline says so.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1]); p = np.array([0, 1, 0, 1]); g = np.array(["a", "a", "b", "b"])
    >>> result = fairness_report(FairnessGate("g"), y, p, g)
    >>> result["demographic_parity_difference"], [c.passed for c in result["checks"]]
    (0.0, [True, True])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from modelway.stages.gates import CheckResult


@dataclass(frozen=True)
class FairnessGate:
    """Which attribute to audit and the disparity limits.

    Example:
        >>> FairnessGate("gender").max_demographic_parity_difference
        0.1
    """

    sensitive: str
    max_demographic_parity_difference: float = 0.10
    max_equalized_odds_difference: float = 0.10
    max_relative_mae_gap: float = 0.25  # regression only
    min_group_size: int = 30


def fairness_report(
    gate: FairnessGate,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sensitive: np.ndarray,
    *,
    task: Literal["classification", "regression"] = "classification",
    pos_label: Any = 1,
) -> dict[str, Any]:
    """Per-group metrics, disparity figures and the gate's checks (under key ``checks``).

    Example:
        >>> import numpy as np
        >>> y = np.array([1.0, 2.0, 3.0, 4.0]); g = np.array(["a", "a", "b", "b"])
        >>> fairness_report(FairnessGate("g"), y, y, g, task="regression")["max_relative_mae_gap"]
        0.0
    """
    from fairlearn.metrics import MetricFrame, count

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    groups = np.asarray(sensitive).astype(str)
    if task == "classification":
        return _classification(gate, y_true, y_pred, groups, pos_label)
    from sklearn.metrics import mean_absolute_error

    frame = MetricFrame(
        metrics={"mae": mean_absolute_error, "mean_prediction": _mean_prediction, "count": count},
        y_true=y_true, y_pred=y_pred, sensitive_features=groups,
    )
    by_group = _by_group(frame)
    overall_mae = float(mean_absolute_error(y_true, y_pred))
    eligible = [g for g, m in by_group.items() if m["count"] >= gate.min_group_size]
    maes = [by_group[g]["mae"] for g in eligible]
    gap = (max(maes) - min(maes)) / overall_mae if len(maes) >= 2 and overall_mae > 0 else 0.0
    checks = [
        CheckResult(
            f"fairness.{gate.sensitive}.relative_mae_gap", gap <= gate.max_relative_mae_gap,
            f"MAE gap between {gate.sensitive} groups is {gap:.1%} of overall MAE {overall_mae:.3f}, limit {gate.max_relative_mae_gap:.0%}",
            observed=round(gap, 6), limit=gate.max_relative_mae_gap, category="fairness",
        )
    ]
    return {"sensitive": gate.sensitive, "task": task, "by_group": by_group, "max_relative_mae_gap": round(gap, 6), "checks": checks}


def _classification(gate: FairnessGate, y_true, y_pred, groups, pos_label) -> dict[str, Any]:
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    yt = (y_true == pos_label).astype(int)
    yp = (y_pred == pos_label).astype(int)
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": accuracy_score,
            "count": count,
        },
        y_true=yt, y_pred=yp, sensitive_features=groups,
    )
    by_group = _by_group(frame)
    small = [g for g, m in by_group.items() if m["count"] < gate.min_group_size]
    keep = np.isin(groups, [g for g in by_group if g not in small])
    dpd = float(demographic_parity_difference(yt[keep], yp[keep], sensitive_features=groups[keep])) if keep.any() else 0.0
    eod = float(equalized_odds_difference(yt[keep], yp[keep], sensitive_features=groups[keep])) if keep.any() else 0.0
    rates = {g: round(m["selection_rate"], 3) for g, m in by_group.items()}
    checks = [
        CheckResult(
            f"fairness.{gate.sensitive}.demographic_parity_difference", dpd <= gate.max_demographic_parity_difference,
            f"selection rates by {gate.sensitive} {rates} differ by {dpd:.3f}, limit {gate.max_demographic_parity_difference}",
            observed=round(dpd, 6), limit=gate.max_demographic_parity_difference, category="fairness",
        ),
        CheckResult(
            f"fairness.{gate.sensitive}.equalized_odds_difference", eod <= gate.max_equalized_odds_difference,
            f"largest TPR/FPR gap between {gate.sensitive} groups is {eod:.3f}, limit {gate.max_equalized_odds_difference}",
            observed=round(eod, 6), limit=gate.max_equalized_odds_difference, category="fairness",
        ),
    ]
    return {
        "sensitive": gate.sensitive,
        "task": "classification",
        "by_group": by_group,
        "overall": {k: float(v) for k, v in frame.overall.items()},
        "demographic_parity_difference": round(dpd, 6),
        "equalized_odds_difference": round(eod, 6),
        "excluded_small_groups": small,
        "checks": checks,
    }


def _by_group(frame: Any) -> dict[str, dict[str, float]]:
    table = frame.by_group
    return {str(group): {k: float(v) for k, v in row.items()} for group, row in table.iterrows()}


def _mean_prediction(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred))
