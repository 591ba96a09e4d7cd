"""Mutation pins for ``modelway.stages.explain``: the messages a user reads for a bad row, the
exact contributions of small closed-form models, the reference rows drawn from a profile, and
the docstring examples (they are part of the module's documented behaviour)."""
from __future__ import annotations

import dataclasses
import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.svm import LinearSVC

import modelway.stages.explain as explain
from modelway.errors import UserError
from modelway.profiling.profile import build_profile
from modelway.stages.explain import (Contribution, Explanation, RowError, explain_row, read_row, reference_rows, row_frame,
                                     shapley_values, with_derived_features)
from modelway.stages.model_schema import GuardedModel, ModelSchema


def test_docstring_examples_hold():
    result = doctest.testmod(explain, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_documented_limits():
    assert (explain.MAX_EXACT_FEATURES, explain.DEFAULT_REFERENCE_ROWS, explain.PERMUTATIONS) == (14, 10, 128)


# --- reading a row --------------------------------------------------------------------------------


def test_inline_json_a_one_element_list_and_surrounding_blanks_are_one_row():
    assert read_row('  [{"a": 1}]  ') == ({"a": 1}, "--row JSON")
    assert read_row(' {"a": null}\n') == ({"a": None}, "--row JSON")


@pytest.mark.parametrize(("text", "message"), [
    ('[{"a": 1}, {"a": 2}]', "--row JSON holds 2 rows; explain takes exactly one (a JSON object: column -> value)"),
    ("[]", "--row JSON holds 0 rows; explain takes exactly one (a JSON object: column -> value)"),
    ("[3]", "--row JSON must be a JSON object (column -> value), got int"),
    ('["a"]', "--row JSON must be a JSON object (column -> value), got str"),
])
def test_inline_json_that_is_not_one_object_is_refused(text, message):
    with pytest.raises(RowError) as caught:
        read_row(text)
    assert str(caught.value) == message


def test_row_files_csv_and_json(tmp_path):
    csv_file = tmp_path / "row.CSV"
    csv_file.write_text("age,region,income\n41,,7.5\n")
    assert read_row(str(csv_file)) == ({"age": "41", "region": None, "income": "7.5"}, f"row file {csv_file}")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("age\n41,extra\n")              # an extra cell has no column name: dropped
    assert read_row(str(ragged)) == ({"age": "41"}, f"row file {ragged}")
    json_file = tmp_path / "row.Json"
    json_file.write_text('[{"age": 41}]')
    assert read_row(str(json_file)) == ({"age": 41}, f"row file {json_file}")


def test_bad_row_files_are_named(tmp_path):
    def message(path):
        with pytest.raises(RowError) as caught:
            read_row(str(path))
        return str(caught.value)

    absent = tmp_path / "absent.json"
    assert message(absent) == (f"row file {absent} does not exist (pass a .json or .csv file, or the row itself as a JSON object)")
    assert message(tmp_path) == (f"row file {tmp_path} does not exist (pass a .json or .csv file, or the row itself as a JSON object)")
    two = tmp_path / "two.csv"
    two.write_text("a\n1\n2\n")
    assert message(two) == f"row file {two} has 2 data rows; explain takes exactly one (a header line and one row)"
    none = tmp_path / "none.csv"
    none.write_text("a\n")
    assert message(none) == f"row file {none} has 0 data rows; explain takes exactly one (a header line and one row)"
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert message(broken) == (f"row file {broken} is not valid JSON: Expecting property name enclosed in double quotes "
                               "at line 1 column 2")
    many = tmp_path / "many.json"
    many.write_text("[{}, {}, {}]")
    assert message(many) == f"row file {many} holds 3 rows; explain takes exactly one (a JSON object: column -> value)"
    text = tmp_path / "row.txt"
    text.write_text("{}")
    assert message(text) == f"row file {text}: expected a .json or .csv file (got .txt)"
    bare = tmp_path / "row"
    bare.write_text("{}")
    assert message(bare) == f"row file {bare}: expected a .json or .csv file (got no suffix)"


def test_bad_json_names_the_line_and_column():
    with pytest.raises(RowError) as caught:
        read_row('{"a": 1,\n "b": }')
    assert str(caught.value) == "--row JSON is not valid JSON: Expecting value at line 2 column 7"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- typing a row by the schema ---------------------------------------------------------------------

SCHEMA = ModelSchema.infer(pd.DataFrame({"age": [30.0], "region": ["north"]}), task="regression")


@pytest.mark.parametrize(("values", "message"), [
    ({"region": "x"}, "f.csv: missing column(s) ['age']; the model needs ['age', 'region']"),
    ({}, "f.csv: missing column(s) ['age', 'region']; the model needs ['age', 'region']"),
    ({"age": True, "region": "x"}, "f.csv: column 'age' must be a number, got true"),
    ({"age": False, "region": "x"}, "f.csv: column 'age' must be a number, got false"),
    ({"age": [1], "region": "x"}, "f.csv: column 'age' must be a number, got [1]"),
    ({"age": "", "region": "x"}, "f.csv: column 'age' must be a number, got ''"),
    ({"age": 1, "region": 3}, "f.csv: column 'region' is categorical and must be text, got 3"),
    ({"age": 1, "region": True}, "f.csv: column 'region' is categorical and must be text, got True"),
])
def test_row_frame_refuses_a_missing_or_mistyped_column(values, message):
    with pytest.raises(RowError) as caught:
        row_frame(values, SCHEMA, "f.csv")
    assert str(caught.value) == message


def test_row_frame_types_each_column_by_the_schema():
    frame = row_frame({"region": None, "age": 7, "extra": "ignored"}, SCHEMA, "w")
    assert list(frame.columns) == ["age", "region"] and frame.dtypes.tolist() == [np.dtype("float64"), np.dtype("object")]
    assert frame["age"].iloc[0] == 7.0 and frame["region"].iloc[0] is None
    assert math.isnan(row_frame({"age": None, "region": "s"}, SCHEMA, "w")["age"].iloc[0])
    assert row_frame({"age": 2.5, "region": "s"}, SCHEMA, "w")["age"].iloc[0] == 2.5
    assert row_frame({"age": " 3e2 ", "region": "s"}, SCHEMA, "w")["age"].iloc[0] == 300.0


# --- derived features -------------------------------------------------------------------------------

REGISTERED = {"features": [["loan_amount", "numeric"], ["annual_income", "numeric"], ["region", "categorical"],
                           ["loan_to_income", "numeric"]],
              "feature_function": {"ref": "modelway.datasets.credit_features:add_derived_features", "outputs": ["loan_to_income"]}}


def test_derived_features_are_computed_by_the_registered_function():
    got = with_derived_features({"loan_amount": "10000", "annual_income": 40000, "region": "north"}, REGISTERED, "w")
    assert got == {"loan_amount": "10000", "annual_income": 40000, "region": "north", "loan_to_income": 0.25}
    assert type(got["loan_to_income"]) is float
    given = {"loan_amount": 1.0, "annual_income": 2.0, "region": "n", "loan_to_income": 9.0}
    assert with_derived_features(given, REGISTERED, "w") is given              # a value the row gives is kept
    plain = {"a": 1}
    assert with_derived_features(plain, {"features": [["a", "numeric"]]}, "w") is plain
    assert with_derived_features(plain, {"features": [["a", "numeric"]], "feature_function": None}, "w") is plain
    assert with_derived_features(plain, {"feature_function": {"ref": "x:y", "outputs": None}}, "w") is plain


def test_derived_features_need_every_client_field():
    with pytest.raises(RowError) as caught:
        with_derived_features({"loan_amount": 1.0}, REGISTERED, "row.json")
    assert str(caught.value) == ("row.json: missing column(s) ['annual_income', 'region']; the model needs "
                                 "['loan_amount', 'annual_income', 'region'] (its feature function derives ['loan_to_income'])")
    with pytest.raises(RowError, match=r"^row.json: column 'annual_income' must be a number, got 'x'$"):
        with_derived_features({"loan_amount": 1.0, "annual_income": "x", "region": "n"}, REGISTERED, "row.json")


# --- reference rows -----------------------------------------------------------------------------------


def _profile():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None, None],
                          "c": ["a", "a", "a", "a", "a", "b", "b", "b", None, None]})
    return build_profile(frame, {"x": "numeric", "c": "categorical"})


def test_reference_rows_keep_the_missing_rate_the_quantiles_and_the_category_shares():
    rows = reference_rows(_profile(), ["x", "c"], 5)
    assert list(rows.columns) == ["x", "c"] and len(rows) == 5
    assert rows["x"].dtype == np.dtype("float64") and rows["c"].dtype == np.dtype("object")
    assert int(rows["x"].isna().sum()) == 1 and int(rows["c"].isna().sum()) == 1      # 20% missing of 5 rows
    assert sorted(rows["x"].dropna().tolist()) == [1.0, 3.0, 5.0, 7.0]                  # quantiles (i + .5)/4
    assert sorted(rows["c"].dropna().tolist()) == ["a", "a", "a", "b"]                  # 5:3 of 4: quotas 2.5, 1.5, tie to the first
    default = reference_rows(_profile(), ["x"])
    assert len(default) == 10 and int(default["x"].isna().sum()) == 2
    assert sorted(default["x"].dropna().tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


def test_reference_rows_are_shuffled_per_column_by_the_seed():
    profile = build_profile(pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40.0)}), {"x": "numeric", "y": "numeric"})
    a, b = reference_rows(profile, ["x", "y"], 20, seed=1), reference_rows(profile, ["x", "y"], 20, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["x"].tolist() != sorted(a["x"].tolist())                       # not left in quantile order
    assert a["x"].tolist() != a["y"].tolist()                                # columns paired independently
    assert reference_rows(profile, ["x"], 20, seed=2)["x"].tolist() != a["x"].tolist()
    assert reference_rows(profile, ["x"], 20)["x"].tolist() == reference_rows(profile, ["x"], 20, seed=0)["x"].tolist()


def test_reference_rows_of_an_all_missing_column_and_a_column_the_profile_lacks():
    profile = build_profile(pd.DataFrame({"x": [None, None], "c": [None, None], "ok": [1.0, 2.0]}),
                            {"x": "numeric", "c": "categorical", "ok": "numeric"})
    rows = reference_rows(profile, ["x", "c"], 3)
    assert rows["x"].isna().all() and rows["c"].isna().all() and len(rows) == 3
    with pytest.raises(UserError) as caught:
        reference_rows(profile, ["nope"], 3)
    assert str(caught.value) == (f"the training profile of {profile.model} {profile.version} has no column 'nope'; recompute it with: "
                                 f"modelway baseline {profile.model}@{profile.version} --data TRAINING_FILE")


def test_apportion_by_largest_remainder():
    assert explain._apportion({"a": 0.5, "b": 0.3, "c": 0.2}, 4) == ["a", "a", "b", "c"]
    assert explain._apportion({"a": 2.0, "b": 1.0}, 3) == ["a", "a", "b"]                # weights need not add to 1
    assert explain._apportion({"a": 0.0, "b": 0.0}, 2) == ["a", "b"]                     # all zero: spread by order
    assert explain._apportion({}, 2) == [None, None]
    assert explain._apportion({"a": 1.0}, 0) == [] and explain._apportion({"a": 1.0}, 1) == ["a"]
    assert explain._apportion({"a": 1.0}, -1) == []


# --- explanations of small closed-form models ------------------------------------------------------------


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    return X, 2.0 * X["a"] - 1.0 * X["b"] + 0.5


def _guard(est, X, y, task, classes=()):
    return GuardedModel(est.fit(X, y), ModelSchema.infer(X, task=task, classes=classes))


def test_a_plain_linear_regression_is_explained_exactly(xy):
    X, y = xy
    model = _guard(LinearRegression(), X, y, "regression")
    row = pd.DataFrame({"a": [1.0], "b": [3.0]})
    e = explain_row(model, row)
    assert (e.method, e.output, e.replay_matches, e.probabilities, e.warnings) == ("linear", "prediction", True, None, ())
    assert e.note == "exact: coefficient × the value the model sees (after the preprocessing stages); base = the intercept"
    assert e.base_value == pytest.approx(0.5) and e.output_value == pytest.approx(0.5 + 2.0 - 3.0)
    assert [(c.feature, c.value, round(c.contribution, 9)) for c in e.contributions] == [("b", 3.0, -3.0), ("a", 1.0, 2.0)]
    assert [(s.name, s.transformer) for s in e.stages] == [("input", "the row as given"), ("model", "LinearRegression")]
    assert e.stages[0].values == {"a": 1.0, "b": 3.0} and e.stages[1].values == {"prediction": pytest.approx(-0.5)}
    assert e.prediction == pytest.approx(-0.5) and type(e.prediction) is float
    assert e.additivity_error == pytest.approx(abs(e.base_value + 2.0 - 3.0 - e.output_value)) and e.additivity_error < 1e-9
    d = e.to_dict()
    assert d["method"] == "linear" and d["additivity_error"] == e.additivity_error and d["warnings"] == []
    assert d["contributions"][0] == {"feature": "b", "value": 3.0, "contribution": pytest.approx(-3.0)}
    assert json.loads(json.dumps(d)) == d


def test_method_linear_on_a_non_linear_last_stage_is_refused_and_shapley_needs_reference(xy):
    from sklearn.tree import DecisionTreeRegressor

    X, y = xy
    tree = _guard(DecisionTreeRegressor(max_depth=2, random_state=0), X, y, "regression")
    with pytest.raises(UserError) as caught:
        explain_row(tree, X.iloc[[0]], method="linear")
    assert str(caught.value) == "the model's last stage (DecisionTreeRegressor) is not linear in its inputs; use method 'shapley'"
    with pytest.raises(UserError) as caught:
        explain_row(tree, X.iloc[[0]])
    assert str(caught.value) == ("Shapley contributions need reference rows (the version's training profile); none were given")
    calls = []
    e = explain_row(tree, X.iloc[[0]], reference=lambda: calls.append(1) or X.iloc[:4])
    assert calls == [1] and e.method == "shapley" and e.output == "prediction"
    assert e.note == ("exact Shapley values (4 coalitions); base = the mean prediction over 4 reference rows from the training profile")
    linear = _guard(LinearRegression(), X, y, "regression")
    explain_row(linear, X.iloc[[0]], reference=lambda: calls.append(2) or X)       # linear: reference never read
    assert calls == [1]


def test_method_shapley_on_a_linear_model_uses_the_reference_mean(xy):
    X, y = xy
    model = _guard(LinearRegression(), X, y, "regression")
    ref = pd.DataFrame({"a": [0.0, 2.0], "b": [1.0, 1.0]})
    e = explain_row(model, pd.DataFrame({"a": [3.0], "b": [0.0]}), reference=ref, method="shapley")
    got = {c.feature: c.contribution for c in e.contributions}
    assert got == pytest.approx({"a": 2.0 * (3.0 - 1.0), "b": -1.0 * (0.0 - 1.0)})
    assert e.base_value == pytest.approx(2.0 * 1.0 - 1.0 + 0.5) and e.method == "shapley"
    assert [c.feature for c in e.contributions] == ["a", "b"] and [c.value for c in e.contributions] == [3.0, 0.0]


def test_a_binary_classifier_reports_probabilities_and_the_log_odds(xy):
    X, y = xy
    labels = np.where(y > 0.5, "yes", "no")
    model = _guard(LogisticRegression(), X, labels, "classification", classes=["no", "yes"])
    row = pd.DataFrame({"a": [1.0], "b": [0.0]})
    e = explain_row(model, row)
    proba = model.predict_proba(row)[0]
    assert e.output == "log-odds of class yes" and e.prediction == "yes"
    assert e.probabilities == {"no": pytest.approx(proba[0]), "yes": pytest.approx(proba[1])}
    assert e.stages[-1].values == {"prediction": "yes", "P(class no)": pytest.approx(proba[0]), "P(class yes)": pytest.approx(proba[1])}
    assert e.output_value == pytest.approx(float(model.model.decision_function(row)[0]))
    s = explain_row(model, row, reference=X.iloc[:3], method="shapley")
    assert s.output == "P(class yes)" and s.output_value == pytest.approx(proba[1])
    assert s.note.endswith("; base = the mean P(class yes) over 3 reference rows from the training profile")


def test_a_multiclass_classifier_explains_the_predicted_class(xy):
    X, y = xy
    labels = np.digitize(y, [-1.0, 2.0])                     # 0, 1, 2
    model = _guard(LogisticRegression(max_iter=500), X, labels, "classification", classes=[0, 1, 2])
    row = pd.DataFrame({"a": [-2.0], "b": [2.0]})
    e = explain_row(model, row)
    assert e.prediction == 0 and e.output == "log-odds of class 0" and set(e.probabilities) == {"0", "1", "2"}
    assert e.base_value == pytest.approx(model.model.intercept_[0])
    assert e.output_value == pytest.approx(model.model.decision_function(row)[0][0])
    high = explain_row(model, pd.DataFrame({"a": [3.0], "b": [-3.0]}))
    assert high.prediction == 2 and high.output == "log-odds of class 2"
    assert high.output_value == pytest.approx(model.model.decision_function(pd.DataFrame({"a": [3.0], "b": [-3.0]}))[0][2])
    s = explain_row(model, row, reference=X.iloc[:2], method="shapley")
    assert s.output == "P(class 0)" and s.output_value == pytest.approx(model.predict_proba(row)[0][0])


def test_a_linear_classifier_without_probabilities_is_explained_by_its_decision_score(xy):
    # a real bug, fixed: the last stage's predict_proba was called unconditionally, so a LinearSVC or
    # RidgeClassifier model raised AttributeError instead of getting the "decision score" breakdown
    X, y = xy
    labels = (y > 0.5).astype(int)
    model = _guard(Pipeline([("keep", FunctionTransformer()), ("svc", LinearSVC())]), X, labels, "classification", classes=[0, 1])
    row = pd.DataFrame({"a": [1.0], "b": [0.0]})
    e = explain_row(model, row)
    svc = model.model.named_steps["svc"]
    assert (e.method, e.output, e.probabilities, e.replay_matches) == ("linear", "decision score of class 1", None, True)
    assert e.output_value == pytest.approx(float(svc.decision_function(row)[0]))
    assert e.prediction == 1 and e.stages[-1].values == {"prediction": 1}
    assert [s.name for s in e.stages] == ["input", "keep", "svc"] and e.stages[-1].transformer == "LinearSVC"
    with pytest.raises(UserError) as caught:
        explain_row(model, row, reference=X.iloc[:3], method="shapley")
    assert str(caught.value) == ("the model's last stage (LinearSVC) gives no class probabilities, which Shapley values of a "
                                 "classifier explain; use method 'linear'")
    three = np.digitize(y, [-1.0, 2.0])
    multi = _guard(LinearSVC(), X, three, "classification", classes=[0, 1, 2])
    for values in ({"a": [-2.0], "b": [2.0]}, {"a": [3.0], "b": [-3.0]}):
        e = explain_row(multi, pd.DataFrame(values))
        assert e.output == f"decision score of class {e.prediction}" and e.prediction in (0, 2)
        assert e.output_value == pytest.approx(float(multi.model.decision_function(pd.DataFrame(values))[0][e.prediction]))


def test_a_stage_without_column_names_numbers_its_columns_and_sparse_output_is_read(xy):
    X, y = xy
    unnamed = Pipeline([("fn", FunctionTransformer(lambda d: np.asarray(d) * 2.0)), ("lr", LinearRegression())]).fit(X, y)
    e = explain_row(GuardedModel(unnamed, ModelSchema.infer(X, task="regression")), pd.DataFrame({"a": [1.0], "b": [1.0]}))
    assert e.stages[1].values == {"x0": 2.0, "x1": 2.0} and e.stages[1].transformer == "FunctionTransformer"
    assert sorted(c.feature for c in e.contributions) == ["x0", "x1"]
    frame = X.assign(c=np.where(X["a"] > 0, "p", "n"))
    sparse = Pipeline([("enc", ColumnTransformer([("oh", OneHotEncoder(sparse_output=True), ["c"])], remainder="passthrough",
                                                 sparse_threshold=1.0)), ("lr", Ridge(alpha=1e-6))]).fit(frame, y)
    model = GuardedModel(sparse, ModelSchema.infer(frame, task="regression"))
    e = explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["p"]}))
    assert e.stages[1].values == {"oh__c_n": 0.0, "oh__c_p": 1.0, "remainder__a": 1.0, "remainder__b": 0.0}
    assert e.method == "linear" and {c.feature for c in e.contributions} == {"oh__c_n", "oh__c_p", "remainder__a", "remainder__b"}
    passthrough = Pipeline([("skip", "passthrough"), ("none", None), ("lr", LinearRegression())]).fit(X, y)
    e = explain_row(GuardedModel(passthrough, ModelSchema.infer(X, task="regression")), X.iloc[[0]])
    assert [s.name for s in e.stages] == ["input", "lr"] and {c.feature for c in e.contributions} == {"a", "b"}


def test_a_bare_estimator_and_a_frame_row_without_schema(xy):
    X, y = xy
    lr = LinearRegression().fit(X, y)
    e = explain_row(lr, pd.DataFrame({"b": [1.0], "a": [2.0], "z": [0.0]})[["a", "b"]])
    assert e.stages[-1].name == "model" and e.output_value == pytest.approx(0.5 + 4.0 - 1.0)
    clf = LogisticRegression().fit(X, (y > 0.5).astype(int))
    assert explain_row(clf, X.iloc[[0]]).probabilities is not None      # no schema: a predict_proba makes it a classifier


def test_explain_takes_one_row_and_a_row_the_model_cannot_score_is_one_line(xy):
    X, y = xy
    model = _guard(LinearRegression(), X, y, "regression")
    with pytest.raises(RowError) as caught:
        explain_row(model, X.iloc[:2])
    assert str(caught.value) == "explain takes one row, got 2"
    with pytest.raises(RowError) as caught:
        explain_row(model, pd.DataFrame({"a": [np.nan], "b": [1.0]}))
    assert str(caught.value).startswith("the model cannot score this row: Input X contains NaN")
    assert "\n" not in str(caught.value)


def test_an_unseen_category_is_named_with_the_known_ones(xy):
    X, y = xy
    frame = X.assign(c=np.where(X["a"] > 0, "p", "n"))
    est = Pipeline([("enc", ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["c"])],
                                              remainder="passthrough")), ("lr", LinearRegression())]).fit(frame, y)
    model = GuardedModel(est, ModelSchema.infer(frame, task="regression"))
    known = {"c": {"p", "n"}, "a": {"never"}}.get
    e = explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["q"]}), known_categories=known)
    assert e.warnings == ("c='q' was not seen in training (known: n, p)",)
    assert explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["p"]}), known_categories=known).warnings == ()
    assert explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": [None]}), known_categories=known).warnings == ()
    assert explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["q"]}), known_categories=lambda c: None).warnings == ()
    assert explain_row(model, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["q"]})).warnings == ()
    assert explain_row(est, pd.DataFrame({"a": [1.0], "b": [0.0], "c": ["q"]}), known_categories=known).warnings == ()


# --- Shapley values --------------------------------------------------------------------------------------


def test_exact_shapley_values_of_a_three_way_game():
    # f = a + 2 b + a*b*c: main effects go to their feature, the triple interaction splits in three
    f = lambda d: (d["a"] + 2 * d["b"] + d["a"] * d["b"] * d["c"]).to_numpy()  # noqa: E731
    x = pd.DataFrame({"a": [1.0], "b": [1.0], "c": [3.0]})
    ref = pd.DataFrame({"a": [0.0], "b": [0.0], "c": [0.0]})
    phi, base, full, note = shapley_values(f, x, ref)
    assert phi.tolist() == pytest.approx([1.0 + 1.0, 2.0 + 1.0, 1.0]) and (base, full) == (0.0, 6.0)
    assert note == "exact Shapley values (8 coalitions)"
    one = shapley_values(lambda d: (5 * d["a"]).to_numpy(), x[["a"]], pd.DataFrame({"a": [1.0, -1.0]}))
    assert one[0].tolist() == [5.0] and one[1:] == (0.0, 5.0, "exact Shapley values (2 coalitions)")


def test_sampled_shapley_values_beyond_the_exact_limit():
    f = lambda d: (d["a"] + 2 * d["b"] + d["a"] * d["b"] * d["c"]).to_numpy()  # noqa: E731
    x = pd.DataFrame({"a": [1.0], "b": [1.0], "c": [3.0]})
    ref = pd.DataFrame({"a": [0.0], "b": [0.0], "c": [0.0]})
    phi, base, full, note = shapley_values(f, x, ref, max_exact=2, permutations=4)
    assert (base, full) == (0.0, 6.0) and phi.sum() == pytest.approx(6.0)
    assert note.startswith("Shapley values estimated from 4 seeded antithetic permutations (3 features > 2); largest standard error ")
    additive = lambda d: (d["a"] + 2 * d["b"] + 3 * d["c"]).to_numpy()  # noqa: E731
    phi, *_, note = shapley_values(additive, x, ref, max_exact=2, permutations=2)
    assert phi.tolist() == [1.0, 2.0, 9.0] and note.endswith("(3 features > 2); largest standard error nan")
    phi, *_, note = shapley_values(additive, x, ref, max_exact=2, permutations=1)   # at least one antithetic pair
    assert phi.tolist() == [1.0, 2.0, 9.0] and "from 2 seeded" in note
    phi, *_, note = shapley_values(additive, x, ref, max_exact=2)
    assert "from 128 seeded" in note and note.endswith("largest standard error 0")
    a = shapley_values(f, x, ref, max_exact=2, permutations=6, seed=3)[0]
    assert a.tolist() == shapley_values(f, x, ref, max_exact=2, permutations=6, seed=3)[0].tolist()


def test_a_wide_model_is_estimated_in_explain_row():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 15)), columns=[f"f{i}" for i in range(15)])
    y = X.to_numpy() @ np.arange(15.0)
    from sklearn.tree import DecisionTreeRegressor

    model = _guard(DecisionTreeRegressor(max_depth=3, random_state=0), X, y, "regression")
    e = explain_row(model, X.iloc[[0]], reference=X.iloc[:2], seed=1)
    assert e.note.startswith("Shapley values estimated from 128 seeded antithetic permutations (15 features > 14)")
    assert e.additivity_error < 1e-9 and len(e.contributions) == 15
    by_default = explain_row(model, X.iloc[[0]], reference=X.iloc[:2])          # the default seed is 0
    assert by_default.contributions == explain_row(model, X.iloc[[0]], reference=X.iloc[:2], seed=0).contributions


def test_coalitions_are_scored_in_chunks_with_the_same_result(monkeypatch):
    seen = []

    def f(d):
        seen.append(len(d))
        return (d["a"] * d["b"] + d["c"]).to_numpy()

    x = pd.DataFrame({"a": [2.0], "b": [3.0], "c": [1.0]})
    ref = pd.DataFrame({"a": [0.0, 1.0, 4.0], "b": [1.0, 0.0, 2.0], "c": [5.0, 0.0, 1.0]})
    whole = shapley_values(f, x, ref)
    assert seen == [8 * 3]
    monkeypatch.setattr(explain, "_CHUNK_ROWS", 7)      # 2 coalitions (6 rows) per call
    seen.clear()
    chunked = shapley_values(f, x, ref)
    assert seen == [6, 6, 6, 6] and chunked[0].tolist() == pytest.approx(whole[0].tolist()) and chunked[1:3] == whole[1:3]
    monkeypatch.setattr(explain, "_CHUNK_ROWS", 1)      # fewer rows than the reference: still one coalition a call
    seen.clear()
    assert shapley_values(f, x, ref)[0].tolist() == pytest.approx(whole[0].tolist()) and seen == [3] * 8


def test_categorical_columns_keep_their_values_in_coalitions():
    f = lambda d: (d["c"] == "p").astype(float).to_numpy() + d["n"].to_numpy()  # noqa: E731
    x = pd.DataFrame({"c": pd.Series(["p"], dtype=object), "n": [2.0]})
    ref = pd.DataFrame({"c": pd.Series(["q", "p"], dtype=object), "n": [0.0, 1.0]})
    phi, base, full, _ = shapley_values(f, x, ref)
    assert phi.tolist() == pytest.approx([0.5, 1.5]) and (base, full) == (1.0, 3.0)


def test_contributions_are_sorted_by_size_and_values_are_plain():
    cs = explain._sorted([Contribution("a", 1, 0.5), Contribution("b", 2, -2.0), Contribution("c", 3, 1.0)])
    assert [c.feature for c in cs] == ["b", "c", "a"]
    assert explain._plain(np.float64("nan")) is None and explain._plain(np.int64(3)) == 3 and type(explain._plain(np.int64(3))) is int
    assert explain._plain(float("nan")) is None and explain._plain("x") == "x"
    assert explain._jsonable({1: (np.float32(0.5), [np.nan])}) == {"1": [0.5, [None]]}


def test_explanation_dict_holds_every_field():
    e = Explanation("linear", "prediction", 3.0, 1.0, (Contribution("a", 1.0, 1.5),), (), 3.0, None, True, "n")
    assert e.additivity_error == 0.5 and e.warnings == ()
    assert e.to_dict() == {"method": "linear", "output": "prediction", "output_value": 3.0, "base_value": 1.0,
                           "contributions": [{"feature": "a", "value": 1.0, "contribution": 1.5}], "stages": [],
                           "prediction": 3.0, "probabilities": None, "replay_matches": True, "note": "n", "warnings": [],
                           "additivity_error": 0.5}


def test_the_explanation_records_are_immutable():
    e = Explanation("linear", "prediction", 3.0, 1.0, (), (), 3.0, None, True, "n")
    for record, attribute in [(e, "note"), (Contribution("a", 1.0, 1.5), "contribution"), (explain.Stage("s", "t", {}), "name")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, attribute, None)


class _Drift:
    """A stage that adds ``step`` x (how often it has run) to every value: the replay of a fitted
    pipeline then differs from the model's own output by a known, tiny amount."""

    def __init__(self, step):
        self.step, self.calls = step, 0

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        self.calls += 1
        return np.asarray(X, dtype="float64") + self.step * self.calls

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)


@pytest.mark.parametrize(("step", "matches"), [(1e-6, False), (0.0, True)])
def test_a_replay_off_by_a_millionth_does_not_match(xy, step, matches):
    X, y = xy
    reg = Pipeline([("drift", _Drift(step)), ("lr", LinearRegression())]).fit(X, y)
    e = explain_row(GuardedModel(reg, ModelSchema.infer(X, task="regression")), X.iloc[[0]])
    assert e.replay_matches is matches and e.stages[1].values.keys() == {"x0", "x1"}
    clf = Pipeline([("drift", _Drift(step)), ("lr", LogisticRegression())]).fit(X, (y > 0.5).astype(int))
    e = explain_row(GuardedModel(clf, ModelSchema.infer(X, task="classification", classes=[0, 1])), X.iloc[[0]])
    assert e.replay_matches is matches


def test_a_model_with_a_link_function_is_not_linear(xy):
    from sklearn.linear_model import PoissonRegressor

    X, y = xy
    glm = _guard(PoissonRegressor(), X, np.exp(y / 4), "regression")
    e = explain_row(glm, X.iloc[[0]], reference=X.iloc[:3])
    assert e.method == "shapley" and e.additivity_error < 1e-9
    with pytest.raises(UserError, match=r"^the model's last stage \(PoissonRegressor\) is not linear in its inputs"):
        explain_row(glm, X.iloc[[0]], method="linear")


def test_exact_up_to_and_including_max_exact():
    f = lambda d: (d["a"] * d["b"]).to_numpy()  # noqa: E731
    x, ref = pd.DataFrame({"a": [2.0], "b": [3.0]}), pd.DataFrame({"a": [0.0], "b": [1.0]})
    phi, base, full, note = shapley_values(f, x, ref, max_exact=2)
    assert note == "exact Shapley values (4 coalitions)" and (base, full) == (0.0, 6.0)
    # v(∅) = 0·1, v(a) = 2·1, v(b) = 0·3, v(ab) = 2·3: each player gets the mean of its two marginal gains
    assert phi.tolist() == [((2.0 - 0.0) + (6.0 - 0.0)) / 2, ((0.0 - 0.0) + (6.0 - 2.0)) / 2]
    assert shapley_values(f, x, ref, max_exact=1)[3].startswith("Shapley values estimated from 128 seeded antithetic permutations "
                                                                "(2 features > 1)")


def test_stage_names_that_collide_are_replaced_by_positions(xy):
    X, y = xy
    same = FunctionTransformer(lambda d: np.asarray(d, dtype="float64"), feature_names_out=lambda self, names: np.array(["f", "f"]))
    est = Pipeline([("same", same), ("lr", LinearRegression())]).fit(X, y)
    e = explain_row(GuardedModel(est, ModelSchema.infer(X, task="regression")), pd.DataFrame({"a": [1.0], "b": [0.0]}))
    assert e.stages[1].values == {"f": 0.0} and e.method == "linear"
    assert {c.feature: round(c.contribution, 9) for c in e.contributions} == {"x0": 2.0, "x1": 0.0}


def test_a_last_stage_whose_coefficients_do_not_fit_the_row_is_not_linear(xy):
    X, y = xy

    from sklearn.base import BaseEstimator, RegressorMixin

    class Odd(RegressorMixin, BaseEstimator):  # coefficients for three columns, fed two: not a plain linear output of this row
        def fit(self, X, y):
            self.coef_, self.intercept_ = np.array([[1.0, 1.0, 1.0]]), np.array([0.0])
            return self

        def predict(self, X):
            return np.asarray(X, dtype="float64").sum(axis=1)

    model = GuardedModel(Pipeline([("keep", FunctionTransformer()), ("odd", Odd())]).fit(X, y), ModelSchema.infer(X, task="regression"))
    e = explain_row(model, pd.DataFrame({"a": [1.0], "b": [2.0]}), reference=pd.DataFrame({"a": [0.0], "b": [0.0]}))
    assert e.method == "shapley" and [(c.feature, c.contribution) for c in e.contributions] == [("b", 2.0), ("a", 1.0)]
