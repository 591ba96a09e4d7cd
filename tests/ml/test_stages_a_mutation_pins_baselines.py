"""Mutation pins for ``modelway.stages.baselines``: the baseline estimators, the scores and margins
reported, and the verdict and message on both sides of the margin for higher- and lower-is-better
metrics (including a score that could not be computed)."""
from __future__ import annotations

import dataclasses
import doctest
import math

import numpy as np
import pandas as pd
import pytest

import modelway.stages.baselines as baselines
from modelway.stages.baselines import BaselineGate, baseline_checks, baseline_models


def test_docstring_examples_hold():
    result = doctest.testmod(baselines, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults_and_lower_is_better_metrics():
    assert dataclasses.asdict(BaselineGate()) == {"min_margin_over_dummy": 0.05, "min_margin_over_linear": 0.0, "seed": 0}
    assert baselines.LOWER_IS_BETTER == {"rmse", "mae", "mse", "log_loss"}


def test_the_baseline_estimators():
    X = pd.DataFrame({"n": [1.0, 2.0], "i": [1, 2], "b": [True, False], "c": ["x", "y"]})
    clf = baseline_models("classification", X)
    assert type(clf["dummy"]).__name__ == "DummyClassifier" and clf["dummy"].strategy == "prior"
    model = clf["linear"].named_steps["model"]
    assert type(model).__name__ == "LogisticRegression" and (model.max_iter, model.class_weight) == (500, "balanced")
    prep = clf["linear"].named_steps["prep"]
    (num_name, num, num_cols), (cat_name, cat, cat_cols) = prep.transformers
    assert (num_name, num_cols, cat_name, cat_cols) == ("num", ["n", "i"], "cat", ["b", "c"])
    assert [type(s).__name__ for s in num.named_steps.values()] == ["SimpleImputer", "StandardScaler"]
    assert num.steps[0][1].strategy == "median"
    assert type(cat).__name__ == "OneHotEncoder" and cat.handle_unknown == "ignore"
    reg = baseline_models("regression", X)
    assert type(reg["dummy"]).__name__ == "DummyRegressor" and reg["dummy"].strategy == "mean"
    assert type(reg["linear"].named_steps["model"]).__name__ == "Ridge" and reg["linear"].named_steps["model"].alpha == 1.0
    assert list(reg) == ["dummy", "linear"] and list(clf) == ["dummy", "linear"]


@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "k": rng.choice(["a", "b"], 200)})
    y = 2 * X["x"].to_numpy() + (X["k"] == "a") * 1.0 + rng.normal(scale=0.1, size=200)
    return X[:150], y[:150], X[150:], y[150:]


def test_scores_margins_and_both_sides_of_the_margin(linear_data):
    X_tr, y_tr, X_te, y_te = linear_data
    checks, table = baseline_checks("regression", "r2", 0.5, X_tr, y_tr, X_te, y_te, BaselineGate())
    scores = table["baselines"]
    assert list(scores) == ["dummy", "linear"] and scores["dummy"] < 0.0 < 0.99 < scores["linear"]
    assert scores["linear"] == round(scores["linear"], 6)
    assert table == {"metric": "r2", "candidate": 0.5, "baselines": scores, "margins": {"dummy": 0.05, "linear": 0.0}}
    dummy, linear = checks
    assert (dummy.name, dummy.passed, dummy.observed, dummy.limit, dummy.category) == (
        "baseline.dummy", True, 0.5, round(scores["dummy"] + 0.05, 6), "baseline")
    assert dummy.message == (f"candidate r2 0.5000 vs dummy baseline {scores['dummy']:.4f} on the same split: better by "
                             f"{0.5 - scores['dummy']:.4f}, required margin +0.0500")
    assert (linear.name, linear.passed, linear.limit) == ("baseline.linear", False, scores["linear"])
    assert linear.message == (f"candidate r2 0.5000 vs linear baseline {scores['linear']:.4f} on the same split: worse by "
                              f"{scores['linear'] - 0.5:.4f}, required margin +0.0000")
    even = baseline_checks("regression", "r2", scores["linear"], X_tr, y_tr, X_te, y_te, BaselineGate())[0]
    assert [c.passed for c in even] == [True, True] and "better by 0.0000" in even[1].message
    short = baseline_checks("regression", "r2", scores["linear"], X_tr, y_tr, X_te, y_te,
                            BaselineGate(min_margin_over_dummy=scores["linear"] - scores["dummy"] + 1e-3, min_margin_over_linear=1e-3))[0]
    assert [c.passed for c in short] == [False, False]
    tolerant = baseline_checks("regression", "r2", scores["linear"] - 0.005, X_tr, y_tr, X_te, y_te,
                               BaselineGate(min_margin_over_linear=-0.01))[0]
    assert tolerant[1].passed and tolerant[1].message.endswith("worse by 0.0050, required margin -0.0100")


def test_lower_is_better_metrics(linear_data):
    X_tr, y_tr, X_te, y_te = linear_data
    checks, table = baseline_checks("regression", "rmse", 0.5, X_tr, y_tr, X_te, y_te, BaselineGate(min_margin_over_linear=-1.0))
    dummy_rmse, linear_rmse = table["baselines"]["dummy"], table["baselines"]["linear"]
    assert linear_rmse < 0.5 < dummy_rmse
    assert checks[0].passed and checks[0].limit == round(dummy_rmse - 0.05, 6)
    assert checks[0].message.startswith(f"candidate rmse 0.5000 vs dummy baseline {dummy_rmse:.4f} on the same split: better by "
                                        f"{dummy_rmse - 0.5:.4f}")
    assert checks[1].passed and checks[1].limit == round(linear_rmse + 1.0, 6)
    assert f"worse by {0.5 - linear_rmse:.4f}, required margin -1.0000" in checks[1].message


def test_beats_at_the_margin_and_without_a_score():
    at = baselines._beats("baseline.dummy", "roc_auc", 0.75, 0.5, 0.25)
    assert at.passed and at.limit == 0.75 and at.observed == 0.75
    assert not baselines._beats("baseline.dummy", "roc_auc", 0.75, 0.5, 0.2500001).passed
    low = baselines._beats("baseline.linear", "log_loss", 0.25, 0.5, 0.25)
    assert low.passed and low.limit == 0.25 and low.message == (
        "candidate log_loss 0.2500 vs linear baseline 0.5000 on the same split: better by 0.2500, required margin +0.2500")
    assert not baselines._beats("baseline.linear", "log_loss", 0.2500001, 0.5, 0.25).passed
    same = baselines._beats("baseline.linear", "mae", 0.5, 0.5, 0.0)
    assert same.passed and "better by 0.0000" in same.message
    for candidate, baseline in [(None, 0.5), (0.5, None), (math.nan, 0.5), (0.5, math.nan)]:
        missing = baselines._beats("baseline.dummy", "r2", candidate, baseline, 0.0)
        assert (missing.passed, missing.message, missing.observed, missing.limit, missing.category) == (
            False, "r2 could not be computed for the candidate or the baseline.dummy model", None, None, "baseline")


def test_classification_baselines_score_roc_auc():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=300), "flag": rng.choice([True, False], 300)})
    y = (X["x"] > 0).astype(int).to_numpy()
    checks, table = baseline_checks("classification", "roc_auc", 0.9, X[:200], y[:200], X[200:], y[200:], BaselineGate())
    assert table["baselines"]["dummy"] == 0.5 and table["baselines"]["linear"] > 0.95
    assert [c.passed for c in checks] == [True, False]
    missing = baseline_checks("classification", "no_such_metric", 0.9, X[:200], y[:200], X[200:], y[200:], BaselineGate())[0]
    assert [c.message for c in missing] == ["no_such_metric could not be computed for the candidate or the baseline.dummy model",
                                            "no_such_metric could not be computed for the candidate or the baseline.linear model"]


def test_the_settings_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BaselineGate().seed = 1


def test_regression_baseline_step_names():
    reg = baseline_models("regression", pd.DataFrame({"n": [1.0]}))
    assert list(reg["linear"].named_steps) == ["prep", "model"]


def test_a_classifier_trained_on_more_classes_than_the_test_split_holds_scores_roc_auc_as_a_constant():
    # three classes in training, two in the test split: no positive-class column to score, so each baseline
    # is scored as a constant (roc_auc 0.5) rather than not at all
    X = pd.DataFrame({"x": np.arange(60.0)})
    y_train = np.repeat([0, 1, 2], 20)
    X_test, y_test = pd.DataFrame({"x": [5.0, 25.0, 6.0, 26.0]}), np.array([0, 1, 0, 1])
    checks, table = baseline_checks("classification", "roc_auc", 0.9, X, y_train, X_test, y_test, BaselineGate())
    assert table["baselines"] == {"dummy": 0.5, "linear": 0.5}
    assert [c.passed for c in checks] == [True, True] and checks[1].limit == 0.5
    regression = baseline_checks("regression", "roc_auc", 0.9, X, y_train.astype(float), X_test, y_test.astype(float), BaselineGate())
    assert regression[1]["baselines"] == {"dummy": None, "linear": None}
