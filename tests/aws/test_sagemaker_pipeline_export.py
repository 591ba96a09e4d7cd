"""`modelway export sagemaker`: the definition matches a golden file, CreatePipeline on moto accepts it, and an
execution of it (each step's container entry point run in DAG order with the arguments the definition gives
it, ``Execution.PipelineExecutionId`` filled in) computes the pipeline's result. A model-test gate becomes a
Condition step: :func:`_execute` reads the gate step's metric from its log with the step's MetricDefinitions
regex, as SageMaker does, and runs the IfSteps or the Fail step.

Not exercised: SageMaker Pipelines' own validation and scheduling (moto stores the
definition without checking it; each step's arguments are checked against botocore's
``CreateTrainingJob`` model instead). The ``aws.sagemaker.Pipeline`` Pulumi resource is
tested with Pulumi mocks in tests/infra/test_infra_pipelines.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.modelway_cli import ModelwayCli

PIPELINE = Path(__file__).parent / "pipelines" / "remote_demo.py"
GOLDEN = Path(__file__).parent / "golden" / "remote_demo.sagemaker.json"
GATED = Path(__file__).parent / "pipelines" / "gated_demo.py"
GATED_GOLDEN = Path(__file__).parent / "golden" / "gated_demo.sagemaker.json"


def _export(moto_stack, tmp_path, pipeline: Path, *args: str):
    ecr = moto_stack.client("ecr")
    repo = moto_stack.outputs["ecr_repository_urls"]["training"].split("/", 1)[1]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                           "digest": "sha256:" + "b" * 64}, "layers": []}
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="v1")
    cli = ModelwayCli(tmp_path / "home")
    cli.env.update(moto_stack.env, MODELWAY_IMAGE_TAG="v1")
    out = tmp_path / "pipeline.json"
    done = cli("export", "sagemaker", str(pipeline), "-o", str(out), "--outputs", str(moto_stack.outputs_file), *args)
    assert done.code == 0, done.stderr
    return json.loads(out.read_text()), out.read_text()


@pytest.fixture
def exported(moto_stack, tmp_path):
    return _export(moto_stack, tmp_path, PIPELINE, "--param", "n=6", "--create", "remote-demo")


def _normalized(text: str, outputs: dict) -> dict:
    """The definition with this test stack's random names replaced, so it compares with the golden file."""
    prefix = outputs["buckets"]["artifacts"].rsplit("-artifacts", 1)[0]
    text = text.replace(outputs["kms_key_arn"], "<kms-key-arn>").replace(prefix, "<prefix>")
    return json.loads(text)


def test_definition_matches_the_golden_file(exported, moto_stack):
    definition, text = exported
    actual = _normalized(text, moto_stack.outputs)
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert actual == json.loads(GOLDEN.read_text())
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert steps["heavy"]["Arguments"]["EnableManagedSpotTraining"] is True
    assert steps["heavy"]["Arguments"]["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert steps["heavy"]["DependsOn"] == ["make"] and steps["heavy"]["RetryPolicies"][0]["MaxAttempts"] == 2
    assert steps["make"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}


def test_create_pipeline_on_the_stack_accepts_it(exported, moto_stack):
    _, text = exported
    described = moto_stack.client("sagemaker").describe_pipeline(PipelineName="remote-demo")
    assert json.loads(described["PipelineDefinition"]) == json.loads(text)
    assert described["RoleArn"] == moto_stack.outputs["roles"]["sagemaker_execution"]


def test_an_execution_of_the_definition_computes_the_result(exported, moto_stack, tmp_path, aws_env):
    definition, _ = exported
    execution = "exec0001"
    for step in definition["Steps"]:  # DAG order: the definition lists steps topologically
        hps = {k: (execution if v == {"Get": "Execution.PipelineExecutionId"} else v)
               for k, v in step["Arguments"]["HyperParameters"].items()}
        root = tmp_path / "opt-ml" / step["Name"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELWAY_", "SM_"))}
        env.update(aws_env, **step["Arguments"]["Environment"], SM_HPS=json.dumps(hps), MODELWAY_SM_ROOT=str(root))
        done = subprocess.run([sys.executable, "-m", "modelway.backends.remote"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (step["Name"], done.stderr[-2000:])
    bucket = moto_stack.outputs["buckets"]["artifacts"]
    spec_uri = definition["Steps"][-1]["Arguments"]["HyperParameters"]["modelway_spec"]
    spec = json.loads(moto_stack.client("s3").get_object(Bucket=bucket, Key=spec_uri.split("/", 3)[3])["Body"].read())
    result = json.loads(moto_stack.client("s3").get_object(
        Bucket=bucket, Key=f"{spec['executions']}/{execution}/report/result.json")["Body"].read())
    assert result["ok"]
    from modelway.backends.mapping import backends_for
    from modelway.backends.stack import resolve_stack

    store = backends_for(resolve_stack(None, moto_stack.outputs_file)).artifact_store(tmp_path / "reader")
    assert store.get(result["output"]["hash"]) == 15  # sum(range(6))


def _execute(definition: dict, execution: str, tmp_path: Path, aws_env: dict) -> list[str]:
    """Run a definition the way SageMaker Pipelines would (our subset): Training steps as the container entry point,
    Condition steps on the metric the step's MetricDefinitions regex finds in its log, Fail steps end it.
    Returns the names of the steps that ran, in order ("<name>:failed" for a Fail step)."""
    import re

    metrics: dict[str, dict[str, float]] = {}
    ran: list[str] = []

    def value(expr):
        if isinstance(expr, dict) and "Get" in expr:
            found = re.fullmatch(r"Steps\.(.+)\.FinalMetricDataList\['(.+)'\]\.Value", expr["Get"])
            return metrics[found.group(1)][found.group(2)]
        return expr

    def run(steps):
        for step in steps:
            if step["Type"] == "Fail":
                ran.append(f"{step['Name']}:failed")
                return False
            if step["Type"] == "Condition":
                ok = all(c["Type"] == "Equals" and value(c["LeftValue"]) == value(c["RightValue"])
                         for c in step["Arguments"]["Conditions"])
                if not run(step["Arguments"]["IfSteps" if ok else "ElseSteps"]):
                    return False
                continue
            args = step["Arguments"]
            hps = {k: (execution if v == {"Get": "Execution.PipelineExecutionId"} else v)
                   for k, v in args["HyperParameters"].items()}
            env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELWAY_", "SM_"))}
            env.update(aws_env, **args["Environment"], SM_HPS=json.dumps(hps),
                       MODELWAY_SM_ROOT=str(tmp_path / "opt-ml" / step["Name"]))
            done = subprocess.run([sys.executable, "-m", "modelway.backends.remote"], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, (step["Name"], done.stderr[-2000:])
            ran.append(step["Name"])
            for definition_ in args["AlgorithmSpecification"].get("MetricDefinitions", []):
                hits = re.findall(definition_["Regex"], done.stdout)
                if hits:
                    metrics.setdefault(step["Name"], {})[definition_["Name"]] = float(hits[-1])
        return True

    run(definition["Steps"])
    return ran


def _result(moto_stack, definition: dict, execution: str, step: str) -> dict:
    from modelway.backends.aws.pipelines_export import training_steps

    bucket = moto_stack.outputs["buckets"]["artifacts"]
    spec_uri = training_steps(definition)[0]["Arguments"]["HyperParameters"]["modelway_spec"]
    s3 = moto_stack.client("s3")
    spec = json.loads(s3.get_object(Bucket=bucket, Key=spec_uri.split("/", 3)[3])["Body"].read())
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{spec['executions']}/{execution}/{step}/result.json")
                      ["Body"].read())


def test_gate_becomes_a_condition_step_that_stops_the_rest(moto_stack, tmp_path, aws_env):
    definition, text = _export(moto_stack, tmp_path, GATED, "--param", "good=false", "--create", "gated-demo")
    actual = _normalized(text, moto_stack.outputs)
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        GATED_GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert actual == json.loads(GATED_GOLDEN.read_text())
    assert [s["Name"] for s in definition["Steps"]] == ["score", "evaluate", "evaluate-gate", "summary"]
    gate = definition["Steps"][2]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["publish"]
    assert gate["ElseSteps"][0]["Type"] == "Fail"
    assert json.loads(moto_stack.client("sagemaker").describe_pipeline(PipelineName="gated-demo")["PipelineDefinition"]) \
        == definition
    ran = _execute(definition, "bad00001", tmp_path, aws_env)
    assert ran == ["score", "evaluate", "evaluate-gate-failed:failed"]  # publish and summary never ran
    failed = _result(moto_stack, definition, "bad00001", "evaluate")
    assert not failed["ok"] and "quality.roc_auc" in failed["error"]


def test_a_passing_gate_runs_the_consumers(moto_stack, tmp_path, aws_env):
    definition, _ = _export(moto_stack, tmp_path, GATED, "--param", "good=true")
    assert _execute(definition, "good0001", tmp_path, aws_env) == ["score", "evaluate", "publish", "summary"]
    from modelway.backends.mapping import backends_for
    from modelway.backends.stack import resolve_stack

    result = _result(moto_stack, definition, "good0001", "summary")
    store = backends_for(resolve_stack(None, moto_stack.outputs_file)).artifact_store(tmp_path / "reader")
    assert store.get(result["output"]["hash"]) == "published 0.8"
