"""The base wheel in a fresh virtualenv (no dev, ml or aws extra) checks a program and writes SARIF.

This is how a team's CI installs Modelway: ``pip install modelway``, then ``modelway policy
check``. The wheel is built from this checkout (a copy, so the tree stays clean) and installed
with pip's cache into an empty venv; the checks run there, outside this repository.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from policy_helpers import validate_sarif

REPO = Path(__file__).resolve().parents[2]
MISCONFIGURED = Path(__file__).resolve().parent / "fixtures" / "misconfigured"
ML_AND_AWS = ("pandas", "numpy", "sklearn", "mlflow", "scipy", "boto3", "pytest")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    """A fresh venv with only the base wheel and its dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "modelway-src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "venv")
    for name in ("platform", "policies"):
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(root / "dist"), str(source)])
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("modelway-*.whl")
    venv = root / "venv"
    # No pip inside: this venv only holds what the wheel needs; the test's pip installs into it.
    # --no-compile: byte-compiling the provider SDKs' thousands of modules is most of an install.
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    installed = run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                     "--no-compile", str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def test_base_install_has_no_ml_or_aws_stack(base_venv):
    probe = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])" % (ML_AND_AWS,)
    assert run([str(base_venv / "bin" / "python"), "-c", probe]).stdout.strip() == "[]"


def test_base_install_checks_a_program_and_writes_valid_sarif_with_real_lines(base_venv, tmp_path):
    project = tmp_path / "team-infra"
    shutil.copytree(MISCONFIGURED, project)
    proc = run([str(base_venv / "bin" / "modelway"), "policy", "check", "--stack", "prod", "--format", "sarif",
                "--output", "policy.sarif"], cwd=project)
    assert proc.returncode == 1, proc.stderr  # violations, not a crash (a crash would also be non-zero)
    assert "Traceback" not in proc.stderr
    log = validate_sarif(json.loads((project / "policy.sarif").read_text()))
    results = log.runs[0].results
    assert {r.ruleId for r in results} >= {"kms-key-rotation", "s3-no-public-acl", "k8s-no-privileged"}
    source = (project / "__main__.py").read_text().splitlines()
    for result in results:
        location = result.locations[0].physicalLocation
        assert location.artifactLocation.uri == "__main__.py"
        if result.ruleId not in ("budget-exists", "model-registry-per-model"):  # stack findings: no resource
            assert location.region.startLine > 1
    key = next(r for r in results if r.ruleId == "kms-key-rotation")
    assert 'aws.kms.Key("data-key"' in source[key.locations[0].physicalLocation.region.startLine - 1]


def test_installed_pack_is_the_distribution_version_and_loads_as_the_pulumi_cli_runs_it(base_venv):
    python = str(base_venv / "bin" / "python")
    pack = Path(run([str(base_venv / "bin" / "modelway"), "policy", "pack-path"]).stdout.strip())
    assert "site-packages" in pack.parts and pack.name == "policies" and pack.parent.name == "modelway"
    version = run([python, "-c", "import importlib.metadata as m; print(m.version('modelway'))"]).stdout.strip()
    assert yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["version"] == version
    # `pulumi preview --policy-pack DIR` runs `python -m pulumi.policy ENGINE DIR`, i.e. run_path(DIR).
    serve = ("import runpy, sys, pulumi_policy\n"
             "pulumi_policy.PolicyPack = lambda **kw: print(kw['name'], len(kw['policies']))\n"
             f"runpy.run_path({str(pack)!r}, run_name='__main__')\n")
    served = run([python, "-c", serve], cwd=str(pack.parent.parent))
    assert served.returncode == 0, served.stderr
    assert re.fullmatch(r"modelway \d+", served.stdout.strip())


def test_pipeline_command_without_the_ml_extra_names_the_extra(base_venv, tmp_path):
    proc = run([str(base_venv / "bin" / "modelway"), "run", str(REPO / "pipelines" / "credit_risk.py")], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: modelway run needs the ml extra (numpy, pandas, pyarrow, sklearn, joblib, mlflow, fairlearn, pandera, "
        "scipy, psutil not installed): pip install 'modelway[ml]'"]
    assert not (tmp_path / ".modelway").exists()  # refused before any run was recorded


# --- fast checks on the checkout (no wheel) ---------------------------------------------------
def test_pack_version_is_the_distribution_version():
    from modelway import __version__

    assert yaml.safe_load((REPO / "policies" / "PulumiPolicy.yaml").read_text())["version"] == __version__


def test_pack_modules_import_each_other_relatively():
    # Absolute `policies.` imports work in a checkout only; installed, the pack is modelway.policies.
    offenders = [f"{path.name}:{i}" for path in sorted((REPO / "policies").glob("*.py")) if path.name != "__main__.py"
                 for i, line in enumerate(path.read_text().splitlines(), start=1)
                 if re.match(r"\s*(from|import) policies\b", line)]
    assert offenders == [], "use relative imports (from .core import ...) in the pack"


def test_pack_copied_anywhere_serves_with_only_pulumi_policy(tmp_path):
    # What `pulumi preview --policy-pack DIR` does when the CLI built the pack's own venv
    # (requirements.txt: pulumi, pulumi-policy), where modelway may not be installed.
    copy = tmp_path / "pack"
    shutil.copytree(REPO / "policies", copy, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    serve = ("import runpy, sys, pulumi_policy\n"
             "pulumi_policy.PolicyPack = lambda **kw: print(kw['name'], len(kw['policies']), "
             "type(kw['policies'][0]).__module__)\n"
             f"runpy.run_path({str(copy)!r}, run_name='__main__')\n")
    served = run([sys.executable, "-c", serve], cwd=str(tmp_path))
    assert served.returncode == 0, served.stderr
    name, count, module = served.stdout.split()
    assert (name, module) == ("modelway", "policies.core") and int(count) > 40
