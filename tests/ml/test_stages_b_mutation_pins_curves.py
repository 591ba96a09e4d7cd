"""Mutation pins for the evidence behind the headline metrics (stages/curves): curves, calibration,
score histograms and bootstrap intervals.

Each test asserts what a reader of a model card, a run log or a refusal sees: exact messages,
both sides of each threshold, every entry of a returned table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from modelway.stages import curves


# --- curves ----------------------------------------------------------------------------------------


def test_classification_curves_of_a_small_scored_sample():
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_curve

    y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0])
    s = np.array([0.12, 0.42, 0.37, 0.83, 0.22, 0.91, 0.57, 0.72, 0.63, 0.07])  # none on a histogram edge
    ev = curves.classification_curves(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    assert ev["roc"] == {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr], "auc": 0.92}
    precision, recall, _ = precision_recall_curve(y, s)
    assert ev["pr"]["recall"] == [round(float(v), 5) for v in recall]
    assert ev["pr"]["precision"] == [round(float(v), 5) for v in precision]
    assert ev["pr"]["average_precision"] == round(float(average_precision_score(y, s)), 6) == 0.942857
    assert ev["pr"]["prevalence"] == 0.5
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="quantile")
    assert ev["calibration"]["mean_predicted"] == [round(float(v), 5) for v in prob_pred]
    assert ev["calibration"]["fraction_positive"] == [round(float(v), 5) for v in prob_true]
    assert ev["calibration"]["brier"] == round(float(np.mean((s - y) ** 2)), 6) == 0.12182
    assert ev["score_distribution"]["edges"] == [round(i * 0.05, 5) for i in range(21)]
    pos = [0] * 20
    for v in (0.37, 0.83, 0.91, 0.72, 0.63):
        pos[int(v * 20)] += 1
    neg = [0] * 20
    for v in (0.12, 0.42, 0.22, 0.57, 0.07):
        neg[int(v * 20)] += 1
    assert ev["score_distribution"]["positive"] == pos and ev["score_distribution"]["negative"] == neg


def test_curves_are_thinned_to_the_asked_points_keeping_both_ends_and_bins_are_honoured():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    ev = curves.classification_curves(y, s, points=7, bins=4)
    for key in ("fpr", "tpr"):
        assert len(ev["roc"][key]) == 7
    assert ev["roc"]["fpr"][0] == 0.0 and ev["roc"]["fpr"][-1] == 1.0 and ev["roc"]["tpr"][-1] == 1.0
    assert len(ev["pr"]["recall"]) == 7 and ev["pr"]["recall"][0] == 1.0 and ev["pr"]["recall"][-1] == 0.0
    assert len(ev["calibration"]["mean_predicted"]) == 4
    default = curves.classification_curves(y, s)
    assert len(default["roc"]["fpr"]) == 60 and len(default["calibration"]["fraction_positive"]) == 10
    # a curve with no more than ``points`` points is kept whole
    short = curves.classification_curves(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8]), points=60)
    assert short["roc"] == {"fpr": [0.0, 0.0, 0.0, 1.0], "tpr": [0.0, 0.5, 1.0, 1.0], "auc": 1.0}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.floats(0, 1)), min_size=4, max_size=40))
def test_fast_metrics_agree_with_scikit_learn(rows):
    from sklearn import metrics as m

    y = np.array([r[0] for r in rows]); pred = np.array([r[1] for r in rows]); score = np.array([r[2] for r in rows])
    assume(y.max() == 1)  # the positive class is the largest label; scikit-learn's is 1
    fm = curves._fast_metric
    assert fm("accuracy", y, pred, score) == pytest.approx(m.accuracy_score(y, pred))
    for name, fn in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
        assert fm(name, y, pred, None) == pytest.approx(fn(y, pred, zero_division=0.0))
    if len(set(y)) == 2:
        assert fm("roc_auc", y, pred, score) == pytest.approx(m.roc_auc_score(y, score))
    else:
        assert fm("roc_auc", y, pred, score) is None
    assert fm("roc_auc", y, pred, None) is None
    yr, pr = score * 10, score * 10 + pred
    assert fm("mae", yr, pr, None) == pytest.approx(m.mean_absolute_error(yr, pr))
    assert fm("rmse", yr, pr, None) == pytest.approx(np.sqrt(m.mean_squared_error(yr, pr)))
    if np.ptp(yr) > 1e-6:
        assert fm("r2", yr, pr, None) == pytest.approx(m.r2_score(yr, pr), abs=1e-6)
    assert fm("log_loss", yr, pr, None) is None


def test_fast_metric_edge_cases():
    fm = curves._fast_metric
    y = np.array([3.0, 3.0, 3.0])
    assert fm("r2", y, y + 1, None) is None                        # no variance: no r2
    assert fm("f1", np.array([0, 1]), np.array([0, 0]), None) == 0.0  # nothing predicted positive
    assert fm("roc_auc", np.array([4, 4]), np.array([4, 4]), np.array([0.1, 0.2])) is None
    assert fm("precision", np.array([0, 1, 1]), np.array([1, 1, 0]), None) == 0.5
    assert fm("recall", np.array([0, 1, 1]), np.array([1, 1, 0]), None) == 0.5


def _reference_intervals(y, pred, metric_fn, *, resamples, seed, level):
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), size=len(y))
        vals.append(metric_fn(y[idx], pred[idx]))
    tail = (1 - level) / 2 * 100
    return round(float(np.percentile(vals, tail)), 6), round(float(np.percentile(vals, 100 - tail)), 6)


def test_bootstrap_intervals_are_the_percentiles_of_seeded_row_resamples():
    rng = np.random.default_rng(5)
    y = rng.normal(size=40)
    pred = y + rng.normal(scale=0.5, size=40)
    mae = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
    ci = curves.bootstrap_intervals("regression", y, pred, None, ("mae",))
    low, high = _reference_intervals(y, pred, mae, resamples=200, seed=0, level=0.95)
    assert ci == {"mae": {"low": low, "high": high, "resamples": 200}} and low < high
    ci = curves.bootstrap_intervals("regression", y, pred, None, ("mae", "rmse"), resamples=30, seed=3, level=0.5)
    assert (ci["mae"]["low"], ci["mae"]["high"]) == _reference_intervals(y, pred, mae, resamples=30, seed=3, level=0.5)
    assert ci["mae"]["resamples"] == ci["rmse"]["resamples"] == 30
    median = curves.bootstrap_intervals("regression", y, pred, None, ("mae",), resamples=11, level=0.0)["mae"]
    assert median["low"] == median["high"]


def test_bootstrap_intervals_skip_metrics_that_cannot_be_computed():
    y = np.array([0, 1, 0, 1, 1, 0]); pred = np.array([0, 1, 1, 1, 0, 0])
    assert curves.bootstrap_intervals("classification", y, pred, None, ("roc_auc", "accuracy"), resamples=5)["accuracy"]["resamples"] == 5
    assert "roc_auc" not in curves.bootstrap_intervals("classification", y, pred, None, ("roc_auc", "accuracy"), resamples=5)
    assert curves.bootstrap_intervals("classification", y[:1], pred[:1], None, ("accuracy",)) == {}
    assert curves.bootstrap_intervals("classification", y[:2], pred[:2], None, ("accuracy",), resamples=3)["accuracy"]["resamples"] == 3
    # a constant label: r2 is undefined on every resample
    assert curves.bootstrap_intervals("regression", np.ones(5), np.ones(5), None, ("r2", "mae"), resamples=4) == {
        "mae": {"low": 0.0, "high": 0.0, "resamples": 4}}
    # an undefined value (nan) in some resamples is left out of the count, not averaged in
    y3 = np.array([0, 1]); s3 = np.array([0.2, 0.7])
    out = curves.bootstrap_intervals("classification", y3, y3, s3, ("roc_auc",), resamples=40)
    assert 0 < out["roc_auc"]["resamples"] < 40 and out["roc_auc"]["low"] == out["roc_auc"]["high"] == 1.0


def test_slice_intervals_per_value_in_sorted_order_with_their_own_resamples():
    frame = pd.DataFrame({"g": ["b", "a", "b", "a", "b", "a", "c"], "h": [1, 1, 1, 2, 2, 2, 2]})
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]); pred = y + np.array([0, 1, 0, 2, 0, 3, 0])
    out = curves.slice_intervals("regression", frame, y, pred, None, ("g", "h"), "mae")
    assert list(out) == ["g=a", "g=b", "h=1", "h=2"]                # g=c has one row: no interval
    assert out["g=b"] == {"low": 0.0, "high": 0.0, "resamples": 60}
    mask = frame["g"].to_numpy() == "a"
    assert out["g=a"] == curves.bootstrap_intervals("regression", y[mask], pred[mask], None, ("mae",), resamples=60)["mae"]
    seeded = curves.slice_intervals("regression", frame, y, pred, None, ("g",), "mae", resamples=7, seed=4)
    assert seeded["g=a"] == curves.bootstrap_intervals("regression", y[mask], pred[mask], None, ("mae",), resamples=7, seed=4)["mae"]
    scored = curves.slice_intervals("classification", frame, (y > 4).astype(int), (y > 4).astype(int), y / 10, ("h",), "roc_auc",
                                    resamples=5)
    assert list(scored) == ["h=2"] and scored["h=2"]["low"] == 1.0   # h=1 has one class only


def test_summary_numbers_are_rounded_to_six_places():
    y = np.array([1, 0, 0, 1, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.1, 0.3, 0.2, 0.05, 0.7])
    ev = curves.classification_curves(y, s)
    # 3 positives x 4 negatives: AUC 10/12; prevalence 3/7
    assert ev["roc"]["auc"] == 0.833333 and ev["pr"]["prevalence"] == 0.428571
    assert ev["calibration"]["brier"] == round(float(np.mean((s - y) ** 2)), 6) == 0.183214
