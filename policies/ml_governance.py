"""ML governance rules (stack): a registry per model family, quality gates in deployed pipelines,
manual approval in prod.

They read the deployed SageMaker pipeline definitions (``aws.sagemaker.Pipeline``), the model
package groups, and the stack config (``modelway:registries``), which the Pulumi CLI hands a
policy pack and the offline checker passes through :func:`policies.core.use_stack`.

Example:
    >>> definition = {"Steps": [{"Name": "ValidateData", "Type": "Processing"},
    ...                         {"Name": "Train", "Type": "Training", "DependsOn": ["ValidateData"]}]}
    >>> graph = PipelineGraph(definition)
    >>> sorted(graph.ancestors("Train"))
    ['ValidateData']
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, Severity, StackInfo, StackResource, StackRule, Violation
from .values import UNKNOWN, as_list, get

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
MODEL_PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
MANUAL = "PendingManualApproval"

_STEP_REF = re.compile(r"^Steps\.([^.\[]+)")
_VALIDATE = re.compile(r"validat|data[-_ ]?quality|schema|expectation", re.I)
_EVALUATE = re.compile(r"evaluat|model[-_ ]?quality|metric", re.I)
_FAIRNESS = re.compile(r"fair|bias", re.I)
_REGISTER = re.compile(r"register", re.I)
_TRAIN = re.compile(r"train|fit|tun", re.I)
MODELWAY_ENTRY_POINT = "modelway.backends.remote"


def _is_modelway_step(step: Mapping[str, Any]) -> bool:
    """A step compiled by ``modelway export sagemaker``: a Training job running the Modelway entry point."""
    entry = get(step, "Arguments", "AlgorithmSpecification", "ContainerEntrypoint")
    return isinstance(entry, list) and MODELWAY_ENTRY_POINT in entry


class PipelineGraph:
    """The steps of a SageMaker pipeline definition and which step runs after which.

    Edges come from ``DependsOn``, from property references (``{"Get": "Steps.X..."}``) in
    arguments and conditions, and from Condition steps to their ``IfSteps``/``ElseSteps``.
    """

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.definition = definition
        self.steps: dict[str, dict[str, Any]] = {}
        self.parents: dict[str, set[str]] = {}
        for step in as_list(definition.get("Steps")):
            self._add(step, None)
        for name, step in self.steps.items():
            depends = {d for d in as_list(step.get("DependsOn")) if isinstance(d, str)}
            refs = depends | set(_references(step.get("Arguments")))
            self.parents[name].update(r for r in refs if r in self.steps and r != name)

    def _add(self, step: Any, condition: str | None) -> None:
        if not isinstance(step, dict) or not isinstance(step.get("Name"), str):
            return
        name = step["Name"]
        self.steps[name] = step
        self.parents.setdefault(name, set())
        if condition:
            self.parents[name].add(condition)
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            for nested in as_list(arguments.get("IfSteps")) + as_list(arguments.get("ElseSteps")):
                self._add(nested, name)

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.parents.get(name, ()))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.parents.get(current, ()))
        return seen

    def role_of(self, name: str) -> set[str]:
        """What a step does: validate, train, evaluate, fairness, register (by type, check type, name)."""
        step = self.steps[name]
        kind = step.get("Type")
        check_type = str(get(step, "CheckType") or get(step, "Arguments", "CheckType") or "")
        roles = set()
        if kind in ("Training", "Tuning", "AutoML") and not (_is_modelway_step(step) and not _TRAIN.search(name)):
            roles.add("train")
        if kind == "RegisterModel" or (kind != "Condition" and _REGISTER.search(name)):
            roles.add("register")
        # a Modelway step (``modelway export sagemaker``) is a Training job whatever it does: its name says what
        checks = kind in ("Processing", "QualityCheck", "Lambda") or _is_modelway_step(step)
        if check_type.upper() == "DATA_QUALITY" or (checks and _VALIDATE.search(name)):
            roles.add("validate")
        if check_type.upper() == "MODEL_QUALITY" or (checks and _EVALUATE.search(name)):
            roles.add("evaluate")
        if kind == "ClarifyCheck" or "BIAS" in check_type.upper() or _FAIRNESS.search(name):
            roles.add("fairness")
        return roles

    def with_role(self, role: str) -> list[str]:
        return [name for name in self.steps if role in self.role_of(name)]

    def parameter_default(self, value: Any) -> Any:
        """Resolve ``{"Get": "Parameters.X"}`` to the parameter's default value."""
        ref = get(value, "Get")
        if isinstance(ref, str) and ref.startswith("Parameters."):
            wanted = ref.removeprefix("Parameters.")
            for parameter in as_list(self.definition.get("Parameters")):
                if get(parameter, "Name") == wanted:
                    return get(parameter, "DefaultValue")
            return None
        return value


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str):
                match = _STEP_REF.match(item)
                if match:
                    yield match.group(1)
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def pipelines(resources: Sequence[StackResource]) -> Iterator[Any]:
    """Yield ``(resource, PipelineGraph)`` per deployed pipeline, or a Note when its definition is unreadable."""
    for r in resources:
        if r.type != PIPELINE:
            continue
        raw = r.props.get("pipelineDefinition")
        if raw is UNKNOWN:
            yield Note(f"pipeline {r.name}: the definition is not known yet", r.urn)
            continue
        if raw is None:
            # `is not None`: a location not known yet (UNKNOWN, falsy) is still a location, not "missing"
            where = "in S3" if r.props.get("pipelineDefinitionS3Location") is not None else "missing"
            yield Note(f"pipeline {r.name}: the definition is {where}, so it cannot be inspected", r.urn)
            continue
        try:
            definition = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            yield Note(f"pipeline {r.name}: the definition is not valid JSON ({exc.msg})", r.urn)
            continue
        if isinstance(definition, dict) and _has_unknown(definition):
            # only a definition given as an object can hold unknowns (JSON text is known or unknown as a whole);
            # the graph reads step types, check types and approval statuses with `or` and `!=`, where an
            # unknown would pass for absent
            yield Note(f"pipeline {r.name}: part of the definition is not known yet, so it cannot be inspected",
                       r.urn)
        elif isinstance(definition, dict):
            yield r, PipelineGraph(definition)
        else:
            yield Note(f"pipeline {r.name}: the definition is not a JSON object, so it cannot be inspected", r.urn)


def _has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    return isinstance(value, list) and any(_has_unknown(v) for v in value)


# --- pipeline-has-quality-gate ----------------------------------------------------------------
def check_pipeline_has_quality_gate(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    for item in pipelines(resources):
        if isinstance(item, Note):
            yield item
            continue
        resource, graph = item
        for step in graph.with_role("train"):
            if not any("validate" in graph.role_of(a) for a in graph.ancestors(step)):
                yield Violation(f'pipeline {resource.name}: training step "{step}" runs without a data validation '
                                "step before it", resource.urn)
        for step in graph.with_role("register"):
            before = [graph.role_of(a) for a in graph.ancestors(step)]
            missing = [role for role in ("evaluate", "fairness") if not any(role in roles for roles in before)]
            if missing:
                labels = {"evaluate": "quality evaluation", "fairness": "fairness check"}
                yield Violation(f'pipeline {resource.name}: registration step "{step}" has no '
                                f"{' and no '.join(labels[m] for m in missing)} before it", resource.urn)


# --- pipeline-steps-use-stack-role-and-kms ----------------------------------------------------
_JOB_TYPES = ("Training", "Processing", "Transform", "Tuning")


def _jobs(steps: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """Every job step, those inside Condition branches included."""
    for step in steps:
        if not isinstance(step, dict):
            continue
        if step.get("Type") in _JOB_TYPES:
            yield step
        elif step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            yield from _jobs(as_list(arguments.get("IfSteps")) + as_list(arguments.get("ElseSteps")))


def _job_definitions(step: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(prefix, arguments)`` of each job a step starts, where its RoleArn and KMS fields are.

    A Tuning step's arguments are a CreateHyperParameterTuningJob request: the role, output and
    volume settings of its training jobs are in ``TrainingJobDefinition`` (or each element of
    ``TrainingJobDefinitions``), not at the top, where the other job steps have them.
    """
    args = step.get("Arguments") or {}
    if step.get("Type") != "Tuning":
        return [("", args)]
    single = get(args, "TrainingJobDefinition")
    found = [(f"TrainingJobDefinitions[{i}].", d) for i, d in enumerate(as_list(get(args, "TrainingJobDefinitions")))]
    if single is not None or not found:  # neither given: the single definition is the one missing its keys
        found.insert(0, ("TrainingJobDefinition.", single))
    return found


def _kms_gaps(kind: Any, args: Any) -> list[str]:
    if kind == "Processing":
        wanted = [("ProcessingOutputConfig", "KmsKeyId"), ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId")]
    elif kind == "Transform":
        wanted = [("TransformOutput", "KmsKeyId")]
    else:
        wanted = [("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId")]
    return [".".join(path) for path in wanted if not get(args, *path)]


def check_pipeline_steps_use_stack_role_and_kms(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    # roles are declared by name (their ARNs are only known after create): compare the ARN's last segment
    names = [r.props.get("name") for r in resources if r.type == "aws:iam/role:Role"]
    roles = {name for name in names if isinstance(name, str)}
    for r in resources:
        if r.type != PIPELINE:
            continue
        pipeline_role = r.props.get("roleArn")
        if pipeline_role is UNKNOWN:  # e.g. the execution role's ARN before it exists: not "no role"
            yield Note(f"pipeline {r.name}: roleArn is not known yet, so neither it nor its steps' roles can be "
                       "compared with the stack's roles", r.urn)
        elif isinstance(pipeline_role, str) and roles and pipeline_role.rpartition("/")[2] not in roles:
            if UNKNOWN in names:  # the role it names may be the one whose name is not known yet
                yield Note(f"pipeline {r.name} runs as {pipeline_role}; a role of this stack has a name not "
                           "known yet, so whether it is one of them cannot be told", r.urn)
            else:
                yield Violation(f"pipeline {r.name} runs as {pipeline_role}, which is not a role of this stack",
                                r.urn)
    for item in pipelines(resources):
        if isinstance(item, Note):
            continue  # pipeline-has-quality-gate reports unreadable definitions
        resource, graph = item
        pipeline_role = resource.props.get("roleArn")
        for step in _jobs(as_list(graph.definition.get("Steps"))):
            name = step.get("Name")
            for prefix, args in _job_definitions(step):
                role = get(args, "RoleArn")
                if isinstance(pipeline_role, str) and isinstance(role, str) and role != pipeline_role:
                    yield Violation(f'pipeline {resource.name}: step "{name}" runs as {role}, not the pipeline\'s '
                                    f"execution role {pipeline_role}", resource.urn)
                for field_path in _kms_gaps(step.get("Type"), args):
                    yield Violation(f'pipeline {resource.name}: step "{name}" has no {prefix}{field_path}: its '
                                    "outputs and volumes are not encrypted with the stack's key", resource.urn)


# --- model-registry-per-model -----------------------------------------------------------------
def model_families(ctx: Context) -> list[str]:
    """Model families from the policy parameter and the stack config (``modelway:registries``)."""
    families = [str(f) for f in ctx.config.get("modelFamilies") or []]
    stack = ctx.stack or StackInfo()
    registries = stack.value("modelway:registries")
    for key in ("model_families", "modelFamilies"):
        families += [str(f) for f in as_list(get(registries, key)) if isinstance(f, str)]
    return sorted(set(families))


def _group_names(resources: Sequence[StackResource]) -> dict[str, StackResource]:
    """The stack's model package groups by name (a group whose name is not known yet is left out)."""
    groups = {}
    for r in resources:
        if r.type == MODEL_PACKAGE_GROUP:
            name = r.props.get("modelPackageGroupName")
            if name is not UNKNOWN:
                groups[name if isinstance(name, str) else r.name] = r
    return groups


def _groups_not_known_yet(resources: Sequence[StackResource], *, by_tag: bool) -> str:
    """The groups (resource names) whose name, or with ``by_tag`` also model-family tag, is not known
    yet (preview): such a group may be the one a family or a pipeline needs."""
    pending = []
    for r in resources:
        if r.type == MODEL_PACKAGE_GROUP:
            tags = r.props.get("tags")
            tag_unknown = tags is UNKNOWN or isinstance(tags, Mapping) and tags.get("model-family") is UNKNOWN
            if r.props.get("modelPackageGroupName") is UNKNOWN or by_tag and tag_unknown:
                pending.append(r.name)
    return ", ".join(pending)


def _serves_family(name: str, group: StackResource, family: str, stack_name: str) -> bool:
    """Whether a model package group is the one for ``family``.

    A ``model-family`` tag says so explicitly; otherwise the group is named after the family,
    alone or in the kit's ``<project>-<stack>-<family>`` convention. A bare suffix match would
    let family ``risk`` be satisfied by a ``credit-risk`` group.
    """
    tags = group.props.get("tags")
    if isinstance(tags, Mapping) and tags.get("model-family") == family:
        return True
    environment = stack_name.rpartition("/")[2]  # the CLI passes "org/project/stack"
    return name == family or bool(environment) and name.endswith(f"-{environment}-{family}")


def check_model_registry_per_model(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    groups = _group_names(resources)
    # a group not known yet may be the one a family or a pipeline needs: "cannot tell", not a violation
    pending, unnamed = _groups_not_known_yet(resources, by_tag=True), _groups_not_known_yet(resources, by_tag=False)
    families = model_families(ctx)
    stack_name = (ctx.stack or StackInfo()).name
    for family in families:
        if any(_serves_family(name, group, family, stack_name) for name, group in groups.items()):
            continue
        if pending:
            yield Note(f'model family "{family}": no model package group serves it by a known name or tag, and '
                       f"the name or tags of {pending} are not known yet")
        else:
            yield Violation(f'model family "{family}" has no SageMaker model package group')
    registers = False  # whether a pipeline registers models: then the stack does say how
    for item in pipelines(resources):
        if isinstance(item, Note):
            continue  # pipeline-has-quality-gate reports unreadable definitions
        resource, graph = item
        for step in graph.with_role("register"):
            registers = True
            target = graph.parameter_default(get(graph.steps[step], "Arguments", "ModelPackageGroupName"))
            if isinstance(target, str) and target not in groups:
                if unnamed:
                    yield Note(f'pipeline {resource.name}: step "{step}" registers into "{target}", not a known '
                               f"model package group name, and the name of {unnamed} is not known yet", resource.urn)
                else:
                    yield Violation(f'pipeline {resource.name}: step "{step}" registers into "{target}", which is '
                                    "not a model package group of this stack", resource.urn)
    if not families and not registers:
        yield Note("no model families are declared (stack config modelway:registries or policy parameter "
                   "modelFamilies) and no pipeline registers models")


# --- prod-requires-manual-approval ------------------------------------------------------------
def _status(value: Any) -> str:
    """A register step's approval status as a message names it: none given is SageMaker's default
    (Approved); an empty or non-text one is quoted, not taken for that default."""
    if value is None:
        return "Approved (default)"
    return value if isinstance(value, str) and value else repr(value)


def check_prod_requires_manual_approval(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    stack = ctx.stack or StackInfo()
    environment = ctx.config.get("environment") or stack.value("modelway:environment") or stack.name
    if environment not in ctx.config["environments"]:
        return
    evidence = False  # whether anything says how models are registered
    registries = stack.value("modelway:registries")
    # the first key that is set decides: not `a or b`, which read a known empty status ("") as absent, so
    # the stack was reported as saying nothing about approval instead of registering without it
    for key in ("model_approval_status", "modelApprovalStatus"):
        status = get(registries, key)
        if status is not None:
            break
    if status is not None:
        evidence = True
        if status != MANUAL:
            yield Violation(f"stack config modelway:registries.{key} is {status!r}; {environment} requires {MANUAL}")
    for item in pipelines(resources):
        if isinstance(item, Note):
            continue
        resource, graph = item
        for step in graph.with_role("register"):
            evidence = True
            value = graph.parameter_default(get(graph.steps[step], "Arguments", "ModelApprovalStatus"))
            if value != MANUAL:
                yield Violation(f'pipeline {resource.name}: step "{step}" registers models as {_status(value)}; '
                                f"{environment} requires {MANUAL}", resource.urn)
    for r in resources:
        name = r.props.get("name")
        if r.type == SSM_PARAMETER and isinstance(name, str) and "approval" in name.lower():
            evidence = True
            # a plain-text status is as often set as insecureValue (shown in diffs) as value
            value = r.props.get("value")
            if value is None:
                value = r.props.get("insecureValue")
            if value is UNKNOWN:  # e.g. set from another resource's output: not "Approved", not yet anything
                yield Note(f"SSM parameter {name}: its value is not known yet", r.urn)
            elif value != MANUAL:
                yield Violation(f"SSM parameter {name} is {value!r}; {environment} requires {MANUAL}", r.urn)
    if not evidence:
        yield Note(f"nothing in stack {stack.name or '?'} says how models are registered "
                   "(no modelway:registries config, no RegisterModel step)")


POLICIES = [
    StackRule(
        "model-registry-per-model",
        "Each model family of the stack config has a SageMaker model package group.",
        check=check_model_registry_per_model, concern="ml_governance", severity=Severity.HIGH,
        mirrors=["model governance"],
        params={"modelFamilies": {"type": "array", "items": {"type": "string"}, "default": [],
                                  "description": "Extra model families (besides modelway:registries.model_families)."}},
        remediation="Add an aws.sagemaker.ModelPackageGroup per model family (infra does this from "
                    "modelway:registries.model_families).",
    ),
    StackRule(
        "pipeline-has-quality-gate",
        "Deployed pipelines validate data before training and evaluate quality and fairness before registering.",
        check=check_pipeline_has_quality_gate, concern="ml_governance", severity=Severity.HIGH,
        mirrors=["model governance"],
        remediation="Add a data validation step upstream of training, and model-quality and fairness "
                    "(ClarifyCheck/bias) steps upstream of RegisterModel, gated by a Condition step.",
    ),
    StackRule(
        "prod-requires-manual-approval",
        "In prod, models are registered as PendingManualApproval.",
        check=check_prod_requires_manual_approval, concern="ml_governance", severity=Severity.HIGH,
        mirrors=["model governance"],
        params={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"],
                                 "description": "Environments in which manual approval is required."},
                "environment": {"type": "string", "default": "",
                                "description": "Environment of the stack (default: modelway:environment or stack name)."}},
        remediation="Set modelway:registries.model_approval_status to PendingManualApproval and "
                    "ModelApprovalStatus=PendingManualApproval on RegisterModel steps.",
    ),
]

# Beyond the catalogue (issue 11): pipelines the stack deploys from modelway:pipelines.
DEPLOYED_PIPELINE_POLICIES = [
    StackRule(
        "pipeline-steps-use-stack-role-and-kms",
        "Deployed pipelines run every job as the pipeline's (the stack's) execution role, outputs and volumes under KMS.",
        check=check_pipeline_steps_use_stack_role_and_kms, concern="ml_governance", severity=Severity.HIGH,
        mirrors=["model governance"],
        remediation="Compile pipelines with modelway export sagemaker (or modelway:pipelines): every step gets the "
                    "stack's SageMaker execution role and KMS key; set RoleArn and the KmsKeyId fields by hand otherwise.",
    ),
]
