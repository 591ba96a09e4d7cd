"""Pins on the audit anchor (key file, head witness), computed semantic versions and the registry's
base types, from mutation testing (``make mutate``: ``registry/anchor``, ``registry/semver``,
``registry/base``).

The anchor is an integrity check: a MAC that verifies when it should not, a key accepted in the
wrong shape, a key file readable by others or a witness that silently vanishes would each let a
rewritten audit chain pass ``modelway audit verify``. Hypothesis states semver's rules in general.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.errors import UserError
from modelway.registry import anchor as anchor_mod
from modelway.registry.anchor import KEY_ENV, AuditAnchor, sign, signature_ok
from modelway.registry.base import RegistryError

KEY = bytes(range(32))
DIGEST = "ab" * 32


# --- sign / signature_ok -------------------------------------------------------------------------

def test_sign_is_hmac_sha256_of_seq_colon_digest_as_recorded_in_existing_chains() -> None:
    # Fixed vectors: every entry already signed in a registry.db must still verify after an upgrade.
    assert sign(KEY, 7, DIGEST) == "3a98c36038f627144d485667b66e8e707f69905523ff8f175242d99ee6a918e4"
    assert sign(KEY, 0, "") == "78185274252e33d992600df95d58e9f5e90a449a7c1d7913c0fbf4fb6353bfc2"


def test_signature_ok_accepts_only_the_entrys_own_mac() -> None:
    mac = sign(KEY, 7, DIGEST)
    assert signature_ok(KEY, 7, DIGEST, mac) is True
    assert signature_ok(KEY, 8, DIGEST, mac) is False          # moved to another position
    assert signature_ok(KEY, 7, "cd" * 32, mac) is False       # another entry's hash
    assert signature_ok(bytes(32), 7, DIGEST, mac) is False    # signed with another key
    assert signature_ok(KEY, 7, DIGEST, mac[:-1] + ("1" if mac[-1] == "0" else "0")) is False
    assert signature_ok(KEY, 7, DIGEST, None) is False         # an unsigned entry never verifies
    assert signature_ok(KEY, 7, DIGEST, "") is False


@settings(max_examples=30, deadline=None)
@given(seq=st.integers(min_value=0, max_value=10**9), other=st.integers(min_value=0, max_value=10**9),
       digest=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_a_mac_verifies_for_its_own_seq_only(seq: int, other: int, digest: str) -> None:
    mac = sign(KEY, seq, digest)
    assert len(mac) == 64 and all(c in "0123456789abcdef" for c in mac)
    assert signature_ok(KEY, seq, digest, mac)
    assert signature_ok(KEY, other, digest, mac) == (other == seq)


# --- where the anchor lives ------------------------------------------------------------------------

def test_for_home_defaults_under_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    anchor = AuditAnchor.for_home(tmp_path)
    assert anchor.key_file == tmp_path / "keys" / "audit.key"
    assert anchor.witness_file == tmp_path / "registry" / "audit-head.json"


def test_for_home_an_empty_key_variable_means_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "")
    assert AuditAnchor.for_home(tmp_path).key_file == tmp_path / "keys" / "audit.key"


def test_for_home_the_key_variable_moves_the_key_not_the_witness(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv(KEY_ENV, "~/secrets/k.key")
    anchor = AuditAnchor.for_home(tmp_path / "home")
    assert anchor.key_file == tmp_path / "user" / "secrets" / "k.key"   # ~ expanded
    assert anchor.witness_file == tmp_path / "home" / "registry" / "audit-head.json"
    assert KEY_ENV == "MODELWAY_AUDIT_KEY_FILE"


# --- the key file ----------------------------------------------------------------------------------

@pytest.fixture
def anchor(tmp_path: Path) -> AuditAnchor:
    return AuditAnchor(key_file=tmp_path / "a" / "b" / "audit.key", witness_file=tmp_path / "w" / "audit-head.json")


def test_no_key_file_is_no_key(anchor: AuditAnchor) -> None:
    assert anchor.key() is None


def test_create_key_makes_a_private_file_in_a_private_folder(anchor: AuditAnchor) -> None:
    old = os.umask(0o022)
    try:
        key = anchor.create_key()
    finally:
        os.umask(old)
    assert isinstance(key, bytes) and len(key) == 32
    assert anchor.key_file.read_text() == key.hex() + "\n"
    assert stat.S_IMODE(anchor.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(anchor.key_file.parent.stat().st_mode) == 0o700
    assert anchor.key() == key


def test_create_key_twice_keeps_the_first_key(anchor: AuditAnchor) -> None:
    first = anchor.create_key()
    assert anchor.create_key() == first
    assert anchor.key() == first
    assert anchor.key_file.read_text() == first.hex() + "\n"


def test_create_key_in_an_existing_folder(anchor: AuditAnchor) -> None:
    anchor.key_file.parent.mkdir(parents=True)
    assert anchor.key() is None
    assert anchor.create_key() == anchor.key()


def test_two_homes_get_different_keys(tmp_path: Path) -> None:
    a = AuditAnchor(tmp_path / "1" / "k", tmp_path / "1" / "w").create_key()
    b = AuditAnchor(tmp_path / "2" / "k", tmp_path / "2" / "w").create_key()
    assert a != b


def test_a_failed_key_write_leaves_no_half_written_key(anchor: AuditAnchor, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[int] = []
    real_close = os.close

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    def tracking_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(anchor_mod.os, "fsync", failing_fsync)
    monkeypatch.setattr(anchor_mod.os, "close", tracking_close)
    with pytest.raises(OSError, match="No space left"):
        anchor.create_key()
    assert not anchor.key_file.exists()   # the next audit event creates a whole key, not a truncated one
    assert len(closed) == 1               # the descriptor is not leaked
    monkeypatch.undo()
    assert len(anchor.create_key()) == 32


def test_a_failed_key_write_reports_the_write_error_even_if_the_file_is_gone(
        anchor: AuditAnchor, monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. another process's clean-up removed the partial key first: the disk-full error must
    # still be what the user sees, not a FileNotFoundError from our own clean-up
    def vanish_then_fail(fd: int) -> None:
        anchor.key_file.unlink()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(anchor_mod.os, "fsync", vanish_then_fail)
    with pytest.raises(OSError, match="No space left"):
        anchor.create_key()
    assert not anchor.key_file.exists()


def test_the_anchor_is_an_immutable_value(anchor: AuditAnchor) -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        anchor.key_file = Path("/elsewhere")  # type: ignore[misc]
    assert hash(anchor) == hash(AuditAnchor(anchor.key_file, anchor.witness_file))


def test_a_key_of_the_wrong_shape_is_refused_by_name(anchor: AuditAnchor) -> None:
    anchor.key_file.parent.mkdir(parents=True)
    message = f"the audit key {anchor.key_file} is not a 64-hex-digit key; restore it from a backup"
    for bad in ("0" * 63, "0" * 65, "A" * 64, "X" * 64, "g" + "0" * 63, "", "0" * 62 + " 0"):
        anchor.key_file.write_text(bad)
        with pytest.raises(RegistryError) as caught:
            anchor.key()
        assert str(caught.value) == message, bad


def test_a_key_with_surrounding_whitespace_is_read(anchor: AuditAnchor) -> None:
    anchor.key_file.parent.mkdir(parents=True)
    for text in ("0123456789abcdef" * 4, "  " + "0123456789abcdef" * 4 + "\n\n"):
        anchor.key_file.write_text(text)
        assert anchor.key() == bytes.fromhex("0123456789abcdef" * 4)


def test_every_hex_digit_is_accepted_in_a_key(anchor: AuditAnchor) -> None:
    anchor.key_file.parent.mkdir(parents=True)
    for digit in "0123456789abcdef":
        anchor.key_file.write_text(digit * 64)
        assert anchor.key() == bytes.fromhex(digit * 64)


def test_an_unreadable_key_is_one_line_naming_it(anchor: AuditAnchor) -> None:
    anchor.key_file.mkdir(parents=True)   # a directory where the key should be: IsADirectoryError
    with pytest.raises(RegistryError) as caught:
        anchor.key()
    assert str(caught.value) == f"cannot read the audit key {anchor.key_file} (Is a directory)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- the head witness ------------------------------------------------------------------------------

UNREADABLE = {"seq": None, "hash": None, "mac": None}


def test_no_witness_is_none(anchor: AuditAnchor) -> None:
    assert anchor.witness() is None


def test_write_witness_then_read_it(anchor: AuditAnchor) -> None:
    anchor.witness_file.parent.mkdir(parents=True)
    anchor.write_witness(3, DIGEST, "ff" * 32)
    assert anchor.witness_file.read_text() == json.dumps({"seq": 3, "hash": DIGEST, "mac": "ff" * 32}) + "\n"
    assert anchor.witness() == {"seq": 3, "hash": DIGEST, "mac": "ff" * 32}


def test_a_damaged_witness_reads_as_a_head_no_log_has(anchor: AuditAnchor) -> None:
    # Not None: None means "no witness yet", which verification accepts for a fresh registry.
    anchor.witness_file.parent.mkdir(parents=True)
    for text in ("{not json", "[1, 2]", "3", "null", ""):
        anchor.witness_file.write_text(text)
        assert anchor.witness() == UNREADABLE, text
    anchor.witness_file.unlink()
    anchor.witness_file.mkdir()   # unreadable: IsADirectoryError
    assert anchor.witness() == UNREADABLE


def test_restore_witness_none_removes_it(anchor: AuditAnchor) -> None:
    anchor.witness_file.parent.mkdir(parents=True)
    anchor.restore_witness(None)          # nothing there: no error
    assert not anchor.witness_file.exists()
    anchor.write_witness(1, DIGEST, "ee" * 32)
    anchor.restore_witness(None)
    assert not anchor.witness_file.exists()


def test_restore_witness_puts_back_the_previous_head(anchor: AuditAnchor) -> None:
    anchor.witness_file.parent.mkdir(parents=True)
    anchor.write_witness(5, "cd" * 32, "dd" * 32)
    anchor.restore_witness({"seq": 0, "hash": DIGEST, "mac": "ee" * 32})   # seq 0 is a head too
    assert anchor.witness() == {"seq": 0, "hash": DIGEST, "mac": "ee" * 32}


def test_restore_witness_leaves_an_unreadable_previous_alone(anchor: AuditAnchor) -> None:
    anchor.witness_file.parent.mkdir(parents=True)
    anchor.write_witness(5, "cd" * 32, "dd" * 32)
    anchor.restore_witness(dict(UNREADABLE))
    assert anchor.witness() == {"seq": 5, "hash": "cd" * 32, "mac": "dd" * 32}


# --- computed semantic versions --------------------------------------------------------------------

from modelway.registry import semver  # noqa: E402
from modelway.registry.semver import VersionFacts, estimator_family, next_version, parse  # noqa: E402


def test_parse_reads_major_minor_patch() -> None:
    assert parse("2.0.11") == (2, 0, 11)
    assert parse(" v10.20.30\n") == (10, 20, 30)
    assert parse("0.0.0") == (0, 0, 0)


@pytest.mark.parametrize("bad", ["1.2", "1.2.3.4", "1.x.3", "", "1..3", "-1.2.3", "1.2.3-rc1", "1,2,3", "V1.2.3", "X1.2.3"])
def test_parse_refuses_anything_else_by_name(bad: str) -> None:
    with pytest.raises(UserError) as caught:
        parse(bad)
    assert str(caught.value) == f"invalid model version {bad!r}; expected MAJOR.MINOR.PATCH such as 1.2.0"


FAMILY = "sklearn.linear_model.Ridge"


def facts(version: str | None = "2.5.7", schema: dict | None = None, family: str = FAMILY, sha: str = "aa",
          data: dict | None = None) -> VersionFacts:
    return VersionFacts(version, {"f": ["a"]} if schema is None else schema, family, sha,
                        {"d": "1"} if data is None else data)


def test_the_first_version_is_1_0_0() -> None:
    assert next_version(None, facts(None)) == ("1.0.0", "first version")
    assert next_version(facts(None), facts(None, sha="bb")) == ("1.0.0", "first version")


def test_a_schema_change_is_major() -> None:
    assert next_version(facts(), facts(None, schema={"f": ["b"]})) == ("3.0.0", "major: feature schema changed")
    # ...even when the family changed too: the schema is named first
    assert next_version(facts(), facts(None, schema={}, family="x.Y")) == ("3.0.0", "major: feature schema changed")


def test_a_family_change_is_major_and_names_both() -> None:
    assert next_version(facts(), facts(None, family="xgboost.sklearn.XGBRegressor", sha="bb")) == (
        "3.0.0", f"major: estimator family changed ({FAMILY} -> xgboost.sklearn.XGBRegressor)")


def test_a_retrain_is_minor() -> None:
    minor = ("2.6.0", "minor: retrained (new artifact or data)")
    assert next_version(facts(), facts(None, sha="bb")) == minor
    assert next_version(facts(), facts(None, data={"d": "2"})) == minor
    assert next_version(facts(), facts(None, data={"d": "1", "e": "1"})) == minor
    assert next_version(facts(), facts(None, sha="bb", data={"d": "2"})) == minor


def test_the_same_artifact_and_data_is_a_patch() -> None:
    assert next_version(facts(), facts(None)) == ("2.5.8", "patch: metadata-only change (same artifact and data)")


def test_key_order_is_no_change() -> None:
    prev = facts(schema={"a": 1, "b": [1, 2]}, data={"x": "1", "y": "2"})
    cand = facts(None, schema={"b": [1, 2], "a": 1}, data={"y": "2", "x": "1"})
    assert next_version(prev, cand)[0] == "2.5.8"


def test_values_json_cannot_hold_compare_by_their_text() -> None:
    prev = facts(schema={"path": Path("/data/a.csv")})
    assert next_version(prev, facts(None, schema={"path": Path("/data/a.csv")}))[0] == "2.5.8"
    assert next_version(prev, facts(None, schema={"path": Path("/data/b.csv")}))[0] == "3.0.0"


_PART = st.integers(min_value=0, max_value=999)


@settings(max_examples=40, deadline=None)
@given(major=_PART, minor=_PART, patch=_PART, change=st.sampled_from(["schema", "family", "retrain", "meta"]))
def test_the_next_version_is_always_greater_and_bumps_exactly_one_part(major: int, minor: int, patch: int,
                                                                       change: str) -> None:
    prev = facts(f"{major}.{minor}.{patch}")
    cand = {"schema": facts(None, schema={"g": 1}), "family": facts(None, family="a.B"),
            "retrain": facts(None, sha="bb"), "meta": facts(None)}[change]
    version, reason = next_version(prev, cand)
    new = parse(version)
    assert new > (major, minor, patch)   # tuple order is semver precedence for MAJOR.MINOR.PATCH
    expected = {"schema": (major + 1, 0, 0), "family": (major + 1, 0, 0), "retrain": (major, minor + 1, 0),
                "meta": (major, minor, patch + 1)}[change]
    assert new == expected
    assert reason.split(":")[0] == {"schema": "major", "family": "major", "retrain": "minor", "meta": "patch"}[change]


def test_version_facts_are_immutable_with_no_data_by_default() -> None:
    import dataclasses

    bare = VersionFacts("1.0.0", {}, FAMILY, "aa")
    assert bare.data_versions == {}
    assert next_version(bare, VersionFacts(None, {}, FAMILY, "aa")) == (
        "1.0.1", "patch: metadata-only change (same artifact and data)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        bare.version = "9.9.9"  # type: ignore[misc]


def _cls(module: str, name: str = "Est") -> type:
    return type(name, (), {"__module__": module})


def test_estimator_family_drops_sklearns_private_submodule() -> None:
    assert estimator_family(_cls("sklearn.linear_model._ridge", "Ridge")()) == "sklearn.linear_model.Ridge"
    assert estimator_family(_cls("sklearn.ensemble", "Forest")()) == "sklearn.ensemble.Forest"


def test_estimator_family_keeps_other_modules_whole() -> None:
    assert estimator_family(_cls("xgboost.sklearn", "XGBRegressor")()) == "xgboost.sklearn.XGBRegressor"
    assert estimator_family(_cls("sklearnish.a.b")()) == "sklearnish.a.b.Est"
    assert estimator_family(_cls("sklearn")()) == "sklearn.Est"


class _Guard:
    """A schema guard: has ``schema`` and ``model``."""

    def __init__(self, model: object) -> None:
        self.schema = {}
        self.model = model


class _Pipe:
    def __init__(self, steps: list) -> None:
        self.steps = steps


def test_estimator_family_unwraps_guards_and_pipelines() -> None:
    inner = _cls("sklearn.svm._classes", "SVC")()
    assert estimator_family(_Guard(inner)) == "sklearn.svm.SVC"
    assert estimator_family(_Pipe([("scale", object()), ("svc", inner)])) == "sklearn.svm.SVC"
    assert estimator_family(_Guard(_Pipe([("a", _Guard(inner))]))) == "sklearn.svm.SVC"


def test_only_a_guard_with_both_schema_and_model_is_unwrapped() -> None:
    inner = _cls("sklearn.svm._classes", "SVC")()
    model_only = _cls("calib.wrappers", "HasModel")()
    model_only.model = inner
    schema_only = _cls("calib.wrappers", "HasSchema")()
    schema_only.schema = {}
    schema_only.model = None
    del schema_only.model
    assert estimator_family(model_only) == "calib.wrappers.HasModel"
    assert estimator_family(schema_only) == "calib.wrappers.HasSchema"


def test_estimator_family_of_an_empty_pipeline_is_the_pipeline() -> None:
    assert estimator_family(_Pipe([])).endswith("._Pipe")


def test_estimator_family_unwraps_at_most_five_levels() -> None:
    # a bound, so a wrapper that (indirectly) wraps itself cannot loop
    inner = _cls("sklearn.svm._classes", "SVC")()
    assert estimator_family(_Guard(_Guard(_Guard(_Guard(_Guard(inner)))))) == "sklearn.svm.SVC"
    assert estimator_family(_Guard(_Guard(_Guard(_Guard(_Guard(_Guard(inner))))))).endswith("._Guard")
    loop = _Guard(None)
    loop.model = loop
    assert estimator_family(loop).endswith("._Guard")


def test_semver_canon_is_sorted_compact_json() -> None:
    assert semver._canon({"b": 1, "a": Path("x")}) == '{"a": "x", "b": 1}'


# --- the registry's base types ----------------------------------------------------------------------

from modelway.registry import base  # noqa: E402
from modelway.registry.base import (  # noqa: E402
    ArtifactIntegrityError,
    ModelCandidate,
    ModelRegistry,
    ModelStatus,
    ModelVersion,
)


def test_statuses_are_the_stored_strings() -> None:
    assert [s.value for s in ModelStatus] == ["Pending", "Approved", "Rejected", "Revoked"]
    assert ModelStatus("Approved") is ModelStatus.APPROVED and ModelStatus.APPROVED == "Approved"


def test_registry_errors_are_user_errors_with_exit_code_2() -> None:
    assert issubclass(RegistryError, UserError) and issubclass(ArtifactIntegrityError, UserError)
    assert RegistryError("x").exit_code == 2 and ArtifactIntegrityError("x").exit_code == 2
    assert not issubclass(ArtifactIntegrityError, RegistryError)


def test_a_candidate_passes_the_gates_unless_told_otherwise() -> None:
    c = ModelCandidate(name="m", model=None, schema={}, metrics={})
    assert (c.fairness, c.model_card, c.code_commit, c.run_id, c.mlflow_run_id, c.family, c.model_bytes) == (None,) * 7
    assert (c.hyperparameters, c.data_versions, c.lineage, c.gates_passed) == ({}, {}, {}, True)
    other = ModelCandidate(name="m", model=None, schema={}, metrics={})
    other.lineage["x"] = 1
    assert c.lineage == {}   # no shared mutable default


def version(**over: object) -> ModelVersion:
    fields = dict(name="m", version="1.0.0", status="Pending", environment="prod", created_at="t", version_reason="r",
                  family=FAMILY, artifact_sha256="aa", artifact_uri="u", artifact_bytes=3, schema={"s": 1},
                  metrics={"r2": 1}, fairness={"f": 1}, model_card={"c": 1}, model_card_path="p",
                  hyperparameters={"h": 1}, code_commit="c", data_versions={"d": "1"}, run_id="r1",
                  mlflow_run_id="ml", lineage={"l": 1}, gates_passed=True)
    fields.update(over)
    return ModelVersion(**fields)  # type: ignore[arg-type]


def test_a_version_is_undecided_and_new_by_default() -> None:
    v = version()
    assert (v.decided_by, v.decided_at, v.decision_reason, v.already_registered) == (None, None, None, False)


def test_to_dict_never_includes_the_registration_flag() -> None:
    full = version(already_registered=True).to_dict()
    assert "already_registered" not in full
    assert full["schema"] == {"s": 1} and full["lineage"] == {"l": 1} and full["decided_by"] is None
    assert len(full) == 25


def test_to_dict_short_leaves_out_the_bulky_fields_only() -> None:
    full = version().to_dict()
    short = version().to_dict(full=False)
    dropped = {"schema", "fairness", "model_card", "lineage", "hyperparameters"}
    assert set(full) - set(short) == dropped
    assert {k: v for k, v in full.items() if k not in dropped} == short


def test_every_registry_operation_is_abstract() -> None:
    assert ModelRegistry.__abstractmethods__ == {"register", "get", "list", "approve", "reject", "revoke",
                                                 "champion", "load_model", "verify_audit"}
    with pytest.raises(TypeError):
        ModelRegistry()  # type: ignore[abstract]
    assert base.ModelRegistry is ModelRegistry


def test_the_dsl_can_read_the_registry_types_field_annotations() -> None:
    # The DSL type-checks attribute access on a step's dataclass result through get_type_hints;
    # an annotation that does not evaluate silently turns that check off for the whole class.
    import typing

    candidate = typing.get_type_hints(ModelCandidate)
    assert candidate["family"] == (str | None) and candidate["model_bytes"] == (bytes | None)
    assert candidate["fairness"] == (dict[str, typing.Any] | None)
    assert candidate["model_card"] == (dict[str, typing.Any] | None)
    assert candidate["code_commit"] == candidate["run_id"] == candidate["mlflow_run_id"] == (str | None)
    assert candidate["gates_passed"] is bool
    version_hints = typing.get_type_hints(ModelVersion)
    assert version_hints["decided_by"] == version_hints["decided_at"] == version_hints["decision_reason"] == (str | None)
    assert version_hints["fairness"] == (dict[str, typing.Any] | None)
    assert version_hints["already_registered"] is bool


def test_every_backend_names_prod_as_the_default_champion_environment() -> None:
    import inspect

    from modelway.backends.aws.registry import SageMakerRegistry
    from modelway.registry.embedded import EmbeddedRegistry

    for backend in (ModelRegistry, EmbeddedRegistry, SageMakerRegistry):
        assert inspect.signature(backend.champion).parameters["environments"].default == ("prod",), backend
