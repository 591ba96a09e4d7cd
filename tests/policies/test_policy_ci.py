"""What other repositories reuse: the composite action (action.yml), the pre-commit hook, and our own workflow.

The action's check script is run here with bash exactly as the runner would run it (its inputs
arrive as environment variables), against a copy of the misconfigured program.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
STEPS = {step.get("id") or step.get("name"): step for step in ACTION["runs"]["steps"]}


def run_check_step(tmp_path: Path, program: Path, stacks: str) -> tuple[subprocess.CompletedProcess, dict]:
    step = STEPS["check"]
    outputs = tmp_path / "github_output"
    outputs.touch()
    env = {**os.environ, "PROGRAM": str(program), "STACKS": stacks, "CONFIG": "", "WAIVERS": "", "EXTRA_ARGS": "",
           "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(outputs),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return proc, values


def test_action_check_step_annotates_writes_reports_and_defers_the_verdict(tmp_path):
    program = tmp_path / "infra"
    shutil.copytree(FIXTURES / "misconfigured", program)
    proc, outputs = run_check_step(tmp_path, program, "prod dev")
    assert proc.returncode == 0, proc.stderr  # the verdict is the last step's job, after the SARIF upload
    assert outputs["exit-code"] == "1"
    assert Path(outputs["sarif-file"]).is_file() and Path(outputs["junit-file"]).is_file()
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error file=")]
    assert errors and all("line=" in e for e in errors)
    assert any("(prod)::" in e for e in errors) and any("(dev)::" in e for e in errors)


def test_action_check_step_fails_at_once_on_a_render_failure(tmp_path):
    proc, outputs = run_check_step(tmp_path, FIXTURES / "broken", "prod")
    assert proc.returncode == 2 and outputs["exit-code"] == "2"


def test_action_installs_the_base_package_and_never_fails_on_missing_code_scanning():
    install = STEPS["Install modelway (base install, no ML stack)"]["run"]
    assert "pip install" in install and "[" not in install  # no extras: render + check only
    upload = next(s for s in ACTION["runs"]["steps"] if str(s.get("uses", "")).startswith(
        "github/codeql-action/upload-sarif"))
    assert upload["continue-on-error"] is True
    assert "${{" not in STEPS["check"]["run"]  # inputs only through env: no script injection
    verdict = STEPS["Fail on mandatory violations"]
    assert "inputs.soft-fail != 'true'" in verdict["if"] and "exit 1" in verdict["run"]


def test_own_workflow_uses_the_action_once_for_all_stacks_and_oidc_for_preview():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "policy.yml").read_text())
    check = next(s for s in workflow["jobs"]["policy-check"]["steps"] if s.get("uses") == "./")
    assert check["with"]["stacks"] == "dev staging prod"
    preview = workflow["jobs"]["pulumi-preview"]
    assert preview["permissions"]["id-token"] == "write"
    aws = next(s for s in preview["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials"))
    assert "role-to-assume" in aws["with"]
    text = (REPO / ".github" / "workflows" / "policy.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text
    assert "modelway policy pack-path" in text


def test_pre_commit_hook_runs_the_checker_on_the_repository():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "modelway policy check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False  # the project is found from the repository root, not per file
    import re

    for changed in ("infra/storage.py", "Pulumi.prod.yaml", "Pulumi.yaml", "policies/waivers.yaml"):
        assert re.search(hook["files"], changed), changed
    assert not re.search(hook["files"], "README.md")

