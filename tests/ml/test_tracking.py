"""MLflow tracking: MLflow's own client reads back what we log (params, metrics per fold, tags, reports, model)."""
from __future__ import annotations

import pytest

from modelway.stages import tracking


def test_default_store_is_sqlite_under_modelway_home(home, monkeypatch):
    assert tracking.tracking_uri() == f"sqlite:///{home.absolute() / 'mlflow.db'}"
    assert tracking.ui_command() == f"mlflow ui --backend-store-uri sqlite:///{home.absolute() / 'mlflow.db'}"
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking.tracking_uri() == "http://mlflow.internal:5000"


def test_mlflow_client_reads_back_params_metrics_tags_reports_and_model(home, credit_model):
    import mlflow

    model, train, _, features = credit_model
    tags = tracking.standard_tags(run_id="20261126-000000-abcdef", pipeline="credit_risk", data_versions={"credit": "abc123"})
    rid = tracking.log_training_run(
        experiment="credit-risk", run_name="20261126-000000-abcdef",
        params={"clf__learning_rate": 0.1, "search.strategy": "random"},
        cv={"roc_auc": {"mean": 0.78, "std": 0.01, "folds": [0.77, 0.78, 0.79]}},
        tags=tags, model=model, input_example=train[features].head(5),
        artifacts={"validation_report.json": {"passed": True}, "notes.md": "# fine"},
    )
    tracking.log_evaluation(rid, metrics={"test_roc_auc": 0.8}, tags={"modelway.gates": "passed"},
                            artifacts={"evaluation_report.json": {"passed": True}})

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home.absolute() / 'mlflow.db'}")
    run = client.get_run(rid)
    assert run.info.status == "FINISHED" and run.info.run_name == "20261126-000000-abcdef"
    assert client.get_experiment(run.info.experiment_id).name == "credit-risk"
    assert run.data.params == {"clf__learning_rate": "0.1", "search.strategy": "random"}
    assert run.data.metrics["cv_roc_auc_mean"] == pytest.approx(0.78)
    assert run.data.metrics["cv_roc_auc_std"] == pytest.approx(0.01)
    assert run.data.metrics["test_roc_auc"] == pytest.approx(0.8)
    folds = client.get_metric_history(rid, "cv_roc_auc_fold")
    assert sorted((m.step, m.value) for m in folds) == [(0, 0.77), (1, 0.78), (2, 0.79)]
    assert run.data.tags["modelway.run_id"] == "20261126-000000-abcdef"
    assert run.data.tags["modelway.pipeline"] == "credit_risk"
    assert run.data.tags["modelway.data.credit"] == "abc123"
    assert len(run.data.tags["mlflow.source.git.commit"]) in (40, len("unknown"))
    assert run.data.tags["modelway.gates"] == "passed"
    reports = {a.path for a in client.list_artifacts(rid, "reports")}
    assert reports == {"reports/validation_report.json", "reports/notes.md", "reports/evaluation_report.json"}

    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert len(logged) == 1 and logged[0].source_run_id == rid
    info = mlflow.models.get_model_info(logged[0].model_uri)
    assert set(info.signature.inputs.input_names()) == set(features)
    assert info.flavors.keys() >= {"python_function", "sklearn"}


_TRACK_ONCE = """
from modelway.stages import tracking
tracking.log_training_run(experiment="e", run_name="r", params={"a": 1},
                          cv={"auc": {"mean": 0.8, "std": 0.01, "folds": [0.79, 0.81]}}, tags={})
from mlflow.telemetry.utils import is_telemetry_disabled
print("telemetry disabled:", is_telemetry_disabled())
"""


@pytest.mark.parametrize("cache_dir", [False, True])
def test_tracking_writes_nothing_outside_the_home_and_telemetry_is_off(tmp_path, cache_dir):
    import os
    import subprocess
    import sys

    user_home, modelway_home = tmp_path / "user", tmp_path / "mw"
    user_home.mkdir()
    ci_markers = ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS")  # MLflow turns telemetry off by itself there
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELWAY_", "MLFLOW_", "XDG_")) and k not in ci_markers}
    env.update({"HOME": str(user_home), "MODELWAY_HOME": str(modelway_home)})
    if cache_dir:  # the one place outside the home a user can ask for: the MLflow template store
        env["MODELWAY_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run([sys.executable, "-c", _TRACK_ONCE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "telemetry disabled: True" in done.stdout  # before the fix: False
    assert [p for p in user_home.rglob("*")] == []  # before: ~/.cache/modelway/..., ~/.config/mlflow/telemetry.json
    assert (modelway_home / "mlflow.db").is_file()
    assert [p.name for p in (tmp_path / "cache").glob("mlflow-*-empty.db")] if cache_dir else True
