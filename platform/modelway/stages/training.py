"""Training: k-fold cross-validation and a budgeted, seeded hyperparameter search.

:func:`train_with_search` evaluates candidate hyperparameters (``grid``: the parameter
grid, sampled down to the trial budget with the seed when it is larger; ``random``:
``n_trials`` draws from lists or scipy distributions) with k-fold CV through scikit-learn,
records the mean, spread and per-fold value of every metric, and refits the best
candidate on all the data.

Checkpoint/resume: after every trial, and after every chunk of boosting iterations /
every epoch of the final fit, the progress is handed to a :class:`Checkpointer` (inside a
pipeline step that is ``step_context().save_checkpoint/load_checkpoint``). A run that is
interrupted (a spot instance reclaimed, a kill) and resumed skips the finished trials and
continues the final fit from the last saved chunk instead of starting over. Iterative
estimators are those with ``warm_start`` plus ``max_iter``/``n_estimators`` (gradient
boosting, forests) or with ``partial_fit`` (SGD, naive Bayes, MLP).

Example:
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(200, random_state=0)
    >>> spec = SearchSpec(strategy="grid", space={"C": [0.1, 1.0]}, n_trials=2, cv_folds=3,
    ...                   scoring=("roc_auc",), refit="roc_auc")
    >>> result = train_with_search(LogisticRegression(), X, y, spec)
    >>> sorted(result.cv["roc_auc"]) == ["folds", "mean", "std"]
    True
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from modelway.errors import UserError
from modelway.runtime.context import current_or_none


@dataclass
class Checkpointer:
    """Where training progress goes: two callables, normally the step context's.

    Example:
        >>> box = {}
        >>> cp = Checkpointer(save=lambda o: box.update(state=o), load=lambda: box.get("state"))
        >>> cp.save({"trials": []}); cp.load()
        {'trials': []}
    """

    save: Callable[[Any], None]
    load: Callable[[], Any]


def context_checkpointer() -> Checkpointer | None:
    """The running step's checkpoint API, or None outside a pipeline step.

    Example:
        >>> context_checkpointer() is None  # not inside a step
        True
    """
    ctx = current_or_none()
    if ctx is None:  # not inside a running step: train without checkpoints
        return None
    return Checkpointer(save=ctx.save_checkpoint, load=ctx.load_checkpoint)


@dataclass(frozen=True)
class SearchSpec:
    """How to search: strategy, space, trial budget, folds, metrics and the refit metric.

    ``space`` keys are estimator parameter names (``clf__max_depth`` for a Pipeline);
    values are lists, or scipy.stats distributions for ``random``. ``iterative_chunk``
    sets how many boosting iterations (or epochs) the final fit does between checkpoints.

    Example:
        >>> SearchSpec(space={"C": [1, 10]}).strategy
        'random'
    """

    strategy: Literal["none", "grid", "random"] = "random"
    space: dict[str, Any] = field(default_factory=dict)
    n_trials: int = 8
    cv_folds: int = 5
    scoring: tuple[str, ...] = ("roc_auc", "accuracy")
    refit: str = "roc_auc"
    seed: int = 0
    iterative_chunk: int = 25


@dataclass
class Trial:
    """One candidate's CV outcome: params and, per metric, mean/std/folds."""

    params: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    seconds: float


@dataclass
class TrainingResult:
    """The refit best model plus everything needed to track and explain it."""

    model: Any
    best_params: dict[str, Any]
    cv: dict[str, dict[str, Any]]
    trials: list[Trial]
    search: dict[str, Any]
    fit_seconds: float
    resumed_trials: int = 0
    resumed_fit_from: int = 0

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (no model) for tracking and reports."""
        return {
            "best_params": _plain(self.best_params),
            "cv": self.cv,
            "search": self.search,
            "trials": [{"params": _plain(t.params), "metrics": t.metrics, "seconds": round(t.seconds, 3)} for t in self.trials],
            "fit_seconds": round(self.fit_seconds, 3),
            "resumed_trials": self.resumed_trials,
            "resumed_fit_from": self.resumed_fit_from,
        }


def candidates(spec: SearchSpec) -> list[dict[str, Any]]:
    """The candidate parameter sets the search will try, at most ``n_trials``, seeded.

    Example:
        >>> len(candidates(SearchSpec(strategy="grid", space={"a": [1, 2, 3], "b": [0, 1]}, n_trials=4)))
        4
    """
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if spec.n_trials < 1:
        raise UserError(f"search trial budget n_trials={spec.n_trials} must be at least 1")
    if spec.strategy == "none" or not spec.space:
        return [{}]
    if spec.strategy == "grid":
        grid = list(ParameterGrid(spec.space))
        if len(grid) <= spec.n_trials:
            return grid
        picked = np.random.default_rng(spec.seed).choice(len(grid), size=spec.n_trials, replace=False)
        return [grid[i] for i in sorted(picked)]
    if spec.strategy == "random":
        return list(ParameterSampler(spec.space, n_iter=spec.n_trials, random_state=spec.seed))
    raise UserError(f"unknown search strategy {spec.strategy!r}; use 'none', 'grid' or 'random'")


def train_with_search(
    estimator: Any,
    X: Any,
    y: Any,
    spec: SearchSpec,
    *,
    checkpoint: Checkpointer | None = None,
    task: Literal["classification", "regression"] | None = None,
) -> TrainingResult:
    """Cross-validate every candidate, pick the best by ``spec.refit``, refit it on all data.

    Example:
        >>> from sklearn.datasets import make_regression
        >>> from sklearn.linear_model import Ridge
        >>> X, y = make_regression(120, 4, random_state=0)
        >>> r = train_with_search(Ridge(), X, y, SearchSpec(strategy="none", cv_folds=3,
        ...     scoring=("r2",), refit="r2"))
        >>> r.cv["r2"]["mean"] > 0.9
        True
    """
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    if spec.refit not in spec.scoring:
        raise UserError(f"refit metric {spec.refit!r} must be one of scoring {list(spec.scoring)}")
    started = time.perf_counter()
    cands = candidates(spec)
    classification = is_classifier(estimator) if task is None else task == "classification"
    splitter = (StratifiedKFold if classification else KFold)(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)
    fingerprint = _fingerprint(estimator, X, y, spec, cands)

    state = _load_state(checkpoint, fingerprint)
    done: list[Trial] = [Trial(**t) for t in state.get("trials", [])]
    resumed_trials = len(done)
    for params in cands[len(done):]:
        t0 = time.perf_counter()
        model = clone(estimator).set_params(**params)
        scores = cross_validate(model, X, y, cv=splitter, scoring=list(spec.scoring), n_jobs=1, error_score="raise")
        metrics = {_display_name(name): _fold_stats(name, scores[f"test_{name}"]) for name in spec.scoring}
        done.append(Trial(params=params, metrics=metrics, seconds=time.perf_counter() - t0))
        state["trials"] = [t.__dict__ for t in done]
        _save_state(checkpoint, state)

    refit_name = _display_name(spec.refit)
    lower_is_better = spec.refit.startswith("neg_")  # shown as a positive error
    best_index = int(np.argmax([t.metrics[refit_name]["mean"] * (-1 if lower_is_better else 1) for t in done]))
    best = done[best_index]
    model, resumed_from = _fit_final(clone(estimator).set_params(**best.params), X, y, spec, checkpoint, state)
    return TrainingResult(
        model=model,
        best_params=best.params,
        cv=best.metrics,
        trials=done,
        search={
            "strategy": spec.strategy,
            "budget": spec.n_trials,
            "trials_run": len(done),
            "cv_folds": spec.cv_folds,
            "refit": refit_name,
            "seed": spec.seed,
            "best_index": best_index,
        },
        fit_seconds=time.perf_counter() - started,
        resumed_trials=resumed_trials,
        resumed_fit_from=resumed_from,
    )


# --- final fit with checkpoints ----------------------------------------------------------


def _final_step(estimator: Any) -> tuple[Any, str]:
    """The estimator that learns (last step of a Pipeline) and its parameter prefix."""
    steps = getattr(estimator, "steps", None)
    if steps:
        return steps[-1][1], f"{steps[-1][0]}__"
    return estimator, ""


def _fit_final(estimator: Any, X: Any, y: Any, spec: SearchSpec, checkpoint: Checkpointer | None, state: dict) -> tuple[Any, int]:
    learner, prefix = _final_step(estimator)
    params = learner.get_params()
    budget_param = next((p for p in ("max_iter", "n_estimators") if p in params), None)
    if checkpoint is None:
        return estimator.fit(X, y), 0
    # warm_start adds trees/iterations only for ensembles; for SGD/MLP it restarts max_iter epochs
    additive = budget_param == "n_estimators" or type(learner).__name__.startswith("HistGradientBoosting")
    if "warm_start" in params and budget_param and additive:
        return _fit_warm_start(estimator, X, y, spec, checkpoint, state, prefix, budget_param, int(params[budget_param]))
    if hasattr(learner, "partial_fit") and budget_param and prefix == "":
        return _fit_partial(estimator, X, y, checkpoint, state, budget_param, int(params[budget_param]))
    return estimator.fit(X, y), 0


def _fit_warm_start(estimator, X, y, spec, checkpoint, state, prefix, budget_param, total) -> tuple[Any, int]:
    final = state.get("final") or {}
    done = int(final.get("done", 0))
    model = final.get("model") if done else None
    resumed_from = done
    if model is None:
        model = estimator
        done = 0
    model.set_params(**{f"{prefix}warm_start": True})
    chunk = max(1, spec.iterative_chunk)
    while done < total:
        done = min(total, done + chunk)
        model.set_params(**{f"{prefix}{budget_param}": done})
        model.fit(X, y)
        state["final"] = {"done": done, "model": model}
        _save_state(checkpoint, state)
    return model, resumed_from


def _fit_partial(estimator, X, y, checkpoint, state, budget_param, epochs) -> tuple[Any, int]:
    final = state.get("final") or {}
    done = int(final.get("done", 0))
    model = final.get("model") if done else estimator
    resumed_from = done
    classes = np.unique(y)
    for epoch in range(done, epochs):
        model.partial_fit(X, y, classes=classes) if _is_classifier(model) else model.partial_fit(X, y)
        state["final"] = {"done": epoch + 1, "model": model}
        _save_state(checkpoint, state)
    return model, resumed_from


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    return is_classifier(model)


# --- helpers ----------------------------------------------------------------------------


def _display_name(metric: str) -> str:
    """sklearn maximises ``neg_*`` scorers; we report the positive error (``rmse`` etc.)."""
    if metric.startswith("neg_"):
        name = metric[4:]
        return {"root_mean_squared_error": "rmse", "mean_absolute_error": "mae", "mean_squared_error": "mse", "log_loss": "log_loss"}.get(name, name)
    return metric


def _fold_stats(metric: str, values: np.ndarray) -> dict[str, Any]:
    values = -values if metric.startswith("neg_") else values
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": [float(v) for v in values]}


def _fingerprint(estimator: Any, X: Any, y: Any, spec: SearchSpec, cands: list[dict]) -> str:
    """Identifies a training job so a checkpoint of a *different* job is never resumed."""
    h = hashlib.sha256()
    h.update(repr(estimator).encode())
    h.update(json.dumps(_plain(cands), sort_keys=True, default=str).encode())
    h.update(repr((spec.cv_folds, spec.scoring, spec.seed, spec.iterative_chunk)).encode())
    h.update(repr(getattr(X, "shape", len(X))).encode())
    h.update(np.ascontiguousarray(np.asarray(y)).tobytes()[:1_000_000])
    return h.hexdigest()


def _load_state(checkpoint: Checkpointer | None, fingerprint: str) -> dict:
    if checkpoint is None:
        return {"fingerprint": fingerprint}
    saved = checkpoint.load()
    if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint:
        return saved
    return {"fingerprint": fingerprint}


def _save_state(checkpoint: Checkpointer | None, state: dict) -> None:
    if checkpoint is not None:
        checkpoint.save(state)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
