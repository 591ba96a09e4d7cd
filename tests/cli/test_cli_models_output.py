"""What ``modelway models | audit`` print, line for line, for a registry built in the test
(decision times pinned; the audit log's own timestamps and the home's path are normalised).

One home per module holds: credit-risk 1.0.0 (prod, Pending, every optional field set, a model
card), credit-risk 1.1.0 (dev, approved automatically) and a long-named prod version whose
failed gates rejected it. Approvals run on a fresh home each.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import modelway.registry.embedded as embedded
from modelway.registry import ModelCandidate
from modelway.registry.embedded import EmbeddedRegistry
from modelway.stages.model_card import build_model_card, write_model_card

from tests.cli.cli_inprocess import invoke

DECIDED = "2025-12-04T00:00:00+00:00"
LONG = "a-model-name-longer-than-22"
RUN = "r-20251204-000000-a-long-run-id"  # 31 characters: `models list` shows 24
SHA = {b"one": "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed",
       b"two": "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3",
       b"three": "8b5b9db0c13db24256c829aa364aa90c6d2eba318b9232a4ab9313b954d3555f"}
AUDIT_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00")


def _candidate(name: str, blob: bytes, **fields) -> ModelCandidate:
    return ModelCandidate(name=name, model=None, model_bytes=blob, family=fields.pop("family", "linear"),
                          schema={"features": [["x", "numeric"]]}, metrics=fields.pop("metrics", {"auc": 0.9}), **fields)


def _register(home: Path, *candidates: tuple[ModelCandidate, str]) -> None:
    registry = EmbeddedRegistry(home, card_writer=write_model_card)
    for candidate, environment in candidates:
        registry.register(candidate, environment=environment, actor="ci")


@pytest.fixture(autouse=True)
def _pinned_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "_now", lambda: DECIDED)
    monkeypatch.setenv("MODELWAY_USER", "carol")
    monkeypatch.delenv("MODELWAY_STACK", raising=False)
    monkeypatch.delenv("MODELWAY_OUTPUTS", raising=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("models-output")
    card = build_model_card(name="credit-risk", task="classification", intended_use="tests", metrics={"auc": 0.9},
                            checks=[])
    fairness = {"sensitive": "sex", "demographic_parity_difference": 0.01234, "equalized_odds_difference": 0.05,
                "max_relative_mae_gap": 0.25, "other": 1.0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(embedded, "_now", lambda: DECIDED)
        _register(home,
                  (_candidate("credit-risk", b"one", metrics={"auc": 0.912345, "rows": 100}, fairness=fairness,
                              model_card=card, hyperparameters={"alpha": 0.1}, code_commit="abc123",
                              data_versions={"credit": "0123abcd", "extra": "ff00"}, run_id=RUN,
                              mlflow_run_id="ml-1"), "prod"),
                  (_candidate("credit-risk", b"two"), "dev"),
                  (_candidate(LONG, b"three", family="tree", gates_passed=False, metrics={}), "prod"))
    return home


@pytest.fixture()
def on(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    return home


def _text(out: str, home: Path) -> list[str]:
    """The printed lines, the home's path as HOME and the audit log's timestamps as TS."""
    return AUDIT_TS.sub("TS", out.replace(str(home), "HOME")).splitlines()


def test_models_list_one_aligned_row_per_version_newest_first(capsys, on: Path) -> None:
    assert invoke(capsys, "models", "list").out.splitlines() == [
        "MODEL                  VERSION   STATUS    ENV      GATES  CREATED                   RUN                      REASON",
        f"a-model-name-longer-th 1.0.0     Rejected  prod     FAIL   {DECIDED} -                        first version",
        f"credit-risk            1.1.0     Approved  dev      pass   {DECIDED} -                        "
        "minor: retrained (new artifact or data)",
        f"credit-risk            1.0.0     Pending   prod     pass   {DECIDED} r-20251204-000000-a-long first version",
    ]
    rows = json.loads(invoke(capsys, "models", "list", "--name", "credit-risk", "--json").out)
    assert [(r["version"], r["status"], r["environment"]) for r in rows] == [("1.1.0", "Approved", "dev"),
                                                                            ("1.0.0", "Pending", "prod")]
    assert not {"schema", "fairness", "model_card", "lineage", "hyperparameters"} & set(rows[0])


def test_models_show_a_pending_version_with_every_section(capsys, on: Path) -> None:
    done = invoke(capsys, "models", "show", "credit-risk", "1.0.0")
    assert done.code == 0, done.err
    assert _text(done.out, on) == [
        "model      credit-risk 1.0.0  (first version)",
        "status     Pending",
        "env        prod   gates passed",
        "family     linear",
        f"artifact   file://HOME/registry/artifacts/{SHA[b'one']}.pkl  sha256:{SHA[b'one'][:16]}  3 bytes",
        f"run        {RUN}   MLflow run ml-1",
        "code       abc123",
        "data       credit@0123abcd, extra@ff00",
        "metrics    auc=0.9123, rows=100",
        "fairness   by sex: demographic_parity_difference=0.0123, equalized_odds_difference=0.0500, "
        "max_relative_mae_gap=0.2500",
        'params     {"alpha": 0.1}',
        "card       HOME/registry/cards/credit-risk/1.0.0/model_card.md  (also .html, .json)",
        "mlflow     mlflow ui --backend-store-uri sqlite:///HOME/mlflow.db",
        "history",
        "  TS  registered by ci             first version",
        "next       modelway models approve credit-risk 1.0.0 --reason '...'   (or reject)",
    ]


def test_models_show_decided_versions_name_who_when_and_why(capsys, on: Path) -> None:
    latest = _text(invoke(capsys, "models", "show", "credit-risk").out, on)
    assert latest[:4] + latest[5:9] + latest[10:] == [
        "model      credit-risk 1.1.0  (minor: retrained (new artifact or data))",
        f"status     Approved by modelway-auto at {DECIDED}: all gates passed; dev approves automatically",
        "env        dev   gates passed",
        "family     linear",
        "run        -   MLflow run -",
        "code       -",
        "data       -",
        "metrics    auc=0.9000",
        "history",
        "  TS  registered by ci             minor: retrained (new artifact or data)",
        "  TS  approved   by modelway-auto  all gates passed; dev approves automatically",
    ]
    rejected = _text(invoke(capsys, "models", "show", LONG).out, on)
    assert rejected[1:3] == [
        f"status     Rejected by modelway-auto at {DECIDED}: gates failed; prod requires every gate to pass",
        "env        prod   gates FAILED"]
    assert rejected[8] == "metrics    " and rejected[-1].startswith("  TS  rejected   by modelway-auto")


def test_models_show_json_has_the_card_paths_and_the_audit_trail(capsys, on: Path) -> None:
    doc = json.loads(invoke(capsys, "models", "show", "credit-risk", "1.0.0", "--json").out)
    card = on / "registry" / "cards" / "credit-risk" / "1.0.0"
    assert doc["model_card_paths"] == {"md": str(card / "model_card.md"), "html": str(card / "model_card.html"),
                                       "json": str(card / "model_card.json")}
    assert [(e["seq"], e["event"], e["actor"]) for e in doc["audit"]] == [(1, "registered", "ci")]
    assert doc["fairness"]["other"] == 1.0 and doc["schema"] == {"features": [["x", "numeric"]]}
    assert json.loads(invoke(capsys, "models", "show", "credit-risk", "1.1.0", "--json").out)["model_card_paths"] == {}


def test_audit_log_and_verify(capsys, on: Path) -> None:
    log = _text(invoke(capsys, "audit", "log", "--name", LONG).out, on)
    assert log == [
        f"    4 TS  registered {LONG} 1.0.0    by ci             "
        f'{{"artifact_sha256": "{SHA[b"three"]}", "environment": "prod", "gates_passed": false, "metrics": {{}}, '
        '"run_id": null, "status": "Pending", "version_reason": "first version"}',
        f"    5 TS  rejected   {LONG} 1.0.0    by modelway-auto  "
        f'{{"decided_at": "{DECIDED}", "reason": "gates failed; prod requires every gate to pass", "status": "Rejected"}}',
    ]
    assert [e["seq"] for e in json.loads(invoke(capsys, "audit", "log", "--json").out)] == [1, 2, 3, 4, 5]
    unknown = invoke(capsys, "audit", "log", "--name", "nope")
    assert unknown.code == 2 and unknown.err.startswith("error: model 'nope' is not registered")
    ok = invoke(capsys, "audit", "verify")
    assert (ok.code, ok.out) == (0, "audit log OK: 5 entries, chain intact, statuses match\n")
    doc = json.loads(invoke(capsys, "audit", "verify", "--json").out)
    assert (doc["ok"], doc["entries"], doc["problems"]) == (True, 5, [])


def test_approve_reject_and_revoke_print_the_decision(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    _register(tmp_path, (_candidate("fraud", b"f1"), "prod"), (_candidate("fraud", b"f2"), "prod"),
              (_candidate("fraud", b"f3", mlflow_run_id="ml-9"), "prod"))
    mirrored = []
    import modelway.stages.registration as registration
    monkeypatch.setattr(registration, "mirror_to_mlflow", lambda *args: mirrored.append(args))
    approved = invoke(capsys, "models", "approve", "fraud", "1.0.0", "--reason", "reviewed by risk")
    assert (approved.code, approved.out) == (0, f"fraud 1.0.0 (prod): Approved by carol at {DECIDED}: reviewed by risk\n")
    refused = invoke(capsys, "models", "reject", "fraud", "1.1.0")
    assert refused.code == 2 and "reason" in refused.err
    nobody = invoke(capsys, "models", "reject", "fraud", "1.1.0", "--reason", "x", "--by", "")
    assert nobody.code == 2 and nobody.out == ""
    rejected = invoke(capsys, "models", "reject", "fraud", "1.1.0", "-r", "worse", "--by", "dave", "--json")
    doc = json.loads(rejected.out)
    assert (doc["status"], doc["decided_by"], doc["decision_reason"], doc["decided_at"]) == (
        "Rejected", "dave", "worse", DECIDED)
    assert "schema" not in doc
    revoked = invoke(capsys, "models", "revoke", "fraud", "1.0.0", "--reason", "bad champion")
    assert revoked.out == f"fraud 1.0.0 (prod): Revoked by carol at {DECIDED}: bad champion\n"
    doc = json.loads(invoke(capsys, "models", "revoke", "fraud", "1.0.0", "-r", "again", "--json").out
                     or '{"status": "refused"}')
    assert doc == {"status": "refused"}  # only an Approved version can be revoked
    assert mirrored == []  # only a version with an MLflow run is mirrored there
    done = invoke(capsys, "models", "approve", "fraud", "1.2.0", "-r", "ok", "--by", "erin", "--json")
    assert json.loads(done.out)["status"] == "Approved"
    assert mirrored == [("ml-9", "fraud", "1.2.0", "prod", "Approved")]
    assert done.out.startswith('{\n  "name": "fraud",\n  "version": "1.2.0",')  # indented by two
    doc = json.loads(invoke(capsys, "models", "revoke", "fraud", "1.2.0", "-r", "drift", "--json").out)
    assert (doc["status"], doc["decision_reason"]) == ("Revoked", "drift") and "schema" not in doc


def test_a_decision_without_a_reason(capsys, tmp_path: Path, monkeypatch) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  staging: {auto_approve: false, require_reason: false}\n")
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "h"))
    registry = EmbeddedRegistry(tmp_path / "h", card_writer=write_model_card)
    registry.register(_candidate("fraud", b"s1"), environment="staging", actor="ci")
    done = invoke(capsys, "models", "approve", "fraud", "1.0.0")
    assert (done.code, done.out) == (0, f"fraud 1.0.0 (staging): Approved by carol at {DECIDED}\n"), done.err
    lines = _text(invoke(capsys, "models", "show", "fraud").out, tmp_path / "h")
    assert lines[1] == f"status     Approved by carol at {DECIDED}"
    assert lines[-1] == "  TS  approved   by carol          "


def test_a_home_without_a_registry(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "h"))
    assert invoke(capsys, "models", "list").out == (
        f"no model versions registered yet in {tmp_path / 'h'}; run a pipeline, e.g.: modelway run pipelines/credit_risk.py\n")
    assert invoke(capsys, "models", "list", "--json").out == "[]\n"
    shown = invoke(capsys, "models", "show", "m")
    assert (shown.code, shown.err) == (2, f"error: no model registry in {tmp_path / 'h'} (MODELWAY_HOME); register a "
                                          "model first, e.g. modelway run pipelines/credit_risk.py\n")
    verify = invoke(capsys, "audit", "verify")
    assert (verify.code, verify.err) == (2, f"error: no Modelway home at {tmp_path / 'h'} (MODELWAY_HOME); nothing to verify\n")
    assert not (tmp_path / "h").exists()
    (tmp_path / "h").mkdir()
    empty = invoke(capsys, "audit", "verify")  # a home without a registry: verified, nothing in it
    assert empty.code == 0 and empty.out == "audit log OK: 0 entries, chain intact, statuses match\n"
    assert invoke(capsys, "models", "list").out == (
        "no model versions registered yet; run a pipeline, e.g.: modelway run pipelines/credit_risk.py\n")


def test_the_groups_take_the_stack_options(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    missing = tmp_path / "none.json"
    for group, command in (("models", "list"), ("audit", "log")):
        done = invoke(capsys, group, "--outputs", str(missing), command)
        assert (done.code, done.out) == (2, ""), group
        assert done.err == (f"error: {missing}: cannot read stack outputs ([Errno 2] No such file or directory: "
                            f"'{missing}')\n")


def test_runs_report_writes_the_html_and_prints_its_path(capsys, tmp_path: Path, monkeypatch) -> None:
    from modelway.runtime.context import stores

    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    runs, _ = stores(tmp_path)
    runs.create_run("r-report-1", "training", None, {}, "inprocess", True, {}, [])
    runs.finish_run("r-report-1", "succeeded", None, None)
    done = invoke(capsys, "runs", "report", "r-report")
    assert (done.code, done.out) == (0, f"{tmp_path / 'reports' / 'r-report-1.html'}\n"), done.err
    chosen = tmp_path / "mine.html"
    assert invoke(capsys, "runs", "report", "latest", "-o", str(chosen)).out == f"{chosen}\n"
    assert "r-report-1" in chosen.read_text()


def test_audit_verify_of_a_tampered_log_lists_each_problem_and_exits_1(capsys, tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    _register(tmp_path, (_candidate("fraud", b"f1"), "dev"))
    db = sqlite3.connect(tmp_path / "registry" / "registry.db", isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    db.close()
    done = invoke(capsys, "audit", "verify")
    assert (done.code, done.out) == (1, "")
    lines = done.err.splitlines()
    assert lines[0] == f"audit log BROKEN: {len(lines) - 1} problem(s) in 2 entries" and len(lines) >= 2
    assert all(line.startswith("  - ") for line in lines[1:]) and "entry 2" in lines[1]
    doc = json.loads(invoke(capsys, "audit", "verify", "--json").out)
    assert doc["ok"] is False and [f"  - {p}" for p in doc["problems"]] == lines[1:]
