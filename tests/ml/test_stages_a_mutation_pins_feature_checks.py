"""Mutation pins for ``modelway.stages.feature_checks``: the D2 importance message and verdict on
both sides of ``min_importance``, the row sampling, and the D3 cost table and limits (timings vary
from run to run, so the pins use limits every timing satisfies or breaks, and exact memory sizes)."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import modelway.stages.feature_checks as feature_checks
from modelway.stages.feature_checks import FeatureChecks, cost_check, importance_check


def test_docstring_examples_hold():
    result = doctest.testmod(feature_checks, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults():
    assert dataclasses.asdict(FeatureChecks()) == {
        "importance_repeats": 3, "min_importance": 0.0, "importance_gate": False, "max_rows": 1000, "cost_rows": 500, "cost_runs": 3,
        "max_bytes_per_row": None, "max_latency_share": None, "seed": 0}


@pytest.fixture(scope="module")
def graded():
    """Four features of decreasing weight and one the target does not use (its coefficient is exactly 0)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({name: rng.normal(size=200) for name in ["a", "b", "c", "d", "n"]})
    y = (4 * X["a"] + 3 * X["b"] + 2 * X["c"] + 1 * X["d"]).to_numpy()
    return LinearRegression().fit(X, y), X, y


def _fmt(table, c):
    return f"{c} {table[c]['mean']:+.4f}"


def test_a_useless_feature_is_advisory_by_default(graded):
    model, X, y = graded
    check, table = importance_check(model, X, y, scoring="r2", config=FeatureChecks())
    features = table["features"]
    assert table["scoring"] == "r2" and list(features) == ["a", "b", "c", "d", "n"]
    assert features["n"] == {"mean": 0.0, "std": 0.0}
    assert features["a"] == {"mean": 0.990253, "std": 0.067329}           # rounded to six places
    assert [features[c]["mean"] for c in "abcd"] == sorted((features[c]["mean"] for c in "abcd"), reverse=True)
    assert all(features[c]["mean"] > 2 * features[c]["std"] > 0 for c in "abcd")
    assert (check.name, check.passed, check.observed, check.limit, check.category, check.advisory) == (
        "features.importance", False, ["n"], "> 0.0 r2", "features", True)
    assert check.message == ("1 of 5 features show no measurable benefit on held-out r2 (importance <= 0.0 or within 2 std of 0): "
                             "n +0.0000±0.0000; advisory: drop them or set importance_gate=True to gate")
    gated, again = importance_check(model, X, y, scoring="r2", config=FeatureChecks(importance_gate=True))
    assert again == table and not gated.advisory and not gated.passed
    assert gated.message == ("1 of 5 features show no measurable benefit on held-out r2 (importance <= 0.0 or within 2 std of 0): "
                             "n +0.0000±0.0000")


def test_useful_features_name_the_top_three(graded):
    model, X, y = graded
    useful = X[["a", "b", "c", "d"]]
    model = LinearRegression().fit(useful, y)
    check, table = importance_check(model, useful, y, scoring="r2", config=FeatureChecks(importance_repeats=2))
    f = table["features"]
    assert check.passed and check.observed == [] and check.advisory
    assert check.message == (f"all 4 features improve held-out r2 (permutation importance, 2 repeats; top: "
                             f"{_fmt(f, 'a')}, {_fmt(f, 'b')}, {_fmt(f, 'c')})")


def test_a_mean_equal_to_min_importance_shows_no_benefit(graded):
    model, X, y = graded
    _, table = importance_check(model, X, y, scoring="r2", config=FeatureChecks())
    d = table["features"]["d"]
    at = importance_check(model, X, y, scoring="r2", config=FeatureChecks(min_importance=d["mean"]))[0]
    assert at.observed == ["d", "n"] and at.limit == f"> {d['mean']} r2"
    assert at.message.startswith(f"2 of 5 features show no measurable benefit on held-out r2 (importance <= {d['mean']} or within 2 std of 0): "
                                 f"d {d['mean']:+.4f}±{d['std']:.4f}, n +0.0000±0.0000; advisory")
    below = importance_check(model, X, y, scoring="r2", config=FeatureChecks(min_importance=d["mean"] - 1e-6))[0]
    assert below.observed == ["n"]


def test_importance_samples_rows_beyond_max_rows(graded):
    model, X, y = graded
    full = importance_check(model, X, y, scoring="r2", config=FeatureChecks())[1]
    assert importance_check(model, X, y, scoring="r2", config=FeatureChecks(max_rows=200))[1] == full
    fewer = importance_check(model, X, y, scoring="r2", config=FeatureChecks(max_rows=199))[1]
    assert fewer != full and fewer == importance_check(model, X, y, scoring="r2", config=FeatureChecks(max_rows=199))[1]
    other = importance_check(model, X, y, scoring="r2", config=FeatureChecks(max_rows=199, seed=1))[1]
    assert other != fewer
    sampled, y_sampled = feature_checks._sample(X, y, FeatureChecks(max_rows=50))
    assert len(sampled) == 50 and sampled.index.is_unique
    assert np.allclose(y_sampled, (4 * sampled["a"] + 3 * sampled["b"] + 2 * sampled["c"] + sampled["d"]).to_numpy())
    assert feature_checks._sample(X, None, FeatureChecks(), 10)[1] is None


# --- D3 cost ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def costly():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=40), "small": np.arange(40, dtype="int8"), "empty": np.full(40, np.nan)})

    class Model:  # uses x only; carries the others along
        def predict(self, X):
            return X["x"].to_numpy() * 2

    return Model(), X


def test_the_cost_table_and_an_unlimited_report(costly):
    model, X = costly
    check, table = cost_check(model, X, FeatureChecks(cost_runs=1))
    assert table["batch_rows"] == 40 and table["batch_ms"] > 0 and list(table["features"]) == ["x", "small", "empty"]
    f = table["features"]
    assert [f[c]["bytes_per_row"] for c in ["x", "small", "empty"]] == [8.0, 1.0, 8.0]
    assert all(set(v) == {"bytes_per_row", "latency_ms", "latency_share"} and 0 <= v["latency_share"] <= 1 and v["latency_ms"] >= 0
               for v in f.values())
    slowest = max(f, key=lambda c: f[c]["latency_share"])
    assert (check.name, check.passed, check.limit, check.category, check.advisory) == ("features.cost", True, None, "features", False)
    assert check.observed == slowest
    assert check.message.startswith(f"costliest at prediction time: {slowest} ({f[slowest]['latency_share']:.0%} of ")
    assert check.message.endswith(" ms per 40-row batch), in memory: x (8 B/row) (no cost limits configured: reported only)")


def test_a_memory_limit_is_exceeded_only_above_it(costly):
    model, X = costly
    at = cost_check(model, X, FeatureChecks(cost_runs=1, max_bytes_per_row=8.0))[0]
    assert at.passed and at.limit == {"bytes_per_row": 8.0} and "no cost limits" not in at.message
    assert at.message.startswith("costliest at prediction time: ")
    over, table = cost_check(model, X, FeatureChecks(cost_runs=1, max_bytes_per_row=7.99))
    assert not over.passed and over.observed == ["x", "empty"] and over.limit == {"bytes_per_row": 7.99}
    assert over.message.startswith("2 feature(s) over the cost limits {'bytes_per_row': 7.99}: x, empty; costliest at prediction time: ")


def test_a_latency_limit_every_timing_breaks_or_meets(costly):
    model, X = costly
    none_over = cost_check(model, X, FeatureChecks(cost_runs=0, max_latency_share=1.0))[0]
    assert none_over.passed and none_over.limit == {"latency_share": 1.0}
    all_over = cost_check(model, X, FeatureChecks(cost_runs=1, max_latency_share=-0.01, max_bytes_per_row=1.0))[0]
    assert not all_over.passed and all_over.observed == ["x", "small", "empty"]
    assert all_over.message.startswith("3 feature(s) over the cost limits {'bytes_per_row': 1.0, 'latency_share': -0.01}: x, small, empty; ")


def test_cost_rows_bound_the_batch(costly):
    model, X = costly
    assert cost_check(model, X, FeatureChecks(cost_runs=1, cost_rows=40))[1]["batch_rows"] == 40
    assert cost_check(model, X, FeatureChecks(cost_runs=1, cost_rows=39))[1]["batch_rows"] == 39
    assert "per 39-row batch" in cost_check(model, X, FeatureChecks(cost_runs=1, cost_rows=39))[0].message


def test_each_feature_is_held_at_its_most_common_value():
    seen = []

    class Recorder:
        def predict(self, X):
            seen.append(X.copy())
            return np.zeros(len(X))

    X = pd.DataFrame({"a": [1.0, 2.0, 2.0, 3.0], "k": pd.Categorical(["u", "v", "v", "w"]), "z": [np.nan] * 4})
    cost_check(Recorder(), X, FeatureChecks(cost_runs=2))
    assert len(seen) == 1 + 2 + 3 * 2                                   # warm-up, baseline, 2 runs per feature
    assert len(seen[0]) == 1 and seen[1].equals(X) and seen[2].equals(X)
    held_a, held_k, held_z = seen[3], seen[5], seen[7]
    assert held_a["a"].tolist() == [2.0] * 4 and held_a["k"].tolist() == ["u", "v", "v", "w"]
    assert held_k["k"].tolist() == ["v"] * 4 and held_k["k"].dtype == X["k"].dtype and held_k["a"].tolist() == [1.0, 2.0, 2.0, 3.0]
    assert held_z["z"].isna().all() and held_z["a"].tolist() == [1.0, 2.0, 2.0, 3.0]
    assert seen[4].equals(held_a) and seen[6].equals(held_k)


class _Clock:
    """A stand-in for the ``time`` module: it advances only when the model below says so."""

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


def test_latency_shares_on_a_deterministic_clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(feature_checks, "time", clock)

    class DistinctCost:  # 1 ms plus 1 ms per distinct value of "a"; 5 ms more when "b" is constant (a saving below 0 counts as 0)
        calls = 0

        def predict(self, X):
            self.calls += 1
            clock.now += 0.001 * (1 + X["a"].nunique() + 5 * (X["b"].nunique() == 1))
            return np.zeros(len(X))

    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0), "s": ["x" * 30] * 20 + ["y"] * 20})
    model = DistinctCost()
    check, table = cost_check(model, X, FeatureChecks(cost_runs=0, max_latency_share=0.95))
    assert model.calls == 1 + 1 + 3                                        # warm-up, then one run each (at least one)
    assert table["batch_ms"] == pytest.approx(41.0)
    assert table["features"]["a"]["latency_ms"] == pytest.approx(39.0) and table["features"]["a"]["latency_share"] == 0.9512
    assert table["features"]["b"]["latency_ms"] == 0.0 and table["features"]["b"]["latency_share"] == 0.0
    s_bytes = X["s"].memory_usage(deep=True, index=False) / 40
    assert table["features"]["s"] == {"bytes_per_row": round(s_bytes, 2), "latency_ms": 0.0, "latency_share": 0.0}
    assert not check.passed and check.observed == ["a"]
    assert check.message == ("1 feature(s) over the cost limits {'latency_share': 0.95}: a; costliest at prediction time: a (95% of "
                             f"41.0 ms per 40-row batch), in memory: s ({round(s_bytes, 2):.0f} B/row)")
    at, _ = cost_check(model, X, FeatureChecks(cost_runs=3, max_latency_share=0.9512))
    assert at.passed and at.observed == "a"


def test_a_zero_baseline_has_zero_shares(monkeypatch):
    monkeypatch.setattr(feature_checks, "time", _Clock())

    class Free:
        def predict(self, X):
            return np.zeros(len(X))

    _, table = cost_check(Free(), pd.DataFrame({"a": [1.0, 2.0]}), FeatureChecks())
    assert table["batch_ms"] == 0.0 and table["features"]["a"] == {"bytes_per_row": 8.0, "latency_ms": 0.0, "latency_share": 0.0}


def test_the_settings_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FeatureChecks().seed = 1


def test_memory_is_counted_deep_per_row():
    class Any_:
        def predict(self, X):
            return np.zeros(len(X))

    one = pd.DataFrame({"x": [1.0], "t": pd.Series(["a long piece of text"], dtype=object)})
    table = cost_check(Any_(), one, FeatureChecks(cost_runs=1))[1]["features"]
    assert table["x"]["bytes_per_row"] == 8.0
    assert table["t"]["bytes_per_row"] == float(one["t"].memory_usage(deep=True, index=False)) > 8.0   # the text, not the pointer
