"""Feature tests of the ML Test Score: every feature is beneficial (D2), no feature costs too much (D3).

* :func:`importance_check` — permutation importance on held-out data (scikit-learn's
  ``permutation_importance``, scored with the pipeline's primary metric). A feature whose
  mean importance is not above ``min_importance`` *and* above twice its spread over the
  repeats shows no measurable benefit. Advisory by default (reported as a warning);
  ``gate=True`` makes it stop the run.
* :func:`cost_check` — what each feature costs at prediction time: input memory per row
  (bytes, deep) and the batch-predict time it accounts for (median batch latency with the
  feature as is, minus with the feature held at one constant value, so the model's work on
  that feature's variation is removed). The costliest are reported; limits are optional.

Example:
    >>> FeatureChecks().importance_gate
    False
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult


@dataclass(frozen=True)
class FeatureChecks:
    """Settings of the feature tests (D2, D3).

    Example:
        >>> FeatureChecks(importance_gate=True).importance_repeats
        3
    """

    importance_repeats: int = 3
    min_importance: float = 0.0
    """A feature must improve the primary metric by more than this (and by more than 2 std)."""
    importance_gate: bool = False
    """False: features without measurable benefit are reported (advisory); True: they fail the run."""
    max_rows: int = 1000
    """Held-out rows sampled for permutation importance (all of them when fewer)."""
    cost_rows: int = 500
    cost_runs: int = 3
    max_bytes_per_row: float | None = None
    max_latency_share: float | None = None
    """Largest share of batch-predict time one feature may account for (None: reported only)."""
    seed: int = 0


def importance_check(model: Any, X: pd.DataFrame, y: np.ndarray, *, scoring: str, config: FeatureChecks) -> tuple[CheckResult, dict[str, Any]]:
    """D2: permutation importance of each feature on held-out rows; returns the check and the table.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
        >>> y = 3 * X["signal"].to_numpy()
        >>> check, table = importance_check(LinearRegression().fit(X, y), X, y, scoring="r2", config=FeatureChecks())
        >>> check.passed, check.observed
        (False, ['noise'])
    """
    from sklearn.inspection import permutation_importance

    X, y = _sample(X, y, config)
    result = permutation_importance(model, X, y, scoring=scoring, n_repeats=config.importance_repeats,
                                    random_state=config.seed)
    table = {
        column: {"mean": round(float(mean), 6), "std": round(float(std), 6)}
        for column, mean, std in zip(X.columns, result.importances_mean, result.importances_std)
    }
    useless = [c for c, v in table.items() if not (v["mean"] > config.min_importance and v["mean"] > 2 * v["std"])]
    ranked = sorted(table, key=lambda c: -table[c]["mean"])
    top = ", ".join(f"{c} {table[c]['mean']:+.4f}" for c in ranked[:3])
    message = (f"all {len(table)} features improve held-out {scoring} (permutation importance, {config.importance_repeats} repeats; "
               f"top: {top})" if not useless else
               f"{len(useless)} of {len(table)} features show no measurable benefit on held-out {scoring} "
               f"(importance <= {config.min_importance} or within 2 std of 0): "
               + ", ".join(f"{c} {table[c]['mean']:+.4f}±{table[c]['std']:.4f}" for c in useless)
               + ("" if config.importance_gate else "; advisory: drop them or set importance_gate=True to gate"))
    check = CheckResult("features.importance", not useless, message, observed=useless, limit=f"> {config.min_importance} {scoring}",
                        category="features", advisory=not config.importance_gate)
    return check, {"scoring": scoring, "features": table}


def cost_check(model: Any, X: pd.DataFrame, config: FeatureChecks) -> tuple[CheckResult, dict[str, Any]]:
    """D3: input memory per row and the share of batch-predict time each feature accounts for.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> X = pd.DataFrame({"a": np.arange(50.0), "b": np.ones(50)})
        >>> check, table = cost_check(LinearRegression().fit(X, X["a"]), X, FeatureChecks(cost_runs=3))
        >>> check.passed, sorted(table["features"])
        (True, ['a', 'b'])
    """
    X, _ = _sample(X, None, config, config.cost_rows)
    model.predict(X.head(1))  # warm-up once: lazy imports and caches are no feature's cost
    baseline = _median_predict_ms(model, X, config.cost_runs)
    table: dict[str, dict[str, float]] = {}
    for column in X.columns:
        constant = X.copy()
        constant[column] = X[column].mode(dropna=True).iloc[0] if X[column].notna().any() else X[column]
        constant[column] = constant[column].astype(X[column].dtype)
        saved = max(0.0, baseline - _median_predict_ms(model, constant, config.cost_runs))
        table[column] = {
            "bytes_per_row": round(float(X[column].memory_usage(deep=True, index=False)) / max(len(X), 1), 2),
            "latency_ms": round(saved, 4),
            "latency_share": round(saved / baseline, 4) if baseline > 0 else 0.0,
        }
    by_latency = sorted(table, key=lambda c: -table[c]["latency_share"])
    by_memory = sorted(table, key=lambda c: -table[c]["bytes_per_row"])
    over = [c for c in table if (config.max_bytes_per_row is not None and table[c]["bytes_per_row"] > config.max_bytes_per_row)
            or (config.max_latency_share is not None and table[c]["latency_share"] > config.max_latency_share)]
    costliest = (f"costliest at prediction time: {by_latency[0]} ({table[by_latency[0]]['latency_share']:.0%} of "
                 f"{baseline:.1f} ms per {len(X)}-row batch), in memory: {by_memory[0]} ({table[by_memory[0]]['bytes_per_row']:.0f} B/row)")
    limits = {k: v for k, v in (("bytes_per_row", config.max_bytes_per_row), ("latency_share", config.max_latency_share)) if v is not None}
    message = (f"{len(over)} feature(s) over the cost limits {limits}: {', '.join(over)}; {costliest}" if over
               else f"{costliest}" + ("" if limits else " (no cost limits configured: reported only)"))
    check = CheckResult("features.cost", not over, message, observed=by_latency[0] if not over else over, limit=limits or None,
                        category="features")
    return check, {"batch_rows": int(len(X)), "batch_ms": round(baseline, 4), "features": table}


def _sample(X: pd.DataFrame, y: np.ndarray | None, config: FeatureChecks, rows: int | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    rows = rows or config.max_rows
    if len(X) <= rows:
        return X, y
    idx = np.random.default_rng(config.seed).choice(len(X), size=rows, replace=False)
    return X.iloc[idx], (None if y is None else np.asarray(y)[idx])


def _median_predict_ms(model: Any, X: pd.DataFrame, runs: int) -> float:
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        model.predict(X)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))
