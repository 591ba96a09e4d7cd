"""Staleness impact (ML Test Score M4): how much quality a model loses as its training data ages.

The data is ordered by arrival (``time_column`` when the data has one, otherwise row order,
i.e. the order the feed delivered it) and cut into ``windows`` equal windows. The newest
window is held out; a fresh copy of the candidate (same estimator, same tuned
hyperparameters, ``sklearn.base.clone``) is trained on each older window and scored on the
newest one. The result is quality versus data age (age 1 = the window just before the
newest). The check reports the drop from the freshest to the oldest window; it gates only
when ``max_drop`` is set.

Example:
    >>> StalenessCheck().windows
    3
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss"})


@dataclass(frozen=True)
class StalenessCheck:
    """How the staleness test slices the data.

    Example:
        >>> StalenessCheck(max_drop=0.02).max_drop
        0.02
    """

    windows: int = 3
    time_column: str | None = None
    max_rows_per_window: int = 2500
    max_drop: float | None = None
    """Largest tolerated quality loss (primary metric units) from the freshest to the oldest window; None: reported."""


def staleness_check(
    estimator: Any, frame: pd.DataFrame, *, features: list[str], label: str, task: str, metric: str, config: StalenessCheck,
) -> tuple[CheckResult, dict[str, Any]]:
    """Train clones of ``estimator`` on older windows of ``frame``, score each on the newest window.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame({"x": rng.normal(size=400)})
        >>> f["y"] = f["x"] * np.linspace(1, 3, 400)          # the relation drifts over time
        >>> check, table = staleness_check(LinearRegression(), f, features=["x"], label="y", task="regression",
        ...                                metric="r2", config=StalenessCheck(max_drop=0.01))
        >>> check.passed, [row["age"] for row in table["by_age"]]
        (False, [1, 2])
    """
    from sklearn.base import clone

    from modelway.stages.evaluation import compute_metrics, predict_for_metrics

    ordered = frame.sort_values(config.time_column, kind="stable") if config.time_column else frame.sort_index(kind="stable")
    chunks = np.array_split(np.arange(len(ordered)), config.windows)
    newest = ordered.iloc[chunks[-1]]
    X_new, y_new = newest[features], newest[label].to_numpy()
    rows = []
    for age, idx in enumerate(reversed(chunks[:-1]), start=1):
        window = ordered.iloc[idx[-config.max_rows_per_window:]]
        if task == "classification" and window[label].nunique() < 2:
            continue  # one class only: nothing to learn from this window
        model = clone(estimator).fit(window[features], window[label])
        y_pred, y_score = predict_for_metrics(model, X_new, task)
        value = compute_metrics(task, y_new, y_pred, y_score).get(metric)
        rows.append({"age": age, "train_rows": int(len(window)), metric: None if value is None else round(float(value), 6)})
    scored = [r for r in rows if r[metric] is not None]
    if len(scored) < 2:
        return (CheckResult("staleness.impact", config.max_drop is None, f"too few usable windows ({len(scored)}) to measure staleness",
                            category="staleness"), {"metric": metric, "by_age": rows})
    fresh, stale = scored[0][metric], scored[-1][metric]
    drop = (stale - fresh) if metric in LOWER_IS_BETTER else (fresh - stale)
    ok = config.max_drop is None or drop <= config.max_drop
    order = f"by {config.time_column}" if config.time_column else "by arrival (row order)"
    curve = ", ".join(f"age {r['age']}: {r[metric]:.4f}" for r in scored)
    message = (f"{metric} on the newest window when trained on older windows ({order}, {len(newest)} newest rows): {curve}; "
               f"the oldest window loses {drop:+.4f}" + ("" if config.max_drop is not None else " (reported; set max_drop to gate)"))
    return (CheckResult("staleness.impact", bool(ok), message, observed=round(float(drop), 6), limit=config.max_drop, category="staleness"),
            {"metric": metric, "ordered_by": config.time_column or "row order", "newest_rows": int(len(newest)), "by_age": rows,
             "drop": round(float(drop), 6)})
