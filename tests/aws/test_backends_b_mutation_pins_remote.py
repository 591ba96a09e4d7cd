"""Mutation pins for ``modelway.backends.remote`` (the container entry point), run in this process against moto:
where the hyperparameters come from, the ``result.json`` it writes for every ending (output, the step's own
failure, a setup failure), the failure file SageMaker shows, and the SageMaker Pipelines mode with its gate."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelway.backends import remote
from modelway.backends.aws.sagemaker_jobs import put_json, stage_remote_step
from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.runtime.context import stores
from modelway.runtime.executors import Task

GATED = Path(__file__).parent / "pipelines" / "gated_demo.py"

PIPELINE_SRC = """\
from modelway import pipeline, step


@step
def make(n: int) -> list:
    return list(range(n))


@step(instance_type="ml.m5.large")
def total(xs: list) -> int:
    return sum(xs)


@step(instance_type="ml.m5.large")
def broken(xs: list) -> int:
    raise ValueError("bad input " + "x" * 2000)


@pipeline
def remote_pins(n: int = 4) -> dict:
    xs = make(n)
    return {"t": total(xs), "b": broken(xs)}
"""


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        yield create_stack(moto_endpoint, tmp_path_factory.mktemp("remote-pins"))


@pytest.fixture
def backends(shared_stack, aws_env, tmp_path, monkeypatch):
    for key in ("SM_HPS", "MODELWAY_HOME", "MODELWAY_IMAGE_URI", "MODELWAY_INSTANCE_TYPE", "MODELWAY_STACK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MODELWAY_SM_ROOT", str(tmp_path / "opt-ml"))
    return use(resolve_stack(None, shared_stack.outputs_file))


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from modelway.dsl.loader import load_pipeline

    folder = tmp_path_factory.mktemp("remote-pipeline")
    (folder / "remote_pins.py").write_text(PIPELINE_SRC)
    return load_pipeline(folder / "remote_pins.py").build({"n": 4})


def _staged(backends, graph, step, tmp_path, run_id):
    home = tmp_path / "runner-home"
    _, artifacts = stores(home)
    task = Task(name=step, node=graph.nodes[step], attempt=2, input_hashes={"make": artifacts.put([0, 1, 2, 3]).hash},
                run_id=run_id, pipeline_name="remote_pins", home=home, params=dict(graph.params), timeout_s=None)
    return stage_remote_step(backends, task)


def _result(shared_stack, key):
    body = shared_stack.client("s3").get_object(Bucket=shared_stack.outputs["buckets"]["artifacts"], Key=key)
    return json.loads(body["Body"].read()), body


def test_sm_root_and_hyperparameters(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELWAY_SM_ROOT", raising=False)
    monkeypatch.delenv("SM_HPS", raising=False)
    assert remote.sm_root() == Path("/opt/ml")
    monkeypatch.setenv("MODELWAY_SM_ROOT", str(tmp_path))
    assert remote.sm_root() == tmp_path
    path = tmp_path / "input" / "config" / "hyperparameters.json"
    with pytest.raises(SystemExit) as err:
        remote.hyperparameters()
    assert str(err.value).startswith(f"modelway remote: no hyperparameters ($SM_HPS or {path}): [Errno 2]")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(SystemExit, match=r"^modelway remote: no hyperparameters \(\$SM_HPS or .*\): Expecting"):
        remote.hyperparameters()
    path.write_text('{"modelway_spec": "s3://b/file"}')
    assert remote.hyperparameters() == {"modelway_spec": "s3://b/file"}
    monkeypatch.setenv("SM_HPS", '{"modelway_spec": "s3://b/env"}')  # the environment wins
    assert remote.hyperparameters() == {"modelway_spec": "s3://b/env"}
    monkeypatch.setenv("SM_HPS", "")
    assert remote.hyperparameters() == {"modelway_spec": "s3://b/file"}


def test_split():
    assert remote._split("s3://bucket/a/b/c.json") == ("bucket", "a/b/c.json")
    assert remote._split("bucket/key") == ("bucket", "key")


def test_a_step_that_succeeds(backends, shared_stack, graph, tmp_path, monkeypatch, capsys):
    staged = _staged(backends, graph, "total", tmp_path, "r-remote-ok")
    monkeypatch.setenv("MODELWAY_IMAGE_URI", "img@sha256:1")
    monkeypatch.setenv("MODELWAY_INSTANCE_TYPE", "ml.m5.large")
    assert remote.run(staged.hyperparameters) == 0
    from modelway import active_backends
    from modelway.backends.stack import outputs_digest

    installed = active_backends.current().resolved  # the container installs the stack's backends itself
    assert installed.name == "dev"  # no $MODELWAY_STACK: the outputs' environment
    assert installed.source == f"job hyperparameters ({staged.hyperparameters['modelway_outputs']})"
    assert installed.digest == outputs_digest(installed.outputs) == outputs_digest(backends.outputs)
    result, obj = _result(shared_stack, staged.result_key)
    assert obj["ServerSideEncryption"] == "aws:kms" and obj["SSEKMSKeyId"] == shared_stack.outputs["kms_key_arn"]
    assert obj["ContentType"] == "application/json"
    output = result.pop("output")
    assert result.pop("duration_s") >= 0
    assert result == {"ok": True, "error": None, "traceback": None, "retryable": True, "deliberate": False,
                      "timed_out": False, "image": "img@sha256:1", "instance_type": "ml.m5.large"}
    assert output["kind"] and output["type"] == "builtins.int" and output["size"] > 0
    assert stores(tmp_path / "runner-home")[1].get(output["hash"]) == 6
    # the step's home is under the checkpoint folder SageMaker syncs
    assert (tmp_path / "opt-ml" / "checkpoints" / "modelway-home").is_dir()
    assert not (tmp_path / "opt-ml" / "output" / "failure").exists()
    assert "gate" not in capsys.readouterr().out


def test_a_step_that_fails_writes_the_failure_file(backends, shared_stack, graph, tmp_path, monkeypatch, capsys):
    staged = _staged(backends, graph, "broken", tmp_path, "r-remote-fail")
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "own-home"))
    monkeypatch.setenv("MODELWAY_STACK", "acme/dev")
    assert remote.run(staged.hyperparameters) == 1
    from modelway import active_backends

    assert active_backends.current().resolved.name == "acme/dev"  # the stack name the runner passed
    result, _ = _result(shared_stack, staged.result_key)
    assert result["ok"] is False and result["error"].startswith("ValueError: bad input xxx")
    assert result["image"] is None and result["instance_type"] is None
    failure = (tmp_path / "opt-ml" / "output" / "failure").read_text()
    assert failure == result["error"][:1000] and len(failure) == 1000
    assert "ValueError" in capsys.readouterr().err
    assert (tmp_path / "own-home").is_dir()  # $MODELWAY_HOME wins over the checkpoint folder
    assert not (tmp_path / "opt-ml" / "checkpoints").exists()


def test_a_spec_naming_an_unknown_step_is_a_setup_failure(backends, shared_stack, graph, tmp_path, capsys):
    staged = _staged(backends, graph, "total", tmp_path, "r-remote-setup")
    bucket, key = remote._split(staged.hyperparameters["modelway_spec"])
    s3 = shared_stack.client("s3")
    spec = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({**spec, "step": "nope"}).encode())
    assert remote.run(staged.hyperparameters) == 1
    result, _ = _result(shared_stack, staged.result_key)
    assert result["error"] == "remote step setup failed: KeyError: 'nope'"
    assert result["retryable"] is False and result["deliberate"] is False and "KeyError" in result["traceback"]
    assert 0 <= result["duration_s"] < 600  # seconds since the setup started
    assert (tmp_path / "opt-ml" / "output" / "failure").read_text() == "remote step setup failed: KeyError: 'nope'"
    assert "Traceback" in capsys.readouterr().err


def _pipeline_step(backends, shared_stack, tmp_path, *, good: bool, execution: str):
    """The gated demo's ``evaluate`` step as a SageMaker Pipelines step: spec, code, params, upstream result."""
    from modelway.backends.aws.pipelines_export import stage_pipeline

    staged = stage_pipeline(GATED, None, {"n": "30", "good": str(good).lower()}, tmp_path / "export-home")
    bucket = shared_stack.outputs["buckets"]["artifacts"]
    s3 = shared_stack.client("s3")
    for key, text in staged.objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    _, artifacts = stores(tmp_path / "runner-home")
    score = artifacts.put(0.8).hash
    executions = f"exports/gated/{execution}/executions"
    s3.put_object(Bucket=bucket, Key=f"{executions}/{execution}/score/result.json",
                  Body=json.dumps({"ok": True, "output": {"hash": score}}).encode())
    spec_uri = put_json(backends, f"exports/gated/{execution}/steps/evaluate.json", {
        "mode": "pipeline", "step": "evaluate", "pipeline": "gated_demo", "pipeline_file": staged.pipeline_file,
        "bundle": staged.bundle_hash, "params": staged.params_hash, "upstream": ["score"], "executions": executions,
        "gate": True})
    outputs_uri = put_json(backends, f"exports/gated/{execution}/stack-outputs.json",
                           backends.outputs.model_dump(mode="json"))
    hps = {"modelway_spec": spec_uri, "modelway_outputs": outputs_uri, "modelway_execution": execution}
    return hps, f"{executions}/{execution}/evaluate/result.json"


def test_a_pipeline_step_with_a_passing_gate(backends, shared_stack, tmp_path, capsys):
    hps, result_key = _pipeline_step(backends, shared_stack, tmp_path, good=True, execution="ex-pass")
    assert remote.run(hps) == 0
    result, _ = _result(shared_stack, result_key)
    assert result["ok"] is True
    assert capsys.readouterr().out.splitlines()[-1] == "modelway_gate_passed=1"


def test_a_failed_gate_completes_the_job_and_says_so(backends, shared_stack, tmp_path, capsys):
    hps, result_key = _pipeline_step(backends, shared_stack, tmp_path, good=False, execution="ex-fail")
    assert remote.run(hps) == 0  # the Condition step decides, not a failed job
    result, _ = _result(shared_stack, result_key)
    assert result["ok"] is False and result["deliberate"] is True
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == ["modelway_gate_passed=0", f"[evaluate] gate failed: {result['error']}"]
    assert not (tmp_path / "opt-ml" / "output" / "failure").exists()
