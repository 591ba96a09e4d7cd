"""Pins on policy decisions and on the checker's waiver/exit-code rules that mutation testing found loose.

Each test fails on a plausible one-point change of the code (a flipped comparison, a dropped
condition, a skipped element), at both sides of each boundary: see ``make mutate``.
"""
from __future__ import annotations

import datetime
import json

import pytest
from policy_helpers import assert_passes, assert_stack_passes, assert_stack_violates, assert_violates, evaluate

from modelway.errors import ConfigError
from modelway.policy_check.config import PackSettings
from modelway.policy_check.engine import evaluate as check
from modelway.policy_check.report import Finding, Report
from modelway.policy_check.waivers import Waiver, load_waivers
from modelway.rendering import RenderedResource, RenderResult

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KEY_TYPE = "aws:kms/key:Key"
TAGS = {"owner": "ml", "cost-center": "ml", "environment": "prod"}
EXPIRES = datetime.date(2027, 1, 31)


def sse(key: str) -> tuple:
    return (SSE, {"bucket": "data", "rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key}}]})


# --- s3-encryption-cmk: the AWS-managed aws/s3 key however it is spelled ------------------------
@pytest.mark.parametrize("key", [
    "alias/aws/s3",
    "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3",
])
def test_aws_managed_s3_key_is_refused_as_bare_alias_and_as_alias_arn(key):
    violations = assert_stack_violates("s3-encryption-cmk", [(BUCKET, {"bucket": "data"}, "data"), sse(key)],
                                       contains="uses the AWS-managed key")
    assert [v.message for v in violations] == [f'bucket "data" uses the AWS-managed key {key}; set a '
                                               "customer-managed key"]


@pytest.mark.parametrize("key", [
    "alias/aws/s3-data",                                        # a customer alias that merely starts alike
    "arn:aws:kms:eu-west-1:123456789012:alias/ml/aws/s3",       # aws/s3 inside a customer alias name
    "arn:aws:kms:eu-west-1:123456789012:key/1111",
])
def test_customer_managed_keys_pass_the_cmk_rule(key):
    assert_stack_passes("s3-encryption-cmk", [(BUCKET, {"bucket": "data"}, "data"), sse(key)])


# --- s3-tls-only: only a Deny on aws:SecureTransport=false counts ---------------------------------
def tls_statement(effect: str, operator: str = "Bool", value: object = "false", key: str = "aws:SecureTransport"):
    statement = {"Effect": effect, "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"], "Condition": {operator: {key: value}}}
    return [(BUCKET, {"bucket": "data"}, "data"),
            (POLICY, {"bucket": "data", "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})})]


def test_an_allow_statement_mentioning_secure_transport_does_not_satisfy_tls_only():
    assert_stack_violates("s3-tls-only", tls_statement("Allow"),
                          contains="no bucket policy statement denies aws:SecureTransport=false")


@pytest.mark.parametrize("operator, key, value", [
    ("Bool", "aws:SecureTransport", "false"),
    ("Bool", "aws:SecureTransport", False),
    ("BoolIfExists", "aws:SecureTransport", ["false"]),
    ("Bool", "AWS:SECURETRANSPORT", "FALSE"),                    # condition keys are case-insensitive
])
def test_a_deny_on_insecure_transport_satisfies_tls_only(operator, key, value):
    assert_stack_passes("s3-tls-only", tls_statement("Deny", operator, value, key))


@pytest.mark.parametrize("operator, key, value", [
    ("Bool", "aws:SecureTransport", "true"),                     # denies the TLS requests instead
    ("StringEquals", "aws:SecureTransport", "false"),            # not a Bool condition
    ("Bool", "aws:SourceVpce", "false"),
])
def test_a_deny_on_something_else_does_not_satisfy_tls_only(operator, key, value):
    assert_stack_violates("s3-tls-only", tls_statement("Deny", operator, value, key),
                          contains="denies aws:SecureTransport=false")


def test_tls_only_reads_every_statement_not_just_the_first():
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::data/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert_stack_passes("s3-tls-only", [(BUCKET, {"bucket": "data"}, "data"),
                                        (POLICY, {"bucket": "data", "policy": json.dumps(document)})])


# --- logs-retention: the minimum itself passes, one day less fails, 0 is "never expire" ----------
@pytest.mark.parametrize("days, ok", [(365, True), (364, False), (400, True), (0, True), (1, False)])
def test_log_retention_boundary_in_prod(days, ok):
    config = {"minRetentionDays": 365}
    props = {"retentionInDays": days, "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1", "tags": TAGS}
    if ok:
        assert_passes("logs-retention", LOG_GROUP, props, config=config)
    else:
        messages = assert_violates("logs-retention", LOG_GROUP, props, config=config)
        assert messages == [f"retentionInDays is {days}; keep logs at least 365 days"]


def test_log_retention_unset_is_a_violation_naming_the_minimum():
    outcome = evaluate("logs-retention", LOG_GROUP, {"tags": TAGS}, config={"minRetentionDays": 30})
    assert [v.message for v in outcome.violations] == ["retentionInDays is not set; set it (≥ 30 days here)"]


# --- waivers: expiry day, blank approver/reason -------------------------------------------------
def waiver(expires: datetime.date = EXPIRES) -> Waiver:
    return Waiver("kms-key-rotation", "urn:pulumi:prod::demo::aws:kms/key:Key::bad-*", "HSM rotates it",
                  "sec@example.com", expires)


@pytest.mark.parametrize("today, expired", [
    (EXPIRES - datetime.timedelta(days=1), False),
    (EXPIRES, False),                                            # valid through its expiry date
    (EXPIRES + datetime.timedelta(days=1), True),
])
def test_a_waiver_is_valid_through_its_expiry_date(today, expired):
    assert waiver().expired(today) is expired
    report = check(rendered(bad_key()), PackSettings.defaults(), waivers=[waiver()], today=today)
    rotation = [f for f in report.violations if f.policy == "kms-key-rotation"]
    if expired:
        assert len(rotation) == 1 and not report.waived and report.exit_code == 1
        assert any("expired on 2027-01-31; its violations count again" in w for w in report.warnings)
    else:
        assert not rotation and [w.finding.name for w in report.waived] == ["bad-key"]
        assert report.exit_code == 0
        assert not any("expired" in w for w in report.warnings)


def test_a_waiver_covers_only_its_policy_and_matching_urns():
    w = waiver()
    assert w.covers("kms-key-rotation", "urn:pulumi:prod::demo::aws:kms/key:Key::bad-key")
    assert not w.covers("kms-key-rotation", "urn:pulumi:prod::demo::aws:kms/key:Key::good-key")
    assert not w.covers("kms-key-policy", "urn:pulumi:prod::demo::aws:kms/key:Key::bad-key")
    # fnmatchcase: URNs are case-sensitive, a differently cased name is another resource
    assert not w.covers("kms-key-rotation", "urn:pulumi:prod::demo::aws:kms/key:Key::BAD-key")


def test_an_unused_waiver_is_named_in_a_warning():
    report = check(rendered(bad_key("good-key", rotation=True)), PackSettings.defaults(), waivers=[waiver()],
                   today=EXPIRES)
    assert [w for w in report.warnings if "matches no violation" in w] == [
        "waiver for kms-key-rotation on urn:pulumi:prod::demo::aws:kms/key:Key::bad-* matches no violation; remove it"]


WAIVER_YAML = """\
- policy: kms-key-rotation
  urn: "urn:*"
  reason: {reason}
  approver: {approver}
  expires: 2027-01-31
"""


@pytest.mark.parametrize("reason, approver, missing", [
    ('"   "', "sec@example.com", "reason"),
    ("HSM rotates it", '"  "', "approver"),
    ('" "', '"\t"', "reason, approver"),
])
def test_a_reason_or_approver_of_only_spaces_is_missing(tmp_path, reason, approver, missing):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVER_YAML.format(reason=reason, approver=approver))
    with pytest.raises(ConfigError) as caught:
        load_waivers(path, None)
    assert str(caught.value) == (f"{path}: waiver 1 (kms-key-rotation): missing {missing}; every waiver needs a "
                                 "reason, an approver and an expiry date")


def test_waiver_fields_are_stripped_and_the_date_parsed(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVER_YAML.format(reason='"  HSM rotates it "', approver='" sec@example.com"'))
    [w] = load_waivers(path, ["kms-key-rotation"])
    assert (w.policy, w.urn, w.reason, w.approver, w.expires) == (
        "kms-key-rotation", "urn:*", "HSM rotates it", "sec@example.com", datetime.date(2027, 1, 31))


def test_a_waiver_for_an_unknown_policy_names_it(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(WAIVER_YAML.format(reason="r", approver="a").replace("kms-key-rotation", "kms-rotation"))
    with pytest.raises(ConfigError) as caught:
        load_waivers(path, ["kms-key-rotation"])
    assert str(caught.value) == f"{path}: waiver 1: unknown policy 'kms-rotation'"
    assert [w.policy for w in load_waivers(path, None)] == ["kms-rotation"]  # None: no name check


# --- exit code: only mandatory violations fail the check -----------------------------------------
def finding(level: str, policy: str = "kms-key-rotation") -> Finding:
    return Finding(policy, level, KEY_TYPE, "urn:k", "k", "rotation is off")


@pytest.mark.parametrize("levels, code", [
    ([], 0),
    (["advisory"], 0),
    (["advisory", "advisory"], 0),
    (["mandatory"], 1),
    (["advisory", "mandatory"], 1),
])
def test_exit_code_is_one_only_with_a_mandatory_violation(levels, code):
    report = Report(resources=1, violations=[finding(level) for level in levels])
    assert report.exit_code == code
    assert [f.level for f in report.mandatory] == [level for level in levels if level == "mandatory"]


def test_a_check_with_only_advisory_violations_exits_zero(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"kms-key-rotation": "advisory"}))
    report = check(rendered(bad_key()), PackSettings.load(path), today=EXPIRES)
    assert sorted((f.policy, f.level) for f in report.violations) == [("budget-exists", "advisory"),
                                                                      ("kms-key-rotation", "advisory")]
    assert report.exit_code == 0 and report.mandatory == []
    # the same finding at its default level fails the check
    assert check(rendered(bad_key()), PackSettings.defaults(), today=EXPIRES).exit_code == 1


def test_violations_are_listed_mandatory_first_then_by_policy():
    path_levels = {"kms-key-rotation": "advisory"}
    settings = PackSettings.defaults()
    settings.levels.update(path_levels)
    key = res(KEY_TYPE, "bad-key", {"enableKeyRotation": False})  # untagged: required-tags is mandatory
    report = check(rendered(key), settings, today=EXPIRES)
    levels = [f.level for f in report.violations]
    assert levels == sorted(levels, key=lambda level: level != "mandatory") and "advisory" in levels
    assert levels[0] == "mandatory"


def test_finding_location_needs_both_file_and_line():
    assert Finding("p", "mandatory", "t", "u", "n", "m", "infra/a.py", 42).location == "infra/a.py:42"
    assert Finding("p", "mandatory", "t", "u", "n", "m", "infra/a.py", 0).location == "infra/a.py"
    assert Finding("p", "mandatory", "t", "u", "n", "m", "", 7).location == ""


# --- helpers ------------------------------------------------------------------------------------
def res(resource_type: str, name: str, inputs: dict) -> RenderedResource:
    return RenderedResource(resource_type, name, f"urn:pulumi:prod::demo::{resource_type}::{name}", "", inputs, "")


def bad_key(name: str = "bad-key", rotation: bool = False) -> RenderedResource:
    return res(KEY_TYPE, name, {"enableKeyRotation": rotation, "tags": TAGS})


def rendered(*resources: RenderedResource) -> RenderResult:
    return RenderResult("prod", list(resources), {}, [], {})


def test_an_unreadable_or_non_list_waivers_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_waivers(tmp_path, None)  # a directory: cannot be read as a file
    assert str(caught.value).startswith(f"{tmp_path}: cannot read the waivers file (")
    path = tmp_path / "waivers.yaml"
    path.write_text("just a string\n")
    with pytest.raises(ConfigError) as caught:
        load_waivers(path, None)
    assert str(caught.value) == f"{path}: expected a list of waivers (policy, urn, reason, approver, expires)"
    path.write_text("")
    assert load_waivers(path, None) == []


def test_a_loaded_waiver_cannot_be_changed_afterwards():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        waiver().expires = datetime.date(2099, 1, 1)  # type: ignore[misc]


@pytest.mark.parametrize("text, message", [
    ("- just a string\n", "waiver 1: expected a mapping with policy, urn, reason, approver, expires"),
    ("- urn: 'urn:*'\n  reason: r\n  approver: a\n  expires: 2027-01-31\n",
     "waiver 1 (?): missing policy; every waiver needs a reason, an approver and an expiry date"),
    (WAIVER_YAML.format(reason="r", approver="a") + "  ticket: SEC-1\n  owner: me\n",
     "waiver 1: unknown field(s) owner, ticket (fields: policy, urn, reason, approver, expires)"),
])
def test_a_malformed_waiver_entry_is_one_exact_line(tmp_path, text, message):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_waivers(path, None)
    assert str(caught.value) == f"{path}: {message}"


# --- the report's documents: exact keys and defaults ---------------------------------------------
def test_a_finding_without_a_declaring_line_and_its_json():
    f = Finding("kms-key-rotation", "mandatory", KEY_TYPE, "urn:k", "k", "rotation is off")
    assert (f.file, f.line, f.location) == ("", 0, "")
    assert f.to_json() == {"policy": "kms-key-rotation", "level": "mandatory", "resource_type": KEY_TYPE,
                           "urn": "urn:k", "name": "k", "message": "rotation is off", "file": "", "line": 0}


def test_findings_and_waived_findings_are_values_usable_in_sets():
    from modelway.policy_check.report import PolicyInfo, WaivedFinding

    f = finding("mandatory")
    assert len({f, finding("mandatory"), finding("advisory")}) == 2
    waived = WaivedFinding(f, "HSM rotates it", "sec@example.com", "2027-01-31")
    assert len({waived, WaivedFinding(f, "HSM rotates it", "sec@example.com", "2027-01-31")}) == 1
    info = PolicyInfo("p", "d", "mandatory", "high", "fix it", ("CKV_1",), "storage")
    assert len({info, PolicyInfo("p", "d", "mandatory", "high", "fix it", ("CKV_1",), "storage")}) == 1


def test_a_waived_finding_json_carries_the_waiver():
    from modelway.policy_check.report import WaivedFinding

    waived = WaivedFinding(finding("mandatory"), "HSM rotates it", "sec@example.com", "2027-01-31")
    assert waived.to_json() == {**finding("mandatory").to_json(), "waiver": {
        "reason": "HSM rotates it", "approver": "sec@example.com", "expires": "2027-01-31"}}


def test_an_empty_report_and_its_json():
    report = Report(resources=0)
    assert (report.violations, report.waived, report.warnings, report.policies) == ([], [], [], [])
    assert (report.stack, report.program, report.project, report.program_dir, report.providers) == ("", "", "", "", 0)
    assert report.to_json() == {"project": "", "program_dir": "", "stack": "", "policies_run": 0, "resources": 0,
                                "providers": 0, "violations": [], "waived": [], "warnings": []}
    assert Report.from_state(report.to_state()) == report


def test_a_full_report_survives_the_trip_from_the_checker_worker():
    import json

    from modelway.policy_check.report import PolicyInfo, WaivedFinding

    report = Report(resources=7, violations=[finding("mandatory"), finding("advisory")],
                    waived=[WaivedFinding(finding("mandatory"), "HSM", "sec@example.com", "2027-01-31")],
                    warnings=["w1", "w2"], policies=[PolicyInfo("p", "d", "mandatory", "high", "fix", ("A", "B"), "c")],
                    stack="prod", program="infra/__main__.py", project="modelway", program_dir="infra", providers=2)
    state = json.loads(json.dumps(report.to_state()))  # plain data, as it crosses the process boundary
    back = Report.from_state(state)
    assert back == report
    assert back.policies[0].mirrors == ("A", "B") and back.to_json() == report.to_json()
    for key in ("providers", "project", "program_dir"):  # a state from a worker before these existed
        del state[key]
    old = Report.from_state(state)
    assert (old.providers, old.project, old.program_dir, old.stack, old.program) == (0, "", "", "prod",
                                                                                    "infra/__main__.py")


# --- observability: what a rule says when it cannot decide -----------------------------------
UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine passes a value known only after apply


@pytest.mark.parametrize("policy, resource_type, props, note", [
    ("logs-retention", "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": UNKNOWN_VALUE},
     "retentionInDays is not known yet"),
    ("logs-retention", "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": "forever"},
     "retentionInDays 'forever' is not a number"),
    ("logs-kms", "aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": UNKNOWN_VALUE}, "kmsKeyId is not known yet"),
    ("sns-kms", "aws:sns/topic:Topic", {"kmsMasterKeyId": UNKNOWN_VALUE}, "kmsMasterKeyId is not known yet"),
])
def test_an_undecidable_value_is_a_note_never_a_pass_or_a_violation(policy, resource_type, props, note):
    outcome = evaluate(policy, resource_type, props)
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == ([], [note])


def test_log_retention_counts_a_numeric_string_and_the_configured_minimum():
    outcome = evaluate("logs-retention", "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": "14"},
                       config={"minRetentionDays": 14})
    assert (outcome.violations, outcome.notes) == ([], [])
    outcome = evaluate("logs-retention", "aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": "13"},
                       config={"minRetentionDays": 14})
    assert [v.message for v in outcome.violations] == ["retentionInDays is 13; keep logs at least 14 days"]


# --- s3-public-access-blocked: the account-level block ---------------------------------------
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ALL_FLAGS = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
             "restrictPublicBuckets": True}


def _pab_messages(resources):
    from policy_helpers import evaluate_stack

    outcome = evaluate_stack("s3-public-access-blocked", resources)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def test_an_account_block_with_all_four_flags_covers_buckets_without_their_own():
    assert _pab_messages([(BUCKET, {"bucket": "d"}, "d"), (ACCOUNT_PAB, ALL_FLAGS, "acct")]) == ([], [])


@pytest.mark.parametrize("flag", sorted(ALL_FLAGS))
def test_an_account_block_with_any_flag_off_or_unknown_covers_nothing(flag):
    for value in (False, UNKNOWN_VALUE):
        violations, _notes = _pab_messages([(BUCKET, {"bucket": "d"}, "d"),
                                            (ACCOUNT_PAB, {**ALL_FLAGS, flag: value}, "acct")])
        assert violations == ['bucket "d" has no BucketPublicAccessBlock (all four flags true)'], (flag, value)


def test_without_an_account_block_each_bucket_needs_its_own():
    assert _pab_messages([(BUCKET, {"bucket": "d"}, "d")])[0] == [
        'bucket "d" has no BucketPublicAccessBlock (all four flags true)']


@pytest.mark.parametrize("algorithm, passes", [("aws:kms", True), ("aws:kms:dsse", True), ("AES256", False)])
def test_both_kms_algorithms_with_a_customer_key_pass_the_cmk_rule(algorithm, passes):
    resources = [(BUCKET, {"bucket": "data"}, "data"), (SSE, {"bucket": "data", "rules": [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm,
                                                "kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1"}}]})]
    if passes:
        assert_stack_passes("s3-encryption-cmk", resources)
    else:
        assert [v.message for v in assert_stack_violates("s3-encryption-cmk", resources)] == [
            'bucket "data" uses AES256 default encryption; use aws:kms with a customer-managed key']


# --- s3-no-public-acl: every public ACL and grantee ------------------------------------------
@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_every_public_canned_acl_is_refused(acl):
    outcome = evaluate("s3-no-public-acl", BUCKET, {"bucket": "d", "acl": acl})
    assert [v.message for v in outcome.violations] == [
        f"canned ACL {acl!r} makes the bucket public; use private (or BucketOwnerEnforced ownership)"]


@pytest.mark.parametrize("group", ["AllUsers", "AuthenticatedUsers"])
def test_a_grant_to_either_public_group_is_refused(group):
    uri = f"http://acs.amazonaws.com/groups/global/{group}"
    outcome = evaluate("s3-no-public-acl", BUCKET, {"bucket": "d", "grants": [{"uri": uri, "type": "Group"}]})
    assert [v.message for v in outcome.violations] == [f"ACL grant to {group} makes the bucket public"]


def test_an_unknown_acl_is_a_note():
    outcome = evaluate("s3-no-public-acl", BUCKET, {"bucket": "d", "acl": UNKNOWN_VALUE})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["acl is not known yet"])


def test_a_bucket_block_names_every_flag_off_and_every_flag_unknown():
    violations, notes = _pab_messages([
        (BUCKET, {"bucket": "d"}, "d"),
        (PAB, {"bucket": "d", **ALL_FLAGS, "blockPublicAcls": False, "ignorePublicAcls": False,
               "blockPublicPolicy": UNKNOWN_VALUE, "restrictPublicBuckets": UNKNOWN_VALUE})])
    assert violations == ['bucket "d": public access block has blockPublicAcls, ignorePublicAcls not true']
    assert notes == ['bucket "d": blockPublicPolicy, restrictPublicBuckets not known yet']


# --- storage rules: every branch's exact words, and the resource each one names -------------------
LOGGING = "aws:s3/bucketLogging:BucketLogging"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
TIERING = "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1111"


def _stack(policy, resources, **kwargs):
    """(violations, notes) of a stack rule, each as (message, name of the resource it points at)."""
    from policy_helpers import evaluate_stack

    outcome = evaluate_stack(policy, resources, **kwargs)
    name = lambda urn: urn.rsplit("::", 1)[-1] if urn else None  # noqa: E731
    return ([(v.message, name(v.urn)) for v in outcome.violations], [(n.message, name(n.urn)) for n in outcome.notes])


def _sse(bucket: str, algorithm, key=None, name: str | None = None) -> tuple:
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key is not None else {})}
    return (SSE, {"bucket": bucket, "rules": [{"applyServerSideEncryptionByDefault": default}]}, name or f"{bucket}-sse")


def _logs_into(source: str, target: str) -> tuple:
    return (LOGGING, {"bucket": source, "targetBucket": target}, f"{source}-logging")


LOG_SOURCES = [(BUCKET, {"bucket": "a"}, "a"), _sse("a", "aws:kms", KEY_ARN), _logs_into("a", "logs"),
               (BUCKET, {"bucket": "b"}, "b"), _sse("b", "aws:kms", KEY_ARN), _logs_into("b", "logs"),
               (BUCKET, {"bucket": "logs"}, "logs")]


def test_a_log_target_without_encryption_names_every_bucket_logging_into_it():
    assert _stack("s3-encryption-cmk", LOG_SOURCES) == ([(
        'bucket "logs" receives server access logs from "a", "b" but declares no default encryption; declare '
        "SSE-S3 (AES256) explicitly", "logs")], [])


def test_a_log_target_encrypted_with_kms_names_every_source_and_the_algorithm():
    assert _stack("s3-encryption-cmk", [*LOG_SOURCES, _sse("logs", "aws:kms", KEY_ARN)]) == ([(
        'bucket "logs" is the access-log target of "a", "b": AWS cannot deliver server access logs to an SSE-KMS '
        "bucket, use AES256 (found 'aws:kms')", "logs")], [])
    assert _stack("s3-encryption-cmk", [*LOG_SOURCES, _sse("logs", "AES256")]) == ([], [])


def test_a_log_target_whose_algorithm_is_not_known_yet_is_a_note():
    assert _stack("s3-encryption-cmk", [*LOG_SOURCES, _sse("logs", UNKNOWN_VALUE)]) == (
        [], [('bucket "logs": sseAlgorithm is not known yet', "logs")])


@pytest.mark.parametrize("algorithm, key, violations, notes", [
    (None, None, ['bucket "data" uses no default encryption; use aws:kms with a customer-managed key'], []),
    ("", None, ['bucket "data" uses no default encryption; use aws:kms with a customer-managed key'], []),
    (UNKNOWN_VALUE, KEY_ARN, [], ['bucket "data": sseAlgorithm is not known yet']),
    ("aws:kms", UNKNOWN_VALUE, [], ['bucket "data": kmsMasterKeyId is not known yet']),
    ("aws:kms", None, ['bucket "data" uses aws:kms without kmsMasterKeyId (the AWS-managed aws/s3 key); set a '
                       "customer-managed key"], []),
])
def test_each_default_encryption_outcome_in_exact_words(algorithm, key, violations, notes):
    got = _stack("s3-encryption-cmk", [(BUCKET, {"bucket": "data"}, "data"), _sse("data", algorithm, key)])
    assert got == ([(m, "data") for m in violations], [(m, "data") for m in notes])


def test_an_encryption_setting_of_no_known_bucket_is_checked_on_its_own():
    got = _stack("s3-encryption-cmk", [(BUCKET, {"bucket": "data"}, "data"), _sse("data", "aws:kms", KEY_ARN),
                                       _sse("elsewhere", "AES256", name="stray-sse")])
    assert got == ([('bucket "stray-sse" uses AES256 default encryption; use aws:kms with a customer-managed key',
                     "stray-sse")], [])


def test_a_setting_whose_bucket_is_not_known_yet_is_a_note_naming_it():
    resources = [(BUCKET, {"bucket": "data"}, "data"), _sse("data", "aws:kms", KEY_ARN),
                 _sse(UNKNOWN_VALUE, "aws:kms", KEY_ARN, name="later-sse")]
    assert _stack("s3-encryption-cmk", resources) == ([], [("later-sse: the bucket it configures is not known yet",
                                                             "later-sse")])


def test_a_public_access_block_of_no_known_bucket_is_named_by_itself():
    block = (PAB, {"bucket": "elsewhere", **ALL_FLAGS, "ignorePublicAcls": False}, "stray-pab")
    assert _stack("s3-public-access-blocked", [block]) == (
        [('"stray-pab": public access block has ignorePublicAcls not true', "stray-pab")], [])


# --- s3-no-public-acl: grantees ---------------------------------------------------------------
@pytest.mark.parametrize("group", ["AllUsers", "AuthenticatedUsers"])
def test_a_public_group_uri_with_a_trailing_slash_is_the_same_group(group):
    grants = {"bucket": "d", "accessControlPolicy": {"grants": [
        {"grantee": {"type": "Group", "uri": f"http://acs.amazonaws.com/groups/global/{group}/"},
         "permission": "READ"}]}}
    outcome = evaluate("s3-no-public-acl", "aws:s3/bucketAclV2:BucketAclV2", grants)
    assert [v.message for v in outcome.violations] == [f"ACL grant to {group} makes the bucket public"]


@pytest.mark.parametrize("uri", ["http://acs.amazonaws.com/groups/s3/LogDelivery",
                                 "http://acs.amazonaws.com/groups/global/AllUsersGroup"])
def test_a_grant_to_another_group_passes(uri):
    assert_passes("s3-no-public-acl", BUCKET, {"bucket": "d", "grants": [{"uri": uri, "type": "Group"}]})


def test_a_grant_whose_grantee_is_not_known_yet_is_a_note():
    outcome = evaluate("s3-no-public-acl", BUCKET, {"bucket": "d", "grants": [{"uri": UNKNOWN_VALUE}]})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["a grant's grantee is not known yet"])


# --- s3-tls-only: every condition operator, an unlinked policy, undecidable statements -------------
def test_a_tls_deny_after_another_condition_operator_still_counts():
    resources = tls_statement("Deny")
    document = json.loads(resources[1][1]["policy"])
    document["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceVpce": "vpce-1"},
                                             "Bool": {"aws:SecureTransport": "false"}}
    resources[1][1]["policy"] = json.dumps(document)
    assert_stack_passes("s3-tls-only", resources)


def test_a_bucket_policy_of_no_known_bucket_is_checked_and_named_by_itself():
    public = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}
    resources = [(BUCKET, {"bucket": "data"}, "data"),
                 (POLICY, {"bucket": "data", "policy": tls_statement("Deny")[1][1]["policy"]}, "data-policy"),
                 (POLICY, {"bucket": "elsewhere", "policy": json.dumps({"Statement": [public]})}, "stray-policy")]
    assert _stack("s3-tls-only", resources) == ([
        ('bucket "stray-policy": policy allows Principal "*" (statement 1)', "stray-policy"),
        ('bucket "stray-policy": no bucket policy statement denies aws:SecureTransport=false', "stray-policy"),
    ], [])


def test_a_bucket_policy_statement_not_known_yet_is_a_note_naming_the_bucket():
    statement = {"Effect": UNKNOWN_VALUE, "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    deny = json.loads(tls_statement("Deny")[1][1]["policy"])["Statement"][0]
    resources = [(BUCKET, {"bucket": "data"}, "data"),
                 (POLICY, {"bucket": "data", "policy": {"Statement": [deny, statement]}}, "data-policy")]
    assert _stack("s3-tls-only", resources) == (
        [], [('bucket "data" policy statement 2: Effect or Principal is not known yet', "data-policy")])


# --- s3-versioning: which buckets hold data, and the inline flag ------------------------------------
def _versioning(*resources):
    return _stack("s3-versioning", list(resources))[0]


def test_a_purpose_tag_decides_over_the_name():
    # the tag wins both ways: a "data" bucket tagged as scratch, a "scratch" bucket tagged as models
    assert _versioning((BUCKET, {"bucket": "data", "tags": {"purpose": "scratch"}}, "data")) == []
    assert _versioning((BUCKET, {"bucket": "data", "tags": {"modelway:purpose": "scratch"}}, "data")) == []
    assert _versioning((BUCKET, {"bucket": "scratch", "tags": {"purpose": "models"}}, "scratch")) == [
        ('data/artifact/model bucket "scratch" does not have versioning Enabled', "scratch")]
    assert _versioning((BUCKET, {"bucket": "scratch", "tags": {"modelway:purpose": "models"}}, "scratch")) == [
        ('data/artifact/model bucket "scratch" does not have versioning Enabled', "scratch")]
    # no purpose tag (or tags that are not a mapping): the names decide
    assert _versioning((BUCKET, {"bucket": "data", "tags": {"owner": "ml"}}, "data")) == [
        ('data/artifact/model bucket "data" does not have versioning Enabled', "data")]


def test_the_logical_name_the_physical_name_and_the_prefix_each_mark_a_data_bucket():
    missing = 'data/artifact/model bucket {} does not have versioning Enabled'
    assert _versioning((BUCKET, {}, "models")) == [(missing.format('"models"'), "models")]
    assert _versioning((BUCKET, {"bucket": "ml-data"}, "store")) == [(missing.format('"store" (ml-data)'), "store")]
    assert _versioning((BUCKET, {"bucketPrefix": "checkpoints-"}, "store")) == [(missing.format('"store"'), "store")]
    assert _versioning((BUCKET, {"bucketPrefix": "scratch-"}, "store")) == []


def test_a_data_bucket_that_receives_access_logs_needs_no_versioning():
    assert _versioning((BUCKET, {"bucket": "app"}, "app"), _logs_into("app", "data-logs"),
                       (BUCKET, {"bucket": "data-logs"}, "data-logs")) == []


def test_every_bucket_is_checked_after_one_that_needs_no_versioning():
    assert _versioning((BUCKET, {"bucket": "scratch"}, "scratch"), (BUCKET, {"bucket": "raw-data"}, "raw-data")) == [
        ('data/artifact/model bucket "raw-data" does not have versioning Enabled', "raw-data")]


@pytest.mark.parametrize("enabled, violations, notes", [
    (True, [], []),
    (False, ['data/artifact/model bucket "data" does not have versioning Enabled'], []),
    (UNKNOWN_VALUE, [], ['bucket "data": versioning status is not known yet']),
])
def test_inline_versioning_enabled_off_or_not_known(enabled, violations, notes):
    got = _stack("s3-versioning", [(BUCKET, {"bucket": "data", "versioning": {"enabled": enabled}}, "data")])
    assert got == ([(m, "data") for m in violations], [(m, "data") for m in notes])


def test_a_versioning_status_not_known_yet_is_a_note():
    side = (VERSIONING, {"bucket": "data", "versioningConfiguration": {"status": UNKNOWN_VALUE}}, "data-versioning")
    assert _stack("s3-versioning", [(BUCKET, {"bucket": "data"}, "data"), side]) == (
        [], [('bucket "data": versioning status is not known yet', "data")])


# --- s3-access-logging ----------------------------------------------------------------------------
def test_every_bucket_after_the_log_bucket_is_still_checked():
    resources = [(BUCKET, {"bucket": "logs"}, "logs"), (BUCKET, {"bucket": "data"}, "data"),
                 _logs_into("data", "logs"), (BUCKET, {"bucket": "other"}, "other")]
    assert _stack("s3-access-logging", resources) == ([
        ('bucket "other" has no server access logging (BucketLogging or inline logging)', "other")], [])


# --- s3-lifecycle-tiering: each tiering key, intelligent tiering ----------------------------------------
@pytest.mark.parametrize("key", ["transitions", "noncurrentVersionTransitions", "noncurrentVersionTransition",
                                 "noncurrentVersionExpiration", "expiration", "transition"])
def test_each_tiering_key_of_an_enabled_rule_counts(key):
    rules = [{"id": "r", "status": "Enabled", key: [{"days": 30}]}]
    assert _stack("s3-lifecycle-tiering", [(BUCKET, {"bucket": "d"}, "d"),
                                           (LIFECYCLE, {"bucket": "d", "rules": rules}, "d-lc")]) == ([], [])
    no_tiering = [{"id": "r", "status": "Enabled", "filter": {"prefix": "tmp/"}}]
    assert _stack("s3-lifecycle-tiering", [(BUCKET, {"bucket": "d"}, "d"),
                                           (LIFECYCLE, {"bucket": "d", "rules": no_tiering}, "d-lc")])[0] == [
        ('bucket "d" has no lifecycle rule moving older objects to cheaper tiers or expiring noncurrent versions', "d")]


@pytest.mark.parametrize("props, ok", [({}, True), ({"status": "Enabled"}, True), ({"status": "Disabled"}, False)])
def test_intelligent_tiering_counts_unless_disabled(props, ok):
    got = _stack("s3-lifecycle-tiering", [(BUCKET, {"bucket": "d"}, "d"),
                                          (TIERING, {"bucket": "d", "name": "all", **props}, "d-tiering")])
    assert got == ([] if ok else [('bucket "d" has no lifecycle rule moving older objects to cheaper tiers or '
                                   "expiring noncurrent versions", "d")], [])


# --- kms ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("props", [{"keySpec": "RSA_2048"}, {"customerMasterKeySpec": "ECC_NIST_P256"}])
def test_an_asymmetric_key_needs_no_rotation_whichever_spec_field(props):
    assert_passes("kms-key-rotation", KEY_TYPE, props)


def test_a_rotation_not_known_yet_is_a_note():
    outcome = evaluate("kms-key-rotation", KEY_TYPE, {"enableKeyRotation": UNKNOWN_VALUE})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["enableKeyRotation is not known yet"])


def test_a_key_policy_statement_not_known_yet_is_a_note():
    statement = {"Effect": UNKNOWN_VALUE, "Principal": "*", "Action": "kms:*", "Resource": "*"}
    outcome = evaluate("kms-no-public-principal", KEY_TYPE, {"policy": {"Statement": [statement]}})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["key policy statement 1: Effect or Principal is not known yet"])


@pytest.mark.parametrize("props", [{"customerMasterKeySpec": UNKNOWN_VALUE}, {"keySpec": UNKNOWN_VALUE},
                                   {"customerMasterKeySpec": UNKNOWN_VALUE, "keySpec": "SYMMETRIC_DEFAULT"}])
def test_a_key_spec_not_known_yet_is_a_note_even_without_rotation(props):
    # an asymmetric key cannot rotate: until the spec is known, a missing rotation is not a violation
    outcome = evaluate("kms-key-rotation", KEY_TYPE, props)
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["keySpec is not known yet"])


@pytest.mark.parametrize("props", [{}, {"keySpec": "SYMMETRIC_DEFAULT"}, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}])
def test_a_symmetric_key_without_rotation_is_a_violation(props):
    assert assert_violates("kms-key-rotation", KEY_TYPE, {**props, "enableKeyRotation": False}) == [
        "enableKeyRotation is not true"]


@pytest.mark.parametrize("grant", [{"grantee": {"type": "Group", "uri": UNKNOWN_VALUE}, "permission": "READ"},
                                   {"grantee": UNKNOWN_VALUE, "permission": "READ"}])
def test_a_nested_grantee_not_known_yet_is_a_note(grant):
    outcome = evaluate("s3-no-public-acl", "aws:s3/bucketAclV2:BucketAclV2",
                       {"bucket": "d", "accessControlPolicy": {"grants": [grant]}})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ["a grant's grantee is not known yet"])


# --- the checker's engine: where each finding and note points, what every policy is given -----------------
NO_POLICY_TYPE = "random:index/randomId:RandomId"  # no resource policy looks at it
REGISTRY_NOTE = ("no model families are declared (stack config modelway:registries or policy parameter "
                 "modelFamilies) and no pipeline registers models")


def _budget(report: Report) -> Finding:
    [budget] = [f for f in report.violations if f.policy == "budget-exists"]  # a stack finding naming no resource
    return budget


def test_a_stack_finding_is_the_stack_of_the_project_the_urns_name():
    budget = _budget(check(rendered(bad_key()), PackSettings.defaults(), today=EXPIRES))
    assert (budget.resource_type, budget.urn, budget.name, budget.file, budget.line) == (
        "pulumi:pulumi:Stack", "urn:pulumi:prod::demo::pulumi:pulumi:Stack::demo-prod", "demo-prod", "", 0)


@pytest.mark.parametrize("project, expected", [("", "project"), ("infra", "infra")])
def test_without_a_pulumi_urn_the_stack_is_named_by_the_given_project(project, expected):
    odd = RenderedResource(NO_POLICY_TYPE, "x", "arn:aws:s3:::other::x", "", {})  # "::" but not a Pulumi URN
    kwargs = {"project": project} if project else {}
    for result in (rendered(), rendered(odd)):
        budget = _budget(check(result, PackSettings.defaults(), today=EXPIRES, **kwargs))
        assert (budget.urn, budget.name) == (f"urn:pulumi:prod::{expected}::pulumi:pulumi:Stack::{expected}-prod",
                                             f"{expected}-prod")
    # the first Pulumi URN decides, after resources without one
    budget = _budget(check(rendered(odd, bad_key()), PackSettings.defaults(), today=EXPIRES, **kwargs))
    assert budget.urn == "urn:pulumi:prod::demo::pulumi:pulumi:Stack::demo-prod"


def test_a_finding_points_at_the_resource_a_rule_names_with_its_declaring_line():
    bucket = RenderedResource("aws:s3/bucket:Bucket", "data", "urn:pulumi:prod::demo::aws:s3/bucket:Bucket::data", "",
                              {"bucket": "data", "tags": TAGS}, file="infra/storage.py", line=42)
    key = RenderedResource(KEY_TYPE, "k", "urn:pulumi:prod::demo::aws:kms/key:Key::k", "",
                           {"enableKeyRotation": False, "tags": TAGS}, file="infra/kms.py", line=7)
    report = check(rendered(bucket, key), PackSettings.defaults(), today=EXPIRES)
    found = {(f.policy, f.resource_type, f.urn, f.name, f.file, f.line) for f in report.violations}
    # a stack rule's violation (s3-encryption-cmk) and a resource rule's (kms-key-rotation) alike
    assert ("s3-encryption-cmk", "aws:s3/bucket:Bucket", bucket.urn, "data", "infra/storage.py", 42) in found
    assert ("kms-key-rotation", KEY_TYPE, key.urn, "k", "infra/kms.py", 7) in found


def test_a_note_is_a_warning_naming_the_resource_or_else_the_stack():
    key = res(KEY_TYPE, "k", {"enableKeyRotation": UNKNOWN_VALUE, "tags": TAGS})
    report = check(rendered(key), PackSettings.defaults(), today=EXPIRES)
    assert "kms-key-rotation: not evaluated on urn:pulumi:prod::demo::aws:kms/key:Key::k: enableKeyRotation is not " \
           "known yet" in report.warnings
    assert (f"model-registry-per-model: not evaluated on urn:pulumi:prod::demo::pulumi:pulumi:Stack::demo-prod: "
            f"{REGISTRY_NOTE}") in report.warnings


def test_every_resource_is_checked_after_one_no_resource_policy_applies_to():
    report = check(rendered(res(NO_POLICY_TYPE, "id", {}), bad_key()), PackSettings.defaults(), today=EXPIRES)
    assert [(f.policy, f.name) for f in report.violations if f.policy == "kms-key-rotation"] == [
        ("kms-key-rotation", "bad-key")]


def test_a_skipped_policy_runs_nowhere_and_is_named_in_a_warning():
    from modelway.policy_check.selection import Selection

    report = check(rendered(bad_key()), PackSettings.defaults(), today=EXPIRES,
                   selection=Selection(skip=("kms-key-rotation",)))
    assert not [f for f in report.violations if f.policy == "kms-key-rotation"]
    assert "1 policies not run (--check/--skip-check): kms-key-rotation" in report.warnings
    assert "kms-key-rotation" not in [p.name for p in report.policies]


PROVIDER = "urn:pulumi:prod::demo::pulumi:providers:aws::tagged"
DEFAULT_TAGS = json.dumps({"tags": TAGS})  # the engine passes object-valued provider settings as JSON text


def _untagged_key(provider: str = "") -> RenderedResource:
    return RenderedResource(KEY_TYPE, "k", "urn:pulumi:prod::demo::aws:kms/key:Key::k", "",
                            {"enableKeyRotation": True}, provider=provider)


def _required_tags(result: RenderResult) -> list[str]:
    return [f.name for f in check(result, PackSettings.defaults(), today=EXPIRES).violations
            if f.policy == "required-tags"]


def test_the_explicit_provider_s_inputs_are_what_a_policy_sees_as_its_provider():
    provider = RenderedResource("pulumi:providers:aws", "tagged", PROVIDER, "", {"defaultTags": DEFAULT_TAGS})
    result = RenderResult("prod", [provider, _untagged_key(PROVIDER)], {}, [], {})
    assert _required_tags(result) == []
    report = check(result, PackSettings.defaults(), today=EXPIRES)
    assert (report.resources, report.providers) == (1, 1)  # providers are counted apart, never checked
    # the default provider's config does not apply to a resource with its own provider
    untagged = RenderedResource("pulumi:providers:aws", "tagged", PROVIDER, "", {})
    assert _required_tags(RenderResult("prod", [untagged, _untagged_key(PROVIDER)], {}, [],
                                       {"aws:defaultTags": DEFAULT_TAGS})) == ["k"]


@pytest.mark.parametrize("provider", ["", "urn:pulumi:prod::demo::pulumi:providers:aws::not-rendered"])
def test_otherwise_the_stack_config_of_the_resource_s_package_is_its_provider(provider):
    assert _required_tags(RenderResult("prod", [_untagged_key(provider)], {}, [],
                                       {"aws:defaultTags": DEFAULT_TAGS})) == []
    # another package's config is not the aws provider's
    assert _required_tags(RenderResult("prod", [_untagged_key(provider)], {}, [],
                                       {"gcp:defaultTags": DEFAULT_TAGS})) == ["k"]


def test_every_policy_is_given_each_resource_s_parent(monkeypatch):
    from modelway.policies import core

    seen: dict[str, set] = {"resource": set(), "stack": set()}
    resource_evaluate, stack_evaluate = core.ResourceRule.evaluate, core.StackRule.evaluate

    def spy_resource(self, args):
        seen["resource"].add((args.name, args.opts.parent))
        return resource_evaluate(self, args)

    def spy_stack(self, args):
        seen["stack"].update((r.name, r.opts.parent) for r in args.resources)
        return stack_evaluate(self, args)

    monkeypatch.setattr(core.ResourceRule, "evaluate", spy_resource)
    monkeypatch.setattr(core.StackRule, "evaluate", spy_stack)
    component = "urn:pulumi:prod::demo::modelway:storage:Store::store"
    child = RenderedResource(KEY_TYPE, "child", "urn:pulumi:prod::demo::aws:kms/key:Key::child", component, {})
    check(rendered(child, bad_key("top")), PackSettings.defaults(), today=EXPIRES)
    assert seen == {"resource": {("child", component), ("top", None)}, "stack": {("child", component), ("top", None)}}


def test_min_level_hides_lower_findings_and_waived_ones_and_says_how_many():
    from modelway.policy_check.selection import Selection

    key = res(KEY_TYPE, "bad-key", {"enableKeyRotation": False})  # untagged: required-tags (mandatory) too
    waiver_for_tags = Waiver("required-tags", "urn:*", "tags come from the account", "sec@example.com", EXPIRES)
    settings = PackSettings.defaults()
    settings.levels["kms-key-rotation"] = "advisory"
    everything = check(rendered(key), settings, waivers=[waiver_for_tags], today=EXPIRES)
    assert sorted((f.policy, f.level) for f in everything.violations) == [("budget-exists", "advisory"),
                                                                         ("kms-key-rotation", "advisory")]
    assert [w.finding.policy for w in everything.waived] == ["required-tags"]
    assert not any("--min-level" in w for w in everything.warnings)
    shown = check(rendered(key), settings, waivers=[waiver_for_tags], today=EXPIRES,
                  selection=Selection(min_level="mandatory"))
    assert (shown.violations, [w.finding.policy for w in shown.waived]) == ([], ["required-tags"])
    assert "2 findings below --min-level mandatory not shown" in shown.warnings
    settings.levels["required-tags"] = "advisory"  # now the waived finding is below the level too
    shown = check(rendered(key), settings, waivers=[waiver_for_tags], today=EXPIRES,
                  selection=Selection(min_level="mandatory"))
    assert (shown.violations, shown.waived) == ([], [])


def test_an_expired_waiver_is_one_exact_warning():
    report = check(rendered(bad_key()), PackSettings.defaults(), waivers=[waiver()],
                   today=EXPIRES + datetime.timedelta(days=1))
    assert [w for w in report.warnings if "waiver" in w] == [
        "waiver for kms-key-rotation on urn:pulumi:prod::demo::aws:kms/key:Key::bad-* (approved by sec@example.com) "
        "expired on 2027-01-31; its violations count again"]


def test_a_stack_policy_sees_the_engine_id_unless_the_inputs_carry_one(monkeypatch):
    from modelway.policies import core

    seen = {}
    stack_evaluate = core.StackRule.evaluate

    def spy(self, args):
        seen.update({r.name: r.props.get("id", "absent") for r in args.resources})
        return stack_evaluate(self, args)

    monkeypatch.setattr(core.StackRule, "evaluate", spy)
    with_id = RenderedResource("aws:s3/bucket:Bucket", "a", "urn:pulumi:prod::demo::aws:s3/bucket:Bucket::a", "",
                               {"tags": TAGS}, id="a-1a2b3c4")
    own_id = RenderedResource("aws:s3/bucket:Bucket", "b", "urn:pulumi:prod::demo::aws:s3/bucket:Bucket::b", "",
                              {"tags": TAGS, "id": "from-inputs"}, id="b-5d6e7f8")
    no_id = RenderedResource("aws:s3/bucket:Bucket", "c", "urn:pulumi:prod::demo::aws:s3/bucket:Bucket::c", "",
                             {"tags": TAGS})
    check(rendered(with_id, own_id, no_id), PackSettings.defaults(), today=EXPIRES)
    assert seen == {"a": "a-1a2b3c4", "b": "from-inputs", "c": "absent"}


def test_the_report_describes_each_policy_that_ran():
    report = check(rendered(bad_key()), PackSettings.defaults(), today=EXPIRES)
    info = {p.name: p for p in report.policies}
    assert (info["kms-no-public-principal"].severity, info["kms-no-public-principal"].level,
            info["kms-no-public-principal"].concern, info["kms-no-public-principal"].mirrors) == (
        "critical", "mandatory", "storage", ("CKV_AWS_33",))
    assert info["kms-key-rotation"].remediation == "Set enableKeyRotation=True on the aws.kms.Key."
    assert info["s3-lifecycle-tiering"].severity == "low"
