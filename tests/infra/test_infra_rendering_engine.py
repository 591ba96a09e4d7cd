"""render_program on arbitrary Pulumi Python programs (what the policy checker relies on)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.rendering import render_program
from modelway.rendering.policy_documents import policy_document

PROGRAM = '''
import os
import pulumi
import pulumi_aws as aws

cfg = pulumi.Config()
sizes = cfg.require_object("sizes")
provider = aws.Provider("tagged", region="eu-central-1", default_tags={"tags": {"owner": "me"}})
key = aws.kms.Key("key", enable_key_rotation=True, deletion_window_in_days=30,
                  opts=pulumi.ResourceOptions(provider=provider, protect=True))
bucket = aws.s3.Bucket("bucket", opts=pulumi.ResourceOptions(provider=provider, retain_on_delete=True))
doc = aws.iam.get_policy_document_output(statements=[{
    "sid": "Read", "actions": ["s3:GetObject", "s3:ListBucket"],
    "resources": [bucket.arn.apply(lambda a: a + "/*")],
    "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}],
    "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]}],
}])
aws.s3.BucketPolicy("policy", bucket=bucket.id, policy=doc.json, opts=pulumi.ResourceOptions(provider=provider))
pulumi.export("key_arn", key.arn)
pulumi.export("sizes", sizes)
pulumi.export("account", aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id)
pulumi.export("region", aws.get_region_output(opts=pulumi.InvokeOutputOptions(provider=provider)).region)
pulumi.log.warn("a warning from the program")
mode = os.environ.get("RENDER_TEST_MODE", "")
if mode == "raise":
    raise RuntimeError("boom in the program")
if mode == "unknown-invoke":
    pulumi.export("zone", aws.route53.get_zone_output(name="example.com").zone_id)
if mode == "apply-error":
    bucket.arn.apply(lambda arn: int(arn))
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.yaml").write_text("name: sample\nruntime:\n  name: python\nmain: src/\n")
    (tmp_path / "Pulumi.test.yaml").write_text(textwrap.dedent("""\
        config:
          sample:sizes:
            small: 1
            large: [2, 3]
        """))
    return tmp_path


def test_renders_resources_outputs_and_warnings(project):
    result = render_program(project, "test", strict_invokes=True)
    by_name = {r.name: r for r in result.resources}
    assert set(by_name) == {"tagged", "key", "bucket", "policy"}
    key = by_name["key"]
    assert key.type == "aws:kms/key:Key"
    assert key.inputs == {"enableKeyRotation": True, "deletionWindowInDays": 30}  # camelCase, ints stay ints
    assert key.protect and by_name["bucket"].retain_on_delete
    assert key.urn == "urn:pulumi:test::sample::aws:kms/key:Key::key"
    assert key.parent == "urn:pulumi:test::sample::pulumi:pulumi:Stack::sample-test"
    assert key.provider == by_name["tagged"].urn
    assert json.loads(by_name["tagged"].inputs["defaultTags"]) == {"tags": {"owner": "me"}}
    assert result.outputs["sizes"] == {"small": 1, "large": [2, 3]}
    assert result.outputs["key_arn"].startswith("arn:aws:kms:eu-central-1:123456789012:key/")
    assert result.outputs["account"] == "123456789012"
    assert result.outputs["region"] == "eu-central-1"  # the invoke's provider, not the default region
    assert result.warnings == ["a warning from the program"]
    assert result.config["sample:sizes"] == json.dumps({"small": 1, "large": [2, 3]})


def test_get_policy_document_returns_the_real_json(project):
    result = render_program(project, "test", strict_invokes=True)
    (policy,) = [r for r in result.resources if r.name == "policy"]
    bucket = policy.inputs["bucket"]
    assert json.loads(policy.inputs["policy"]) == {"Version": "2012-10-17", "Statement": [{
        "Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": f"arn:aws:s3:::{bucket}/*", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}


def test_program_error_names_file_and_line(project, monkeypatch):
    monkeypatch.setenv("RENDER_TEST_MODE", "raise")
    with pytest.raises(UserError) as excinfo:
        render_program(project, "test", strict_invokes=True)
    line = PROGRAM.splitlines().index('    raise RuntimeError("boom in the program")') + 1
    assert str(excinfo.value) == f"src/__main__.py:{line}: RuntimeError: boom in the program"


def test_error_inside_apply_names_the_program_line(project, monkeypatch):
    monkeypatch.setenv("RENDER_TEST_MODE", "apply-error")
    with pytest.raises(UserError, match=r"^src/__main__\.py:\d+: ValueError: invalid literal for int"):
        render_program(project, "test", strict_invokes=False)


@pytest.mark.parametrize(("source", "message"), [
    ("import pulumi\n\ndef broken(:\n    pass\n", "src/__main__.py:3: SyntaxError: invalid syntax"),
    ("import sys\nsys.exit(4)\n", "src/__main__.py: the program called exit(4)"),
])
def test_syntax_error_and_exit_name_the_program_file(project, source, message):
    from modelway.rendering.engine import render_in_process
    from modelway.rendering.project import load_program_spec

    (project / "src" / "__main__.py").write_text(source)
    with pytest.raises(UserError) as excinfo:
        render_in_process(load_program_spec(project, "test"), strict_invokes=True)
    assert str(excinfo.value).startswith(message)


def test_unknown_invoke_fails_in_strict_mode_and_warns_in_checker_mode(project, monkeypatch):
    monkeypatch.setenv("RENDER_TEST_MODE", "unknown-invoke")
    with pytest.raises(UserError, match=r"^src/__main__\.py: unknown invoke aws:route53/getZone:getZone"):
        render_program(project, "test", strict_invokes=True)
    result = render_program(project, "test", strict_invokes=False)
    assert any("unknown invoke aws:route53/getZone:getZone" in w for w in result.warnings)
    assert result.outputs["zone"] is None


def test_missing_project_or_stack_is_a_user_error(tmp_path, project):
    with pytest.raises(UserError, match="no Pulumi.yaml here"):
        render_program(tmp_path / "nowhere", "dev", strict_invokes=True)
    # As with the Pulumi CLI, a stack without its Pulumi.<stack>.yaml simply has no stack config.
    from modelway.rendering.project import load_program_spec

    spec = load_program_spec(project, "prod")
    assert spec.stack == "prod" and spec.config == {}
    assert spec.warnings == ["Pulumi.prod.yaml not found: stack prod has no stack config (stack files here: test)"]
    (project / "Pulumi.yaml").write_text("name: sample\nruntime: nodejs\n")
    with pytest.raises(UserError, match="only Python programs can be rendered"):
        render_program(project, "test", strict_invokes=True)


def test_malformed_project_or_stack_file_is_a_user_error(project):
    from modelway.rendering.project import load_program_spec

    (project / "Pulumi.test.yaml").write_text("- sample:sizes\n- 3\n")
    with pytest.raises(UserError, match=r"Pulumi\.test\.yaml: expected a mapping with a `config:` section$"):
        load_program_spec(project, "test")
    (project / "Pulumi.yaml").write_text("name: sample\nruntime: python\nmain: src/\nconfig: [a, b]\n")
    with pytest.raises(UserError, match=r"Pulumi\.yaml: `config:` must be a mapping of keys to values$"):
        load_program_spec(project, None)


def test_duplicate_keys_in_project_or_stack_file_are_refused(project):
    from modelway.rendering.project import load_program_spec

    (project / "Pulumi.test.yaml").write_text("config:\n  sample:sizes: 1\n  aws:region: eu-west-1\n  sample:sizes: 2\n")
    with pytest.raises(UserError) as excinfo:
        load_program_spec(project, "test")
    assert str(excinfo.value) == (f"{project / 'Pulumi.test.yaml'}:4: duplicate key 'sample:sizes' "
                                  "(the first is on line 2)")
    (project / "Pulumi.test.yaml").write_text("config:\n  sample:released: 2027-06-30\n")
    assert load_program_spec(project, "test").config["sample:released"] == "2027-06-30"  # kept as text
    (project / "Pulumi.yaml").write_text("name: sample\nruntime: python\nmain: src/\nname: other\n")
    with pytest.raises(UserError, match=r"Pulumi\.yaml:4: duplicate key 'name' \(the first is on line 1\)$"):
        load_program_spec(project, None)


def test_policy_document_merges_principals_conditions_and_overrides():
    source = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*"},
        {"Sid": "B", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::a/*"}]})
    document = policy_document({
        "sourcePolicyDocuments": [source],
        "statements": [{"sid": "B", "effect": "Deny", "actions": ["s3:*"], "resources": ["arn:aws:s3:::a/*"],
                        "principals": [{"type": "*", "identifiers": ["*"]}],
                        "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]}],
    })
    assert document["Statement"][0]["Sid"] == "A"
    assert document["Statement"][1] == {
        "Sid": "B", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::a/*", "Principal": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
