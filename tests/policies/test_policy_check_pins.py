"""Pins on the policy checker's selection, pack config, entry points, worker and output formats
(``make mutate``: ``policy_check/selection``, ``config``, ``init``, ``worker``, ``output``, ``sarif``).

These decide which program is checked, which policies run at which level, what the exit code
is and what CI sees: a typo that silently disables a gate, a config that switches a rule off, a
report that names another program or a SARIF/JUnit file that drops a failure would each let a
non-compliant stack pass. The render subprocess is replaced by a recorded worker result, so
these tests run in milliseconds and still go through the real job and report plumbing.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.errors import ConfigError, UserError
from modelway.policy_check.config import ALLOWED_LEVELS, PackSettings, read_json
from modelway.policy_check.selection import LEVELS, Selection

POLICIES = ["s3-access-logging", "kms-key-rotation", "iam-no-admin-wildcard", "logs-retention"]


# --- selection: --check / --skip-check / --min-level -------------------------------------------------

def test_the_default_selection_runs_and_reports_everything() -> None:
    s = Selection()
    assert (s.only, s.skip, s.min_level) == ((), (), "advisory")
    assert all(s.runs(p) for p in POLICIES)
    assert s.reports("advisory") and s.reports("mandatory")
    assert s.note(POLICIES) is None
    assert LEVELS == ("advisory", "mandatory")


def test_min_level_must_be_a_level() -> None:
    for level in ("advisory", "mandatory"):
        assert Selection(min_level=level).min_level == level
    with pytest.raises(UserError) as caught:
        Selection(min_level="disabled")
    assert str(caught.value) == "--min-level 'disabled': choose one of advisory, mandatory"
    with pytest.raises(UserError):
        Selection.from_options([], [], "Mandatory")


def test_min_level_mandatory_hides_advisory_findings_only() -> None:
    s = Selection(min_level="mandatory")
    assert s.reports("mandatory") is True
    assert s.reports("advisory") is False
    assert s.reports("something-new") is True   # a level we do not know is shown, never hidden
    assert Selection(min_level="advisory").reports("advisory") is True


def test_check_runs_only_the_named_policies() -> None:
    s = Selection(only=("kms-key-rotation",))
    assert s.runs("kms-key-rotation") is True
    assert s.runs("s3-access-logging") is False


def test_skip_check_wins_over_check() -> None:
    s = Selection(only=("kms-key-rotation", "s3-access-logging"), skip=("s3-access-logging",))
    assert s.runs("kms-key-rotation") is True
    assert s.runs("s3-access-logging") is False
    assert Selection(skip=("s3-access-logging",)).runs("kms-key-rotation") is True


@settings(max_examples=50, deadline=None)
@given(only=st.sets(st.sampled_from(POLICIES)), skip=st.sets(st.sampled_from(POLICIES)))
def test_runs_is_in_only_or_no_only_and_not_skipped(only: set[str], skip: set[str]) -> None:
    s = Selection(only=tuple(only), skip=tuple(skip))
    for policy in POLICIES:
        assert s.runs(policy) == ((not only or policy in only) and policy not in skip)
    left_out = [p for p in POLICIES if not s.runs(p)]
    note = s.note(POLICIES)
    assert note == (f"{len(left_out)} policies not run (--check/--skip-check): {', '.join(left_out)}" if left_out
                    else None)


def test_options_are_comma_separable_repeatable_and_deduplicated() -> None:
    s = Selection.from_options(["a,b", " c , a", ",", ""], ["x, ,y", "x"], "mandatory")
    assert s.only == ("a", "b", "c")
    assert s.skip == ("x", "y")
    assert s.min_level == "mandatory"
    assert Selection.from_options([], [], "advisory") == Selection()


def test_an_unknown_policy_name_is_an_error_naming_the_flag() -> None:
    known = POLICIES
    Selection(only=("kms-key-rotation",), skip=("s3-access-logging",)).validate(known)   # no error
    with pytest.raises(UserError) as caught:
        Selection(only=("kms-key-rotaton", "kms-key-rotation", "nope")).validate(known)
    assert str(caught.value) == "--check: unknown policy kms-key-rotaton, nope (see `modelway policy list`)"
    with pytest.raises(UserError) as caught:
        Selection(skip=("s3-acess-logging",)).validate(iter(known))
    assert str(caught.value) == "--skip-check: unknown policy s3-acess-logging (see `modelway policy list`)"
    with pytest.raises(UserError) as caught:   # --check is named first when both are wrong
        Selection(only=("a",), skip=("b",)).validate(known)
    assert str(caught.value).startswith("--check: unknown policy a ")


def test_the_note_counts_and_names_what_did_not_run_in_pack_order() -> None:
    s = Selection(skip=("logs-retention", "s3-access-logging"))
    assert s.note(POLICIES) == "2 policies not run (--check/--skip-check): s3-access-logging, logs-retention"
    assert Selection(only=tuple(POLICIES)).note(POLICIES) is None


def test_selection_json_round_trip() -> None:
    s = Selection(only=("a", "b"), skip=("c",), min_level="mandatory")
    assert s.to_json() == {"only": ["a", "b"], "skip": ["c"], "min_level": "mandatory"}
    assert Selection.from_json(json.loads(json.dumps(s.to_json()))) == s
    assert Selection.from_json({}) == Selection()
    assert Selection.from_json({"only": ["a"]}) == Selection(only=("a",))


# --- the pack config -----------------------------------------------------------------------------

def _all_names() -> list[str]:
    from modelway.policies.catalog import ALL_POLICIES

    return [p.name for p in ALL_POLICIES]


def _write(tmp_path: Path, document: Any, name: str = "cfg.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_defaults_are_the_pack_levels_without_params() -> None:
    from modelway.policies.catalog import ALL_POLICIES

    s = PackSettings.defaults()
    assert s.levels == {p.name: p.enforcement_level.value for p in ALL_POLICIES}
    assert s.level("kms-key-rotation") == "mandatory" and s.level("s3-access-logging") == "advisory"
    assert (s.params, s.source, s.unlisted) == ({}, "pack defaults", [])
    assert s.unlisted_warning() is None
    assert PackSettings.load(None) == s
    assert ALLOWED_LEVELS == ("advisory", "mandatory")


def test_bare_settings_are_empty_not_missing() -> None:
    bare = PackSettings()
    assert (bare.levels, bare.params, bare.unlisted, bare.source) == ({}, {}, [], "pack defaults")
    assert bare.config_for("kms-key-rotation") == {}
    assert bare.unlisted_warning() is None
    assert PackSettings().levels is not bare.levels   # no shared mutable default


def test_read_json_names_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_json(tmp_path / "nope.json")
    assert str(caught.value) == f"{tmp_path / 'nope.json'}: cannot read the policy config (No such file or directory)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert read_json(_write(tmp_path, {"a": ["é"]})) == {"a": ["é"]}


def test_read_json_reads_utf8(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_bytes('{"k": "é"}'.encode("utf-8"))
    assert read_json(path) == {"k": "é"}


def test_a_config_is_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path, ["kms-key-rotation"])
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: a policy config is a JSON object of policy name -> level or settings"


def test_all_sets_every_level_and_names_the_source(tmp_path: Path) -> None:
    path = _write(tmp_path, {"all": "advisory"})
    s = PackSettings.load(path)
    assert set(s.levels.values()) == {"advisory"} and set(s.levels) == set(_all_names())
    assert s.source == str(path)
    assert s.unlisted == [] and s.unlisted_warning() is None


def test_named_policies_override_all(tmp_path: Path) -> None:
    s = PackSettings.load(_write(tmp_path, {"kms-key-rotation": "mandatory", "all": "advisory",
                                            "logs-retention": {"enforcementLevel": "mandatory"}}))
    assert s.level("kms-key-rotation") == "mandatory"
    assert s.level("logs-retention") == "mandatory"
    assert s.level("iam-no-admin-wildcard") == "advisory"


def test_a_level_string_and_an_object_without_a_level(tmp_path: Path) -> None:
    s = PackSettings.load(_write(tmp_path, {"kms-key-rotation": "advisory", "logs-retention": {"minRetentionDays": 30}}))
    assert s.level("kms-key-rotation") == "advisory"
    assert s.level("logs-retention") == "advisory"   # its default, kept
    assert s.config_for("logs-retention") == {"minRetentionDays": 30}
    assert s.config_for("kms-key-rotation") == {}
    assert "enforcementLevel" not in s.params.get("logs-retention", {})


def test_params_next_to_a_level_are_kept_without_the_level(tmp_path: Path) -> None:
    s = PackSettings.load(_write(tmp_path, {"logs-retention": {"enforcementLevel": "mandatory", "minRetentionDays": 90},
                                            "kms-key-rotation": {}}))
    assert s.params == {"logs-retention": {"minRetentionDays": 90}, "kms-key-rotation": {}}
    assert s.level("logs-retention") == "mandatory"


def test_config_for_is_a_copy(tmp_path: Path) -> None:
    s = PackSettings.load(_write(tmp_path, {"logs-retention": {"minRetentionDays": 30}}))
    s.config_for("logs-retention")["minRetentionDays"] = 1
    assert s.config_for("logs-retention") == {"minRetentionDays": 30}


def test_nothing_can_be_disabled(tmp_path: Path) -> None:
    for document, name in (({"kms-key-rotation": "disabled"}, "kms-key-rotation"),
                           ({"kms-key-rotation": {"enforcementLevel": "disabled"}}, "kms-key-rotation"),
                           ({"all": "disabled"}, "all")):
        path = _write(tmp_path, document)
        with pytest.raises(ConfigError) as caught:
            PackSettings.load(path)
        assert str(caught.value) == f'{path}: {name}: policies cannot be disabled; downgrade to "advisory" instead'


@pytest.mark.parametrize("value", ["off", "Mandatory", "", None, 1, ["advisory"]])
def test_a_level_must_be_advisory_or_mandatory(tmp_path: Path, value: Any) -> None:
    path = _write(tmp_path, {"all": value} if isinstance(value, list) else {"kms-key-rotation": {"enforcementLevel": value}})
    name = "all" if isinstance(value, list) else "kms-key-rotation"
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: {name}: enforcementLevel must be one of advisory, mandatory, got {value!r}"


def test_a_policy_value_is_a_level_or_an_object(tmp_path: Path) -> None:
    for value in (3, ["advisory"], None, True):
        path = _write(tmp_path, {"kms-key-rotation": value})
        with pytest.raises(ConfigError) as caught:
            PackSettings.load(path)
        assert str(caught.value) == f"{path}: kms-key-rotation: expected a level string or an object"


def test_an_unknown_policy_is_refused_with_close_names(tmp_path: Path) -> None:
    path = _write(tmp_path, {"s3-foo": "advisory"})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == (f"{path}: unknown policy 's3-foo' (did you mean s3-access-logging, s3-encryption-cmk, "
                                 "s3-lifecycle-tiering?)")
    path = _write(tmp_path, {"zzz": "advisory"})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: unknown policy 'zzz'"
    path = _write(tmp_path, {"all": "advisory", "sns": "advisory"})   # one close name
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: unknown policy 'sns' (did you mean sns-kms?)"


def test_unknown_parameters_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, {"ec2-imds-hop-limit": {"maxHops": 3}})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == (f"{path}: ec2-imds-hop-limit: unknown parameter 'maxHops' "
                                 "(parameters: maxHopLimit, maxHopLimitWithoutContainers)")
    path = _write(tmp_path, {"kms-key-rotation": {"enforcementLevel": "mandatory", "x": 1}})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: kms-key-rotation: unknown parameter 'x' (parameters: none)"


def test_parameters_are_checked_against_the_schema(tmp_path: Path) -> None:
    path = _write(tmp_path, {"logs-retention": {"minRetentionDays": 0}})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: logs-retention.minRetentionDays: 0 is less than the minimum of 1"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    path = _write(tmp_path, {"required-tags": {"requiredTags": ["a", 3]}})
    with pytest.raises(ConfigError) as caught:
        PackSettings.load(path)
    assert str(caught.value) == f"{path}: required-tags.requiredTags.1: 3 is not of type 'string'"
    ok = PackSettings.load(_write(tmp_path, {"logs-retention": {"minRetentionDays": 1}}))
    assert ok.config_for("logs-retention") == {"minRetentionDays": 1}


def test_a_config_without_all_names_the_policies_it_leaves_out(tmp_path: Path) -> None:
    names = _all_names()
    listed = {name: "mandatory" for name in names if name not in ("s3-access-logging", "kms-key-rotation")}
    path = _write(tmp_path, listed)
    s = PackSettings.load(path)
    assert s.unlisted == ["kms-key-rotation", "s3-access-logging"]
    assert s.unlisted_warning() == (f"{path}: 2 policies not listed, default level used: kms-key-rotation (mandatory), "
                                    "s3-access-logging (advisory)")
    listed["kms-key-rotation"] = "advisory"
    s = PackSettings.load(_write(tmp_path, listed))
    assert s.unlisted_warning() == f"{path}: 1 policy not listed, default level used: s3-access-logging (advisory)"
    listed["s3-access-logging"] = "advisory"
    s = PackSettings.load(_write(tmp_path, listed))
    assert s.unlisted == [] and s.unlisted_warning() is None


def test_an_empty_config_lists_every_policy_as_unlisted(tmp_path: Path) -> None:
    s = PackSettings.load(_write(tmp_path, {}))
    assert s.unlisted == sorted(_all_names())
    assert s.levels == PackSettings.defaults().levels


def test_the_shipped_configs_list_every_policy() -> None:
    from modelway.policy_check import pack_dir

    for stack in ("dev", "staging", "prod"):
        s = PackSettings.load(pack_dir() / f"config.{stack}.json")
        assert s.unlisted == [], stack


# --- check_program / check_stacks: the right program, the right files ------------------------------------

import modelway.policy_check as policy_check  # noqa: E402
from modelway.policy_check import check_program, check_stacks, default_config, pack_dir  # noqa: E402
from modelway.policy_check.report import Finding, PolicyInfo, Report, WaivedFinding  # noqa: E402


def test_pack_dir_is_the_installed_policies_package() -> None:
    found = pack_dir()
    assert (found / "PulumiPolicy.yaml").is_file()
    assert found.is_absolute() and found == found.resolve()


def test_pack_dir_missing_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.machinery
    import importlib.util

    message = "the modelway.policies package is missing from this installation; reinstall modelway"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError) as caught:
        pack_dir()
    assert str(caught.value) == message
    spec = importlib.machinery.ModuleSpec("modelway.policies", None, is_package=True)
    spec.submodule_search_locations = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(UserError) as caught:
        pack_dir()
    assert str(caught.value) == message


def test_default_config_is_the_stacks_file_when_there_is_one() -> None:
    assert default_config(None) is None
    assert default_config("prod") == pack_dir() / "config.prod.json"
    assert default_config("staging") == pack_dir() / "config.staging.json"
    assert default_config("qa") is None


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Pulumi project in ``<tmp>/proj`` (entry ``__main__.py``), the current directory ``<tmp>``."""
    directory = tmp_path / "proj"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text("name: acme\nruntime: python\n")
    (directory / "__main__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    return directory


def _state(stack: str, **over: Any) -> dict[str, Any]:
    report = Report(resources=2, stack=stack, violations=[
        Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k", "key", "rotation is off", "__main__.py", 3)])
    state = report.to_state()
    state.update(over)
    return state


class FakeWorker:
    """Stands in for the render subprocess: records the call, returns one report state per stack."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, module: str, args: list[str], spec: Any, *, timeout: float) -> list[dict[str, Any]]:
        job = json.loads(args[0])
        self.calls.append({"module": module, "args": args, "job": job, "spec": spec, "timeout": timeout})
        if self.error is not None:
            raise UserError(self.error)
        return [_state(entry["stack"] or "dev") for entry in job["stacks"]]


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> FakeWorker:
    import modelway.rendering.api as api

    fake = FakeWorker()
    monkeypatch.setattr(api, "run_worker", fake)
    return fake


def test_check_program_runs_the_worker_module_on_the_project(project: Path, worker: FakeWorker) -> None:
    from modelway.rendering.api import DEFAULT_TIMEOUT_S

    report = check_program(project, "dev", today=datetime.date(2026, 1, 2))
    call = worker.calls[0]
    assert call["module"] == "modelway.policy_check.worker"
    assert len(call["args"]) == 1
    assert call["spec"].project_dir == project.resolve() and call["spec"].stack == "dev"
    assert call["timeout"] == DEFAULT_TIMEOUT_S
    assert call["job"] == {"stacks": [{"stack": "dev", "config": str(pack_dir() / "config.dev.json")}],
                           "waivers": None, "today": "2026-01-02", "selection": Selection().to_json()}
    assert isinstance(report, Report)
    assert (report.project, report.program_dir, report.program, report.stack) == ("acme", "proj", "proj/__main__.py",
                                                                                  "dev")
    assert report.exit_code == 1 and report.violations[0].line == 3


def test_the_project_is_found_from_a_directory_inside_it(project: Path, worker: FakeWorker) -> None:
    (project / "sub").mkdir()
    report = check_program(project / "sub", None, timeout=5.0)
    assert worker.calls[0]["spec"].project_dir == project.resolve()
    assert worker.calls[0]["timeout"] == 5.0
    assert worker.calls[0]["job"]["stacks"] == [{"stack": None, "config": None}]   # no stack: no default config
    assert report.project == "acme"


def test_today_defaults_to_today_and_selection_is_passed(project: Path, worker: FakeWorker) -> None:
    selection = Selection(skip=("s3-access-logging",), min_level="mandatory")
    check_program(project, "qa", selection=selection)
    job = worker.calls[0]["job"]
    assert job["today"] == datetime.date.today().isoformat()
    assert job["selection"] == {"only": [], "skip": ["s3-access-logging"], "min_level": "mandatory"}
    assert job["stacks"] == [{"stack": "qa", "config": None}]


def test_several_stacks_one_worker_call_duplicates_dropped(project: Path, worker: FakeWorker) -> None:
    reports = check_stacks(project, ["dev", "prod", "dev"])
    assert len(worker.calls) == 1
    assert [s["stack"] for s in worker.calls[0]["job"]["stacks"]] == ["dev", "prod"]
    assert [s["config"] for s in worker.calls[0]["job"]["stacks"]] == [str(pack_dir() / "config.dev.json"),
                                                                      str(pack_dir() / "config.prod.json")]
    assert [r.stack for r in reports] == ["dev", "prod"]
    assert all(r.project == "acme" and r.program == "proj/__main__.py" for r in reports)
    assert len(check_stacks(project, [])) == 1   # no stack named: one check without a stack


def test_an_explicit_config_applies_to_every_stack_as_an_absolute_path(project: Path, worker: FakeWorker) -> None:
    Path("my.json").write_text(json.dumps({"all": "advisory"}))
    Path("w.yaml").write_text("[]\n")
    check_stacks(project, ["dev", "prod"], config=Path("my.json"), waivers=Path("w.yaml"))
    job = worker.calls[0]["job"]
    assert [s["config"] for s in job["stacks"]] == [str(Path("my.json").resolve())] * 2
    assert job["waivers"] == str(Path("w.yaml").resolve())


def test_missing_config_or_waivers_fail_before_the_worker(project: Path, worker: FakeWorker) -> None:
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", config=Path("nope.json"))
    assert str(caught.value) == "nope.json: no such policy config"
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", waivers=Path("nope.yaml"))
    assert str(caught.value) == "nope.yaml: no such waivers file"
    Path("dir.json").mkdir()
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", config=Path("dir.json"))
    assert str(caught.value) == "dir.json: no such policy config"
    assert worker.calls == []


def test_a_broken_config_or_waivers_file_fails_before_the_worker(project: Path, worker: FakeWorker) -> None:
    Path("bad.json").write_text("{")
    with pytest.raises(ConfigError):
        check_program(project, "dev", config=Path("bad.json"))
    Path("bad.yaml").write_text("policy: x\n")
    with pytest.raises(ConfigError):
        check_program(project, "dev", waivers=Path("bad.yaml"))
    assert worker.calls == []


def test_worker_errors_name_files_as_the_user_spelled_them(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelway.rendering.api as api

    Path("my.json").write_text("{}")
    absolute = str(Path("my.json").resolve())
    monkeypatch.setattr(api, "run_worker", FakeWorker(error=f"{absolute}: unknown policy 'x'"))
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", config=Path("my.json"))
    assert str(caught.value) == "my.json: unknown policy 'x'"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    monkeypatch.setattr(api, "run_worker", FakeWorker(error=f"render failed near {absolute}"))
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", config=Path("my.json"))
    assert str(caught.value) == f"render failed near {absolute}"   # only a leading file name is rewritten


def test_a_program_outside_the_current_directory_is_named_from_its_project(tmp_path: Path, project: Path,
                                                                           worker: FakeWorker,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = check_program(project, "dev")
    assert report.program == "__main__.py"
    assert report.program_dir == str(project.resolve())


def test_a_main_file_outside_the_project_and_cwd_is_named_by_its_file_name(tmp_path: Path, project: Path,
                                                                           worker: FakeWorker,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prog.py").write_text("")
    (project / "Pulumi.yaml").write_text("name: acme\nruntime: python\nmain: ../prog.py\n")
    monkeypatch.chdir(project)
    report = check_program(project, "dev")
    assert report.program == "prog.py"
    assert report.program_dir == "."


def test_a_main_folder_is_named_by_its_entry_file(project: Path, worker: FakeWorker) -> None:
    (project / "app").mkdir()
    (project / "app" / "__main__.py").write_text("")
    (project / "Pulumi.yaml").write_text("name: acme\nruntime: python\nmain: app\n")
    assert check_program(project, "dev").program == "proj/app/__main__.py"


def test_public_names() -> None:
    assert set(policy_check.__all__) == {"Finding", "Report", "Selection", "WaivedFinding", "check_program",
                                         "check_stacks", "default_config", "pack_dir"}
    assert policy_check.WaivedFinding is WaivedFinding and policy_check.Finding is Finding
    assert PolicyInfo is not None


# --- output formats: what CI and the terminal show ----------------------------------------------------

import io  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

from modelway.policy_check import output, sarif  # noqa: E402


def sample_report(**over: Any) -> Report:
    """Two mandatory findings (one without a file), one advisory at line 0, one waiver, two warnings."""
    policies = [
        PolicyInfo("kms-key-rotation", "Keys rotate.", "mandatory", "high", "Enable rotation.", ("CKV_AWS_7",), "storage"),
        PolicyInfo("s3-access-logging", "Buckets log.", "advisory", "low", "Turn on logging.", ("CKV_AWS_18", "AWS.S3.1"),
                   "storage"),
        PolicyInfo("iam-no-admin-wildcard", "No admin.", "mandatory", "critical", "Scope it.", ("CKV_AWS_1",), "identity"),
    ]
    violations = [
        Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k1", "key1", "rotation is off", "", 0),
        Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k2", "key2", "rotation, off: 100%", "infra/kms.py", 12),
        Finding("s3-access-logging", "advisory", "aws:s3/bucket:Bucket", "urn:b", "bkt", "no logs", "infra/s3.py", 0),
    ]
    waived = [WaivedFinding(Finding("iam-no-admin-wildcard", "mandatory", "aws:iam/role:Role", "urn:r", "role", "admin",
                                    "infra/iam.py", 4), "legacy", "bob", "2027-01-01")]
    fields = dict(resources=5, violations=violations, waived=waived, warnings=["w1", "multi\nline"], policies=policies,
                  stack="prod", program="proj/__main__.py", project="acme", program_dir="proj", providers=1)
    fields.update(over)
    return Report(**fields)  # type: ignore[arg-type]


def test_json_text_is_one_object_or_a_list_of_them() -> None:
    report = sample_report()
    assert json.loads(output.to_json_text(report)) == report.to_json()
    assert json.loads(output.to_json_text([report, sample_report(stack="dev")])) == [report.to_json(),
                                                                                    sample_report(stack="dev").to_json()]


def _table(report: Report) -> str:
    stream = io.StringIO()
    output.print_table(report, stream)
    return stream.getvalue()


def test_table_groups_mandatory_first_then_advisory_then_waived_then_warnings_and_verdict() -> None:
    text = _table(sample_report())
    lines = [line.rstrip() for line in text.splitlines()]
    order = [lines.index("mandatory violations (2)"), lines.index("advisory violations (1)"), lines.index("waived (1)"),
             lines.index("warning: w1"), lines.index("warning: multi")]
    assert order == sorted(order)
    assert lines[-1] == ("FAIL project acme (proj), stack prod: 5 resources + 1 provider, 3 policies, 2 mandatory, "
                         "1 advisory, 1 waived violations")
    assert lines[order[-1] + 1] == "line"
    for header in ("policy", "resource", "type", "declared at", "message", "reason", "approver", "expires"):
        assert f" {header} " in text
    row = next(line for line in lines if "key2" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["kms-key-rotation", "key2", "aws:kms/key:Key",
                                                               "proj/infra/kms.py:12", "rotation, off: 100%"]
    row = next(line for line in lines if "key1" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["kms-key-rotation", "key1", "aws:kms/key:Key", "",
                                                               "rotation is off"]
    row = next(line for line in lines if "legacy" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["iam-no-admin-wildcard", "role", "legacy", "bob",
                                                               "2027-01-01"]
    # rows sit directly under each other: no separator line between the two mandatory ones
    assert lines.index(next(line for line in lines if "key2" in line)) - lines.index(
        next(line for line in lines if "key1" in line)) == 1


def test_table_pass_without_mandatory_and_no_empty_tables() -> None:
    report = sample_report(violations=[], waived=[], warnings=[], project="", program_dir="", stack="", providers=0,
                           resources=1)
    text = _table(report)
    assert text.strip() == "PASS stack ?: 1 resource, 3 policies, 0 mandatory, 0 advisory, 0 waived violations"
    advisory_only = sample_report(violations=sample_report().violations[2:], waived=[], warnings=[], program_dir="")
    text = _table(advisory_only)
    assert "mandatory violations" not in text and "waived (" not in text and "warning:" not in text
    assert text.splitlines()[-1] == ("PASS project acme, stack prod: 5 resources + 1 provider, 3 policies, "
                                     "0 mandatory, 1 advisory, 0 waived violations")
    assert "infra/s3.py:0" in text   # program_dir "" reads as the current directory


def test_table_is_at_least_150_columns_wide_for_long_messages() -> None:
    long = Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k", "key", "x" * 400, "f.py", 1)
    text = _table(sample_report(violations=[long], waived=[], warnings=[]))
    assert max(len(line) for line in text.splitlines()) == 150
    assert "x" * 60 in text   # folded, never cut off
    assert text.count("x") == 400


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_on_a_terminal_colours_the_verdict_and_titles_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = _Terminal()
    output.print_table(sample_report(), stream)
    text = stream.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("\x1b[1;31mmandatory violations (2) ")            # bold red, left-justified
    assert any(line.startswith("\x1b[33madvisory violations (1) ") for line in lines)   # yellow
    assert "\x1b[2mwarning: w1\x1b[0m" in lines
    # the summary: only the verdict is styled (no highlighting of its numbers or names)
    assert lines[-1] == ("\x1b[1;31mFAIL\x1b[0m project acme (proj), stack prod: 5 resources + 1 provider, 3 policies, "
                         "2 mandatory, 1 advisory, 1 waived violations")
    stream = _Terminal()
    long_warning = "skipped 3 policies: " + ", ".join(f"policy-{i}" for i in range(40))
    output.print_table(sample_report(violations=[], waived=[], warnings=[long_warning]), stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"\x1b[2mwarning: {long_warning}\x1b[0m"   # one line, not wrapped, not highlighted
    assert lines[-1].startswith("\x1b[1;32mPASS\x1b[0m project acme (proj), stack prod: ")
    assert len(lines) == 2


JUNIT = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<testsuites tests="3" failures="1" errors="0"><testsuite name="modelway-policy.prod" tests="3" failures="1" errors="0">'
    '<testcase classname="modelway.policy.storage" name="kms-key-rotation" file="proj/infra/kms.py" line="12">'
    '<failure type="mandatory" message="2 mandatory violation(s) of kms-key-rotation">urn:k1: rotation is off\n'
    "proj/infra/kms.py:12: urn:k2: rotation, off: 100%\nFix: Enable rotation.</failure></testcase>"
    '<testcase classname="modelway.policy.storage" name="s3-access-logging"><system-out>advisory: proj/infra/s3.py:0: '
    "urn:b: no logs</system-out></testcase>"
    '<testcase classname="modelway.policy.identity" name="iam-no-admin-wildcard"><system-out>waived: urn:r: admin '
    "(legacy; bob; expires 2027-01-01)</system-out></testcase>"
    "<system-err>w1\nmulti\nline</system-err></testsuite></testsuites>"
)


def test_junit_one_case_per_policy_mandatory_fails_it() -> None:
    assert output.to_junit(sample_report()) == JUNIT
    assert output.to_junit([sample_report()]) == JUNIT


def test_junit_totals_over_stacks_and_a_clean_suite() -> None:
    clean = sample_report(violations=[], waived=[], warnings=[], stack="")
    root = ET.fromstring(output.to_junit([sample_report(), clean]).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "0")
    suite = root[1]
    assert suite.get("name") == "modelway-policy.default"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "0")
    assert [list(case) for case in suite] == [[], [], []]   # no failure, no system-out, no system-err
    assert suite.find("system-err") is None


def test_junit_failure_is_located_at_the_first_finding_with_a_file() -> None:
    unlocated = sample_report(violations=sample_report().violations[:1])
    case = ET.fromstring(output.to_junit(unlocated).split("\n", 1)[1])[0][0]
    assert case.get("file") is None and case.get("line") is None
    assert case[0].get("message") == "1 mandatory violation(s) of kms-key-rotation"
    two_located = sample_report(violations=[
        Finding("kms-key-rotation", "mandatory", "t", "urn:1", "a", "m", "a.py", 7),
        Finding("kms-key-rotation", "mandatory", "t", "urn:2", "b", "m", "b.py", 9)])
    case = ET.fromstring(output.to_junit(two_located).split("\n", 1)[1])[0][0]
    assert (case.get("file"), case.get("line")) == ("proj/a.py", "7")


GITHUB = "\n".join([
    "::error file=proj/__main__.py,title=kms-key-rotation (prod)::key1 (aws:kms/key:Key): rotation is off",
    "::error file=proj/infra/kms.py,line=12,title=kms-key-rotation (prod)::key2 (aws:kms/key:Key): rotation, off: 100%25",
    "::warning file=proj/infra/s3.py,line=1,title=s3-access-logging (prod)::bkt (aws:s3/bucket:Bucket): no logs",
    "::notice title=modelway policy (prod)::w1",
    "::notice title=modelway policy (prod)::multi%0Aline",
])


def test_github_annotations() -> None:
    assert output.to_github(sample_report()) == GITHUB
    assert output.to_github([sample_report(), sample_report(stack="dev")]) == GITHUB + "\n" + GITHUB.replace(
        "(prod)", "(dev)")
    assert output.to_github([]) == ""


def test_github_without_a_file_or_program_has_no_location() -> None:
    report = sample_report(violations=sample_report().violations[:1], warnings=[], program="")
    assert output.to_github(report) == "::error title=kms-key-rotation (prod)::key1 (aws:kms/key:Key): rotation is off"


def test_github_escapes_what_the_runner_unescapes() -> None:
    assert output._escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert output._escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"
    finding = Finding("p", "mandatory", "t", "u", "n", "m", "dir,x/a:b.py", 3)
    report = sample_report(violations=[finding], warnings=[], stack="s:1,2", program_dir="")
    assert output.to_github(report) == "::error file=dir%2Cx/a%3Ab.py,line=3,title=p (s%3A1%2C2)::n (t): m"
    report = sample_report(violations=[], warnings=["50%, done:\r\nok"], stack="a,b")
    assert output.to_github(report) == "::notice title=modelway policy (a%2Cb)::50%25, done:%0D%0Aok"


# --- SARIF ----------------------------------------------------------------------------------------------

def _sarif(report: Report | None = None) -> dict[str, Any]:
    return sarif.to_sarif(report or sample_report(), artifact_uri="proj/__main__.py", tool_version="9.9")


def test_sarif_log_header() -> None:
    log = _sarif()
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert len(log["runs"]) == 1 and set(log) == {"version", "$schema", "runs"}
    run = log["runs"][0]
    assert set(run) == {"tool", "automationDetails", "invocations", "results"}
    assert run["automationDetails"] == {"id": "modelway-policy/prod/"}
    assert _sarif(sample_report(stack=""))["runs"][0]["automationDetails"] == {"id": "modelway-policy/default/"}
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["informationUri"]) == (
        "modelway-policy", "9.9", "https://github.com/modelway/modelway")
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": [
        {"message": {"text": "w1"}, "level": "note"}, {"message": {"text": "multi\nline"}, "level": "note"}]}]
    quiet = _sarif(sample_report(warnings=[]))["runs"][0]
    assert quiet["invocations"] == [{"executionSuccessful": True}]


def test_sarif_default_tool_version_is_modelways() -> None:
    from modelway import __version__

    log = sarif.to_sarif(sample_report(), artifact_uri="x")
    assert log["runs"][0]["tool"]["driver"]["version"] == __version__
    assert sarif.to_sarif_log([sample_report()])["runs"][0]["tool"]["driver"]["version"] == __version__


def test_sarif_rules_carry_description_help_tags_and_severity() -> None:
    rules = _sarif()["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0] == {
        "id": "kms-key-rotation", "name": "KmsKeyRotation",
        "shortDescription": {"text": "Keys rotate."},
        "fullDescription": {"text": "Keys rotate. Mirrors: CKV_AWS_7."},
        "help": {"text": "Enable rotation.", "markdown": "**Fix:** Enable rotation."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["storage", "CKV_AWS_7"], "security-severity": "8.0", "enforcementLevel": "mandatory"},
    }
    assert rules[1]["fullDescription"] == {"text": "Buckets log. Mirrors: CKV_AWS_18, AWS.S3.1."}
    assert rules[1]["defaultConfiguration"] == {"level": "warning"}
    assert rules[1]["properties"] == {"tags": ["storage", "CKV_AWS_18", "AWS.S3.1"], "security-severity": "3.0",
                                      "enforcementLevel": "advisory"}
    assert rules[2]["properties"]["security-severity"] == "9.5"
    assert rules[2]["name"] == "IamNoAdminWildcard"


def test_sarif_unknown_levels_and_severities_fall_back() -> None:
    odd = [PolicyInfo("x-y", "D.", "other", "medium", "R.", ("M",), "c"),
           PolicyInfo("z", "D.", "other", "unheard-of", "R.", ("M",), "c")]
    finding = Finding("x-y", "other", "t", "urn:x", "n", "m", "", 0)
    stray = Finding("gone", "mandatory", "t", "urn:g", "n", "m", "", 0)
    run = _sarif(sample_report(policies=odd, violations=[finding, stray], waived=[]))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules[0]["defaultConfiguration"] == {"level": "warning"}
    assert rules[0]["properties"]["security-severity"] == "5.5"
    assert rules[1]["properties"]["security-severity"] == "5.5"
    assert run["results"][0]["level"] == "warning" and run["results"][0]["ruleIndex"] == 0
    # a finding of a policy not in the report: no rule index (-1, SARIF's "none", is left out)
    assert "ruleIndex" not in run["results"][1] and run["results"][1]["level"] == "error"


def _fingerprint(policy: str, urn: str, message: str) -> str:
    import hashlib

    return hashlib.sha256(f"{policy}|{urn}|{message}".encode()).hexdigest()


def test_sarif_results_are_located_and_fingerprinted() -> None:
    results = _sarif()["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["kms-key-rotation", "kms-key-rotation", "s3-access-logging",
                                              "iam-no-admin-wildcard"]
    assert [r["ruleIndex"] for r in results] == [0, 0, 1, 2]
    assert [r["level"] for r in results] == ["error", "error", "warning", "error"]
    assert results[0] == {
        "ruleId": "kms-key-rotation", "ruleIndex": 0, "level": "error",
        "message": {"text": "key1 (aws:kms/key:Key): rotation is off"},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": "proj/__main__.py"}, "region": {"startLine": 1}},
            "logicalLocations": [{"name": "key1", "fullyQualifiedName": "urn:k1", "kind": "resource"}],
        }],
        "partialFingerprints": {"modelwayPolicyFinding/v1": _fingerprint("kms-key-rotation", "urn:k1", "rotation is off")},
    }
    assert results[0]["partialFingerprints"]["modelwayPolicyFinding/v1"] == (
        "074ff6dd1d8dee7d22d44d52ae05320986c78a579c93df78546cccf9e6cc0b79")
    assert results[1]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "proj/infra/kms.py"},
                                                             "region": {"startLine": 12}}
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}   # line 0: line 1
    assert all("suppressions" not in r for r in results[:3])


def test_sarif_a_waived_finding_is_an_accepted_external_suppression() -> None:
    waived = _sarif()["runs"][0]["results"][3]
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted",
                                       "justification": "legacy (approved by bob, expires 2027-01-01)"}]
    assert waived["level"] == "error"
    assert waived["message"] == {"text": "role (aws:iam/role:Role): admin"}


def test_sarif_uris_relative_to_the_check_or_absolute() -> None:
    assert sarif._uri("proj", "infra/a.py") == "proj/infra/a.py"
    assert sarif._uri("", "a.py") == "a.py"
    assert sarif._uri("/abs/proj", "a b.py") == "file:///abs/proj/a%20b.py"


def test_sarif_log_has_one_run_per_stack_located_at_each_program() -> None:
    log = sarif.to_sarif_log([sample_report(), sample_report(stack="dev", program="")], tool_version="1")
    assert [r["automationDetails"]["id"] for r in log["runs"]] == ["modelway-policy/prod/", "modelway-policy/dev/"]
    uris = [r["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"]]
    assert uris == ["proj/__main__.py", "Pulumi.yaml"]
    assert log["version"] == "2.1.0" and log["$schema"] == sarif.SCHEMA_URI


def test_sarif_to_dict_drops_unset_fields_but_keeps_level() -> None:
    import sarif_om as s

    assert sarif._to_dict(s.ReportingConfiguration(level="warning")) == {"level": "warning"}
    # level is written even at its default: viewers differ on what a missing level means
    assert sarif._to_dict(s.Notification(message=s.Message(text="t"))) == {"message": {"text": "t"}, "level": "warning"}
    assert sarif._to_dict(s.Result(message=s.Message(text="t"), rule_index=-1)) == {"message": {"text": "t"},
                                                                                    "level": "warning"}
    assert sarif._to_dict(s.Region(start_line=3)) == {"startLine": 3}
    assert sarif._to_dict({"a": (1, s.Region(start_line=2))}) == {"a": [1, {"startLine": 2}]}
    bag = sarif._property_bag(["t"], **{"x-y": "1", "none": None})
    assert sarif._to_dict(bag) == {"tags": ["t"], "x-y": "1"}


# --- the worker: config per stack, waivers, selection, date ------------------------------------------------

from modelway.policy_check import worker as worker_mod  # noqa: E402


def test_worker_checks_every_stack_with_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    prod_cfg = _write(tmp_path, {"all": "advisory"}, "prod.json")
    waivers = tmp_path / "w.yaml"
    waivers.write_text("[]\n")
    installed: list[bool] = []
    rendered: list[tuple] = []
    evaluated: list[dict[str, Any]] = []
    monkeypatch.setattr(worker_mod.fast_imports, "install", lambda: installed.append(True))
    monkeypatch.setattr(worker_mod, "load_program_spec",
                        lambda project_dir, stack: SimpleNamespace(project=f"acme@{project_dir.name}", stack=stack))
    monkeypatch.setattr(worker_mod, "render_fresh",
                        lambda spec, **kw: rendered.append((spec.stack, kw)) or f"result:{spec.stack}")
    loaded: list[tuple] = []
    real_load = worker_mod.load_waivers
    monkeypatch.setattr(worker_mod, "load_waivers", lambda path, levels: loaded.append((path, levels)) or
                        real_load(path, levels))

    def fake_evaluate(result: str, settings: PackSettings, **kw: Any) -> Report:
        evaluated.append({"result": result, "settings": settings, **kw})
        return Report(resources=1, stack=result)

    monkeypatch.setattr(worker_mod, "evaluate", fake_evaluate)
    job = {"stacks": [{"stack": "prod", "config": str(prod_cfg)}, {"stack": "dev", "config": None}],
           "waivers": str(waivers), "today": "2026-03-04",
           "selection": {"only": [], "skip": ["s3-access-logging"], "min_level": "mandatory"}}
    states = worker_mod._check([str(tmp_path / "proj"), json.dumps(job)])
    assert installed == [True]
    assert [s["stack"] for s in states] == ["result:prod", "result:dev"]
    assert states[0] == Report(resources=1, stack="result:prod").to_state()
    assert rendered == [("prod", {"strict_invokes": False, "preview": True}),
                        ("dev", {"strict_invokes": False, "preview": True})]
    assert evaluated[0]["settings"].source == str(prod_cfg)
    assert set(evaluated[0]["settings"].levels.values()) == {"advisory"}
    assert evaluated[1]["settings"].source == "pack defaults"
    for call in evaluated:
        assert call["today"] == datetime.date(2026, 3, 4)
        assert call["project"] == "acme@proj"
        assert call["selection"] == Selection(skip=("s3-access-logging",), min_level="mandatory")
        assert call["waivers"] == []
    assert loaded == [(waivers, evaluated[0]["settings"].levels)]   # names checked against the first stack's pack


def test_worker_without_waivers_loads_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    monkeypatch.setattr(worker_mod.fast_imports, "install", lambda: None)
    monkeypatch.setattr(worker_mod, "load_program_spec", lambda d, s: SimpleNamespace(project="p", stack=s))
    monkeypatch.setattr(worker_mod, "render_fresh", lambda spec, **kw: spec.stack)
    monkeypatch.setattr(worker_mod, "load_waivers", lambda *a: pytest.fail("no waivers file was given"))
    seen: list[Any] = []
    monkeypatch.setattr(worker_mod, "evaluate", lambda result, settings, **kw: seen.append(kw["waivers"]) or
                        Report(resources=0))
    job = {"stacks": [{"stack": None, "config": ""}], "waivers": None, "today": "2026-01-01",
           "selection": Selection().to_json()}
    assert worker_mod._check([str(tmp_path), json.dumps(job)]) == [Report(resources=0).to_state()]
    assert seen == [[]]


def test_the_worker_process_reports_a_config_defect_as_one_line(project: Path) -> None:
    # The real subprocess (no render is paid for: the config fails first), and the message names
    # the file as the user spelled it.
    Path("typo.json").write_text(json.dumps({"kms-key-rotaton": "mandatory"}))
    with pytest.raises(UserError) as caught:
        check_program(project, "dev", config=Path("typo.json"))
    assert str(caught.value) == "typo.json: unknown policy 'kms-key-rotaton' (did you mean kms-key-policy-principals-exist, kms-key-rotation, kms-no-public-principal?)"


def test_selection_is_an_immutable_value() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        Selection().min_level = "mandatory"  # type: ignore[misc]
    assert len({Selection(), Selection()}) == 1


def test_table_summary_and_warnings_are_never_wrapped() -> None:
    # CI logs are grepped for the verdict line: it stays one line however long the names are
    project = "p" * 200
    text = _table(sample_report(violations=[], waived=[], warnings=["w" * 300], project=project))
    assert text.splitlines() == ["warning: " + "w" * 300,
                                 f"PASS project {project} (proj), stack prod: 5 resources + 1 provider, 3 policies, "
                                 "0 mandatory, 0 advisory, 0 waived violations"]


def _header(lines: list[str], title: str) -> list[str]:
    at = next(i for i, line in enumerate(lines) if line.startswith(title))
    return [c.strip() for c in lines[at + 2].strip("┃").split("┃")]


def test_table_headers_and_left_justified_titles() -> None:
    lines = _table(sample_report()).splitlines()
    assert _header(lines, "mandatory violations") == ["policy", "resource", "type", "declared at", "message"]
    assert _header(lines, "advisory violations") == ["policy", "resource", "type", "declared at", "message"]
    assert _header(lines, "waived (") == ["policy", "resource", "reason", "approver", "expires"]
    for title in ("mandatory violations (2)", "advisory violations (1)", "waived (1)"):
        at = lines.index(next(line for line in lines if line.startswith(title)))
        assert lines[at] == title.ljust(len(lines[at + 1])), title   # at column 0, over the table's width


def test_waived_table_folds_long_values_never_cuts_them() -> None:
    waived = [WaivedFinding(Finding("p" * 200, "mandatory", "t" * 200, "urn:x", "n" * 200, "m"), "§" * 400, "ä" * 200,
                            "ö" * 200)]
    text = _table(sample_report(violations=[], warnings=[], waived=waived))
    assert "…" not in text
    assert (text.count("§"), text.count("ä"), text.count("ö")) == (400, 200, 200)
    assert text.count("n") >= 200 and text.count("p") >= 200


def test_junit_counts_every_failing_policy_and_joins_out_lines() -> None:
    report = sample_report()
    report.violations.append(Finding("iam-no-admin-wildcard", "mandatory", "t", "urn:i", "i", "admin", "", 0))
    report.violations.append(Finding("s3-access-logging", "advisory", "t", "urn:b2", "b2", "no logs either", "", 0))
    report.waived.append(WaivedFinding(Finding("s3-access-logging", "advisory", "t", "urn:b3", "b3", "m", "", 0),
                                       "why", "ann", "2027-02-02"))
    root = ET.fromstring(output.to_junit(report).split("\n", 1)[1])
    assert root.get("failures") == "2" and root[0].get("failures") == "2"
    out = root[0][1].find("system-out")
    assert out is not None and out.text == ("advisory: proj/infra/s3.py:0: urn:b: no logs\n"
                                            "advisory: urn:b2: no logs either\n"
                                            "waived: urn:b3: m (why; ann; expires 2027-02-02)")
