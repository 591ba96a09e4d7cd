"""Pins for ``modelway stack show`` on a resolved stack (moto) and what ``--outputs`` leaves in the
environment for subprocesses: every line a user reads, word for word."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.cli.cli_inprocess import invoke


@pytest.fixture
def outputs_env(aws_env, monkeypatch):
    # use_stack writes both into os.environ (for subprocesses); set here so they are restored after
    monkeypatch.setenv("MODELWAY_STACK", "")
    monkeypatch.setenv("MODELWAY_OUTPUTS", "")
    return aws_env


def test_stack_show_of_an_outputs_file(capsys, outputs_env, moto_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(moto_stack.outputs_file.parent)
    outputs = moto_stack.outputs
    done = invoke(capsys, "stack", "show", "--outputs", moto_stack.outputs_file.name)
    assert done.code == 0, done.err
    doc = json.loads(invoke(capsys, "stack", "show", "--outputs", moto_stack.outputs_file.name, "--json").out)
    # the digest of the validated outputs as canonical JSON: what a resumed run compares
    digest = hashlib.sha256(json.dumps(doc["outputs"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert doc["stack"] == "dev" and doc["outputs"]["kms_key_arn"] == outputs["kms_key_arn"]
    assert doc["outputs_sha256"] == digest
    assert doc["source"] and doc["source"] in done.out
    lines = done.out.splitlines()
    assert lines[:6] == [
        "stack      dev",
        f"source     {doc['source']}",
        f"outputs    sha256 {digest[:16]}  (dev, account {outputs['account_id']}, {outputs['region']})",
        f"kms key    {outputs['kms_key_arn']}",
        "buckets    " + ", ".join(f"{k}={v}" for k, v in doc["outputs"]["buckets"].items()),
        "backends",
    ]
    assert lines[6:] == [f"  {concern:<11} {where}" for concern, where in doc["backends"].items()]
    assert list(doc) == ["stack", "source", "outputs_sha256", "backends", "outputs"]
    # the choice is left for subprocesses (a resumed run, a remote step): the stack and the absolute file
    assert os.environ["MODELWAY_STACK"] == "dev"
    assert os.environ["MODELWAY_OUTPUTS"] == str(moto_stack.outputs_file.absolute())
