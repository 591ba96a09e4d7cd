"""ML governance (stack) rules over SageMaker pipeline definitions, model package groups and stack config."""
from __future__ import annotations

import json

import pytest
from policy_helpers import assert_stack_passes, assert_stack_violates, evaluate_stack

PIPELINE = "aws:sagemaker/pipeline:Pipeline"
GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"


def definition(*, validate: bool = True, evaluate: bool = True, fairness: bool = True,
               approval: object = "PendingManualApproval", group: str = "modelway-prod-credit-risk") -> str:
    steps = []
    if validate:
        steps.append({"Name": "ValidateData", "Type": "Processing", "Arguments": {}})
    steps.append({"Name": "Train", "Type": "Training", "DependsOn": ["ValidateData"] if validate else [],
                  "Arguments": {}})
    gate_inputs = []
    if evaluate:
        steps.append({"Name": "EvaluateModel", "Type": "Processing",
                      "Arguments": {"ProcessingInputs": [{"S3Input": {"S3Uri": {
                          "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}}]}})
        gate_inputs.append({"Get": "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['metrics'].S3Output.S3Uri"})
    if fairness:
        steps.append({"Name": "CheckBias", "Type": "ClarifyCheck", "DependsOn": ["Train"],
                      "Arguments": {"CheckType": "MODEL_BIAS"}})
    register = {"Name": "RegisterModel", "Type": "RegisterModel",
                "Arguments": {"ModelPackageGroupName": group, "ModelApprovalStatus": approval}}
    steps.append({"Name": "QualityGate", "Type": "Condition",
                  "DependsOn": ["CheckBias"] if fairness else [],
                  "Arguments": {"Conditions": [{"Type": "GreaterThanOrEqualTo",
                                                "LeftValue": gate_inputs[0] if gate_inputs else 0.0,
                                                "RightValue": 0.8}],
                                "IfSteps": [register], "ElseSteps": []}})
    return json.dumps({"Version": "2020-12-01", "Parameters": [{"Name": "ApprovalStatus", "Type": "String",
                                                               "DefaultValue": "PendingManualApproval"}],
                       "Steps": steps})


def group(name: str = "modelway-prod-credit-risk") -> tuple:
    return (GROUP, {"modelPackageGroupName": name}, name)


def test_quality_gate_passes_with_validation_evaluation_and_fairness():
    assert_stack_passes("pipeline-has-quality-gate", [(PIPELINE, {"pipelineDefinition": definition()}, "p")])


def test_quality_gate_fails_without_validation_before_training():
    assert_stack_violates("pipeline-has-quality-gate",
                          [(PIPELINE, {"pipelineDefinition": definition(validate=False)}, "p")],
                          contains='training step "Train"')


def test_quality_gate_fails_without_fairness_before_registration_nested_in_condition():
    violations = assert_stack_violates("pipeline-has-quality-gate",
                                       [(PIPELINE, {"pipelineDefinition": definition(fairness=False)}, "p")],
                                       contains="no fairness check")
    assert "quality evaluation" not in violations[0].message  # evaluation reached through the condition
    assert_stack_violates("pipeline-has-quality-gate",
                          [(PIPELINE, {"pipelineDefinition": definition(evaluate=False)}, "p")],
                          contains="no quality evaluation")


def test_quality_gate_definition_in_s3_is_a_note():
    outcome = evaluate_stack("pipeline-has-quality-gate",
                             [(PIPELINE, {"pipelineDefinitionS3Location": {"bucket": "b", "objectKey": "k"}}, "p")])
    assert outcome.notes and not outcome.violations


@pytest.mark.parametrize("text", ["[]", "5", '"steps"'])
def test_quality_gate_definition_that_is_not_an_object_is_a_note(text):
    outcome = evaluate_stack("pipeline-has-quality-gate", [(PIPELINE, {"pipelineDefinition": text}, "p")])
    assert [n.message for n in outcome.notes] == [
        "pipeline p: the definition is not a JSON object, so it cannot be inspected"]


def test_model_registry_per_model_from_stack_config():
    config = {"modelway:registries": json.dumps({"model_families": ["credit-risk", "churn"]})}
    assert_stack_passes("model-registry-per-model", [group(), group("modelway-prod-churn")],
                        stack="prod", stack_config=config)
    violations = assert_stack_violates("model-registry-per-model", [group()], stack="prod", stack_config=config,
                                       contains='"churn"')
    assert len(violations) == 1


def test_model_registry_family_is_not_matched_by_a_longer_name():
    config = {"modelway:registries": json.dumps({"model_families": ["risk"]})}
    # "modelway-prod-credit-risk" ends with "-risk" but is the credit-risk family's group
    assert_stack_violates("model-registry-per-model", [group()], stack="prod", stack_config=config,
                          contains='"risk"')
    assert_stack_passes("model-registry-per-model", [group("modelway-prod-risk")], stack="prod",
                        stack_config=config)
    tagged = (GROUP, {"modelPackageGroupName": "scoring-v2", "tags": {"model-family": "risk"}}, "scoring-v2")
    assert_stack_passes("model-registry-per-model", [tagged], stack="prod", stack_config=config)


def test_model_registry_pipeline_registers_into_existing_group():
    pipeline = (PIPELINE, {"pipelineDefinition": definition(group="modelway-prod-fraud")}, "p")
    assert_stack_violates("model-registry-per-model", [group(), pipeline], contains="modelway-prod-fraud")
    assert_stack_passes("model-registry-per-model",
                        [group(), (PIPELINE, {"pipelineDefinition": definition()}, "p")])


def test_prod_requires_manual_approval_in_prod_only():
    approved = {"modelway:registries": json.dumps({"model_approval_status": "Approved"})}
    assert_stack_violates("prod-requires-manual-approval", [group()], stack="prod", stack_config=approved,
                          contains="PendingManualApproval")
    assert_stack_passes("prod-requires-manual-approval", [group()], stack="dev", stack_config=approved)
    manual = {"modelway:registries": json.dumps({"model_approval_status": "PendingManualApproval"})}
    assert_stack_passes("prod-requires-manual-approval", [group()], stack="prod", stack_config=manual)


def test_prod_requires_manual_approval_on_register_steps_resolving_parameters():
    ok = (PIPELINE, {"pipelineDefinition": definition(approval={"Get": "Parameters.ApprovalStatus"})}, "p")
    assert_stack_passes("prod-requires-manual-approval", [ok], stack="prod")
    bad = (PIPELINE, {"pipelineDefinition": definition(approval="Approved")}, "p")
    assert_stack_violates("prod-requires-manual-approval", [bad], stack="prod", contains='"RegisterModel"')


@pytest.mark.parametrize(("check_type", "expected"), [
    ("04da6b54-80e4-46f7-96ec-b56ff0331ba9",
     ([], ["pipeline p: part of the definition is not known yet, so it cannot be inspected"])),
    ("DATA_QUALITY", ([], [])),
    (None, (['pipeline p: training step "Train" runs without a data validation step before it'], [])),
], ids=["unknown", "data-quality", "absent"])
def test_a_definition_object_with_a_value_not_known_yet_is_not_inspected(check_type, expected):
    # a definition given as an object (not JSON text) may hold unknowns: a CheckType not known yet was read
    # as none (`or`), so the check step did not count as validation and training was reported unvalidated
    check = {"Name": "Check", "Type": "QualityCheck", **({"CheckType": check_type} if check_type else {})}
    steps = [check, {"Name": "Train", "Type": "Training", "DependsOn": ["Check"]}]
    outcome = evaluate_stack("pipeline-has-quality-gate", [(PIPELINE, {"pipelineDefinition": {"Steps": steps}}, "p")])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == expected


SSM = "aws:ssm/parameter:Parameter"


def test_prod_requires_manual_approval_on_an_approval_ssm_parameter():
    def outcome(value):
        result = evaluate_stack("prod-requires-manual-approval",
                                [(SSM, {"name": "/modelway/prod/model-approval", "value": value}, "approval")],
                                stack="prod")
        return [v.message for v in result.violations], [n.message for n in result.notes]

    assert outcome("PendingManualApproval") == ([], [])
    assert outcome("Approved") == (
        ["SSM parameter /modelway/prod/model-approval is 'Approved'; prod requires PendingManualApproval"], [])
    # a value not known yet (another resource's output) was reported as the value '<unknown>', a violation
    assert outcome("04da6b54-80e4-46f7-96ec-b56ff0331ba9") == (
        [], ["SSM parameter /modelway/prod/model-approval: its value is not known yet"])


def test_stack_name_and_config_come_from_the_pulumi_cli_environment(monkeypatch):
    # What the Pulumi CLI hands a policy pack: the (qualified) stack name and the stack config.
    monkeypatch.setenv("PULUMI_STACK", "acme/modelway/prod")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({
        "modelway:registries": json.dumps({"model_families": ["credit-risk"], "model_approval_status": "Approved"})}))
    assert_stack_violates("prod-requires-manual-approval", [group()], stack=None, contains="'Approved'")
    assert_stack_passes("model-registry-per-model", [group()], stack=None)
    monkeypatch.setenv("PULUMI_STACK", "acme/modelway/dev")
    assert_stack_passes("prod-requires-manual-approval", [group()], stack=None)


# --- pipeline-steps-use-stack-role-and-kms (pipelines deployed from modelway:pipelines) --------
ROLE = "arn:aws:iam::123456789012:role/modelway-prod-sagemaker-execution"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def _job(name: str, role: str = ROLE, kms: bool = True) -> dict:
    args = {"RoleArn": role, "AlgorithmSpecification": {"ContainerEntrypoint": ["python", "-m", "modelway.backends.remote"]},
            "OutputDataConfig": {"S3OutputPath": "s3://b/o", **({"KmsKeyId": KEY} if kms else {})},
            "ResourceConfig": {"InstanceType": "ml.m5.large", **({"VolumeKmsKeyId": KEY} if kms else {})}}
    return {"Name": name, "Type": "Training", "Arguments": args}


def _deployed(*steps: dict, role: str = ROLE) -> list:
    return [("aws:iam/role:Role", {"name": "modelway-prod-sagemaker-execution"}, "execution"),
            (PIPELINE, {"roleArn": role, "pipelineDefinition": json.dumps({"Steps": list(steps)})}, "p")]


def test_stack_role_and_kms_pass():
    assert_stack_passes("pipeline-steps-use-stack-role-and-kms", _deployed(_job("train")))


def test_a_step_with_another_role_violates_even_inside_a_condition():
    gate = {"Name": "gate", "Type": "Condition",
            "Arguments": {"Conditions": [], "IfSteps": [_job("register", role="arn:aws:iam::1:role/admin")],
                          "ElseSteps": []}}
    assert_stack_violates("pipeline-steps-use-stack-role-and-kms", _deployed(_job("train"), gate),
                          contains='step "register" runs as arn:aws:iam::1:role/admin')


def test_a_step_without_kms_violates():
    assert_stack_violates("pipeline-steps-use-stack-role-and-kms", _deployed(_job("train", kms=False)),
                          contains="OutputDataConfig.KmsKeyId")


def test_a_pipeline_running_as_a_role_of_no_stack_violates():
    other = "arn:aws:iam::1:role/elsewhere"
    assert_stack_violates("pipeline-steps-use-stack-role-and-kms", _deployed(_job("train", role=other), role=other),
                          contains="not a role of this stack")


def test_modelway_steps_have_roles_by_name():
    """A compiled Modelway pipeline is all Training jobs: validate/evaluate steps are checks, not training."""
    from policies.ml_governance import PipelineGraph

    graph = PipelineGraph({"Steps": [_job("validate"), _job("train"), _job("evaluate"), _job("register")]})
    assert graph.role_of("validate") == {"validate"} and graph.role_of("train") == {"train"}
    assert graph.role_of("evaluate") == {"evaluate"} and graph.role_of("register") == {"register"}
