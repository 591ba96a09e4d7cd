"""Robustness and integration checks: schema enforcement, latency, artifact size, stability.

* **Schema**: a frame with a required column removed, and one with a numeric column
  turned into strings, must be refused with :class:`~modelway.stages.model_schema.SchemaMismatch`
  (a clear error), not answered silently or with an unrelated library error.
* **Latency**: p95 of single-row predictions and of batch predictions under limits.
* **Artifact size**: the serialized model under a limit (a deployable container has one).
* **Stability**: tiny numeric perturbations (``perturbation_scale`` x the column's std)
  change at most ``max_flip_rate`` of class predictions (classification) or move
  predictions by at most ``max_relative_change`` of the target's spread (regression).

Example:
    >>> import pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> from modelway.stages.model_schema import GuardedModel, ModelSchema
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    >>> m = GuardedModel(LinearRegression().fit(X, [0, 1, 2, 3]), ModelSchema.infer(X, task="regression"))
    >>> all(c.passed for c in robustness_checks(m, X, RobustnessGate(latency_runs=5), artifact_bytes=1000))
    True
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult
from modelway.stages.model_schema import SchemaMismatch


@dataclass(frozen=True)
class RobustnessGate:
    """Limits for the robustness checks.

    Example:
        >>> RobustnessGate().max_p95_single_ms
        50.0
    """

    max_p95_single_ms: float = 50.0
    max_p95_batch_ms: float = 500.0
    batch_size: int = 1000
    latency_runs: int = 30
    max_artifact_mb: float = 50.0
    perturbation_scale: float = 1e-4
    max_flip_rate: float = 0.01
    max_relative_change: float = 0.01
    seed: int = 0


def robustness_checks(model: Any, X: pd.DataFrame, gate: RobustnessGate, *, artifact_bytes: int) -> list[CheckResult]:
    """Run every robustness check of ``model`` on sample inputs ``X``."""
    checks = schema_checks(model, X)
    checks += latency_checks(model, X, gate)
    mb = artifact_bytes / 1e6
    checks.append(
        CheckResult(
            "robustness.artifact_size", mb <= gate.max_artifact_mb,
            f"model artifact is {mb:.2f} MB, limit {gate.max_artifact_mb} MB", observed=round(mb, 4),
            limit=gate.max_artifact_mb, category="robustness",
        )
    )
    checks.append(stability_check(model, X, gate))
    return checks


def schema_checks(model: Any, X: pd.DataFrame) -> list[CheckResult]:
    """The model must refuse a missing column and a wrongly typed column with a clear error."""
    sample = X.head(20).copy()
    numeric = [c for c in sample.columns if pd.api.types.is_numeric_dtype(sample[c]) and not pd.api.types.is_bool_dtype(sample[c])]
    cases = [("robustness.schema.missing_column", f"column {sample.columns[0]!r} removed", sample.drop(columns=[sample.columns[0]]))]
    if numeric:
        broken = sample.copy()
        broken[numeric[0]] = broken[numeric[0]].map(lambda v: f"{v}").astype(object)
        cases.append(("robustness.schema.wrong_type", f"numeric column {numeric[0]!r} given as strings", broken))
    checks = []
    for name, what, bad in cases:
        try:
            model.predict(bad)
        except SchemaMismatch as exc:
            checks.append(CheckResult(name, True, f"{what}: refused with a clear error ({exc})", category="robustness"))
            continue
        except Exception as exc:  # some library error: not silent, but not a clear schema error either
            checks.append(
                CheckResult(name, False, f"{what}: failed with {type(exc).__name__} instead of a schema error: {str(exc)[:160]}", category="robustness")
            )
            continue
        checks.append(
            CheckResult(name, False, f"{what}: model returned predictions anyway (a silent wrong answer); wrap it in GuardedModel", category="robustness")
        )
    return checks


LATENCY_ATTEMPTS = 3  # a breach must reproduce: a busy machine slows one measurement, a slow model all


def latency_checks(model: Any, X: pd.DataFrame, gate: RobustnessGate) -> list[CheckResult]:
    """p95 latency of single-row and batch ``predict`` calls (after one warm-up call).

    A p95 over its limit is measured again, up to ``LATENCY_ATTEMPTS`` times, and the best
    measurement is judged: the gate is about the model, and another process taking the CPU
    for a moment is not the model's latency. A model that is really too slow breaches on
    every attempt.
    """
    rng = np.random.default_rng(gate.seed)
    rows = rng.integers(0, len(X), size=gate.latency_runs)
    batch_frame = X.sample(n=min(gate.batch_size, len(X)), random_state=gate.seed, replace=len(X) < gate.batch_size)
    model.predict(X.iloc[[0]])  # warm-up: lazy imports and caches are not latency

    def single_row_p95() -> float:
        times = []
        for i in rows:
            row = X.iloc[[int(i)]]
            t0 = time.perf_counter()
            model.predict(row)
            times.append((time.perf_counter() - t0) * 1000)
        return float(np.percentile(times, 95))

    def batch_p95() -> float:
        times = []
        for _ in range(max(3, gate.latency_runs // 6)):
            t0 = time.perf_counter()
            model.predict(batch_frame)
            times.append((time.perf_counter() - t0) * 1000)
        return float(np.percentile(times, 95))

    p95_single, single_attempts = best_of(single_row_p95, gate.max_p95_single_ms)
    p95_batch, batch_attempts = best_of(batch_p95, gate.max_p95_batch_ms)
    single_note = f", best of {single_attempts} measurements" if single_attempts > 1 else ""
    batch_note = f" (best of {batch_attempts} measurements)" if batch_attempts > 1 else ""
    return [
        CheckResult(
            "robustness.latency.single_row_p95", p95_single <= gate.max_p95_single_ms,
            f"p95 single-row predict latency {p95_single:.2f} ms, limit {gate.max_p95_single_ms} ms ({len(rows)} calls"
            f"{single_note})",
            observed=round(p95_single, 4), limit=gate.max_p95_single_ms, category="robustness",
        ),
        CheckResult(
            "robustness.latency.batch_p95", p95_batch <= gate.max_p95_batch_ms,
            f"p95 batch predict latency {p95_batch:.2f} ms for {len(batch_frame)} rows, limit {gate.max_p95_batch_ms} ms"
            f"{batch_note}",
            observed=round(p95_batch, 4), limit=gate.max_p95_batch_ms, category="robustness",
        ),
    ]


def best_of(measure: Callable[[], float], limit: float, attempts: int = LATENCY_ATTEMPTS) -> tuple[float, int]:
    """(best value, measurements taken): ``measure`` again, up to ``attempts`` times, while the best is over ``limit``.

    Example:
        >>> readings = iter([120.0, 80.0, 500.0])
        >>> best_of(lambda: next(readings), limit=100)
        (80.0, 2)
    """
    best, taken = measure(), 1
    while best > limit and taken < attempts:
        best, taken = min(best, measure()), taken + 1
    return best, taken


def stability_check(model: Any, X: pd.DataFrame, gate: RobustnessGate) -> CheckResult:
    """Predictions barely move when numeric inputs move by a hair."""
    rng = np.random.default_rng(gate.seed)
    sample = X.sample(n=min(2000, len(X)), random_state=gate.seed)
    noisy = sample.copy()
    for column in sample.columns:
        col = sample[column]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            std = float(col.std()) or 1.0
            noise = rng.normal(0.0, gate.perturbation_scale * std, size=len(col))
            if pd.api.types.is_integer_dtype(col):
                continue  # integers (counts, ages) cannot move by a hair
            noisy[column] = col + noise
    base = np.asarray(model.predict(sample))
    moved = np.asarray(model.predict(noisy))
    if getattr(model, "_estimator_type", None) == "classifier" or base.dtype.kind in "iub" or base.dtype == object:
        rate = float(np.mean(base != moved))
        return CheckResult(
            "robustness.perturbation_stability", rate <= gate.max_flip_rate,
            f"{rate:.2%} of predictions flip under a {gate.perturbation_scale:g}-std perturbation, limit {gate.max_flip_rate:.2%}",
            observed=round(rate, 6), limit=gate.max_flip_rate, category="robustness",
        )
    spread = float(np.std(base)) or 1.0
    change = float(np.max(np.abs(base - moved)) / spread)
    return CheckResult(
        "robustness.perturbation_stability", change <= gate.max_relative_change,
        f"predictions move by at most {change:.2%} of their spread under a {gate.perturbation_scale:g}-std perturbation, limit {gate.max_relative_change:.2%}",
        observed=round(change, 6), limit=gate.max_relative_change, category="robustness",
    )
