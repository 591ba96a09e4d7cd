"""Pins on the registry's approval and audit rules that mutation testing found loose.

Each test fails on a plausible one-point change of the code (see ``make mutate``); a
Hypothesis property says the audit chain's rule in general: verification fails for any
single edited, dropped or reordered entry.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.registry import ArtifactIntegrityError, ModelCandidate, RegistryError, audit
from modelway.registry.embedded import EmbeddedRegistry
from modelway.registry.promotion import AUTO_APPROVER

SCHEMA = {"features": [["x", "numeric"]], "task": "regression"}


def candidate(alpha: float = 1.0, gates_passed: bool = True) -> ModelCandidate:
    from modelway.stages.model_card import build_model_card

    card = build_model_card(name="m", task="regression", intended_use="tests", metrics={"r2": 0.5}, checks=[])
    return ModelCandidate(name="m", model={"alpha": alpha}, family="sklearn.linear_model.Ridge", schema=SCHEMA, metrics={"r2": 0.5}, model_card=card,
                          gates_passed=gates_passed, data_versions={"d": "v1"})


@pytest.fixture
def registry(tmp_path: Path) -> EmbeddedRegistry:
    return EmbeddedRegistry(tmp_path)


@pytest.fixture
def approved(registry: EmbeddedRegistry) -> str:
    """A prod version approved by alice (registered by ci)."""
    version = registry.register(candidate(), environment="prod", actor="ci").version
    registry.approve("m", version, actor="alice", reason="reviewed")
    return version


# --- who may decide ---------------------------------------------------------------------------
@pytest.mark.parametrize("actor", [AUTO_APPROVER, f"  {AUTO_APPROVER} ", "", "   ", "ali\nce"])
def test_revocation_needs_a_named_human(registry: EmbeddedRegistry, approved: str, actor: str) -> None:
    with pytest.raises(RegistryError, match=f"a human person is required to revoke m {approved}"):
        registry.revoke("m", approved, actor=actor, reason="leaked training data")
    assert registry.get("m", approved).status == "Approved"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_revocation_needs_a_reason(registry: EmbeddedRegistry, approved: str, reason) -> None:
    with pytest.raises(RegistryError, match=f"revoking m {approved} requires a reason"):
        registry.revoke("m", approved, actor="bob", reason=reason)
    assert registry.get("m", approved).status == "Approved"


def test_revocation_records_who_and_why_stripped(registry: EmbeddedRegistry, approved: str) -> None:
    revoked = registry.revoke("m", approved, actor="  bob ", reason=" leaked data  ")
    assert (revoked.status, revoked.decided_by, revoked.decision_reason) == ("Revoked", "bob", "leaked data")
    last = registry.audit_entries("m", approved)[-1]
    assert (last.event, last.actor, last.payload["status"], last.payload["reason"]) == (
        "revoked", "bob", "Revoked", "leaked data")
    assert registry.verify_audit().ok


def test_only_approved_versions_can_be_revoked(registry: EmbeddedRegistry) -> None:
    pending = registry.register(candidate(), environment="prod", actor="ci").version
    with pytest.raises(RegistryError, match=f"m {pending} is Pending; only Approved versions can be revoked"):
        registry.revoke("m", pending, actor="bob", reason="r")


@pytest.mark.parametrize("actor", [AUTO_APPROVER, "  ", ""])
def test_approval_needs_a_named_human_approver(registry: EmbeddedRegistry, actor: str) -> None:
    version = registry.register(candidate(), environment="prod", actor="ci").version
    with pytest.raises(RegistryError, match=f"a human approver is required to approve m {version}"):
        registry.approve("m", version, actor=actor, reason="ok")
    assert registry.get("m", version).status == "Pending"


@pytest.mark.parametrize("registrant, approver", [("ci", "CI"), ("ci", " ci "), ("Ci ", "ci")])
def test_the_registrant_cannot_approve_in_prod_whatever_the_case_or_spaces(registry: EmbeddedRegistry,
                                                                          registrant: str, approver: str) -> None:
    version = registry.register(candidate(), environment="prod", actor=registrant).version
    with pytest.raises(RegistryError, match="separation of duties"):
        registry.approve("m", version, actor=approver, reason="ok")


@pytest.mark.parametrize("reason", ["   ", "", None])
def test_prod_approval_with_a_blank_reason_is_refused(registry: EmbeddedRegistry, reason) -> None:
    version = registry.register(candidate(), environment="prod", actor="ci").version
    with pytest.raises(RegistryError, match=f"prod requires a reason to approve m {version}"):
        registry.approve("m", version, actor="alice", reason=reason)


def test_a_version_that_failed_its_gates_cannot_be_approved_in_prod(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(gates_passed=False), environment="prod", actor="ci").version
    with pytest.raises(RegistryError) as caught:
        registry.approve("m", version, actor="alice", reason="ok")
    assert str(caught.value) == f"m {version} failed its gates; prod does not allow approving it"


@pytest.mark.parametrize("environment, gates, status", [
    ("dev", True, "Approved"), ("dev", False, "Rejected"), ("prod", True, "Pending"), ("prod", False, "Rejected"),
])
def test_registration_status_by_environment_and_gates(registry: EmbeddedRegistry, environment, gates, status) -> None:
    version = registry.register(candidate(gates_passed=gates), environment=environment, actor="ci")
    assert version.status == status
    decided = [e for e in registry.audit_entries("m", version.version) if e.event != "registered"]
    assert [e.actor for e in decided] == ([] if status == "Pending" else [AUTO_APPROVER])


def test_a_decided_version_cannot_be_decided_again(registry: EmbeddedRegistry, approved: str) -> None:
    with pytest.raises(RegistryError, match=f"m {approved} is Approved; only Pending versions"):
        registry.reject("m", approved, actor="bob", reason="changed my mind")


def test_the_champion_is_the_newest_approved_version_of_the_environment(registry: EmbeddedRegistry) -> None:
    first = registry.register(candidate(1.0), environment="prod", actor="ci").version
    second = registry.register(candidate(2.0), environment="prod", actor="ci").version
    assert registry.champion("m") is None
    registry.approve("m", first, actor="alice", reason="ok")
    registry.approve("m", second, actor="alice", reason="ok")
    assert registry.champion("m").version == second
    registry.revoke("m", second, actor="bob", reason="bad")
    assert registry.champion("m").version == first
    assert registry.champion("m", ("dev",)) is None


# --- rows edited outside the registry -------------------------------------------------------
@pytest.mark.parametrize("column, value, problem", [
    ("environment", "dev", "field environment is 'dev' but it was registered with 'prod'"),
    ("artifact_sha256", "0" * 64, "field artifact_sha256 is '" + "0" * 64 + "' but it was registered with"),
    ("metrics_json", json.dumps({"r2": 0.99}), "field metrics_json differs from the metrics it was registered with"),
    ("status", "Rejected", "model m 1.0.0 is Rejected in the registry but the audit log says Approved"),
    ("decided_by", "mallory", "field decided_by is 'mallory' but the audit log says 'alice'"),
    ("decision_reason", "whatever", "field decision_reason is 'whatever' but the audit log says 'reviewed'"),
])
def test_an_edited_model_row_fails_audit_verification(registry: EmbeddedRegistry, approved: str, column: str,
                                                      value: str, problem: str) -> None:
    with sqlite3.connect(registry.db_path) as db:
        db.execute(f"UPDATE model_versions SET {column} = ? WHERE version = ?", (value, approved))
    result = registry.verify_audit()
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems
    if column != "artifact_sha256":  # (that one also names the artifact file, below)
        assert result.problems == [problem if problem.startswith("model m") else f"model m {approved}: {problem}"]


def test_a_replaced_missing_or_orphaned_artifact_is_one_exact_line(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="prod", actor="ci")
    artifact = Path(version.artifact_uri.removeprefix("file://"))
    artifact.write_bytes(b"x")
    assert registry.verify_audit().problems == [
        f"model m {version.version}: artifact file {artifact} has sha256 2d711642b726… but artifact_sha256 is "
        f"{version.artifact_sha256[:12]}… (corrupted or replaced)"]
    artifact.unlink()
    assert registry.verify_audit().problems == [f"model m {version.version}: artifact file {artifact} is missing"]
    with sqlite3.connect(registry.db_path) as db:
        db.execute("DELETE FROM model_versions")
    assert registry.verify_audit().problems == [
        f"model m {version.version}: 1 audit event(s) but no model_versions row (the row was deleted)"]


def test_a_rewritten_last_audit_entry_with_its_hash_recomputed_fails(registry: EmbeddedRegistry, approved: str) -> None:
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    seq, ts, actor, event, model, version, payload, prev = db.execute(
        "SELECT seq, ts, actor, event, model, version, payload, prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert (event, actor) == ("approved", "alice")
    digest = audit.entry_hash(seq, ts, "mallory", event, model, version, payload, prev)
    db.execute("UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = ?", (digest, seq))
    db.execute("UPDATE audit_head SET hash = ?", (digest,))
    db.execute("UPDATE model_versions SET decided_by = 'mallory'")
    assert audit.verify_chain(db).ok  # the chain alone is consistent again
    db.close()
    result = registry.verify_audit()
    assert not result.ok
    assert f"entry {seq} (approved m {approved}): its signature does not match the audit key (the chain was rewritten)" \
        in result.problems
    assert f"entry {seq} differs from the witnessed head (the chain was rewritten)" in result.problems


# --- the chain: any single edited, dropped or reordered entry --------------------------------
def _chain(n: int) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    audit.ensure_schema(db)
    for i in range(n):
        audit.append(db, actor=f"a{i}", event="registered", model="m", version=f"1.0.{i}", payload={"i": i})
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("DROP TRIGGER audit_log_no_delete")
    return db


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_verification_fails_for_any_single_edited_dropped_or_reordered_entry(n: int, data: st.DataObject) -> None:
    db = _chain(n)
    assert audit.verify_chain(db).ok
    seq = data.draw(st.integers(1, n), label="seq")
    change = data.draw(st.sampled_from(["edit actor", "edit payload", "edit ts", "drop", "swap"]), label="change")
    if change == "drop":
        db.execute("DELETE FROM audit_log WHERE seq = ?", (seq,))
    elif change == "swap":
        if n == 1:
            return
        other = data.draw(st.integers(1, n).filter(lambda s: s != seq), label="other")
        rows = {r[0]: r[1:] for r in db.execute("SELECT seq, ts, actor, event, model, version, payload, prev_hash, "
                                                 "hash FROM audit_log WHERE seq IN (?, ?)", (seq, other))}
        for a, b in ((seq, other), (other, seq)):
            db.execute("UPDATE audit_log SET ts=?, actor=?, event=?, model=?, version=?, payload=?, prev_hash=?, "
                       "hash=? WHERE seq = ?", (*rows[b], a))
    else:
        column = change.split()[1]
        value = {"actor": "mallory", "payload": json.dumps({"i": -1}), "ts": "2000-01-01T00:00:00+00:00"}[column]
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (value, seq))
    result = audit.verify_chain(db)
    assert not result.ok and result.problems


@pytest.mark.parametrize("n, dropped, problem", [
    (3, 2, "entry 2 deleted: sequence jumps from 1 to 3"),
    (4, 2, "entry 3 (registered m 1.0.2): link to the previous entry is broken"),
    (3, 3, "entries 3..3 deleted: the head records 3 entries, the log ends at 2"),
])
def test_a_dropped_entry_is_named(n: int, dropped: int, problem: str) -> None:
    db = _chain(n)
    db.execute("DELETE FROM audit_log WHERE seq = ?", (dropped,))
    assert any(p.startswith(problem) for p in audit.verify_chain(db).problems), audit.verify_chain(db).problems


def test_two_dropped_entries_in_a_row_are_named_as_a_range() -> None:
    db = _chain(5)
    db.execute("DELETE FROM audit_log WHERE seq IN (2, 3)")
    assert "entry 2..3 deleted: sequence jumps from 1 to 4" in audit.verify_chain(db).problems


def test_an_entry_appended_outside_the_registry_is_named() -> None:
    db = _chain(2)
    db.execute("UPDATE audit_head SET seq = 1")
    assert any("audit head (seq 1) does not match the last entry (seq 2)" in p for p in audit.verify_chain(db).problems)
    db.execute("DELETE FROM audit_head")
    assert audit.verify_chain(db).problems == ["audit head record is missing (it was deleted)"]


# --- the anchor: key and witness outside the database ----------------------------------------
def _problems(registry: EmbeddedRegistry) -> list[str]:
    result = registry.verify_audit()
    assert result.ok is (not result.problems)
    return result.problems


def test_a_lost_key_of_a_signed_log_is_named(registry: EmbeddedRegistry, approved: str) -> None:
    registry.anchor.key_file.unlink()
    assert _problems(registry) == [f"the audit key {registry.anchor.key_file} is missing: the log is signed with it, "
                                   "so its signatures cannot be checked (restore the key)"]


@pytest.mark.parametrize("witness, problem", [
    (None, "the audit head witness {file} is missing (deleted)"),
    ("not json", "the audit head witness {file} is unreadable"),
    ('{"seq": "2", "hash": "x"}', "the audit head witness {file} is unreadable"),
    ("edit seq", "the audit head witness {file} is not signed with the audit key (edited)"),
])
def test_a_missing_unreadable_or_edited_witness_is_named(registry: EmbeddedRegistry, approved: str, witness,
                                                         problem: str) -> None:
    file = registry.anchor.witness_file
    if witness is None:
        file.unlink()
    elif witness == "edit seq":
        doc = json.loads(file.read_text())
        file.write_text(json.dumps({**doc, "seq": doc["seq"] - 1}))
    else:
        file.write_text(witness)
    assert _problems(registry) == [problem.format(file=file)]


def test_an_unsigned_entry_appended_after_signed_ones_is_named(registry: EmbeddedRegistry, approved: str) -> None:
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    audit.append(db, actor="mallory", event="note", model="m", version=approved, payload={})  # no anchor: unsigned
    seq = db.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    db.close()
    assert _problems(registry) == [f"entry {seq} (note m {approved}) is not signed: it was written outside the registry"]


def test_a_log_with_every_signature_removed_is_named(registry: EmbeddedRegistry, approved: str) -> None:
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("UPDATE audit_log SET mac = NULL")
    db.close()
    assert "no audit entry is signed although the audit key exists (the log was replaced)" in _problems(registry)


def test_an_intact_registry_verifies_with_its_entry_count(registry: EmbeddedRegistry, approved: str) -> None:
    result = registry.verify_audit()
    assert (result.ok, result.entries, result.problems) == (True, 2, [])
    assert result.head["seq"] == 2 and len(result.head["hash"]) == 64


# --- the on-disk format: a registry.db written today verifies tomorrow --------------------------
def test_the_entry_hash_is_a_stable_canonical_form() -> None:
    # Pinned: changing the canonical JSON (separators, escaping) or the genesis link would make
    # every existing registry.db fail `audit verify`.
    assert audit.GENESIS == "0" * 64
    assert audit.entry_hash(1, "2026-12-03T12:00:00.000000+00:00", "zoë", "registered", "m", "1.0.0", '{"a": 1}',
                            audit.GENESIS) == "dd5b7888e7c040587e8ad4243423a3706bcf05f427fb606f1ae2aa731863e916"
    db = _chain(1)
    assert db.execute("SELECT prev_hash FROM audit_log WHERE seq = 1").fetchone()[0] == "0" * 64


def test_verify_result_json_document() -> None:
    db = _chain(1)
    doc = audit.verify_chain(db).to_dict()
    assert set(doc) == {"ok", "entries", "problems", "head"}
    assert (doc["ok"], doc["entries"], doc["problems"], doc["head"]["seq"]) == (True, 1, [], 1)


def test_a_log_from_before_signing_gets_its_mac_column() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, event TEXT "
               "NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, "
               "hash TEXT NOT NULL)")
    audit.ensure_schema(db)
    assert "mac" in {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}
    audit.append(db, actor="a", event="registered", model="m", version="1.0.0", payload={})
    assert audit.verify_chain(db).ok


def test_the_log_reads_back_exactly_what_was_appended() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    audit.ensure_schema(db)
    written = [audit.append(db, actor="a", event="registered", model="m", version="1.0.0", payload={"i": 0}),
               audit.append(db, actor="b", event="approved", model="m", version="1.0.0", payload={"r": "ok"}),
               audit.append(db, actor="c", event="registered", model="n", version="2.0.0", payload={})]
    assert audit.entries(db) == written  # seq, time, actor, ..., previous hash, hash, signature: every field
    assert [e.prev_hash for e in written] == [audit.GENESIS, written[0].hash, written[1].hash]
    assert audit.entries(db, model="m") == written[:2]
    assert audit.entries(db, model="m", version="2.0.0") == []
    assert audit.entries(db, version="2.0.0") == written[2:]


def test_a_payload_is_stored_in_one_canonical_form_whatever_its_key_order() -> None:
    # The hash covers the stored text: the same decision written with its keys in another order
    # must not read back differently (a reviewer diffing two exports would see a change).
    db = sqlite3.connect(":memory:", isolation_level=None)
    audit.ensure_schema(db)
    audit.append(db, actor="a", event="approved", model="m", version="1", payload={"status": "Approved", "reason": "ok"})
    audit.append(db, actor="a", event="approved", model="m", version="2", payload={"reason": "ok", "status": "Approved"})
    assert [r[0] for r in db.execute("SELECT payload FROM audit_log ORDER BY seq")] == [
        '{"reason": "ok", "status": "Approved"}'] * 2


def test_a_decision_is_refused_while_the_key_of_a_signed_log_is_missing(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="prod", actor="ci").version
    registry.anchor.key_file.unlink()
    with pytest.raises(RegistryError) as caught:
        registry.approve("m", version, actor="alice", reason="reviewed")
    assert str(caught.value) == (f"the audit key {registry.anchor.key_file} is missing but the audit log is signed "
                                 "with it; restore the key file (nothing was written)")
    assert registry.get("m", version).status == "Pending"
    assert [e.event for e in registry.audit_entries("m", version)] == ["registered"]


def test_a_recorded_lifecycle_event_is_signed_and_the_log_still_verifies(registry: EmbeddedRegistry,
                                                                         approved: str) -> None:
    # Deployments record their decisions through record_event: signed like every registry event,
    # so `modelway audit verify` stays green after a deployment and the witness moves on.
    entry = registry.record_event("m", approved, actor="deployer", event="deployed", payload={"endpoint": "e"})
    assert entry.mac is not None
    assert registry.anchor.witness()["seq"] == entry.seq
    result = registry.verify_audit()
    assert (result.ok, result.entries, result.problems) == (True, 3, [])
    with pytest.raises(ValueError) as caught:
        registry.record_event("m", approved, actor="x", event="deployed", payload={"status": "Approved"})
    assert str(caught.value) == "record_event payloads must not carry 'status' (reserved for approval decisions)"


def test_each_chain_problem_is_one_exact_line() -> None:
    db = _chain(3)
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    assert audit.verify_chain(db).problems == [
        "entry 2 (registered m 1.0.1) was modified: its content no longer matches its hash"]
    db = _chain(2)
    db.execute("UPDATE audit_head SET seq = 1")
    assert audit.verify_chain(db).problems == [
        "audit head (seq 1) does not match the last entry (seq 2): entries were appended or altered outside the "
        "registry"]


def test_a_log_with_every_entry_deleted_is_caught_by_its_head() -> None:
    db = _chain(3)
    db.execute("DELETE FROM audit_log")
    result = audit.verify_chain(db)
    assert (result.ok, result.entries) == (False, 0)
    assert result.problems == ["entries 1..3 deleted: the head records 3 entries, the log ends at 0"]


def _anchor(tmp_path: Path):
    from modelway.registry.anchor import AuditAnchor

    return AuditAnchor(key_file=tmp_path / "keys" / "audit.key", witness_file=tmp_path / "audit-head.json")


def test_a_log_from_before_signing_is_named_unanchored_until_the_next_event(tmp_path: Path) -> None:
    db = _chain(2)  # written by a registry from before signing: no key, no signatures
    anchor = _anchor(tmp_path)
    assert audit.verify_chain(db, anchor).problems == [
        f"the audit key {anchor.key_file} is missing: the log is not anchored (a home from before signing, or the key "
        "and signatures were removed); the next registry event anchors it"]
    audit.append(db, anchor=anchor, actor="alice", event="approved", model="m", version="1.0.1", payload={})
    assert audit.verify_chain(db, anchor).problems == []  # old unsigned entries, then signed ones: fine


def test_the_newest_entries_dropped_behind_the_witness_are_named(registry: EmbeddedRegistry, approved: str) -> None:
    for event in ("deployed", "undeployed"):
        registry.record_event("m", approved, actor="deployer", event=event, payload={})
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_delete")
    db.execute("DELETE FROM audit_log WHERE seq = 4")
    seq, digest = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    db.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, digest))  # the chain alone is consistent again
    db.close()
    assert registry.verify_audit().problems == [
        "entries up to 4 were witnessed but the log ends at 3 (newest entries deleted)"]


def test_each_refusal_is_one_exact_line(registry: EmbeddedRegistry) -> None:
    import dataclasses

    def refusal(call) -> str:
        with pytest.raises(RegistryError) as caught:
            call()
        return str(caught.value)

    assert refusal(lambda: registry.get("nope")) == "model 'nope' is not registered; known models: none"
    version = registry.register(candidate(), environment="prod", actor="ci").version
    failed = registry.register(candidate(2.0, gates_passed=False), environment="staging", actor="ci").version
    assert refusal(lambda: registry.get("nope")) == "model 'nope' is not registered; known models: ['m']"
    assert refusal(lambda: registry.get("m", "9.9.9")) == (
        "model 'm' has no version 9.9.9; see `modelway models list --name m`")
    assert refusal(lambda: registry.register(dataclasses.replace(candidate(), name="Bad Name"), environment="prod",
                                             actor="ci")) == (
        "invalid model name 'Bad Name': use lowercase letters, digits, '.', '_' or '-'")
    assert refusal(lambda: registry.approve("m", version, actor=" ", reason="ok")) == (
        f"a human approver is required to approve m {version}: pass --by NAME with a non-empty name (got ' ')")
    assert refusal(lambda: registry.reject("m", version, actor="", reason="ok")) == (
        f"a human person is required to reject m {version}: pass --by NAME with a non-empty name (got '')")
    assert refusal(lambda: registry.reject("m", version, actor="bob", reason=" ")) == (
        f"prod requires a reason to reject m {version}; pass --reason '...'")
    assert refusal(lambda: registry.approve("m", version, actor="ci", reason="ok")) == (
        f"ci registered m {version} and cannot also approve it for prod (separation of duties); another person must "
        "approve it, or set allow_self_approval: true for prod in the promotion rules")
    assert refusal(lambda: registry.revoke("m", version, actor="bob", reason="x")) == (
        f"m {version} is Pending; only Approved versions can be revoked")
    assert refusal(lambda: registry.revoke("m", version, actor="bob", reason=" ")) == (
        f"revoking m {version} requires a reason; pass --reason '...'")
    assert refusal(lambda: registry.reject("m", failed, actor="bob", reason="x")) == (
        f"m {failed} is Rejected; only Pending versions can be approved or rejected")
    registry.approve("m", version, actor="alice", reason="ok")
    assert refusal(lambda: registry.approve("m", version, actor="bob", reason="ok")) == (
        f"m {version} is Approved; only Pending versions can be approved or rejected")


def test_a_version_that_failed_its_gates_is_refused_in_exact_words(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(gates_passed=False), environment="prod", actor="ci")
    assert (version.status, version.decided_by, version.decision_reason) == (
        "Rejected", AUTO_APPROVER, "gates failed; prod requires every gate to pass")
    dev = registry.register(candidate(3.0), environment="dev", actor="ci")
    assert (dev.status, dev.decided_by, dev.decision_reason) == (
        "Approved", AUTO_APPROVER, "all gates passed; dev approves automatically")


def test_a_registry_home_is_created_with_its_parents_and_opened_again(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    first = EmbeddedRegistry(home)
    version = first.register(candidate(), environment="dev", actor="ci").version
    again = EmbeddedRegistry(home)  # every command opens the registry of an existing home
    assert again.db_path == home / "registry" / "registry.db" and again.db_path.is_file()
    assert again.get("m", version).status == "Approved"


def test_the_card_writer_renders_the_card_with_its_version_and_decision(tmp_path: Path) -> None:
    written: list[tuple[dict, Path]] = []

    def writer(card: dict, folder: Path) -> dict:
        written.append((card, folder))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "card.md").write_text(card["name"])
        return {"md": folder / "card.md"}

    registry = EmbeddedRegistry(tmp_path, card_writer=writer)
    version = registry.register(candidate(), environment="prod", actor="ci")
    assert version.model_card_path == str(tmp_path / "registry" / "cards" / "m" / version.version / "card.md")
    card, folder = written[0]
    assert (card["version"], card["environment"], folder) == (version.version, "prod",
                                                             tmp_path / "registry" / "cards" / "m" / version.version)
    registry.approve("m", version.version, actor="alice", reason="reviewed")
    approval = written[-1][0]["approval"]
    decided_at = registry.get("m", version.version).decided_at
    assert approval == {"status": "Approved", "decided_by": "alice", "decided_at": decided_at, "reason": "reviewed"}


def test_list_filters_by_model_newest_first(registry: EmbeddedRegistry) -> None:
    import dataclasses

    registry.register(candidate(1.0), environment="dev", actor="ci")
    registry.register(candidate(2.0), environment="dev", actor="ci")
    registry.register(dataclasses.replace(candidate(3.0), name="n"), environment="dev", actor="ci")
    assert [(v.name, v.version) for v in registry.list("m")] == [("m", "1.1.0"), ("m", "1.0.0")]
    assert [(v.name, v.version) for v in registry.list()] == [("m", "1.1.0"), ("m", "1.0.0"), ("n", "1.0.0")]


def test_a_read_only_home_lists_and_verifies_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.registry import embedded

    writer = EmbeddedRegistry(tmp_path)
    version = writer.register(candidate(), environment="dev", actor="ci").version
    with sqlite3.connect(writer.db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    monkeypatch.setattr(embedded, "writable", lambda path: False)
    reader = EmbeddedRegistry(tmp_path)
    assert reader.read_only is True
    assert reader.get("m", version).status == "Approved" and reader.verify_audit().ok
    monkeypatch.setattr(embedded, "writable", lambda path: True)
    assert EmbeddedRegistry(tmp_path).read_only is False
    assert EmbeddedRegistry(tmp_path / "fresh").read_only is False  # no database yet: nothing to protect


def test_an_unreadable_registry_database_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    db_path = tmp_path / "registry" / "registry.db"
    db_path.parent.mkdir()
    db_path.write_bytes(b"this is not a database, just bytes " * 40)
    with pytest.raises(RegistryError) as caught:
        EmbeddedRegistry(tmp_path)
    assert str(caught.value) == (f"the registry database {db_path} is unreadable (file is not a database); restore it "
                                 "from a backup or move it aside (`modelway audit verify` then reports what lineage "
                                 "says is missing)")


def test_a_failed_decision_leaves_the_witness_where_it_was(tmp_path: Path) -> None:
    def writer(card: dict, folder: Path) -> dict:
        if "approval" in card:
            raise OSError("disk full")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "card.md").write_text("card")
        return {"md": folder / "card.md"}

    registry = EmbeddedRegistry(tmp_path, card_writer=writer)
    version = registry.register(candidate(), environment="prod", actor="ci").version
    before = registry.anchor.witness()
    with pytest.raises(OSError, match="disk full"):
        registry.approve("m", version, actor="alice", reason="reviewed")
    assert registry.get("m", version).status == "Pending"
    assert registry.anchor.witness() == before
    assert registry.verify_audit().problems == []


def test_a_registered_version_records_its_family_and_its_content_addressed_artifact(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="dev", actor="ci")
    assert version.family == "sklearn.linear_model.Ridge"  # the candidate's own family, not the object's type
    assert version.artifact_uri == (registry.root / "artifacts" / f"{version.artifact_sha256}.pkl").as_uri()
    again = registry.register(candidate(), environment="dev", actor="ci")
    assert (again.version, again.already_registered) == (version.version, True)
    with pytest.raises(RegistryError) as caught:
        registry.get("nope", version.version)
    assert str(caught.value) == "model 'nope' is not registered; known models: ['m']"


# --- one version per candidate: the idempotence check, the identity index, the concurrent-registration retry ---
def _card(**fields) -> dict:
    return {"name": "m", "intended_use": "tests", "created_at": "2026-12-01T10:00:00+00:00", "run_id": "run-1",
            "mlflow_run_id": "mlflow-1", "checks": [{"name": "p95", "value": 12.5}], **fields}


def _candidate(**fields) -> ModelCandidate:
    base = {"name": "m", "model": {"alpha": 1.0}, "family": "sklearn.linear_model.Ridge", "schema": SCHEMA,
            "metrics": {"r2": 0.5}, "model_card": _card(), "data_versions": {"d": "v1"}}
    return ModelCandidate(**{**base, **fields})


def test_a_second_run_of_the_same_model_registers_nothing_whatever_its_run_specific_fields(
        registry: EmbeddedRegistry) -> None:
    first = registry.register(_candidate(), environment="dev", actor="ci")
    entries = registry.audit_entries()
    # another run of the same pipeline: its own run ids, card time and per-run measurements
    again = registry.register(_candidate(run_id="run-2", mlflow_run_id="mlflow-2", lineage={"run": "run-2"},
                                         model_card=_card(created_at="2026-12-02T11:00:00+00:00", run_id="run-2",
                                                          mlflow_run_id="mlflow-2",
                                                          checks=[{"name": "p95", "value": 14.0}])),
                              environment="dev", actor="ci2")
    assert (first.already_registered, again.already_registered, again.version) == (False, True, first.version)
    assert (again.run_id, again.mlflow_run_id) == (None, None)  # the stored version, not the new candidate
    assert registry.audit_entries() == entries and [v.version for v in registry.list()] == ["1.0.0"]


@pytest.mark.parametrize("change", [
    {"metrics": {"r2": 0.6}}, {"fairness": {"gap": 0.1}}, {"hyperparameters": {"alpha": 2}}, {"code_commit": "abc123"},
    {"data_versions": {"d": "v2"}}, {"gates_passed": False}, {"family": "sklearn.linear_model.Lasso"},
    {"schema": {**SCHEMA, "task": "classification"}}, {"model_card": _card(intended_use="other tests")},
    {"model_card": None},
])
def test_the_same_artifact_with_other_metadata_is_a_new_version(registry: EmbeddedRegistry, change: dict) -> None:
    registry.register(_candidate(), environment="dev", actor="ci")
    other = registry.register(_candidate(**change), environment="dev", actor="ci")
    assert other.already_registered is False and other.version != "1.0.0"
    assert len(registry.list()) == 2


def test_the_same_candidate_in_another_environment_is_a_new_version(registry: EmbeddedRegistry) -> None:
    registry.register(_candidate(), environment="dev", actor="ci")
    staging = registry.register(_candidate(), environment="staging", actor="ci")
    assert (staging.version, staging.environment, staging.already_registered) == ("1.0.1", "staging", False)


def test_a_version_from_before_the_identity_column_is_still_found_by_its_metadata(tmp_path: Path) -> None:
    registry = EmbeddedRegistry(tmp_path)
    registry.register(_candidate(), environment="dev", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("UPDATE model_versions SET identity = NULL")  # as the migration leaves an older row
    db.close()
    again = EmbeddedRegistry(tmp_path).register(_candidate(), environment="dev", actor="ci")
    assert (again.version, again.already_registered) == ("1.0.0", True)


def test_a_registry_from_before_the_identity_column_gets_it_and_its_unique_index(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    root.mkdir()
    from modelway.registry.embedded import SCHEMA as TABLES

    db = sqlite3.connect(root / "registry.db", isolation_level=None)
    db.executescript(TABLES.replace("    identity TEXT,\n", ""))  # the table as it was before
    db.close()
    registry = EmbeddedRegistry(tmp_path)
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    assert "identity" in {row[1] for row in db.execute("PRAGMA table_info(model_versions)")}
    indexes = {row[1]: (row[2], row[4]) for row in db.execute("PRAGMA index_list(model_versions)")}
    assert indexes["model_versions_identity"] == (1, 1)  # unique, partial (rows from before have no identity)
    db.close()
    assert registry.register(_candidate(), environment="dev", actor="ci").version == "1.0.0"
    assert EmbeddedRegistry(tmp_path).register(_candidate(), environment="dev", actor="ci").already_registered


def test_the_database_refuses_a_second_row_with_the_same_identity(registry: EmbeddedRegistry) -> None:
    registry.register(_candidate(), environment="dev", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    columns = [row[1] for row in db.execute("PRAGMA table_info(model_versions)")]
    copied = ", ".join("'9.9.9'" if c == "version" else c for c in columns)
    with pytest.raises(sqlite3.IntegrityError, match="model_versions.identity"):
        db.execute(f"INSERT INTO model_versions SELECT {copied} FROM model_versions")
    db.execute(f"INSERT INTO model_versions SELECT {copied.replace('identity', 'NULL')} FROM model_versions")
    db.close()


def test_a_registration_that_lost_the_race_returns_the_version_the_other_process_registered(
        registry: EmbeddedRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[str] = []
    register_once = registry._register_once

    def racing(*args):
        attempts.append(args[2])  # the actor
        if len(attempts) == 1:  # another process commits the same candidate between our read and our insert
            EmbeddedRegistry(registry.home).register(_candidate(), environment="dev", actor="other")
            raise sqlite3.IntegrityError("UNIQUE constraint failed: model_versions.identity")
        return register_once(*args)

    monkeypatch.setattr(registry, "_register_once", racing)
    version = registry.register(_candidate(), environment="dev", actor="ci")
    assert (version.version, version.already_registered, attempts) == ("1.0.0", True, ["ci", "ci"])
    assert [e.actor for e in registry.audit_entries()][0] == "other"


def test_registration_gives_up_after_three_identity_conflicts(registry: EmbeddedRegistry,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []

    def conflicting(*args):
        attempts.append(1)
        raise sqlite3.IntegrityError("UNIQUE constraint failed: model_versions.identity")

    monkeypatch.setattr(registry, "_register_once", conflicting)
    with pytest.raises(RegistryError) as caught:
        registry.register(_candidate(), environment="dev", actor="ci")
    assert str(caught.value) == "registering m kept conflicting with concurrent registrations; retry"
    assert len(attempts) == 3


def test_another_integrity_error_is_not_retried(registry: EmbeddedRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []

    def failing(*args):
        attempts.append(1)
        raise sqlite3.IntegrityError("UNIQUE constraint failed: model_versions.name, model_versions.version")

    monkeypatch.setattr(registry, "_register_once", failing)
    with pytest.raises(sqlite3.IntegrityError, match="model_versions.name, model_versions.version"):
        registry.register(_candidate(), environment="dev", actor="ci")
    assert len(attempts) == 1


# --- loading a model: the bytes its signed registration recorded, or one exact refusal ---------------
def _load_refusal(registry: EmbeddedRegistry, version: str) -> str:
    with pytest.raises(ArtifactIntegrityError) as caught:
        registry.load_model("m", version)
    return str(caught.value)


def _writable_log(registry: EmbeddedRegistry) -> sqlite3.Connection:
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    db.execute("DROP TRIGGER audit_log_no_update")
    db.execute("DROP TRIGGER audit_log_no_delete")
    return db


def test_each_version_loads_its_own_model_and_no_version_means_the_newest(registry: EmbeddedRegistry) -> None:
    first = registry.register(candidate(1.0), environment="dev", actor="ci").version
    registry.register(candidate(2.0), environment="dev", actor="ci")
    assert registry.load_model("m", first) == {"alpha": 1.0}
    assert registry.load_model("m") == {"alpha": 2.0}


def test_a_row_pointed_at_another_artifact_is_refused(registry: EmbeddedRegistry) -> None:
    first = registry.register(candidate(1.0), environment="dev", actor="ci")
    other = registry.register(candidate(2.0), environment="dev", actor="ci")
    with sqlite3.connect(registry.db_path) as db:
        db.execute("UPDATE model_versions SET artifact_sha256 = ?, artifact_uri = ? WHERE version = ?",
                   (other.artifact_sha256, other.artifact_uri, first.version))
    assert _load_refusal(registry, first.version) == (
        f"m {first.version}: the registry row says artifact sha256 {other.artifact_sha256[:12]}… but it was registered "
        f"with {first.artifact_sha256[:12]}… (the row was edited); refusing to load it")


def test_a_missing_or_replaced_artifact_file_is_refused(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="dev", actor="ci")
    path = registry.root / "artifacts" / f"{version.artifact_sha256}.pkl"
    path.write_bytes(b"x")
    assert _load_refusal(registry, version.version) == (
        f"artifact of m {version.version} at {path} has sha256 2d711642b726… but it was registered with "
        f"{version.artifact_sha256[:12]}…; refusing to load a tampered or corrupted model")
    path.unlink()
    assert _load_refusal(registry, version.version) == (
        f"artifact of m {version.version} is missing at {path}; the registry cannot load it")


def test_a_version_without_its_registration_event_is_refused(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="dev", actor="ci").version
    db = _writable_log(registry)
    db.execute("DELETE FROM audit_log WHERE event = 'registered'")
    db.close()
    assert _load_refusal(registry, version) == f"m {version} has no registration audit event; refusing to load it"


def test_an_edited_registration_event_is_refused_whether_or_not_its_hash_was_recomputed(
        registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(1.0), environment="dev", actor="ci")
    other = registry.register(candidate(2.0), environment="dev", actor="ci")
    db = _writable_log(registry)
    seq, ts, actor, event, model, version_text, payload, prev = db.execute(
        "SELECT seq, ts, actor, event, model, version, payload, prev_hash FROM audit_log WHERE event = 'registered' "
        "AND version = ?", (version.version,)).fetchone()
    forged = payload.replace(version.artifact_sha256, other.artifact_sha256)
    db.execute("UPDATE audit_log SET payload = ? WHERE seq = ?", (forged, seq))
    db.execute("UPDATE model_versions SET artifact_sha256 = ?, artifact_uri = ? WHERE version = ?",
               (other.artifact_sha256, other.artifact_uri, version.version))
    assert _load_refusal(registry, version.version) == (
        f"the registration audit event of m {version.version} was modified; refusing to load it "
        "(see `modelway audit verify`)")
    digest = audit.entry_hash(seq, ts, actor, event, model, version_text, forged, prev)
    db.execute("UPDATE audit_log SET hash = ? WHERE seq = ?", (digest, seq))  # consistent, but not signed so
    db.close()
    not_signed = (f"the registration audit event of m {version.version} is not signed by this registry's audit key "
                  f"({registry.anchor.key_file}); refusing to load it (see `modelway audit verify`)")
    assert _load_refusal(registry, version.version) == not_signed
    registry.anchor.key_file.unlink()  # without the key no signature can be checked: refused too
    assert _load_refusal(registry, other.version) == not_signed.replace(version.version, other.version)


def test_a_registration_from_before_signing_loads_once_the_chain_is_anchored(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="dev", actor="ci").version
    db = _writable_log(registry)
    db.execute("UPDATE audit_log SET mac = NULL")  # a home from before signing: no signatures, no key, no witness
    db.close()
    registry.anchor.key_file.unlink()
    registry.anchor.witness_file.unlink()
    assert _load_refusal(registry, version).startswith(f"the registration audit event of m {version} is not signed")
    registry.record_event("m", version, actor="deployer", event="deployed", payload={})  # creates the key, signs
    assert registry.load_model("m", version) == {"alpha": 1.0}


@pytest.mark.parametrize("payload", [{"environment": "dev"}, {"environment": "dev", "artifact_sha256": 7}])
def test_a_signed_registration_without_an_artifact_sha256_is_refused(registry: EmbeddedRegistry, payload) -> None:
    registry.register(candidate(), environment="dev", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    columns = [row[1] for row in db.execute("PRAGMA table_info(model_versions)")]
    copied = ", ".join({"version": "'9.9.9'", "major": "9", "identity": "NULL"}.get(c, c) for c in columns)
    db.execute(f"INSERT INTO model_versions SELECT {copied} FROM model_versions")
    audit.append(db, anchor=registry.anchor, actor="ci", event="registered", model="m", version="9.9.9", payload=payload)
    db.close()
    assert _load_refusal(registry, "9.9.9") == "the registration audit event of m 9.9.9 records no artifact sha256"


# --- verification against the run store's lineage and rows written outside the registry ------------
def _lineage(home: Path, *rows: tuple[str, str, str | None, float]) -> None:
    """The run store's record of the versions its runs registered (store/runs.py's model_versions table)."""
    db = sqlite3.connect(home / "modelway.db", isolation_level=None)
    db.execute("CREATE TABLE model_versions (model TEXT NOT NULL, version TEXT NOT NULL, run_id TEXT, step TEXT, "
               "artifact TEXT, created_at REAL NOT NULL, PRIMARY KEY (model, version))")
    for model, version, run_id, created_at in rows:
        db.execute("INSERT INTO model_versions VALUES (?, ?, ?, 'register', NULL, ?)", (model, version, run_id, created_at))
    db.close()


def test_versions_the_run_store_says_were_registered_but_the_registry_lost_are_named(tmp_path: Path) -> None:
    registry = EmbeddedRegistry(tmp_path)
    kept = registry.register(candidate(), environment="dev", actor="ci").version
    _lineage(tmp_path, ("m", "9.0.0", "run-9", 2.0), ("m", kept, "run-1", 0.5), ("other", "1.0.0", "run-5", 1.0))
    assert registry.verify_audit().problems == [
        "model other 1.0.0: run run-5 registered it (run store lineage) but the registry has no record of it "
        "(registry.db deleted or replaced)",
        "model m 9.0.0: run run-9 registered it (run store lineage) but the registry has no record of it "
        "(registry.db deleted or replaced)"]  # oldest first


def test_a_lost_row_whose_audit_events_remain_is_named_once(registry: EmbeddedRegistry) -> None:
    version = registry.register(candidate(), environment="dev", actor="ci").version
    _lineage(registry.home, ("m", version, "run-1", 1.0))
    with sqlite3.connect(registry.db_path) as db:
        db.execute("DELETE FROM model_versions")
    assert registry.verify_audit().problems == [
        f"model m {version}: 2 audit event(s) but no model_versions row (the row was deleted)"]


def test_a_run_store_without_a_lineage_table_adds_nothing(registry: EmbeddedRegistry) -> None:
    registry.register(candidate(), environment="dev", actor="ci")
    sqlite3.connect(registry.home / "modelway.db").close()  # a home whose runs never registered a model
    assert registry.verify_audit().problems == []


def test_a_row_inserted_outside_the_registry_is_named(registry: EmbeddedRegistry) -> None:
    registry.register(candidate(), environment="dev", actor="ci")
    db = sqlite3.connect(registry.db_path, isolation_level=None)
    columns = [row[1] for row in db.execute("PRAGMA table_info(model_versions)")]
    copied = ", ".join({"version": "'9.9.9'", "major": "9", "identity": "NULL"}.get(c, c) for c in columns)
    db.execute(f"INSERT INTO model_versions SELECT {copied} FROM model_versions")
    db.close()
    assert registry.verify_audit().problems == [
        "model m 9.9.9 has no audit entries (registered outside the registry)"]


# --- what a registration and a decision record -------------------------------------------------------
def test_the_registration_event_records_exactly_what_verification_compares(registry: EmbeddedRegistry) -> None:
    version = registry.register(_candidate(run_id="run-7", fairness={"gap": 0.1}), environment="prod", actor="ci")
    [registered] = registry.audit_entries("m", version.version)
    assert (registered.event, registered.actor) == ("registered", "ci")
    assert registered.payload == {"environment": "prod", "artifact_sha256": version.artifact_sha256, "run_id": "run-7",
                                  "version_reason": version.version_reason, "gates_passed": True, "status": "Pending",
                                  "metrics": {"r2": 0.5}}
    assert (version.fairness, version.run_id) == ({"gap": 0.1}, "run-7")
    assert registry.register(_candidate(model={"alpha": 2.0}), environment="prod", actor="ci").fairness is None


def test_without_a_card_writer_the_card_is_kept_in_the_database_only(registry: EmbeddedRegistry) -> None:
    version = registry.register(_candidate(), environment="prod", actor="ci")
    assert version.model_card_path is None
    assert (version.model_card["version"], version.model_card["environment"]) == (version.version, "prod")
    assert not (registry.root / "cards").exists()


def test_a_decision_records_when_it_was_made(registry: EmbeddedRegistry) -> None:
    import datetime as dt

    version = registry.register(_candidate(), environment="prod", actor="ci").version
    decided = registry.approve("m", version, actor="alice", reason="reviewed")
    assert dt.datetime.fromisoformat(decided.decided_at).tzinfo is not None
    last = registry.audit_entries("m", version)[-1]
    assert last.payload == {"status": "Approved", "reason": "reviewed", "decided_at": decided.decided_at}


def test_the_registrant_may_reject_their_own_version(registry: EmbeddedRegistry) -> None:
    # separation of duties guards approvals only: withdrawing one's own candidate is always allowed
    version = registry.register(_candidate(), environment="prod", actor="ci").version
    rejected = registry.reject("m", version, actor="ci", reason="wrong training window")
    assert (rejected.status, rejected.decided_by) == ("Rejected", "ci")


def test_a_decision_on_a_version_whose_stored_card_was_removed_leaves_the_files_alone(tmp_path: Path) -> None:
    written: list[dict] = []

    def writer(card: dict, folder: Path) -> dict:
        written.append(card)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "card.md").write_text(card["name"])
        return {"md": folder / "card.md"}

    registry = EmbeddedRegistry(tmp_path, card_writer=writer)
    version = registry.register(_candidate(), environment="prod", actor="ci").version
    with sqlite3.connect(registry.db_path) as db:
        db.execute("UPDATE model_versions SET card_json = NULL")
    assert registry.approve("m", version, actor="alice", reason="reviewed").status == "Approved"
    assert len(written) == 1  # only the registration rendered it


def test_a_pending_version_whose_row_claims_a_decision_fails_verification(registry: EmbeddedRegistry) -> None:
    # no decision in the log: the registration's own status (Pending) is what the row must say
    version = registry.register(_candidate(), environment="prod", actor="ci").version
    with sqlite3.connect(registry.db_path) as db:
        db.execute("UPDATE model_versions SET status = 'Approved'")
    assert registry.verify_audit().problems == [
        f"model m {version} is Approved in the registry but the audit log says Pending"]


def test_a_version_reads_back_every_field_it_was_registered_with(registry: EmbeddedRegistry) -> None:
    stored = _candidate(hyperparameters={"alpha": 1.0}, lineage={"run": "run-1"}, code_commit="abc123")
    registry.register(stored, environment="dev", actor="ci")
    version = registry.get("m")
    assert (version.schema, version.metrics, version.hyperparameters, version.data_versions, version.lineage,
            version.code_commit, version.fairness) == (
        SCHEMA, {"r2": 0.5}, {"alpha": 1.0}, {"d": "v1"}, {"run": "run-1"}, "abc123", None)


def test_a_corrupted_artifact_is_replaced_when_the_same_model_is_registered_again(registry: EmbeddedRegistry) -> None:
    version = registry.register(_candidate(), environment="dev", actor="ci")
    path = registry.root / "artifacts" / f"{version.artifact_sha256}.pkl"
    good = path.read_bytes()
    path.write_bytes(b"x")
    assert registry.register(_candidate(), environment="dev", actor="ci").already_registered
    assert path.read_bytes() == good and registry.load_model("m") == {"alpha": 1.0}


def test_metadata_is_compared_whatever_its_key_order(registry: EmbeddedRegistry) -> None:
    registry.register(_candidate(metrics={"r2": 0.5, "mae": 1.0}, hyperparameters={"a": 1, "b": 2}),
                      environment="dev", actor="ci")
    again = registry.register(_candidate(metrics={"mae": 1.0, "r2": 0.5}, hyperparameters={"b": 2, "a": 1}),
                              environment="dev", actor="ci")
    assert (again.version, again.already_registered) == ("1.0.0", True)


def test_numpy_scalars_are_stored_as_numbers_and_other_objects_as_text(registry: EmbeddedRegistry) -> None:
    import numpy as np

    version = registry.register(_candidate(metrics={"r2": np.float32(0.5), "n": np.int64(3)},
                                           hyperparameters={"path": Path("/data/train.csv")}),
                                environment="dev", actor="ci")
    assert version.metrics == {"r2": 0.5, "n": 3} and type(version.metrics["n"]) is int
    assert version.hyperparameters == {"path": "/data/train.csv"}
