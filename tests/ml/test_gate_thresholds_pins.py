"""Pins on the fairness gate's thresholds (``stages/fairness.py``; the quality gate's are in ``test_quality_gate_pins.py``).

Fast on purpose (no model is trained): ``make mutate`` runs this file once per mutant. Every
input is a handful of hand-made rows with fixed predictions whose metrics are exact binary
fractions, so each threshold is tested exactly at its limit (passes) and just past it (fails),
and each failure is checked by the message a user reads.
"""
from __future__ import annotations

import numpy as np
import pytest

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

