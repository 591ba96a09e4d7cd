"""Pins on the quality gate's thresholds (``stages/evaluation.py``): metrics, overall and slice limits, champion regression.

Fast on purpose (no model is trained): ``make mutate`` runs this file once per mutant. Every
input is a handful of hand-made rows with fixed predictions (or hand-written metric values), so
each threshold is tested exactly at its limit (passes) and just past it (fails), and each
failure is checked by the message a user reads.
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


def _by_name(checks):
    return {c.name: c for c in checks}


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
    assert (missing_new.name, missing_new.passed, missing_new.category) == ("regression.vs_champion", True, "regression")
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


def test_a_test_set_without_positives_scores_zero_never_a_perfect_one():
    # recall and F1 are undefined without a positive row: reported as 0, so a min limit fails
    m = compute_metrics("classification", np.array([0, 0, 0]), np.array([0, 0, 0]))
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"]) == (1.0, 0.0, 0.0, 0.0)
    checks = quality_checks(QualityGate(min_metrics={"recall": 0.5, "f1": 0.5}), m, {})
    assert [c.passed for c in checks[:2]] == [False, False]
