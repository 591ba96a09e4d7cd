"""Pins on the ML Test Score checks' wiring and decisions (``stages/ml_tests.py``).

Fast on purpose: ``make mutate`` runs this file once per mutant. The heavy checks (permutation
importance, staleness, baselines, ...) have their own tests; here they are replaced by fakes
that record what they were given, so what is pinned is which checks a configuration runs, in
which order, on which data, and the decisions this module makes itself: derived features
(D7), reproducible refits (I1) and the explained held-out row (I5), each on both sides of
its tolerance and by the message a user reads.
"""
from __future__ import annotations

import functools
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.metrics import get_scorer

from modelway.stages import explain as explain_module
from modelway.stages import ml_tests
from modelway.stages.explain import Contribution, Explanation, Stage
from modelway.stages.gates import CheckResult
from modelway.stages.ml_tests import (
    SCORERS,
    MLTests,
    derived_features_check,
    explain_check,
    reproducibility_check,
    run_ml_tests,
)


# --- which checks run, on what ---------------------------------------------------------------
def test_every_scorer_name_is_one_sklearn_knows_and_errors_are_negated():
    for metric, scorer in SCORERS.items():
        get_scorer(scorer)  # raises on an unknown name
    assert SCORERS["mae"] == "neg_mean_absolute_error" and SCORERS["rmse"] == "neg_root_mean_squared_error"
    assert {m: SCORERS[m] for m in ("roc_auc", "accuracy", "f1", "r2")} == {m: m for m in ("roc_auc", "accuracy", "f1", "r2")}


def test_defaults_turn_every_check_on():
    t = MLTests()
    assert all(x is not None for x in (t.features, t.baselines, t.staleness, t.screening, t.targeted))
    assert (t.reproducibility_rows, t.explain_reference_rows, dict(t.derived_features)) == (1000, 4, {})


TRAIN = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0, 1, 0], "y": [0, 1, 0]}, index=[0, 1, 2])
TEST = pd.DataFrame({"a": [4.0, 5.0], "b": [1, 1], "y": [1, 0]}, index=[3, 4])


@pytest.fixture
def fakes(monkeypatch):
    """Replace each check ``run_ml_tests`` calls with a recorder returning a named passing check."""
    calls: dict[str, tuple] = {}

    def fake(name, evidence=True, many=False):
        def check(*args, **kwargs):
            calls[name] = (args, kwargs)
            result = CheckResult(name, True, name)
            out = [result] if many else result
            return (out, {"from": name}) if evidence else out
        return check

    for name in ("importance_check", "cost_check", "staleness_check", "targeted_check", "explain_check"):
        monkeypatch.setattr(ml_tests, name, fake(name))
    for name in ("screening_checks", "baseline_checks"):
        monkeypatch.setattr(ml_tests, name, fake(name, many=True))
    for name in ("derived_features_check", "reproducibility_check", "dependency_check"):
        monkeypatch.setattr(ml_tests, name, fake(name, evidence=False))
    monkeypatch.setattr(ml_tests, "model_libraries", lambda model: {"sklearn": "1.0"})
    return calls


def _run(tests: MLTests, **kw):
    inner = object()
    trained = types.SimpleNamespace(model=types.SimpleNamespace(model=inner), features=("a", "b"))
    split = types.SimpleNamespace(train=TRAIN, test=TEST)
    checks, evidence = run_ml_tests(split, trained, task=kw.pop("task", "classification"), label="y",
                                    primary_metric=kw.pop("metric", "mae"), overall={"mae": 0.5, "roc_auc": 0.9}, tests=tests, **kw)
    return checks, evidence, trained


def test_all_checks_off_leaves_only_the_dependency_check(fakes):
    off = MLTests(features=None, baselines=None, staleness=None, screening=None, targeted=None,
                  reproducibility_rows=None, explain_reference_rows=0)
    checks, evidence, _ = _run(off)
    assert [c.name for c in checks] == ["dependency_check"]
    assert evidence == {"libraries": {"sklearn": "1.0"}}
    assert fakes["dependency_check"][0] == ({"sklearn": "1.0"}, None, "the champion")


def test_all_checks_on_run_in_order_on_the_right_data(fakes):
    derived = {"a": lambda d: d["a"]}
    checks, evidence, trained = _run(MLTests(derived_features=derived, reproducibility_rows=7, explain_reference_rows=3),
                                     champion_libraries={"sklearn": "0.9"}, champion_label="credit 1.0.0")
    assert [c.name for c in checks] == ["derived_features_check", "importance_check", "cost_check", "screening_checks",
                                        "baseline_checks", "staleness_check", "reproducibility_check", "explain_check",
                                        "targeted_check", "dependency_check"]
    assert evidence == {"importance": {"from": "importance_check"}, "feature_cost": {"from": "cost_check"},
                        "screening": {"from": "screening_checks"}, "baselines": {"from": "baseline_checks"},
                        "staleness": {"from": "staleness_check"}, "explanation": {"from": "explain_check"},
                        "targeted_perturbation": {"from": "targeted_check"}, "libraries": {"sklearn": "1.0"}}
    frame, fns = fakes["derived_features_check"][0]
    assert list(frame.index) == [0, 1, 2, 3, 4] and fns is derived  # train and test together
    (model, X_test, y_test), kw = fakes["importance_check"]
    assert model is trained.model and list(X_test.columns) == ["a", "b"] and list(X_test.index) == [3, 4]
    assert y_test.tolist() == [1, 0] and kw["scoring"] == "neg_mean_absolute_error"
    assert list(fakes["cost_check"][0][1].index) == [3, 4]
    args, kw = fakes["screening_checks"]
    assert args[0] is TRAIN and kw["features"] == ["a", "b"] and kw["label"] == "y" and kw["task"] == "classification"
    args, _ = fakes["baseline_checks"]
    assert args[:3] == ("classification", "mae", 0.5)
    assert list(args[3].columns) == ["a", "b"] and list(args[3].index) == [0, 1, 2] and args[4].tolist() == [0, 1, 0]
    assert list(args[5].index) == [3, 4] and args[6].tolist() == [1, 0]
    args, kw = fakes["staleness_check"]
    assert args[0] is trained.model.model and list(args[1].index) == [0, 1, 2, 3, 4]  # the estimator inside the guard
    assert (kw["features"], kw["label"], kw["task"], kw["metric"]) == (["a", "b"], "y", "classification", "mae")
    assert fakes["reproducibility_check"][0][0] is trained.model.model
    assert fakes["reproducibility_check"][0][1:] == (TRAIN, ["a", "b"], "y", 7)
    assert fakes["explain_check"][0][0] is trained.model and fakes["explain_check"][0][3] == 3
    assert fakes["targeted_check"][1] == {"classifier": True}
    assert fakes["dependency_check"][0] == ({"sklearn": "1.0"}, {"sklearn": "0.9"}, "credit 1.0.0")


def test_a_regression_run_maps_its_metric_and_is_not_a_classifier(fakes):
    _run(MLTests(), task="regression", metric="r2")
    assert fakes["importance_check"][1]["scoring"] == "r2"
    assert fakes["targeted_check"][1] == {"classifier": False}
    _run(MLTests(), metric="neg_log_loss")
    assert fakes["importance_check"][1]["scoring"] == "neg_log_loss"  # unknown names go to sklearn as they are


def test_a_model_without_a_guard_is_its_own_estimator(fakes):
    bare = types.SimpleNamespace()
    split = types.SimpleNamespace(train=TRAIN, test=TEST)
    run_ml_tests(split, types.SimpleNamespace(model=bare, features=["a"]), task="regression", label="y",
                 primary_metric="r2", overall={}, tests=MLTests())
    assert fakes["staleness_check"][0][0] is bare and fakes["baseline_checks"][0][2] is None


# --- D7: derived features --------------------------------------------------------------------
def double(d):
    return d["a"] * 2


FRAME = pd.DataFrame({"a": [1.0, 2.0, 0.0], "b": [2.0, 4.0, 0.0], "s": ["x1", "x2", "x0"]}, index=[10, 11, 12])


def test_derived_columns_that_match_pass_and_are_named():
    check = derived_features_check(FRAME, {"b": double, "s": lambda d: "x" + d["a"].astype(int).astype(str)})
    assert (check.name, check.passed, check.category, check.count) == ("features.derived", True, "features", None)
    assert check.message == "2 derived column(s) match their unit-tested functions on 3 rows: double -> b, <lambda> -> s"
    nameless = derived_features_check(FRAME, {"b": functools.partial(double)})
    assert nameless.message.endswith("on 3 rows: fn -> b")


def test_numeric_columns_match_within_a_billionth_and_nan_equals_nan():
    close = FRAME.assign(b=[2.0 * (1 + 5e-10), 4.0, 5e-13])
    assert derived_features_check(close, {"b": double}).passed is True
    far = FRAME.assign(b=[2.0 * (1 + 5e-9), 4.0, 0.0])
    assert derived_features_check(far, {"b": double}).passed is False
    tiny = FRAME.assign(b=[2.0, 4.0, 1.5e-12])  # just past the absolute tolerance (1e-12) at zero
    assert derived_features_check(tiny, {"b": double}).count == 1
    just_past = FRAME.assign(b=[2.0 * (1 + 1.5e-9), 4.0, 0.0])  # just past the relative tolerance (1e-9)
    assert derived_features_check(just_past, {"b": double}).count == 1
    nan = FRAME.assign(a=[1.0, np.nan, 0.0], b=[2.0, np.nan, 0.0])
    assert derived_features_check(nan, {"b": double}).passed is True


def test_a_column_that_differs_fails_with_its_count_and_first_example():
    stored = FRAME.assign(b=[2.0, 5.0, 1.0], s=["x1", "x2", "x9"])
    check = derived_features_check(stored, {"b": double, "s": lambda d: "x" + d["a"].astype(int).astype(str)})
    assert (check.name, check.passed, check.count, check.category) == ("features.derived", False, 3, "features")
    assert check.message == "derived columns differ from their feature functions: b (2 rows), s (1 rows)"
    assert check.examples == [{"_row": 11, "column": "b", "stored": 5.0, "recomputed": 4.0},
                              {"_row": 12, "column": "s", "stored": "x9", "recomputed": "x0"}]
    assert all(type(v) in (int, float, str) for e in check.examples for v in e.values())  # plain JSON values


def test_a_missing_derived_column_counts_every_row():
    check = derived_features_check(FRAME, {"c": double})
    assert (check.passed, check.count, check.examples) == (False, 3, [])
    assert check.message == "derived columns differ from their feature functions: c (3 rows)"


def test_a_missing_column_does_not_stop_the_other_columns_being_checked():
    check = derived_features_check(FRAME.assign(b=[2.0, 4.0, 1.0]), {"c": double, "b": double})
    assert check.message == "derived columns differ from their feature functions: c (3 rows), b (1 rows)"
    assert check.count == 4 and [e["column"] for e in check.examples] == ["b"]


def test_text_against_numbers_is_compared_as_text():
    frame = pd.DataFrame({"a": [1, 2], "t": ["1", "2"], "u": ["one", "two"]})
    assert derived_features_check(frame, {"t": lambda d: d["a"]}).passed is True
    words = derived_features_check(frame, {"u": lambda d: d["a"]})  # text that is no number: differs, no crash
    assert (words.passed, words.count) == (False, 2)


# --- I1: reproducible refits -----------------------------------------------------------------
class _Noisy(BaseEstimator):
    """Predicts ``x * scale`` plus a different offset on every fit (``jitter``) when asked to."""

    fits = 0

    def __init__(self, jitter=0.0, as_int=False):
        self.jitter = jitter
        self.as_int = as_int

    def fit(self, X, y):
        type(self).fits += 1
        self.offset_ = self.jitter * type(self).fits
        self.rows_ = len(X)
        return self

    def predict(self, X):
        out = X["x"].to_numpy(float) + self.offset_
        return out.round().astype(int) if self.as_int else out


REPRO = pd.DataFrame({"x": np.arange(1.0, 11.0), "y": np.arange(10.0)})


def test_identical_refits_pass():
    check = reproducibility_check(_Noisy(), REPRO, ["x"], "y", 6)
    assert (check.name, check.passed, check.observed, check.limit, check.count, check.category) == (
        "reproducibility.refit", True, 0, 0, None, "reproducibility")
    assert check.message == "refitting the tuned estimator twice on the same 6 rows gives identical predictions"


def test_refits_within_a_billionth_are_identical_and_beyond_are_not():
    assert reproducibility_check(_Noisy(jitter=1e-10), REPRO, ["x"], "y", 10).passed is True
    check = reproducibility_check(_Noisy(jitter=1e-6), REPRO, ["x"], "y", 4)
    assert (check.passed, check.observed, check.limit, check.count) == (False, 4, 0, 4)
    assert check.message == ("refitting the tuned estimator twice on the same 4 rows changes 4 predictions: seed every "
                             "random component (random_state)")


def test_refits_just_past_each_tolerance_differ():
    assert reproducibility_check(_Noisy(jitter=1.5e-9), REPRO, ["x"], "y", 1).observed == 1  # x = 1: past rtol 1e-9
    at_zero = pd.DataFrame({"x": [0.0], "y": [0.0]})
    assert reproducibility_check(_Noisy(jitter=1.5e-12), at_zero, ["x"], "y", 1).observed == 1  # past atol 1e-12


def test_class_predictions_are_compared_exactly():
    check = reproducibility_check(_Noisy(jitter=1.0, as_int=True), REPRO, ["x"], "y", 10)
    assert (check.passed, check.observed) == (False, 10)
    same = reproducibility_check(_Noisy(as_int=True), REPRO, ["x"], "y", 10)
    assert (same.passed, same.observed) == (True, 0)


# --- I5: the explained held-out row ----------------------------------------------------------
class _Guarded:
    schema = types.SimpleNamespace(features=(types.SimpleNamespace(name="a", kind="numeric"),))


def _explanation(contributions, *, output_value=0.0, base_value=0.0, replay=True):
    return Explanation(method="linear", output="prediction", output_value=output_value, base_value=base_value,
                       contributions=tuple(Contribution(f, v, c) for f, v, c in contributions),
                       stages=(Stage("scale", "StandardScaler", {}), Stage("model", "Ridge", {})),
                       prediction=output_value, probabilities=None, replay_matches=replay, note="n")


@pytest.fixture
def explained(monkeypatch):
    """``explain_row`` returns ``explained[0]`` (or raises it) and records the reference rows it draws."""
    box: list = [None, None]

    def fake(model, row, *, reference):
        box[1] = (row, reference())
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]

    monkeypatch.setattr(explain_module, "explain_row", fake)
    return box


ROWS = pd.DataFrame({"a": [3.0, 9.0]}, index=[41, 42])
EXPLAIN_TRAIN = pd.DataFrame({"a": np.arange(40.0)})


def test_an_explained_row_whose_parts_add_up_passes(explained):
    explained[0] = _explanation([("a", 3.0, 1.5), ("b", 1, -0.25)], output_value=2.25, base_value=1.0)
    check, evidence = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 5)
    assert (check.name, check.passed, check.category, check.observed) == ("debug.explain", True, "debuggability", 0.0)
    assert check.limit == 2.25e-6
    assert check.message == ("held-out row 41 stepped through 2 stages reproduces the model's prediction 2.25; "
                             "its linear contributions add up to it (largest: a +1.5)")
    row, reference = explained[1]
    assert list(row.index) == [41] and len(reference) == 5 and list(reference.columns) == ["a"]
    assert evidence == {"row": 41, "method": "linear", "output": "prediction", "output_value": 2.25, "base_value": 1.0,
                        "note": "n", "stages": ["scale: StandardScaler", "model: Ridge"],
                        "contributions": [{"feature": "a", "value": 3.0, "contribution": 1.5},
                                          {"feature": "b", "value": 1, "contribution": -0.25}]}


def test_no_contributions_has_no_largest(explained):
    explained[0] = _explanation([])
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert check.passed is True and check.message.endswith("contributions add up to it")


def test_at_most_ten_contributions_are_kept_as_evidence(explained):
    explained[0] = _explanation([(f"f{i}", i, 0.0) for i in range(12)])
    _, evidence = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert [c["feature"] for c in evidence["contributions"]] == [f"f{i}" for i in range(10)]


def test_additivity_tolerance_is_a_millionth_of_the_output_at_least_of_one(explained):
    explained[0] = _explanation([("a", 1, 1e-6)])  # output 0: tolerance 1e-6, error exactly 1e-6
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert (check.passed, check.observed, check.limit) == (True, 1e-6, 1e-6)
    explained[0] = _explanation([("a", 1, 1.5e-6)])
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert check.passed is False
    assert check.message == "the contributions of held-out row 41 miss its prediction by 1.5e-06"
    for output in (4.0, -4.0):  # tolerance 4e-6 either sign: an error of 2e-6 passes
        explained[0] = _explanation([("a", 1, output), ("b", 1, 2e-6)], output_value=output)
        check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
        assert check.passed is True and check.limit == 4e-6


def test_a_non_finite_contribution_fails(explained):
    explained[0] = _explanation([("a", 1, float("inf")), ("b", 1, float("-inf"))])  # inf - inf: the error is nan
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert check.passed is False
    explained[0] = _explanation([("a", 1, 0.0), ("b", 1, float("nan"))])
    assert explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)[0].passed is False


def test_a_replay_that_does_not_match_fails_with_its_reason(explained):
    explained[0] = _explanation([("a", 1, 0.0)], replay=False)
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert check.passed is False
    assert check.message == ("replaying held-out row 41 stage by stage does not reproduce the model's output "
                             "(a stateful or random stage?): the model cannot be debugged one row at a time")


def test_a_row_that_cannot_be_explained_fails_with_the_error(explained):
    explained[0] = ValueError("no linear stage")
    check, evidence = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert (check.name, check.passed, check.category, evidence) == ("debug.explain", False, "debuggability", {})
    assert check.message == "held-out row 41 cannot be explained: ValueError: no linear stage"


def test_ml_tests_configuration_is_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        MLTests().baselines = None


def test_explain_figures_are_rounded_to_twelve_places(explained):
    explained[0] = _explanation([("a", 1, 1.23456789 + 1.2345678901e-7)], output_value=1.23456789)
    check, _ = explain_check(_Guarded(), EXPLAIN_TRAIN, ROWS, 4)
    assert check.passed is True  # 1.2e-7 is within 1e-6 x 1.23
    assert check.observed == pytest.approx(1.23457e-07, abs=1e-18) and check.limit == pytest.approx(1.234568e-06, abs=1e-18)
