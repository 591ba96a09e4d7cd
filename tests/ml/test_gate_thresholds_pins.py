"""Pins on the fairness and quality gates' thresholds (``stages/fairness.py``, ``stages/evaluation.py``).

Fast on purpose (no model is trained): ``make mutate`` runs this file once per mutant. Every
input is a handful of hand-made rows with fixed predictions whose metrics are exact binary
fractions, so each threshold is tested exactly at its limit (passes) and just past it (fails),
and each failure is checked by the message a user reads.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from modelway.stages.evaluation import (
    LOWER_IS_BETTER,
    QualityGate,
    compute_metrics,
    predict_for_metrics,
    quality_checks,
    slice_metrics,
)
from modelway.stages.fairness import FairnessGate, fairness_report


def _by_name(checks):
    return {c.name: c for c in checks}


# --- fairness: classification ----------------------------------------------------------------
# group a: y 1 1 0 0, p 1 1 1 0 -> selection 0.75, TPR 1.0, FPR 0.5, accuracy 0.75
# group b: y 1 1 0 0, p 1 1 0 0 -> selection 0.5,  TPR 1.0, FPR 0.0, accuracy 1.0
# demographic parity difference 0.25, equalized odds difference 0.5 (the FPR gap)
Y_AB = np.array([1, 1, 0, 0, 1, 1, 0, 0])
P_AB = np.array([1, 1, 1, 0, 1, 1, 0, 0])
G_AB = np.array(["a"] * 4 + ["b"] * 4)


def test_fairness_gate_defaults_are_the_documented_limits():
    gate = FairnessGate("gender")
    assert (gate.max_demographic_parity_difference, gate.max_equalized_odds_difference) == (0.10, 0.10)
    assert gate.max_relative_mae_gap == 0.25
    assert gate.min_group_size == 30


def test_classification_report_per_group_metrics_and_figures():
    r = fairness_report(FairnessGate("g", min_group_size=4), Y_AB, P_AB, G_AB)
    assert r["sensitive"] == "g" and r["task"] == "classification"
    assert r["by_group"] == {
        "a": {"selection_rate": 0.75, "true_positive_rate": 1.0, "false_positive_rate": 0.5, "accuracy": 0.75, "count": 4.0},
        "b": {"selection_rate": 0.5, "true_positive_rate": 1.0, "false_positive_rate": 0.0, "accuracy": 1.0, "count": 4.0},
    }
    assert r["overall"] == {"selection_rate": 0.625, "true_positive_rate": 1.0, "false_positive_rate": 0.25,
                            "accuracy": 0.875, "count": 8.0}
    assert r["demographic_parity_difference"] == 0.25
    assert r["equalized_odds_difference"] == 0.5
    assert r["excluded_small_groups"] == []


def test_classification_checks_pass_exactly_at_each_limit():
    gate = FairnessGate("g", max_demographic_parity_difference=0.25, max_equalized_odds_difference=0.5, min_group_size=4)
    dpd, eod = fairness_report(gate, Y_AB, P_AB, G_AB)["checks"]
    assert dpd.name == "fairness.g.demographic_parity_difference" and dpd.passed is True
    assert (dpd.observed, dpd.limit, dpd.category, dpd.advisory) == (0.25, 0.25, "fairness", False)
    assert dpd.message == "selection rates by g {'a': 0.75, 'b': 0.5} differ by 0.250, limit 0.25"
    assert eod.name == "fairness.g.equalized_odds_difference" and eod.passed is True
    assert (eod.observed, eod.limit, eod.category, eod.advisory) == (0.5, 0.5, "fairness", False)
    assert eod.message == "largest TPR/FPR gap between g groups is 0.500, limit 0.5"


@pytest.mark.parametrize(("dpd_limit", "eod_limit", "failing"), [
    (0.2499, 0.5, {"demographic_parity_difference"}),
    (0.25, 0.4999, {"equalized_odds_difference"}),
    (0.2499, 0.4999, {"demographic_parity_difference", "equalized_odds_difference"}),
])
def test_classification_checks_fail_just_past_each_limit(dpd_limit, eod_limit, failing):
    gate = FairnessGate("g", max_demographic_parity_difference=dpd_limit, max_equalized_odds_difference=eod_limit, min_group_size=4)
    checks = fairness_report(gate, Y_AB, P_AB, G_AB)["checks"]
    assert {c.name.split(".")[-1] for c in checks if not c.passed} == failing
    assert all(isinstance(c.passed, bool) for c in checks)
    messages = [c.message for c in checks]
    assert messages == [
        f"selection rates by g {{'a': 0.75, 'b': 0.5}} differ by 0.250, limit {dpd_limit}",
        f"largest TPR/FPR gap between g groups is 0.500, limit {eod_limit}",
    ]


def test_classification_default_limits_reject_a_gap_just_over_ten_points():
    # 40 rows per group (>= 30): selection rates 0.5 and 0.375, gap 0.125 > 0.10 on both figures
    y = np.array(([1] * 20 + [0] * 20) * 2)
    p = np.array([1] * 20 + [0] * 20 + [1] * 15 + [0] * 25)
    g = np.array(["F"] * 40 + ["M"] * 40)
    r = fairness_report(FairnessGate("gender"), y, p, g)
    assert r["excluded_small_groups"] == []
    dpd, eod = r["checks"]
    assert (dpd.passed, dpd.observed, dpd.limit) == (False, 0.125, 0.1)
    assert (eod.passed, eod.observed, eod.limit) == (False, 0.25, 0.1)
    assert dpd.message == "selection rates by gender {'F': 0.5, 'M': 0.375} differ by 0.125, limit 0.1"


def test_classification_figures_are_rounded_to_six_places_in_report_and_checks():
    y = np.array([1, 0, 0, 1, 0, 0])
    p = np.array([1, 1, 0, 1, 0, 0])
    g = np.array(["a"] * 3 + ["b"] * 3)  # selection 2/3 vs 1/3, FPR 1/2 vs 0
    r = fairness_report(FairnessGate("g", min_group_size=3), y, p, g)
    assert r["demographic_parity_difference"] == 0.333333
    assert r["checks"][0].observed == 0.333333
    assert r["checks"][0].message == "selection rates by g {'a': 0.667, 'b': 0.333} differ by 0.333, limit 0.1"
    assert r["equalized_odds_difference"] == 0.5


def test_equalized_odds_is_rounded_to_six_places_in_report_and_checks():
    y = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    p = np.array([1, 0, 0, 1, 0, 0, 0, 1])
    g = np.array(["a"] * 4 + ["b"] * 4)  # FPR 1/3 vs 0, TPR 1 in both
    r = fairness_report(FairnessGate("g", min_group_size=4), y, p, g)
    assert r["equalized_odds_difference"] == 0.333333 and r["checks"][1].observed == 0.333333
    assert r["checks"][1].message == "largest TPR/FPR gap between g groups is 0.333, limit 0.1"


def test_a_gate_cannot_be_loosened_after_it_is_built():
    import dataclasses

    gate = FairnessGate("g")
    with pytest.raises(dataclasses.FrozenInstanceError):
        gate.max_demographic_parity_difference = 1.0


def test_small_groups_are_excluded_below_the_minimum_and_kept_at_it():
    # group c (3 rows, below 4) would add a selection rate of 1.0: excluded from the figures
    y = np.concatenate([Y_AB, [0, 0, 0]])
    p = np.concatenate([P_AB, [1, 1, 1]])
    g = np.concatenate([G_AB, ["c", "c", "c"]])
    r = fairness_report(FairnessGate("g", min_group_size=4), y, p, g)
    assert r["excluded_small_groups"] == ["c"]
    assert r["demographic_parity_difference"] == 0.25 and r["equalized_odds_difference"] == 0.5
    assert set(r["by_group"]) == {"a", "b", "c"}  # still reported
    assert "'c': 1.0" in r["checks"][0].message
    # at min_group_size 3 the group counts, and its selection rate 1.0 widens the gap
    wide = fairness_report(FairnessGate("g", min_group_size=3), y, p, g)
    assert wide["excluded_small_groups"] == []
    assert wide["demographic_parity_difference"] == 0.5
    assert wide["equalized_odds_difference"] == 1.0  # FPR 1.0 in c vs 0.0 in b


def test_when_every_group_is_too_small_the_figures_are_zero_and_pass():
    r = fairness_report(FairnessGate("g", min_group_size=5), Y_AB, P_AB, G_AB)
    assert r["excluded_small_groups"] == ["a", "b"]
    assert (r["demographic_parity_difference"], r["equalized_odds_difference"]) == (0.0, 0.0)
    assert [c.passed for c in r["checks"]] == [True, True]


def test_pos_label_selects_the_positive_class_and_groups_become_text():
    y = np.where(Y_AB == 1, "yes", "no")
    p = np.where(P_AB == 1, "yes", "no")
    g = np.array([1] * 4 + [2] * 4)  # integer groups are named by their text
    r = fairness_report(FairnessGate("g", min_group_size=4), y, p, g, pos_label="yes")
    assert set(r["by_group"]) == {"1", "2"}
    assert r["by_group"]["1"]["selection_rate"] == 0.75
    assert r["demographic_parity_difference"] == 0.25
    # the default positive label is 1: with "yes"/"no" nothing is positive
    none_positive = fairness_report(FairnessGate("g", min_group_size=4), y, p, g)
    assert none_positive["by_group"]["1"]["selection_rate"] == 0.0


# --- fairness: regression --------------------------------------------------------------------
def _regression(err_a: float, err_b: float, n_a: int = 4, n_b: int = 4):
    y = np.arange(n_a + n_b, dtype=float)
    pred = y + np.array([err_a, -err_a] * (n_a // 2) + [err_b, -err_b] * (n_b // 2))
    return y, pred, np.array(["x"] * n_a + ["y"] * n_b)


def test_regression_gap_passes_exactly_at_the_limit():
    y, pred, g = _regression(1.125, 0.875)  # MAE 1.125 vs 0.875, overall 1.0: gap exactly 25%
    r = fairness_report(FairnessGate("g", min_group_size=4), y, pred, g, task="regression")
    assert (r["sensitive"], r["task"], r["max_relative_mae_gap"]) == ("g", "regression", 0.25)
    assert r["by_group"]["x"] == {"mae": 1.125, "mean_prediction": 1.5, "count": 4.0}
    assert r["by_group"]["y"] == {"mae": 0.875, "mean_prediction": 5.5, "count": 4.0}
    (check,) = r["checks"]
    assert check.name == "fairness.g.relative_mae_gap" and check.passed is True
    assert (check.observed, check.limit, check.category) == (0.25, 0.25, "fairness")
    assert check.message == "MAE gap between g groups is 25.0% of overall MAE 1.000, limit 25%"


def test_regression_gap_fails_just_past_the_limit():
    y, pred, g = _regression(1.125, 0.875)
    (check,) = fairness_report(FairnessGate("g", max_relative_mae_gap=0.2499, min_group_size=4), y, pred, g,
                               task="regression")["checks"]
    assert check.passed is False
    assert check.message == "MAE gap between g groups is 25.0% of overall MAE 1.000, limit 25%"


def test_regression_gap_is_relative_to_the_overall_mae():
    y, pred, g = _regression(3.0, 1.0)  # gap 2.0 over overall 2.0 -> 100%
    r = fairness_report(FairnessGate("g", max_relative_mae_gap=0.9, min_group_size=4), y, pred, g, task="regression")
    assert r["max_relative_mae_gap"] == 1.0
    assert r["checks"][0].passed is False
    assert r["checks"][0].message == "MAE gap between g groups is 100.0% of overall MAE 2.000, limit 90%"


def test_regression_gap_rounds_to_six_places():
    y, pred, g = _regression(2.0, 1.0)  # gap 1/1.5 = 0.6666...
    r = fairness_report(FairnessGate("g", min_group_size=4), y, pred, g, task="regression")
    assert r["max_relative_mae_gap"] == 0.666667 and r["checks"][0].observed == 0.666667


def test_regression_small_groups_do_not_count_toward_the_gap():
    y, pred, g = _regression(3.0, 1.0, n_a=4, n_b=2)
    # at min 4 only group x is eligible: one group, no gap
    only_one = fairness_report(FairnessGate("g", min_group_size=4), y, pred, g, task="regression")
    assert only_one["max_relative_mae_gap"] == 0.0 and only_one["checks"][0].passed is True
    # at min 2 both count (exactly at the minimum): gap (3 - 1) / (14/6)
    both = fairness_report(FairnessGate("g", min_group_size=2), y, pred, g, task="regression")
    assert both["max_relative_mae_gap"] == round(2.0 / (14.0 / 6.0), 6)
    assert both["checks"][0].passed is False


def test_regression_perfect_predictions_have_no_gap():
    y = np.arange(8, dtype=float)
    r = fairness_report(FairnessGate("g", min_group_size=4), y, y, np.array(["x"] * 4 + ["y"] * 4), task="regression")
    assert r["max_relative_mae_gap"] == 0.0
    assert r["checks"][0].passed is True
    assert r["checks"][0].message == "MAE gap between g groups is 0.0% of overall MAE 0.000, limit 25%"


# --- quality gate: metrics -------------------------------------------------------------------
def test_lower_is_better_metrics_and_quality_gate_defaults():
    assert LOWER_IS_BETTER == {"rmse", "mae", "mse", "log_loss"}
    gate = QualityGate()
    assert (gate.min_metrics, gate.max_metrics, gate.min_slice_metrics, gate.max_slice_metrics) == ({}, {}, {}, {})
    assert gate.slice_columns == ()
    assert (gate.min_slice_size, gate.primary_metric, gate.regression_tolerance) == (50, "roc_auc", 0.01)


def test_binary_classification_metrics():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.4, 0.05])
    m = compute_metrics("classification", y, p, s)
    # positive class 1 only (binary averaging): precision 2/3, recall 2/3 (macro would give 0.7333)
    assert m["n"] == 8 and m["accuracy"] == 0.75
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3) and m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(13 / 15)  # 13 of 15 positive/negative pairs ranked right
    assert m["confusion_matrix"] == {"labels": [0, 1], "matrix": [[4, 1], [1, 2]]}
    assert all(type(v) is int for v in m["confusion_matrix"]["labels"])  # plain JSON values, not numpy


def test_multiclass_metrics_are_macro_averaged_and_have_no_auc():
    y = np.array([0, 1, 2, 2])
    p = np.array([0, 2, 2, 2])
    m = compute_metrics("classification", y, p, np.array([0.1, 0.2, 0.3, 0.4]))
    assert m["accuracy"] == 0.75
    assert m["precision"] == pytest.approx((1 + 0 + 2 / 3) / 3)  # class 1 never predicted: 0, not a warning
    assert m["recall"] == pytest.approx((1 + 0 + 1) / 3)
    assert "roc_auc" not in m
    assert m["confusion_matrix"]["labels"] == [0, 1, 2]


def test_no_predicted_positive_scores_zero_precision():
    m = compute_metrics("classification", np.array([1, 0, 1, 0]), np.array([0, 0, 0, 0]))
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)
    assert "roc_auc" not in m  # no scores given


def test_auc_needs_both_classes_in_the_truth():
    m = compute_metrics("classification", np.array([1, 1]), np.array([1, 0]), np.array([0.9, 0.2]))
    assert "roc_auc" not in m and m["accuracy"] == 0.5


def test_regression_metrics_and_a_single_row():
    m = compute_metrics("regression", np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert m == {"n": 4, "r2": pytest.approx(1 - 4 / 5), "rmse": 1.0, "mae": 0.5}
    one = compute_metrics("regression", np.array([2.0]), np.array([3.0]))
    assert math.isnan(one["r2"]) and (one["rmse"], one["mae"], one["n"]) == (1.0, 1.0, 1)


class _Model:
    def __init__(self, proba=None):
        self._proba = proba

    def predict(self, X):
        return [0, 1]

    def __getattr__(self, name):
        if name == "predict_proba" and self._proba is not None:
            return lambda X: self._proba
        raise AttributeError(name)


def test_predict_for_metrics_scores_only_binary_classifiers_with_probabilities():
    y_pred, score = predict_for_metrics(_Model([[0.8, 0.2], [0.3, 0.7]]), None, "classification")
    assert y_pred.tolist() == [0, 1] and score.tolist() == [0.2, 0.7]
    assert predict_for_metrics(_Model([[0.8, 0.2], [0.3, 0.7]]), None, "regression")[1] is None
    assert predict_for_metrics(_Model([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), None, "classification")[1] is None
    assert predict_for_metrics(_Model([0.2, 0.7]), None, "classification")[1] is None  # one-dimensional
    y_pred, score = predict_for_metrics(_Model(), None, "classification")
    assert isinstance(y_pred, np.ndarray) and score is None


def test_slice_metrics_per_value_with_auc_only_on_two_class_slices():
    import pandas as pd

    frame = pd.DataFrame({"r": ["n", "n", "n", "n", "s", "s"], "k": [1, 1, 1, 2, 2, 2]})
    y = np.array([1, 0, 1, 0, 1, 1])
    p = np.array([1, 0, 0, 0, 1, 0])
    s = np.array([0.9, 0.1, 0.4, 0.2, 0.8, 0.3])
    out = slice_metrics("classification", frame, y, p, s, ("r", "k"))
    assert list(out) == ["r=n", "r=s", "k=1", "k=2"]
    assert out["r=n"]["n"] == 4 and out["r=n"]["accuracy"] == 0.75 and out["r=n"]["roc_auc"] == 1.0
    assert "roc_auc" not in out["r=s"] and out["r=s"]["accuracy"] == 0.5  # one class: AUC undefined
    assert out["k=2"]["n"] == 3 and out["k=2"]["roc_auc"] == 1.0
    assert all("confusion_matrix" not in m for m in out.values())
    no_scores = slice_metrics("classification", frame, y, p, None, ("r",))
    assert "roc_auc" not in no_scores["r=n"]


# --- quality gate: thresholds ----------------------------------------------------------------
def test_overall_minimum_passes_at_the_limit_and_fails_just_below():
    gate = QualityGate(min_metrics={"accuracy": 0.75, "f1": 0.5})
    at = _by_name(quality_checks(gate, {"accuracy": 0.75, "f1": 0.5}, {}))
    assert at["quality.accuracy"].passed is True and at["quality.f1"].passed is True
    assert at["quality.accuracy"].message == "accuracy = 0.7500, required >= 0.75"
    assert (at["quality.accuracy"].observed, at["quality.accuracy"].limit, at["quality.accuracy"].category) == (0.75, 0.75, "quality")
    below = _by_name(quality_checks(gate, {"accuracy": 0.7499, "f1": 0.4999}, {}))
    assert below["quality.accuracy"].passed is False and below["quality.f1"].passed is False
    assert below["quality.f1"].message == "f1 = 0.4999, required >= 0.5"


def test_overall_maximum_passes_at_the_limit_and_fails_just_above():
    gate = QualityGate(max_metrics={"rmse": 2.5, "mae": 1.0}, primary_metric="rmse")
    at = _by_name(quality_checks(gate, {"rmse": 2.5, "mae": 1.0}, {}))
    assert at["quality.rmse"].passed is True and at["quality.mae"].passed is True
    assert at["quality.rmse"].message == "rmse = 2.5000, required <= 2.5"
    above = _by_name(quality_checks(gate, {"rmse": 2.5001, "mae": 1.0001}, {}))
    assert above["quality.rmse"].passed is False and above["quality.mae"].passed is False
    assert above["quality.mae"].message == "mae = 1.0001, required <= 1.0"


def test_checks_come_in_order_minimums_maximums_slices_then_regression():
    gate = QualityGate(min_metrics={"accuracy": 0.5}, max_metrics={"rmse": 1.0}, min_slice_metrics={"accuracy": 0.5}, min_slice_size=2)
    checks = quality_checks(gate, {"accuracy": 0.6, "rmse": 0.5}, {"r=a": {"n": 2, "accuracy": 0.5}})
    assert [c.name for c in checks] == ["quality.accuracy", "quality.rmse", "slice.r=a.accuracy", "regression.vs_champion"]
    assert all(type(c.passed) is bool for c in checks)


def test_observed_is_rounded_to_six_places():
    (check, _) = quality_checks(QualityGate(min_metrics={"r2": 0.5}), {"r2": 2 / 3}, {})
    assert check.observed == 0.666667 and check.message == "r2 = 0.6667, required >= 0.5"


@pytest.mark.parametrize("value", [None, float("nan")])
def test_a_metric_that_could_not_be_computed_fails(value):
    gate = QualityGate(min_metrics={"roc_auc": 0.7}, max_metrics={"rmse": 1.0})
    overall = {} if value is None else {"roc_auc": value, "rmse": value}
    checks = _by_name(quality_checks(gate, overall, {}))
    low, high = checks["quality.roc_auc"], checks["quality.rmse"]
    assert (low.passed, low.observed, low.limit, low.category) == (False, None, 0.7, "quality")
    assert low.message == "roc_auc could not be computed, required >= 0.7"
    assert high.passed is False and high.message == "rmse could not be computed, required <= 1.0"


def test_slice_thresholds_at_and_past_each_limit():
    gate = QualityGate(min_slice_metrics={"accuracy": 0.75}, max_slice_metrics={"mae": 0.5}, min_slice_size=4)
    slices = {"r=n": {"n": 4, "accuracy": 0.75, "mae": 0.5}, "r=s": {"n": 9, "accuracy": 0.7499, "mae": 0.5001}}
    checks = _by_name(quality_checks(gate, {}, slices))
    assert checks["slice.r=n.accuracy"].passed is True and checks["slice.r=n.mae"].passed is True
    assert checks["slice.r=s.accuracy"].passed is False and checks["slice.r=s.mae"].passed is False
    assert checks["slice.r=n.accuracy"].message == "slice r=n (n=4): accuracy = 0.7500, required >= 0.75"
    assert checks["slice.r=s.mae"].message == "slice r=s (n=9): mae = 0.5001, required <= 0.5"
    assert {c.category for n, c in checks.items() if n.startswith("slice.")} == {"slice"}
    assert not any(c.advisory for c in checks.values())


def test_slice_metric_not_computed_is_skipped_but_nan_fails():
    gate = QualityGate(min_slice_metrics={"roc_auc": 0.6}, max_slice_metrics={"mae": 1.0}, min_slice_size=4)
    checks = _by_name(quality_checks(gate, {}, {"r=a": {"n": 4}, "r=b": {"n": 4, "roc_auc": float("nan")}}))
    assert "slice.r=a.roc_auc" not in checks and "slice.r=a.mae" not in checks  # one-class slice: no AUC
    nan = checks["slice.r=b.roc_auc"]
    assert nan.passed is False and nan.category == "slice"
    assert nan.message == "slice r=b (n=4): roc_auc could not be computed, required >= 0.6"


def test_a_slice_below_minimum_support_is_a_warning_not_gated():
    gate = QualityGate(min_slice_metrics={"accuracy": 0.9}, max_slice_metrics={"mae": 0.1}, min_slice_size=5)
    checks = _by_name(quality_checks(gate, {}, {"r=a": {"n": 4, "accuracy": 0.0, "mae": 9.0}, "r=b": {"n": 5, "accuracy": 0.0}}))
    support = checks["slice.r=a.support"]
    assert (support.passed, support.advisory, support.category, support.observed, support.limit) == (False, True, "slice", 4, 5)
    assert support.message == ("slice r=a has 4 test rows, below the minimum support of 5: "
                               "its metrics are reported but not gated (too few rows to trust them)")
    assert "slice.r=a.accuracy" not in checks and "slice.r=a.mae" not in checks
    assert "slice.r=b.support" not in checks and checks["slice.r=b.accuracy"].passed is False  # at the minimum: gated


def test_a_slice_without_a_row_count_counts_as_empty():
    checks = _by_name(quality_checks(QualityGate(min_slice_size=1), {}, {"r=a": {}}))
    assert checks["slice.r=a.support"].observed == 0
    assert checks["slice.r=a.support"].message.startswith("slice r=a has 0 test rows, below the minimum support of 1:")


def test_default_minimum_slice_support_is_fifty_rows():
    checks = _by_name(quality_checks(QualityGate(), {}, {"r=a": {"n": 49}, "r=b": {"n": 50}}))
    assert "slice.r=a.support" in checks and "slice.r=b.support" not in checks


# --- quality gate: no regression against the champion ----------------------------------------
def test_without_a_champion_the_regression_check_passes():
    (check,) = quality_checks(QualityGate(), {"roc_auc": 0.1}, {})
    assert (check.name, check.passed, check.category, check.advisory) == ("regression.vs_champion", True, "regression", False)
    assert check.message == "no approved champion to compare against yet"


def test_higher_is_better_drop_passes_at_the_tolerance_and_fails_past_it():
    gate = QualityGate(regression_tolerance=0.25)
    champion = {"name": "credit", "version": "1.2.0", "metrics": {"roc_auc": 0.75}}
    at = quality_checks(gate, {"roc_auc": 0.5}, {}, champion)[-1]
    assert (at.name, at.passed, at.observed, at.limit, at.category) == ("regression.vs_champion", True, 0.5, 0.5, "regression")
    assert at.message == "roc_auc 0.5000 vs champion credit 1.2.0 0.7500 on the same test set (worse by 0.2500, tolerance 0.25)"
    past = quality_checks(gate, {"roc_auc": 0.4999}, {}, champion)[-1]
    assert past.passed is False and past.message.endswith("(worse by 0.2501, tolerance 0.25)")
    better = quality_checks(gate, {"roc_auc": 0.875}, {}, champion)[-1]
    assert better.passed is True and "(worse by 0.0000, tolerance 0.25)" in better.message


def test_lower_is_better_rise_passes_at_the_tolerance_and_fails_past_it():
    gate = QualityGate(primary_metric="rmse", regression_tolerance=0.25)
    champion = {"version": "3", "metrics": {"rmse": 1.0}}
    at = quality_checks(gate, {"rmse": 1.25}, {}, champion)[-1]
    assert (at.passed, at.observed, at.limit) == (True, 1.25, 1.25)
    assert at.message == "rmse 1.2500 vs champion  3 1.0000 on the same test set (worse by 0.2500, tolerance 0.25)"
    assert quality_checks(gate, {"rmse": 1.2501}, {}, champion)[-1].passed is False
    assert quality_checks(gate, {"rmse": 0.5}, {}, champion)[-1].passed is True


@pytest.mark.parametrize("metric", sorted(LOWER_IS_BETTER))
def test_every_lower_is_better_metric_is_worse_when_it_rises(metric):
    gate = QualityGate(primary_metric=metric, regression_tolerance=0.0)
    champion = {"metrics": {metric: 1.0}}
    assert quality_checks(gate, {metric: 1.5}, {}, champion)[-1].passed is False
    assert quality_checks(gate, {metric: 0.5}, {}, champion)[-1].passed is True


def test_default_tolerance_is_one_hundredth():
    champion = {"metrics": {"roc_auc": 0.8}}
    assert quality_checks(QualityGate(), {"roc_auc": 0.795}, {}, champion)[-1].passed is True
    assert quality_checks(QualityGate(), {"roc_auc": 0.78}, {}, champion)[-1].passed is False


def test_an_incomparable_champion_is_skipped_with_a_reason():
    gate = QualityGate(primary_metric="r2")
    missing_new = quality_checks(gate, {}, {}, {"name": "m", "version": "2", "metrics": {"r2": 0.5}})[-1]
    assert (missing_new.passed, missing_new.category) == (True, "regression")
    assert missing_new.message == "champion m 2: r2 not comparable, skipped"
    missing_old = quality_checks(gate, {"r2": 0.5}, {}, {})[-1]
    assert missing_old.passed is True and missing_old.message == "champion: r2 not comparable, skipped"


def test_champion_comparison_figures_are_rounded_to_six_places():
    gate = QualityGate(primary_metric="r2", regression_tolerance=0.0)
    check = quality_checks(gate, {"r2": 1 / 3}, {}, {"metrics": {"r2": 2 / 3}})[-1]
    assert (check.observed, check.limit) == (0.333333, 0.666667)
    lower = quality_checks(QualityGate(primary_metric="mae", regression_tolerance=0.0), {"mae": 1 / 3}, {}, {"metrics": {"mae": 2 / 3}})[-1]
    assert (lower.passed, lower.observed, lower.limit) == (True, 0.333333, 0.666667)


def test_two_rows_are_enough_for_r2():
    m = compute_metrics("regression", np.array([1.0, 3.0]), np.array([1.0, 2.0]))
    assert m["r2"] == 0.5 and m["rmse"] == pytest.approx(np.sqrt(0.5)) and m["mae"] == 0.5


def test_quality_gate_cannot_be_loosened_after_it_is_built():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        QualityGate().regression_tolerance = 1.0
