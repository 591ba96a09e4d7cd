"""Mutation pins for ``modelway.stages.staleness``: which rows train and which score (windows, the
per-window cap, the time column), the quality-by-age table against closed forms, the drop for
higher- and lower-is-better metrics on both sides of ``max_drop``, and too few usable windows."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_absolute_error, r2_score

import modelway.stages.staleness as staleness
from modelway.stages.staleness import StalenessCheck, staleness_check


def test_docstring_examples_hold():
    result = doctest.testmod(staleness, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults():
    assert dataclasses.asdict(StalenessCheck()) == {"windows": 3, "time_column": None, "max_rows_per_window": 2500, "max_drop": None}
    assert staleness.LOWER_IS_BETTER == {"rmse", "mae", "mse", "log_loss"}


@pytest.fixture(scope="module")
def drifting():
    """300 rows in arrival order; the slope of y on x is 1, 2, 3 in the three thirds (no noise)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    slope = np.repeat([1.0, 2.0, 3.0], 100)
    return pd.DataFrame({"x": x, "y": x * slope, "t": np.arange(300)})


def _r2_when_trained_on(frame, train_rows, test_rows):
    model = LinearRegression().fit(frame.iloc[train_rows][["x"]], frame.iloc[train_rows]["y"])
    return round(float(r2_score(frame.iloc[test_rows]["y"], model.predict(frame.iloc[test_rows][["x"]]))), 6)


def test_quality_by_age_is_scored_on_the_newest_window(drifting):
    check, table = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                                   config=StalenessCheck())
    newest = list(range(200, 300))
    age1, age2 = _r2_when_trained_on(drifting, range(100, 200), newest), _r2_when_trained_on(drifting, range(0, 100), newest)
    assert age1 > age2
    assert table == {"metric": "r2", "ordered_by": "row order", "newest_rows": 100,
                     "by_age": [{"age": 1, "train_rows": 100, "r2": age1}, {"age": 2, "train_rows": 100, "r2": age2}],
                     "drop": round(age1 - age2, 6)}
    assert (check.name, check.passed, check.observed, check.limit, check.category) == (
        "staleness.impact", True, round(age1 - age2, 6), None, "staleness")
    assert check.message == (f"r2 on the newest window when trained on older windows (by arrival (row order), 100 newest rows): "
                             f"age 1: {age1:.4f}, age 2: {age2:.4f}; the oldest window loses {age1 - age2:+.4f} "
                             "(reported; set max_drop to gate)")


def test_max_drop_gates_on_both_sides(drifting):
    _, table = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                               config=StalenessCheck())
    drop = table["drop"]
    at, _ = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                            config=StalenessCheck(max_drop=drop + 1e-9))
    assert at.passed and at.limit == drop + 1e-9 and not at.message.endswith("(reported; set max_drop to gate)")
    over, _ = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                              config=StalenessCheck(max_drop=drop - 1e-3))
    assert not over.passed and over.message.endswith(f"the oldest window loses {drop:+.4f}")


def test_a_lower_is_better_metric_drops_when_it_rises(drifting):
    check, table = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="mae",
                                   config=StalenessCheck(max_drop=0.0))
    fresh, stale = table["by_age"][0]["mae"], table["by_age"][1]["mae"]
    model = LinearRegression().fit(drifting.iloc[100:200][["x"]], drifting.iloc[100:200]["y"])
    assert fresh == round(float(mean_absolute_error(drifting.iloc[200:]["y"], model.predict(drifting.iloc[200:][["x"]]))), 6)
    assert stale > fresh and table["drop"] == round(stale - fresh, 6) and not check.passed
    assert check.observed == table["drop"] > 0


def test_windows_the_per_window_cap_and_the_time_column(drifting):
    check, table = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                                   config=StalenessCheck(windows=4, max_rows_per_window=10))
    assert [r["age"] for r in table["by_age"]] == [1, 2, 3] and [r["train_rows"] for r in table["by_age"]] == [10, 10, 10]
    assert table["newest_rows"] == 75
    newest = list(range(225, 300))
    assert table["by_age"][0]["r2"] == _r2_when_trained_on(drifting, range(215, 225), newest)     # the newest rows of a window
    assert table["by_age"][2]["r2"] == _r2_when_trained_on(drifting, range(65, 75), newest)
    assert table["drop"] == round(table["by_age"][0]["r2"] - table["by_age"][2]["r2"], 6) != round(
        table["by_age"][0]["r2"] - table["by_age"][1]["r2"], 6)                                  # freshest minus the oldest
    shuffled = drifting.sample(frac=1.0, random_state=0)                                           # arrival order = the index
    by_index = staleness_check(LinearRegression(), shuffled, features=["x"], label="y", task="regression", metric="r2",
                               config=StalenessCheck())[1]
    plain = staleness_check(LinearRegression(), drifting, features=["x"], label="y", task="regression", metric="r2",
                            config=StalenessCheck())[1]
    assert by_index == plain
    reversed_time = drifting.assign(t=-drifting["t"])                                             # the oldest rows come last
    check, timed = staleness_check(LinearRegression(), reversed_time, features=["x"], label="y", task="regression", metric="r2",
                                   config=StalenessCheck(time_column="t"))
    assert timed["ordered_by"] == "t" and "(by t, 100 newest rows)" in check.message
    assert timed["by_age"][0]["r2"] == _r2_when_trained_on(drifting, range(100, 200), list(range(0, 100)))


def test_too_few_usable_windows():
    frame = pd.DataFrame({"x": np.arange(60.0), "y": [0] * 40 + [0, 1] * 10})
    check, table = staleness_check(LogisticRegression(), frame, features=["x"], label="y", task="classification", metric="roc_auc",
                                   config=StalenessCheck())
    assert table == {"metric": "roc_auc", "by_age": []}                       # both older windows hold one class only
    assert (check.name, check.passed, check.message, check.category, check.observed) == (
        "staleness.impact", True, "too few usable windows (0) to measure staleness", "staleness", None)
    gated, _ = staleness_check(LogisticRegression(), frame, features=["x"], label="y", task="classification", metric="roc_auc",
                               config=StalenessCheck(max_drop=0.1))
    assert not gated.passed
    two = pd.DataFrame({"x": np.arange(60.0), "y": [0, 1] * 30})
    check, table = staleness_check(LinearRegression(), two, features=["x"], label="y", task="regression", metric="no_such_metric",
                                   config=StalenessCheck())
    assert table["by_age"] == [{"age": 1, "train_rows": 20, "no_such_metric": None}, {"age": 2, "train_rows": 20, "no_such_metric": None}]
    assert check.message == "too few usable windows (0) to measure staleness"
    one = staleness_check(LinearRegression(), two, features=["x"], label="y", task="regression", metric="r2", config=StalenessCheck(windows=2))
    assert one[0].message == "too few usable windows (1) to measure staleness" and len(one[1]["by_age"]) == 1


def test_two_class_windows_are_used_for_a_classifier():
    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "y": (x > 0).astype(int)})
    check, table = staleness_check(LogisticRegression(), frame, features=["x"], label="y", task="classification", metric="roc_auc",
                                   config=StalenessCheck(max_drop=0.0))
    assert [(r["age"], r["train_rows"]) for r in table["by_age"]] == [(1, 100), (2, 100)]
    assert table["by_age"][0]["roc_auc"] == table["by_age"][1]["roc_auc"] == 1.0
    assert check.passed and check.observed == 0.0 and check.message.endswith("the oldest window loses +0.0000")


def test_the_settings_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        StalenessCheck().windows = 4


def test_a_one_class_window_is_skipped_and_older_windows_are_still_used():
    x = np.random.default_rng(4).normal(size=200)
    frame = pd.DataFrame({"x": x, "y": (x > 0).astype(int)})
    frame.loc[frame.index[100:150], "y"] = 1          # the window just before the newest holds one class only
    _, table = staleness_check(LogisticRegression(), frame, features=["x"], label="y", task="classification", metric="roc_auc",
                               config=StalenessCheck(windows=4))
    assert [r["age"] for r in table["by_age"]] == [2, 3] and all(r["roc_auc"] is not None for r in table["by_age"])
