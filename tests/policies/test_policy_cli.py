"""``modelway policy check`` end to end, in subprocesses: the misconfigured sample program, this
repository's own infra in every environment, render failures and bad arguments.

Each call renders a program in a fresh process, so the number of calls is kept small.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from policy_helpers import validate_sarif

from policies.catalog import ALL_POLICIES

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MISCONFIGURED = FIXTURES / "misconfigured"

# Every mandatory rule the sample program breaks on purpose (see the comments in its __main__.py).
EXPECTED_MANDATORY = {
    "kms-key-rotation", "s3-encryption-cmk", "s3-public-access-blocked", "s3-no-public-acl", "s3-tls-only",
    "s3-versioning", "iam-trust-not-public", "iam-no-admin-wildcard", "iam-passrole-scoped",
    "iam-no-admin-managed-policy", "ec2-imdsv2-required", "ec2-no-public-ip", "ec2-ebs-encrypted",
    "ec2-no-secrets-in-user-data", "eks-secrets-encryption", "eks-no-open-public-endpoint", "ecr-immutable-tags",
    "ecr-scan-on-push", "sagemaker-endpoint-kms", "k8s-rbac-no-wildcards", "k8s-rbac-no-escalation-verbs",
    "k8s-no-privileged", "k8s-no-host-path", "required-tags",
    "k8s-no-latest-tag",  # busybox:1.36 is a tag, and the default (prod) level requires a digest
    # its Kubernetes resources use the default provider, i.e. the ambient kubeconfig (issue 12)
    "k8s-provider-explicit-kubeconfig",
}


def modelway(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_misconfigured_program_fails_with_expected_violations_and_honours_waivers(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- policy: kms-key-rotation\n"
        "  urn: 'urn:pulumi:*::misconfigured::aws:kms/key:Key::data-key'\n"
        "  reason: key material is imported; rotation is manual and audited\n"
        "  approver: security@example.com\n"
        "  expires: 2099-12-31\n")
    proc = modelway("policy", "check", str(MISCONFIGURED), "--format", "json", "--waivers", str(waivers))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    mandatory = {v["policy"] for v in report["violations"] if v["level"] == "mandatory"}
    assert mandatory == EXPECTED_MANDATORY - {"kms-key-rotation"}
    assert [w["policy"] for w in report["waived"]] == ["kms-key-rotation"]
    wildcard = [v for v in report["violations"] if v["policy"] == "k8s-rbac-no-wildcards"]
    assert [v["message"] for v in wildcard] == ['rule 2 has "*" in resources']
    # the IAM document came from aws.iam.get_policy_document: the mocks built its real JSON
    admin = [v for v in report["violations"] if v["policy"] == "iam-no-admin-wildcard"]
    assert admin[0]["name"] == "trainer-admin" and "Everything" in admin[0]["message"]
    assert report["resources"] >= 15
    # an invoke the mocks cannot answer is a warning in the report, not a crash
    assert any("aws:route53/getZone:getZone" in w for w in report["warnings"]), report["warnings"]


def test_misconfigured_program_sarif_is_valid_with_waived_findings_suppressed(tmp_path):
    out = tmp_path / "policy.sarif"
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "- policy: ecr-scan-on-push\n"
        "  urn: '*'\n"
        "  reason: images are scanned by the registry's nightly job\n"
        "  approver: security@example.com\n"
        "  expires: 2099-12-31\n")
    proc = modelway("policy", "check", str(MISCONFIGURED), "--stack", "prod", "--format", "sarif", "-o", str(out),
                    "--waivers", str(waivers))
    assert proc.returncode == 1, proc.stderr
    log = validate_sarif(json.loads(out.read_text()))
    results = log.runs[0].results
    assert {r.ruleId for r in results if r.level.value == "error" and not r.suppressions} == (
        EXPECTED_MANDATORY - {"ecr-scan-on-push"})
    suppressed = [r for r in results if r.suppressions]
    assert {r.ruleId for r in suppressed} == {"ecr-scan-on-push"}
    assert all((s.kind.value, s.state.value) == ("external", "accepted") for r in suppressed for s in r.suppressions)
    assert all(r.locations[0].physicalLocation.artifactLocation.uri.endswith("misconfigured/__main__.py")
               for r in results)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_own_infra_passes_every_mandatory_rule(env):
    proc = modelway("policy", "check", "--stack", env, "--format", "json")
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    mandatory = [f"{v['policy']} {v['name']}: {v['message']}" for v in report.get("violations", [])
                 if v["level"] == "mandatory"]
    assert mandatory == [] and proc.returncode == 0, proc.stderr or mandatory
    assert report["resources"] > 50
    if env == "prod":
        # render and check count the same things: resources, and the explicit providers apart
        rendered = subprocess.run([sys.executable, "-m", "modelway.cli.main", "render", "--stack", env,
                                   "--format", "json"], cwd=REPO, capture_output=True, text=True, timeout=300)
        types = [r["type"] for r in json.loads(rendered.stdout)["resources"]]
        providers = sum(t.startswith("pulumi:providers:") for t in types)
        assert (report["resources"], report["providers"]) == (len(types) - providers, providers)
        assert providers == 2  # the aws and kubernetes providers the program declares
        table = modelway("render", "--stack", env)
        assert f"stack prod: {report['resources']} resources + 2 providers" in table.stdout
        check = modelway("policy", "check", "--stack", env)
        assert check.stdout.strip().splitlines()[-1].startswith(
            f"PASS project modelway (.), stack prod: {report['resources']} resources + 2 providers, "
            f"{len(ALL_POLICIES)} policies, 0 mandatory")


def test_stack_without_its_stack_file_is_checked_with_no_stack_config():
    proc = modelway("policy", "check", str(MISCONFIGURED), "--stack", "dev", "--format", "json")
    assert proc.returncode == 1, proc.stderr  # rendered and checked (violations), not a usage error
    report = json.loads(proc.stdout)
    assert "Pulumi.dev.yaml not found: stack dev has no stack config (stack files here: prod)" in report["warnings"]
    assert report["violations"]


def test_render_failure_is_exit_2_naming_the_file():
    proc = modelway("policy", "check", str(FIXTURES / "broken"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: __main__.py:5: RuntimeError: bucket settings missing: set data_bucket in the stack config"]


def test_rejected_waivers_and_bad_arguments_are_exit_2(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("- policy: kms-key-rotation\n  urn: '*'\n  reason: legacy\n  expires: 2099-01-01\n")
    proc = modelway("policy", "check", str(MISCONFIGURED), "--waivers", str(waivers))
    assert proc.returncode == 2 and "missing approver" in proc.stderr
    proc = modelway("policy", "check", "--format", "xml")
    assert proc.returncode == 2 and "choose one of table, json, sarif, junit, github" in proc.stderr
    proc = modelway("policy", "check", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "nowhere" in proc.stderr


def test_check_program_renders_and_evaluates_in_one_subprocess(tmp_path):
    # The calling process never imports Pulumi or the pack; errors from the worker still name
    # the files the way the caller spelled them.
    (tmp_path / "waivers.yaml").write_text(
        "- {policy: no-such-policy, urn: '*', reason: r, approver: a, expires: 2099-01-01}\n")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from modelway.errors import UserError\n"
        "from modelway.policy_check import check_program\n"
        f"report = check_program(Path({str(MISCONFIGURED)!r}))\n"
        "try:\n"
        "    check_program(Path({0!r}), waivers=Path('waivers.yaml'))\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
        "print(len({f.policy for f in report.mandatory}), sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi', 'pulumi_policy', 'pulumi_aws', 'policies') or m.startswith('modelway.policies')))\n"
    ).replace("{0!r}", repr(str(MISCONFIGURED)))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    error, summary = proc.stdout.strip().splitlines()
    assert error == "waivers.yaml: waiver 1: unknown policy 'no-such-policy'", proc.stderr
    assert summary == f"{len(EXPECTED_MANDATORY)} []"


def test_report_that_cannot_be_written_is_one_line_user_error(tmp_path):
    from modelway.cli.policy import _write_atomically
    from modelway.errors import UserError

    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"file/report\.sarif: .*file is not a directory$"):
        _write_atomically(tmp_path / "file" / "report.sarif", "{}")
    with pytest.raises(UserError, match=r"missing/report\.sarif: directory .*missing does not exist; create it first$"):
        _write_atomically(tmp_path / "missing" / "report.sarif", "{}")
    assert not (tmp_path / "missing").exists()  # parents are not created behind the user's back
    (tmp_path / "out").mkdir()
    _write_atomically(tmp_path / "out" / "report.sarif", "{}\n")
    assert (tmp_path / "out" / "report.sarif").read_text() == "{}\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.sarif"]  # no temp file left


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_report_file_gets_normal_permissions(tmp_path, umask, mode):
    import os
    import stat

    from modelway.cli.policy import _write_atomically

    old = os.umask(umask)
    try:
        _write_atomically(tmp_path / "report.sarif", "{}\n")
        _write_atomically(tmp_path / "report.sarif", "{}\n")  # replacing keeps the same mode
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.sarif").stat().st_mode) == mode


def test_cli_output_into_missing_directory_exits_2_before_rendering(tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "p.sarif"
    proc = modelway("policy", "check", "--stack", "prod", "--format", "sarif", "--output", str(target))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {target}: directory {target.parent} does not exist; create it first"]
    assert not (tmp_path / "nonexistent").exists()


def test_shipped_waivers_example_loads_and_targets_real_resources():
    import datetime
    import fnmatch

    from modelway.policy_check.config import PackSettings
    from modelway.policy_check.waivers import load_waivers
    from modelway.rendering import render_program

    example = REPO / "policies" / "waivers.example.yaml"
    waivers = load_waivers(example, PackSettings.defaults().levels)
    assert waivers and all(w.expires > datetime.date.today() for w in waivers)
    urns = [r.urn for r in render_program(REPO, "prod", strict_invokes=False).resources]
    for waiver in waivers:
        assert any(fnmatch.fnmatchcase(u, waiver.urn) for u in urns), f"{waiver.urn} matches no prod resource"
    docs = (REPO / "README.md").read_text()
    assert "--waivers policies/waivers.example.yaml" in docs and "policies/waivers.yaml --" not in docs
