"""Mutation pins for the lifecycle step bodies (stages/lifecycle) that run without MLflow: logging and
attaching inside and outside a step, data versions, the validate/split step, the training step's
summary and log line, the metrics sent to MLflow, the sensitive-feature check, the champion lookup
and the evidence the card keeps.

A small recording step context stands in for the runner's (it has the same methods); the data,
the estimators and the registry-free paths are real.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelway.runtime.context import activate, deactivate
from modelway.stages import lifecycle
from modelway.stages.gates import CheckResult, GateFailed, GateReport
from modelway.stages.results import Evaluation, Split, TrainedModel


class RecordingContext:
    """What a step context offers the lifecycle bodies, recorded."""

    def __init__(self, home: Path) -> None:
        self.home, self.run_id, self.step_name, self.pipeline_name = home, "run-1", "step-1", "pipe"
        self.logs: list[str] = []
        self.attached: dict[str, Any] = {}
        self.texts: dict[str, tuple[str, str]] = {}
        self.datasets: list[tuple[str, str]] = []
        self.checkpoints: list[Any] = []

    def log(self, message: str) -> None:
        self.logs.append(message)

    def attach(self, name: str, value: Any) -> str:
        self.attached[name] = value
        return "h"

    def attach_text(self, name: str, text: str, suffix: str = ".md") -> str:
        self.texts[name] = (text, suffix)
        return "h"

    def record_dataset(self, name: str, version: str, latest: bool = False) -> None:
        self.datasets.append((name, version))

    def save_checkpoint(self, obj: Any) -> str:
        self.checkpoints.append(obj)
        return "h"

    def load_checkpoint(self) -> Any:
        return None


@pytest.fixture
def ctx(tmp_path):
    context = RecordingContext(tmp_path / "home")
    token = activate(context)  # type: ignore[arg-type]
    yield context
    deactivate(token)


def test_log_goes_to_the_step_or_to_stderr(ctx, capsys):
    lifecycle.log("inside")
    assert ctx.logs == ["inside"] and capsys.readouterr().err == ""


def test_log_outside_a_step_prints_to_stderr(capsys):
    lifecycle.log("outside")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "outside\n")


def test_attach_report_attaches_json_and_markdown(ctx):
    report = GateReport("g", [CheckResult("a", False, "bad")])
    lifecycle.attach_report("rep", report)
    assert ctx.attached == {"rep": report.to_dict()}
    assert ctx.texts == {"rep.md": (report.to_markdown(), ".md")}


def test_attach_report_outside_a_step_does_nothing():
    assert lifecycle.attach_report("rep", GateReport("g")) is None


def test_data_version_hashes_columns_index_and_values():
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    v = lifecycle.data_version(df)
    assert re.fullmatch(r"[0-9a-f]{12}", v)
    assert lifecycle.data_version(df.copy()) == v
    assert lifecycle.data_version(df.rename(columns={"b": "c"})) != v
    assert lifecycle.data_version(df.set_axis([5, 6])) != v
    assert lifecycle.data_version(df.assign(a=[1, 3])) != v
    # the column list and the values are hashed separately: "a,b" then the rows
    import hashlib

    h = hashlib.sha256()
    h.update(b"a,b")
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    assert v == h.hexdigest()[:12]


def test_register_dataset_outside_a_step_only_hashes():
    df = pd.DataFrame({"a": [1, 2]})
    assert lifecycle.register_dataset("d", df) == lifecycle.data_version(df)


def test_register_dataset_inside_a_step_stores_and_records_it(ctx):
    from modelway.lineage.datasets import resolve

    df = pd.DataFrame({"a": [1, 2, 3]})
    version = lifecycle.register_dataset("credit", df)
    assert ctx.datasets == [("credit", version)]
    ref = resolve(f"credit@{version}", home=ctx.home)
    assert (ref.name, ref.version) == ("credit", version)
    assert lifecycle.register_dataset("credit", df) == version      # same content, same version


# --- validate_and_split ---------------------------------------------------------------------------


def _contract(task="classification", id_columns=(), extra=()):
    import pandera.pandas as pa

    from modelway.stages.validation import DatasetContract

    cols = {"x1": pa.Column(float), "x2": pa.Column(float), "y": pa.Column(float if task == "regression" else int)}
    cols.update({c: pa.Column(None) for c in extra})
    return DatasetContract("d", pa.DataFrameSchema(cols), label="y", task=task, id_columns=tuple(id_columns))


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": (x1 + rng.normal(scale=2.0, size=n) > 0).astype(int)})


def test_validate_and_split_stratifies_reports_sizes_and_attaches(ctx):
    df = _frame()
    df.loc[df.index[:50], "y"] = 1   # an unbalanced label, so an unstratified split would drift
    split = lifecycle.validate_and_split(df, _contract(), features=["x1", "x2"], test_size=0.2, seed=1,
                                         data_versions={"d": "v1"})
    assert (len(split.train), len(split.test)) == (160, 40)
    assert split.test["y"].mean() == pytest.approx(df["y"].mean(), abs=0.013)     # stratified: same share
    assert split.data_versions == {"d": "v1"} and split.validation["passed"] is True
    context = split.validation["context"]
    assert (context["train_rows"], context["test_rows"], context["data_versions"]) == (160, 40, {"d": "v1"})
    assert ctx.attached["validation_report"] == split.validation and "validation_report.md" in ctx.texts
    assert ctx.logs == [GateReport.from_dict(split.validation).summary()]
    default = lifecycle.validate_and_split(df, _contract(), features=["x1", "x2"])
    assert (len(default.train), len(default.test)) == (150, 50)       # test_size 0.25 and seed 0 by default
    assert default.data_versions == {} and default.validation["context"]["data_versions"] == {}
    seeded = lifecycle.validate_and_split(df, _contract(), features=["x1"], test_size=0.25, seed=0)
    assert default.test.index.tolist() == seeded.test.index.tolist()


def test_a_class_with_a_single_row_is_split_unstratified_and_the_broken_leakage_probe_is_a_finding(ctx):
    df = _frame(40)
    df["y"] = 0
    df.loc[df.index[0], "y"] = 1     # stratifying would make scikit-learn refuse the split itself
    with pytest.raises(GateFailed) as caught:
        lifecycle.validate_and_split(df, _contract(), features=["x1", "x2"], test_size=0.5)
    report = caught.value.report
    assert (report.context["train_rows"], report.context["test_rows"]) == (20, 20)
    (check,) = [c for c in report.checks if c.name == "leakage"]
    assert (check.passed, check.category) == (False, "leakage")
    assert check.message.startswith("leakage checks could not run: ValueError: The least populated class")
    assert [c.name for c in report.failed] == ["leakage"]
    assert "validation_report" in ctx.attached and ctx.logs == [report.summary()]   # attached and logged before failing
    with pytest.raises(GateFailed) as caught:      # one class only: not stratified either (the balance check fails)
        lifecycle.validate_and_split(_frame(40).assign(y=0), _contract(), features=["x1"], test_size=0.5)
    assert caught.value.report.context["test_rows"] == 20


def test_a_regression_label_is_not_stratified_and_two_rows_per_class_are_enough():
    from sklearn.model_selection import train_test_split

    df = _frame(40).assign(y=lambda d: d["x1"] * 2.0)
    split = lifecycle.validate_and_split(df, _contract("regression"), features=["x1", "x2"], test_size=0.5, seed=3)
    assert split.test.index.tolist() == train_test_split(df, test_size=0.5, random_state=3)[1].index.tolist()
    two = _frame(40).assign(y=0)
    two.loc[two.index[:4], "y"] = 1
    assert train_test_split(two, test_size=0.5, random_state=3)[1]["y"].sum() != 2
    split = lifecycle.validate_and_split(two, _contract(), features=["x1"], test_size=0.5, seed=3)
    assert split.test["y"].sum() == 2                                  # stratified: two of the four in each half


def test_leakage_is_probed_in_every_column_but_the_label_and_ids():
    df = _frame(400)
    df["leak"] = df["y"].astype(float)
    df["row_id"] = df["y"] * 1000 + np.arange(len(df))
    with pytest.raises(GateFailed) as caught:
        lifecycle.validate_and_split(df, _contract(id_columns=("row_id",), extra=("leak", "row_id")), features=["x1", "x2"])
    failed = [c.name for c in caught.value.report.failed]
    assert any(n.startswith("leakage.") and n.endswith(".leak") for n in failed)
    assert not any(n.endswith(".row_id") or n.endswith(".y") for n in failed)


# --- train -------------------------------------------------------------------------------------------


def test_train_summarises_the_search_and_logs_one_line(capsys):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from modelway.stages.training import SearchSpec

    df = _frame(120)
    split = Split(train=df, test=df)
    spec = SearchSpec(strategy="grid", space={"clf__C": [0.5, 1.0]}, n_trials=2, cv_folds=3, scoring=("roc_auc", "accuracy"))
    est = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    trained = lifecycle.train(split, est, spec, label="y", features=["x1", "x2"], task="classification", experiment="exp")
    assert trained.features == ("x1", "x2") and trained.experiment == "exp" and trained.mlflow_run_id is None
    assert trained.training["estimator"] == ["scale:StandardScaler", "clf:LogisticRegression"]
    assert trained.model.schema.classes == (0, 1) and trained.model.schema.task == "classification"
    err = capsys.readouterr().err
    cv = trained.training["cv"]["roc_auc"]
    assert re.fullmatch(
        r"trained 2 candidate\(s\) x 3-fold CV in \d+\.\ds; best roc_auc "
        + re.escape(f"{cv['mean']:.4f} ± {cv['std']:.4f} with {trained.training['best_params']}") + "\n", err), err


def test_train_a_plain_regressor_has_no_classes():
    from sklearn.linear_model import Ridge

    from modelway.stages.training import SearchSpec

    df = _frame(60).assign(y=lambda d: d["x1"] * 3.0)
    trained = lifecycle.train(Split(train=df, test=df), Ridge(), SearchSpec(strategy="none", cv_folds=2, scoring=("r2",), refit="r2"),
                              label="y", features=["x1"], task="regression", experiment="e")
    assert trained.training["estimator"] == "Ridge" and trained.model.schema.classes == ()
    assert trained.model.schema.task == "regression"


# --- metrics for MLflow, sensitive feature, card evidence ---------------------------------------------


def _evaluation(**kw):
    base = dict(report={"passed": True}, card={}, metrics={})
    base.update(kw)
    return Evaluation(**base)


def test_evaluation_metrics_names_every_number_and_skips_the_rest():
    ev = _evaluation(
        metrics={"roc_auc": 0.9, "n": 10, "confusion_matrix": [[1]], "label": "x"},
        slices={"region=north": {"roc_auc": 0.8, "n": 5, "note": "s"}, "age=18+": {"accuracy": 0.7}},
        fairness={"demographic_parity_difference": 0.1, "equalized_odds_difference": 0.2, "max_relative_mae_gap": 0.3,
                  "other": 0.4},
    )
    assert lifecycle._evaluation_metrics(ev) == {
        "test_roc_auc": 0.9, "test_n": 10, "slice_region_north_roc_auc": 0.8, "slice_age_18plus_accuracy": 0.7,
        "fairness_demographic_parity_difference": 0.1, "fairness_equalized_odds_difference": 0.2,
        "fairness_max_relative_mae_gap": 0.3,
    }
    assert lifecycle._evaluation_metrics(_evaluation(metrics={"r2": 0.5}, slices=None, fairness=None)) == {"test_r2": 0.5}
    assert lifecycle._evaluation_metrics(_evaluation(metrics={}, fairness={"equalized_odds_difference": 0.0})) == {
        "fairness_equalized_odds_difference": 0.0}


def test_sensitive_feature_check_messages():
    from modelway.stages.fairness import FairnessGate

    cfg = lifecycle.EvaluationConfig(task="classification", label="y", primary_metric="roc_auc", fairness=FairnessGate(sensitive="sex"))
    assert cfg.sensitive == "sex"
    used = lifecycle._sensitive_feature_check(cfg, ["age", "sex"])
    assert (used.name, used.passed, used.category) == ("fairness.sex.not_a_feature", False, "fairness")
    assert used.message == "sensitive attribute 'sex' is a model feature; drop it or set sensitive_is_feature=True"
    unused = lifecycle._sensitive_feature_check(cfg, ["age"])
    assert (unused.passed, unused.message, unused.category) == (True, "sensitive attribute 'sex' is not a model feature", "fairness")
    from dataclasses import replace

    declared = lifecycle._sensitive_feature_check(replace(cfg, sensitive_is_feature=True), ["sex"])
    assert (declared.name, declared.passed, declared.category) == ("fairness.sex.not_a_feature", True, "fairness")
    assert declared.message == "the pipeline declares that 'sex' (or its source column) may be a model feature"


def test_evaluation_config_defaults():
    from modelway.stages.evaluation import QualityGate
    from modelway.stages.ml_tests import MLTests
    from modelway.stages.robustness import RobustnessGate

    cfg = lifecycle.EvaluationConfig(task="regression", label="y", primary_metric="r2")
    assert (cfg.quality, cfg.fairness, cfg.robustness, cfg.intended_use, cfg.limitations, cfg.sensitive_is_feature, cfg.ml_tests) == (
        QualityGate(), None, RobustnessGate(), "", (), False, MLTests())
    assert cfg.sensitive is None


def test_card_evidence_keeps_the_reviewer_facing_tables_only():
    keep = ("importance", "feature_cost", "baselines", "staleness", "screening", "explanation", "targeted_perturbation", "curves",
            "intervals")
    evidence = {k: {"k": k} for k in keep} | {"libraries": {"numpy": "2"}, "raw": [1]}
    assert lifecycle._card_evidence(evidence) == {k: {"k": k} for k in keep}
    assert list(lifecycle._card_evidence(evidence)) == list(keep)
    assert lifecycle._card_evidence({"curves": 1, "raw": 2}) == {"curves": 1}


def test_metric_evidence_intervals_and_curves():
    from modelway.stages import curves

    cfg = lifecycle.EvaluationConfig(task="classification", label="y", primary_metric="accuracy")
    from dataclasses import replace

    from modelway.stages.evaluation import QualityGate

    cfg = replace(cfg, quality=QualityGate(slice_columns=("g",)))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80); score = np.clip(y * 0.4 + rng.random(80) * 0.6, 0, 1); pred = (score > 0.5).astype(int)
    test = pd.DataFrame({"g": ["a", "b"] * 40})
    overall = {"roc_auc": 0.9, "accuracy": 0.8, "f1": "n/a", "precision": 0.7, "mae": None}
    out = lifecycle._metric_evidence(cfg, test, y, pred, score, overall)
    assert out["intervals"]["overall"] == curves.bootstrap_intervals("classification", y, pred, score, ("roc_auc", "accuracy"))
    assert out["intervals"]["slices"] == curves.slice_intervals("classification", test, y, pred, score, ("g",), "accuracy")
    assert (out["intervals"]["level"], out["intervals"]["method"]) == (0.95, "percentile bootstrap over test rows")
    assert out["curves"] == curves.classification_curves(y, score)
    yr = rng.normal(size=30)
    reg = lifecycle._metric_evidence(replace(cfg, task="regression", primary_metric="r2"), test.head(30), yr, yr + 0.1, None,
                                     {"r2": 0.9, "mae": 0.1, "rmse": 0.1})
    assert "curves" not in reg and list(reg["intervals"]["overall"]) == ["r2", "mae", "rmse"]


# --- the champion -------------------------------------------------------------------------------------


class _Registry:
    """A registry holding at most one champion: records which environments were asked for."""

    def __init__(self, champion=None, model=None):
        self.asked: list[tuple[str, tuple[str, ...]]] = []
        self._champion, self._model = champion, model

    def champion(self, name, envs):
        self.asked.append((name, tuple(envs)))
        return self._champion

    def load_model(self, name, version):
        return self._model


def test_champion_is_looked_up_in_prod_then_the_target_environment():
    cfg = lifecycle.EvaluationConfig(task="regression", label="y", primary_metric="r2")
    reg = _Registry()
    assert lifecycle._champion_metrics(reg, "m", "staging", pd.DataFrame(), [], cfg) is None
    assert lifecycle._champion_metrics(reg, "m", "prod", pd.DataFrame(), [], cfg) is None
    assert reg.asked == [("m", ("prod", "staging")), ("m", ("prod",))]


def test_the_champion_is_scored_on_the_same_test_set(capsys):
    from types import SimpleNamespace

    from sklearn.linear_model import LinearRegression

    from modelway.stages.evaluation import compute_metrics

    test = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) * 2 + 1})
    model = LinearRegression().fit(test[["x"]], test["y"])
    champ = SimpleNamespace(version="1.2.0", environment="prod", model_card={"libraries": {"numpy": "1"}})
    cfg = lifecycle.EvaluationConfig(task="regression", label="y", primary_metric="r2")
    out = lifecycle._champion_metrics(_Registry(champ, model), "m", "dev", test, ["x"], cfg)
    metrics = compute_metrics("regression", test["y"].to_numpy(), model.predict(test[["x"]]), None)
    metrics.pop("confusion_matrix", None)
    assert out == {"name": "m", "version": "1.2.0", "environment": "prod", "metrics": metrics, "libraries": {"numpy": "1"}}
    champ.model_card = None
    assert lifecycle._champion_metrics(_Registry(champ, model), "m", "dev", test, ["x"], cfg)["libraries"] == {}

    class Broken:
        def predict(self, X):
            raise ValueError("wrong columns")

    assert lifecycle._champion_metrics(_Registry(champ, Broken()), "m", "dev", test, ["x"], cfg) is None
    assert capsys.readouterr().err == ("champion m 1.2.0 is not comparable on this test set (wrong columns); "
                                       "regression check skipped\n")


def test_a_classifier_champion_has_no_confusion_matrix_in_its_metrics():
    from types import SimpleNamespace

    from sklearn.linear_model import LogisticRegression

    df = _frame(80)
    model = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    champ = SimpleNamespace(version="2.0.0", environment="staging", model_card={})
    cfg = lifecycle.EvaluationConfig(task="classification", label="y", primary_metric="roc_auc")
    out = lifecycle._champion_metrics(_Registry(champ, model), "m", "staging", df, ["x1", "x2"], cfg)
    assert "confusion_matrix" not in out["metrics"] and out["metrics"]["roc_auc"] > 0.5 and out["environment"] == "staging"


# --- evaluate --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression_case():
    from sklearn.linear_model import LinearRegression

    from modelway.stages.model_schema import GuardedModel, ModelSchema

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x1": rng.normal(size=240), "x2": rng.normal(size=240), "g": rng.choice(["a", "b"], 240)})
    df["y"] = 3.0 * df["x1"] + rng.normal(scale=0.3, size=240)
    train, test = df.iloc[:160], df.iloc[160:]
    model = GuardedModel(LinearRegression().fit(train[["x1", "x2"]], train["y"]), ModelSchema.infer(train[["x1", "x2"]], task="regression"))
    trained = TrainedModel(model=model, features=("x1", "x2"), experiment="pins",
                           training={"estimator": "LinearRegression", "best_params": {}, "search": {"strategy": "none"}, "cv": {},
                                     "trials": [1]})
    split = Split(train=train, test=test, validation={"checks": [{"name": "schema.x1.dtype"}]}, data_versions={"d": "v"})
    return split, trained


def test_evaluate_builds_the_card_the_evidence_and_the_residual_sample(ctx, regression_case):
    from modelway.stages.evaluation import QualityGate
    from modelway.stages.ml_test_score import ml_test_score
    from modelway.stages.robustness import RobustnessGate

    split, trained = regression_case
    config = lifecycle.EvaluationConfig(task="regression", label="y", primary_metric="r2", intended_use="pins",
                                        limitations=("small",), quality=QualityGate(min_metrics={"r2": 0.5}, slice_columns=("g",)),
                                        robustness=RobustnessGate(max_p95_single_ms=10_000.0, max_p95_batch_ms=60_000.0))
    result = lifecycle.evaluate(split, trained, config, model_name="pins-reg", registry=_Registry())
    assert result.passed and result.champion is None and result.fairness is None
    assert result.metrics["r2"] > 0.9 and set(result.slices) == {"g=a", "g=b"}
    assert result.artifact_bytes == len(pickle.dumps(trained.model, protocol=5))
    card = result.card
    assert (card["name"], card["label"], card["intended_use"], card["limitations"]) == ("pins-reg", "y", "pins", ["small"])
    assert card["training"] == {"estimator": "LinearRegression", "best_params": {}, "search": {"strategy": "none"}, "cv": {}}
    assert card["run_id"] == "run-1" and card["data_versions"] == {"d": "v"} and card["mlflow_run_id"] is None
    assert card["libraries"] == result.evidence["libraries"] and "scikit-learn" in card["libraries"]
    assert set(card["evidence"]) <= {"importance", "feature_cost", "baselines", "staleness", "screening", "explanation",
                                     "targeted_perturbation", "curves", "intervals"} and "intervals" in card["evidence"]
    assert "libraries" not in card["evidence"] and "curves" not in result.evidence      # no scores: no curves
    assert card["ml_test_score"] == ml_test_score([{"name": "schema.x1.dtype"}, *card["checks"]], training=card["training"])
    assert card["ml_test_score"]["sections"]["Data"]["tests"]["D1"]["score"] == 1.0
    preds = result.predictions
    assert len(preds["y_true"]) == len(preds["y_pred"]) == 80
    idx = np.random.default_rng(0).choice(80, size=80, replace=False)
    assert preds["y_true"] == [float(v) for v in split.test["y"].to_numpy()[idx]]
    assert ctx.attached["model_card"] == card and ctx.attached["predictions"] == preds
    assert ctx.attached["evaluation_report"] == result.report and "evaluation_report.md" in ctx.texts
    assert ctx.logs[-1] == GateReport.from_dict(result.report).summary()
    assert result.report["context"] == {"model": "pins-reg", "test_rows": 80}
    names = [c["name"] for c in result.report["checks"]]
    assert "quality.r2" in names and not any(n.startswith("fairness.") for n in names)
    assert result.report["checks"] == card["checks"]


def test_evaluate_a_classifier_with_a_fairness_gate(ctx):
    from sklearn.linear_model import LogisticRegression

    from modelway.stages.evaluation import QualityGate
    from modelway.stages.fairness import FairnessGate
    from modelway.stages.model_schema import GuardedModel, ModelSchema
    from modelway.stages.robustness import RobustnessGate

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.normal(size=300), "s": rng.choice(["f", "m"], 300)})
    df["y"] = (df["x"] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    train, test = df.iloc[:200], df.iloc[200:]
    model = GuardedModel(LogisticRegression().fit(train[["x"]], train["y"]),
                         ModelSchema.infer(train[["x"]], task="classification", classes=[0, 1]))
    trained = TrainedModel(model=model, features=("x",), training={"best_params": {}, "cv": {}})
    config = lifecycle.EvaluationConfig(
        task="classification", label="y", primary_metric="roc_auc", quality=QualityGate(min_metrics={"roc_auc": 0.6}),
        fairness=FairnessGate("s", max_demographic_parity_difference=0.5, max_equalized_odds_difference=0.5),
        robustness=RobustnessGate(max_p95_single_ms=10_000.0, max_p95_batch_ms=60_000.0))
    result = lifecycle.evaluate(Split(train=train, test=test), trained, config, model_name="pins-clf", registry=_Registry())
    assert result.passed and result.predictions == {} and "predictions" not in ctx.attached
    assert result.fairness is not None and "checks" not in result.fairness and "demographic_parity_difference" in result.fairness
    names = [c["name"] for c in result.report["checks"]]
    assert "fairness.s.not_a_feature" in names
    assert result.evidence["curves"]["roc"]["auc"] == pytest.approx(result.metrics["roc_auc"], abs=1e-6)
    assert "curves" in result.card["evidence"] and result.card["training"] == {"best_params": {}, "cv": {}}
