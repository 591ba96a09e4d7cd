"""Experiment tracking in MLflow: params, metrics (per fold too), tags, model + signature, reports.

The store is MLflow's own, so its client and UI read everything we log. By default it is
a SQLite database under ``$MODELWAY_HOME`` (``sqlite:///<home>/mlflow.db``; MLflow 3 puts
the file store in maintenance mode, and SQLite is fast and single-file) with artifacts in
``<home>/mlartifacts``; ``MODELWAY_TRACKING_URI`` points it elsewhere (a stack supplies a
tracking server later). The UI command is :func:`ui_command`.

MLflow is imported inside the functions: importing it costs about a second.

Example:
    >>> uri = tracking_uri()
    >>> uri.startswith("sqlite:///") or "://" in uri
    True
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelway.settings import get_settings, tracking_uri, ui_command  # noqa: F401  (ui_command: part of this module's API)
from modelway.stages.env import git_commit, modelway_home


def artifact_root() -> str:
    """Where new experiments store artifacts when tracking locally."""
    return (modelway_home() / "mlartifacts").as_uri()


def _quiet_mlflow_env() -> None:
    """Settings that must be in place before MLflow is imported.

    Telemetry is off unless the user turned it on (``MLFLOW_DISABLE_TELEMETRY=false``, MLflow's
    documented switch): MLflow would otherwise send usage data and write an installation id to
    ``~/.config/mlflow/telemetry.json``, outside ``$MODELWAY_HOME``.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _mlflow():
    _quiet_mlflow_env()
    _seed_local_store()
    import mlflow

    # Quiet MLflow's chatter (db migrations, pickle advice, integer-schema hints) in step logs;
    # MLflow configures its loggers on import, so this must come after it.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow\..*")

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def _seed_local_store() -> None:
    """Start a new default SQLite store from an empty, already-migrated copy, when the user
    keeps one in ``$MODELWAY_CACHE_DIR``.

    Creating an MLflow SQLite database runs every schema migration (2-7 s on a small
    machine) on each fresh ``$MODELWAY_HOME``. The empty result is identical each time, so
    with ``MODELWAY_CACHE_DIR`` set (a place the user chose: many homes, e.g. a test suite,
    share it) it is built once per MLflow version there and copied (temp file + rename).
    Without it nothing is written outside the home: MLflow creates the store as usual.
    """
    settings = get_settings()
    if settings.tracking_uri or settings.cache_dir is None:
        return
    target = modelway_home() / "mlflow.db"
    if target.exists():
        return
    tmp = None
    try:
        from importlib.metadata import version

        cache = settings.cache_dir.expanduser()
        template = cache / f"mlflow-{version('mlflow')}-empty.db"
        if not template.exists():
            _build_template(template)
        fd, tmp = tempfile.mkstemp(prefix=".mlflow.db.", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(template.read_bytes())
        import sqlite3

        # MLflow's "Default" experiment points at ./mlruns of wherever the template was built
        with sqlite3.connect(tmp) as db:
            db.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (f"{artifact_root()}/0",))
        if not target.exists():  # another process may have seeded it meanwhile
            os.replace(tmp, target)
            tmp = None
    except Exception:  # the cache is an optimisation only
        return
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _build_template(template: Path) -> None:
    import shutil

    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mlflow-template-", dir=template.parent) as tmp:
        db = Path(tmp) / "empty.db"
        _quiet_mlflow_env()
        import mlflow

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
        staged = template.with_name(f".{template.name}.{os.getpid()}")
        shutil.copyfile(db, staged)
        os.replace(staged, template)


def _experiment_id(mlflow: Any, name: str) -> str:
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = f"{artifact_root()}/{name}" if not get_settings().tracking_uri else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # a concurrent run created it first
        return client.get_experiment_by_name(name).experiment_id


def standard_tags(*, run_id: str | None, pipeline: str | None, data_versions: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Tags every tracked run carries: modelway run id, pipeline, git commit, data versions.

    Example:
        >>> standard_tags(run_id="r1", pipeline="p", data_versions={"credit": "abc"})["modelway.data.credit"]
        'abc'
    """
    git = git_commit()
    tags = {
        "modelway.run_id": run_id or "",
        "modelway.pipeline": pipeline or "",
        "mlflow.source.git.commit": str(git["commit"]),
        "modelway.git.dirty": str(git["dirty"]).lower(),
    }
    for name, version in (data_versions or {}).items():
        tags[f"modelway.data.{name}"] = str(version)
    for key, value in (extra or {}).items():
        tags[str(key)] = str(value)
    return tags


def log_training_run(
    *,
    experiment: str,
    run_name: str,
    params: Mapping[str, Any],
    cv: Mapping[str, Mapping[str, Any]],
    tags: Mapping[str, str],
    model: Any = None,
    input_example: Any = None,
    artifacts: Mapping[str, Any] | None = None,
    start_time: int | None = None,
    on_run: Any = None,
) -> str:
    """Start an MLflow run and log a training result; returns the MLflow run id.

    ``start_time`` (ms since the epoch) backdates the run to when the pipeline run started;
    ``on_run(client, experiment_id, run_id)`` logs more into it before it is terminated.

    ``cv`` maps metric -> {"mean", "std", "folds"}: logged as ``cv_<m>_mean``,
    ``cv_<m>_std`` and ``cv_<m>_fold`` (one value per fold, step = fold index). The model
    is logged with a signature inferred from ``input_example`` and its predictions.
    ``artifacts`` maps a file name to a dict (written as JSON), a string or a path.

    Example:
        >>> rid = log_training_run(experiment="doc", run_name="r", params={"a": 1},
        ...                        cv={"auc": {"mean": 0.8, "std": 0.01, "folds": [0.79, 0.81]}},
        ...                        tags={"modelway.run_id": "r"})
        >>> len(rid) > 0
        True
    """
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    experiment_id = _experiment_id(mlflow, experiment)
    run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags), start_time=start_time)
    rid = run.info.run_id
    try:
        from mlflow.entities import Metric, Param, RunTag

        import time

        now = int(time.time() * 1000)
        metrics = []
        for name, stats in cv.items():
            metrics.append(Metric(f"cv_{name}_mean", float(stats["mean"]), now, 0))
            metrics.append(Metric(f"cv_{name}_std", float(stats["std"]), now, 0))
            for i, value in enumerate(stats.get("folds", [])):
                metrics.append(Metric(f"cv_{name}_fold", float(value), now, i))
        client.log_batch(
            rid,
            metrics=metrics,
            params=[Param(str(k)[:250], str(v)[:6000]) for k, v in params.items()],
            tags=[RunTag("mlflow.runName", run_name)],
        )
        _log_artifacts(client, rid, artifacts or {})
        if model is not None:
            log_model(rid, model, input_example)
        if on_run is not None:
            on_run(client, experiment_id, rid)
    except BaseException:
        client.set_terminated(rid, status="FAILED")
        raise
    client.set_terminated(rid, status="FINISHED")
    return rid


def log_model(mlflow_run_id: str, model: Any, input_example: Any = None) -> str:
    """Log a scikit-learn model (with signature) into an existing run; returns the model URI."""
    mlflow = _mlflow()
    from mlflow.models import infer_signature

    signature = None
    if input_example is not None:
        predict = getattr(model, "predict_proba", None) or model.predict
        try:
            output = predict(input_example)
        except Exception:  # a model that cannot predict on its example still gets logged
            output = None
        signature = infer_signature(input_example, output)
    import sklearn

    with mlflow.start_run(run_id=mlflow_run_id):
        # Explicit requirements skip MLflow's slow pip inference (it imports the model in a subprocess).
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=input_example,
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", "modelway"],
            serialization_format="pickle",
        )
    return info.model_uri


def log_evaluation(
    mlflow_run_id: str,
    *,
    metrics: Mapping[str, float],
    tags: Mapping[str, str] | None = None,
    artifacts: Mapping[str, Any] | None = None,
) -> None:
    """Add evaluation metrics, tags and report artifacts to an existing MLflow run.

    Example:
        >>> rid = log_training_run(experiment="doc", run_name="r", params={}, cv={}, tags={})
        >>> log_evaluation(rid, metrics={"test_auc": 0.8})
    """
    mlflow = _mlflow()
    from mlflow.entities import Metric, RunTag

    import time

    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    client.log_batch(
        mlflow_run_id,
        metrics=[Metric(str(k)[:250], float(v), now, 0) for k, v in metrics.items() if _is_number(v)],
        tags=[RunTag(str(k), str(v)) for k, v in (tags or {}).items()],
    )
    _log_artifacts(client, mlflow_run_id, artifacts or {})


def _log_artifacts(client: Any, rid: str, artifacts: Mapping[str, Any]) -> None:
    if not artifacts:
        return
    with tempfile.TemporaryDirectory(prefix="modelway-mlflow-") as tmp:
        for name, value in artifacts.items():
            target = Path(tmp) / name
            if isinstance(value, Path):  # a file to copy; strings are always content
                target.write_bytes(value.read_bytes())
            elif isinstance(value, bytes):
                target.write_bytes(value)
            elif isinstance(value, str):
                target.write_text(value)
            else:
                target.write_text(json.dumps(value, indent=2, default=str))
        client.log_artifacts(rid, tmp, artifact_path="reports")


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
