"""Registry: computed semver, approvals per environment, hash-chained audit log, artifact integrity."""
from __future__ import annotations

import sqlite3

import pytest
from sklearn.linear_model import LinearRegression, Ridge

from modelway.errors import ConfigError
from modelway.registry import ArtifactIntegrityError, ModelCandidate, RegistryError
from modelway.registry.embedded import EmbeddedRegistry
from modelway.registry.promotion import load_promotion_rules
from modelway.registry.semver import VersionFacts, next_version
from modelway.stages.model_card import write_model_card

SCHEMA = {"features": [["x", "numeric"], ["c", "categorical"]], "task": "regression"}


def card(name="m", metrics=None):
    from modelway.stages.model_card import build_model_card

    return build_model_card(name=name, task="regression", intended_use="tests", metrics=metrics or {"r2": 0.5}, checks=[])


def candidate(model=None, *, schema=SCHEMA, data=None, metrics=None, gates=True, name="m"):
    return ModelCandidate(name=name, model=model if model is not None else Ridge(alpha=1.0), schema=schema,
                          metrics=metrics or {"r2": 0.5}, data_versions=data or {"d": "v1"}, gates_passed=gates,
                          model_card=card(name, metrics), run_id="run-1")


@pytest.fixture
def registry(tmp_path):
    return EmbeddedRegistry(tmp_path, card_writer=write_model_card)


# --- semver ------------------------------------------------------------------------------


def facts(version, schema=SCHEMA, family="sklearn.linear_model.Ridge", sha="a", data=None):
    return VersionFacts(version, schema, family, sha, data or {"d": "v1"})


@pytest.mark.parametrize(
    "change, expected, why",
    [
        (dict(), "1.4.3", "patch: metadata-only"),
        (dict(sha="b"), "1.5.0", "minor: retrained"),
        (dict(data={"d": "v2"}), "1.5.0", "minor: retrained"),
        (dict(schema={"features": [["x", "numeric"]], "task": "regression"}), "2.0.0", "major: feature schema changed"),
        (dict(family="sklearn.ensemble.RandomForestRegressor", sha="b"), "2.0.0", "major: estimator family changed"),
    ],
)
def test_semver_rules(change, expected, why):
    version, reason = next_version(facts("1.4.2"), facts(None, **change))
    assert version == expected and reason.startswith(why)


def test_versions_are_computed_on_registration(registry):
    v1 = registry.register(candidate(Ridge(alpha=1.0)), environment="dev", actor="ci")
    same = registry.register(candidate(Ridge(alpha=1.0), metrics={"r2": 0.51}), environment="dev", actor="ci")
    retrain = registry.register(candidate(Ridge(alpha=2.0)), environment="dev", actor="ci")
    new_family = registry.register(candidate(LinearRegression()), environment="dev", actor="ci")
    new_schema = registry.register(candidate(LinearRegression(), schema={"features": [["x", "numeric"]], "task": "regression"}),
                                   environment="dev", actor="ci")
    assert [v.version for v in (v1, same, retrain, new_family, new_schema)] == ["1.0.0", "1.0.1", "1.1.0", "2.0.0", "3.0.0"]
    assert registry.get("m").version == "3.0.0"
    assert [v.version for v in registry.list("m")] == ["3.0.0", "2.0.0", "1.1.0", "1.0.1", "1.0.0"]


def test_each_version_stores_what_it_was_built_from(registry):
    v = registry.register(ModelCandidate(
        name="m", model=Ridge(), schema=SCHEMA, metrics={"r2": 0.5}, fairness={"sensitive": "g"},
        model_card=card(), hyperparameters={"alpha": 1.0}, code_commit="abc123",
        data_versions={"d": "v1"}, run_id="run-9", mlflow_run_id="mlf-1", lineage={"git": {"commit": "abc123"}},
    ), environment="dev", actor="ci")
    got = registry.get("m", v.version)
    assert len(got.artifact_sha256) == 64 and got.artifact_uri.startswith("file://")
    assert (got.metrics, got.fairness, got.hyperparameters) == ({"r2": 0.5}, {"sensitive": "g"}, {"alpha": 1.0})
    assert (got.code_commit, got.data_versions, got.run_id, got.mlflow_run_id) == ("abc123", {"d": "v1"}, "run-9", "mlf-1")
    assert got.lineage == {"git": {"commit": "abc123"}} and got.model_card["version"] == "1.0.0"
    assert got.model_card_path.endswith("cards/m/1.0.0/model_card.md")
    for suffix in (".md", ".html", ".json"):
        assert (registry.root / "cards" / "m" / "1.0.0" / f"model_card{suffix}").is_file()
    # the card on disk names what only the registry knows: environment and artifact hash
    assert (got.model_card["environment"], got.model_card["artifact_sha256"]) == ("dev", got.artifact_sha256)
    assert got.artifact_sha256 in (registry.root / "cards" / "m" / "1.0.0" / "model_card.md").read_text()


def test_without_a_card_writer_the_card_is_kept_in_the_database_only(tmp_path):
    registry = EmbeddedRegistry(tmp_path)  # the registry does not know how to render a card; stages give it the writer
    v = registry.register(candidate(), environment="dev", actor="ci")
    got = registry.get("m", v.version)
    assert got.model_card["version"] == "1.0.0" and got.model_card["environment"] == "dev"
    assert got.model_card_path is None and not (registry.root / "cards").exists()


def test_invalid_names_and_unknown_versions_are_clear_errors(registry):
    with pytest.raises(RegistryError, match="invalid model name"):
        registry.register(candidate(name="Bad Name"), environment="dev", actor="ci")
    with pytest.raises(RegistryError, match="not registered"):
        registry.get("nope")
    registry.register(candidate(), environment="dev", actor="ci")
    with pytest.raises(RegistryError, match="has no version 9.9.9"):
        registry.get("m", "9.9.9")


# --- approvals ---------------------------------------------------------------------------


@pytest.mark.parametrize("env, status", [("dev", "Approved"), ("staging", "Approved"), ("prod", "Pending")])
def test_default_promotion_rules_per_environment(registry, env, status):
    v = registry.register(candidate(), environment=env, actor="ci")
    assert v.status == status
    if status == "Approved":
        assert v.decided_by == "modelway-auto" and "all gates passed" in v.decision_reason


def test_prod_needs_a_human_approval_with_a_reason(registry):
    v = registry.register(candidate(), environment="prod", actor="ci")
    assert registry.champion("m", ("prod",)) is None
    with pytest.raises(RegistryError, match="prod requires a reason"):
        registry.approve("m", v.version, actor="alice", reason=None)
    with pytest.raises(RegistryError, match="human approver"):
        registry.approve("m", v.version, actor="modelway-auto", reason="sure")
    approved = registry.approve("m", v.version, actor="alice", reason="reviewed card and fairness")
    assert (approved.status, approved.decided_by, approved.decision_reason) == ("Approved", "alice", "reviewed card and fairness")
    assert approved.decided_at
    assert registry.champion("m", ("prod",)).version == v.version
    with pytest.raises(RegistryError, match="only Pending versions"):
        registry.reject("m", v.version, actor="bob", reason="too late")
    events = [(e.event, e.actor) for e in registry.audit_entries("m")]
    assert events == [("registered", "ci"), ("approved", "alice")]


def test_reject_records_who_and_why_and_failed_gates_cannot_be_approved(registry):
    v = registry.register(candidate(), environment="prod", actor="ci")
    rejected = registry.reject("m", v.version, actor="bob", reason="slice regression in east")
    assert (rejected.status, rejected.decided_by) == ("Rejected", "bob")
    failing = registry.register(candidate(Ridge(alpha=3.0), gates=False), environment="dev", actor="ci")
    assert failing.status == "Rejected" and "gates failed" in failing.decision_reason
    bad_prod = registry.register(candidate(Ridge(alpha=4.0), gates=False), environment="prod", actor="ci")
    assert bad_prod.status == "Rejected"


def test_promotion_rules_from_config_file(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  dev: {auto_approve: false, require_reason: false}\n  prod: {auto_approve: false}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    registry = EmbeddedRegistry(tmp_path / "home")
    v = registry.register(candidate(), environment="dev", actor="ci")
    assert v.status == "Pending"
    assert registry.approve("m", v.version, actor="alice", reason=None).status == "Approved"
    with pytest.raises(ConfigError, match="no promotion rule for environment 'staging'"):
        registry.register(candidate(Ridge(alpha=5.0)), environment="staging", actor="ci")
    rules.write_text("environments:\n  dev: {auto_aprove: true}\n")
    with pytest.raises(ConfigError, match=r"invalid promotion rules in .*environments.dev.auto_aprove"):
        load_promotion_rules()


def test_a_broken_promotion_rules_file_names_the_line_and_the_problem(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  dev: {auto_approve: true\n  prod: {auto_approve: false}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    with pytest.raises(ConfigError) as info:
        load_promotion_rules()
    message = str(info.value)
    assert message.startswith(f"invalid promotion rules in {rules}:3:")
    assert "expected ',' or '}'" in message and "while parsing a flow mapping started on line 2" in message
    assert ": :" not in message and "\n" not in message


# --- audit log ---------------------------------------------------------------------------


def populated(registry):
    for alpha in (1.0, 2.0, 3.0):
        registry.register(candidate(Ridge(alpha=alpha)), environment="dev", actor="ci")
    assert registry.verify_audit().ok
    return sqlite3.connect(registry.db_path, isolation_level=None)


def test_audit_log_is_append_only_through_sql(registry):
    db = populated(registry)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE seq = 2")


def test_audit_verify_detects_a_modified_entry(registry):
    db = populated(registry)
    db.execute("DROP TRIGGER audit_log_no_update")  # an attacker with file access
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    result = registry.verify_audit()
    assert not result.ok
    assert any("entry 3 (registered m 1.1.0) was modified" in p for p in result.problems)


def test_audit_verify_detects_a_deleted_entry(registry):
    db = populated(registry)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 2")
    problems = registry.verify_audit().problems
    assert any("entry 2 deleted" in p for p in problems)
    assert any("entry 3" in p and "link to the previous entry is broken" in p for p in problems)


def test_audit_verify_detects_deleted_last_entries(registry):
    db = populated(registry)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
    problems = registry.verify_audit().problems
    assert any("entries 6..6 deleted" in p for p in problems)


def test_audit_verify_detects_a_status_changed_outside_the_registry(registry):
    v = registry.register(candidate(), environment="prod", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("UPDATE model_versions SET status = 'Approved' WHERE version = ?", (v.version,))
    problems = registry.verify_audit().problems
    assert problems == [f"model m {v.version} is Approved in the registry but the audit log says Pending"]


# --- artifact integrity ------------------------------------------------------------------


def test_load_verifies_sha256_and_refuses_a_tampered_artifact(registry):
    import numpy as np

    model = Ridge().fit(np.arange(10).reshape(-1, 1), np.arange(10))
    v = registry.register(candidate(model), environment="dev", actor="ci")
    loaded = registry.load_model("m", v.version)
    assert loaded.predict([[3.0]])[0] == pytest.approx(model.predict([[3.0]])[0])
    path = registry.root / "artifacts" / f"{v.artifact_sha256}.pkl"
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match=r"refusing to load a tampered or corrupted model"):
        registry.load_model("m", v.version)
    path.unlink()
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        registry.load_model("m", v.version)


def test_concurrent_registrations_get_distinct_versions(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def register(alpha):
        return EmbeddedRegistry(tmp_path).register(candidate(Ridge(alpha=alpha)), environment="dev", actor="ci").version

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(register, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    assert sorted(versions) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"]
    assert EmbeddedRegistry(tmp_path).verify_audit().ok


def test_registering_the_same_model_again_returns_the_existing_version(registry):
    first = registry.register(candidate(), environment="dev", actor="ci")
    entries = len(registry.audit_entries())
    again = registry.register(candidate(), environment="dev", actor="ci")
    assert (again.version, again.already_registered, first.already_registered) == (first.version, True, False)
    assert len(registry.audit_entries()) == entries and [v.version for v in registry.list()] == ["1.0.0"]
    changed = registry.register(candidate(metrics={"r2": 0.6}), environment="dev", actor="ci")  # new metadata
    assert (changed.version, changed.already_registered) == ("1.0.1", False)
    other_env = registry.register(candidate(), environment="staging", actor="ci")
    assert other_env.environment == "staging" and not other_env.already_registered
