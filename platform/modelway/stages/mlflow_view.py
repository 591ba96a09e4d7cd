"""The pipeline run as MLflow users expect to find it: one run, nested steps, datasets, model, registry.

* one MLflow run per pipeline run, starting when the pipeline run started; each finished step
  is a nested run (``mlflow.parentRunId``) with its own start/end time, duration and peak memory;
* the tags MLflow's UI reads: ``mlflow.runName``, ``mlflow.user``, ``mlflow.source.name`` /
  ``.type`` / ``.git.commit`` / ``.git.branch``, ``mlflow.note.content``;
* train and test data logged with ``mlflow.data`` (name, digest, source, targets) as inputs;
* the model logged with ``mlflow.sklearn.log_model`` (signature and input example);
* reports and the model card as artifacts under ``reports/``;
* at registration, a mirror of the version in MLflow's model registry (tags with the
  Modelway version, environment and status) and the alias ``champion`` (prod) or
  ``<env>-champion`` on approved versions.

MLflow is imported inside the functions (about a second).

Example:
    >>> champion_alias("prod"), champion_alias("dev")
    ('champion', 'dev-champion')
"""
from __future__ import annotations

import contextlib
import io
from typing import Any

from modelway.lineage.collect import git_info
from modelway.settings import current_user, tracking_uri
from modelway.stages.env import modelway_home
from modelway.stages.tracking import _mlflow


def champion_alias(environment: str) -> str:
    """The MLflow alias that marks the approved version of an environment."""
    return "champion" if environment == "prod" else f"{environment}-champion"


def source_tags(*, pipeline_file: str | None, run_name: str, description: str = "") -> dict[str, str]:
    """The ``mlflow.*`` tags MLflow's UI shows in a run's header (source, user, commit, branch)."""
    from pathlib import Path

    where = Path(pipeline_file).resolve().parent if pipeline_file else Path(".")
    git = git_info(where)
    tags = {"mlflow.runName": run_name, "mlflow.user": current_user(), "mlflow.source.type": "LOCAL",
            "mlflow.source.name": str(pipeline_file or "")}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = str(git["commit"])
        branch = _git_branch(where)
        if branch:
            tags["mlflow.source.git.branch"] = branch
    if description:
        tags["mlflow.note.content"] = description
    return tags


def log_steps(client: Any, experiment_id: str, parent_run_id: str, steps: list[dict[str, Any]]) -> list[str]:
    """One nested run per finished step (times from the run store); returns their run ids."""
    from mlflow.entities import Metric, RunTag

    ids = []
    for step in steps:
        if step.get("status") not in ("succeeded", "cached") or not step.get("started_at"):
            continue
        start = int(step["started_at"] * 1000)
        child = client.create_run(experiment_id, start_time=start, run_name=step["name"],
                                  tags={"mlflow.parentRunId": parent_run_id, "modelway.step": step["name"],
                                        "modelway.cached": str(bool(step.get("cached"))).lower()})
        metrics = [Metric("duration_s", float(step.get("duration_s") or 0.0), start, 0)]
        if step.get("peak_rss_mb") is not None:
            metrics.append(Metric("peak_rss_mb", float(step["peak_rss_mb"]), start, 0))
        client.log_batch(child.info.run_id, metrics=metrics, tags=[RunTag("mlflow.runName", step["name"])])
        end = int((step.get("ended_at") or step["started_at"]) * 1000)
        client.set_terminated(child.info.run_id, status="FINISHED", end_time=end)
        ids.append(child.info.run_id)
    return ids


def log_datasets(run_id: str, frames: dict[str, Any], *, label: str, versions: dict[str, str]) -> None:
    """Log ``{"training": df, "evaluation": df}`` with ``mlflow.data`` (name = the registered dataset version)."""
    import mlflow

    name = ", ".join(f"{k}@{v}" for k, v in versions.items()) or "data"
    with mlflow.start_run(run_id=run_id):
        for context, frame in frames.items():
            dataset = mlflow.data.from_pandas(frame, source=_source_uri(versions), name=f"{name} ({context})",
                                              targets=label if label in frame.columns else None)
            mlflow.log_input(dataset, context=context)


def run_link(experiment_id: str, run_id: str) -> str:
    """What to open: the run's page on a tracking server, or the UI command and the page's path for a local store."""
    uri = tracking_uri()
    path = f"#/experiments/{experiment_id}/runs/{run_id}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{path}"
    return f"http://127.0.0.1:5000/{path} (after: mlflow ui --backend-store-uri {uri})"


def mirror_version(*, mlflow_run_id: str, name: str, version: str, environment: str, status: str) -> str | None:
    """Register the run's logged model in MLflow's registry (idempotent per Modelway version) and set the champion alias
    when approved. Returns the MLflow model version, or None when the run has no logged model."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except Exception:  # not registered yet (or a concurrent registration created it first)
        try:
            client.create_registered_model(name, description=f"Mirror of Modelway's registry entry {name}")
        except Exception:
            pass
    existing = [v for v in client.search_model_versions(f"name='{name}'") if (v.tags or {}).get("modelway.version") == version]
    if existing:
        mv = existing[0]
    else:
        source = _logged_model_uri(client, mlflow_run_id)
        if source is None:
            return None
        # mlflow.register_model resolves a logged model's URI to its artifacts (create_model_version would not)
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version ..." itself; we log one line
            mv = mlflow.register_model(source, name, tags={"modelway.version": version, "modelway.environment": environment})
    client.set_model_version_tag(name, mv.version, "modelway.status", status)
    if status == "Approved":
        client.set_registered_model_alias(name, champion_alias(environment), mv.version)
    return str(mv.version)


def _logged_model_uri(client: Any, run_id: str) -> str | None:
    try:
        # MLflow 3's client needs the experiments to search (without them the call is a TypeError,
        # and a run without a model was then "registered" from a runs:/ path that does not exist)
        experiment_id = client.get_run(run_id).info.experiment_id
        models = client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'")
    except Exception:  # an MLflow without logged-model search: the run's artifact path
        return f"runs:/{run_id}/model"
    return models[0].model_uri if models else None


def _source_uri(versions: dict[str, str]) -> str:
    return (modelway_home() / "datasets").as_uri()


def _git_branch(where: Any) -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    branch = out.stdout.strip()
    return branch if out.returncode == 0 and branch and branch != "HEAD" else None
