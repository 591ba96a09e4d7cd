"""Registry integrity: each test failed before its fix.

The audit chain is anchored outside ``registry.db`` (signed entries, a witness file), so a
consistently rewritten chain fails ``audit verify``; ``load_model`` trusts the signed
registration event, not the mutable row; approvals need a named human other than the
registrant in prod; the same candidate registered concurrently yields one version; promotion
rules and policy configs with duplicate keys are refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
from multiprocessing import get_context
from pathlib import Path

import pytest
from sklearn.linear_model import Ridge

from modelway.errors import ConfigError
from modelway.registry import ArtifactIntegrityError, ModelCandidate, RegistryError
from modelway.registry import audit
from modelway.registry.embedded import EmbeddedRegistry
from modelway.registry.promotion import load_promotion_rules

SCHEMA = {"features": [["x", "numeric"]], "task": "regression"}


def candidate(alpha: float = 1.0, mlflow_run_id: str | None = None) -> ModelCandidate:
    from modelway.stages.model_card import build_model_card

    card = build_model_card(name="m", task="regression", intended_use="tests", metrics={"r2": 0.5}, checks=[],
                            run_id=mlflow_run_id, mlflow_run_id=mlflow_run_id)
    if mlflow_run_id:  # each run writes its card at its own time and measures its own latency
        card["created_at"] = f"2026-12-03T12:00:0{mlflow_run_id[-1]}+00:00"
        card["checks"] = [{"name": "robustness.latency.single_row_p95", "observed": 38.0 + int(mlflow_run_id[-1]),
                           "passed": True}]
    return ModelCandidate(name="m", model=Ridge(alpha=alpha), schema=SCHEMA, metrics={"r2": 0.5}, model_card=card,
                          mlflow_run_id=mlflow_run_id, data_versions={"d": "v1"}, run_id=mlflow_run_id)


@pytest.fixture
def registry(tmp_path: Path) -> EmbeddedRegistry:
    return EmbeddedRegistry(tmp_path)


def _rewrite_chain(db: sqlite3.Connection, seq: int, **changes: str) -> None:
    """What an attacker with write access to registry.db does: edit entry ``seq`` and recompute
    every later hash and the stored head, so the hash chain alone is consistent again."""
    db.execute("DROP TRIGGER audit_log_no_update")
    rows = db.execute("SELECT seq, ts, actor, event, model, version, payload, prev_hash FROM audit_log ORDER BY seq").fetchall()
    prev = audit.GENESIS
    for row_seq, ts, actor, event, model, version, payload, stored_prev in rows:
        if row_seq < seq:
            prev = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (row_seq,)).fetchone()[0]
            continue
        if row_seq == seq:
            actor = changes.get("actor", actor)
            payload = changes.get("payload", payload)
        digest = audit.entry_hash(row_seq, ts, actor, event, model, version, payload, prev)
        db.execute("UPDATE audit_log SET actor = ?, payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (actor, payload, prev, digest, row_seq))
        prev = digest
    db.execute("UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_log), hash = ?", (prev,))


def _approved_in_prod(registry: EmbeddedRegistry) -> str:
    v = registry.register(candidate(), environment="prod", actor="ci")
    registry.approve("m", v.version, actor="alice", reason="reviewed")
    registry.register(candidate(alpha=2.0), environment="dev", actor="ci")
    assert registry.verify_audit().ok
    return v.version


def test_a_consistently_rewritten_chain_fails_verification(registry: EmbeddedRegistry) -> None:
    version = _approved_in_prod(registry)
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    approval = db.execute("SELECT seq FROM audit_log WHERE event = 'approved'").fetchone()[0]
    _rewrite_chain(db, approval, actor="mallory")
    db.execute("UPDATE model_versions SET decided_by = 'mallory' WHERE version = ?", (version,))
    assert audit.verify_chain(db).ok  # the hash chain alone is fooled: this is what the anchor is for
    result = registry.verify_audit()
    assert not result.ok  # before the fix: "audit log OK"
    assert any(f"entry {approval} (approved m {version}): its signature does not match" in p for p in result.problems)


def test_dropping_the_newest_entries_is_caught_by_the_witness(registry: EmbeddedRegistry) -> None:
    _approved_in_prod(registry)
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_delete")
    last = db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    db.execute("DELETE FROM audit_log WHERE seq = ?", (last,))  # the dev version's auto-approval
    db.execute("UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit_log WHERE seq = ?)", (last - 1, last - 1))
    db.execute("UPDATE model_versions SET status = 'Pending', decided_by = NULL, decided_at = NULL,"
               " decision_reason = NULL WHERE environment = 'dev'")  # and the row made to agree
    assert audit.verify_chain(db).ok
    problems = registry.verify_audit().problems
    assert problems == [f"entries up to {last} were witnessed but the log ends at {last - 1} (newest entries deleted)"]


def test_the_key_file_is_private_and_its_loss_is_reported(registry: EmbeddedRegistry, tmp_path: Path) -> None:
    _approved_in_prod(registry)
    key = tmp_path / "keys" / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert key.parent != registry.root and (registry.root / "audit-head.json").is_file()
    key.unlink()
    problems = registry.verify_audit().problems
    assert problems and "audit key" in problems[0] and "missing" in problems[0]
    with pytest.raises(RegistryError, match="audit key .* is missing"):
        registry.register(candidate(alpha=3.0), environment="dev", actor="ci")


def test_load_model_trusts_the_signed_registration_not_the_row(registry: EmbeddedRegistry, tmp_path: Path) -> None:
    v = registry.register(candidate(), environment="dev", actor="ci")
    substitute = pickle.dumps(Ridge(alpha=99.0), protocol=5)
    sha = hashlib.sha256(substitute).hexdigest()
    path = registry.root / "artifacts" / f"{sha}.pkl"
    path.write_bytes(substitute)
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("UPDATE model_versions SET artifact_sha256 = ?, artifact_uri = ? WHERE version = ?",
               (sha, path.as_uri(), v.version))
    with pytest.raises(ArtifactIntegrityError, match="the row was edited"):  # before the fix: the substitute loaded
        registry.load_model("m", v.version)
    # editing the registration event as well breaks its signature
    registered = db.execute("SELECT seq, payload FROM audit_log WHERE event = 'registered'").fetchone()
    payload = json.loads(registered[1])
    payload["artifact_sha256"] = sha
    _rewrite_chain(db, registered[0], payload=json.dumps(payload, sort_keys=True))
    with pytest.raises(ArtifactIntegrityError, match="not signed by this registry's audit key"):
        registry.load_model("m", v.version)


# --- approvals -----------------------------------------------------------------------------


def _cli(home: Path, *args: str, user: str = "carol") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_") or k == "MODELWAY_CACHE_DIR"}
    env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": user})
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("by", ["", "   "])
def test_an_empty_approver_is_refused(tmp_path: Path, by: str) -> None:
    v = EmbeddedRegistry(tmp_path).register(candidate(), environment="prod", actor="ci")
    done = _cli(tmp_path, "models", "approve", "m", v.version, "--by", by, "--reason", "ok")
    assert done.returncode == 2, done.stdout  # before the fix: approved, recorded as the login name
    assert "a human approver is required" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert EmbeddedRegistry(tmp_path).get("m", v.version).status == "Pending"


def test_prod_approval_needs_someone_other_than_the_registrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = EmbeddedRegistry(tmp_path)
    v = registry.register(candidate(), environment="prod", actor="alice")
    with pytest.raises(RegistryError, match="alice registered m 1.0.0 and cannot also approve it for prod"):
        registry.approve("m", v.version, actor=" Alice ", reason="looks fine to me")
    assert registry.approve("m", v.version, actor="bob", reason="reviewed").decided_by == "bob"
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  prod: {auto_approve: false, allow_self_approval: true}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    relaxed = EmbeddedRegistry(tmp_path)
    v2 = relaxed.register(candidate(alpha=2.0), environment="prod", actor="alice")
    assert relaxed.approve("m", v2.version, actor="alice", reason="solo team").status == "Approved"


# --- idempotent registration under concurrency ----------------------------------------------


def _register_in_process(args: tuple[str, str, object]) -> str:
    home, mlflow_run, barrier = args
    registry = EmbeddedRegistry(Path(home))
    barrier.wait()  # type: ignore[attr-defined]
    return registry.register(candidate(mlflow_run_id=mlflow_run), environment="dev", actor="ci").version


def test_the_same_candidate_registered_concurrently_is_one_version(tmp_path: Path) -> None:
    EmbeddedRegistry(tmp_path)  # schema first, as a home that already exists
    context = get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            # four runs of one pipeline: same artifact and metadata, each with its own MLflow run
            versions = pool.map(_register_in_process, [(str(tmp_path), f"mlflow-run-{i}", barrier) for i in range(4)])
    assert versions == ["1.0.0"] * 4  # before the fix: 1.0.0, 1.0.1, ...
    registry = EmbeddedRegistry(tmp_path)
    assert [v.version for v in registry.list()] == ["1.0.0"]
    assert [e.event for e in registry.audit_entries()] == ["registered", "approved"]
    assert registry.verify_audit().ok


def test_the_database_refuses_a_second_row_for_the_same_candidate(registry: EmbeddedRegistry) -> None:
    registry.register(candidate(), environment="dev", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="identity"):
        db.execute("INSERT INTO model_versions SELECT name, '9.9.9', 9, 9, 9, status, environment, created_at,"
                   " version_reason, family, artifact_sha256, artifact_uri, artifact_bytes, schema_json, metrics_json,"
                   " fairness_json, card_json, card_path, hyperparameters_json, code_commit, data_versions_json, run_id,"
                   " mlflow_run_id, lineage_json, gates_passed, decided_by, decided_at, decision_reason, identity"
                   " FROM model_versions")


# --- strict config files ---------------------------------------------------------------------


def test_promotion_rules_with_a_duplicate_key_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  prod: {auto_approve: false}\n  prod: {auto_approve: true}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    with pytest.raises(ConfigError) as info:  # before the fix: prod silently auto-approved
        load_promotion_rules()
    assert str(info.value) == (f"invalid promotion rules in {rules}:3: duplicate key 'prod' (the first is on line 2)"
                               " (MODELWAY_PROMOTION_RULES)")


def test_a_policy_config_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    from modelway.policy_check.config import read_json

    config = tmp_path / "config.json"
    config.write_text('{\n  "kms-key-rotation": "advisory",\n  "kms-key-rotation": "mandatory"\n}\n')
    with pytest.raises(ConfigError, match=r"config.json:3: duplicate key 'kms-key-rotation' \(the first is on line 2\)"):
        read_json(config)


def test_rules_without_the_runs_environment_are_refused_when_the_pipeline_is_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.stages.env import build_time_settings

    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  dev: {auto_approve: true}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    with pytest.raises(ConfigError, match="no promotion rule for environment 'staging'"):  # before: found at register
        build_time_settings("staging")
    assert build_time_settings("dev")[0] == "dev"
