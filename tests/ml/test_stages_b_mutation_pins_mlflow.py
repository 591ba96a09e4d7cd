"""Mutation pins for what Modelway writes to MLflow (stages/tracking, stages/mlflow_view): read back with
MLflow's own client from one real SQLite store — tags, metric names and steps, params cut to MLflow's
limits, report artifacts, failed runs, nested step runs, datasets, run links and the registry mirror.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelway.stages import mlflow_view, tracking


@pytest.fixture(scope="module")
def mw_home(tmp_path_factory):
    """One $MODELWAY_HOME (and MLflow store) for the module: creating a store is the slow part."""
    home = tmp_path_factory.mktemp("mlflow-pins") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELWAY_HOME", str(home))
        for var in ("MODELWAY_TRACKING_URI", "MODELWAY_ENV", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_DISABLE_TELEMETRY"):
            mp.delenv(var, raising=False)
        # MODELWAY_CACHE_DIR: the suite's shared, already-migrated template (tests/conftest.py)
        yield home.absolute()


@pytest.fixture(scope="module")
def client(mw_home):
    mlflow = tracking._mlflow()
    return mlflow.MlflowClient()


def test_the_store_is_seeded_from_the_template_with_the_homes_artifact_root(mw_home, client):
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false" and os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert tracking.artifact_root() == (mw_home / "mlartifacts").as_uri()
    with sqlite3.connect(mw_home / "mlflow.db") as db:
        (location,) = db.execute("SELECT artifact_location FROM experiments WHERE experiment_id = 0").fetchone()
    assert location == f"{tracking.artifact_root()}/0"
    templates = list(Path(os.environ["MODELWAY_CACHE_DIR"]).glob("mlflow-*-empty.db"))
    from importlib.metadata import version

    assert [t.name for t in templates] == [f"mlflow-{version('mlflow')}-empty.db"]
    assert [p.name for p in templates[0].parent.iterdir() if p.name.startswith(".")] == []    # no staging leftovers
    assert [p.name for p in mw_home.iterdir() if p.name.startswith(".mlflow.db.")] == []


def test_seeding_leaves_an_existing_store_and_a_remote_tracking_uri_alone(tmp_path, monkeypatch, mw_home):
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "h"))
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "mlflow.db").write_bytes(b"mine")
    tracking._seed_local_store()
    assert (tmp_path / "h" / "mlflow.db").read_bytes() == b"mine"
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "r"))
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "http://127.0.0.1:9")
    tracking._seed_local_store()
    assert not (tmp_path / "r" / "mlflow.db").exists()
    monkeypatch.delenv("MODELWAY_TRACKING_URI")
    monkeypatch.delenv("MODELWAY_CACHE_DIR")
    tracking._seed_local_store()
    assert not (tmp_path / "r" / "mlflow.db").exists()       # without a cache dir MLflow creates it itself
    monkeypatch.setenv("MODELWAY_CACHE_DIR", str(tmp_path / "file-not-dir"))
    (tmp_path / "file-not-dir").write_text("x")
    tracking._seed_local_store()                             # an unusable cache is no error, just no seed
    assert not (tmp_path / "r" / "mlflow.db").exists() and list((tmp_path / "r").glob(".mlflow.db.*")) == []


@pytest.fixture(scope="module")
def model_run(client):
    """One run with a logged classifier and its input example (logging a model is the slow part: shared)."""
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    rid = tracking.log_training_run(experiment="pins-model", run_name="m", params={}, cv={}, tags={},
                                    model=LogisticRegression().fit(X, [0, 0, 1, 1]), input_example=X)
    return rid, X


def test_standard_tags(monkeypatch):
    from modelway.stages.env import git_commit

    git = git_commit()
    assert tracking.standard_tags(run_id=None, pipeline=None) == {
        "modelway.run_id": "", "modelway.pipeline": "", "mlflow.source.git.commit": str(git["commit"]),
        "modelway.git.dirty": str(git["dirty"]).lower()}
    tags = tracking.standard_tags(run_id="r", pipeline="p", data_versions={"a": 1, "b": "v2"}, extra={"k": 3, 4: True})
    assert {k: v for k, v in tags.items() if not k.startswith(("mlflow.", "modelway.git"))} == {
        "modelway.run_id": "r", "modelway.pipeline": "p", "modelway.data.a": "1", "modelway.data.b": "v2", "k": "3", "4": "True"}
    assert tags["modelway.git.dirty"] in ("true", "false")


def test_a_training_run_as_mlflow_reads_it(mw_home, client, tmp_path):
    calls = []
    src = tmp_path / "copied.bin"
    src.write_bytes(b"\x00\x01")
    rid = tracking.log_training_run(
        experiment="pins", run_name="run-a", params={"p" * 300: "v" * 7000, "n": 3},
        cv={"auc": {"mean": 0.8, "std": 0.1, "folds": [0.7, 0.9]}, "acc": {"mean": 0.5, "std": 0.0}},
        tags={"t": "1"}, artifacts={"r.json": {"b": [1, 2]}, "notes.md": "# hi", "raw.bin": b"\xff", "copy.bin": src},
        start_time=1_700_000_000_000, on_run=lambda c, e, r: calls.append((e, r)),
    )
    run = client.get_run(rid)
    exp = client.get_experiment_by_name("pins")
    assert calls == [(exp.experiment_id, rid)] and run.info.experiment_id == exp.experiment_id
    assert exp.artifact_location == f"{tracking.artifact_root()}/pins"
    assert (run.info.status, run.info.run_name, run.info.start_time) == ("FINISHED", "run-a", 1_700_000_000_000)
    assert run.data.params == {"p" * 250: "v" * 6000, "n": "3"}
    assert run.data.metrics == {"cv_auc_mean": 0.8, "cv_auc_std": 0.1, "cv_auc_fold": 0.9, "cv_acc_mean": 0.5, "cv_acc_std": 0.0}
    assert [(m.step, m.value) for m in client.get_metric_history(rid, "cv_auc_fold")] == [(0, 0.7), (1, 0.9)]
    assert [(m.step) for m in client.get_metric_history(rid, "cv_auc_mean")] == [0]
    assert run.data.tags["t"] == "1" and run.data.tags["mlflow.runName"] == "run-a"
    files = {a.path for a in client.list_artifacts(rid, "reports")}
    assert files == {"reports/r.json", "reports/notes.md", "reports/raw.bin", "reports/copy.bin"}
    local = Path(client.download_artifacts(rid, "reports", str(tmp_path / "dl")))
    assert (local / "r.json").read_text() == json.dumps({"b": [1, 2]}, indent=2)
    assert (local / "notes.md").read_text() == "# hi" and (local / "raw.bin").read_bytes() == b"\xff"
    assert (local / "copy.bin").read_bytes() == b"\x00\x01"
    again = tracking.log_training_run(experiment="pins", run_name="run-b", params={}, cv={}, tags={})
    assert client.get_run(again).info.experiment_id == exp.experiment_id
    assert client.list_artifacts(again, "reports") == []


def test_a_run_that_fails_while_logging_is_marked_failed(client):
    def boom(c, e, r):
        raise RuntimeError("on_run broke")

    with pytest.raises(RuntimeError, match="on_run broke"):
        tracking.log_training_run(experiment="pins-fail", run_name="f", params={}, cv={}, tags={}, on_run=boom)
    exp = client.get_experiment_by_name("pins-fail")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FAILED"


def test_log_evaluation_adds_numbers_tags_and_reports(client, tmp_path):
    rid = tracking.log_training_run(experiment="pins", run_name="e", params={}, cv={}, tags={})
    tracking.log_evaluation(rid, metrics={"test_auc": 0.75, "count": "3", "label": "yes", "none": None, "m" * 300: 1.0},
                            tags={"modelway.gates": "failed", "n": 2}, artifacts={"e.json": {"ok": False}})
    run = client.get_run(rid)
    assert run.data.metrics == {"test_auc": 0.75, "count": 3.0, "m" * 250: 1.0}
    assert run.data.tags["modelway.gates"] == "failed" and run.data.tags["n"] == "2"
    assert [a.path for a in client.list_artifacts(rid, "reports")] == ["reports/e.json"]
    tracking.log_evaluation(rid, metrics={})
    assert client.get_run(rid).data.metrics == run.data.metrics


class CannotPredict:
    """A fitted model whose predictions fail on its own input example."""

    def __init__(self):
        from sklearn.linear_model import LogisticRegression

        self.inner = LogisticRegression()

    def fit(self, X, y):
        self.inner.fit(X, y)
        return self

    def predict(self, X):
        raise ValueError("no")


def test_the_model_is_logged_with_a_signature_even_when_it_cannot_predict(client, model_run):
    import mlflow
    import sklearn

    rid, X = model_run
    exp_id = client.get_run(rid).info.experiment_id
    (logged,) = mlflow.search_logged_models(experiment_ids=[exp_id], filter_string=f"source_run_id = '{rid}'", output_format="list")
    info = mlflow.models.get_model_info(logged.model_uri)
    assert info.signature.inputs.input_names() == ["a", "b"] and info.flavors["sklearn"]["serialization_format"] == "pickle"
    assert info.signature.outputs.to_dict()[0]["type"] == "tensor"          # predict_proba's probabilities, not labels
    assert info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 2)
    reqs = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{logged.artifact_location}/requirements.txt")).read_text().split()
    assert reqs == [f"mlflow=={mlflow.__version__}", f"scikit-learn=={sklearn.__version__}", "modelway"]  # MLflow adds itself
    uri = tracking.log_model(rid, CannotPredict().fit(X, [0, 0, 1, 1]), X)
    broken = mlflow.models.get_model_info(uri)
    assert broken.signature.inputs.input_names() == ["a", "b"] and broken.signature.outputs is None


def test_is_number():
    assert [tracking._is_number(v) for v in (1, "2.5", None, "x", [1], float("nan"))] == [True, True, False, False, False, True]


# --- mlflow_view -----------------------------------------------------------------------------------------


def test_champion_alias():
    assert [mlflow_view.champion_alias(e) for e in ("prod", "staging", "dev")] == ["champion", "staging-champion", "dev-champion"]


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=trunk", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_source_tags_from_the_pipeline_files_repository(tmp_path, monkeypatch):
    from modelway.settings import current_user

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init")
    (repo / "pipe.py").write_text("x\n")
    _git(repo, "add", "pipe.py")
    _git(repo, "commit", "-m", "c")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    tags = mlflow_view.source_tags(pipeline_file=str(repo / "pipe.py"), run_name="r1", description="about")
    assert tags == {"mlflow.runName": "r1", "mlflow.user": current_user(), "mlflow.source.type": "LOCAL",
                    "mlflow.source.name": str(repo / "pipe.py"), "mlflow.source.git.commit": head,
                    "mlflow.source.git.branch": "trunk", "mlflow.note.content": "about"}
    _git(repo, "checkout", "--detach")
    detached = mlflow_view.source_tags(pipeline_file=str(repo / "pipe.py"), run_name="r1")
    assert "mlflow.source.git.branch" not in detached and "mlflow.note.content" not in detached
    assert detached["mlflow.source.git.commit"] == head
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "p.py").write_text("")
    assert mlflow_view.source_tags(pipeline_file=str(plain / "p.py"), run_name="r2") == {
        "mlflow.runName": "r2", "mlflow.user": current_user(), "mlflow.source.type": "LOCAL", "mlflow.source.name": str(plain / "p.py")}
    monkeypatch.chdir(plain)
    assert mlflow_view.source_tags(pipeline_file=None, run_name="r3")["mlflow.source.name"] == ""
    assert mlflow_view._git_branch(tmp_path / "missing") is None


def test_finished_steps_become_nested_runs(client):
    rid = tracking.log_training_run(experiment="pins-steps", run_name="parent", params={}, cv={}, tags={})
    exp_id = client.get_run(rid).info.experiment_id
    steps = [
        {"name": "load", "status": "succeeded", "started_at": 1000.0, "ended_at": 1002.5, "duration_s": 2.5, "peak_rss_mb": 120.0},
        {"name": "train", "status": "cached", "cached": True, "started_at": 1003.0, "duration_s": None},
        {"name": "eval", "status": "failed", "started_at": 1004.0},
        {"name": "never", "status": "succeeded", "started_at": None},
    ]
    ids = mlflow_view.log_steps(client, exp_id, rid, steps)
    assert len(ids) == 2
    load, train = (client.get_run(i) for i in ids)
    assert (load.info.run_name, load.info.start_time, load.info.end_time, load.info.status) == ("load", 1_000_000, 1_002_500, "FINISHED")
    assert load.data.tags["mlflow.parentRunId"] == rid and load.data.tags["modelway.step"] == "load"
    assert load.data.tags["modelway.cached"] == "false" and train.data.tags["modelway.cached"] == "true"
    assert load.data.metrics == {"duration_s": 2.5, "peak_rss_mb": 120.0} and train.data.metrics == {"duration_s": 0.0}
    assert [m.timestamp for m in client.get_metric_history(ids[0], "duration_s")] == [1_000_000]
    assert (train.info.start_time, train.info.end_time) == (1_003_000, 1_003_000)
    assert train.data.tags["mlflow.runName"] == "train"


def test_datasets_are_logged_as_inputs_named_by_version(client, mw_home):
    rid = tracking.log_training_run(experiment="pins-data", run_name="d", params={}, cv={}, tags={})
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    mlflow_view.log_datasets(rid, {"training": frame, "evaluation": frame.drop(columns="y")}, label="y",
                             versions={"credit": "abc", "extra": "def"})
    inputs = client.get_run(rid).inputs.dataset_inputs
    by_context = {next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset for i in inputs}
    assert sorted(by_context) == ["evaluation", "training"]
    assert by_context["training"].name == "credit@abc, extra@def (training)"
    assert by_context["evaluation"].name == "credit@abc, extra@def (evaluation)"
    assert json.loads(by_context["training"].source) == {"uri": (mw_home / "datasets").as_uri()}
    assert json.loads(by_context["training"].profile)["num_rows"] == 2
    rid2 = tracking.log_training_run(experiment="pins-data", run_name="d2", params={}, cv={}, tags={})
    mlflow_view.log_datasets(rid2, {"training": frame}, label="nope", versions={})
    (only,) = client.get_run(rid2).inputs.dataset_inputs
    assert only.dataset.name == "data (training)"


def test_run_links_for_a_server_and_for_the_local_store(monkeypatch, mw_home):
    assert mlflow_view.run_link("3", "abc") == (
        f"http://127.0.0.1:5000/#/experiments/3/runs/abc (after: mlflow ui --backend-store-uri sqlite:///{mw_home / 'mlflow.db'})")
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "https://mlflow.example/")
    assert mlflow_view.run_link("3", "abc") == "https://mlflow.example/#/experiments/3/runs/abc"
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "http://h:5000")
    assert mlflow_view.run_link("1", "r") == "http://h:5000/#/experiments/1/runs/r"


def test_the_registry_mirror_is_idempotent_and_sets_the_champion_alias(client, model_run):
    rid, _ = model_run
    mv = mlflow_view.mirror_version(mlflow_run_id=rid, name="pins-model", version="1.0.0", environment="staging", status="Pending")
    assert mv == "1"
    got = client.get_model_version("pins-model", "1")
    assert got.tags == {"modelway.version": "1.0.0", "modelway.environment": "staging", "modelway.status": "Pending"}
    assert client.get_registered_model("pins-model").description == "Mirror of Modelway's registry entry pins-model"
    assert client.get_registered_model("pins-model").aliases == {}
    again = mlflow_view.mirror_version(mlflow_run_id=rid, name="pins-model", version="1.0.0", environment="staging", status="Approved")
    assert again == "1" and client.get_model_version("pins-model", "1").tags["modelway.status"] == "Approved"
    assert client.get_registered_model("pins-model").aliases == {"staging-champion": 1}
    prod = mlflow_view.mirror_version(mlflow_run_id=rid, name="pins-model", version="1.1.0", environment="prod", status="Approved")
    assert prod == "2" and client.get_registered_model("pins-model").aliases == {"staging-champion": 1, "champion": 2}
    bare = tracking.log_training_run(experiment="pins-reg", run_name="no model", params={}, cv={}, tags={})
    # before the fix: MLflow 3's client refused the search without experiment ids, the runs:/ fallback did not
    # exist, and mirroring a run without a model raised instead of returning None
    assert mlflow_view._logged_model_uri(client, bare) is None
    assert mlflow_view._logged_model_uri(client, rid).startswith("models:/")
    assert mlflow_view.mirror_version(mlflow_run_id=bare, name="pins-model", version="9.0.0", environment="dev", status="Approved") is None
    assert [v.version for v in client.search_model_versions("name='pins-model'")] == [2, 1]


def test_registration_mirrors_into_mlflow_and_logs_one_line(client, capsys, model_run):
    from modelway.stages import registration

    rid, _ = model_run
    registration.mirror_to_mlflow(rid, "pins-mirror", "1.0.0", "prod", "Approved")
    registration.mirror_to_mlflow(rid, "pins-mirror", "1.0.1", "staging", "Pending")
    assert capsys.readouterr().err.splitlines() == [
        "MLflow model registry: pins-mirror version 1, alias 'champion' (models:/pins-mirror/1)",
        "MLflow model registry: pins-mirror version 2 (models:/pins-mirror/2)"]
    bare = tracking.log_training_run(experiment="pins-reg", run_name="bare", params={}, cv={}, tags={})
    registration.mirror_to_mlflow(bare, "pins-mirror", "1.0.2", "dev", "Approved")
    assert capsys.readouterr().err == ""                 # nothing logged to mirror: no line
    registration.mirror_to_mlflow("no-such-run", "pins-mirror", "1.0.3", "dev", "Approved")
    assert capsys.readouterr().err.startswith(
        "warning: could not mirror pins-mirror 1.0.3 to MLflow's model registry: MlflowException: ")


class _NoChampion:
    def champion(self, name, envs):
        return None


def test_a_failed_evaluation_is_tracked_with_its_reports_metrics_and_data(client, capsys):
    from sklearn.linear_model import LinearRegression

    from modelway.stages import lifecycle
    from modelway.stages.evaluation import QualityGate
    from modelway.stages.gates import GateFailed
    from modelway.stages.model_schema import GuardedModel, ModelSchema
    from modelway.stages.results import Split, TrainedModel
    from modelway.stages.robustness import RobustnessGate

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x1": rng.normal(size=160), "g": rng.choice(["a", "b+"], 160)})
    df["y"] = 3.0 * df["x1"] + rng.normal(scale=1.0, size=160)
    train, test = df.iloc[:100], df.iloc[100:]
    model = GuardedModel(LinearRegression().fit(train[["x1"]], train["y"]), ModelSchema.infer(train[["x1"]], task="regression"))
    trained = TrainedModel(model=model, features=("x1",), experiment="pins-track",
                           training={"best_params": {"fit_intercept": True}, "search": {"strategy": "none", "budget": 1},
                                     "cv": {"r2": {"mean": 0.9, "std": 0.01, "folds": [0.89, 0.91]}}})
    config = lifecycle.EvaluationConfig(task="regression", label="y", primary_metric="r2",
                                        quality=QualityGate(min_metrics={"r2": 0.999}, slice_columns=("g",)),
                                        robustness=RobustnessGate(max_p95_single_ms=10_000.0, max_p95_batch_ms=60_000.0))
    with pytest.raises(GateFailed):
        lifecycle.evaluate(Split(train=train, test=test, validation={"passed": True}, data_versions={"d": "v9"}), trained, config,
                           model_name="pins-track", registry=_NoChampion())
    exp = client.get_experiment_by_name("pins-track")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name.startswith("local-") and run.data.tags["modelway.gates"] == "failed"
    assert run.data.tags["modelway.data.d"] == "v9" and run.data.tags["modelway.step"] == ""
    assert run.data.tags["mlflow.note.content"] == f"Modelway pipeline  run {run.info.run_name}"
    assert run.data.params == {"search.strategy": "none", "search.budget": "1", "fit_intercept": "True"}
    metrics = run.data.metrics
    assert metrics["cv_r2_mean"] == 0.9 and metrics["test_r2"] < 0.999
    assert {"slice_g_a_r2", "slice_g_bplus_r2"} <= set(metrics) and "slice_g_a_n" not in metrics
    files = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert files == {f"reports/{n}" for n in ("validation_report.json", "training.json", "evaluation_report.json", "model_card.json",
                                              "model_card.md", "model_card.html")}
    contexts = sorted(next(t.value for t in i.tags if t.key == "mlflow.data.context") for i in run.inputs.dataset_inputs)
    assert contexts == ["evaluation", "training"] and run.inputs.dataset_inputs[0].dataset.name.startswith("d@v9 (")
    err = capsys.readouterr().err.splitlines()
    assert f"MLflow run {run.info.run_id} in experiment 'pins-track': http://127.0.0.1:5000/#/experiments/{exp.experiment_id}/runs/" \
           f"{run.info.run_id} (after: mlflow ui --backend-store-uri {tracking.tracking_uri()})" in err


def test_track_inside_a_step_names_the_run_after_the_pipeline_run_and_nests_its_finished_steps(client, mw_home, tmp_path):
    from modelway.runtime.context import activate, deactivate, stores
    from modelway.stages import lifecycle
    from modelway.stages.results import Split, TrainedModel

    run_store, _ = stores(mw_home)
    pipeline_file = tmp_path / "pipe.py"
    pipeline_file.write_text("")
    steps = [{"name": n, "func": "f", "upstream": [], "settings": {}} for n in ("load", "check", "track")]
    run_store.create_run("run-track", "pipe", str(pipeline_file), {}, "inprocess", True, {}, steps)

    class Ref:
        hash, kind, type, size = "a" * 64, "pickle", "int", 1

    run_store.step_started("run-track", "load", 1, None)
    run_store.step_succeeded("run-track", "load", attempt=1, output=Ref(), duration_s=1.5, cpu_s=None, peak_rss_mb=None,
                             cache_key=None, cacheable=False)
    run_store.step_started("run-track", "check", 1, None)

    class Ctx:
        home, run_id, pipeline_name, step_name = mw_home, "run-track", "pipe", "track"
        logs: list = []

        def log(self, message):
            self.logs.append(message)

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    trained = TrainedModel(model=None, features=("x",), experiment="",
                           training={"best_params": {}, "search": {"strategy": "none"}, "cv": {}})
    ctx = Ctx()
    token = activate(ctx)  # type: ignore[arg-type]
    try:
        rid = lifecycle.track(Split(train=frame, test=frame, validation={"passed": True}), trained, None)
    finally:
        deactivate(token)
    run = client.get_run(rid)
    started = run_store.get_run("run-track")["started_at"]
    assert client.get_experiment(run.info.experiment_id).name == "modelway"          # an empty experiment name falls back
    assert (run.info.run_name, run.info.start_time) == ("run-track", int(started * 1000))
    tags = run.data.tags
    assert (tags["modelway.run_id"], tags["modelway.pipeline"], tags["modelway.step"]) == ("run-track", "pipe", "track")
    assert tags["mlflow.source.name"] == str(pipeline_file) and tags["mlflow.note.content"] == "Modelway pipeline pipe run run-track"
    assert "modelway.gates" not in tags
    assert {a.path for a in client.list_artifacts(rid, "reports")} == {"reports/validation_report.json", "reports/training.json"}
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{rid}'")
    assert [c.info.run_name for c in children] == ["load"]
    assert ctx.logs == [f"MLflow run {rid} in experiment 'modelway': {mlflow_view.run_link(run.info.experiment_id, rid)}"]
