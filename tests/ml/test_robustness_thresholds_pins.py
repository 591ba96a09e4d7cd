"""Pins on the robustness gate's limits (``stages/robustness.py``): schema refusal, latency, size, stability.

Fast on purpose (no model is trained): ``make mutate`` runs this file once per mutant. The
models are small fakes whose behaviour is chosen by hand, and latency is measured on a fake
clock that the fake model advances, so every limit is tested exactly at the limit (passes)
and just past it (fails) without timing anything real.
"""
from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from modelway.stages import robustness
from modelway.stages.model_schema import SchemaMismatch
from modelway.stages.robustness import (
    LATENCY_ATTEMPTS,
    RobustnessGate,
    best_of,
    latency_checks,
    robustness_checks,
    schema_checks,
    stability_check,
)


def _by_name(checks):
    return {c.name: c for c in checks}


def test_gate_defaults_are_the_documented_limits():
    g = RobustnessGate()
    assert (g.max_p95_single_ms, g.max_p95_batch_ms, g.batch_size, g.latency_runs) == (50.0, 500.0, 1000, 30)
    assert (g.max_artifact_mb, g.perturbation_scale, g.max_flip_rate, g.max_relative_change, g.seed) == (50.0, 1e-4, 0.01, 0.01, 0)
    assert LATENCY_ATTEMPTS == 3


# --- schema ----------------------------------------------------------------------------------
class _Refuses:
    """Raises ``exc`` for any frame that lacks a column or has strings in column ``x``."""

    def __init__(self, exc=SchemaMismatch):
        self.exc = exc
        self.seen = []

    def predict(self, X):
        self.seen.append(X.copy())
        if list(X.columns) != ["name", "flag", "x", "n"]:
            raise self.exc(f"missing column(s) {sorted({'name', 'flag', 'x', 'n'} - set(X.columns))}")
        if X["x"].dtype == object:
            raise self.exc("column 'x' must be numeric")
        return np.zeros(len(X))


FRAME = pd.DataFrame({"name": [f"r{i}" for i in range(30)], "flag": [True, False] * 15,
                      "x": np.arange(30, dtype=float), "n": np.arange(30)})


def test_a_model_that_refuses_bad_input_with_a_schema_error_passes():
    model = _Refuses()
    missing, wrong = schema_checks(model, FRAME)
    assert (missing.name, missing.passed, missing.category) == ("robustness.schema.missing_column", True, "robustness")
    assert missing.message == "column 'name' removed: refused with a clear error (missing column(s) ['name'])"
    assert (wrong.name, wrong.passed, wrong.category) == ("robustness.schema.wrong_type", True, "robustness")
    # the first numeric column that is not a boolean is the one given as strings
    assert wrong.message == "numeric column 'x' given as strings: refused with a clear error (column 'x' must be numeric)"
    bad = model.seen[1]
    assert len(bad) == 20 and bad["x"].tolist() == [f"{float(v)}" for v in range(20)]
    assert len(model.seen[0]) == 20


def test_a_library_error_instead_of_a_schema_error_fails():
    model = _Refuses(exc=lambda msg: KeyError("k" * 200))
    missing, wrong = schema_checks(model, FRAME)
    assert missing.passed is False and wrong.passed is False
    text = str(KeyError("k" * 200))[:160]
    assert missing.message == f"column 'name' removed: failed with KeyError instead of a schema error: {text}"
    assert missing.category == "robustness"


class _Answers:
    def predict(self, X):
        return np.zeros(len(X))


def test_a_model_that_answers_bad_input_fails_as_a_silent_wrong_answer():
    missing, wrong = schema_checks(_Answers(), FRAME)
    assert missing.passed is False and wrong.passed is False
    assert missing.message == ("column 'name' removed: model returned predictions anyway (a silent wrong answer); "
                               "wrap it in GuardedModel")
    assert wrong.message.startswith("numeric column 'x' given as strings: model returned predictions anyway")
    assert wrong.category == "robustness"


def test_without_a_numeric_column_only_the_missing_column_case_runs():
    frame = pd.DataFrame({"s": ["a", "b"], "b": [True, False]})  # booleans are not numeric here
    (only,) = schema_checks(_Answers(), frame)
    assert only.name == "robustness.schema.missing_column" and only.message.startswith("column 's' removed")


# --- artifact size ---------------------------------------------------------------------------
class _Fixed:
    """A fast model with a fixed answer; robustness_checks' latency is measured on the fake clock."""

    _estimator_type = "classifier"

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


@pytest.fixture
def clock(monkeypatch):
    """A fake ``time.perf_counter`` for the robustness module: ``clock[0]`` seconds, advanced by fake models."""
    now = [0.0]
    monkeypatch.setattr(robustness, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def test_artifact_size_passes_at_the_limit_and_fails_one_byte_over(clock):
    gate = RobustnessGate(latency_runs=6)
    checks = robustness_checks(_Fixed(), FRAME, gate, artifact_bytes=50_000_000)
    assert [c.name for c in checks] == ["robustness.schema.missing_column", "robustness.schema.wrong_type",
                                        "robustness.latency.single_row_p95", "robustness.latency.batch_p95",
                                        "robustness.artifact_size", "robustness.perturbation_stability"]
    size = _by_name(checks)["robustness.artifact_size"]
    assert (size.passed, size.observed, size.limit, size.category) == (True, 50.0, 50.0, "robustness")
    assert size.message == "model artifact is 50.00 MB, limit 50.0 MB"
    over = _by_name(robustness_checks(_Fixed(), FRAME, gate, artifact_bytes=50_000_001))["robustness.artifact_size"]
    assert over.passed is False and over.observed == 50.0
    small = _by_name(robustness_checks(_Fixed(), FRAME, gate, artifact_bytes=1_234_567))["robustness.artifact_size"]
    assert small.observed == 1.2346 and small.message == "model artifact is 1.23 MB, limit 50.0 MB"


# --- latency ---------------------------------------------------------------------------------
class _Timed:
    """Advances the fake clock by ``single`` ms per one-row call and ``batch`` ms per larger call."""

    def __init__(self, clock, single, batch, slow_first=0, slow_ms=0.0):
        self.clock, self.single, self.batch = clock, single, batch
        self.slow_first, self.slow_ms = slow_first, slow_ms  # the first N timed one-row calls take slow_ms
        self.rows, self.batches = [], []

    def predict(self, X):
        if len(X) == 1:
            self.rows.append(X.index[0])
            slow = 0 < len(self.rows) - 1 <= self.slow_first  # the warm-up call is rows[0]
            self.clock[0] += (self.slow_ms if slow else self.single) / 1000
        else:
            self.batches.append(X)
            self.clock[0] += self.batch / 1000
        return np.zeros(len(X))


def test_latency_passes_exactly_at_both_limits(clock):
    # 62.5 ms and 500 ms are exact binary fractions of a second: the fake clock reads them exactly
    model = _Timed(clock, single=62.5, batch=500.0)
    single, batch = latency_checks(model, FRAME, RobustnessGate(max_p95_single_ms=62.5, latency_runs=12, batch_size=20))
    assert (single.name, single.passed, single.observed, single.limit, single.category) == (
        "robustness.latency.single_row_p95", True, 62.5, 62.5, "robustness")
    assert single.message == "p95 single-row predict latency 62.50 ms, limit 62.5 ms (12 calls)"
    assert (batch.name, batch.passed, batch.observed, batch.limit) == ("robustness.latency.batch_p95", True, 500.0, 500.0)
    assert batch.message == "p95 batch predict latency 500.00 ms for 20 rows, limit 500.0 ms"
    # one warm-up call on the first row, then latency_runs timed rows; max(3, runs // 6) batches
    assert len(model.rows) == 1 + 12 and model.rows[0] == 0
    assert len(model.batches) == 3
    assert all(len(b) == 20 and b.index.is_unique for b in model.batches)  # no replacement when X is large enough


def test_latency_fails_past_each_limit_after_every_retry(clock):
    model = _Timed(clock, single=50.5, batch=500.5)
    single, batch = latency_checks(model, FRAME, RobustnessGate(latency_runs=6, batch_size=20))
    assert single.passed is False and batch.passed is False
    assert single.message == "p95 single-row predict latency 50.50 ms, limit 50.0 ms (6 calls, best of 3 measurements)"
    assert batch.message == "p95 batch predict latency 500.50 ms for 20 rows, limit 500.0 ms (best of 3 measurements)"
    assert len(model.rows) == 1 + 3 * 6 and len(model.batches) == 3 * 3


def test_a_one_off_slow_measurement_is_measured_again(clock):
    model = _Timed(clock, single=10.0, batch=100.0, slow_first=6, slow_ms=90.0)
    single, _ = latency_checks(model, FRAME, RobustnessGate(latency_runs=6, batch_size=20))
    assert (single.passed, single.observed) == (True, 10.0)
    assert single.message == "p95 single-row predict latency 10.00 ms, limit 50.0 ms (6 calls, best of 2 measurements)"


def test_batch_count_and_sampling_follow_the_gate(clock):
    model = _Timed(clock, single=1.0, batch=1.0)
    _, batch = latency_checks(model, FRAME, RobustnessGate(latency_runs=24, batch_size=1000))
    assert len(model.batches) == 4  # 24 // 6
    assert batch.message == "p95 batch predict latency 1.00 ms for 30 rows, limit 500.0 ms"  # capped at len(X)
    assert not model.batches[0].index.is_unique  # drawn with replacement when X is smaller than a batch
    exact = _Timed(clock, single=1.0, batch=1.0)
    latency_checks(exact, FRAME, RobustnessGate(latency_runs=6, batch_size=30))
    assert exact.batches[0].index.is_unique  # exactly a batch: every row once


class _Varied:
    """One-row calls take 1, 2, ... ms in turn (the warm-up 0 ms); batches take ``batches`` ms in turn, cycling."""

    def __init__(self, clock, batches):
        self.clock, self.batches, self.singles, self.n_batches = clock, batches, 0, 0

    def predict(self, X):
        if len(X) == 1:
            self.clock[0] += self.singles / 1000
            self.singles += 1
        else:
            self.clock[0] += self.batches[self.n_batches % len(self.batches)] / 1000
            self.n_batches += 1
        return np.zeros(len(X))


def test_latency_is_the_95th_percentile_of_the_calls(clock):
    # single rows 1..20 ms: the 95th percentile interpolates to 19.05; batches 100, 200, 300: 290
    single, batch = latency_checks(_Varied(clock, [100.0, 200.0, 300.0]), FRAME, RobustnessGate(latency_runs=20, batch_size=20))
    assert single.observed == pytest.approx(19.05, abs=1e-6) and batch.observed == pytest.approx(290.0, abs=1e-6)
    assert single.message == "p95 single-row predict latency 19.05 ms, limit 50.0 ms (20 calls)"


def test_a_slow_first_batch_measurement_is_measured_again(clock):
    # three batches of 600 ms, then 100 ms each: the second measurement passes
    model = _Varied(clock, [600.0, 600.0, 600.0, 100.0, 100.0, 100.0])
    _, batch = latency_checks(model, FRAME, RobustnessGate(latency_runs=6, batch_size=20))
    assert (batch.passed, batch.observed) == (True, pytest.approx(100.0, abs=1e-6))
    assert batch.message == "p95 batch predict latency 100.00 ms for 20 rows, limit 500.0 ms (best of 2 measurements)"


def test_single_rows_are_drawn_from_the_whole_frame(clock):
    model = _Timed(clock, single=1.0, batch=1.0)
    latency_checks(model, FRAME.head(2), RobustnessGate(latency_runs=30))
    assert sorted(set(model.rows[1:])) == [0, 1]  # the first row as well as the last


def test_best_of_measures_again_only_while_over_the_limit():
    assert best_of(iter([100.0, 1.0]).__next__, limit=100) == (100.0, 1)  # at the limit: no retry
    assert best_of(iter([120.0, 110.0, 130.0, 1.0]).__next__, limit=100) == (110.0, 3)  # never more than 3
    assert best_of(iter([120.0, 130.0, 1.0]).__next__, limit=100, attempts=2) == (120.0, 2)
    assert best_of(iter([101.0, 99.0, 1.0]).__next__, limit=100) == (99.0, 2)


# --- stability -------------------------------------------------------------------------------
def _flagged(n_flagged: int, rows: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(rows, dtype=float), "flag": [i < n_flagged for i in range(rows)],
                         "t": [0, 2] * (rows // 2)})


class _FlipsWhenMoved:
    """Class 1 on flagged rows whose ``x`` moved off its whole number (the perturbation), else 0."""

    def __init__(self, out_dtype=int, estimator_type=None):
        self.out_dtype = out_dtype
        if estimator_type:
            self._estimator_type = estimator_type
        self.frames = []

    def predict(self, X):
        self.frames.append(X)
        moved = (X["x"] != X["x"].round()).to_numpy() & X["flag"].to_numpy(bool)
        return np.where(moved, 1, 0).astype(self.out_dtype)


def test_flip_rate_passes_at_the_limit_and_fails_just_over():
    at = stability_check(_FlipsWhenMoved(), _flagged(1), RobustnessGate())
    assert (at.name, at.passed, at.observed, at.limit, at.category) == ("robustness.perturbation_stability", True, 0.01, 0.01, "robustness")
    assert at.message == "1.00% of predictions flip under a 0.0001-std perturbation, limit 1.00%"
    over = stability_check(_FlipsWhenMoved(), _flagged(2), RobustnessGate())
    assert over.passed is False and over.observed == 0.02
    assert over.message == "2.00% of predictions flip under a 0.0001-std perturbation, limit 1.00%"


@pytest.mark.parametrize(("out_dtype", "estimator_type"), [(int, None), (bool, None), (np.uint8, None), (object, None),
                                                           (float, "classifier")])
def test_class_predictions_are_judged_by_flip_rate(out_dtype, estimator_type):
    check = stability_check(_FlipsWhenMoved(out_dtype, estimator_type), _flagged(3), RobustnessGate())
    assert check.observed == 0.03 and "of predictions flip" in check.message


def test_integer_and_boolean_columns_are_not_perturbed():
    model = _FlipsWhenMoved()
    stability_check(model, _flagged(0), RobustnessGate())
    base, noisy = model.frames
    assert noisy["t"].tolist() == base["t"].tolist() and noisy["t"].dtype == base["t"].dtype
    assert noisy["flag"].dtype == bool and noisy["flag"].tolist() == base["flag"].tolist()
    assert (noisy["x"] != base["x"]).all()  # the float column did move
    assert len(base) == 100 and sorted(base.index) == list(range(100))


def test_perturbation_is_scaled_by_the_column_spread_or_one_when_constant():
    model = _FlipsWhenMoved()
    frame = _flagged(0, rows=1000).assign(c=5.0, x=lambda d: d["x"] * 10)  # std of x ~ 2887, c constant
    stability_check(model, frame, RobustnessGate(perturbation_scale=0.5))
    base, noisy = model.frames
    assert 0.45 < float((noisy["c"] - base["c"]).std()) < 0.55
    assert abs(float((noisy["c"] - base["c"]).mean())) < 0.05  # centred: a nudge either way, not a shift
    assert 0.45 < float((noisy["x"] - base["x"]).std()) / float(base["x"].std()) < 0.55


def test_sample_is_capped_at_two_thousand_rows():
    model = _FlipsWhenMoved()
    stability_check(model, _flagged(0, rows=2400), RobustnessGate())
    assert len(model.frames[0]) == 2000


class _MovesWhenMoved:
    """Regression output ``t`` plus ``shift`` on flagged rows whose ``x`` moved."""

    def __init__(self, shift):
        self.shift = shift

    def predict(self, X):
        moved = (X["x"] != X["x"].round()).to_numpy() & X["flag"].to_numpy(bool)
        return X["t"].to_numpy(float) + np.where(moved, self.shift, 0.0)


def test_regression_change_passes_at_the_limit_and_fails_just_over():
    # predictions t alternate 0 and 2: spread (std) exactly 1.0
    at = stability_check(_MovesWhenMoved(0.01), _flagged(1), RobustnessGate())
    assert (at.passed, at.observed, at.limit, at.category) == (True, 0.01, 0.01, "robustness")
    assert at.message == ("predictions move by at most 1.00% of their spread under a 0.0001-std perturbation, "
                          "limit 1.00%")
    over = stability_check(_MovesWhenMoved(0.0125), _flagged(1), RobustnessGate())
    assert over.passed is False and over.observed == 0.0125
    assert over.message.startswith("predictions move by at most 1.25% of their spread")


def test_regression_change_of_a_constant_model_is_measured_against_one():
    frame = _flagged(1).assign(t=3)
    check = stability_check(_MovesWhenMoved(0.5), frame, RobustnessGate(max_relative_change=0.6))
    assert (check.passed, check.observed) == (True, 0.5)


def test_robustness_gate_cannot_be_loosened_after_it_is_built():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        RobustnessGate().max_flip_rate = 1.0


def test_latency_figures_are_rounded_to_four_places(clock):
    single, batch = latency_checks(_Timed(clock, single=1 / 3, batch=1000 / 3), FRAME, RobustnessGate(latency_runs=6, batch_size=20))
    assert (single.observed, batch.observed) == (0.3333, 333.3333)
    assert (single.category, batch.category) == ("robustness", "robustness")


def test_flip_rate_is_rounded_to_six_places():
    check = stability_check(_FlipsWhenMoved(), _flagged(2, rows=6), RobustnessGate(max_flip_rate=0.5))
    assert (check.passed, check.observed) == (True, 0.333333)
    assert check.message == "33.33% of predictions flip under a 0.0001-std perturbation, limit 50.00%"


def test_regression_change_is_relative_to_the_spread_of_predictions():
    # predictions t alternate 0 and 4: spread 2.0, so a move of 0.02 is 1% of it
    frame = _flagged(1).assign(t=[0, 4] * 50)
    at = stability_check(_MovesWhenMoved(0.02), frame, RobustnessGate())
    assert (at.name, at.passed, at.observed, at.category) == ("robustness.perturbation_stability", True, 0.01, "robustness")
    assert stability_check(_MovesWhenMoved(0.03), frame, RobustnessGate()).passed is False
    third = stability_check(_MovesWhenMoved(1 / 3), _flagged(1), RobustnessGate())
    assert (third.passed, third.observed) == (False, 0.333333)
