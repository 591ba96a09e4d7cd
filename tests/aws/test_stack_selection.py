"""`--stack` / `--outputs` resolution and `modelway stack show`: the outputs are validated, every problem is one line."""
from __future__ import annotations

import json

import pytest

from modelway.backends.stack import resolve_stack
from modelway.errors import ConfigError
from tests.modelway_cli import ModelwayCli


@pytest.fixture
def cli(tmp_path, aws_env):
    mw = ModelwayCli(tmp_path / "home")
    mw.env.update(aws_env)
    return mw


def test_stack_show_names_the_backend_of_each_concern(cli, moto_stack):
    done = cli("stack", "show", "--outputs", str(moto_stack.outputs_file))
    assert done.code == 0, done.stderr
    assert "stack      dev" in done.stdout
    assert f"s3://{moto_stack.outputs['buckets']['artifacts']}/artifacts/" in done.stdout
    assert moto_stack.outputs["model_package_groups"]["credit-risk"] in done.stdout
    assert moto_stack.outputs["alerts_topic_arn"] in done.stdout
    doc = cli("stack", "show", "--outputs", str(moto_stack.outputs_file), "--json").json()
    assert doc["outputs"]["kms_key_arn"] == moto_stack.outputs["kms_key_arn"]
    assert len(doc["outputs_sha256"]) == 64


def test_no_stack_is_the_embedded_default(cli):
    done = cli("stack", "show")
    assert done.code == 0, done.stderr
    assert "embedded default" in done.stdout and "SQLite" in done.stdout


@pytest.mark.parametrize("mutate, expected", [
    (lambda o: o.pop("kms_key_arn"), "kms_key_arn: Field required"),
    (lambda o: o["buckets"].pop("artifacts"), "buckets.artifacts: Field required"),
    (lambda o: o.update(account_id="12"), "account_id: String should match pattern"),
    (lambda o: o.update(environment="qa"), "environment: Input should be 'dev', 'staging' or 'prod'"),
])
def test_bad_outputs_are_one_line_naming_the_field(cli, moto_stack, tmp_path, mutate, expected):
    outputs = json.loads(moto_stack.outputs_file.read_text())
    mutate(outputs)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(outputs))
    done = cli("run", "pipelines/credit_risk.py", "--outputs", str(bad))
    assert done.code == 2
    assert done.stderr.count("\n") == 1 and expected in done.stderr and str(bad) in done.stderr
    assert not (cli.home / "modelway.db").exists()  # nothing half-written: the run never started


def test_unreadable_outputs_file(cli, tmp_path):
    broken = tmp_path / "out.json"
    broken.write_text("{not json")
    done = cli("stack", "show", "--outputs", str(broken))
    assert done.code == 2 and "cannot read stack outputs" in done.stderr and done.stderr.count("\n") == 1


def test_stack_without_pulumi_cli_says_how_to_pass_outputs(cli, monkeypatch):
    done = cli("stack", "show", "--stack", "dev", env={"PATH": "/nonexistent"})
    assert done.code == 2
    assert "no pulumi CLI on PATH" in done.stderr and "--outputs" in done.stderr


def test_stack_name_must_match_the_outputs_environment(moto_stack):
    with pytest.raises(ConfigError, match="environment 'dev', not 'prod'"):
        resolve_stack("prod", moto_stack.outputs_file)
    assert resolve_stack("org/dev", moto_stack.outputs_file).name == "org/dev"


def test_a_run_resumes_only_on_the_stack_it_started_on(cli, moto_stack, tmp_path):
    failing = tmp_path / "fails.py"
    failing.write_text("from modelway import pipeline, step\n\n@step\ndef boom(x: int) -> int:\n"
                       "    raise RuntimeError('flaky')\n\n@pipeline\ndef fails(x: int = 1) -> int:\n    return boom(x)\n")
    done = cli("run", str(failing), "--json", "--outputs", str(moto_stack.outputs_file))
    assert done.code == 1
    run_id = done.json()["run_id"]
    elsewhere = cli("resume", run_id)
    assert elsewhere.code == 2 and f"run {run_id} started on stack dev" in elsewhere.stderr
    again = cli("resume", run_id, "--json", "--outputs", str(moto_stack.outputs_file))
    assert again.code == 1 and "flaky" in again.json()["error"]  # it ran again, on the stack
