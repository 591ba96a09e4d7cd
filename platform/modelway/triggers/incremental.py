"""Incremental learning on triggers: update the serving model with ``partial_fit`` on new labelled rows.

When a ``labels`` (or ``data``) trigger declares ``incremental: true`` and the model serving
the endpoint supports ``partial_fit`` (an SGD classifier, naive Bayes, ...), the trigger
updates that model on the new rows instead of launching a full retrain:

1. new rows: the captured inputs of requests whose labels came back since the trigger last
   fired (``modelway feedback``), joined by request id;
2. the serving version is loaded through the registry (sha256 verified) and a copy is
   updated with ``partial_fit`` on 80% of the rows (seeded split);
3. gate: on the held-out 20%, the updated model must be at least as accurate as the serving
   one (``max_regression``) and the holdout must be large enough; the result is recorded as
   ``gates_passed``;
4. the update is registered as a new version of the same model, for the same environment,
   so the environment's approval rules apply (dev approves a passing update, prod waits for
   a person, a failed gate is Rejected); its lineage names the trigger and the base version.

A model without ``partial_fit`` falls back to the full pipeline run.

Example:
    >>> supports_partial_fit(object())
    False
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from modelway.registry import ModelCandidate, get_registry
from modelway.serving.capture import read_capture
from modelway.serving.state import DeploymentStore


def _inner(model: Any) -> Any:
    return getattr(model, "model", model)


def supports_partial_fit(model: Any) -> bool:
    """Whether the estimator (or the one a GuardedModel wraps) can learn incrementally."""
    return hasattr(_inner(model), "partial_fit")


def labelled_rows(home: Path, endpoint: str, since: float) -> tuple[Any, Any]:
    """(inputs, labels) of captured requests whose label arrived after ``since``."""
    import sqlite3

    import pandas as pd

    from modelway.serving.traffic import traffic_path

    db = sqlite3.connect(f"{traffic_path(home, endpoint).as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        labels = dict(db.execute("SELECT request_id, label FROM feedback WHERE ts > ?", (since,)).fetchall())
    finally:
        db.close()
    frames, ys = [], []
    for rec in read_capture(home, endpoint):
        rid = rec.get("request_id")
        if rec.get("status") == 200 and rid in labels and rec.get("inputs"):
            frame = pd.DataFrame(rec["inputs"])
            frames.append(frame)
            ys.extend([labels[rid]] * len(frame))
    if not frames:
        return pd.DataFrame(), []
    return pd.concat(frames, ignore_index=True), ys


def update(home: Path, endpoint: str, *, since: float, reason: str, trigger: dict[str, Any], registry: Any = None,
           max_regression: float = 0.01, min_holdout: int = 20, seed: int = 0) -> dict[str, Any]:
    """Update the endpoint's serving model on new labelled rows and register the result (see module docstring)."""
    import numpy as np

    from modelway.profiling.profile import profile_model, save_baseline

    registry = registry or get_registry(home)
    _, state = DeploymentStore(home).require(endpoint)
    base = registry.get(state.model, state.incumbent)
    model = registry.load_model(state.model, state.incumbent)
    if not supports_partial_fit(model):
        return {"incremental": False, "why": f"{state.model} {base.version} ({base.family}) has no partial_fit"}
    X, y = labelled_rows(home, endpoint, since)
    y = np.asarray(y)
    if len(y) < min_holdout * 5:
        return {"incremental": False, "why": f"only {len(y)} labelled captured rows (need {min_holdout * 5})"}
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(len(y) * 0.8)
    fit_idx, hold_idx = order[:cut], order[cut:]
    features = [n for n, _ in base.schema["features"]]
    updated = copy.deepcopy(model)
    inner = _inner(updated)
    X_fit = X.iloc[fit_idx][features]
    if hasattr(updated, "schema"):
        X_fit = updated.schema.check(X_fit)
    classes = getattr(inner, "classes_", None)
    inner.partial_fit(X_fit, y[fit_idx], **({"classes": classes} if classes is not None else {}))
    X_hold = X.iloc[hold_idx][features]
    before = float(np.mean(model.predict(X_hold) == y[hold_idx]))
    after = float(np.mean(updated.predict(X_hold) == y[hold_idx]))
    passed = after >= before - max_regression
    mv = registry.register(ModelCandidate(
        name=state.model, model=updated, schema=base.schema, family=base.family,
        metrics={"accuracy": round(after, 4), "holdout_rows": int(len(hold_idx)), "base_accuracy": round(before, 4)},
        hyperparameters=base.hyperparameters, data_versions=base.data_versions, gates_passed=passed,
        lineage={"trigger": {**trigger, "reason": reason}, "incremental_from": base.version, "rows": int(len(y))},
    ), environment=base.environment, actor="modelway-triggers")
    save_baseline(home, state.model, mv.version, profile_model(updated, X[features]) if hasattr(updated, "schema")
                  else registry_profile_fallback(home, state.model, base.version))
    return {"incremental": True, "version": mv.version, "status": mv.status, "gates_passed": passed,
            "holdout_accuracy": after, "base_accuracy": before, "rows": int(len(y)), "base_version": base.version}


def registry_profile_fallback(home: Path, model: str, version: str) -> Any:
    from modelway.profiling.profile import load_baseline

    return load_baseline(home, model, version)
