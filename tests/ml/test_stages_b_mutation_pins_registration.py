"""Mutation pins for packaging and registering a tested model (stages/registration): the package's every
field, the idempotent registration and its log lines, the refusals (missing or changed artifact,
unreviewed code for prod), and, inside a step, the performance history, lineage and model record.

A real embedded registry and artifact store in a temporary home; no MLflow (no run id to mirror).
"""
from __future__ import annotations

import hashlib
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelway.errors import UserError
from modelway.runtime.context import activate, deactivate
from modelway.runtime.errors import StepFailed
from modelway.stages import registration
from modelway.stages.results import Evaluation, Split, TrainedModel

RULES = {"environments": {"dev": {"auto_approve": True}, "staging": {"auto_approve": False},
                          "prod": {"auto_approve": False, "require_reviewed_code": True}}}


@pytest.fixture(scope="module")
def parts():
    from sklearn.linear_model import LogisticRegression

    from modelway.stages.model_schema import GuardedModel, ModelSchema

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=60), "k": rng.choice(["a", "b"], 60)})
    train["y"] = (train["x"] > 0).astype(int)
    X = train[["x"]]
    model = GuardedModel(LogisticRegression().fit(X, train["y"]), ModelSchema.infer(X, task="classification", classes=[0, 1]))
    trained = TrainedModel(model=model, training={"best_params": {"C": np.float64(1.0)}}, features=("x",), mlflow_run_id=None)
    from modelway.stages.model_card import build_model_card

    card = build_model_card(name="m", task="classification", intended_use="pins", metrics={"auc": 0.9}, checks=[])
    card["code_commit"] = "c0ffee"
    evaluation = Evaluation(report={"passed": True}, card=card,
                            metrics={"auc": np.float64(0.9), "confusion_matrix": [[1, 0], [0, 1]], "n": np.int64(60)},
                            fairness={"demographic_parity_difference": 0.01})
    split = Split(train=train, test=train, data_versions={"d": "v1"})
    return trained, evaluation, split


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    monkeypatch.setenv("MODELWAY_USER", "reg-tester")
    monkeypatch.delenv("MODELWAY_ENV", raising=False)
    monkeypatch.delenv("MODELWAY_PROMOTION_RULES", raising=False)
    monkeypatch.delenv("MODELWAY_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)          # not a git repository: reviewed code cannot be proven
    return home


def test_normalise_makes_plain_json():
    assert registration.normalise({"b": np.float64(0.5), "a": np.int64(2), "o": object}) == {
        "a": 2, "b": 0.5, "o": "<class 'object'>"}
    assert list(registration.normalise({"b": 1, "a": 2})) == ["a", "b"]


def test_package_records_everything_the_registry_needs(parts, home):
    from modelway.registry.semver import estimator_family
    from modelway.runtime.context import artifact_store

    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m", mlflow_run_id="ml-7", home=home)
    blob = pickle.dumps(trained.model, protocol=5)
    store = artifact_store(home)
    assert store.verified_path(pkg.model_artifact).read_bytes() == blob
    assert pkg.artifact_sha256 == hashlib.sha256(blob).hexdigest()
    import json

    baseline = json.loads(store.verified_path(pkg.baseline_artifact).read_text())
    assert baseline
    assert (pkg.model, pkg.family, pkg.schema) == ("m", estimator_family(trained.model), trained.model.schema.signature())
    assert pkg.metrics == {"auc": 0.9, "n": 60}
    assert pkg.fairness == {"demographic_parity_difference": 0.01}
    assert pkg.model_card == registration.normalise({**evaluation.card, "mlflow_run_id": "ml-7"})
    assert (pkg.hyperparameters, pkg.code_commit, pkg.data_versions, pkg.mlflow_run_id, pkg.gates_passed) == (
        {"C": 1.0}, "c0ffee", {"d": "v1"}, "ml-7", True)
    from dataclasses import replace

    untracked = registration.package(replace(trained, mlflow_run_id="ml-t", training={}), replace(evaluation, card={"name": "u"}), split,
                                     model_name="m", home=home)
    from modelway.stages.env import git_commit

    assert (untracked.mlflow_run_id, untracked.model_card, untracked.hyperparameters) == ("ml-t", {"name": "u", "mlflow_run_id": "ml-t"}, {})
    assert untracked.code_commit == str(git_commit()["commit"])
    failed = registration.package(trained, replace(evaluation, report={"passed": False}), split, model_name="m", home=home)
    assert failed.gates_passed is False and failed.model_artifact == pkg.model_artifact    # same bytes, same digest


def test_package_defaults_to_the_settings_home(parts, home):
    from modelway.runtime.context import artifact_store

    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m")
    assert artifact_store(home).verified_path(pkg.model_artifact).is_file()


def test_register_is_idempotent_and_says_what_happened(parts, home, capsys):
    from modelway.profiling.profile import load_baseline
    from modelway.settings import ui_command

    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m", home=home)
    first = registration.register_package(pkg, environment="staging", promotion_rules=RULES, home=home)
    assert first == {
        "model": "m", "version": "1.0.0", "status": "Pending", "environment": "staging", "version_reason": first["version_reason"],
        "model_card": first["model_card"], "run_id": None, "mlflow_run_id": None, "mlflow_ui": ui_command(),
        "artifact_sha256": pkg.artifact_sha256, "already_registered": False,
    }
    assert first["version_reason"] and Path(first["model_card"]).is_file()
    err = capsys.readouterr().err.splitlines()
    assert err[-3:] == [
        f"registered m 1.0.0 ({first['version_reason']}) for staging: Pending; approve with: modelway models approve m 1.0.0 --reason '...'",
        f"model card: {first['model_card']}", f"MLflow UI: {ui_command()}"]
    assert any(line.startswith("warning: the pipeline does not run from a git repository") for line in err)
    assert load_baseline(home, "m", "1.0.0") is not None
    again = registration.register_package(pkg, environment="staging", promotion_rules=RULES, home=home)
    assert again["already_registered"] is True and again["version"] == "1.0.0"
    assert capsys.readouterr().err.splitlines()[-3] == (
        "m 1.0.0 is already registered for staging (same artifact and metadata, run None): Pending; approve with: "
        "modelway models approve m 1.0.0 --reason '...'")
    dev = registration.register_package(pkg, environment="dev", promotion_rules=RULES, home=home)
    assert dev["status"] == "Approved" and dev["environment"] == "dev"
    assert capsys.readouterr().err.splitlines()[-3] == f"registered m {dev['version']} ({dev['version_reason']}) for dev: Approved"
    registration.register_package(pkg, environment="dev", promotion_rules=RULES, home=home)
    assert capsys.readouterr().err.splitlines()[-3] == (
        f"m {dev['version']} is already registered for dev (same artifact and metadata, run None): Approved")


def test_prod_refuses_unreviewed_code_before_touching_anything(parts, home):
    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m", home=home)
    with pytest.raises(StepFailed) as err:
        registration.register_package(pkg, environment="prod", promotion_rules=RULES, home=home)
    assert str(err.value).startswith("refusing to register for prod: the pipeline does not run from a git repository")
    assert not (home / "registry").exists() or not list((home / "registry").rglob("*.json"))
    relaxed = {"environments": {**RULES["environments"], "prod": {"auto_approve": False, "require_reviewed_code": False}}}
    assert registration.register_package(pkg, environment="prod", promotion_rules=relaxed, home=home)["status"] == "Pending"


def test_a_missing_or_changed_artifact_is_refused(parts, home):
    from dataclasses import replace

    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m", home=home)
    gone = replace(pkg, model_artifact="0" * 64)
    with pytest.raises(UserError) as err:
        registration.register_package(gone, environment="dev", promotion_rules=RULES, home=home)
    assert str(err.value) == (f"the packaged model of m (000000000000) is missing from the artifact store under {home}; "
                              "re-run the pipeline with --no-cache")
    other = replace(pkg, artifact_sha256="f" * 64)
    with pytest.raises(UserError) as err:
        registration.register_package(other, environment="dev", promotion_rules=RULES, home=home)
    assert str(err.value) == ("the packaged model of m changed on disk while it was being registered; "
                              "re-run the pipeline with --no-cache")


class StepCtx:
    def __init__(self, home: Path, run_id: str):
        self.home, self.run_id, self.step_name, self.pipeline_name = home, run_id, "register", "pipe"
        self.logs: list[str] = []
        self.attached: dict[str, Any] = {}

    def log(self, message: str) -> None:
        self.logs.append(message)

    def attach(self, name: str, value: Any) -> str:
        self.attached[name] = value
        return "h"


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True, capture_output=True)


def test_inside_a_step_the_run_supplies_lineage_history_and_the_model_record(parts, home, tmp_path):
    from modelway.registry import get_registry
    from modelway.runtime.context import stores

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init")
    (repo / "pipe.py").write_text("x\n")
    _git(repo, "add", "pipe.py")
    _git(repo, "commit", "-m", "c")
    run_store, _ = stores(home)
    for run_id in ("run-0", "run-1"):
        run_store.create_run(run_id, "pipe", str(repo / "pipe.py"), {"alpha": 1}, "inprocess", True,
                             {"git": {"commit": "abc"}}, [{"name": "register", "func": "f", "upstream": [], "settings": {}}])
    trained, evaluation, split = parts
    pkg = registration.package(trained, evaluation, split, model_name="m", home=home)
    ctx = StepCtx(home, "run-1")
    token = activate(ctx)  # type: ignore[arg-type]
    try:
        out = registration.register_package(pkg, environment="staging", promotion_rules=RULES)
        again = registration.register_package(pkg, environment="staging", promotion_rules=RULES)
    finally:
        deactivate(token)
    assert out["run_id"] == "run-1" and again["already_registered"]
    assert ctx.logs[0] == "warning: commit " + subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                                              text=True).stdout.strip()[:12] + \
        " has no remote to be reviewed on; a registration for prod would be refused (ML Test Score M1)"
    history = ctx.attached["performance_history"]
    assert history["gate"] == "performance history" and [c["name"] for c in history["checks"]] == [
        "performance.duration", "performance.peak_memory"]
    version = get_registry(home, rules=RULES).get("m", out["version"])
    assert version.lineage["run"] == {"git": {"commit": "abc"}} and version.lineage["params"] == {"alpha": 1}
    assert version.lineage["run_id"] == "run-1" and version.lineage["pipeline"] == "pipe"
    assert version.lineage["data_versions"] == {"d": "v1"} and version.lineage["mlflow_run_id"] is None
    record = run_store.model_version("m", out["version"])
    assert record["run_id"] == "run-1" and record["artifact"] == out["artifact_sha256"]


def test_performance_warnings_are_logged(home):
    from modelway.runtime.context import stores

    run_store, _ = stores(home)
    step = [{"name": "train", "func": "f", "upstream": [], "settings": {}}]

    class Ref:
        hash, kind, type, size = "h" * 64, "pickle", "int", 1

    for run_id, seconds in (("old", 10.0), ("new", 30.0)):
        run_store.create_run(run_id, "pipe", None, {}, "inprocess", True, {}, step)
        run_store.step_started(run_id, "train", 1, None)
        run_store.step_succeeded(run_id, "train", attempt=1, output=Ref(), duration_s=seconds, cpu_s=None, peak_rss_mb=None,
                                 cache_key=None, cacheable=False)
    run_store.finish_run("old", "succeeded", None, None)
    ctx = StepCtx(home, "new")
    token = activate(ctx)  # type: ignore[arg-type]
    try:
        registration._performance_history(ctx)
        assert registration._run_lineage(ctx) == {"run": {}, "params": {}}
        assert registration._run_lineage(StepCtx(home / "not-a-dir-file", "x")) in ({}, {"run": {}, "params": {}})
    finally:
        deactivate(token)
    assert ctx.logs == ["warning: slower than run old: train 10.0s -> 30.0s (limit x1.5 and +2 s)"]
    assert ctx.attached["performance_history"]["passed"] is True       # advisory


def test_a_broken_run_store_gives_no_lineage(tmp_path):
    bad = tmp_path / "file"
    bad.write_text("not a directory")
    assert registration._run_lineage(StepCtx(bad, "x")) == {}
