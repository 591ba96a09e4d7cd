"""The model registry on a stack: versions as SageMaker model packages, approvals mirrored, our audit chain
verified against what SageMaker holds."""
from __future__ import annotations

import pytest

from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.errors import UserError
from modelway.registry import ModelCandidate, get_registry
from tests.modelway_cli import ModelwayCli


@pytest.fixture
def registry(moto_stack, tmp_path):
    use(resolve_stack(None, moto_stack.outputs_file))
    return get_registry(tmp_path / "home")


def _candidate(coef: float = 1.0) -> ModelCandidate:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression()
    model.coef_ = [[coef]]  # a distinct artifact per coefficient; never used for predictions
    return ModelCandidate(name="credit-risk", model=model, schema={"features": [["x", "numeric"]]},
                          metrics={"roc_auc": 0.81, "accuracy": 0.9}, fairness={"dpd": 0.02}, run_id="r1")


def _package(moto_stack):
    sagemaker = moto_stack.client("sagemaker")
    group = moto_stack.outputs["model_package_groups"]["credit-risk"]
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def test_prod_version_waits_for_a_human_then_approval_is_mirrored(registry, moto_stack):
    version = registry.register(_candidate(), environment="prod", actor="ci")
    assert version.status == "Pending"
    [package] = _package(moto_stack)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"]["modelway_version"] == "1.0.0"
    approved = registry.approve("credit-risk", "1.0.0", actor="alice", reason="reviewed the card")
    assert approved.status == "Approved" and approved.decided_by == "alice"
    [package] = _package(moto_stack)
    assert package["ModelApprovalStatus"] == "Approved"
    meta = package["CustomerMetadataProperties"]
    assert meta["modelway_status"] == "Approved" and meta["decided_by"] == "alice"
    assert meta["artifact_sha256"] == version.artifact_sha256  # the earlier properties are kept
    assert registry.verify_audit().ok
    revoked = registry.revoke("credit-risk", "1.0.0", actor="bob", reason="bad champion")
    assert revoked.status == "Revoked"
    [package] = _package(moto_stack)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["CustomerMetadataProperties"]["modelway_status"] == "Revoked"
    assert registry.verify_audit().ok
    assert registry.champion("credit-risk", ("prod",)) is None


def test_status_changed_outside_modelway_is_an_audit_finding(registry, moto_stack):
    registry.register(_candidate(), environment="prod", actor="ci")
    [package] = _package(moto_stack)
    moto_stack.client("sagemaker").update_model_package(  # someone approves in the console
        ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved",
        # AWS keeps the properties on an update; moto replaces them, so pass them as they are
        CustomerMetadataProperties=package["CustomerMetadataProperties"])
    result = registry.verify_audit()
    assert not result.ok
    assert any("SageMaker says Approved" in p and "our audit log says Pending" in p for p in result.problems), result.problems


def test_load_model_verifies_the_s3_artifact(registry, moto_stack):
    registry.register(_candidate(), environment="dev", actor="ci")
    assert registry.load_model("credit-risk").coef_ == [[1.0]]
    uri = registry.get("credit-risk", "1.0.0").artifact_uri
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    moto_stack.client("s3").put_object(Bucket=bucket, Key=key, Body=b"tampered")
    with pytest.raises(UserError, match="refusing to load a tampered"):
        registry.load_model("credit-risk", "1.0.0")


def test_unknown_model_family_is_one_line(registry):
    candidate = _candidate()
    candidate.name = "churn"
    with pytest.raises(UserError, match="no SageMaker model package group for model 'churn'"):
        registry.register(candidate, environment="dev", actor="ci")


def test_models_commands_on_a_stack_from_another_home(registry, moto_stack, tmp_path):
    registry.register(_candidate(), environment="prod", actor="ci")
    cli = ModelwayCli(tmp_path / "other-home")
    cli.env.update(moto_stack.env)
    listed = cli("models", "--outputs", str(moto_stack.outputs_file), "list", "--json")
    assert listed.code == 0, listed.stderr
    assert [(v["name"], v["version"], v["status"]) for v in listed.json()] == [("credit-risk", "1.0.0", "Pending")]
    shown = cli("models", "--outputs", str(moto_stack.outputs_file), "show", "credit-risk", "1.0.0")
    assert shown.code == 0 and "credit-risk 1.0.0" in shown.stdout


def test_approving_from_a_home_without_the_audit_log_says_where_to_do_it(registry, moto_stack, tmp_path):
    registry.register(_candidate(), environment="prod", actor="ci")
    cli = ModelwayCli(tmp_path / "other-home")
    cli.env.update(moto_stack.env)
    done = cli("models", "--outputs", str(moto_stack.outputs_file), "approve", "credit-risk", "1.0.0",
               "--by", "alice", "--reason", "ok")
    assert done.code == 2 and "registered from another Modelway home" in done.stderr
    [package] = _package(moto_stack)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"  # nothing changed in SageMaker
