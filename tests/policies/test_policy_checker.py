"""The offline checker's pieces without subprocesses: engine over a rendered result, pack config,
waivers, and the json/sarif/junit/table renderings."""
from __future__ import annotations

import datetime
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as SarifLog

from modelway.errors import ConfigError
from modelway.policy_check.config import PackSettings
from modelway.policy_check.engine import evaluate
from modelway.policy_check.output import print_table, to_json_text, to_junit
from modelway.policy_check.sarif import to_sarif
from modelway.policy_check.waivers import load_waivers
from modelway.rendering import RenderedResource, RenderResult
from policies.catalog import ALL_POLICIES
from policy_helpers import validate_sarif

TAGS = {"owner": "ml", "cost-center": "ml", "environment": "prod"}
TODAY = datetime.date(2026, 11, 26)


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:prod::demo::{resource_type}::{name}"


def res(resource_type: str, name: str, inputs: dict, provider: str = "") -> RenderedResource:
    return RenderedResource(resource_type, name, urn(resource_type, name), "", inputs, provider)


def rendered(*resources: RenderedResource, config: dict | None = None) -> RenderResult:
    return RenderResult("prod", list(resources), {}, ["unknown invoke aws:foo/getBar:getBar"], config or {})


KEY_OK = res("aws:kms/key:Key", "good-key", {"enableKeyRotation": True, "tags": TAGS})
KEY_BAD = res("aws:kms/key:Key", "bad-key", {"enableKeyRotation": False, "tags": TAGS})
BUDGET = res("aws:budgets/budget:Budget", "budget", {"tags": TAGS, "notifications": [
    {"subscriberEmailAddresses": ["ml@example.com"]}]})


def findings(report, policy: str) -> list:
    return [f for f in report.violations if f.policy == policy]


def test_report_state_round_trips_for_the_checker_worker():
    from modelway.policy_check.report import Report
    from modelway.policy_check.waivers import Waiver

    waiver = Waiver("kms-key-rotation", "*bad-key", "imported key material", "sec@example.com",
                    datetime.date(2099, 1, 1))
    other = res("aws:kms/key:Key", "other-key", {"enableKeyRotation": False, "tags": TAGS})
    report = evaluate(rendered(KEY_OK, KEY_BAD, other), PackSettings.defaults(), waivers=[waiver], today=TODAY)
    report.program = "infra/__main__.py"
    assert report.waived and report.violations and report.policies
    assert Report.from_state(json.loads(json.dumps(report.to_state()))) == report


def test_engine_reports_resource_and_stack_violations_with_levels():
    report = evaluate(rendered(KEY_OK, KEY_BAD), PackSettings.defaults(), today=TODAY)
    assert report.resources == 2
    [rotation] = findings(report, "kms-key-rotation")
    assert (rotation.level, rotation.name, rotation.resource_type) == ("mandatory", "bad-key", "aws:kms/key:Key")
    [budget] = findings(report, "budget-exists")  # a stack violation sits on the stack itself
    assert budget.resource_type == "pulumi:pulumi:Stack" and budget.urn.endswith("::demo-prod")
    assert budget.level == "advisory" and report.exit_code == 1
    assert "unknown invoke aws:foo/getBar:getBar" in report.warnings


def test_engine_uses_default_provider_tags_from_stack_config_and_explicit_providers():
    untagged = res("aws:sns/topic:Topic", "alerts", {"kmsMasterKeyId": "alias/k"})
    config = {"aws:defaultTags": json.dumps({"tags": TAGS})}
    assert not findings(evaluate(rendered(untagged, BUDGET, config=config), PackSettings.defaults()), "required-tags")
    provider = res("pulumi:providers:aws", "tagged", {"defaultTags": json.dumps({"tags": TAGS})})
    via_provider = res("aws:sns/topic:Topic", "alerts2", {"kmsMasterKeyId": "alias/k"}, provider=provider.urn)
    report = evaluate(rendered(provider, via_provider, untagged, BUDGET), PackSettings.defaults())
    assert [f.name for f in findings(report, "required-tags")] == ["alerts"]
    assert report.resources == 3  # providers are not counted as resources, but apart
    assert report.providers == 1 and report.to_json()["providers"] == 1


def test_config_downgrade_changes_level_and_exit_code(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"kms-key-rotation": "advisory", "required-tags": {"requiredTags": ["team"]}}))
    report = evaluate(rendered(KEY_BAD, BUDGET), PackSettings.load(path))
    assert findings(report, "kms-key-rotation")[0].level == "advisory"
    assert {f.message for f in findings(report, "required-tags")} == {
        "missing tags team (set them on the resource or in the provider's defaultTags)"}


@pytest.mark.parametrize("document, message", [
    ({"kms-key-rotation": "disabled"}, "cannot be disabled"),
    ({"kms-key-rotaton": "advisory"}, "unknown policy 'kms-key-rotaton' (did you mean"),
    ({"logs-retention": {"minRetentionDays": "a year"}}, "logs-retention.minRetentionDays"),
    ({"logs-retention": {"retention": 30}}, "unknown parameter 'retention'"),
    ({"all": "remediate"}, "must be one of advisory, mandatory"),
])
def test_bad_pack_config_is_one_line_config_error(tmp_path, document, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as raised:
        PackSettings.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_policies_missing_from_a_config_are_named_in_a_report_warning(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"kms-key-rotation": "advisory"}))
    report = evaluate(rendered(KEY_BAD, BUDGET), PackSettings.load(path))
    [warning] = [w for w in report.warnings if "not listed" in w]
    assert warning.startswith(f"{path}: {len(PackSettings.defaults().levels) - 1} policies not listed, "
                              "default level used: ")
    assert "kms-key-rotation" not in warning and "budget-exists (advisory)" in warning
    # an "all" entry lists every policy; so do the shipped configs and the pack defaults
    path.write_text(json.dumps({"all": "mandatory"}))
    assert not [w for w in evaluate(rendered(KEY_BAD), PackSettings.load(path)).warnings if "not listed" in w]
    for env in ("dev", "staging", "prod"):
        shipped = PackSettings.load(Path(__file__).resolve().parents[2] / "policies" / f"config.{env}.json")
        assert shipped.unlisted == []
    assert PackSettings.defaults().unlisted == []


def test_invalid_json_config_names_the_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "kms-key-rotation": advisory\n}')
    with pytest.raises(ConfigError, match=r"config.json:2: not valid JSON"):
        PackSettings.load(path)


WAIVERS = """
waivers:
  - policy: kms-key-rotation
    urn: "urn:pulumi:prod::demo::aws:kms/key:Key::bad-*"
    reason: imported key, rotation handled by the HSM team
    approver: sec@example.com
    expires: 2027-01-31
"""


def test_waived_violation_is_reported_as_waived_and_does_not_fail(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS)
    waivers = load_waivers(path, PackSettings.defaults().levels)
    report = evaluate(rendered(KEY_BAD, BUDGET), PackSettings.defaults(), waivers=waivers, today=TODAY)
    assert not findings(report, "kms-key-rotation")
    [waived] = report.waived
    assert waived.finding.policy == "kms-key-rotation" and waived.approver == "sec@example.com"
    assert report.to_json()["waived"][0]["waiver"]["expires"] == "2027-01-31"


def test_expired_waiver_counts_again(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS.replace("2027-01-31", "2026-11-25"))
    waivers = load_waivers(path, PackSettings.defaults().levels)
    report = evaluate(rendered(KEY_BAD, BUDGET), PackSettings.defaults(), waivers=waivers, today=TODAY)
    assert findings(report, "kms-key-rotation") and not report.waived and report.exit_code == 1
    assert any("expired on 2026-11-25" in w for w in report.warnings)


@pytest.mark.parametrize("field", ["reason", "approver"])
def test_waiver_without_reason_or_approver_is_rejected(tmp_path, field):
    path = tmp_path / "waivers.yaml"
    path.write_text("\n".join(line for line in WAIVERS.splitlines() if f"{field}:" not in line))
    with pytest.raises(ConfigError, match=f"waiver 1 \\(kms-key-rotation\\): missing {field}"):
        load_waivers(path, PackSettings.defaults().levels)


def test_waiver_with_bad_date_or_policy_is_rejected(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS.replace("2027-01-31", "next year"))
    with pytest.raises(ConfigError, match="expires must be a date"):
        load_waivers(path, PackSettings.defaults().levels)
    path.write_text(WAIVERS.replace("policy: kms-key-rotation", "policy: no-such-rule"))
    with pytest.raises(ConfigError, match="unknown policy"):
        load_waivers(path, PackSettings.defaults().levels)


@pytest.mark.parametrize("text, message", [
    (WAIVERS.replace("2027-01-31", "2027-13-45"),
     "waivers.yaml: waiver 1: expires must be a date YYYY-MM-DD, got '2027-13-45'"),
    ("policy: kms-key-rotation\nurn: '*'\nreason: r\napprover: a\nexpires: 2027-01-31\n",
     "waivers.yaml: expected a list of waivers (or `waivers:` with a list); this is a single mapping "
     "(keys approver, expires, policy, reason, urn): put '- ' before its first key to make it a list entry"),
    ("waiver:\n  - policy: kms-key-rotation\n",
     "waivers.yaml: expected a list of waivers (or `waivers:` with a list); this is a single mapping "
     "(keys waiver): put '- ' before its first key to make it a list entry"),
    (WAIVERS + "    reason: twice\n",
     "waivers.yaml:8: duplicate key 'reason' (the first is on line 5)"),
])
def test_malformed_waivers_file_is_one_line_naming_file_and_entry(tmp_path, text, message):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_waivers(path, PackSettings.defaults().levels)
    assert str(excinfo.value) == f"{tmp_path}/{message}"


def test_cli_bad_waiver_date_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS.replace("2027-01-31", "2027-13-45"))
    proc = subprocess.run([sys.executable, "-m", "modelway.cli.main", "policy", "check", "--stack", "prod",
                           "--waivers", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: waiver 1: expires must be a date YYYY-MM-DD, got '2027-13-45'"]


def sample_report():
    return evaluate(rendered(KEY_BAD, KEY_OK), PackSettings.defaults(), today=TODAY)


def test_json_format_is_one_object_with_the_documented_fields():
    report = sample_report()
    document = json.loads(to_json_text(report))
    assert set(document) == {"project", "program_dir", "stack", "policies_run", "resources", "providers",
                             "violations", "waived", "warnings"}
    assert document["policies_run"] == len(report.policies) > 0
    assert document["resources"] == 2
    assert set(document["violations"][0]) == {"policy", "level", "resource_type", "urn", "name", "message", "file",
                                              "line"}


def test_sarif_is_valid_2_1_0_and_rejects_tampering():
    report = sample_report()
    document = to_sarif(report, artifact_uri="infra/__main__.py")
    log = SarifLog.model_validate(document)  # schema-generated models: unknown keys are errors
    run = log.runs[0]
    assert run.tool.driver.name == "modelway-policy"
    rule_ids = [rule.id for rule in run.tool.driver.rules]
    assert len(rule_ids) == len(report.policies) == len(PackSettings.defaults().levels)
    results = {r.ruleId: r for r in run.results}
    assert results["kms-key-rotation"].level.value == "error"
    assert results["budget-exists"].level.value == "warning"
    assert rule_ids[results["kms-key-rotation"].ruleIndex] == "kms-key-rotation"
    document["runs"][0]["results"][0]["severity"] = "high"
    with pytest.raises(ValidationError):
        SarifLog.model_validate(document)


def test_sarif_waived_finding_is_an_accepted_external_suppression(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVERS)
    waivers = load_waivers(path, PackSettings.defaults().levels)
    report = evaluate(rendered(KEY_BAD, BUDGET), PackSettings.defaults(), waivers=waivers, today=TODAY)
    document = to_sarif(report, artifact_uri="infra/__main__.py")
    validate_sarif(document)
    [waived] = [r for r in document["runs"][0]["results"] if r["ruleId"] == "kms-key-rotation"]
    [suppression] = waived["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert "state" not in suppression
    assert suppression["justification"].startswith("imported key, rotation handled by the HSM team")
    document["runs"][0]["results"][0].setdefault("suppressions", [{"kind": "external"}])[0]["status"] = "ok"
    with pytest.raises(ValidationError):
        validate_sarif(document)


def test_junit_fails_one_case_per_policy_with_mandatory_violations():
    report = sample_report()
    root = ET.fromstring(to_junit(report))
    suite = root.find("testsuite")
    assert suite.get("tests") == str(len(PackSettings.defaults().levels)) and suite.get("failures") == "1"
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["kms-key-rotation"]


def test_table_groups_by_level_and_ends_with_the_verdict():
    report = sample_report()
    buffer = io.StringIO()
    print_table(report, buffer)
    text = buffer.getvalue()
    assert text.index("mandatory violations (1)") < text.index("advisory violations")
    assert text.strip().splitlines()[-1].startswith(f"FAIL stack prod: 2 resources, {len(report.policies)} policies, "
                                                    "1 mandatory")


def test_stack_rules_follow_a_reference_by_the_id_the_engine_gave():
    # An ASG names its launch template by id (lt.id), which is no input of the template: the
    # checker hands stack rules the id, so the GPU type on the template is found.
    template = RenderedResource("aws:ec2/launchTemplate:LaunchTemplate", "gpu-nodes",
                                urn("aws:ec2/launchTemplate:LaunchTemplate", "gpu-nodes"), "",
                                {"instanceType": "g5.2xlarge", "tags": TAGS}, id="lt-0123456789abcdef0")
    group = res("aws:autoscaling/group:Group", "gpu-pool",
                {"minSize": 2, "maxSize": 4, "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "$Latest"},
                 "tags": [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()]})
    report = evaluate(rendered(template, group), PackSettings.defaults(), today=TODAY)
    scale = [f for f in report.violations if f.policy == "gpu-pool-scale-to-zero"]
    assert [f.message for f in scale] == ['GPU pool "gpu-pool" (g5.2xlarge) has minSize 2; set 0 so idle GPUs cost '
                                          "nothing"]
    assert not [f for f in report.violations if f.policy == "required-tags"]  # tagged through its tags blocks
