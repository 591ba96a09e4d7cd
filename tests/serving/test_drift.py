"""Drift statistics: shifts flagged, same-distribution data not (false-positive rate bounded over seeds), novelties."""
from __future__ import annotations

import numpy as np
import pandas as pd

from modelway.profiling.drift import DriftThresholds, compare
from modelway.profiling.profile import build_profile

CATS = ["a", "b", "c", "d", "e"]
PROBS = [0.4, 0.25, 0.15, 0.12, 0.08]


def _frame(rng: np.random.Generator, n: int, *, shift: float = 0.0, cat_probs=PROBS) -> pd.DataFrame:
    data = {f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0 + 0.1 * i, n) for i in range(15)}
    data["count"] = rng.poisson(3, n).astype(float)  # discrete numeric: ties must not fool KS
    for j in range(4):
        data[f"c{j}"] = rng.choice(CATS, n, p=cat_probs)
    return pd.DataFrame(data)


KINDS = {**{f"x{i}": "numeric" for i in range(15)}, "count": "numeric", **{f"c{j}": "categorical" for j in range(4)}}


def test_a_shifted_feature_is_flagged_with_psi_and_ks():
    rng = np.random.default_rng(0)
    base = build_profile(_frame(rng, 20_000), KINDS)
    report = compare(base, _frame(rng, 3_000, shift=0.6))
    x0 = report.features["x0"]
    assert x0.drifted and x0.p_value < 1e-10 and x0.psi > 0.2
    assert report.drifted_features == ["x0"]


def test_same_distribution_is_not_flagged_over_many_seeds():
    base = build_profile(_frame(np.random.default_rng(123), 20_000), KINDS)
    flagged, judged = 0, 0
    for seed in range(30):
        report = compare(base, _frame(np.random.default_rng(1000 + seed), 2_000))
        flagged += len(report.drifted_features)
        judged += len(report.features)
    assert judged == 30 * 20
    assert flagged / judged <= 0.01, f"false positive rate {flagged / judged:.3%}"


def test_small_but_real_shifts_need_both_significance_and_effect():
    rng = np.random.default_rng(7)
    base = build_profile(_frame(rng, 20_000), KINDS)
    tiny = compare(base, _frame(rng, 200_000, shift=0.1))  # significant with 200k rows, but negligible
    assert tiny.features["x0"].p_value < 0.01 and not tiny.features["x0"].drifted


def test_categorical_novelties_and_frequency_shifts_are_flagged():
    rng = np.random.default_rng(1)
    base = build_profile(_frame(rng, 20_000), KINDS)
    live = _frame(rng, 3_000)
    live.loc[:29, "c0"] = "zz-new"
    live["c1"] = rng.choice(CATS, 3_000, p=[0.1, 0.1, 0.1, 0.2, 0.5])
    report = compare(base, live)
    assert report.features["c0"].drifted and report.features["c0"].novel_categories == {"zz-new": 30}
    assert "unseen categories" in report.features["c0"].reasons[-1]
    assert report.features["c1"].drifted and report.features["c1"].p_value < 1e-10
    assert not report.features["c2"].drifted


def test_missing_values_and_prediction_drift():
    rng = np.random.default_rng(2)
    frame = _frame(rng, 20_000)
    base = build_profile(frame, KINDS, predictions=rng.beta(2, 5, 20_000))
    live = _frame(rng, 3_000)
    live.loc[:600, "x3"] = np.nan
    report = compare(base, live, predictions=rng.beta(5, 2, 3_000), thresholds=DriftThresholds())
    assert report.features["x3"].quality_breach and report.features["x3"].missing_rate > 0.19
    assert report.prediction is not None and report.prediction.drifted
