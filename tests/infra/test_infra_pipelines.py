"""``modelway:pipelines``: listed pipeline files become ``aws.sagemaker.Pipeline`` resources (Pulumi mocks).

The program compiles each file with the same compiler as ``modelway export sagemaker``
against the stack's outputs and the training image's digest (``aws.ecr.getImage``), and
declares the objects its steps read (code bundle, parameters, specs) under the stack key.
Not exercised: a real ``pulumi preview`` diff (no CLI here); the definition changing is what
makes the resource change there.
"""
from __future__ import annotations

import json

import pytest
from infra_helpers import render_stack

PIPELINE = "tests/aws/pipelines/gated_demo.py"


def _pipelines(result):
    return result.of_type("aws:sagemaker/pipeline:Pipeline")


@pytest.fixture(scope="module")
def dev_with_pipeline():
    return render_stack("dev", **{"modelway:pipelines": json.dumps([PIPELINE])})


def test_listed_pipeline_is_a_sagemaker_pipeline_resource(dev_with_pipeline):
    [pipeline] = _pipelines(dev_with_pipeline)
    roles = {r.name: r for r in dev_with_pipeline.of_type("aws:iam/role:Role")}
    definition = json.loads(pipeline.inputs["pipelineDefinition"])
    assert pipeline.inputs["pipelineName"] == "modelway-dev-gated-demo"
    steps = [s["Name"] for s in definition["Steps"]]
    assert steps == ["score", "evaluate", "evaluate-gate", "summary"]  # the compiler's output, gate included
    training = [s for s in definition["Steps"] if s["Type"] == "Training"]
    execution_role = dev_with_pipeline.outputs["roles"]["sagemaker_execution"]
    assert pipeline.inputs["roleArn"] == execution_role and roles
    for step in training:
        args = step["Arguments"]
        assert args["RoleArn"] == execution_role
        assert args["OutputDataConfig"]["KmsKeyId"] == dev_with_pipeline.outputs["kms_key_arn"]
        assert "@sha256:" in args["AlgorithmSpecification"]["TrainingImage"]


def test_steps_read_objects_the_program_declares(dev_with_pipeline):
    [pipeline] = _pipelines(dev_with_pipeline)
    definition = json.loads(pipeline.inputs["pipelineDefinition"])
    objects = {o.inputs["key"]: o for o in dev_with_pipeline.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    artifacts = dev_with_pipeline.outputs["buckets"]["artifacts"]
    for step in definition["Steps"]:
        if step["Type"] != "Training":
            continue
        for uri in (step["Arguments"]["HyperParameters"]["modelway_spec"],
                    step["Arguments"]["HyperParameters"]["modelway_outputs"]):
            bucket, key = uri.removeprefix("s3://").split("/", 1)
            assert bucket == artifacts and key in objects
            assert objects[key].inputs["serverSideEncryption"] == "aws:kms"
    spec = json.loads(objects[next(k for k in objects if k.endswith("/steps/evaluate.json"))].inputs["content"])
    assert spec["gate"] is True
    for digest in (spec["bundle"], spec["params"]):  # the code and parameters are there, meta.json included
        assert f"artifacts/{digest[:2]}/{digest}/meta.json" in objects


def test_a_pipeline_change_changes_the_definition(dev_with_pipeline):
    changed = render_stack("dev", **{"modelway:pipelines": json.dumps([{"file": PIPELINE, "params": {"n": "40"}}])})
    [before], [after] = _pipelines(dev_with_pipeline), _pipelines(changed)
    assert before.urn == after.urn  # the same resource, updated in place
    assert before.inputs["pipelineDefinition"] != after.inputs["pipelineDefinition"]


def test_bad_entry_is_one_line_naming_the_key():
    from modelway.errors import UserError

    with pytest.raises(UserError, match=r"modelway:pipelines\[0\]\.file: String should match pattern"):
        render_stack("dev", **{"modelway:pipelines": json.dumps([{"file": "pipelines/credit_risk.txt"}])})


def test_the_deployed_definition_passes_the_role_and_kms_policy(dev_with_pipeline):
    from policies.catalog import by_name
    from policies.core import use_stack
    from policies.harness import policy_resource, stack_args

    resources = [policy_resource(r.type, r.inputs, name=r.name) for r in dev_with_pipeline.resources
                 if r.type in ("aws:sagemaker/pipeline:Pipeline", "aws:iam/role:Role")]
    use_stack("dev", None)
    try:
        outcome = by_name("pipeline-steps-use-stack-role-and-kms").evaluate(stack_args(resources))
    finally:
        use_stack(None)
    assert not outcome.violations, outcome.violations
    names = [r.inputs.get("name") for r in dev_with_pipeline.of_type("aws:iam/role:Role")]
    assert "modelway-dev-sagemaker-execution" in names  # so the pipeline's role was compared with the stack's
