"""``modelway policy check`` flags a Checkov/Trivy user expects, and the render child's process hygiene.

One check of two stacks writes every report format at once (one render process); the other
tests need no render or a tiny one.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from policy_helpers import validate_sarif

from policies.catalog import ALL_POLICIES

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MISCONFIGURED = FIXTURES / "misconfigured"
SOURCE = (MISCONFIGURED / "__main__.py").read_text().splitlines()


def line_of(text: str) -> int:
    """The 1-based line of the fixture program that contains ``text``."""
    return next(i for i, line in enumerate(SOURCE, start=1) if text in line)


def modelway(*args: str, cwd: Path = MISCONFIGURED, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("reports")
    proc = modelway("policy", "check", "--stack", "prod", "--stack", "dev", "--format", "github",
                    "-o", f"sarif={out / 'p.sarif'}", "-o", f"junit={out / 'p.xml'}", "-o", f"json={out / 'p.json'}")
    return proc, out


def test_one_run_checks_several_stacks_and_writes_every_format(two_stacks):
    proc, out = two_stacks
    assert proc.returncode == 1, proc.stderr
    reports = json.loads((out / "p.json").read_text())
    assert [r["stack"] for r in reports] == ["prod", "dev"]
    assert all(r["violations"] for r in reports)
    for name in ("sarif", "junit", "json"):
        assert f"{name} report written to " in proc.stderr


def test_findings_point_at_the_declaring_line_in_sarif_junit_and_github(two_stacks):
    proc, out = two_stacks
    key_line = line_of('aws.kms.Key("data-key"')
    acl_line = line_of('aws.s3.BucketAcl("models-acl"')
    log = validate_sarif(json.loads((out / "p.sarif").read_text()))
    assert [run.automationDetails.id for run in log.runs] == ["modelway-policy/prod/", "modelway-policy/dev/"]
    located = {(r.ruleId, r.locations[0].physicalLocation.artifactLocation.uri,
                r.locations[0].physicalLocation.region.startLine) for r in log.runs[0].results}
    assert ("kms-key-rotation", "__main__.py", key_line) in located
    assert ("s3-no-public-acl", "__main__.py", acl_line) in located
    lines = {line for _rule, _uri, line in located}
    assert len(lines) > 5  # not everything on line 1
    suites = {s.get("name"): s for s in ET.parse(out / "p.xml").getroot().iter("testsuite")}
    assert list(suites) == ["modelway-policy.prod", "modelway-policy.dev"]
    cases = {c.get("name"): c for c in suites["modelway-policy.prod"].iter("testcase")}
    assert (cases["kms-key-rotation"].get("file"), cases["kms-key-rotation"].get("line")) == ("__main__.py",
                                                                                             str(key_line))
    assert f"__main__.py:{key_line}: urn:pulumi:prod::misconfigured::aws:kms/key:Key::data-key" in \
        cases["kms-key-rotation"].find("failure").text
    annotations = proc.stdout.splitlines()
    assert f"::error file=__main__.py,line={key_line},title=kms-key-rotation (prod)::data-key (aws:kms/key:Key): " \
           "enableKeyRotation is not true" in annotations
    # dev downgrades some rules to advisory: those are warnings, not errors
    assert any(a.startswith("::warning file=__main__.py,") and "(dev)" in a for a in annotations)


def test_selection_is_named_in_the_report_and_soft_fail_keeps_the_verdict():
    proc = modelway("policy", "check", "--stack", "prod", "--check", "kms-key-rotation,s3-no-public-acl,logs-kms",
                    "--skip-check", "s3-no-public-acl", "--min-level", "mandatory", "--soft-fail", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["policies_run"] == 2
    assert {v["policy"] for v in report["violations"]} == {"kms-key-rotation"}
    not_run = len(ALL_POLICIES) - 2
    assert any(w.startswith(f"{not_run} policies not run (--check/--skip-check): ") and "s3-no-public-acl" in w
               for w in report["warnings"])
    assert "--soft-fail: 1 mandatory violations reported, exit code 0" in proc.stderr
    table = modelway("policy", "check", "--stack", "prod", "--check", "kms-key-rotation", "--soft-fail")
    assert table.returncode == 0
    assert table.stdout.strip().splitlines()[-1].startswith("FAIL project misconfigured (.), stack prod: 15 resources,"
                                                            " 1 policies, 1 mandatory")


@pytest.mark.parametrize("args, message", [
    (["--check", "kms-key-rotaton"], "--check: unknown policy kms-key-rotaton (see `modelway policy list`)"),
    (["--skip-check", "everything"], "--skip-check: unknown policy everything"),
    (["--min-level", "high"], "--min-level 'high': choose one of advisory, mandatory"),
    (["-o", "xml=p.xml"], "--output xml=p.xml: unknown format 'xml'"),
    (["-o", "a.sarif", "-o", "b.sarif"], "--output: several plain paths"),
])
def test_bad_flags_are_one_line_before_any_render(args, message):
    start = time.perf_counter()
    proc = modelway("policy", "check", "--stack", "prod", *args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert time.perf_counter() - start < 20  # no render was paid for


def test_policy_list_and_pack_path_and_version():
    listed = json.loads(modelway("policy", "list", "--stack", "dev", "--json").stdout)
    by_name = {p["name"]: p for p in listed}
    assert by_name["kms-key-rotation"]["mirrors"][0] == "CKV_AWS_7"
    assert {p["level"] for p in listed} == {"advisory", "mandatory"}
    prod = {p["name"]: p["level"] for p in json.loads(modelway("policy", "list", "-s", "prod", "--json").stdout)}
    assert any(prod[name] == "mandatory" and p["level"] == "advisory" for name, p in by_name.items())  # dev downgrades
    pack = Path(modelway("policy", "pack-path").stdout.strip())
    assert (pack / "PulumiPolicy.yaml").is_file() and (pack / "__main__.py").is_file()
    from modelway import __version__

    assert modelway("--version").stdout.strip() == f"modelway {__version__}"


SLEEPY_PROGRAM = "import time\nimport pulumi\npulumi.export('x', 1)\ntime.sleep(120)\n"


@pytest.fixture
def sleepy(tmp_path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: sleepy\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(SLEEPY_PROGRAM)
    return tmp_path


def test_timeout_stops_a_render_that_hangs(sleepy):
    start = time.perf_counter()
    proc = modelway("policy", "check", "--timeout", "3", cwd=sleepy)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: __main__.py: rendering stack dev took longer than 3 s (raise --timeout if the program is slow)"]
    assert time.perf_counter() - start < 60


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_render_child_dies_when_the_checker_is_killed(sleepy):
    parent = subprocess.Popen([sys.executable, "-m", "modelway.cli.main", "policy", "check"], cwd=sleepy,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _children(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        (child,) = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        # a zombie that init has not reaped yet is dead too
        alive = Path(f"/proc/{child}/stat").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
        assert not alive, f"render child {child} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
