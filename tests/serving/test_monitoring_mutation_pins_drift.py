"""Mutation pins for modelway.profiling.drift: PSI, the KS / chi-square comparisons and when a feature counts as drifted.

Baselines are written by hand (a FeatureProfile with known bins), so every PSI, rate and
reason below is a number a reviewer can check against the module's documented rules, and
both sides of each threshold are exercised.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelway.profiling.drift import (DriftReport, DriftThresholds, FeatureDrift, compare, compare_categorical,
                                      compare_numeric, psi)
from modelway.profiling.profile import BaselineProfile, FeatureProfile

NUMERIC = FeatureProfile("numeric", 0.1, bin_edges=[0.0, 1.0], bin_frequencies=[0.25, 0.5, 0.25],
                         sample=[-1.0, 0.5, 0.5, 2.0])
CATEGORICAL = FeatureProfile("categorical", 0.0, frequencies={"a": 0.5, "b": 0.5})


def test_threshold_defaults_and_bounds() -> None:
    t = DriftThresholds()
    assert (t.psi_threshold, t.psi_min_effect, t.p_value, t.max_missing_rate_increase, t.max_novel_share,
            t.ks_max_rows) == (0.2, 0.1, 0.01, 0.05, 0.0, 50_000)
    DriftThresholds(psi_threshold=0.01, psi_min_effect=0, max_missing_rate_increase=0, max_novel_share=0, ks_max_rows=101)
    for bad in ({"psi_threshold": 0}, {"psi_min_effect": -0.01}, {"p_value": 0}, {"p_value": 1},
                {"max_missing_rate_increase": -0.01}, {"max_novel_share": -0.01}, {"ks_max_rows": 100},
                {"unknown": 1}):
        with pytest.raises(ValidationError):
            DriftThresholds(**bad)
    with pytest.raises(ValidationError):
        t.psi_threshold = 0.5  # frozen: one config object is shared by every comparison


def test_psi_known_values() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    assert psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(0.2746530721670274, rel=1e-12)
    # an empty bin counts as 1e-4, not 0 (ln 0 is undefined)
    assert psi(np.array([1, 0]), np.array([0, 1])) == pytest.approx(18.41883867587797, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6), st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6))
def test_psi_is_symmetric_and_never_negative(a: list[float], b: list[float]) -> None:
    n = min(len(a), len(b))
    x, y = np.array(a[:n]), np.array(b[:n])
    assert psi(x, y) >= 0.0
    assert psi(x, y) == pytest.approx(psi(y, x), rel=1e-9, abs=1e-12)


def test_numeric_bins_are_closed_on_the_right_and_missing_counts_nan_and_inf() -> None:
    r = compare_numeric("x", NUMERIC, [-1, 0.0, 0.5, 1.0, 2.0, float("nan"), float("inf"), 0.7], DriftThresholds())
    assert (r.name, r.kind, r.rows, r.test) == ("x", "numeric", 8, "ks")
    # 0.0 and 1.0 fall in the bins they close: counts 2, 3, 1 of 6 finite values
    expected = psi(np.array([0.25, 0.5, 0.25]), np.array([2, 3, 1]) / 6)
    assert r.psi == pytest.approx(expected, rel=1e-12)
    assert r.psi == pytest.approx(0.057762265046662105, rel=1e-12)
    assert (r.statistic, r.p_value) == (0.25, 1.0)
    assert (r.missing_rate, r.baseline_missing_rate) == (0.25, 0.1)
    assert (r.drifted, r.quality_breach) == (False, True)
    assert r.reasons == ["missing rate 25.0% vs 10.0% at training"]
    assert (r.novel_categories, r.novel_share) == ({}, 0.0)


def test_numeric_without_finite_values_or_baseline_bins() -> None:
    r = compare_numeric("x", NUMERIC, [float("nan")] * 4, DriftThresholds())
    assert (r.psi, r.statistic, r.p_value, r.missing_rate, r.quality_breach) == (0.0, None, None, 1.0, True)
    empty = compare_numeric("x", NUMERIC, [], DriftThresholds())
    assert (empty.rows, empty.missing_rate, empty.psi, empty.reasons) == (0, 0.0, 0.0, [])
    one = compare_numeric("x", NUMERIC, [0.5], DriftThresholds())  # KS needs two values on each side
    assert (one.statistic, one.p_value) == (None, None)
    assert one.psi == pytest.approx(psi(np.array([0.25, 0.5, 0.25]), np.array([0.0, 1.0, 0.0])))
    two = compare_numeric("x", NUMERIC, [0.5, 0.5], DriftThresholds())
    assert two.statistic == 0.25
    short_sample = FeatureProfile("numeric", 0.0, bin_edges=[0.0], bin_frequencies=[0.5, 0.5], sample=[1.0])
    assert compare_numeric("x", short_sample, [0.5, 0.5], DriftThresholds()).p_value is None
    two_sample = FeatureProfile("numeric", 0.0, bin_edges=[0.0], bin_frequencies=[0.5, 0.5], sample=[1.0, 2.0])
    assert compare_numeric("x", two_sample, [0.5, 0.5], DriftThresholds()).statistic == 1.0
    no_bins = FeatureProfile("numeric", 0.0, sample=[0.0])
    r = compare_numeric("x", no_bins, [5.0, 6.0], DriftThresholds())
    assert (r.psi, r.p_value, r.drifted) == (0.0, None, False)


def test_ks_uses_every_row_up_to_the_cap_then_a_seeded_sample() -> None:
    from scipy import stats

    base = FeatureProfile("numeric", 0.0, bin_edges=[0.5], bin_frequencies=[0.5, 0.5],
                          sample=[float(v) for v in np.linspace(0, 1, 50)])
    live = np.r_[np.zeros(60), np.ones(41)]  # 101 rows
    full = stats.ks_2samp(live, np.asarray(base.sample), method="asymp")
    at_cap = compare_numeric("x", base, live, DriftThresholds(ks_max_rows=101))
    assert (at_cap.statistic, at_cap.p_value) == (float(full.statistic), float(full.pvalue))
    over = np.r_[np.zeros(120), np.ones(82)]
    full_over = stats.ks_2samp(over, np.asarray(base.sample), method="asymp")
    sampled = compare_numeric("x", base, over, DriftThresholds(ks_max_rows=101))
    assert sampled.p_value != pytest.approx(float(full_over.pvalue))  # fewer rows: a larger p-value
    assert sampled.p_value > float(full_over.pvalue)
    again = compare_numeric("x", base, over, DriftThresholds(ks_max_rows=101), seed=0)
    # the documented sample: seeded, without replacement (each live row at most once)
    drawn = np.random.default_rng(0).choice(over, 101, replace=False)
    assert sampled.statistic == float(stats.ks_2samp(drawn, np.asarray(base.sample), method="asymp").statistic)
    assert (again.statistic, again.p_value) == (sampled.statistic, sampled.p_value)
    # PSI always uses every row
    assert sampled.psi == pytest.approx(psi(np.array([0.5, 0.5]), np.array([120, 82]) / 202))


def test_categorical_psi_chi_square_novelty_and_missing() -> None:
    r = compare_categorical("c", CATEGORICAL, ["a", "a", "b", None, "c"], DriftThresholds())
    assert (r.name, r.kind, r.rows, r.test) == ("c", "categorical", 5, "chi2")
    assert r.psi == pytest.approx(psi(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.25, 0.25])), rel=1e-12)
    assert r.psi == pytest.approx(2.1285158932529735, rel=1e-12)
    assert r.statistic == pytest.approx(1 / 3)
    assert r.p_value == pytest.approx(0.5637028616507731)
    assert r.missing_rate == pytest.approx(0.2)
    assert (r.novel_categories, r.novel_share) == ({"c": 1}, 0.25)
    assert (r.drifted, r.quality_breach) == (True, True)
    assert r.reasons == ["PSI 2.129 >= 0.2", "missing rate 20.0% vs 0.0% at training",
                         "unseen categories: 'c' (1) = 25.0% of rows"]


def test_categorical_like_the_baseline_is_quiet() -> None:
    r = compare_categorical("c", CATEGORICAL, pd.Series(["a", "b"] * 50), DriftThresholds())
    assert (r.psi, r.missing_rate, r.novel_share, r.drifted, r.quality_breach, r.reasons) == (
        0.0, 0.0, 0.0, False, False, [])
    assert (r.statistic, r.p_value) == (0.0, 1.0)


def test_novel_share_boundary_and_the_ten_most_frequent_novelties() -> None:
    values = ["a", "b"] * 50 + [f"n{i}" for i in range(12) for _ in range(i + 1)]
    r = compare_categorical("c", CATEGORICAL, values, DriftThresholds(max_novel_share=1.0, psi_threshold=100))
    assert list(r.novel_categories) == [f"n{i}" for i in range(11, 1, -1)]
    assert r.novel_categories["n11"] == 12 and r.novel_categories["n2"] == 3
    assert r.novel_share == pytest.approx(78 / 178)
    assert r.drifted is False  # tolerated share
    exact = compare_categorical("c", CATEGORICAL, ["a", "b", "z", "z"], DriftThresholds(max_novel_share=0.5, psi_threshold=100,
                                                                                        p_value=1e-9))
    assert (exact.novel_share, exact.drifted) == (0.5, False)  # at the tolerated share: not drifted
    over = compare_categorical("c", CATEGORICAL, ["a", "b", "z", "z"], DriftThresholds(max_novel_share=0.49, psi_threshold=100,
                                                                                       p_value=1e-9))
    assert over.drifted is True
    assert over.reasons == ["unseen categories: 'z' (2) = 50.0% of rows"]


def test_categorical_edge_cases() -> None:
    nothing = compare_categorical("c", CATEGORICAL, [None, None], DriftThresholds())
    assert (nothing.rows, nothing.missing_rate, nothing.psi, nothing.novel_share, nothing.p_value) == (2, 1.0, 0.0, 0.0, None)
    empty = compare_categorical("c", CATEGORICAL, [], DriftThresholds())
    assert (empty.rows, empty.missing_rate) == (0, 0.0)
    single = FeatureProfile("categorical", 0.0, frequencies={"a": 1.0})
    r = compare_categorical("c", single, ["a", "a"], DriftThresholds())
    assert (r.statistic, r.p_value, r.psi) == (None, None, 0.0)  # chi-square needs two categories
    only_novel = compare_categorical("c", CATEGORICAL, ["z", "z"], DriftThresholds())
    assert only_novel.p_value is None and only_novel.novel_share == 1.0


def _drift(psi_value: float, p_value: float | None, missing: float = 0.0, base_missing: float = 0.0) -> FeatureDrift:
    from modelway.profiling.drift import _judge

    r = FeatureDrift("f", "numeric", 100, psi_value, "ks", None, p_value, missing, base_missing)
    _judge(r, DriftThresholds())
    return r


def test_when_a_feature_counts_as_drifted_both_sides_of_each_threshold() -> None:
    assert _drift(0.2, None).drifted and _drift(0.2, None).reasons == ["PSI 0.200 >= 0.2"]
    assert not _drift(0.1999, None).drifted
    # significant, with a real effect: drifted; with PSI below the effect floor: not
    sig = _drift(0.1, 0.0099)
    assert sig.drifted and sig.reasons == ["ks p=0.0099 < 0.01 with PSI 0.100 >= 0.1"]
    assert not _drift(0.0999, 0.0099).drifted
    assert not _drift(0.15, 0.01).drifted  # p exactly at alpha is not significant
    assert not _drift(0.15, None).drifted
    assert _drift(0.15, 0.001).drifted
    # missing values: above baseline + 0.05 is a breach, at it is not
    assert not _drift(0.0, None, missing=0.15, base_missing=0.1).quality_breach
    breach = _drift(0.0, None, missing=0.1501, base_missing=0.1)
    assert breach.quality_breach and not breach.drifted
    assert breach.reasons == ["missing rate 15.0% vs 10.0% at training"]


def test_compare_reports_every_profiled_feature_present_and_the_predictions() -> None:
    profile = BaselineProfile("m", "1", 100, "2026-01-01T00:00:00+00:00",
                              {"x": NUMERIC, "c": CATEGORICAL, "gone": NUMERIC}, prediction=NUMERIC)
    frame = pd.DataFrame({"x": [0.5, 0.5, 2.0, -1.0], "c": ["a", "b", "a", "b"], "extra": [1, 2, 3, 4]})
    report = compare(profile, frame, [0.5, float("nan"), float("inf"), 0.2])
    assert report.rows == 4
    assert list(report.features) == ["x", "c"]
    assert report.features["x"].kind == "numeric" and report.features["c"].kind == "categorical"
    assert report.nonfinite_predictions == 2
    assert report.prediction is not None and report.prediction.name == "prediction"
    assert report.prediction.missing_rate == 0.5
    without = compare(profile, frame)
    assert (without.prediction, without.nonfinite_predictions) == (None, 0)
    no_pred_profile = BaselineProfile("m", "1", 100, "t", {"x": NUMERIC})
    assert compare(no_pred_profile, frame, [1.0, 2.0, 3.0, 4.0]).prediction is None
    loose = compare(profile, frame, thresholds=DriftThresholds(max_missing_rate_increase=1.0))
    assert loose.quality_breaches == []


def test_report_lists_and_dict() -> None:
    a = FeatureDrift("a", "numeric", 3, 0.5, "ks", 0.1, 0.2, 0.0, 0.0, drifted=True, reasons=["r"])
    b = FeatureDrift("b", "categorical", 3, 0.0, "chi2", None, None, 0.5, 0.0, quality_breach=True)
    c = FeatureDrift("c", "numeric", 3, 0.0, "ks", None, None, 0.0, 0.0)
    report = DriftReport(3, {"a": a, "b": b, "c": c}, prediction=c, nonfinite_predictions=1)
    assert report.drifted_features == ["a"]
    assert report.quality_breaches == ["b"]
    d = report.to_dict()
    assert list(d) == ["rows", "drifted_features", "quality_breaches", "nonfinite_predictions", "features", "prediction"]
    assert (d["rows"], d["drifted_features"], d["quality_breaches"], d["nonfinite_predictions"]) == (3, ["a"], ["b"], 1)
    assert d["features"]["a"] == {"name": "a", "kind": "numeric", "rows": 3, "psi": 0.5, "test": "ks", "statistic": 0.1,
                                  "p_value": 0.2, "missing_rate": 0.0, "baseline_missing_rate": 0.0,
                                  "novel_categories": {}, "novel_share": 0.0, "drifted": True, "quality_breach": False,
                                  "reasons": ["r"]}
    assert list(d["features"]) == ["a", "b", "c"]
    assert d["prediction"]["name"] == "c"
    assert DriftReport(0, {}).to_dict()["prediction"] is None
    assert math.isfinite(d["features"]["a"]["psi"])
