"""Mutation pins for ``modelway.backends.aws.pipelines_export``: the compiled SageMaker Pipelines definition
step by step (no AWS call: compiling is a pure function of the graph and the stack's outputs), gate
conditions, staging, and the argument check against botocore's model."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelway.backends.aws.pipelines_export import (
    DEFAULT_INSTANCE,
    EXECUTION_ID,
    GATE_METRIC,
    GATE_METRIC_REGEX,
    _placeholders,
    argument_problems,
    compile_definition,
    is_gate_step,
    stage_pipeline,
    training_steps,
)
from modelway.contracts.stack_outputs import StackOutputs
from modelway.dsl.loader import load_pipeline

GATED = Path(__file__).parent / "pipelines" / "gated_demo.py"
KMS = "arn:aws:kms:eu-west-1:123456789012:key/k"
ROLE = "arn:aws:iam::123456789012:role/sm"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train@sha256:" + "a" * 64

PIPELINE_SRC = """\
from modelway import pipeline, step


@step(cache=False)
def first(n: int) -> int:
    return n


@step(instance_type="ml.g5.xlarge", spot=True, max_runtime="2h", retries=3, retry_delay="5s")
def second(x: int) -> int:
    return x


@step(timeout="10m", retries=1, retry_delay="0")
def third(x: int, y: int) -> int:
    return x + y


@pipeline
def plain_demo(n: int = 2) -> int:
    a = first(n)
    return third(a, second(a))
"""


def _outputs(**changes) -> StackOutputs:
    doc = {
        "environment": "dev", "region": "eu-west-1", "account_id": "123456789012", "kms_key_arn": KMS,
        "buckets": {"raw_data": "raw", "features": "feat", "artifacts": "arts", "models": "models",
                    "access_logs": "logs"},
        "roles": {"data_scientist": ROLE, "ml_engineer": ROLE, "deployer": ROLE, "auditor": ROLE,
                  "sagemaker_execution": ROLE, "gpu_node": ROLE},
        "ecr_repository_urls": {"training": "train"}, "model_package_groups": {},
        "model_approval_status": "Approved", "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
    }
    doc.update(changes)
    return StackOutputs.model_validate(doc)


@pytest.fixture(scope="module")
def plain_graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-pins")
    (folder / "plain_demo.py").write_text(PIPELINE_SRC)
    return load_pipeline(folder / "plain_demo.py").build({"n": 2})


@pytest.fixture(scope="module")
def gated_graph():
    return load_pipeline(GATED).build({"n": 30, "good": True})


def _compile(graph, outputs=None):
    return compile_definition(graph, outputs or _outputs(), "dev", image=IMAGE, bundle_hash="b" * 64,
                              params_hash="p" * 64, pipeline_file="plain_demo.py")


def test_constants():
    assert DEFAULT_INSTANCE == "ml.m5.large"
    assert EXECUTION_ID == {"Get": "Execution.PipelineExecutionId"}
    assert GATE_METRIC == "modelway_gate_passed" and GATE_METRIC_REGEX == "modelway_gate_passed=([01])"


def test_the_prefix_is_a_digest_of_what_the_steps_run(plain_graph):
    _, specs, prefix = _compile(plain_graph)
    digest = hashlib.sha256(json.dumps(["plain_demo", "b" * 64, "p" * 64, "sha256:" + "a" * 64]).encode()).hexdigest()
    assert prefix == f"exports/plain_demo/{digest[:16]}"
    # the registry host of the image does not change it; its digest does
    moved = compile_definition(plain_graph, _outputs(), "dev", image="elsewhere/train@sha256:" + "a" * 64,
                               bundle_hash="b" * 64, params_hash="p" * 64, pipeline_file="plain_demo.py")
    assert moved[2] == prefix
    other = compile_definition(plain_graph, _outputs(), "dev", image="x@sha256:" + "c" * 64, bundle_hash="b" * 64,
                               params_hash="p" * 64, pipeline_file="plain_demo.py")
    assert other[2] != prefix


def test_specs_name_every_step_and_the_stack_outputs(plain_graph):
    _, specs, prefix = _compile(plain_graph)
    assert list(specs) == [f"{prefix}/stack-outputs.json", f"{prefix}/steps/first.json", f"{prefix}/steps/second.json",
                           f"{prefix}/steps/third.json"]
    assert specs[f"{prefix}/stack-outputs.json"] == _outputs().model_dump(mode="json")
    common = {"mode": "pipeline", "pipeline": "plain_demo", "pipeline_file": "plain_demo.py", "bundle": "b" * 64,
              "params": "p" * 64, "executions": f"{prefix}/executions", "gate": False}
    assert specs[f"{prefix}/steps/first.json"] == {**common, "step": "first", "upstream": []}
    assert specs[f"{prefix}/steps/second.json"] == {**common, "step": "second", "upstream": ["first"]}
    assert specs[f"{prefix}/steps/third.json"] == {**common, "step": "third", "upstream": ["first", "second"]}


def test_each_step_is_a_training_step_with_these_arguments(plain_graph):
    definition, _, prefix = _compile(plain_graph)
    assert definition["Version"] == "2020-12-01" and definition["Metadata"] == {} and definition["Parameters"] == []
    assert definition["PipelineExperimentConfig"] == {"ExperimentName": "plain_demo", "TrialName": EXECUTION_ID}
    first, second, third = definition["Steps"]
    assert first == {"Name": "first", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": ["python", "-m", "modelway.backends.remote"]},
        "RoleArn": ROLE,
        "HyperParameters": {"modelway_spec": f"s3://arts/{prefix}/steps/first.json",
                            "modelway_outputs": f"s3://arts/{prefix}/stack-outputs.json",
                            "modelway_execution": EXECUTION_ID},
        "OutputDataConfig": {"S3OutputPath": f"s3://arts/{prefix}/steps/first/output", "KmsKeyId": KMS},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 50,
                           "VolumeKmsKeyId": KMS},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "EnableManagedSpotTraining": False,
        "CheckpointConfig": {"S3Uri": f"s3://arts/{prefix}/steps/first/checkpoints", "LocalPath": "/opt/ml/checkpoints"},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": True,
        "Environment": {"MODELWAY_STACK": "dev", "MODELWAY_IMAGE_URI": IMAGE, "MODELWAY_INSTANCE_TYPE": "ml.m5.large"},
    }}  # no DependsOn, no CacheConfig (cache=False), no RetryPolicies
    assert second["DependsOn"] == ["first"]
    assert second["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert second["RetryPolicies"] == [{"ExceptionType": ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR"],
                                        "IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 3}]
    args = second["Arguments"]
    assert args["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert args["EnableManagedSpotTraining"] is True
    assert "MetricDefinitions" not in args["AlgorithmSpecification"]
    assert third["DependsOn"] == ["first", "second"]
    assert third["Arguments"]["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}  # the step's timeout
    assert third["RetryPolicies"][0]["IntervalSeconds"] == 1  # no delay: at least a second
    assert third["RetryPolicies"][0]["MaxAttempts"] == 1
    assert "Tags" not in third["Arguments"] and "TrainingJobName" not in third["Arguments"]


def test_steps_run_in_the_stacks_vpc(plain_graph):
    definition, _, _ = _compile(plain_graph, _outputs(training_subnet_ids=["s-1"], training_security_group_ids=["sg-1"]))
    for step in definition["Steps"]:
        assert step["Arguments"]["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["s-1"]}


def test_a_gate_step_becomes_a_condition(gated_graph):
    definition, specs, prefix = compile_definition(gated_graph, _outputs(), "dev", image=IMAGE, bundle_hash="b" * 64,
                                                   params_hash="p" * 64, pipeline_file="gated_demo.py")
    assert is_gate_step(gated_graph.nodes["evaluate"]) is True
    assert [is_gate_step(gated_graph.nodes[n]) for n in ("score", "publish", "summary")] == [False, False, False]
    assert [s["Name"] for s in definition["Steps"]] == ["score", "evaluate", "evaluate-gate", "summary"]
    assert specs[f"{prefix}/steps/evaluate.json"]["gate"] is True
    evaluate = definition["Steps"][1]
    assert evaluate["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "modelway_gate_passed", "Regex": "modelway_gate_passed=([01])"}]
    gate = definition["Steps"][2]
    [publish] = gate["Arguments"]["IfSteps"]
    assert publish["Name"] == "publish" and "DependsOn" not in publish  # its place in the branch says it
    assert gate == {"Name": "evaluate-gate", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "Equals",
                        "LeftValue": {"Get": "Steps.evaluate.FinalMetricDataList['modelway_gate_passed'].Value"},
                        "RightValue": 1.0}],
        "IfSteps": [publish],
        "ElseSteps": [{"Name": "evaluate-gate-failed", "Type": "Fail", "Arguments": {
            "ErrorMessage": "the quality/fairness gate of step evaluate failed; its result.json names the failed "
                            "checks"}}]}}
    assert definition["Steps"][3]["DependsOn"] == ["publish"]
    assert [s["Name"] for s in training_steps(definition)] == ["score", "evaluate", "publish", "summary"]


GATE_WITH_TWO_INPUTS = """\
from modelway import pipeline, step
from modelway.stages.results import Evaluation


@step
def base(n: int) -> int:
    return n


@step
def check(x: int) -> Evaluation:
    return Evaluation(report={}, card={}, metrics={})


@step
def use(ev: Evaluation, x: int) -> int:
    return x


@step
def also(ev: Evaluation) -> int:
    return 1


@pipeline
def two_inputs(n: int = 1) -> dict:
    x = base(n)
    ev = check(x)
    return {"a": use(ev, x), "b": also(ev)}
"""


def test_a_consumer_with_other_inputs_keeps_those_edges_in_the_branch(tmp_path):
    (tmp_path / "two_inputs.py").write_text(GATE_WITH_TWO_INPUTS)
    graph = load_pipeline(tmp_path / "two_inputs.py").build({"n": 1})
    definition, _, _ = _compile(graph)
    assert [s["Name"] for s in definition["Steps"]] == ["base", "check", "check-gate"]
    branch = definition["Steps"][2]["Arguments"]["IfSteps"]
    assert [(s["Name"], s.get("DependsOn")) for s in branch] == [("use", ["base"]), ("also", None)]
    assert argument_problems(definition) == []


LOOKALIKES = """\
from dataclasses import dataclass

from modelway import pipeline, step
from modelway.stages.gates import GateReport


@dataclass
class Evaluation:
    score: float


@step
def own(n: int) -> Evaluation:
    return Evaluation(float(n))


@step
def report(e: Evaluation) -> GateReport:
    return GateReport("g", [])


@pipeline
def lookalikes(n: int = 1) -> GateReport:
    return report(own(n))
"""


def test_only_the_stages_evaluation_makes_a_gate(tmp_path):
    (tmp_path / "lookalikes.py").write_text(LOOKALIKES)
    graph = load_pipeline(tmp_path / "lookalikes.py").build({"n": 1})
    assert is_gate_step(graph.nodes["own"]) is False  # named Evaluation, but not the model tests' one
    assert is_gate_step(graph.nodes["report"]) is False  # from the stages, but not an Evaluation


def test_training_steps_walk_both_branches():
    inner = {"Name": "in-else", "Type": "Training"}
    definition = {"Steps": [{"Name": "a", "Type": "Training"}, {"Name": "c", "Type": "Condition", "Arguments": {
        "IfSteps": [{"Name": "in-if", "Type": "Training"}], "ElseSteps": [inner, {"Name": "f", "Type": "Fail"}]}},
        {"Name": "z", "Type": "Training"}]}
    assert [s["Name"] for s in training_steps(definition)] == ["a", "in-if", "in-else", "z"]


def test_argument_problems_name_the_step_and_the_field(plain_graph):
    definition, _, _ = _compile(plain_graph)
    assert argument_problems(definition) == []
    definition["Steps"][1]["Arguments"]["ResourceConfig"]["InstanceCount"] = "one"
    assert argument_problems(definition) == [
        "step second: Invalid type for parameter ResourceConfig.InstanceCount, value: one, type: <class 'str'>, "
        "valid types: <class 'int'>"]


def test_expressions_become_placeholders():
    assert _placeholders({"a": {"Get": "x"}, "b": [{"Std:Join": {}}, 1], "c": {"Get": "x", "Other": 1}}) == {
        "a": "expression", "b": ["expression", 1], "c": {"Get": "x", "Other": 1}}
    assert _placeholders({"Get": "a", "Std:Join": "b"}) == "expression"
    assert _placeholders({}) == "expression"  # an empty mapping is a subset too: what botocore never sees


def test_stage_pipeline_stores_code_and_parameters(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "plain_demo.py").write_text(PIPELINE_SRC)
    (folder / "helper.py").write_text("H = 1\n")
    staged = stage_pipeline(folder / "plain_demo.py", None, {"n": "7"}, tmp_path / "home")
    assert staged.pipeline_file == "plain_demo.py"
    with pytest.raises(AttributeError):
        staged.bundle_hash = "other"  # frozen: what was compiled is what gets uploaded
    assert dict(staged.graph.params) == {"n": 7}
    from modelway.artifacts.store import ArtifactStore

    store = ArtifactStore(tmp_path / "home")
    assert store.get(staged.params_hash) == {"n": 7}
    keys = list(staged.objects)
    for digest in (staged.bundle_hash, staged.params_hash):
        mine = [k for k in keys if k.startswith(f"artifacts/{digest[:2]}/{digest}/")]
        assert mine and mine[-1] == f"artifacts/{digest[:2]}/{digest}/meta.json"  # meta.json last
        folder_of = store.path_of(digest)
        for key in mine:
            assert staged.objects[key] == (folder_of / key.split(f"{digest}/", 1)[1]).read_text()
    bundle_files = sorted(k.rsplit("/", 1)[1] for k in keys if f"/{staged.bundle_hash}/" in k)
    assert "helper.py" in bundle_files and "plain_demo.py" in bundle_files
