"""Mutation pins for ``modelway.stages.data_screening``: the outlier and label-noise screens' messages,
shares and example rows, each limit on both sides, the thresholds that decide a flag, and the cases
the screens step aside (no numeric feature, a class too small to cross-validate)."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pytest

import modelway.stages.data_screening as data_screening
from modelway.stages.data_screening import DataScreening, screening_checks


def test_docstring_examples_hold():
    result = doctest.testmod(data_screening, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults():
    assert dataclasses.asdict(DataScreening()) == {"max_outlier_share": None, "max_label_noise_share": None, "outlier_score": 0.65,
                                                   "noise_probability": 0.05, "noise_mads": 6.0, "max_rows": 5000, "seed": 0}


@pytest.fixture(scope="module")
def frame():
    """300 rows, 30 labels flipped, one far outlier (row 5)."""
    rng = np.random.default_rng(0)
    f = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    f["y"] = (f["x"] > 0).astype(int)
    f.loc[f.index[:30], "y"] = 1 - f.loc[f.index[:30], "y"]
    f.loc[f.index[5], "x"] = 50.0
    return f


def test_classification_screens_report_without_limits(frame):
    (outliers, noise), summary = screening_checks(frame, features=["x", "c"], label="y", task="classification", config=DataScreening())
    assert summary == {"rows": 300, "outlier_share": 0.02, "label_noise_share": 0.05}
    assert (outliers.name, outliers.passed, outliers.observed, outliers.limit, outliers.count, outliers.category) == (
        "data.screening.outliers", True, 0.02, None, 6, "data")
    assert outliers.message == ("2.00% of 300 training rows are outliers (IsolationForest anomaly score > 0.65) "
                                "(reported; set a limit to gate)")
    assert outliers.examples[0] == {"_row": 5, "x": 50.0, "c": "b", "y": 0} and len(outliers.examples) == 3
    assert [e["_row"] for e in outliers.examples] == [5, 219, 238]
    assert (noise.name, noise.passed, noise.observed, noise.count) == ("data.screening.label_noise", True, 0.05, 15)
    assert noise.message == ("5.00% of 300 training rows are labels that out-of-fold predictions contradict (p(label) < 0.05) "
                             "(reported; set a limit to gate)")
    assert [e["_row"] for e in noise.examples] == [5, 6, 7] and all(e["_row"] < 30 or e["_row"] == 5 for e in noise.examples)


def test_limits_gate_on_both_sides(frame):
    at = screening_checks(frame, features=["x", "c"], label="y", task="classification",
                          config=DataScreening(max_outlier_share=0.02, max_label_noise_share=0.05))[0]
    assert [c.passed for c in at] == [True, True] and [c.limit for c in at] == [0.02, 0.05]
    assert at[0].message.endswith("(IsolationForest anomaly score > 0.65), limit 2.00%")
    assert at[1].message.endswith("(p(label) < 0.05), limit 5.00%")
    over = screening_checks(frame, features=["x", "c"], label="y", task="classification",
                            config=DataScreening(max_outlier_share=0.0199, max_label_noise_share=0.0499))[0]
    assert [c.passed for c in over] == [False, False]


def test_the_flag_thresholds(frame):
    def shares(**config):
        return screening_checks(frame, features=["x"], label="y", task="classification", config=DataScreening(**config))[1]

    assert shares(outlier_score=1.0)["outlier_share"] == 0.0 and shares(outlier_score=0.0)["outlier_share"] == 1.0
    assert shares(noise_probability=0.0)["label_noise_share"] == 0.0
    assert shares(noise_probability=1.0)["label_noise_share"] == 1.0
    strict = shares(noise_probability=0.2)["label_noise_share"]
    assert 0.05 < strict < 0.2
    assert shares(outlier_score=0.6, seed=0) == shares(outlier_score=0.6)


def test_regression_noise_by_mads_at_the_limit(frame):
    rng = np.random.default_rng(1)
    r = frame.assign(y=frame["x"] * 2 + rng.normal(scale=0.1, size=300))
    r.loc[r.index[:6], "y"] += 30
    (outliers, noise), summary = screening_checks(r, features=["x"], label="y", task="regression",
                                                  config=DataScreening(max_label_noise_share=0.02, max_outlier_share=0.0))
    assert noise.passed and noise.count == 6 and [e["_row"] for e in noise.examples] == [0, 1, 2]
    assert noise.message == ("2.00% of 300 training rows are labels that out-of-fold predictions contradict (residual > 6.0 MADs), "
                             "limit 2.00%")
    assert not outliers.passed and outliers.message.endswith("limit 0.00%")
    wide = screening_checks(r, features=["x"], label="y", task="regression", config=DataScreening(noise_mads=1e6))[1]
    assert wide["label_noise_share"] == 0.0
    tight = screening_checks(r, features=["x"], label="y", task="regression", config=DataScreening(noise_mads=0.0))[1]
    assert 0.4 < tight["label_noise_share"] < 0.6                       # above the median residual


def test_rows_beyond_max_rows_are_sampled(frame):
    _, summary = screening_checks(frame, features=["x"], label="y", task="classification", config=DataScreening(max_rows=100))
    assert summary["rows"] == 100
    assert screening_checks(frame, features=["x"], label="y", task="classification", config=DataScreening(max_rows=300))[1]["rows"] == 300
    checks, _ = screening_checks(frame, features=["x"], label="y", task="classification", config=DataScreening(max_rows=100, outlier_score=0))
    assert checks[0].message.startswith("100.00% of 100 training rows")


def test_screens_step_aside_when_they_cannot_run():
    f = pd.DataFrame({"c": ["a", "b", "a", "b", "a", "b", "a", "b"], "y": [0, 1, 0, 1, 0, 1, 0, 0]})
    (outliers, noise), summary = screening_checks(f, features=["c"], label="y", task="classification",
                                                  config=DataScreening(max_outlier_share=0.0, max_label_noise_share=0.0))
    assert summary == {"rows": 8, "outlier_share": 0.0, "label_noise_share": 0.0} and outliers.passed and noise.passed
    assert outliers.examples == [] and outliers.count == 0
    two = pd.DataFrame({"x": np.arange(8.0), "y": [0, 0, 0, 0, 0, 0, 1, 1]})        # a class of 2 rows: no 3-fold
    assert screening_checks(two, features=["x"], label="y", task="classification", config=DataScreening(noise_probability=1.0))[1][
        "label_noise_share"] == 0.0
    three = two.assign(y=[0, 0, 0, 0, 0, 1, 1, 1])
    assert screening_checks(three, features=["x"], label="y", task="classification", config=DataScreening(noise_probability=1.0))[1][
        "label_noise_share"] == 1.0
    one = two.assign(y=0)
    assert screening_checks(one, features=["x"], label="y", task="classification", config=DataScreening(noise_probability=1.0))[1][
        "label_noise_share"] == 0.0


def test_missing_numbers_are_filled_before_the_forest():
    f = pd.DataFrame({"x": [1.0, 2.0, np.nan, 2.0, 1.0, 2.0] * 5, "y": [0, 1] * 15})
    checks, summary = screening_checks(f, features=["x"], label="y", task="classification", config=DataScreening(outlier_score=1.0))
    assert summary["outlier_share"] == 0.0


def test_share_check_of_no_rows():
    check = data_screening._share_check("n", "w", np.zeros(0, dtype=bool), pd.DataFrame({"a": []}), 0.0)
    assert check.passed and check.observed == 0.0 and check.count == 0
    assert check.message == "0.00% of 0 training rows are w, limit 0.00%"


def test_missing_values_in_the_features_are_screened_not_a_crash():
    # a real bug, fixed: the label-noise screen's linear model got the NaN the outlier screen had filled,
    # and every run whose training data held a missing value stopped with sklearn's "Input X contains NaN"
    f = pd.DataFrame({"x": [1.0, -2.0, np.nan, 2.0, -1.0, 3.0] * 5, "k": ["a", None, "b", "a", "b", None] * 5})
    f["y"] = (f["x"].fillna(0) > 0).astype(int)
    checks, summary = screening_checks(f, features=["x", "k"], label="y", task="classification", config=DataScreening(outlier_score=1.0))
    assert summary == {"rows": 30, "outlier_share": 0.0, "label_noise_share": 0.0}
    _, summary = screening_checks(f.assign(y=f["x"].fillna(0) * 2), features=["x", "k"], label="y", task="regression",
                                  config=DataScreening(outlier_score=1.0))
    assert summary["rows"] == 30 and summary["label_noise_share"] < 0.2


def test_the_settings_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DataScreening().seed = 1


def test_exact_shares_where_the_screens_are_sensitive(frame):
    # thresholds inside the bulk of the scores: the share moves with the forest's size, the folds and the MAD,
    # and a share of k/300 shows its rounding to six places
    _, summary = screening_checks(frame, features=["x"], label="y", task="classification",
                                  config=DataScreening(outlier_score=0.5, noise_probability=0.2))
    assert summary == {"rows": 300, "outlier_share": 0.106667, "label_noise_share": 0.073333}
    rng = np.random.default_rng(1)
    r = frame.assign(y=frame["x"] * 2 + rng.normal(scale=0.1, size=300))
    r.loc[r.index[:6], "y"] += 30
    _, summary = screening_checks(r, features=["x"], label="y", task="regression", config=DataScreening(noise_mads=2.0))
    assert summary["label_noise_share"] == 0.156667


def test_exactly_max_rows_are_not_resampled(frame):
    checks, _ = screening_checks(frame, features=["x"], label="y", task="classification", config=DataScreening(max_rows=300))
    assert [e["_row"] for e in checks[0].examples] == [5, 219, 238]        # the frame's own order, not a shuffle
