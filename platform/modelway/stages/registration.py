"""Packaging a tested model for the registry, and registering the package (the uncached last step).

Registration writes to the registry, so a pipeline must not replay it from the cache: after
the registry was deleted (or a version lost), a re-run has to register again. It therefore
runs on every run (``@step(cache=False)``) and is made cheap and idempotent:

* :func:`package` (a cached step) pickles the model once, stores the bytes in the run's
  artifact store and returns a plain JSON document (metadata + the artifact's digest), so
  the register step loads no DataFrame or estimator and imports neither pandas,
  scikit-learn nor MLflow;
* :func:`register_package` hands it to the registry, which returns the existing version
  when the same model with the same artifact sha256 and metadata is already registered for
  that environment (no new version, no audit entry), and registers it otherwise.

Example:
    >>> normalise({"auc": 0.5, "n": 3})
    {'auc': 0.5, 'n': 3}
"""
from __future__ import annotations

import hashlib
import json
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from modelway.errors import UserError
from modelway.registry import ModelCandidate, get_registry
from modelway.registry.promotion import PromotionRules, load_promotion_rules
from modelway.registry.semver import estimator_family
from modelway.runtime.context import artifact_store, current_or_none, stores
from modelway.runtime.lineage import record_model
from modelway.settings import ui_command
from modelway.stages.env import current_user, git_commit, modelway_home, target_environment
from modelway.stages.gates import GateReport
from modelway.stages.model_card import write_model_card
from modelway.stages.results import Evaluation, ModelPackage, Registration, Split, TrainedModel


def _ctx() -> Any:
    return current_or_none()


def _log(message: str) -> None:
    ctx = _ctx()
    if ctx is not None:
        ctx.log(message)
    else:
        print(message, file=sys.stderr)


def normalise(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars become numbers, anything else a string)."""
    return json.loads(json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def package(
    trained: TrainedModel,
    evaluation: Evaluation,
    split: Split,
    *,
    model_name: str,
    mlflow_run_id: str | None = None,
    home: Any = None,
) -> ModelPackage:
    """Everything the registry records about the candidate, as JSON, with the pickled model in
    the artifact store (``model_artifact`` is its digest). Inside a step the step's home is used.
    """
    model = trained.model
    blob = pickle.dumps(model, protocol=5)
    ctx = _ctx()
    store = artifact_store(Path(ctx.home) if ctx is not None else Path(home) if home else modelway_home())
    with tempfile.TemporaryDirectory(prefix="modelway-package-") as tmp:
        path = Path(tmp) / "model.pkl"
        path.write_bytes(blob)
        ref = store.put_path(path)
        # the training-data profile the monitor and the server's category checks compare against
        from modelway.profiling.profile import profile_model

        profile_path = Path(tmp) / "baseline.json"
        profile_path.write_text(profile_model(model, split.train).to_json())
        baseline_ref = store.put_path(profile_path)
    mlflow_run_id = mlflow_run_id or trained.mlflow_run_id
    card = evaluation.card
    return ModelPackage(**normalise({
        "model": model_name,
        "model_artifact": ref.hash,
        "baseline_artifact": baseline_ref.hash,
        "artifact_sha256": hashlib.sha256(blob).hexdigest(),
        "family": estimator_family(model),
        "schema": model.schema.signature(),
        "metrics": {k: v for k, v in evaluation.metrics.items() if k != "confusion_matrix"},
        "fairness": evaluation.fairness,
        "model_card": {**card, "mlflow_run_id": mlflow_run_id},
        "hyperparameters": trained.training.get("best_params", {}),
        # the commit the model was tested at (evaluate's), not the one a later cached re-run happens to be on
        "code_commit": str(card.get("code_commit") or git_commit()["commit"]),
        "data_versions": split.data_versions,
        "mlflow_run_id": mlflow_run_id,
        "gates_passed": evaluation.passed,
    }))


def register_package(
    pkg: ModelPackage,
    *,
    environment: str | None = None,
    promotion_rules: dict[str, Any] | None = None,
    registry: Any = None,
    home: Any = None,
) -> Registration:
    """Register a :func:`package` for ``environment`` (idempotent) and apply the promotion rules.

    Returns a summary: name, version, status, environment, model card path, run ids, the
    MLflow UI command, and ``already_registered``.
    """
    env = target_environment(environment)
    ctx = _ctx()
    _require_reviewed_code(env, promotion_rules, ctx)  # a precondition: nothing is read or written before it
    home = Path(ctx.home) if ctx is not None else Path(home) if home else modelway_home()
    registry = registry or get_registry(home if ctx is not None else None, rules=promotion_rules, card_writer=write_model_card)
    try:
        blob = artifact_store(home).verified_path(pkg.model_artifact).read_bytes()
    except (FileNotFoundError, KeyError):
        raise UserError(f"the packaged model of {pkg.model} ({pkg.model_artifact[:12]}) is missing from the artifact "
                        f"store under {home}; re-run the pipeline with --no-cache") from None
    import hashlib

    if hashlib.sha256(blob).hexdigest() != pkg.artifact_sha256:  # changed after it was verified above
        raise UserError(f"the packaged model of {pkg.model} changed on disk while it was being registered; "
                        "re-run the pipeline with --no-cache")
    name = pkg.model
    run_id = getattr(ctx, "run_id", None)
    if ctx is not None:
        _performance_history(ctx)
    lineage = {"run_id": run_id, "pipeline": getattr(ctx, "pipeline_name", None), "git": git_commit(),
               "data_versions": pkg.data_versions, "mlflow_run_id": pkg.mlflow_run_id}
    if ctx is not None:
        lineage.update(_run_lineage(ctx))
    version = registry.register(
        ModelCandidate(
            name=name, model=None, model_bytes=blob, family=pkg.family, schema=pkg.schema, metrics=pkg.metrics,
            fairness=pkg.fairness, model_card=pkg.model_card, hyperparameters=pkg.hyperparameters,
            code_commit=pkg.code_commit, data_versions=pkg.data_versions, run_id=run_id,
            mlflow_run_id=pkg.mlflow_run_id, lineage=lineage, gates_passed=pkg.gates_passed,
        ),
        environment=env, actor=current_user(),
    )
    if pkg.baseline_artifact:
        from modelway.profiling.profile import BaselineProfile, save_baseline

        profile = BaselineProfile.from_dict(json.loads(artifact_store(home).verified_path(pkg.baseline_artifact).read_text()))
        save_baseline(home, name, version.version, profile)
    if not version.already_registered and pkg.mlflow_run_id:
        mirror_to_mlflow(pkg.mlflow_run_id, name, version.version, env, version.status)
    if ctx is not None and not version.already_registered:
        record_model(name, version.version, run_id, artifact=version.artifact_sha256, home=ctx.home)
    summary: Registration = {
        "model": name, "version": version.version, "status": version.status, "environment": env,
        "version_reason": version.version_reason, "model_card": version.model_card_path,
        "run_id": version.run_id, "mlflow_run_id": version.mlflow_run_id, "mlflow_ui": ui_command(),
        "artifact_sha256": version.artifact_sha256, "already_registered": version.already_registered,
    }
    next_step = "" if version.status != "Pending" else (
        f"; approve with: modelway models approve {name} {version.version} --reason '...'"
    )
    if version.already_registered:
        _log(f"{name} {version.version} is already registered for {env} (same artifact and metadata, run "
             f"{version.run_id}): {version.status}{next_step}")
    else:
        _log(f"registered {name} {version.version} ({version.version_reason}) for {env}: {version.status}{next_step}")
    _log(f"model card: {version.model_card_path}")
    _log(f"MLflow UI: {ui_command()}")
    return summary


def _require_reviewed_code(env: str, promotion_rules: dict[str, Any] | None, ctx: Any) -> None:
    """ML Test Score M1: refuse (prod) or warn about code that is uncommitted or unpushed."""
    from pathlib import Path

    # Not at the top (nor the MLflow view and the run history below): stages.steps imports this
    # module, so every pipeline file that uses the library steps would load them (and `logging`)
    # in the runner's process, about 15 ms of each run, cached or not.
    from modelway.stages.spec_review import enforce_reviewed_code

    rules = PromotionRules.model_validate(promotion_rules) if promotion_rules else load_promotion_rules()
    where = Path(".")
    if ctx is not None:
        pipeline_file = ((stores(ctx.home)[0].get_run(ctx.run_id) or {}).get("pipeline_file"))
        if pipeline_file and Path(pipeline_file).exists():
            where = Path(pipeline_file).resolve().parent
    warning = enforce_reviewed_code(env, rules.for_env(env).reviewed_code_required(env), where)
    if warning:
        _log(warning)


def mirror_to_mlflow(mlflow_run_id: str, name: str, version: str, environment: str, status: str) -> None:
    """Mirror a registered version into MLflow's model registry (champion alias when approved); a failure is logged,
    never fatal: Modelway's registry is the record."""
    from modelway.stages.mlflow_view import champion_alias, mirror_version

    try:
        mv = mirror_version(mlflow_run_id=mlflow_run_id, name=name, version=version, environment=environment, status=status)
    except Exception as exc:  # noqa: BLE001 - the mirror is a view
        _log(f"warning: could not mirror {name} {version} to MLflow's model registry: {type(exc).__name__}: {exc}")
        return
    if mv is not None:
        alias = f", alias {champion_alias(environment)!r}" if status == "Approved" else ""
        _log(f"MLflow model registry: {name} version {mv}{alias} (models:/{name}/{mv})")


def _performance_history(ctx: Any) -> None:
    """ML Test Score Mon6: this run's step time and peak memory against the previous succeeded run (advisory)."""
    from modelway.stages.run_history import history_checks

    report = GateReport("performance history", history_checks(stores(ctx.home)[0], ctx.run_id, ctx.pipeline_name))
    ctx.attach("performance_history", report.to_dict())
    for check in report.checks:
        if not check.passed:
            _log(f"warning: {check.message}")


def _run_lineage(ctx: Any) -> dict[str, Any]:
    """The core's lineage record of this run (git, pipeline file hash, packages, host)."""
    try:
        run_store, _ = stores(ctx.home)
        run = run_store.get_run(ctx.run_id) or {}
        return {"run": run.get("lineage") or {}, "params": run.get("params") or {}}
    except Exception:  # lineage is informative; never fail a registration over it
        return {}
