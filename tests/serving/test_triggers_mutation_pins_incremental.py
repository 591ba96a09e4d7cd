"""Mutation pins for modelway.triggers.incremental (and the engine's incremental branch): which
labelled rows an update learns from, when it falls back to a full retrain, and what it registers.

A small SGD model serves endpoint 'sgd'; captured requests and their labels are written with
the serving layer's own writers (no server), so row counts sit exactly at the limits.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelway.registry import ModelCandidate, get_registry
from modelway.serving.capture import CaptureWriter
from modelway.serving.state import DeploymentStore, EndpointState
from modelway.serving.traffic import TrafficLog, traffic_path
from modelway.triggers import incremental
from modelway.triggers.config import TriggersConfig
from modelway.triggers.engine import TriggerState, evaluate

FEATURES = ["a", "b"]


def data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return X, (X.a - X.b > 0).astype(int).to_numpy()


def serve(home: Path, partial_fit: bool = True) -> str:
    """Register a weak model (SGD, or a LogisticRegression without partial_fit) serving endpoint 'sgd'."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from modelway.profiling.profile import profile_model, save_baseline
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    X, y = data(40, 0)
    schema = ModelSchema.infer(X, task="classification", classes=[0, 1])
    if partial_fit:
        inner = SGDClassifier(loss="log_loss", random_state=0)
        inner.partial_fit(X.iloc[:6], y[:6], classes=[0, 1])
    else:
        inner = LogisticRegression().fit(X, y)
    model = GuardedModel(inner, schema)
    mv = get_registry(home).register(ModelCandidate(name="sgd", model=model, schema=schema.signature(),
                                                    metrics={"accuracy": 0.5}, family=type(inner).__name__,
                                                    hyperparameters={"alpha": 1}, data_versions={"d": "v1"}),
                                     environment="dev", actor="pytest")
    save_baseline(home, "sgd", mv.version, profile_model(model, X))
    DeploymentStore(home).put("sgd", EndpointState(model="sgd", environment="dev", variants={mv.version: 1.0},
                                                   incumbent=mv.version))
    return mv.version


def label(home: Path, n: int, *, ts: float, seed: int = 1, prefix: str = "r", rows_per_request: int = 1) -> None:
    """``n`` captured requests (``rows_per_request`` rows each) and their labels, given at ``ts``."""
    X, y = data(n * rows_per_request, seed)
    writer = CaptureWriter(home, "sgd", 1.0)
    labels = []
    for i in range(n):
        part = X.iloc[i * rows_per_request:(i + 1) * rows_per_request]
        writer.maybe({"request_id": f"{prefix}{i}", "ts": time.time(), "status": 200, "inputs": part.to_dict("list")})
        labels.append((f"{prefix}{i}", float(y[i * rows_per_request])))
    writer.flush()
    TrafficLog(traffic_path(home, "sgd")).add_feedback(labels, ts)


def test_partial_fit_support_looks_inside_a_guarded_model() -> None:
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from modelway.stages.model_schema import GuardedModel, ModelSchema

    schema = ModelSchema.infer(pd.DataFrame({"a": [1.0]}), task="classification", classes=[0, 1])
    assert incremental.supports_partial_fit(SGDClassifier())
    assert incremental.supports_partial_fit(GuardedModel(SGDClassifier(), schema))
    assert not incremental.supports_partial_fit(GuardedModel(LogisticRegression(), schema))
    assert not incremental.supports_partial_fit(object())


def test_labelled_rows_are_the_captured_requests_labelled_after_since(tmp_path: Path) -> None:
    home = tmp_path / "h"
    label(home, 3, ts=100.0, prefix="old")
    label(home, 2, ts=200.0, prefix="new", rows_per_request=2)
    writer = CaptureWriter(home, "sgd", 1.0)
    writer.maybe({"request_id": "bad", "ts": time.time(), "status": 400, "inputs": {"a": [1.0], "b": [1.0]}})
    writer.maybe({"request_id": "empty", "ts": time.time(), "status": 200, "inputs": {}})
    writer.maybe({"request_id": "unlabelled", "ts": time.time(), "status": 200, "inputs": {"a": [1.0], "b": [1.0]}})
    writer.flush()
    TrafficLog(traffic_path(home, "sgd")).add_feedback([("bad", 1.0), ("empty", 1.0)], 300.0)
    X, y = incremental.labelled_rows(home, "sgd", since=100.0)
    expected, truth = data(4, 1)
    assert X.to_dict("list") == expected.to_dict("list")
    assert list(X.index) == [0, 1, 2, 3]
    assert y == [float(truth[0]), float(truth[0]), float(truth[2]), float(truth[2])]  # one label per request
    X_all, y_all = incremental.labelled_rows(home, "sgd", since=99.0)
    assert len(X_all) == 7 and len(y_all) == 7
    none_x, none_y = incremental.labelled_rows(home, "sgd", since=300.0)
    assert (none_x.empty, none_y) == (True, [])


def test_no_partial_fit_or_too_few_rows_fall_back(tmp_path: Path) -> None:
    home = tmp_path / "h"
    version = serve(home, partial_fit=False)
    out = incremental.update(home, "sgd", since=0.0, reason="r", trigger={})
    assert out == {"incremental": False, "why": f"sgd {version} (LogisticRegression) has no partial_fit"}
    other = tmp_path / "h2"
    serve(other)
    label(other, 99, ts=10.0)
    assert incremental.update(other, "sgd", since=0.0, reason="r", trigger={}) == {
        "incremental": False, "why": "only 99 labelled captured rows (need 100)"}
    assert incremental.update(other, "sgd", since=0.0, reason="r", trigger={}, min_holdout=19)["incremental"] is True


def test_an_update_is_registered_with_its_gate_and_lineage(tmp_path: Path) -> None:
    home = tmp_path / "h"
    base = serve(home)
    label(home, 100, ts=10.0)
    out = incremental.update(home, "sgd", since=0.0, reason="labels: 100 new", trigger={"pipeline": "p"})
    assert set(out) == {"incremental", "version", "status", "gates_passed", "holdout_accuracy", "base_accuracy", "rows",
                        "base_version"}
    assert (out["incremental"], out["rows"], out["base_version"]) == (True, 100, base)
    assert out["version"] != base
    # the holdout is 20 of the 100 rows: accuracies are multiples of 1/20
    assert out["holdout_accuracy"] * 20 == pytest.approx(round(out["holdout_accuracy"] * 20))
    assert out["gates_passed"] == (out["holdout_accuracy"] >= out["base_accuracy"] - 0.01)
    registry = get_registry(home)
    mv = registry.get("sgd", out["version"])
    assert mv.status == out["status"]
    assert mv.metrics == {"accuracy": round(out["holdout_accuracy"], 4), "holdout_rows": 20,
                          "base_accuracy": round(out["base_accuracy"], 4)}
    assert (mv.environment, mv.family, mv.hyperparameters, mv.data_versions) == ("dev", "SGDClassifier", {"alpha": 1},
                                                                                 {"d": "v1"})
    assert mv.lineage["trigger"] == {"pipeline": "p", "reason": "labels: 100 new"}
    assert (mv.lineage["incremental_from"], mv.lineage["rows"]) == (base, 100)
    assert mv.gates_passed == out["gates_passed"]
    from modelway.profiling.profile import load_baseline

    assert load_baseline(home, "sgd", out["version"]).features.keys() == {"a", "b"}
    # the served model itself is untouched: a copy learned
    again = incremental.update(home, "sgd", since=0.0, reason="r", trigger={})
    assert (again["base_accuracy"], again["holdout_accuracy"]) == (out["base_accuracy"], out["holdout_accuracy"])


def test_a_regression_beyond_the_allowance_fails_the_gate(tmp_path: Path) -> None:
    home = tmp_path / "h"
    serve(home)
    label(home, 100, ts=10.0)
    first = incremental.update(home, "sgd", since=0.0, reason="r", trigger={})
    gap = first["base_accuracy"] - first["holdout_accuracy"]
    strict = incremental.update(home, "sgd", since=0.0, reason="r", trigger={}, max_regression=gap - 0.025)
    loose = incremental.update(home, "sgd", since=0.0, reason="r", trigger={}, max_regression=gap + 0.025)
    assert (strict["gates_passed"], loose["gates_passed"]) == (False, True)
    assert get_registry(home).get("sgd", strict["version"]).status == "Rejected"
    other_seed = incremental.update(home, "sgd", since=0.0, reason="r", trigger={}, seed=1)
    assert other_seed["rows"] == 100


def test_an_incremental_labels_trigger_updates_instead_of_launching(tmp_path: Path) -> None:
    home = tmp_path / "h"
    base = serve(home)
    now = time.time()
    label(home, 100, ts=now - 10)
    cfg = TriggersConfig.model_validate({"pipelines": {"p": {"file": "never_run.py", "triggers": [
        {"name": "labels", "kind": "labels", "endpoint": "sgd", "new_rows": 100, "incremental": True}]}}})
    store = TriggerState(home)
    store.get("p", "labels", now - 100)  # armed before the labels came
    d = evaluate(cfg, home, base_dir=tmp_path, now=now)[0]
    version = get_registry(home).get("sgd").version
    assert version != base
    mv = get_registry(home).get("sgd", version)
    reason = "labels: 100 new labelled rows on sgd (need 100)"
    assert d.fire and d.triggers == ["labels"]
    assert d.reason == (f"{reason}; partial_fit of {base} on 100 rows -> {version} {mv.status} (holdout accuracy "
                        f"{mv.metrics['accuracy']:.3f} vs {mv.metrics['base_accuracy']:.3f})")
    assert d.status == f"incremental {version} {mv.status}"
    launch = store.launches()[0]
    assert (launch["id"], launch["status"], launch["pid"], launch["log_path"], launch["run_id"]) == (
        d.launch_id, d.status, None, None, None)
    assert store.get("p", "labels", now)["last_fired"] == now
    assert mv.lineage["trigger"]["triggers"] == ["labels"] and mv.lineage["trigger"]["pipeline"] == "p"
    # labels from before the update do not count again
    later = evaluate(cfg, home, base_dir=tmp_path, now=now + 7200)[0]
    assert (later.fire, later.reason) == (False, "no trigger condition holds")
