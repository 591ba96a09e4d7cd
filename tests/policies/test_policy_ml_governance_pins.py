"""Pins on the ML governance rules (policies/ml_governance.py) that mutation testing found loose.

Each test states what a user reads (the exact violations and notes, and the resource they
point at) on both sides of a decision: what makes a pipeline step a validation, training,
evaluation, fairness or registration step; which steps run before which; when a stack's
registries, pipelines and approval settings pass, fail or cannot be checked. See ``make mutate``.
"""
from __future__ import annotations

import json

import pytest
from policy_helpers import evaluate_stack

from policies.core import Context, Note, StackInfo, Violation
from policies.harness import make_urn
from policies.ml_governance import (
    PipelineGraph,
    check_model_registry_per_model,
    check_prod_requires_manual_approval,
    model_families,
)

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
SSM = "aws:ssm/parameter:Parameter"
ROLE = "aws:iam/role:Role"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "string not known yet"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # the engine's "object not known yet"
MANUAL = "PendingManualApproval"
EXEC_ROLE = "arn:aws:iam::123456789012:role/modelway-prod-sagemaker-execution"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
MODELWAY = {"AlgorithmSpecification": {"ContainerEntrypoint": ["python", "-m", "modelway.backends.remote"]}}
NO_EVIDENCE = ("nothing in stack prod says how models are registered "
               "(no modelway:registries config, no RegisterModel step)")
NO_FAMILIES = ("no model families are declared (stack config modelway:registries or policy parameter "
               "modelFamilies) and no pipeline registers models")


def run(policy: str, resources: list, **kwargs) -> tuple[list[str], list[str]]:
    """The violations' and notes' messages, in the order the rule reported them."""
    outcome = evaluate_stack(policy, resources, **kwargs)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def step(name: str, kind: str, **extra) -> dict:
    return {"Name": name, "Type": kind, **extra}


def pipeline(*steps: dict, name: str = "p", parameters: list | None = None, **props) -> tuple:
    definition = {"Steps": list(steps), **({"Parameters": parameters} if parameters else {})}
    return (PIPELINE, {"pipelineDefinition": json.dumps(definition), **props}, name)


def registries(**values) -> dict:
    return {"modelway:registries": json.dumps(values)}


# --- what a step does: its type, its check type, its name ------------------------------------------------
@pytest.mark.parametrize("the_step, roles", [
    (step("Fit", "Training"), {"train"}),
    (step("Search", "Tuning"), {"train"}),
    (step("Auto", "AutoML"), {"train"}),
    (step("Validate", "Training"), {"train"}),              # a plain training job is training, whatever its name
    (step("Train", "Processing"), set()),                   # a processing job named "train" trains nothing
    (step("prepare", "Training", Arguments=MODELWAY), set()),   # a Modelway step: its name says what it does
    (step("train", "Training", Arguments=MODELWAY), {"train"}),
    (step("fit-model", "Training", Arguments=MODELWAY), {"train"}),
    (step("Tune", "Training", Arguments=MODELWAY), {"train"}),
    (step("validate", "Training", Arguments=MODELWAY), {"validate"}),
    (step("evaluate", "Training", Arguments=MODELWAY), {"evaluate"}),
    (step("Push", "RegisterModel"), {"register"}),
    (step("register-card", "Lambda"), {"register"}),
    (step("RegisterGate", "Condition"), set()),            # a condition named "register" registers nothing
    (step("Check", "QualityCheck", CheckType="DATA_QUALITY"), {"validate"}),
    (step("Check", "QualityCheck", Arguments={"CheckType": "data_quality"}), {"validate"}),
    (step("Check", "QualityCheck", CheckType="MODEL_QUALITY"), {"evaluate"}),
    (step("Check", "QualityCheck", Arguments={"CheckType": "model_quality"}), {"evaluate"}),
    # the step's own CheckType comes before the one in its arguments
    (step("Check", "QualityCheck", CheckType="DATA_QUALITY", Arguments={"CheckType": "MODEL_QUALITY"}),
     {"validate"}),
    (step("Check", "QualityCheck", CheckType="MODEL_BIAS"), {"fairness"}),
    (step("Check", "Transform", Arguments={"CheckType": "data_bias"}), {"fairness"}),
    (step("Explain", "ClarifyCheck"), {"fairness"}),
    (step("FairnessReport", "Transform"), {"fairness"}),    # by name, whatever the type
    (step("BiasGate", "Condition"), {"fairness"}),
    (step("ValidateData", "Processing"), {"validate"}),
    (step("data-quality", "Lambda"), {"validate"}),
    (step("data_quality", "QualityCheck"), {"validate"}),
    (step("DataQuality", "Processing"), {"validate"}),
    (step("SchemaCheck", "Processing"), {"validate"}),
    (step("ExpectationSuite", "Processing"), {"validate"}),
    (step("ValidateData", "Transform"), set()),             # only check-like steps validate by name
    (step("EvaluateModel", "Processing"), {"evaluate"}),
    (step("model-quality", "QualityCheck"), {"evaluate"}),
    (step("Metrics", "Lambda"), {"evaluate"}),
    (step("Evaluate", "Transform"), set()),
    (step("EvaluateGate", "Condition"), set()),
    (step("ValidateAndEvaluate", "Processing"), {"validate", "evaluate"}),
    (step("Anything", "Fail"), set()),
    ({"Name": "Untyped"}, set()),
])
def test_a_step_role_comes_from_its_type_check_type_and_name(the_step, roles):
    graph = PipelineGraph({"Steps": [the_step]})
    assert graph.role_of(the_step["Name"]) == roles
    assert {r for r in ("train", "register", "validate", "evaluate", "fairness") if graph.with_role(r)} == roles


def test_with_role_lists_every_step_of_the_role_in_definition_order():
    graph = PipelineGraph({"Steps": [step("TrainB", "Training"), step("Check", "Processing"),
                                     step("TrainA", "Training")]})
    assert graph.with_role("train") == ["TrainB", "TrainA"]
    assert graph.with_role("register") == []


# --- which step runs after which ------------------------------------------------------------------------
def test_ancestors_follow_depends_on_references_and_condition_branches():
    graph = PipelineGraph({"Steps": [
        step("A", "Processing"),
        step("B", "Processing", DependsOn=["A", 7, "Ghost"]),          # a non-name and a missing step: ignored
        step("C", "Training", Arguments={"Inputs": [{"S3": {"Get": "Steps.B.ProcessingOutputConfig.Outputs"}}],
                                         "Self": {"Get": "Steps.C.ModelArtifacts"}}),  # its own output: no edge
        step("Gate", "Condition", DependsOn=["C"],
             Arguments={"IfSteps": [step("D", "RegisterModel")], "ElseSteps": [step("E", "Fail")]}),
        "not a step", {"Type": "Processing"}, {"Name": 5, "Type": "Processing"},
    ]})
    assert list(graph.steps) == ["A", "B", "C", "Gate", "D", "E"]
    assert graph.parents == {"A": set(), "B": {"A"}, "C": {"B"}, "Gate": {"C"}, "D": {"Gate"}, "E": {"Gate"}}
    assert graph.ancestors("A") == set()
    assert graph.ancestors("C") == {"A", "B"}
    assert graph.ancestors("D") == graph.ancestors("E") == {"A", "B", "C", "Gate"}
    assert graph.ancestors("Ghost") == set()


def test_a_step_reference_is_a_get_that_starts_with_steps():
    graph = PipelineGraph({"Steps": [
        step("P", "Processing"), step("Q", "Processing"), step("R", "Processing"),
        step("X", "Training", Arguments={
            "a": {"Get": "Steps.P['metrics']"},                         # indexed output
            "b": {"Get": "Parameters.Steps.Q"},                         # a parameter, not step Q
            "c": {"Std:Join": {"Values": [{"Get": "Steps.R.Output"}]}},  # nested in a function
            "d": {"Get": {"Get": "Steps.R.Other"}}}),
    ]})
    assert graph.parents["X"] == {"P", "R"}


def test_a_condition_without_arguments_or_else_branch_still_adds_its_steps():
    graph = PipelineGraph({"Steps": [step("Empty", "Condition"),
                                     step("Gate", "Condition", Arguments={"IfSteps": [step("D", "RegisterModel")]})]})
    assert list(graph.steps) == ["Empty", "Gate", "D"]
    assert graph.ancestors("D") == {"Gate"}


def test_a_dependency_cycle_ends():
    graph = PipelineGraph({"Steps": [step("A", "Processing", DependsOn=["B"]),
                                     step("B", "Processing", DependsOn=["A"])]})
    assert graph.ancestors("A") == {"A", "B"}


@pytest.mark.parametrize("value, expected", [
    ({"Get": "Parameters.Status"}, MANUAL),
    ({"Get": "Parameters.NoDefault"}, None),
    ({"Get": "Parameters.Stat"}, None),                     # names match whole, not by prefix
    ({"Get": "Parameters.Missing"}, None),
    ({"Get": "Execution.PipelineExecutionId"}, {"Get": "Execution.PipelineExecutionId"}),
    ({"Get": 5}, {"Get": 5}),
    ("Approved", "Approved"),
    (None, None),
])
def test_parameter_default_resolves_parameter_references_only(value, expected):
    graph = PipelineGraph({"Parameters": [{"Name": "NoDefault", "Type": "String"},
                                          {"Name": "Status", "Type": "String", "DefaultValue": MANUAL}],
                           "Steps": []})
    assert graph.parameter_default(value) == expected


# --- definitions that cannot be inspected ----------------------------------------------------------------
@pytest.mark.parametrize("props, note", [
    ({"pipelineDefinition": UNKNOWN_STRING}, "pipeline p: the definition is not known yet"),
    ({}, "pipeline p: the definition is missing, so it cannot be inspected"),
    ({"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "k"}},
     "pipeline p: the definition is in S3, so it cannot be inspected"),
    # a location not known yet is a location all the same (it was called "missing")
    ({"pipelineDefinitionS3Location": UNKNOWN_OBJECT},
     "pipeline p: the definition is in S3, so it cannot be inspected"),
    ({"pipelineDefinition": "{"},
     "pipeline p: the definition is not valid JSON (Expecting property name enclosed in double quotes)"),
    ({"pipelineDefinition": "[1]"}, "pipeline p: the definition is not a JSON object, so it cannot be inspected"),
    ({"pipelineDefinition": {"Steps": [{"Name": "A", "Arguments": {"Inputs": [{"Uri": UNKNOWN_STRING}]}}]}},
     "pipeline p: part of the definition is not known yet, so it cannot be inspected"),
])
def test_an_uninspectable_definition_is_a_note_on_the_pipeline(props, note):
    outcome = evaluate_stack("pipeline-has-quality-gate", [(PIPELINE, props, "p")])
    assert outcome.violations == []
    assert outcome.notes == [Note(note, make_urn(PIPELINE, "p"))]


def test_a_definition_given_as_an_object_is_inspected():
    definition = {"Version": "2020-12-01", "Steps": [step("Train", "Training", Arguments={"Image": "x", "Count": 1})]}
    assert run("pipeline-has-quality-gate", [(PIPELINE, {"pipelineDefinition": definition}, "p")]) == (
        ['pipeline p: training step "Train" runs without a data validation step before it'], [])


@pytest.mark.parametrize("props, note", [
    ({"pipelineDefinition": UNKNOWN_STRING}, "the definition is not known yet"),
    ({}, "the definition is missing, so it cannot be inspected"),
    ({"pipelineDefinition": "{"},
     "the definition is not valid JSON (Expecting property name enclosed in double quotes)"),
    ({"pipelineDefinition": {"Steps": [UNKNOWN_OBJECT]}}, "part of the definition is not known yet, so it cannot be "
                                                          "inspected"),
    ({"pipelineDefinition": "[]"}, "the definition is not a JSON object, so it cannot be inspected"),
], ids=["unknown", "missing", "invalid", "partly-unknown", "not-an-object"])
def test_a_note_on_one_pipeline_does_not_stop_the_next_from_being_checked(props, note):
    resources = [(PIPELINE, props, "first"), pipeline(step("Train", "Training"), name="second"),
                 (GROUP, {"modelPackageGroupName": "g"}, "g")]
    assert run("pipeline-has-quality-gate", resources) == (
        ['pipeline second: training step "Train" runs without a data validation step before it'],
        [f"pipeline first: {note}"])


# --- pipeline-has-quality-gate ---------------------------------------------------------------------------
def test_every_training_step_needs_a_validation_step_somewhere_before_it():
    outcome = evaluate_stack("pipeline-has-quality-gate", [pipeline(
        step("Validate", "Processing"), step("Prepare", "Processing", DependsOn=["Validate"]),
        step("TrainA", "Training", DependsOn=["Prepare"]),          # validated two steps up: fine
        step("TrainB", "Training"),
        step("LateCheck", "Processing", DependsOn=["TrainB"]),      # validation after training does not count
    )])
    assert outcome.notes == []
    assert outcome.violations == [Violation('pipeline p: training step "TrainB" runs without a data validation '
                                            "step before it", make_urn(PIPELINE, "p"))]


@pytest.mark.parametrize("before, missing", [
    ([], "no quality evaluation and no fairness check"),
    ([step("Evaluate", "Processing")], "no fairness check"),
    ([step("Bias", "ClarifyCheck")], "no quality evaluation"),
])
def test_a_registration_step_needs_evaluation_and_fairness_before_it(before, missing):
    names = [s["Name"] for s in before]
    steps = [*before, step("Register", "RegisterModel", DependsOn=names),
             step("Audit", "Processing", DependsOn=["Register"]),  # after registering: too late
             step("BiasAfter", "ClarifyCheck", DependsOn=["Register"])]
    assert run("pipeline-has-quality-gate", [pipeline(*steps)]) == (
        [f'pipeline p: registration step "Register" has {missing} before it'], [])


def test_evaluation_and_fairness_before_registration_pass():
    steps = [step("Evaluate", "Processing"), step("Bias", "ClarifyCheck", DependsOn=["Evaluate"]),
             step("Register", "RegisterModel", DependsOn=["Bias"])]
    assert run("pipeline-has-quality-gate", [pipeline(*steps)]) == ([], [])


# --- pipeline-steps-use-stack-role-and-kms ---------------------------------------------------------------
def training(name: str = "train", role: str | None = EXEC_ROLE, kms: bool = True, kind: str = "Training") -> dict:
    args = {"OutputDataConfig": {"S3OutputPath": "s3://b/o", **({"KmsKeyId": KEY} if kms else {})},
            "ResourceConfig": {"InstanceType": "ml.m5.large", **({"VolumeKmsKeyId": KEY} if kms else {})},
            **({"RoleArn": role} if role else {})}
    return step(name, kind, Arguments=args)


def stack_role(name: object = "modelway-prod-sagemaker-execution") -> tuple:
    return (ROLE, {"name": name}, "execution")


def kms_run(*steps: dict, role: object = EXEC_ROLE, roles: tuple = (stack_role(),)) -> tuple[list[str], list[str]]:
    return run("pipeline-steps-use-stack-role-and-kms", [*roles, pipeline(*steps, roleArn=role)])


def no_key(name: str, field: str) -> str:
    return (f'pipeline p: step "{name}" has no {field}: its outputs and volumes are not encrypted with the '
            "stack's key")


def test_each_job_type_is_checked_for_its_own_kms_fields():
    processing = step("prep", "Processing", Arguments={"RoleArn": EXEC_ROLE, "ProcessingOutputConfig": {},
                                                       "ProcessingResources": {"ClusterConfig": {}}})
    transform = step("score", "Transform", Arguments={"TransformOutput": {"S3OutputPath": "s3://b/t"}})
    assert kms_run(processing, transform, training("train", kms=False)) == ([
        no_key("prep", "ProcessingOutputConfig.KmsKeyId"),
        no_key("prep", "ProcessingResources.ClusterConfig.VolumeKmsKeyId"),
        no_key("score", "TransformOutput.KmsKeyId"),
        no_key("train", "OutputDataConfig.KmsKeyId"), no_key("train", "ResourceConfig.VolumeKmsKeyId")], [])
    volume = {"ClusterConfig": {"VolumeKmsKeyId": KEY}}
    encrypted = [step("prep", "Processing", Arguments={"ProcessingOutputConfig": {"KmsKeyId": KEY},
                                                       "ProcessingResources": volume}),
                 step("score", "Transform", Arguments={"TransformOutput": {"KmsKeyId": KEY}}), training()]
    assert kms_run(*encrypted) == ([], [])


def test_steps_that_start_no_job_are_not_checked_for_kms_or_role():
    others = [step("check", "QualityCheck", Arguments={"RoleArn": "arn:aws:iam::1:role/other"}),
              step("register", "RegisterModel"), step("notify", "Lambda"), step("stop", "Fail"), "not a step"]
    assert kms_run(*others) == ([], [])
    assert kms_run("not a step", training(kms=False)) == (
        [no_key("train", "OutputDataConfig.KmsKeyId"), no_key("train", "ResourceConfig.VolumeKmsKeyId")], [])


def test_a_tuning_step_is_read_in_its_training_job_definitions():
    # A Tuning step's arguments are a CreateHyperParameterTuningJob request: role, output and volume
    # settings are in TrainingJobDefinition(s). Read at the top, an encrypted tuning step was reported
    # as unencrypted twice, and one running as another role passed.
    definition = training()["Arguments"]
    assert kms_run(step("tune", "Tuning", Arguments={"HyperParameterTuningJobConfig": {},
                                                      "TrainingJobDefinition": definition})) == ([], [])
    foreign = {**definition, "RoleArn": "arn:aws:iam::1:role/admin"}
    assert kms_run(step("tune", "Tuning", Arguments={"TrainingJobDefinitions": [definition, foreign]})) == (
        ['pipeline p: step "tune" runs as arn:aws:iam::1:role/admin, not the pipeline\'s execution role '
         f"{EXEC_ROLE}"], [])
    plain = training(kms=False)["Arguments"]
    assert kms_run(step("tune", "Tuning", Arguments={"TrainingJobDefinitions": [definition, plain]})) == (
        [no_key("tune", "TrainingJobDefinitions[1].OutputDataConfig.KmsKeyId"),
         no_key("tune", "TrainingJobDefinitions[1].ResourceConfig.VolumeKmsKeyId")], [])
    # both given (the API takes one): each is checked, the single definition first
    both = {"TrainingJobDefinition": plain, "TrainingJobDefinitions": [plain]}
    assert kms_run(step("tune", "Tuning", Arguments=both)) == (
        [no_key("tune", "TrainingJobDefinition.OutputDataConfig.KmsKeyId"),
         no_key("tune", "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId"),
         no_key("tune", "TrainingJobDefinitions[0].OutputDataConfig.KmsKeyId"),
         no_key("tune", "TrainingJobDefinitions[0].ResourceConfig.VolumeKmsKeyId")], [])
    assert kms_run(step("tune", "Tuning", Arguments={"HyperParameterTuningJobConfig": {}})) == (
        [no_key("tune", "TrainingJobDefinition.OutputDataConfig.KmsKeyId"),
         no_key("tune", "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId")], [])
    assert kms_run(step("tune", "Tuning")) == (
        [no_key("tune", "TrainingJobDefinition.OutputDataConfig.KmsKeyId"),
         no_key("tune", "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId")], [])


def test_jobs_in_both_branches_of_a_condition_are_checked():
    gate = step("gate", "Condition", Arguments={"IfSteps": [training("if", kms=False)],
                                                "ElseSteps": [training("else", role="arn:aws:iam::1:role/x")]})
    assert kms_run(gate, step("bare", "Condition")) == (
        [no_key("if", "OutputDataConfig.KmsKeyId"), no_key("if", "ResourceConfig.VolumeKmsKeyId"),
         'pipeline p: step "else" runs as arn:aws:iam::1:role/x, not the pipeline\'s execution role '
         f"{EXEC_ROLE}"], [])


def test_a_step_role_is_compared_only_when_both_roles_are_known_text():
    assert kms_run(training(role=None)) == ([], [])
    assert kms_run(training(role="arn:aws:iam::1:role/x"), role=None, roles=()) == ([], [])


def test_the_pipeline_role_is_a_stack_role_by_the_last_segment_of_its_arn():
    in_path = "arn:aws:iam::123456789012:role/service/modelway-prod-sagemaker-execution"
    assert kms_run(training(role=in_path), role=in_path) == ([], [])
    # a bare name (no "/") is compared whole
    assert kms_run(training(role=None), role="modelway-prod-sagemaker-execution") == ([], [])
    assert kms_run(training(role=None), role="elsewhere") == (
        ["pipeline p runs as elsewhere, which is not a role of this stack"], [])
    other = "arn:aws:iam::1:role/modelway-prod-sagemaker-execution-2"
    assert kms_run(training(role=other), role=other) == (
        [f"pipeline p runs as {other}, which is not a role of this stack"], [])
    # no role in the stack (roles from elsewhere) or roles without a name: nothing to compare with
    assert kms_run(training(role=other), role=other, roles=()) == ([], [])
    assert kms_run(training(role=other), role=other, roles=(stack_role(None),)) == ([], [])


def test_a_pipeline_role_not_known_yet_is_a_note():
    # the execution role's ARN is an output: in preview of a new stack it is not known, and every
    # role comparison of the pipeline was skipped without a word
    assert kms_run(training(), role=UNKNOWN_STRING) == (
        [], ["pipeline p: roleArn is not known yet, so neither it nor its steps' roles can be compared with the "
             "stack's roles"])


def test_a_stack_role_whose_name_is_not_known_yet_makes_a_foreign_pipeline_role_a_note():
    other = "arn:aws:iam::1:role/late-named"
    roles = (stack_role(), (ROLE, {"name": UNKNOWN_STRING}, "late"))
    assert kms_run(training(role=other), role=other, roles=roles) == (
        [], [f"pipeline p runs as {other}; a role of this stack has a name not known yet, so whether it is one "
             "of them cannot be told"])
    assert kms_run(training(), roles=roles) == ([], [])


def test_the_role_and_kms_rule_leaves_unreadable_definitions_to_the_quality_gate():
    unreadable = (PIPELINE, {"pipelineDefinition": UNKNOWN_STRING, "roleArn": EXEC_ROLE}, "first")
    assert run("pipeline-steps-use-stack-role-and-kms",
               [stack_role(), unreadable, pipeline(training(kms=False))]) == (
        [no_key("train", "OutputDataConfig.KmsKeyId"), no_key("train", "ResourceConfig.VolumeKmsKeyId")], [])


# --- model-registry-per-model ----------------------------------------------------------------------------
def test_model_families_come_from_the_parameter_and_both_config_spellings():
    stack = StackInfo("prod", registries(model_families=["churn", 4, "credit"], modelFamilies=["fraud", "churn"]))
    ctx = Context(config={"modelFamilies": ["zeta", "alpha"]}, stack=stack)
    assert model_families(ctx) == ["alpha", "churn", "credit", "fraud", "zeta"]
    assert model_families(Context(config={"modelFamilies": ["solo"]})) == ["solo"]
    assert model_families(Context(config={"modelFamilies": None}, stack=StackInfo("prod"))) == []


def family_run(groups: list, families: list[str], stack: str = "prod", **kwargs) -> tuple[list[str], list[str]]:
    return run("model-registry-per-model", groups, stack=stack, stack_config=registries(model_families=families),
               **kwargs)


def missing(family: str) -> str:
    return f'model family "{family}" has no SageMaker model package group'


def test_each_family_without_a_group_is_one_stack_violation_in_order():
    outcome = evaluate_stack("model-registry-per-model", [(GROUP, {"modelPackageGroupName": "churn"}, "g")],
                             stack="prod", stack_config=registries(model_families=["risk", "churn", "ads"]))
    assert outcome.violations == [Violation(missing("ads")), Violation(missing("risk"))]
    assert outcome.notes == []


@pytest.mark.parametrize("group, stack, serves", [
    ((GROUP, {"modelPackageGroupName": "risk"}, "g"), "prod", True),
    ((GROUP, {"modelPackageGroupName": "modelway-prod-risk"}, "g"), "prod", True),
    ((GROUP, {"modelPackageGroupName": "modelway-prod-risk"}, "g"), "acme/modelway/prod", True),
    ((GROUP, {"modelPackageGroupName": "modelway-dev-risk"}, "g"), "prod", False),  # another stack's group
    ((GROUP, {"modelPackageGroupName": "modelway-prod-credit-risk"}, "g"), "prod", False),
    ((GROUP, {"modelPackageGroupName": "modelway--risk"}, "g"), "", False),   # no stack name: no convention
    ((GROUP, {"modelPackageGroupName": "scoring", "tags": {"model-family": "risk"}}, "g"), "prod", True),
    ((GROUP, {"modelPackageGroupName": "scoring", "tags": {"model-family": "churn"}}, "g"), "prod", False),
    ((GROUP, {"modelPackageGroupName": "scoring", "tags": [{"model-family": "risk"}]}, "g"), "prod", False),
    ((GROUP, {}, "risk"), "prod", True),                      # no group name: the resource's name
    (("aws:s3/bucket:Bucket", {"modelPackageGroupName": "risk"}, "b"), "prod", False),
])
def test_a_group_serves_a_family_by_tag_or_by_name(group, stack, serves):
    assert family_run([group], ["risk"], stack=stack) == ([] if serves else [missing("risk")], [])


def test_a_pipeline_must_register_into_a_group_of_the_stack():
    def register(target: object) -> dict:
        return step("Register", "RegisterModel", Arguments={"ModelPackageGroupName": target})

    groups = [(GROUP, {"modelPackageGroupName": "risk"}, "g")]
    stray = pipeline(register("elsewhere"))
    outcome = evaluate_stack("model-registry-per-model", [*groups, stray], stack="prod",
                             stack_config=registries(model_families=["risk"]))
    assert outcome.violations == [Violation('pipeline p: step "Register" registers into "elsewhere", which is not a '
                                            "model package group of this stack", make_urn(PIPELINE, "p"))]
    parameters = [{"Name": "Group", "Type": "String", "DefaultValue": "risk"}]
    assert family_run([*groups, pipeline(register({"Get": "Parameters.Group"}), parameters=parameters)],
                      ["risk"]) == ([], [])
    assert family_run([*groups, pipeline(register({"Get": "Execution.Group"}))], ["risk"]) == ([], [])


def test_the_registry_note_only_when_no_family_is_declared_and_no_pipeline_registers():
    assert family_run([], []) == ([], [NO_FAMILIES])
    register = step("Register", "RegisterModel", Arguments={"ModelPackageGroupName": "g"})
    # a pipeline that registers (into a group of the stack) is evidence enough, after an unreadable one
    unreadable = (PIPELINE, {"pipelineDefinition": UNKNOWN_STRING}, "first")
    assert family_run([unreadable, (GROUP, {"modelPackageGroupName": "g"}, "g"), pipeline(register)], []) == ([], [])
    assert family_run([unreadable], []) == ([], [NO_FAMILIES])
    assert family_run([(GROUP, {"modelPackageGroupName": "risk"}, "g")], ["risk"]) == ([], [])


def not_served(family: str, pending: str) -> str:
    return (f'model family "{family}": no model package group serves it by a known name or tag, and the name or '
            f"tags of {pending} are not known yet")


def test_a_group_whose_name_or_family_tag_is_not_known_yet_makes_a_missing_family_a_note():
    # in preview such a group may be the family's: it was taken by its resource name, so a missing family
    # was reported (or, resource named like the family, a group that may be another's passed)
    late = (GROUP, {"modelPackageGroupName": UNKNOWN_STRING}, "late")
    assert family_run([late], ["risk"]) == ([], [not_served("risk", "late")])
    assert family_run([(GROUP, {"modelPackageGroupName": UNKNOWN_STRING}, "risk")], ["risk"]) == (
        [], [not_served("risk", "risk")])
    assert family_run([late, (GROUP, {"modelPackageGroupName": "risk"}, "g")], ["risk", "churn"]) == (
        [], [not_served("churn", "late")])
    tag_late = (GROUP, {"modelPackageGroupName": "scoring", "tags": {"model-family": UNKNOWN_STRING}}, "scoring")
    tags_late = (GROUP, {"modelPackageGroupName": "ranking", "tags": UNKNOWN_OBJECT}, "ranking")
    assert family_run([tag_late, tags_late], ["risk"]) == ([], [not_served("risk", "scoring, ranking")])
    known = (GROUP, {"modelPackageGroupName": "scoring", "tags": {"model-family": "churn", "team": UNKNOWN_STRING}},
             "scoring")
    assert family_run([known], ["risk"]) == ([missing("risk")], [])


def test_a_group_whose_name_is_not_known_yet_makes_a_stray_registration_a_note():
    register = pipeline(step("Register", "RegisterModel", Arguments={"ModelPackageGroupName": "elsewhere"}))
    late = (GROUP, {"modelPackageGroupName": UNKNOWN_STRING}, "late")
    outcome = evaluate_stack("model-registry-per-model", [late, register], stack="prod")
    assert (outcome.violations, outcome.notes) == ([], [Note(
        'pipeline p: step "Register" registers into "elsewhere", not a known model package group name, and the '
        "name of late is not known yet", make_urn(PIPELINE, "p"))])
    # a registration names a group by name: a family tag not known yet changes nothing
    tag_late = (GROUP, {"modelPackageGroupName": "scoring", "tags": UNKNOWN_OBJECT}, "scoring")
    assert family_run([tag_late, register], []) == (
        ['pipeline p: step "Register" registers into "elsewhere", which is not a model package group of this stack'],
        [])


def test_registry_rule_without_a_stack_uses_the_parameter_only():
    assert list(check_model_registry_per_model([], Context(config={"modelFamilies": ["risk"]}))) == [
        Violation(missing("risk"))]


# --- prod-requires-manual-approval -----------------------------------------------------------------------
def approval_run(resources: list, stack: str = "prod", stack_config: dict | None = None,
                 config: dict | None = None) -> tuple[list[str], list[str]]:
    return run("prod-requires-manual-approval", resources, stack=stack, stack_config=stack_config, config=config)


@pytest.mark.parametrize("stack, stack_config, config, checked_as", [
    ("prod", {}, None, "prod"),
    ("dev", {}, None, None),
    ("dev", {}, {"environment": "prod"}, "prod"),                          # the parameter first
    ("prod", {}, {"environment": "dev"}, None),
    ("blue", {"modelway:environment": "prod"}, None, "prod"),              # then the stack config
    ("prod", {"modelway:environment": "dev"}, None, None),
    ("staging", {}, {"environments": ["staging", "prod"]}, "staging"),     # then the stack name
    ("prod", {}, {"environments": ["staging"]}, None),
])
def test_which_environment_requires_manual_approval(stack, stack_config, config, checked_as):
    approved = {**stack_config, **registries(model_approval_status="Approved")}
    expected = [f"stack config modelway:registries.model_approval_status is 'Approved'; {checked_as} requires "
                f"{MANUAL}"] if checked_as else []
    assert approval_run([], stack=stack, stack_config=approved, config=config) == (expected, [])


@pytest.mark.parametrize("values, violations", [
    ({"model_approval_status": MANUAL}, []),
    ({"modelApprovalStatus": MANUAL}, []),
    ({"model_approval_status": "Approved"},
     ["stack config modelway:registries.model_approval_status is 'Approved'; prod requires PendingManualApproval"]),
    ({"modelApprovalStatus": "Approved"},
     ["stack config modelway:registries.modelApprovalStatus is 'Approved'; prod requires PendingManualApproval"]),
    # a known empty status is not a manual approval: it was read as absent (`or`), and the stack reported
    # only as saying nothing about how models are registered
    ({"model_approval_status": ""},
     ["stack config modelway:registries.model_approval_status is ''; prod requires PendingManualApproval"]),
    ({"model_approval_status": "", "modelApprovalStatus": MANUAL},
     ["stack config modelway:registries.model_approval_status is ''; prod requires PendingManualApproval"]),
    ({"model_approval_status": None, "modelApprovalStatus": "Approved"},
     ["stack config modelway:registries.modelApprovalStatus is 'Approved'; prod requires PendingManualApproval"]),
])
def test_the_stack_config_approval_status(values, violations):
    assert approval_run([], stack_config=registries(**values)) == (violations, [])


def test_nothing_said_about_approval_is_a_note_naming_the_stack():
    assert approval_run([], stack_config=registries(model_families=["risk"])) == ([], [NO_EVIDENCE])
    assert approval_run([(GROUP, {"name": "approval"}, "g")]) == ([], [NO_EVIDENCE])
    assert list(check_prod_requires_manual_approval([], Context(config={"environments": ["prod"],
                                                                        "environment": "prod"}))) == [
        Note("nothing in stack ? says how models are registered (no modelway:registries config, no RegisterModel "
             "step)")]


@pytest.mark.parametrize("status, shown", [
    (MANUAL, None),
    ({"Get": "Parameters.Status"}, None),
    ("Approved", "Approved"),
    ({"Get": "Parameters.Other"}, "Approved (default)"),
    (None, "Approved (default)"),
    ("", "''"),                                   # an empty status was named as SageMaker's default
    ({"Get": "Execution.Status"}, "{'Get': 'Execution.Status'}"),
])
def test_a_register_step_must_register_as_pending_manual_approval(status, shown):
    arguments = {"ModelPackageGroupName": "g", **({"ModelApprovalStatus": status} if status is not None else {})}
    parameters = [{"Name": "Status", "Type": "String", "DefaultValue": MANUAL}]
    resources = [(PIPELINE, {"pipelineDefinition": UNKNOWN_STRING}, "first"),  # unreadable: skipped, not the end
                 pipeline(step("Register", "RegisterModel", Arguments=arguments), parameters=parameters)]
    outcome = evaluate_stack("prod-requires-manual-approval", resources, stack="prod")
    expected = [] if shown is None else [Violation(f'pipeline p: step "Register" registers models as {shown}; '
                                                   f"prod requires {MANUAL}", make_urn(PIPELINE, "p"))]
    assert (outcome.violations, outcome.notes) == (expected, [])


@pytest.mark.parametrize("props, violations, notes", [
    ({"name": "/modelway/prod/model-approval", "value": MANUAL}, [], []),
    ({"name": "/modelway/prod/MODEL-APPROVAL", "value": "Approved"},
     ["SSM parameter /modelway/prod/MODEL-APPROVAL is 'Approved'; prod requires PendingManualApproval"], []),
    # a plain-text parameter is as often set with insecureValue: it was reported as the value None
    ({"name": "/modelway/prod/model-approval", "insecureValue": MANUAL}, [], []),
    ({"name": "/modelway/prod/model-approval", "insecureValue": "Approved"},
     ["SSM parameter /modelway/prod/model-approval is 'Approved'; prod requires PendingManualApproval"], []),
    ({"name": "/modelway/prod/model-approval"},
     ["SSM parameter /modelway/prod/model-approval is None; prod requires PendingManualApproval"], []),
    ({"name": "/modelway/prod/model-approval", "value": UNKNOWN_STRING},
     [], ["SSM parameter /modelway/prod/model-approval: its value is not known yet"]),
    ({"name": "/modelway/prod/endpoint", "value": "Approved"}, [], [NO_EVIDENCE]),
    ({"name": UNKNOWN_STRING, "value": "Approved"}, [], [NO_EVIDENCE]),
])
def test_an_approval_ssm_parameter(props, violations, notes):
    outcome = evaluate_stack("prod-requires-manual-approval", [(SSM, props, "param")], stack="prod")
    assert [v.message for v in outcome.violations] == violations
    assert [n.message for n in outcome.notes] == notes
    assert all(v.urn == make_urn(SSM, "param") for v in outcome.violations)


def test_every_source_of_approval_is_reported_together():
    resources = [pipeline(step("Register", "RegisterModel", Arguments={"ModelApprovalStatus": "Approved"})),
                 (SSM, {"name": "approval", "value": "Approved"}, "param")]
    assert approval_run(resources, stack_config=registries(model_approval_status="Approved")) == ([
        "stack config modelway:registries.model_approval_status is 'Approved'; prod requires PendingManualApproval",
        'pipeline p: step "Register" registers models as Approved; prod requires PendingManualApproval',
        "SSM parameter approval is 'Approved'; prod requires PendingManualApproval"], [])
