"""Compile a Modelway pipeline into a SageMaker Pipelines definition (JSON, schema version 2020-12-01).

Each step becomes a ``Training`` step that runs the stack's training image with
``python -m modelway.backends.remote`` in *pipeline mode*: the step's spec (code bundle,
parameters, upstream steps) is uploaded once at export time, and the execution id
(``Execution.PipelineExecutionId``) arrives as a hyperparameter, so each execution keeps
its results apart (``exports/<pipeline>/<digest>/executions/<id>/<step>/result.json``)
and a step finds its inputs from its upstream steps' results. Dependencies are the DAG's
edges (``DependsOn``); the step's ``cache`` setting becomes ``CacheConfig``; its
``retries`` a retry policy on capacity errors; the step's resources its instance type
(``ml.m5.large`` when it names none) and spot settings. Registration runs inside the
pipeline's own ``register`` step, through the SageMaker registry backend, with the
environment's approval status; quality and fairness gates fail their step (and so the
execution) rather than being a ``Condition`` step.

The definition is deterministic for the same pipeline, parameters and stack (a golden
file checks it), and each step's arguments are validated against botocore's model of
``CreateTrainingJob``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from modelway.backends.aws.sagemaker_jobs import training_job_request

DEFAULT_INSTANCE = "ml.m5.large"
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


def compile_definition(graph: Any, backends: Any, *, image: str, bundle_hash: str, params_hash: str,
                       pipeline_file: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    """(definition, specs to upload by S3 key, export prefix) for a built pipeline graph."""
    outputs = backends.outputs
    bucket = outputs.buckets.artifacts
    # what the steps run: the code, the parameters and the image content (the bucket already names the stack)
    digest = hashlib.sha256(json.dumps([graph.pipeline_name, bundle_hash, params_hash, image.rpartition("@")[2]])
                            .encode()).hexdigest()[:16]
    prefix = f"exports/{graph.pipeline_name}/{digest}"
    outputs_key = f"{prefix}/stack-outputs.json"
    specs: dict[str, dict[str, Any]] = {outputs_key: outputs.model_dump(mode="json")}
    steps = []
    for name in graph.order:
        node = graph.nodes[name]
        settings = node.settings
        spec_key = f"{prefix}/steps/{name}.json"
        specs[spec_key] = {"mode": "pipeline", "step": name, "pipeline": graph.pipeline_name,
                           "pipeline_file": pipeline_file, "bundle": bundle_hash, "params": params_hash,
                           "upstream": list(node.upstream), "executions": f"{prefix}/executions"}
        request = training_job_request(
            name="unused", image=image, role_arn=outputs.roles.sagemaker_execution,
            instance_type=settings.resources.instance_type or DEFAULT_INSTANCE, spot=settings.resources.spot,
            max_runtime_s=int(settings.resources.max_runtime_s or settings.timeout_s or 24 * 3600),
            kms_key_arn=outputs.kms_key_arn, bucket=bucket, prefix=f"{prefix}/steps/{name}",
            spec_uri=f"s3://{bucket}/{spec_key}", outputs_uri=f"s3://{bucket}/{outputs_key}",
            stack=backends.resolved.name, tags={"modelway-pipeline": graph.pipeline_name, "modelway-step": name})
        request.pop("TrainingJobName")  # the pipeline names each job
        request.pop("Tags")  # pipeline steps take no tags; the pipeline resource carries them
        request["HyperParameters"]["modelway_execution"] = EXECUTION_ID
        step: dict[str, Any] = {"Name": name, "Type": "Training", "Arguments": request}
        if node.upstream:
            step["DependsOn"] = list(node.upstream)
        if settings.cache:
            step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
        if settings.retries:
            step["RetryPolicies"] = [{"ExceptionType": ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR"],
                                      "IntervalSeconds": max(1, int(settings.retry_delay_s)), "BackoffRate": 2.0,
                                      "MaxAttempts": settings.retries}]
        steps.append(step)
    definition = {"Version": "2020-12-01", "Metadata": {}, "Parameters": [],
                  "PipelineExperimentConfig": {"ExperimentName": graph.pipeline_name, "TrialName": EXECUTION_ID},
                  "Steps": steps}
    return definition, specs, prefix


def argument_problems(definition: dict[str, Any]) -> list[str]:
    """Each step's arguments checked against botocore's ``CreateTrainingJob`` model (expressions as placeholders)."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    problems = []
    for step in definition["Steps"]:
        request = _placeholders({"TrainingJobName": "placeholder", **step["Arguments"]})
        report = ParamValidator().validate(request, shape)
        if report.has_errors():
            problems.append(f"step {step['Name']}: {report.generate_report()}")
    return problems


def _placeholders(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) <= {"Get", "Std:Join"}:
            return "expression"
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value
