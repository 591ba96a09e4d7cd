"""Model tests before registration: quality overall/per slice, champion regression, fairness,
robustness (schema, latency, size, stability) — each passes on a good model and fails on a targeted bad case."""
from __future__ import annotations

import time

import numpy as np
import pytest

from modelway.stages.evaluation import QualityGate, compute_metrics, predict_for_metrics, quality_checks, slice_metrics
from modelway.stages.fairness import FairnessGate, fairness_report
from modelway.stages.model_schema import ModelSchema, SchemaMismatch
from modelway.stages.robustness import RobustnessGate, latency_checks, robustness_checks, schema_checks, stability_check

# Limits for cases meant to pass: far above any real predict time, so a loaded CI machine
# cannot fail them; the failing cases use limits no machine can meet (0.001 ms).
ROOMY_LATENCY = {"max_p95_single_ms": 10_000.0, "max_p95_batch_ms": 60_000.0}


def by_name(checks):
    return {c.name: c for c in checks}


def scored(model, test, features):
    y = test["default"].to_numpy()
    y_pred, y_score = predict_for_metrics(model, test[features], "classification")
    return y, y_pred, y_score


GATE = QualityGate(min_metrics={"roc_auc": 0.7}, slice_columns=("region",), min_slice_metrics={"roc_auc": 0.62}, min_slice_size=100)


def test_quality_and_slices_pass_for_a_good_model(credit_model):
    model, _, test, features = credit_model
    y, y_pred, y_score = scored(model, test, features)
    overall = compute_metrics("classification", y, y_pred, y_score)
    slices = slice_metrics("classification", test, y, y_pred, y_score, ("region",))
    checks = quality_checks(GATE, overall, slices)
    assert all(c.passed for c in checks), [c.message for c in checks if not c.passed]
    assert {f"slice.region={r}.roc_auc" for r in ("north", "south", "east", "west", "central")} <= set(by_name(checks))
    assert overall["confusion_matrix"]["labels"] == [0, 1] and sum(map(sum, overall["confusion_matrix"]["matrix"])) == len(test)


def test_slice_regression_fails_only_the_broken_slice(credit_model):
    model, _, test, features = credit_model
    y, y_pred, y_score = scored(model, test, features)
    # the model's scores are useless in one region (e.g. a broken feed there): shuffle them
    east = (test["region"] == "east").to_numpy()
    y_score = y_score.copy()
    y_score[east] = np.random.default_rng(0).permutation(y_score[east])
    overall = compute_metrics("classification", y, y_pred, y_score)
    checks = by_name(quality_checks(GATE, overall, slice_metrics("classification", test, y, y_pred, y_score, ("region",))))
    failed = [n for n, c in checks.items() if not c.passed]
    assert failed == ["slice.region=east.roc_auc"]
    assert checks["slice.region=east.roc_auc"].message.startswith("slice region=east (n=")
    assert "required >= 0.62" in checks["slice.region=east.roc_auc"].message


def test_small_slices_are_not_gated():
    metrics = {"a=x": {"n": 10, "roc_auc": 0.1}}
    checks = quality_checks(QualityGate(min_slice_metrics={"roc_auc": 0.6}, min_slice_size=50), {}, metrics)
    # not gated, but never silently passed: an advisory warning says the slice is below the minimum support
    assert [(c.name, c.passed, c.advisory) for c in checks] == [("slice.a=x.support", False, True),
                                                                 ("regression.vs_champion", True, False)]
    assert "10 test rows, below the minimum support of 50" in checks[0].message


def test_regression_against_champion_beyond_tolerance_fails():
    gate = QualityGate(primary_metric="roc_auc", regression_tolerance=0.01)
    champion = {"name": "m", "version": "1.2.0", "metrics": {"roc_auc": 0.80}}
    ok = quality_checks(gate, {"roc_auc": 0.795}, {}, champion)[-1]
    bad = quality_checks(gate, {"roc_auc": 0.77}, {}, champion)[-1]
    assert ok.passed and not bad.passed
    assert "worse by 0.0300, tolerance 0.01" in bad.message and "champion m 1.2.0" in bad.message
    # lower-is-better metrics compare the other way round
    reg = QualityGate(primary_metric="rmse", regression_tolerance=1.0)
    assert not quality_checks(reg, {"rmse": 12.0}, {}, {"metrics": {"rmse": 10.0}})[-1].passed


def test_without_a_champion_the_same_checks_are_counted():
    gate = QualityGate(primary_metric="roc_auc", min_metrics={"roc_auc": 0.7})
    first = quality_checks(gate, {"roc_auc": 0.8}, {}, None)
    later = quality_checks(gate, {"roc_auc": 0.8}, {}, {"name": "m", "version": "1.0.0", "metrics": {"roc_auc": 0.8}})
    assert [c.name for c in first] == [c.name for c in later]
    assert first[-1].passed and "no approved champion" in first[-1].message


def test_fairness_passes_on_fair_data_and_fails_on_a_biased_label_process():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from modelway.datasets import credit

    gate = FairnessGate("gender", max_demographic_parity_difference=0.10, max_equalized_odds_difference=0.10)
    results = {}
    for bias in (0.0, 2.5):
        df = credit.generate_credit_data(6000, seed=9, bias=bias)
        train, test = train_test_split(df, test_size=0.4, random_state=0)
        est = Pipeline([
            ("encode", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), list(credit.CATEGORICAL_FEATURES))],
                                         remainder="passthrough")),
            ("clf", HistGradientBoostingClassifier(max_iter=40, class_weight="balanced", random_state=0)),
        ]).fit(train[list(credit.FEATURES)], train["default"])  # gender is NOT a feature
        pred = est.predict(test[list(credit.FEATURES)])
        results[bias] = fairness_report(gate, test["default"].to_numpy(), pred, test["gender"].to_numpy())
    fair, biased = results[0.0], results[2.5]
    assert all(c.passed for c in fair["checks"]), [c.message for c in fair["checks"]]
    assert set(fair["by_group"]) == {"F", "M"}
    assert {"selection_rate", "true_positive_rate", "false_positive_rate", "accuracy", "count"} <= set(fair["by_group"]["F"])
    dpd = by_name(biased["checks"])["fairness.gender.demographic_parity_difference"]
    assert not dpd.passed and dpd.observed > 0.10
    assert dpd.message.startswith("selection rates by gender {'F': ") and "limit 0.1" in dpd.message
    assert biased["by_group"]["F"]["selection_rate"] > biased["by_group"]["M"]["selection_rate"]


def test_fairness_metric_values_match_fairlearn_definitions():
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    p = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    g = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    r = fairness_report(FairnessGate("g", min_group_size=1), y, p, g)
    assert r["by_group"]["a"]["selection_rate"] == 0.75 and r["by_group"]["b"]["selection_rate"] == 0.25
    assert r["demographic_parity_difference"] == pytest.approx(0.5)
    # TPR a=1.0 b=0.5 ; FPR a=0.5 b=0.0 -> equalized odds difference 0.5
    assert r["equalized_odds_difference"] == pytest.approx(0.5)


def test_regression_fairness_mae_gap():
    y = np.array([10.0, 20.0, 30.0, 40.0])
    g = np.array(["x", "x", "y", "y"])
    gate = FairnessGate("g", max_relative_mae_gap=0.25, min_group_size=1)
    bad = fairness_report(gate, y, y + np.array([1.0, -1.0, 9.0, -9.0]), g, task="regression")["checks"][0]
    assert not bad.passed and "MAE gap between g groups" in bad.message


def test_schema_enforcement_clear_errors(credit_model):
    model, _, test, features = credit_model
    with pytest.raises(SchemaMismatch, match=r"missing column\(s\) \['region'\]"):
        model.predict(test[features].drop(columns=["region"]))
    broken = test[features].assign(age=test["age"].astype(str))
    with pytest.raises(SchemaMismatch, match="column 'age' must be numeric, got dtype"):
        model.predict(broken)
    with pytest.raises(SchemaMismatch, match="must be categorical"):
        model.predict(test[features].assign(region=1))
    with pytest.raises(SchemaMismatch, match="table with named columns"):
        model.predict(test[features].to_numpy())
    # extra columns (e.g. the sensitive attribute) are ignored, order does not matter
    shuffled = test[features[::-1] + ["gender"]]
    np.testing.assert_array_equal(model.predict(shuffled), model.predict(test[features]))
    assert model.predict({f: test[f].iloc[0] for f in features}).shape == (1,)


def test_schema_check_fails_for_a_model_without_a_guard(credit_model):
    model, _, test, features = credit_model
    guarded = by_name(schema_checks(model, test[features]))
    assert all(c.passed for c in guarded.values())

    class Lenient:
        """Fills whatever is missing: the silent wrong answer the check exists for."""

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    bare = by_name(schema_checks(Lenient(), test[features]))
    assert not bare["robustness.schema.missing_column"].passed
    assert "returned predictions anyway (a silent wrong answer)" in bare["robustness.schema.missing_column"].message
    unguarded = by_name(schema_checks(model.model, test[features]))  # the raw sklearn pipeline
    assert not unguarded["robustness.schema.missing_column"].passed
    assert "instead of a schema error" in unguarded["robustness.schema.missing_column"].message


def test_latency_limits_pass_and_fail(credit_model):
    model, _, test, features = credit_model
    ok = by_name(latency_checks(model, test[features], RobustnessGate(latency_runs=10, **ROOMY_LATENCY)))
    assert all(c.passed for c in ok.values()), [c.message for c in ok.values()]
    tight = by_name(latency_checks(model, test[features], RobustnessGate(latency_runs=10, max_p95_single_ms=0.001, max_p95_batch_ms=0.001)))
    single = tight["robustness.latency.single_row_p95"]
    assert not single.passed and single.message.startswith("p95 single-row predict latency ")
    assert "limit 0.001 ms" in single.message
    assert not tight["robustness.latency.batch_p95"].passed


class _BusyThenFast:
    """Predicts slowly during its first ``slow_calls`` calls (a machine busy for a moment), then fast."""

    def __init__(self, slow_calls: int, delay_s: float = 0.03) -> None:
        self.calls, self.slow_calls, self.delay_s = 0, slow_calls, delay_s

    def predict(self, frame):
        self.calls += 1
        if self.calls <= self.slow_calls:
            time.sleep(self.delay_s)
        return [0] * len(frame)


def test_a_latency_breach_must_reproduce_to_fail_the_gate(credit_model):
    _, _, test, features = credit_model
    gate = RobustnessGate(latency_runs=10, max_p95_single_ms=20, max_p95_batch_ms=20)
    # 1 warm-up + 10 single-row calls slow: the first measurement breaches, the second does not
    busy = by_name(latency_checks(_BusyThenFast(slow_calls=11), test[features], gate))
    single = busy["robustness.latency.single_row_p95"]
    assert single.passed and "best of 2 measurements" in single.message and single.observed < 20
    # always slow: every attempt breaches, and the check says how often it measured
    slow = by_name(latency_checks(_BusyThenFast(slow_calls=10**6), test[features], gate))
    single = slow["robustness.latency.single_row_p95"]
    assert not single.passed and single.observed >= 30 and "best of 3 measurements" in single.message
    assert not slow["robustness.latency.batch_p95"].passed


def test_artifact_size_and_stability(credit_model):
    model, _, test, features = credit_model
    checks = by_name(robustness_checks(model, test[features], RobustnessGate(latency_runs=5, max_artifact_mb=0.01), artifact_bytes=2_000_000))
    assert not checks["robustness.artifact_size"].passed and "2.00 MB, limit 0.01 MB" in checks["robustness.artifact_size"].message
    assert checks["robustness.perturbation_stability"].passed

    class Jumpy:
        """Predictions that depend on the 6th decimal of income: unstable."""

        _estimator_type = "classifier"

        def predict(self, X):
            return ((X["annual_income"].to_numpy() * 1e6) % 2 > 1).astype(int)

    unstable = stability_check(Jumpy(), test[features], RobustnessGate())
    assert not unstable.passed and "of predictions flip" in unstable.message


def test_guarded_model_round_trips_through_pickle(credit_model):
    import pickle

    model, _, test, features = credit_model
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(test[features]), model.predict(test[features]))
    assert ModelSchema.from_dict(model.schema.to_dict()) == model.schema


def test_sensitive_attribute_must_not_be_a_feature_unless_declared():
    from modelway.stages.lifecycle import EvaluationConfig, _sensitive_feature_check

    config = EvaluationConfig(task="classification", label="default", primary_metric="roc_auc", fairness=FairnessGate("gender"))
    used = _sensitive_feature_check(config, ["age", "gender"])
    assert not used.passed and "sensitive attribute 'gender' is a model feature" in used.message
    assert _sensitive_feature_check(config, ["age"]).passed
    declared = EvaluationConfig(task="classification", label="default", primary_metric="roc_auc",
                                fairness=FairnessGate("gender"), sensitive_is_feature=True)
    assert _sensitive_feature_check(declared, ["age", "gender"]).passed


def test_lifecycle_evaluate_outside_a_pipeline_builds_a_card_and_raises_on_failure(home, credit_model):
    from modelway.stages.gates import GateFailed
    from modelway.stages.baselines import BaselineGate
    from modelway.stages.lifecycle import EvaluationConfig, evaluate
    from modelway.stages.ml_tests import MLTests
    from modelway.stages.results import Split, TrainedModel

    model, train, test, features = credit_model
    split = Split(train=train, test=test, data_versions={"credit": "abc"})
    trained = TrainedModel(model=model, features=tuple(features), training={"best_params": {}, "cv": {}}, experiment="t")
    config = EvaluationConfig(task="classification", label="default", primary_metric="roc_auc",
                              quality=QualityGate(min_metrics={"roc_auc": 0.6}, slice_columns=("region",), min_slice_size=100),
                              fairness=FairnessGate("gender", max_demographic_parity_difference=0.15, max_equalized_odds_difference=0.15),
                              robustness=RobustnessGate(latency_runs=5, **ROOMY_LATENCY), intended_use="tests",
                              # this small booster trails a logistic regression (ML Test Score M5); tolerated here
                              ml_tests=MLTests(baselines=BaselineGate(min_margin_over_linear=-0.05)))
    result = evaluate(split, trained, config, model_name="credit-test")
    assert result.report["passed"] and result.card["passed"]
    assert result.card["data_versions"] == {"credit": "abc"} and "region=east" in result.card["slices"]
    strict = EvaluationConfig(task="classification", label="default", primary_metric="roc_auc",
                              quality=QualityGate(min_metrics={"roc_auc": 0.99}), intended_use="tests",
                              robustness=RobustnessGate(latency_runs=5, **ROOMY_LATENCY))
    import unittest.mock as mock

    with mock.patch("modelway.stages.lifecycle.track") as track, pytest.raises(GateFailed, match=r"quality.roc_auc \(0\.\d+, limit 0\.99\)"):
        evaluate(split, trained, strict, model_name="credit-test")
    assert track.call_count == 1  # a failed candidate is still tracked
