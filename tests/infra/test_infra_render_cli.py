"""`modelway render --stack <env>`: the whole process, as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys

from infra_helpers import REPO_ROOT

from modelway.contracts import StackOutputs


def _render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelway.cli.main", "render", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)


def test_render_json_lists_every_resource_with_camelcase_inputs(rendered):
    proc = _render("--stack", "prod", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert set(document) == {"stack", "resources", "outputs"} and document["stack"] == "prod"
    resources = document["resources"]
    # Same program, same mocks: the subprocess (lazy provider imports, no GC) declares
    # exactly what the in-process render (plain imports) declares.
    expected = rendered("prod")
    assert [(r["urn"], r["inputs"], r["provider"]) for r in resources] == [
        (r.urn, r.inputs, r.provider) for r in expected.resources]
    assert document["outputs"] == expected.outputs
    for resource in resources:
        assert {"type", "name", "urn", "parent", "inputs"} <= set(resource)
        assert resource["urn"].startswith("urn:pulumi:prod::modelway::")
    (key,) = [r for r in resources if r["type"] == "aws:kms/key:Key"]
    assert key["inputs"]["enableKeyRotation"] is True
    StackOutputs.model_validate(document["outputs"])


def test_render_table_names_every_component():
    proc = _render("--stack", "staging")
    assert proc.returncode == 0, proc.stderr
    for token in ("EncryptedStorage", "AccessRoles", "GpuSpotPool", "Registries", "KubernetesTenancy",
                  "Observability", "aws:kms/key:Key", "stack outputs"):
        assert token in proc.stdout


def test_unknown_stack_is_a_one_line_error():
    proc = _render("--stack", "qa")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: stack qa (no Pulumi.qa.yaml): modelway:environment: the stack 'qa' is not dev, staging or prod; "
        "set modelway:environment to one of them")
