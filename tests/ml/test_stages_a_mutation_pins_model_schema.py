"""Mutation pins for ``modelway.stages.model_schema``: what the schema infers and serialises, every
refusal of :meth:`ModelSchema.check` word for word, and the output checks of :class:`GuardedModel`
(prediction count, unknown classes, probabilities just inside and just outside [0, 1])."""
from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.linear_model import LinearRegression, LogisticRegression

import modelway.stages.model_schema as model_schema
from modelway.datasets.credit_features import add_derived_features
from modelway.errors import UserError
from modelway.stages.model_schema import FeatureSpec, GuardedModel, ModelSchema, SchemaMismatch


def test_docstring_examples_hold():
    result = doctest.testmod(model_schema, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


FRAME = pd.DataFrame({"n": [1.0, 2.0], "i": np.array([1, 2], dtype="int32"), "b": [True, False], "c": ["x", "y"]})


def test_infer_kinds_dtypes_and_plain_classes():
    s = ModelSchema.infer(FRAME, task="classification", classes=np.array([0, 1]))
    assert s.features == (FeatureSpec("n", "numeric", "float64"), FeatureSpec("i", "numeric", "int32"),
                          FeatureSpec("b", "categorical", "bool"), FeatureSpec("c", "categorical", s.features[3].dtype))
    assert s.classes == (0, 1) and all(type(c) is int for c in s.classes)
    assert (s.task, s.feature_function, s.derived) == ("classification", None, ())
    assert s.feature_names == ["n", "i", "b", "c"]
    assert ModelSchema.infer(pd.DataFrame({1: [1.0]}), task="regression").feature_names == ["1"]
    assert ModelSchema(s.features, "regression").classes == () and ModelSchema(s.features, "regression").derived == ()


def test_infer_records_the_feature_function():
    frame = pd.DataFrame({"loan_amount": [1.0], "annual_income": [2.0], "loan_to_income": [0.5]})
    s = ModelSchema.infer(frame, task="regression", feature_function=add_derived_features)
    ref = "modelway.datasets.credit_features:add_derived_features"
    assert (s.feature_function, s.derived) == (ref, ("loan_to_income",))
    assert s.signature() == {"features": [["loan_amount", "numeric"], ["annual_income", "numeric"], ["loan_to_income", "numeric"]],
                             "task": "regression", "feature_function": {"ref": ref, "outputs": ["loan_to_income"]}}
    d = s.to_dict()
    assert d["feature_function"] == {"ref": ref, "outputs": ["loan_to_income"]} and ModelSchema.from_dict(d) == s
    with pytest.raises(UserError) as caught:
        ModelSchema.infer(frame.drop(columns="loan_to_income"), task="regression", feature_function=add_derived_features)
    assert str(caught.value) == f"feature function {ref} adds ['loan_to_income'], which are not model features"


def test_signature_and_dict_round_trip():
    s = ModelSchema.infer(FRAME[["n", "c"]], task="classification", classes=["no", "yes"])
    assert s.signature() == {"features": [["n", "numeric"], ["c", "categorical"]], "task": "classification"}
    assert s.to_dict() == {"features": [{"name": "n", "kind": "numeric", "dtype": "float64"},
                                        {"name": "c", "kind": "categorical", "dtype": s.features[1].dtype}],
                           "task": "classification", "classes": ["no", "yes"]}
    assert ModelSchema.from_dict(s.to_dict()) == s
    bare = ModelSchema.from_dict({"features": [{"name": "a", "kind": "numeric", "dtype": "float64"}], "task": "regression"})
    assert bare == ModelSchema((FeatureSpec("a", "numeric", "float64"),), "regression")
    assert ModelSchema.from_dict({**s.to_dict(), "feature_function": None}) == s


SCHEMA = ModelSchema.infer(pd.DataFrame({"x": [1.0], "c": ["a"]}), task="regression")


def test_check_accepts_a_dict_a_dict_of_lists_and_a_list_of_dicts_and_orders_columns():
    assert SCHEMA.check({"c": "b", "x": 2, "extra": 1}).to_dict("list") == {"x": [2], "c": ["b"]}
    assert SCHEMA.check({"c": ["b", "d"], "x": [2.0, 3.0]}).to_dict("list") == {"x": [2.0, 3.0], "c": ["b", "d"]}
    assert SCHEMA.check([{"c": "b", "x": 1.0}, {"x": 2.0, "c": "e"}]).to_dict("list") == {"x": [1.0, 2.0], "c": ["b", "e"]}
    # a real bug, fixed: a one-row dict holding None crashed with pandas' "If using all scalar values, you must pass an index"
    assert SCHEMA.check({"x": float("nan"), "c": None}).to_dict("list") == {"x": [pytest.approx(np.nan, nan_ok=True)], "c": [None]}
    with pytest.raises(SchemaMismatch, match=r"^model input column 'x' must be numeric, got dtype object \(e.g. None\)"):
        SCHEMA.check({"x": None, "c": "a"})
    frame = pd.DataFrame({"c": [None, None], "x": [np.nan, 1.0]})
    assert list(SCHEMA.check(frame).columns) == ["x", "c"]
    assert list(SCHEMA.check(pd.DataFrame({"c": [np.nan], "x": [1.0]})).columns) == ["x", "c"]   # an all-missing category


@pytest.mark.parametrize(("data", "message"), [
    ([], "model input must be a table with named columns (DataFrame, dict or list of dicts), got list; expected columns ['x', 'c']"),
    ([[1.0, "a"]], "model input must be a table with named columns (DataFrame, dict or list of dicts), got list; expected columns ['x', 'c']"),
    (np.zeros((1, 2)), "model input must be a table with named columns (DataFrame, dict or list of dicts), got ndarray; "
                       "expected columns ['x', 'c']"),
    (pd.DataFrame({"c": ["a"], "y": [1]}), "model input is missing column(s) ['x']; expected columns ['x', 'c'] (got ['c', 'y'])"),
    (pd.DataFrame({0: [1]}), "model input is missing column(s) ['x', 'c']; expected columns ['x', 'c'] (got ['0'])"),
    (pd.DataFrame({"x": ["1", None], "c": ["a", "b"]}), "model input column 'x' must be numeric, got dtype "),
    (pd.DataFrame({"x": [True], "c": ["a"]}), "model input column 'x' must be numeric, got dtype bool (e.g. True); "
                                              "convert it before predicting"),
    (pd.DataFrame({"x": [None], "c": ["a"]}, dtype=object), "model input column 'x' must be numeric, got dtype object (e.g. None); "
                                                            "convert it before predicting"),
    (pd.DataFrame({"x": [1.0], "c": [3]}), "model input column 'c' must be categorical (strings), got numeric dtype int64"),
])
def test_check_refusals(data, message):
    with pytest.raises(SchemaMismatch) as caught:
        SCHEMA.check(data)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, UserError)


def test_a_numeric_column_of_text_names_an_example():
    with pytest.raises(SchemaMismatch) as caught:
        SCHEMA.check(pd.DataFrame({"x": [None, "7"], "c": ["a", "b"]}))
    assert str(caught.value).endswith(" (e.g. '7'); convert it before predicting")


# --- the guarded model --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    clf = GuardedModel(LogisticRegression().fit(X, [0, 0, 1, 1]), ModelSchema.infer(X, task="classification", classes=[0, 1]))
    reg = GuardedModel(LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0]), ModelSchema.infer(X, task="regression"))
    return X, clf, reg


def test_the_task_decides_what_sklearn_sees(fitted):
    X, clf, reg = fitted
    assert clf._estimator_type == "classifier" and is_classifier(clf) and not is_regressor(clf)
    assert reg._estimator_type == "regressor" and is_regressor(reg) and not is_classifier(reg)
    assert clf.classes_.tolist() == [0, 1] and clf.feature_names_in_.tolist() == ["a"] and clf.feature_names_in_.dtype == object
    assert reg.classes_.tolist() == []
    schema_only = GuardedModel(LinearRegression().fit(X, [0, 1, 2, 3]), ModelSchema(reg.schema.features, "classification", ("p", "q")))
    assert schema_only.classes_.tolist() == ["p", "q"]


def test_fit_checks_its_input_and_returns_the_model(fitted):
    X, _, reg = fitted
    m = GuardedModel(LinearRegression(), reg.schema)
    assert m.fit(X.assign(extra=1.0), [0.0, 2.0, 4.0, 6.0]) is m
    assert m.model.coef_.tolist() == pytest.approx([2.0]) and m.model.n_features_in_ == 1
    with pytest.raises(SchemaMismatch, match=r"^model input is missing column\(s\) \['a'\]"):
        m.fit(pd.DataFrame({"b": [1.0]}), [1.0])


def test_predict_and_score_positive(fitted):
    X, clf, reg = fitted
    assert clf.predict(X).tolist() == [0, 0, 1, 1] and clf.score_positive(X).tolist() == pytest.approx(clf.predict_proba(X)[:, 1].tolist())
    assert reg.score_positive(X).tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(SchemaMismatch) as caught:
        reg.predict_proba(X)
    assert str(caught.value) == "predict_proba is only available for classifiers"


class Fake:
    """An inner model answering whatever it is told to."""

    def __init__(self, predictions=None, proba=None):
        self.predictions, self.proba = predictions, proba

    def predict(self, X):
        return np.asarray(self.predictions)

    def predict_proba(self, X):
        return np.asarray(self.proba)


def _guard(inner, classes=(0, 1), task="classification"):
    return GuardedModel(inner, ModelSchema((FeatureSpec("a", "numeric", "float64"),), task, tuple(classes)))


ROWS = pd.DataFrame({"a": [1.0, 2.0]})


def test_output_checks_of_predict():
    with pytest.raises(SchemaMismatch) as caught:
        _guard(Fake([0])).predict(ROWS)
    assert str(caught.value) == "model returned 1 predictions for 2 rows"
    with pytest.raises(SchemaMismatch) as caught:
        _guard(Fake([0, 0, 1])).predict(ROWS)
    assert str(caught.value) == "model returned 3 predictions for 2 rows"
    with pytest.raises(SchemaMismatch) as caught:
        _guard(Fake([3, 2])).predict(ROWS)
    assert str(caught.value) == "model predicted unknown class(es) [2, 3]; classes are [0, 1]"
    assert _guard(Fake([1, 0])).predict(ROWS).tolist() == [1, 0]
    assert _guard(Fake([7, 8]), classes=()).predict(ROWS).tolist() == [7, 8]              # no classes recorded: not checked
    assert _guard(Fake([7.5, 8.0]), classes=(0, 1), task="regression").predict(ROWS).tolist() == [7.5, 8.0]


@pytest.mark.parametrize("proba", [[[0.0, 1.0], [1 + 1e-10, -1e-10]], [[0.5, 0.5], [0.2, 0.8]]])
def test_probabilities_within_rounding_of_the_unit_interval_pass(proba):
    assert _guard(Fake(proba=proba)).predict_proba(ROWS).tolist() == proba


@pytest.mark.parametrize("proba", [[[0.5, 0.5]], [[0.5, 0.5]] * 3, [[0.0, 1.0], [1 + 2e-9, 0.0]], [[0.0, 1.0], [-2e-9, 1.0]]])
def test_probabilities_outside_the_unit_interval_or_of_the_wrong_shape_fail(proba):
    with pytest.raises(SchemaMismatch) as caught:
        _guard(Fake(proba=proba)).predict_proba(ROWS)
    assert str(caught.value) == "model returned probabilities outside [0, 1] or of the wrong shape"


def test_no_rows_no_probabilities_to_check():
    assert _guard(Fake(proba=np.zeros((0, 2)))).predict_proba(ROWS.iloc[:0]).shape == (0, 2)


def test_schemas_are_immutable():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEMA.task = "classification"
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCHEMA.features[0].kind = "categorical"


def test_the_inner_model_classes_win_and_score_positive_is_the_last_column():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    inner = LogisticRegression().fit(X, ["p", "p", "q", "q", "r", "r"])
    model = GuardedModel(inner, ModelSchema.infer(X, task="classification"))
    assert model.classes_.tolist() == ["p", "q", "r"]
    assert model.score_positive(X).tolist() == pytest.approx(inner.predict_proba(X)[:, 2].tolist())
