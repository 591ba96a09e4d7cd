"""The bodies of the standard lifecycle steps, so a pipeline file only wires and configures them.

Each function does one stage end to end — run the checks, attach the report to the run
(``step_context().attach``, kept even when the step then fails), log to MLflow, and raise
:class:`~modelway.stages.gates.GateFailed` when a gate fails so nothing downstream runs:

* :func:`validate_and_split` — contract + quality checks, seeded train/test split, leakage checks;
* :func:`train` — CV + budgeted search (checkpointed), model wrapped in its schema guard;
* :func:`evaluate` — quality overall/per slice, regression vs champion, fairness,
  robustness; builds the model card;
* :func:`track` — one MLflow run with params, CV and test metrics, model + signature, reports;
* registration — a cached ``package`` step and an uncached, idempotent ``register`` step
  (:mod:`modelway.stages.registration`; as library steps in :mod:`modelway.stages.steps`).

Outside a pipeline step (tests, notebooks) they work the same; attaching is skipped.

Example:
    >>> from modelway.stages.lifecycle import EvaluationConfig
    >>> EvaluationConfig(task="regression", label="y", primary_metric="r2").sensitive is None
    True
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from modelway.lineage.datasets import add_dataset
from modelway.registry import get_registry
from modelway.runtime.context import current_or_none, stores
from modelway.stages import mlflow_view, tracking
from modelway.stages.env import git_commit, limited_threads, target_environment
from modelway.stages.evaluation import QualityGate
from modelway.stages.fairness import FairnessGate
from modelway.stages.gates import CheckResult, GateReport
from modelway.stages.ml_test_score import ml_test_score
from modelway.stages.ml_tests import MLTests
from modelway.stages.model_card import build_model_card, render_html, render_markdown
from modelway.stages.results import Evaluation, Split, TrainedModel
from modelway.stages.robustness import RobustnessGate

if TYPE_CHECKING:
    from modelway.registry.base import ModelRegistry


def _ctx() -> Any:
    return current_or_none()


def log(message: str) -> None:
    """Log through the step context (shown by ``runs show``), or print outside a step."""
    ctx = _ctx()
    if ctx is not None:
        ctx.log(message)
    else:
        import sys

        print(message, file=sys.stderr)


def attach_report(name: str, report: GateReport) -> None:
    """Attach ``<name>`` (JSON) and ``<name>.md`` (a Markdown file) to the running step; no-op outside a step."""
    ctx = _ctx()
    if ctx is None:
        return
    ctx.attach(name, report.to_dict())
    ctx.attach_text(f"{name}.md", report.to_markdown(), suffix=".md")


def data_version(df: Any) -> str:
    """A content hash of a DataFrame (12 hex digits), stable across processes.

    Example:
        >>> import pandas as pd
        >>> data_version(pd.DataFrame({"a": [1, 2]})) == data_version(pd.DataFrame({"a": [1, 2]}))
        True
    """
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()[:12]


def register_dataset(name: str, df: Any) -> str:
    """Register a generated frame as an immutable dataset version and record its use by this run.

    Inside a step the frame is stored through ``modelway data``'s registry (so
    ``modelway lineage impacted --dataset NAME@VERSION`` finds this run); outside, only the
    content hash is computed. Returns the version.
    """
    ctx = _ctx()
    if ctx is None:
        return data_version(df)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="modelway-data-") as tmp:
        path = Path(tmp) / f"{name}.parquet"
        df.to_parquet(path, index=False)
        ref, _ = add_dataset(name, path, home=ctx.home)
    ctx.record_dataset(ref.name, ref.version)
    return ref.version


# --- validation --------------------------------------------------------------------------


def validate_and_split(
    df: Any,
    contract: Any,
    *,
    features: list[str],
    test_size: float = 0.25,
    seed: int = 0,
    data_versions: dict[str, str] | None = None,
) -> Split:
    """Validate ``df`` against ``contract``, split it, check leakage; raise GateFailed on failure."""
    from sklearn.model_selection import train_test_split

    from modelway.stages.validation import check_leakage, validate_dataset

    report = validate_dataset(df, contract)
    stratify = None
    if contract.task == "classification" and contract.label in df.columns:
        counts = df[contract.label].value_counts()
        stratify = df[contract.label] if len(counts) > 1 and counts.min() >= 2 else None
    train_df, test_df = train_test_split(df, test_size=test_size, random_state=seed, stratify=stratify)
    # probe every column, not only today's features: a leaky column in the data is a finding either way
    probe = list(dict.fromkeys([*features, *(c for c in df.columns if c != contract.label and c not in contract.id_columns)]))
    try:
        report.extend(check_leakage(train_df, test_df, contract, probe, seed=seed).checks)
    except Exception as exc:  # badly broken data can break the leakage probes; that is a finding too
        report.extend([CheckResult("leakage", False, f"leakage checks could not run: {type(exc).__name__}: {exc}", category="leakage")])
    report.context.update({"train_rows": int(len(train_df)), "test_rows": int(len(test_df)), "data_versions": data_versions or {}})
    attach_report("validation_report", report)
    log(report.summary())
    report.raise_if_failed()
    return Split(train=train_df, test=test_df, validation=report.to_dict(), data_versions=dict(data_versions or {}))


# --- training ----------------------------------------------------------------------------


def train(
    split: Split,
    estimator: Any,
    spec: Any,
    *,
    label: str,
    features: list[str],
    task: Literal["classification", "regression"],
    experiment: str,
    track: bool = False,
    feature_function: Any = None,
) -> TrainedModel:
    """Cross-validated, budgeted search and refit; the model is wrapped in a schema guard.

    ``feature_function`` (a :func:`modelway.features.feature_function` that produced some of
    ``features``) is recorded in the schema, so the model server applies the same code.

    Tracking happens once per run in :func:`track` (or in :func:`evaluate` when the model
    tests fail), so MLflow's import and connection are paid once; ``track=True`` logs here.
    """
    from modelway.stages.model_schema import GuardedModel, ModelSchema
    from modelway.stages.training import context_checkpointer, train_with_search

    train_df = split.train
    X, y = train_df[features], train_df[label]
    with limited_threads():
        result = train_with_search(estimator, X, y, spec, checkpoint=context_checkpointer(), task=task)
    classes = list(getattr(result.model, "classes_", [])) if task == "classification" else []
    model = GuardedModel(result.model, ModelSchema.infer(X, task=task, classes=classes, feature_function=feature_function))
    summary = result.summary()
    summary["estimator"] = type(result.model).__name__ if not getattr(result.model, "steps", None) else [
        f"{name}:{type(obj).__name__}" for name, obj in result.model.steps
    ]
    refit = summary["search"]["refit"]
    log(
        f"trained {summary['search']['trials_run']} candidate(s) x {spec.cv_folds}-fold CV in {result.fit_seconds:.1f}s; "
        f"best {refit} {result.cv[refit]['mean']:.4f} ± {result.cv[refit]['std']:.4f} with {summary['best_params']}"
        + (f" (resumed {result.resumed_trials} trials from a checkpoint)" if result.resumed_trials else "")
    )
    trained = TrainedModel(model=model, training=summary, features=tuple(features), experiment=experiment)
    if track:
        trained = replace(trained, mlflow_run_id=_log_run(split, trained))
    return trained


def track(split: Split, trained: TrainedModel, evaluation: Evaluation | None) -> str:
    """Log the pipeline run to MLflow as its users expect (:mod:`modelway.stages.mlflow_view`): one run
    from the pipeline's start with nested step runs, source/git/user tags, the train and test data
    as ``mlflow.data`` inputs, params, CV and test metrics, the model with its signature and input
    example, and the validation/evaluation reports and model card (JSON, Markdown, HTML).

    Returns the MLflow run id.
    """
    ctx = _ctx()
    summary, model = trained.training, trained.model
    experiment = trained.experiment or "modelway"
    run = _pipeline_run(ctx)
    run_name = getattr(ctx, "run_id", None) or f"local-{int(time.time())}"
    tags = tracking.standard_tags(
        run_id=getattr(ctx, "run_id", None), pipeline=getattr(ctx, "pipeline_name", None),
        data_versions=split.data_versions, extra={"modelway.step": getattr(ctx, "step_name", "")},
    )
    tags.update(mlflow_view.source_tags(pipeline_file=run.get("pipeline_file"), run_name=run_name,
                                        description=f"Modelway pipeline {getattr(ctx, 'pipeline_name', '')} run {run_name}"))
    params = {f"search.{k}": v for k, v in summary["search"].items()}
    params.update({k: v for k, v in summary["best_params"].items()})
    artifacts: dict[str, Any] = {"validation_report.json": split.validation, "training.json": summary}
    if evaluation is not None:
        tags["modelway.gates"] = "passed" if evaluation.passed else "failed"
        artifacts.update({"evaluation_report.json": evaluation.report, "model_card.json": evaluation.card,
                          "model_card.md": render_markdown(evaluation.card), "model_card.html": render_html(evaluation.card)})
    label = (evaluation.card.get("label") if evaluation is not None else None) or ""
    steps = _finished_steps(ctx)
    link: list[str] = []

    def more(client: Any, experiment_id: str, rid: str) -> None:
        mlflow_view.log_steps(client, experiment_id, rid, steps)
        mlflow_view.log_datasets(rid, {"training": split.train, "evaluation": split.test}, label=label,
                                 versions=split.data_versions)
        link.append(mlflow_view.run_link(experiment_id, rid))

    started = run.get("started_at") or run.get("created_at")
    rid = tracking.log_training_run(
        experiment=experiment, run_name=run_name, params=params, cv=summary["cv"], tags=tags, model=model,
        input_example=split.train[list(trained.features)].head(5), artifacts=artifacts,
        start_time=int(started * 1000) if started else None, on_run=more,
    )
    if evaluation is not None:
        tracking.log_evaluation(rid, metrics=_evaluation_metrics(evaluation))
    log(f"MLflow run {rid} in experiment {experiment!r}: {link[0] if link else tracking.ui_command()}")
    return rid


def _pipeline_run(ctx: Any) -> dict[str, Any]:
    if ctx is None:
        return {}

    return stores(ctx.home)[0].get_run(ctx.run_id) or {}


def _finished_steps(ctx: Any) -> list[dict[str, Any]]:
    if ctx is None:
        return []

    return [s for s in stores(ctx.home)[0].steps(ctx.run_id) if s.get("status") in ("succeeded", "cached")]


def _log_run(split: Split, trained: TrainedModel) -> str:
    return track(split, trained, None)  # train()'s ``track`` flag hides this module's function


def _evaluation_metrics(evaluation: Evaluation) -> dict[str, float]:
    metrics = {f"test_{k}": v for k, v in evaluation.metrics.items() if isinstance(v, (int, float))}
    for slice_name, m in (evaluation.slices or {}).items():
        for k, v in m.items():
            if isinstance(v, (int, float)) and k != "n":
                metrics[f"slice_{slice_name.replace('=', '_').replace('+', 'plus')}_{k}"] = v
    for key in ("demographic_parity_difference", "equalized_odds_difference", "max_relative_mae_gap"):
        if key in (evaluation.fairness or {}):
            metrics[f"fairness_{key}"] = evaluation.fairness[key]
    return metrics


# --- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationConfig:
    """What the model-test gate checks, and what the model card says about intended use."""

    task: Literal["classification", "regression"]
    label: str
    primary_metric: str
    quality: QualityGate = field(default_factory=QualityGate)
    fairness: FairnessGate | None = None
    robustness: RobustnessGate = field(default_factory=RobustnessGate)
    intended_use: str = ""
    limitations: tuple[str, ...] = ()
    sensitive_is_feature: bool = False  # the pipeline must say so explicitly
    ml_tests: MLTests = field(default_factory=MLTests)
    """The automated ML Test Score checks (importance, cost, baselines, staleness, screening, ...)."""

    @property
    def sensitive(self) -> str | None:
        return self.fairness.sensitive if self.fairness else None


def evaluate(
    split: Split,
    trained: TrainedModel,
    config: EvaluationConfig,
    *,
    model_name: str,
    environment: str | None = None,
    registry: ModelRegistry | None = None,
) -> Evaluation:
    """Run the model tests; attach the report; raise GateFailed if any check failed."""
    with limited_threads():
        return _evaluate(split, trained, config, model_name=model_name, environment=environment, registry=registry)


def _evaluate(split: Split, trained: TrainedModel, config: EvaluationConfig, *, model_name: str,
              environment: str | None, registry: Any) -> Evaluation:
    import numpy as np

    from modelway.stages.evaluation import compute_metrics, predict_for_metrics, quality_checks, slice_metrics
    from modelway.stages.fairness import fairness_report
    from modelway.stages.robustness import robustness_checks

    model = trained.model
    features = list(trained.features)
    test = split.test
    X_test, y_test = test[features], test[config.label].to_numpy()
    y_pred, y_score = predict_for_metrics(model, X_test, config.task)
    overall = compute_metrics(config.task, y_test, y_pred, y_score)
    slices = slice_metrics(config.task, test, y_test, y_pred, y_score, config.quality.slice_columns)
    champion = _champion_metrics(registry, model_name, target_environment(environment), test, features, config)
    report = GateReport("model tests", context={"model": model_name, "test_rows": int(len(test))})
    report.extend(quality_checks(config.quality, overall, slices, champion))
    fairness = None
    if config.fairness is not None:
        fairness = fairness_report(config.fairness, y_test, y_pred, test[config.fairness.sensitive].to_numpy(), task=config.task)
        report.extend(fairness["checks"])
        report.extend([_sensitive_feature_check(config, features)])
    artifact_bytes = len(pickle.dumps(model, protocol=5))
    report.extend(robustness_checks(model, X_test, config.robustness, artifact_bytes=artifact_bytes))
    from modelway.stages.ml_tests import run_ml_tests

    ml_checks, evidence = run_ml_tests(
        split, trained, task=config.task, label=config.label, primary_metric=config.primary_metric, overall=overall,
        tests=config.ml_tests, champion_libraries=(champion or {}).get("libraries"),
        champion_label=f"champion {model_name} {(champion or {}).get('version', '')}".strip(),
    )
    report.extend(ml_checks)
    evidence.update(_metric_evidence(config, test, y_test, y_pred, y_score, overall))
    ctx = _ctx()
    card = build_model_card(
        name=model_name, task=config.task, intended_use=config.intended_use, limitations=list(config.limitations),
        metrics=overall, checks=report.checks, data_versions=split.data_versions,
        training={k: trained.training[k] for k in ("estimator", "best_params", "search", "cv") if k in trained.training},
        slices=slices, fairness=fairness, features=features, run_id=getattr(ctx, "run_id", None),
        code_commit=str(git_commit()["commit"]), mlflow_run_id=trained.mlflow_run_id,
    )
    card["label"] = config.label
    card["libraries"] = evidence.get("libraries", {})
    card["evidence"] = _card_evidence(evidence)

    card["ml_test_score"] = ml_test_score([*split.validation.get("checks", []), *card["checks"]], training=card["training"])
    predictions: dict[str, Any] = {}
    if config.task == "regression":  # for the residual plot in the run report
        idx = np.random.default_rng(0).choice(len(y_test), size=min(400, len(y_test)), replace=False)
        predictions = {"y_true": [float(v) for v in y_test[idx]], "y_pred": [float(v) for v in np.asarray(y_pred)[idx]]}
    result = Evaluation(
        report=report.to_dict(), card=card, metrics=overall, slices=slices,
        fairness={k: v for k, v in (fairness or {}).items() if k != "checks"} or None,
        predictions=predictions, artifact_bytes=artifact_bytes, champion=champion, evidence=evidence,
    )
    attach_report("evaluation_report", report)
    if ctx is not None:
        ctx.attach("model_card", card)
        if predictions:  # the report's residual plot (the step's output is a typed Evaluation, not JSON)
            ctx.attach("predictions", predictions)
    log(report.summary())
    if not report.passed:
        track(split, trained, result)  # failed candidates are experiments too; the track step will not run
    report.raise_if_failed()
    return result


def _sensitive_feature_check(config: EvaluationConfig, features: list[str]) -> CheckResult:
    sensitive = config.sensitive
    name = f"fairness.{sensitive}.not_a_feature"
    if config.sensitive_is_feature:
        return CheckResult(name, True, f"the pipeline declares that {sensitive!r} (or its source column) may be a model feature", category="fairness")
    used = sensitive in features
    return CheckResult(
        name, not used,
        f"sensitive attribute {sensitive!r} is a model feature; drop it or set sensitive_is_feature=True" if used
        else f"sensitive attribute {sensitive!r} is not a model feature", category="fairness",
    )


def _champion_metrics(registry: Any, name: str, environment: str, test: Any, features: list[str], config: EvaluationConfig) -> dict[str, Any] | None:
    """Score the current champion (approved in prod, else in the target env) on the same test set."""
    from modelway.stages.evaluation import compute_metrics, predict_for_metrics
    from modelway.stages.model_schema import SchemaMismatch

    if registry is None:
        registry = get_registry()
    envs = ("prod",) if environment == "prod" else ("prod", environment)
    champion = registry.champion(name, envs)
    if champion is None:
        return None
    old = registry.load_model(name, champion.version)  # sha256 verified
    try:
        y_pred, y_score = predict_for_metrics(old, test[[c for c in test.columns if c != config.label]], config.task)
    except (SchemaMismatch, KeyError, ValueError) as exc:
        log(f"champion {name} {champion.version} is not comparable on this test set ({exc}); regression check skipped")
        return None
    metrics = compute_metrics(config.task, test[config.label].to_numpy(), y_pred, y_score)
    metrics.pop("confusion_matrix", None)
    return {"name": name, "version": champion.version, "environment": champion.environment, "metrics": metrics,
            "libraries": (champion.model_card or {}).get("libraries") or {}}


def _metric_evidence(config: EvaluationConfig, test: Any, y_test: Any, y_pred: Any, y_score: Any, overall: dict[str, Any]) -> dict[str, Any]:
    """Curves (binary classifiers) and 95% bootstrap intervals of the headline metrics, overall and per slice."""
    from modelway.stages.curves import bootstrap_intervals, classification_curves, slice_intervals

    headline = tuple(m for m in ("roc_auc", "accuracy", "f1", "r2", "mae", "rmse") if isinstance(overall.get(m), (int, float)))
    out: dict[str, Any] = {"intervals": {
        "overall": bootstrap_intervals(config.task, y_test, y_pred, y_score, headline),
        "slices": slice_intervals(config.task, test, y_test, y_pred, y_score, config.quality.slice_columns, config.primary_metric),
        "level": 0.95, "method": "percentile bootstrap over test rows",
    }}
    if y_score is not None:
        out["curves"] = classification_curves(y_test, y_score)
    return out


def _card_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The small, reviewer-facing part of the ML tests' evidence that the model card keeps."""
    keep = ("importance", "feature_cost", "baselines", "staleness", "screening", "explanation", "targeted_perturbation", "curves",
            "intervals")
    return {k: evidence[k] for k in keep if k in evidence}
