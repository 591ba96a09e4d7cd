"""Mutation pins for ``modelway.backends.aws.registry``: what a registration writes to S3 and SageMaker
(every metadata field), how approvals are mirrored, how reads rebuild a version, and every finding
``verify_audit`` reports. One moto stack for the module; each test gets its own model family (its own
model package group), so the tests cannot see each other's versions."""
from __future__ import annotations

import hashlib
import json
import pickle
import secrets

import pytest

from modelway.backends.aws.registry import TO_SAGEMAKER, SageMakerRegistry, _split_s3
from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.registry.base import ArtifactIntegrityError, ModelCandidate, RegistryError


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    """One stack for the module (creating one takes seconds), and its boto3 clients (made once: they are slow to
    make)."""
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        stack = create_stack(moto_endpoint, tmp_path_factory.mktemp("registry-pins"), families=())
        stack.backends = use(resolve_stack(None, stack.outputs_file))
        yield stack


class Family:
    """A fresh model family in the shared stack: its group, the stack's outputs naming it, a registry per home."""

    def __init__(self, stack, folder, *, ecr: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.name = f"fam-{secrets.token_hex(3)}"
        self.group = f"g-{self.name}"
        stack.client("sagemaker").create_model_package_group(ModelPackageGroupName=self.group)
        self.outputs = {**stack.outputs, "model_package_groups": {self.name: self.group}}
        update = {"model_package_groups": {self.name: self.group}}
        if ecr is not None:
            update["ecr_repository_urls"] = ecr
        self.stack_outputs = stack.backends.outputs.model_copy(update=update)
        self.clients = stack.backends.clients
        self.bucket = stack.outputs["buckets"]["models"]
        self.folder = folder

    def registry(self, home: str = "home") -> SageMakerRegistry:
        return SageMakerRegistry(self.folder / home, self.clients, self.stack_outputs)

    def packages(self) -> list[dict]:
        sagemaker = self.stack.client("sagemaker")
        summaries = sagemaker.list_model_packages(ModelPackageGroupName=self.group)["ModelPackageSummaryList"]
        return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]

    def s3_json(self, key: str):
        return json.loads(self.stack.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def candidate(self, coef: float = 1.0, **changes) -> ModelCandidate:
        fields = dict(name=self.name, model={"coef": coef}, schema={"features": [["x", "numeric"]]},
                      metrics={"roc_auc": 0.8123456789, "accuracy": 0.9, "loss": 0.3, "f1": "n/a"},
                      fairness={"dpd": 0.02}, run_id="r1", family="sklearn")
        fields.update(changes)
        return ModelCandidate(**fields)


@pytest.fixture
def fam(shared_stack, aws_env, tmp_path) -> Family:
    return Family(shared_stack, tmp_path)


def test_a_registration_writes_these_objects_and_this_package(fam):
    registry = fam.registry()
    candidate = fam.candidate(model_card={"intended_use": "pins"}, mlflow_run_id="mlf-1",
                              data_versions={"train": "d1"}, gates_passed=True)
    version = registry.register(candidate, environment="dev", actor="ci")
    prefix = f"{fam.name}/1.0.0"
    blob = pickle.dumps({"coef": 1.0}, protocol=5)
    sha = hashlib.sha256(blob).hexdigest()
    s3 = fam.stack.client("s3")
    model = s3.get_object(Bucket=fam.bucket, Key=f"{prefix}/model.pkl")
    assert model["Body"].read() == blob and model["ContentType"] == "application/octet-stream"
    assert model["ServerSideEncryption"] == "aws:kms" and model["SSEKMSKeyId"] == fam.outputs["kms_key_arn"]
    assert fam.s3_json(f"{prefix}/metrics.json") == {"metrics": candidate.metrics, "fairness": {"dpd": 0.02}}
    card = fam.s3_json(f"{prefix}/model_card.json")
    assert card["intended_use"] == "pins" and card["version"] == "1.0.0"
    record_bytes = s3.get_object(Bucket=fam.bucket, Key=f"{prefix}/version.json")["Body"].read()
    record = json.loads(record_bytes)
    assert record["artifact_uri"] == f"s3://{fam.bucket}/{prefix}/model.pkl"
    assert record["model_card_path"] == f"s3://{fam.bucket}/{prefix}/model_card.json"
    assert record_bytes == json.dumps(record, sort_keys=True, default=str).encode()

    [package] = fam.packages()
    assert package["ModelApprovalStatus"] == "Approved"  # dev approves automatically
    assert package["ModelPackageDescription"] == f"{fam.name} 1.0.0: {version.version_reason}"
    assert package["CustomerMetadataProperties"] == {
        "modelway_version": "1.0.0", "modelway_status": "Approved", "environment": "dev", "artifact_sha256": sha,
        "record_sha256": hashlib.sha256(record_bytes).hexdigest(),
        "record_uri": f"s3://{fam.bucket}/{prefix}/version.json", "run_id": "r1", "mlflow_run_id": "mlf-1",
        "card_uri": f"s3://{fam.bucket}/{prefix}/model_card.json", "gates_passed": "true",
        "data_versions": '{"train": "d1"}', "metric_roc_auc": "0.812346", "metric_accuracy": "0.9",
    }
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["Image"] == fam.outputs["ecr_repository_urls"]["serving"] + ":latest"
    assert container["ModelDataUrl"] == f"s3://{fam.bucket}/{prefix}/model.pkl"
    assert package["InferenceSpecification"]["SupportedContentTypes"] == ["application/json"]
    assert package["InferenceSpecification"]["SupportedResponseMIMETypes"] == ["application/json"]
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json", "S3Uri": f"s3://{fam.bucket}/{prefix}/metrics.json"}

    # what register returns is read back from SageMaker
    assert version.version == "1.0.0" and version.status == "Approved" and version.already_registered is False
    assert version.artifact_uri == f"s3://{fam.bucket}/{prefix}/model.pkl"
    assert version.lineage["model_package_arn"] == package["ModelPackageArn"]


def test_empty_metadata_is_left_out_and_gates_failed_reads_false(fam):
    registry = fam.registry()
    registry.register(fam.candidate(run_id=None, gates_passed=False, metrics={"r2": 1, "rmse": 2.5}),
                      environment="dev", actor="ci")
    [package] = fam.packages()
    meta = package["CustomerMetadataProperties"]
    assert "run_id" not in meta and "mlflow_run_id" not in meta and "card_uri" not in meta
    assert meta["gates_passed"] == "false"
    assert meta["metric_r2"] == "1" and meta["metric_rmse"] == "2.5"
    assert meta["modelway_status"] == "Rejected" and package["ModelApprovalStatus"] == "Rejected"
    assert meta["data_versions"] == "{}"


def test_the_first_repository_is_the_image_when_there_is_no_serving_one(shared_stack, aws_env, tmp_path):
    training = shared_stack.outputs["ecr_repository_urls"]["training"]
    fam = Family(shared_stack, tmp_path, ecr={"training": training})
    fam.registry().register(fam.candidate(), environment="dev", actor="ci")
    [package] = fam.packages()
    assert package["InferenceSpecification"]["Containers"][0]["Image"] == f"{training}:latest"


def test_long_data_versions_and_descriptions_are_cut_to_what_sagemaker_takes(fam):
    many = {f"table_{i:03d}": "v" * 10 for i in range(40)}
    fam.registry().register(fam.candidate(data_versions=many), environment="dev", actor="ci")
    [package] = fam.packages()
    assert package["CustomerMetadataProperties"]["data_versions"] == json.dumps(many, sort_keys=True)[:256]


def test_the_same_artifact_again_is_the_same_version(fam):
    registry = fam.registry()
    first = registry.register(fam.candidate(), environment="dev", actor="ci")
    # from another home too: SageMaker says it is there, nothing is written
    again = fam.registry("other-home").register(fam.candidate(), environment="dev", actor="ci")
    assert again.version == first.version == "1.0.0" and again.already_registered is True
    assert len(fam.packages()) == 1
    # the same artifact for another environment is a new version
    prod = registry.register(fam.candidate(), environment="prod", actor="ci")
    assert prod.version != "1.0.0" and prod.environment == "prod" and prod.already_registered is False
    assert len(fam.packages()) == 2
    # pickled by the caller: the same bytes are the same artifact
    again_bytes = registry.register(fam.candidate(model=None, model_bytes=pickle.dumps({"coef": 1.0}, protocol=5)),
                                    environment="dev", actor="ci")
    assert again_bytes.already_registered is True and again_bytes.version == "1.0.0"


def test_registering_from_a_home_that_did_not_register_the_stacks_versions_is_refused(fam):
    fam.registry().register(fam.candidate(), environment="dev", actor="ci")
    fam.registry().register(fam.candidate(2.0), environment="dev", actor="ci")
    other = fam.registry("other-home")
    with pytest.raises(RegistryError) as err:
        other.register(fam.candidate(3.0), environment="dev", actor="ci")
    assert str(err.value) == (
        f"SageMaker group {fam.group} holds {fam.name} 1.0.0, 1.1.0, which this home's registry ({other.local.root}) "
        "did not register; register new versions from the home that holds the stack's audit log (set MODELWAY_HOME "
        "to it)")
    assert len(fam.packages()) == 2


def test_an_unknown_family_names_the_stacks_families(fam):
    with pytest.raises(RegistryError) as err:
        fam.registry().register(fam.candidate(name="churn"), environment="dev", actor="ci")
    assert str(err.value) == (f"stack dev: no SageMaker model package group for model 'churn'; the stack has "
                              f"['{fam.name}'] (add it to registries.model_families in Pulumi.<env>.yaml)")


def test_a_stack_without_families_says_none(shared_stack, aws_env, tmp_path):
    backends = shared_stack.backends  # this stack has no model package groups
    assert backends.outputs.model_package_groups == {}
    registry = SageMakerRegistry(tmp_path / "home", backends.clients, backends.outputs)
    with pytest.raises(RegistryError, match=r"the stack has none \(add it"):
        registry.get("churn")
    assert registry.list() == [] and registry.list("churn") == []


def test_decisions_are_mirrored_with_who_when_and_why(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="prod", actor="ci")
    [package] = fam.packages()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"]["modelway_status"] == "Pending"
    assert registry.get(fam.name, "1.0.0").status == "Pending"
    approved = registry.approve(fam.name, "1.0.0", actor="alice", reason="r" * 1100)
    [package] = fam.packages()
    meta = package["CustomerMetadataProperties"]
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "r" * 1024
    assert meta["modelway_status"] == "Approved" and meta["decided_by"] == "alice"
    assert meta["decided_at"] == approved.decided_at and approved.decided_at
    assert meta["modelway_version"] == "1.0.0" and meta["environment"] == "prod"  # the earlier ones are kept
    assert approved.decided_by == "alice" and approved.decision_reason == "r" * 1024
    assert registry.champion(fam.name) == approved
    assert registry.verify_audit().ok


def test_a_rejection_without_a_reason_says_the_status(fam):
    from modelway.registry.promotion import PromotionRules

    rules = PromotionRules.model_validate({"environments": {"staging": {"auto_approve": False,
                                                                        "require_reason": False}}})
    registry = SageMakerRegistry(fam.folder / "home", fam.clients, fam.stack_outputs, rules=rules)
    registry.register(fam.candidate(), environment="staging", actor="ci")
    rejected = registry.reject(fam.name, "1.0.0", actor="bob", reason=None)
    [package] = fam.packages()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == "Rejected"
    assert package["CustomerMetadataProperties"]["decided_by"] == "bob"
    assert rejected.status == "Rejected" and rejected.decided_by == "bob" and rejected.decision_reason == "Rejected"


def test_decisions_from_a_home_without_the_audit_log_say_where_to_make_them(fam):
    fam.registry().register(fam.candidate(), environment="prod", actor="ci")
    other = fam.registry("other-home")
    for verb in ("approve", "reject", "revoke"):
        with pytest.raises(RegistryError) as err:
            getattr(other, verb)(fam.name, "1.0.0", actor="alice", reason="ok")
        assert str(err.value) == (f"{fam.name} 1.0.0 was registered from another Modelway home; {verb} it from the "
                                  "home that holds the stack's audit log (set MODELWAY_HOME to it), so the decision "
                                  "is chained to the registration")
    [package] = fam.packages()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_version_nobody_registered_gets_the_local_registrys_answer(fam):
    fam.registry().register(fam.candidate(), environment="prod", actor="ci")
    with pytest.raises(RegistryError) as err:
        fam.registry("other-home").approve(fam.name, "9.9.9", actor="alice", reason="ok")
    assert "registered from another Modelway home" not in str(err.value)


def test_a_decision_on_a_version_missing_in_sagemaker_publishes_it(fam):
    registry = fam.registry()
    local = registry.local.register(fam.candidate(), environment="prod", actor="ci")  # never mirrored
    assert fam.packages() == []
    approved = registry.approve(fam.name, local.version, actor="alice", reason="ok")
    [package] = fam.packages()
    assert package["ModelApprovalStatus"] == "Approved" and approved.status == "Approved"
    assert approved.lineage["model_package_arn"] == package["ModelPackageArn"]


def test_an_artifact_changed_before_publishing_is_not_published(fam):
    from modelway.registry.embedded import _uri_to_path

    registry = fam.registry()
    local = registry.local.register(fam.candidate(), environment="prod", actor="ci")
    _uri_to_path(local.artifact_uri).write_bytes(b"swapped")
    with pytest.raises(ArtifactIntegrityError) as err:
        registry.approve(fam.name, local.version, actor="alice", reason="ok")
    assert str(err.value) == f"artifact of {fam.name} 1.0.0 changed since it was registered; not publishing it"
    assert fam.packages() == []


def test_list_and_get_read_sagemaker_newest_first(fam):
    registry = fam.registry()
    for coef, schema in ((1.0, [["x", "numeric"]]), (2.0, [["x", "numeric"]]), (3.0, [["x", "numeric"], ["y", "numeric"]])):
        registry.register(fam.candidate(coef, schema={"features": schema}), environment="dev", actor="ci")
    versions = [v.version for v in registry.list(fam.name)]
    assert versions == sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
    assert len(versions) == 3 and versions[-1] == "1.0.0"
    assert registry.get(fam.name).version == versions[0]
    assert registry.get(fam.name, "1.0.0").version == "1.0.0"
    # from another home: the same answers
    assert [v.version for v in fam.registry("elsewhere").list(fam.name)] == versions
    assert [v.version for v in registry.list()] == versions
    assert registry.list("not-a-family") == []
    with pytest.raises(RegistryError) as err:
        registry.get(fam.name, "7.0.0")
    assert str(err.value) == (f"model {fam.name!r} has no version 7.0.0 in SageMaker model package group {fam.group}; "
                              f"see `modelway models list --name {fam.name}`")


def test_list_covers_every_family_sorted_by_name(shared_stack, aws_env, tmp_path):
    first = Family(shared_stack, tmp_path / "a")
    second = Family(shared_stack, tmp_path / "b")
    names = sorted([first.name, second.name])
    outputs = first.stack_outputs.model_copy(update={"model_package_groups": {first.name: first.group,
                                                                               second.name: second.group}})
    registry = SageMakerRegistry(tmp_path / "home", first.clients, outputs)
    for fam in (second, first):
        registry.register(fam.candidate(), environment="dev", actor="ci")
        registry.register(fam.candidate(2.0), environment="dev", actor="ci")
    assert [(v.name, v.version) for v in registry.list()] == [
        (names[0], "1.1.0"), (names[0], "1.0.0"), (names[1], "1.1.0"), (names[1], "1.0.0")]


def test_get_without_versions(fam):
    with pytest.raises(RegistryError) as err:
        fam.registry().get(fam.name)
    assert str(err.value) == f"model {fam.name!r} has no versions in SageMaker model package group {fam.group}"


def test_champion_is_the_newest_approved_version_of_the_first_environment_that_has_one(fam):
    registry = fam.registry()
    assert registry.champion(fam.name) is None
    registry.register(fam.candidate(1.0), environment="dev", actor="ci")
    registry.register(fam.candidate(2.0), environment="staging", actor="ci")
    pending = registry.register(fam.candidate(3.0), environment="prod", actor="ci")
    assert pending.status == "Pending"
    assert registry.champion(fam.name) is None
    assert registry.champion(fam.name, ("prod", "staging", "dev")).environment == "staging"
    assert registry.champion(fam.name, ("dev", "staging")).environment == "dev"
    registry.approve(fam.name, pending.version, actor="alice", reason="ok")
    champion = registry.champion(fam.name, ("prod", "staging"))
    assert champion.environment == "prod" and champion.version == pending.version


def test_load_model_returns_the_verified_object_and_refuses_a_swapped_one(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    assert registry.load_model(fam.name) == {"coef": 1.0}
    mv = registry.get(fam.name, "1.0.0")
    fam.stack.client("s3").put_object(Bucket=fam.bucket, Key=f"{fam.name}/1.0.0/model.pkl", Body=b"tampered")
    actual = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(ArtifactIntegrityError) as err:
        registry.load_model(fam.name, "1.0.0")
    assert str(err.value) == (f"artifact of {fam.name} 1.0.0 at {mv.artifact_uri} has sha256 {actual[:12]}… but the "
                              f"registry recorded {mv.artifact_sha256[:12]}…; refusing to load a tampered or corrupted "
                              "model")


def _rewrite(fam, package, **meta):
    """Change a package's metadata as someone in the console would (moto replaces the whole set, and drops the
    approval status unless it is passed again)."""
    kept = {"ApprovalDescription": package["ApprovalDescription"]} if package.get("ApprovalDescription") else {}
    fam.stack.client("sagemaker").update_model_package(
        ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus=package["ModelApprovalStatus"], **kept,
        CustomerMetadataProperties={**package["CustomerMetadataProperties"], **meta})


def test_verify_audit_finds_a_different_artifact_hash(fam):
    registry = fam.registry()
    version = registry.register(fam.candidate(), environment="dev", actor="ci")
    [package] = fam.packages()
    _rewrite(fam, package, artifact_sha256="f" * 64)
    result = registry.verify_audit()
    assert result.ok is False
    assert result.problems == [f"model {fam.name} 1.0.0: SageMaker package names artifact sha256 {'f' * 12} but our "
                               f"registry has {version.artifact_sha256[:12]}"]


def test_verify_audit_finds_a_status_flag_changed_in_the_metadata_only(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    [package] = fam.packages()
    _rewrite(fam, package, modelway_status="Rejected")
    assert registry.verify_audit().problems == [
        f"model {fam.name} 1.0.0: SageMaker says Approved (modelway_status=Rejected) but our audit log says "
        "Approved: changed outside Modelway"]


def test_verify_audit_finds_an_approval_flipped_in_the_console(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="prod", actor="ci")
    [package] = fam.packages()
    fam.stack.client("sagemaker").update_model_package(ModelPackageArn=package["ModelPackageArn"],
                                                       ModelApprovalStatus="Approved",
                                                       CustomerMetadataProperties=package["CustomerMetadataProperties"])
    assert registry.verify_audit().problems == [
        f"model {fam.name} 1.0.0: SageMaker says Approved (modelway_status=Pending) but our audit log says Pending: "
        "changed outside Modelway"]
    # and a read says what SageMaker holds, not the metadata's claim
    assert registry.get(fam.name, "1.0.0").status == "Approved"


def test_verify_audit_finds_an_edited_version_record(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    record_uri = f"s3://{fam.bucket}/{fam.name}/1.0.0/version.json"
    record = fam.s3_json(f"{fam.name}/1.0.0/version.json")
    record["metrics"]["roc_auc"] = 0.99
    fam.stack.client("s3").put_object(Bucket=fam.bucket, Key=f"{fam.name}/1.0.0/version.json",
                                      Body=json.dumps(record).encode())
    message = (f"version record {record_uri} does not match the sha256 its model package recorded: it was modified "
               "after registration")
    assert registry.verify_audit().problems == [message]
    with pytest.raises(ArtifactIntegrityError) as err:
        registry.get(fam.name, "1.0.0")
    assert str(err.value) == message


def test_verify_audit_finds_a_version_missing_in_sagemaker_and_skips_families_the_stack_lacks(fam):
    registry = fam.registry()
    registry.local.register(fam.candidate(), environment="dev", actor="ci")  # never mirrored
    registry.local.register(fam.candidate(name="elsewhere"), environment="dev", actor="ci")  # no group in this stack
    result = registry.verify_audit()
    assert result.ok is False
    assert result.problems == [f"model {fam.name} 1.0.0: in our registry and audit log but not in SageMaker model "
                               f"package group {fam.group}"]


def test_a_clean_registry_verifies(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    registry.register(fam.candidate(2.0), environment="prod", actor="ci")
    result = registry.verify_audit()
    assert result.ok is True and result.problems == []


def test_events_and_audit_entries_are_the_local_chains(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    entry = registry.record_event(fam.name, "1.0.0", actor="deployer", event="deployed", payload={"endpoint": "e"})
    assert entry.event == "deployed"
    events = [(e.event, e.actor) for e in registry.audit_entries(fam.name, "1.0.0")]
    assert events[0] == ("registered", "ci") and events[-1] == ("deployed", "deployer")
    assert [e.event for e in registry.audit_entries()] == [e.event for e in registry.local.audit_entries()]


def test_reads_take_the_decision_from_sagemaker(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="prod", actor="ci")
    [package] = fam.packages()
    # no decided_by: the description alone is not a decision reason
    fam.stack.client("sagemaker").update_model_package(
        ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Rejected", ApprovalDescription="console",
        CustomerMetadataProperties={**package["CustomerMetadataProperties"], "modelway_status": "Rejected"})
    read = registry.get(fam.name, "1.0.0")
    assert read.status == "Rejected" and read.decision_reason is None and read.decided_by is None
    [package] = fam.packages()
    _rewrite(fam, package, decided_by="carol")
    read = registry.get(fam.name, "1.0.0")
    assert read.decided_by == "carol" and read.decision_reason == "console" and read.decided_at is None
    [package] = fam.packages()
    _rewrite(fam, package, decided_at="2026-01-01T00:00:00Z")
    assert registry.get(fam.name, "1.0.0").decided_at == "2026-01-01T00:00:00Z"


def test_status_mapping_and_s3_uris():
    assert TO_SAGEMAKER == {"Pending": "PendingManualApproval", "Approved": "Approved", "Rejected": "Rejected",
                            "Revoked": "Rejected"}
    assert _split_s3("s3://bucket/a/b.json") == ("bucket", "a/b.json")
    assert _split_s3("s3://bucket") == ("bucket", "")
    with pytest.raises(RegistryError) as err:
        _split_s3("file:///tmp/x")
    assert str(err.value) == "not an S3 URI: file:///tmp/x"


def test_a_status_set_back_to_pending_in_the_console_reads_as_pending(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")  # Approved
    [package] = fam.packages()
    fam.stack.client("sagemaker").update_model_package(ModelPackageArn=package["ModelPackageArn"],
                                                       ModelApprovalStatus="PendingManualApproval",
                                                       CustomerMetadataProperties=package["CustomerMetadataProperties"])
    assert registry.get(fam.name, "1.0.0").status == "Pending"


def test_packages_made_outside_modelway_are_ignored(fam):
    registry = fam.registry()
    registry.register(fam.candidate(), environment="dev", actor="ci")
    fam.stack.client("sagemaker").create_model_package(  # someone else's package in the group: no modelway_version
        ModelPackageGroupName=fam.group, ModelPackageDescription="hand made",
        InferenceSpecification={"Containers": [{"Image": "img:1"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]})
    assert len(fam.packages()) == 2
    assert [v.version for v in registry.list(fam.name)] == ["1.0.0"]
    assert registry.verify_audit().ok is True
