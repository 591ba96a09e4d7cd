"""`modelway models | audit` on a registry: one-line errors (exit 2), broken audit chain (exit 1)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from sklearn.linear_model import Ridge

from modelway.registry import ModelCandidate
from modelway.registry.embedded import EmbeddedRegistry
from modelway.stages.model_card import build_model_card, write_model_card


def modelway(home, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_") or k == "MODELWAY_CACHE_DIR"}
    env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": "carol"})
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], env=env, capture_output=True, text=True, timeout=120)


def registered(home, env="prod"):
    card = build_model_card(name="m", task="regression", intended_use="tests", metrics={"r2": 0.5}, checks=[])
    return EmbeddedRegistry(home, card_writer=write_model_card).register(
        ModelCandidate(name="m", model=Ridge(), schema={"features": [["x", "numeric"]]}, metrics={"r2": 0.5}, model_card=card),
        environment=env, actor="ci",
    )


def test_models_list_show_and_approve_by_the_current_user(home):
    v = registered(home)
    listed = json.loads(modelway(home, "models", "list", "--json").stdout)
    assert [(r["name"], r["version"], r["status"]) for r in listed] == [("m", "1.0.0", "Pending")]
    shown = modelway(home, "models", "show", "m")
    assert shown.returncode == 0 and "next       modelway models approve m 1.0.0" in shown.stdout
    assert "card       " in shown.stdout and "model_card.md" in shown.stdout
    done = modelway(home, "models", "approve", "m", v.version, "--reason", "ok for prod")
    assert done.returncode == 0 and "m 1.0.0 (prod): Approved by carol" in done.stdout
    history = json.loads(modelway(home, "models", "show", "m", "--json").stdout)["audit"]
    assert [(e["event"], e["actor"], e["payload"].get("reason")) for e in history][-1] == ("approved", "carol", "ok for prod")


def test_user_errors_are_one_line_with_exit_code_2(home):
    registered(home)
    unknown = modelway(home, "models", "show", "nope")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: model 'nope' is not registered; known models: ['m']"
    bad_version = modelway(home, "models", "approve", "m", "one", "--reason", "x")
    assert bad_version.returncode == 2 and "invalid model version 'one'" in bad_version.stderr
    assert "Traceback" not in unknown.stderr + bad_version.stderr


def test_audit_verify_exit_codes(home):
    registered(home, env="dev")
    ok = modelway(home, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("audit log OK: 2 entries")
    db = sqlite3.connect(home / "registry" / "registry.db", isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET payload = '{\"status\": \"Approved\", \"reason\": \"forged\"}' WHERE seq = 2")
    broken = modelway(home, "audit", "verify", "--json")
    assert broken.returncode == 1
    result = json.loads(broken.stdout)
    assert result["ok"] is False and any("entry 2 (approved m 1.0.0) was modified" in p for p in result["problems"])


import pytest  # noqa: E402


@pytest.mark.parametrize("tamper, expected", [
    ("DELETE FROM model_versions WHERE version = '1.0.0'", "model m 1.0.0: 2 audit event(s) but no model_versions row"),
    ("UPDATE model_versions SET artifact_sha256 = 'ab' || substr(artifact_sha256, 3)", "model m 1.0.0: field artifact_sha256"),
    ("UPDATE model_versions SET decided_by = 'mallory'", "model m 1.0.0: field decided_by is 'mallory'"),
    ("UPDATE model_versions SET decision_reason = 'reviewed'", "model m 1.0.0: field decision_reason is 'reviewed'"),
    ("UPDATE model_versions SET metrics_json = '{\"r2\": 0.99}'", "model m 1.0.0: field metrics_json differs"),
])
def test_audit_verify_catches_edits_of_version_rows(home, tamper, expected):
    registered(home, env="dev")
    assert modelway(home, "audit", "verify").returncode == 0
    sqlite3.connect(home / "registry" / "registry.db", isolation_level=None).execute(tamper)
    broken = modelway(home, "audit", "verify")
    assert broken.returncode == 1 and expected in broken.stderr, broken.stderr


def test_audit_verify_catches_a_corrupted_or_missing_artifact(home):
    v = registered(home, env="dev")
    path = home / "registry" / "artifacts" / f"{v.artifact_sha256}.pkl"
    path.write_bytes(path.read_bytes() + b"x")
    broken = modelway(home, "audit", "verify")
    assert broken.returncode == 1 and f"model m 1.0.0: artifact file {path} has sha256" in broken.stderr
    path.unlink()
    broken = modelway(home, "audit", "verify")
    assert broken.returncode == 1 and f"model m 1.0.0: artifact file {path} is missing" in broken.stderr


def test_audit_verify_catches_a_deleted_registry_through_run_lineage(home):
    import shutil

    from modelway.lineage import record_model

    v = registered(home, env="dev")
    record_model("m", v.version, "20261126-120000-abcdef", artifact=v.artifact_sha256, home=home)
    assert modelway(home, "audit", "verify").returncode == 0
    shutil.rmtree(home / "registry")
    broken = modelway(home, "audit", "verify")
    assert broken.returncode == 1
    assert "model m 1.0.0: run 20261126-120000-abcdef registered it (run store lineage) but the registry has no record" in broken.stderr


def test_a_corrupt_registry_database_is_a_one_line_error(home):
    registered(home, env="dev")
    (home / "registry" / "registry.db").write_bytes(b"this is not sqlite" * 100)
    for wal in (home / "registry").glob("registry.db-*"):
        wal.unlink()
    done = modelway(home, "models", "list")
    assert done.returncode == 2 and done.stderr.startswith("error: the registry database ") and len(done.stderr.strip().splitlines()) == 1


def test_revoke_retires_an_approved_champion(home):
    registry = EmbeddedRegistry(home)
    v = registered(home, env="dev")
    assert registry.champion("m", ("dev",)).version == v.version
    no_reason = modelway(home, "models", "revoke", "m", v.version, "--reason", " ")
    assert no_reason.returncode == 2 and "requires a reason" in no_reason.stderr
    done = modelway(home, "models", "revoke", "m", v.version, "--reason", "drift in east", "--json")
    assert done.returncode == 0, done.stderr
    revoked = json.loads(done.stdout)
    assert (revoked["status"], revoked["decided_by"], revoked["decision_reason"]) == ("Revoked", "carol", "drift in east")
    assert revoked["decided_at"]
    assert registry.champion("m", ("dev",)) is None
    assert registry.audit_entries("m", v.version)[-1].event == "revoked"
    assert modelway(home, "audit", "verify").returncode == 0
    again = modelway(home, "models", "revoke", "m", v.version, "--reason", "x")
    assert again.returncode == 2 and "only Approved versions can be revoked" in again.stderr


def test_read_commands_outside_a_home_create_nothing_and_name_the_home(tmp_path):
    home = tmp_path / "nohome" / ".modelway"
    shown = modelway(home, "models", "show", "credit-risk")
    assert shown.returncode == 2 and shown.stderr.strip().startswith(f"error: no model registry in {home}")
    listed = modelway(home, "models", "list")
    assert listed.returncode == 0 and str(home) in listed.stdout
    assert modelway(home, "audit", "log").returncode == 2
    assert not home.exists()


def test_audit_log_of_an_unknown_model_is_an_error_like_models_show(home):
    registered(home)
    done = modelway(home, "audit", "log", "--name", "nosuch")
    assert done.returncode == 2 and done.stderr.strip() == "error: model 'nosuch' is not registered; known models: ['m']"


def test_decision_errors_spell_the_verb(home):
    v = registered(home)
    done = modelway(home, "models", "reject", "m", v.version)
    assert done.returncode == 2 and done.stderr.strip() == f"error: prod requires a reason to reject m {v.version}; pass --reason '...'"
