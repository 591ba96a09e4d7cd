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
from modelway.stages.model_card import build_model_card


def modelway(home, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_")}
    env.update({"MODELWAY_HOME": str(home), "MODELWAY_USER": "carol"})
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], env=env, capture_output=True, text=True, timeout=120)


def registered(home, env="prod"):
    card = build_model_card(name="m", task="regression", intended_use="tests", metrics={"r2": 0.5}, checks=[])
    return EmbeddedRegistry(home).register(
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
