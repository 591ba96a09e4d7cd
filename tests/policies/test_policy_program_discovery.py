"""The program under check is the one the user points at: a team's own Pulumi project, outside this kit's tree.

A copy of the misconfigured sample program lives in a temporary folder (as a team's repository
would); ``policy check`` run from its directory, from a subdirectory and by path must check
*that* program and fail, naming it. Outside any project it is a usage error, never a check of
this kit's own ``infra/``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def modelway(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory) -> Path:
    """``<tmp>/acme-platform``: a team repository whose Pulumi project is at its root, with a subfolder."""
    root = tmp_path_factory.mktemp("outside") / "acme-platform"
    shutil.copytree(FIXTURES / "misconfigured", root)
    (root / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text().replace("name: misconfigured",
                                                                                  "name: acme-platform"))
    (root / "components" / "nested").mkdir(parents=True)
    assert REPO not in root.parents
    return root


def _assert_checked_the_team_program(proc: subprocess.CompletedProcess, program_dir: str) -> dict:
    assert proc.returncode == 1, (proc.returncode, proc.stdout[-2000:], proc.stderr)
    report = json.loads(proc.stdout)
    assert report["project"] == "acme-platform"
    assert report["program_dir"] == program_dir
    mandatory = {v["policy"] for v in report["violations"] if v["level"] == "mandatory"}
    assert {"kms-key-rotation", "s3-no-public-acl", "iam-no-admin-wildcard"} <= mandatory
    assert all(":acme-platform::" in v["urn"] for v in report["violations"])
    return report


def test_check_from_the_project_directory_checks_that_program(team_repo):
    proc = modelway("policy", "check", "--stack", "prod", "--format", "json", cwd=team_repo)
    _assert_checked_the_team_program(proc, ".")


def test_check_from_a_subdirectory_finds_the_project_upwards_and_names_it_in_the_table(team_repo):
    proc = modelway("policy", "check", "--stack", "prod", cwd=team_repo / "components" / "nested")
    assert proc.returncode == 1, proc.stderr
    verdict = proc.stdout.strip().splitlines()[-1]
    assert verdict.startswith(f"FAIL project acme-platform ({team_repo}), stack prod: "), verdict
    assert "PASS" not in proc.stdout


def test_check_by_path_from_elsewhere(team_repo, tmp_path):
    proc = modelway("policy", "check", str(team_repo / "components"), "--stack", "prod", "--format", "json",
                    cwd=tmp_path)
    _assert_checked_the_team_program(proc, str(team_repo))


def test_outside_any_project_is_a_usage_error_not_a_check_of_the_kit(tmp_path):
    proc = modelway("policy", "check", "--stack", "prod", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: no Pulumi.yaml in the current directory ({tmp_path.resolve()}) or any parent directory; "
        "run this inside a Pulumi project or pass its directory"]
    proc = modelway("render", "--stack", "prod", cwd=tmp_path)
    assert proc.returncode == 2 and "no Pulumi.yaml" in proc.stderr


def test_render_from_a_subdirectory_renders_the_same_program_as_check(team_repo):
    proc = modelway("render", "--stack", "prod", "--format", "json", cwd=team_repo / "components")
    assert proc.returncode == 0, proc.stderr
    urns = [r["urn"] for r in json.loads(proc.stdout)["resources"]]
    assert urns and all("::acme-platform::" in u for u in urns)
