"""Compile a Modelway pipeline into a SageMaker Pipelines definition (JSON, schema version 2020-12-01).

Each step becomes a ``Training`` step that runs the stack's training image with
``python -m modelway.backends.remote`` in *pipeline mode*: the step's spec (code bundle,
parameters, upstream steps) is uploaded once at export time, and the execution id
(``Execution.PipelineExecutionId``) arrives as a hyperparameter, so each execution keeps
its results apart (``exports/<pipeline>/<digest>/executions/<id>/<step>/result.json``)
and a step finds its inputs from its upstream steps' results. Dependencies are the DAG's
edges (``DependsOn``); the step's ``cache`` setting becomes ``CacheConfig``; its
``retries`` a retry policy on capacity errors; the step's resources its instance type
(``ml.m5.large`` when it names none), spot settings and the stack's VPC.

The quality/fairness gate is a ``Condition`` step. A *gate step* (one that returns the
model tests' :class:`~modelway.stages.results.Evaluation`) reports ``modelway_gate_passed=1``
or ``=0`` in its log, which SageMaker reads through the step's ``MetricDefinitions``; a
failed gate ends the step's job normally (its ``result.json`` names the failed checks), so
the ``<step>-gate`` condition decides: the steps that consume the evaluation run in its
``IfSteps``, a ``Fail`` step naming the gate in its ``ElseSteps``. Registration runs
inside the pipeline's own ``register`` step, through the SageMaker registry backend, with
the stack's approval status for new versions (``model_approval_status``: ``PendingManualApproval``
in prod): our audit chain records it, which a native ``RegisterModel`` step would bypass.

Why JSON by hand and not the ``sagemaker`` SDK: see the README section "SageMaker Pipelines
export" (its pins conflict with ours; checked with ``pip install --dry-run``). The
definition is deterministic for the same pipeline, parameters and stack (a golden file
checks it), and each step's arguments are validated against botocore's model of
``CreateTrainingJob``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelway.artifacts.store import ArtifactStore
from modelway.backends.aws.artifacts import PREFIX
from modelway.backends.aws.sagemaker_jobs import code_bundle, stack_network, training_job_request
from modelway.dsl.loader import load_pipeline

if TYPE_CHECKING:
    from modelway.contracts.stack_outputs import StackOutputs
    from modelway.dsl.graph import PipelineGraph, StepNode

DEFAULT_INSTANCE = "ml.m5.large"
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}
GATE_METRIC = "modelway_gate_passed"
GATE_METRIC_REGEX = GATE_METRIC + r"=([01])"


def is_gate_step(node: StepNode) -> bool:
    """Whether the step returns the model tests' Evaluation (its gate decides whether the rest runs)."""
    returned = node.step.return_annotation()
    return getattr(returned, "__name__", None) == "Evaluation" and "stages" in getattr(returned, "__module__", "")


def compile_definition(graph: PipelineGraph, outputs: StackOutputs, stack: str, *, image: str, bundle_hash: str, params_hash: str,
                       pipeline_file: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    """(definition, specs to upload by S3 key, export prefix) for a built pipeline graph on a stack's outputs.

    Used by ``modelway export sagemaker`` and by the Pulumi program (``infra/pipelines.py``).
    """
    bucket = outputs.buckets.artifacts
    # what the steps run: the code, the parameters and the image content (the bucket already names the stack)
    digest = hashlib.sha256(json.dumps([graph.pipeline_name, bundle_hash, params_hash, image.rpartition("@")[2]])
                            .encode()).hexdigest()[:16]
    prefix = f"exports/{graph.pipeline_name}/{digest}"
    outputs_key = f"{prefix}/stack-outputs.json"
    specs: dict[str, dict[str, Any]] = {outputs_key: outputs.model_dump(mode="json")}
    steps: list[dict[str, Any]] = []
    network = stack_network(outputs)
    for name in graph.order:
        node = graph.nodes[name]
        settings = node.settings
        spec_key = f"{prefix}/steps/{name}.json"
        specs[spec_key] = {"mode": "pipeline", "step": name, "pipeline": graph.pipeline_name,
                           "pipeline_file": pipeline_file, "bundle": bundle_hash, "params": params_hash,
                           "upstream": list(node.upstream), "executions": f"{prefix}/executions",
                           "gate": is_gate_step(node)}
        request = training_job_request(
            name="unused", image=image, role_arn=outputs.roles.sagemaker_execution,
            instance_type=settings.resources.instance_type or DEFAULT_INSTANCE, spot=settings.resources.spot,
            max_runtime_s=int(settings.resources.max_runtime_s or settings.timeout_s or 24 * 3600),
            kms_key_arn=outputs.kms_key_arn, bucket=bucket, prefix=f"{prefix}/steps/{name}",
            spec_uri=f"s3://{bucket}/{spec_key}", outputs_uri=f"s3://{bucket}/{outputs_key}",
            stack=stack, network=network,
            tags={"modelway-pipeline": graph.pipeline_name, "modelway-step": name})
        request.pop("TrainingJobName")  # the pipeline names each job
        request.pop("Tags")  # pipeline steps take no tags; the pipeline resource carries them
        request["HyperParameters"]["modelway_execution"] = EXECUTION_ID
        if specs[spec_key]["gate"]:
            request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": GATE_METRIC, "Regex": GATE_METRIC_REGEX}]
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
    steps = _gate_conditions(graph, steps)
    definition = {"Version": "2020-12-01", "Metadata": {}, "Parameters": [],
                  "PipelineExperimentConfig": {"ExperimentName": graph.pipeline_name, "TrialName": EXECUTION_ID},
                  "Steps": steps}
    return definition, specs, prefix


@dataclass(frozen=True)
class StagedPipeline:
    """A pipeline file built and its code and parameters stored as artifacts, ready to compile and upload."""

    graph: Any
    pipeline_file: str
    bundle_hash: str
    params_hash: str
    objects: dict[str, str]
    """S3 key -> text of every object of the two artifacts (the S3 artifact store's layout, ``meta.json`` last)."""


def stage_pipeline(file: Path, pipeline: str | None, params: dict[str, str], home: Path) -> StagedPipeline:
    """Build ``file``'s pipeline and store its code bundle and parameters in the local store under ``home``.

    The hashes are the content addresses the S3 artifact store uses, so the objects can be
    uploaded by anything that writes S3 (the Pulumi program declares them as bucket objects).
    """
    import shutil

    pipe = load_pipeline(file, pipeline)
    graph = pipe.build(pipe.parse_cli_params([f"{k}={v}" for k, v in sorted(params.items())]))
    store = ArtifactStore(home)
    bundle = code_bundle(file.resolve())
    try:
        bundle_hash = store.put_path(bundle["dir"]).hash
    finally:
        shutil.rmtree(bundle["dir"], ignore_errors=True)
    params_hash = store.put(dict(graph.params)).hash
    objects: dict[str, str] = {}
    for digest in (bundle_hash, params_hash):
        folder = store.path_of(digest)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "meta.json")
        for path in [*files, folder / "meta.json"]:  # meta.json last: a reader that finds it finds the rest
            objects[f"{PREFIX}/{digest[:2]}/{digest}/{path.relative_to(folder).as_posix()}"] = path.read_text()
    return StagedPipeline(graph, bundle["file"], bundle_hash, params_hash, objects)


def _gate_conditions(graph: Any, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """After each gate step, a Condition step: its direct consumers run in ``IfSteps``, a Fail step in ``ElseSteps``.

    Steps further downstream stay at the top level with ``DependsOn`` their upstream steps:
    SageMaker runs a step only when every step it depends on ran, so a failed gate stops them too.
    """
    by_name = {s["Name"]: s for s in steps}
    nested: set[str] = set()
    out: list[dict[str, Any]] = []
    for step in steps:
        name = step["Name"]
        if name in nested:
            continue
        out.append(step)
        node = graph.nodes[name]
        if not is_gate_step(node):
            continue
        consumers = [n for n in graph.order if name in graph.nodes[n].upstream]
        if_steps = []
        for consumer in consumers:
            inner = dict(by_name[consumer])
            # inside a branch a step's place says it runs after the condition; the other edges stay
            inner.pop("DependsOn", None)
            others = [u for u in graph.nodes[consumer].upstream if u != name]
            if others:
                inner["DependsOn"] = others
            if_steps.append(inner)
            nested.add(consumer)
        out.append({
            "Name": f"{name}-gate", "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "Equals",
                                "LeftValue": {"Get": f"Steps.{name}.FinalMetricDataList['{GATE_METRIC}'].Value"},
                                "RightValue": 1.0}],
                "IfSteps": if_steps,
                "ElseSteps": [{"Name": f"{name}-gate-failed", "Type": "Fail", "Arguments": {
                    "ErrorMessage": f"the quality/fairness gate of step {name} failed; its result.json names the "
                                    "failed checks"}}],
            },
        })
    return out


def training_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Training step of a definition, those inside Condition branches included, in definition order."""
    found: list[dict[str, Any]] = []

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            if step["Type"] == "Training":
                found.append(step)
            elif step["Type"] == "Condition":
                walk(step["Arguments"]["IfSteps"])
                walk(step["Arguments"]["ElseSteps"])

    walk(definition["Steps"])
    return found


def argument_problems(definition: dict[str, Any]) -> list[str]:
    """Each step's arguments checked against botocore's ``CreateTrainingJob`` model (expressions as placeholders)."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    problems = []
    for step in training_steps(definition):
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
