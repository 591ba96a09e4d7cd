"""Single-example debugging (ML Test Score I5): contributions checked against closed forms, the stage
replay, the held-out-row check on a good and a bad model, and bad rows refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder, StandardScaler

from modelway.profiling.profile import build_profile
from modelway.stages.explain import RowError, explain_row, read_row, reference_rows, row_frame, shapley_values
from modelway.stages.ml_tests import explain_check
from modelway.stages.model_schema import GuardedModel, ModelSchema


def _guard(estimator, X, y, task):
    return GuardedModel(estimator.fit(X, y), ModelSchema.infer(X, task=task, classes=np.unique(y) if task == "classification" else ()))


@pytest.fixture(scope="module")
def numeric():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(loc=[10.0, -3.0, 0.0], scale=[2.0, 5.0, 1.0], size=(400, 3)), columns=["a", "b", "c"])
    y = 3 * X["a"] - 0.5 * X["b"] + rng.normal(size=400)
    return X, y


def test_linear_contributions_are_coefficient_times_standardised_value(numeric):
    X, y = numeric
    model = _guard(Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=1.0))]), X, y, "regression")
    row = X.iloc[[7]]
    e = explain_row(model, row)
    scaler, ridge = model.model.named_steps["scale"], model.model.named_steps["ridge"]
    z = (row.to_numpy()[0] - scaler.mean_) / scaler.scale_
    got = {c.feature: c.contribution for c in e.contributions}
    assert e.method == "linear" and e.output == "prediction" and e.base_value == pytest.approx(ridge.intercept_)
    assert got == pytest.approx(dict(zip(["a", "b", "c"], ridge.coef_ * z)), rel=1e-12)
    assert e.output_value == pytest.approx(float(model.predict(row)[0]), rel=1e-12) and e.additivity_error < 1e-9
    assert [s.name for s in e.stages] == ["input", "scale", "ridge"]
    assert e.stages[1].values["a"] == pytest.approx(z[0]) and e.stages[0].values["a"] == pytest.approx(row["a"].iloc[0])
    assert e.contributions[0].feature == "a"                                      # sorted by size


def test_logistic_contributions_add_up_to_the_log_odds(numeric):
    X, y = numeric
    labels = (y > y.median()).astype(int)
    model = _guard(Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]), X, labels, "classification")
    row = X.iloc[[3]]
    e = explain_row(model, row)
    log_odds = float(model.model.decision_function(row)[0])
    assert e.method == "linear" and e.output == "log-odds of class 1" and e.output_value == pytest.approx(log_odds)
    assert e.base_value + sum(c.contribution for c in e.contributions) == pytest.approx(log_odds, abs=1e-9)
    assert set(e.probabilities) == {"0", "1"} and e.prediction == int(model.predict(row)[0])


def test_a_glm_with_a_link_is_not_called_linear_and_gets_shapley_values(numeric):
    X, y = numeric
    model = _guard(Pipeline([("scale", StandardScaler()), ("glm", PoissonRegressor())]), X, np.exp(y / 40), "regression")
    e = explain_row(model, X.iloc[[0]], reference=X.head(5))
    assert e.method == "shapley" and e.additivity_error < 1e-9


def test_shapley_values_of_a_linear_model_are_its_coefficients_times_the_distance_to_the_reference_mean(numeric):
    X, y = numeric
    model = _guard(Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]), X, y, "regression")
    reference = X.sample(6, random_state=1)
    row = X.iloc[[11]]
    e = explain_row(model, row, reference=reference, method="shapley")
    scaler, ridge = model.model.named_steps["scale"], model.model.named_steps["ridge"]
    expected = ridge.coef_ * (row.to_numpy()[0] - reference.to_numpy().mean(axis=0)) / scaler.scale_
    assert {c.feature: c.contribution for c in e.contributions} == pytest.approx(dict(zip(["a", "b", "c"], expected)), rel=1e-9)
    assert e.base_value == pytest.approx(float(model.predict(reference).mean())) and e.note.startswith("exact Shapley values (8 coalitions)")


def test_wide_models_get_a_sampled_estimate_that_adds_up_and_splits_pairwise_interactions_evenly():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 16)), columns=[f"f{i}" for i in range(16)])
    w = np.arange(16) - 7.5

    def score(frame):  # additive, plus one pairwise interaction
        return frame.to_numpy() @ w + 4 * frame["f0"].to_numpy() * frame["f1"].to_numpy()

    x, reference = X.iloc[[0]], X.iloc[1:9]
    phi, base, full, note = shapley_values(score, x, reference)
    r, x0, x1 = reference.to_numpy(), x["f0"].iloc[0], x["f1"].iloc[0]
    expected = w * (x.to_numpy()[0] - r.mean(axis=0))
    # the interaction is a two-player game; each antithetic pair orders f0 and f1 both ways, so it splits exactly
    g = {(): 4 * (r[:, 0] * r[:, 1]).mean(), (0,): 4 * x0 * r[:, 1].mean(), (1,): 4 * x1 * r[:, 0].mean(), (0, 1): 4 * x0 * x1}
    expected[0] += ((g[(0,)] - g[()]) + (g[(0, 1)] - g[(1,)])) / 2
    expected[1] += ((g[(1,)] - g[()]) + (g[(0, 1)] - g[(0,)])) / 2
    assert "antithetic permutations (16 features > 14)" in note and "standard error" in note
    assert phi.sum() == pytest.approx(full - base, abs=1e-9)
    assert phi == pytest.approx(expected, abs=1e-9)


@pytest.fixture(scope="module")
def credit_like():
    """The credit example's model shape: ordinal-encoded categories with native categorical splits."""
    rng = np.random.default_rng(1)
    n = 1500
    frame = pd.DataFrame({"income": rng.lognormal(10.5, 0.4, n), "late": rng.poisson(0.5, n).astype(float),
                          "region": rng.choice(["north", "south", "east"], n), "noise": rng.normal(size=n)})
    logit = -1 + 1.5 * frame["late"] - (frame["income"] - 36_000) / 20_000 + (frame["region"] == "east") * 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    estimator = Pipeline([
        ("encode", ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["region"])],
                                     remainder="passthrough")),
        ("clf", HistGradientBoostingClassifier(max_iter=40, categorical_features=[0], random_state=0)),
    ])
    return _guard(estimator, frame, y, "classification"), frame


def test_a_boosted_model_is_replayed_stage_by_stage_and_its_shapley_values_add_up(credit_like):
    model, frame = credit_like
    kinds = {f.name: f.kind for f in model.schema.features}
    reference = reference_rows(build_profile(frame, kinds), list(kinds), 10)
    row = frame.iloc[[5]]
    e = explain_row(model, row, reference=reference)
    assert e.method == "shapley" and e.output == "P(class 1)" and e.replay_matches
    assert e.output_value == pytest.approx(float(model.predict_proba(row)[0, 1]), abs=1e-12)
    assert e.base_value == pytest.approx(float(model.predict_proba(reference)[:, 1].mean()), abs=1e-12)
    assert e.additivity_error < 1e-9
    assert [s.name for s in e.stages] == ["input", "encode", "clf"]
    encoded = e.stages[1].values
    assert encoded["cat__region"] in (0.0, 1.0, 2.0) and encoded["remainder__income"] == pytest.approx(row["income"].iloc[0])


def test_a_feature_that_equals_the_reference_contributes_nothing(credit_like):
    model, frame = credit_like
    reference = frame.iloc[[0]]
    row = reference.copy()
    row["late"] = 4.0                                                       # the only difference from the reference row
    e = explain_row(model, row, reference=reference)
    got = {c.feature: c.contribution for c in e.contributions}
    assert got["late"] == pytest.approx(e.output_value - e.base_value, abs=1e-12) and got["late"] != 0
    assert all(got[f] == 0 for f in ("income", "region", "noise"))


def test_an_unseen_category_is_warned_about(credit_like):
    model, frame = credit_like
    row = frame.iloc[[2]].assign(region="atlantis")
    e = explain_row(model, row, reference=frame.head(3), known_categories=lambda c: {"north", "south", "east"} if c == "region" else None)
    assert e.warnings == ("region='atlantis' was not seen in training (known: east, north, south)",)


def test_reference_rows_follow_the_profile():
    frame = pd.DataFrame({"x": np.arange(100.0), "c": ["a"] * 70 + ["b"] * 30})
    frame.loc[:9, "x"] = np.nan
    r = reference_rows(build_profile(frame, {"x": "numeric", "c": "categorical"}), ["x", "c"], 10)
    assert r["x"].isna().sum() == 1 and sorted(r["c"]) == ["a"] * 7 + ["b"] * 3
    assert r["x"].dropna().between(10, 99).all() and r["x"].dropna().is_unique


# --- I5 as a check of every run ----------------------------------------------------------------------

def test_the_held_out_row_check_passes_on_a_replayable_model(credit_like):
    model, frame = credit_like
    check, evidence = explain_check(model, frame.head(1000), frame.tail(50), 4)
    assert check.passed and check.name == "debug.explain" and "reproduces the model's P(class 1)" in check.message
    assert evidence["method"] == "shapley" and len(evidence["contributions"]) == 4 and evidence["stages"][0] == "input: the row as given"


def test_the_held_out_row_check_fails_when_a_stage_cannot_be_replayed(numeric):
    X, y = numeric
    jitter = FunctionTransformer(lambda d: d + np.random.default_rng().normal(scale=1.0, size=d.shape))  # random at predict time
    model = _guard(Pipeline([("jitter", jitter), ("ridge", Ridge())]), X, y, "regression")
    check, _ = explain_check(model, X, X.tail(5), 4)
    assert not check.passed and "does not reproduce the model's output" in check.message


def test_the_held_out_row_check_fails_when_the_model_cannot_score_a_row(numeric):
    X, y = numeric
    model = _guard(Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]), X, y, "regression")
    check, evidence = explain_check(model, X, X.tail(5).assign(a=np.nan), 4)
    assert not check.passed and "cannot be explained" in check.message and "NaN" in check.message and evidence == {}


# --- bad rows ------------------------------------------------------------------------------------------

def test_rows_are_read_from_json_and_csv(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps([{"a": 1.5, "region": "north"}]))
    (tmp_path / "r.csv").write_text("a,region\n2.5,south\n")
    assert read_row(str(tmp_path / "r.json")) == ({"a": 1.5, "region": "north"}, f"row file {tmp_path / 'r.json'}")
    assert read_row(str(tmp_path / "r.csv"))[0] == {"a": "2.5", "region": "south"}


@pytest.mark.parametrize("content, message", [
    ('{"a": 1', "--row JSON is not valid JSON: Expecting ',' delimiter at line 1 column 8"),
    ('[{"a": 1}, {"a": 2}]', "--row JSON holds 2 rows; explain takes exactly one"),
    ('["a"]', "--row JSON must be a JSON object (column -> value), got str"),
])
def test_bad_inline_json_is_one_line_naming_it(content, message):
    with pytest.raises(RowError) as caught:
        read_row(content)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_bad_files_are_one_line_naming_the_file(tmp_path):
    with pytest.raises(RowError, match=r"row file .*missing\.json does not exist"):
        read_row(str(tmp_path / "missing.json"))
    (tmp_path / "two.csv").write_text("a\n1\n2\n")
    with pytest.raises(RowError, match=r"two\.csv has 2 data rows; explain takes exactly one"):
        read_row(str(tmp_path / "two.csv"))
    (tmp_path / "r.txt").write_text("{}")
    with pytest.raises(RowError, match=r"r\.txt: expected a \.json or \.csv file"):
        read_row(str(tmp_path / "r.txt"))


@pytest.mark.parametrize("values, message", [
    ({"a": 1.0}, "row.json: missing column(s) ['region']; the model needs ['a', 'region']"),
    ({"a": "ten", "region": "north"}, "row.json: column 'a' must be a number, got 'ten'"),
    ({"a": True, "region": "north"}, "row.json: column 'a' must be a number, got true"),
    ({"a": 1.0, "region": 3}, "row.json: column 'region' is categorical and must be text, got 3"),
])
def test_a_missing_column_or_a_wrong_type_is_named(values, message):
    schema = ModelSchema.infer(pd.DataFrame({"a": [1.0], "region": ["north"]}), task="regression")
    with pytest.raises(RowError) as caught:
        row_frame(values, schema, "row.json")
    assert str(caught.value) == message
