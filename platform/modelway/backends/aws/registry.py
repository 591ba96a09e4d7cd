"""Model registry on the stack's SageMaker model package groups, with our semver, approvals and audit chain.

Each of our versions is a model package in the family's group (``model_package_groups``
in the stack outputs):

- the model artifact, model card and the full version record go to the stack's models
  bucket (SSE-KMS): ``s3://<models>/<name>/<version>/{model.pkl,version.json,metrics.json}``;
- the package's ``ModelApprovalStatus`` mirrors our status (Pending ->
  ``PendingManualApproval``, Approved -> ``Approved``, Rejected and Revoked ->
  ``Rejected``); ``CustomerMetadataProperties`` carry the semver, artifact sha256, the
  version record's sha256, run ids, card URI and our status; ``ModelMetrics`` points at the
  metrics JSON;
- versions are computed, promotion rules applied and every decision written to the hash
  chained audit log by the embedded registry in ``$MODELWAY_HOME`` (the chain stays ours),
  then mirrored to SageMaker. ``verify_audit`` checks the chain *and* that SageMaker holds
  the same status, artifact and record for every version: an approval flipped in the
  console, or an edited record, is a finding.

``list``/``get`` read SageMaker and the version records (verified against the sha256 in
the package's metadata), so they work from any machine with access to the stack.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelway.backends.aws.clients import AwsClients
from modelway.registry.audit import VerifyResult
from modelway.registry.base import (
    ArtifactIntegrityError,
    ModelCandidate,
    ModelRegistry,
    ModelStatus,
    ModelVersion,
    RegistryError,
)
from modelway.registry.embedded import EmbeddedRegistry, _uri_to_path
from modelway.registry.semver import parse

if TYPE_CHECKING:
    from modelway.contracts.stack_outputs import StackOutputs
    from modelway.registry.promotion import PromotionRules

TO_SAGEMAKER = {ModelStatus.PENDING.value: "PendingManualApproval", ModelStatus.APPROVED.value: "Approved",
                ModelStatus.REJECTED.value: "Rejected", ModelStatus.REVOKED.value: "Rejected"}


class SageMakerRegistry(ModelRegistry):
    """:class:`~modelway.registry.base.ModelRegistry` on SageMaker model package groups (see the module doc)."""

    def __init__(self, home: Path | None, clients: AwsClients, outputs: StackOutputs, *,
                 rules: PromotionRules | None = None) -> None:
        self.local = EmbeddedRegistry(home, rules=rules)
        self.clients = clients
        self.outputs = outputs
        self.bucket = outputs.buckets.models

    # -- writes: ours first (version, rules, audit), then mirrored ---------------------------
    def register(self, candidate: ModelCandidate, *, environment: str, actor: str) -> ModelVersion:
        self._group(candidate.name)  # an unknown family fails before anything is written
        packages = self._packages(candidate.name)
        same = self._same_artifact(candidate, environment, packages)
        if same is not None:  # registered already (maybe from another machine): nothing is written
            same.already_registered = True
            return same
        ours = {v.version for v in self.local.list(candidate.name)}
        foreign = sorted({p["CustomerMetadataProperties"]["modelway_version"] for p in packages} - ours)
        if foreign:
            # versions are computed from the audit chain in the home that registered them; a second
            # chain would hand out the same numbers again
            raise RegistryError(f"SageMaker group {self._group(candidate.name)} holds {candidate.name} "
                                f"{', '.join(foreign)}, which this home's registry ({self.local.root}) did not "
                                "register; register new versions from the home that holds the stack's audit log "
                                "(set MODELWAY_HOME to it)")
        version = self.local.register(candidate, environment=environment, actor=actor)
        if self._package(version.name, version.version) is None:
            self._publish(version)
        return self._with_package(version)

    def approve(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        self._decided_here(name, version, "approve")
        return self._mirror(self.local.approve(name, version, actor=actor, reason=reason))

    def reject(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        self._decided_here(name, version, "reject")
        return self._mirror(self.local.reject(name, version, actor=actor, reason=reason))

    def revoke(self, name: str, version: str, *, actor: str, reason: str) -> ModelVersion:
        self._decided_here(name, version, "revoke")
        return self._mirror(self.local.revoke(name, version, actor=actor, reason=reason))

    def record_event(self, name: str, version: str, *, actor: str, event: str, payload: dict[str, Any]) -> Any:
        """A non-decision event (e.g. a deployment) in our audit chain, next to the version's registration."""
        return self.local.record_event(name, version, actor=actor, event=event, payload=payload)

    def _decided_here(self, name: str, version: str, verb: str) -> None:
        """Decisions go into the audit log that registered the version: say so when this home is not it."""
        if any(v.version == version for v in self.local.list(name)):
            return
        if self._package(name, version) is not None:
            raise RegistryError(f"{name} {version} was registered from another Modelway home; {verb} it from the "
                                "home that holds the stack's audit log (set MODELWAY_HOME to it), so the decision "
                                "is chained to the registration")

    # -- reads: SageMaker is where the stack's versions are -----------------------------------
    def list(self, name: str | None = None) -> list[ModelVersion]:
        families = [name] if name else sorted(self.outputs.model_package_groups)
        versions: list[ModelVersion] = []
        for family in families:
            if family not in self.outputs.model_package_groups:
                continue
            for package in self._packages(family):
                versions.append(self._version_of(package))

        versions.sort(key=lambda v: (v.name, parse(v.version)), reverse=True)
        return sorted(versions, key=lambda v: v.name)  # stable: newest first within each model

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        group = self._group(name)
        if version is None:
            known = self.list(name)
            if not known:
                raise RegistryError(f"model {name!r} has no versions in SageMaker model package group {group}")
            return known[0]
        package = self._package(name, version)
        if package is None:
            raise RegistryError(f"model {name!r} has no version {version} in SageMaker model package group {group}; "
                                f"see `modelway models list --name {name}`")
        return self._version_of(package)

    def champion(self, name: str, environments: tuple[str, ...] = ("prod",)) -> ModelVersion | None:
        versions = self.list(name)
        for env in environments:
            for v in versions:
                if v.environment == env and v.status == ModelStatus.APPROVED.value:
                    return v
        return None

    def load_model(self, name: str, version: str | None = None) -> Any:
        import pickle

        mv = self.get(name, version)
        bucket, key = _split_s3(mv.artifact_uri)
        with self.clients.call("s3:GetObject", mv.artifact_uri):
            blob = self.clients.get("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        actual = hashlib.sha256(blob).hexdigest()
        if actual != mv.artifact_sha256:
            raise ArtifactIntegrityError(f"artifact of {name} {mv.version} at {mv.artifact_uri} has sha256 "
                                         f"{actual[:12]}… but the registry recorded {mv.artifact_sha256[:12]}…; "
                                         "refusing to load a tampered or corrupted model")
        return pickle.loads(blob)  # noqa: S301 - bytes verified against the recorded sha256 above

    def verify_audit(self) -> VerifyResult:
        """Our chain (embedded checks), then every locally recorded version against SageMaker."""
        result = self.local.verify_audit()
        for mv in self.local.list():
            if mv.name not in self.outputs.model_package_groups:
                continue
            package = self._package(mv.name, mv.version)
            if package is None:
                result.problems.append(f"model {mv.name} {mv.version}: in our registry and audit log but not in "
                                       f"SageMaker model package group {self._group(mv.name)}")
                continue
            meta = package.get("CustomerMetadataProperties", {})
            expected = TO_SAGEMAKER[mv.status]
            if package["ModelApprovalStatus"] != expected or meta.get("modelway_status") != mv.status:
                result.problems.append(
                    f"model {mv.name} {mv.version}: SageMaker says {package['ModelApprovalStatus']} "
                    f"(modelway_status={meta.get('modelway_status')}) but our audit log says {mv.status}: changed "
                    "outside Modelway")
            if meta.get("artifact_sha256") != mv.artifact_sha256:
                result.problems.append(f"model {mv.name} {mv.version}: SageMaker package names artifact sha256 "
                                       f"{str(meta.get('artifact_sha256'))[:12]} but our registry has "
                                       f"{mv.artifact_sha256[:12]}")
            try:
                self._version_of(package)
            except ArtifactIntegrityError as exc:
                result.problems.append(str(exc))
        result.ok = not result.problems
        return result

    def audit_entries(self, name: str | None = None, version: str | None = None) -> Any:
        """Our audit log (kept in ``$MODELWAY_HOME``)."""
        return self.local.audit_entries(name, version)

    # -- SageMaker / S3 plumbing ------------------------------------------------------------
    def _group(self, name: str) -> str:
        group = self.outputs.model_package_groups.get(name)
        if group is None:
            raise RegistryError(f"stack {self.clients.stack}: no SageMaker model package group for model {name!r}; "
                                f"the stack has {sorted(self.outputs.model_package_groups) or 'none'} (add it to "
                                "registries.model_families in Pulumi.<env>.yaml)")
        return group

    def _packages(self, name: str) -> list[dict[str, Any]]:
        group = self._group(name)
        sagemaker = self.clients.get("sagemaker")
        found = []
        with self.clients.call("sagemaker:ListModelPackages", f"model package group {group}"):
            for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
                for summary in page.get("ModelPackageSummaryList", []):
                    found.append(sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]))
        return [p for p in found if p.get("CustomerMetadataProperties", {}).get("modelway_version")]

    def _package(self, name: str, version: str) -> dict[str, Any] | None:
        for package in self._packages(name):
            if package["CustomerMetadataProperties"]["modelway_version"] == version:
                return package
        return None

    def _put(self, key: str, body: bytes, content_type: str) -> str:
        with self.clients.call("s3:PutObject", f"s3://{self.bucket}/{key}"):
            self.clients.get("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                                              ServerSideEncryption="aws:kms", SSEKMSKeyId=self.outputs.kms_key_arn)
        return f"s3://{self.bucket}/{key}"

    def _publish(self, version: ModelVersion) -> None:
        """Upload artifact, metrics and the version record; create the model package."""
        prefix = f"{version.name}/{version.version}"
        blob = _uri_to_path(version.artifact_uri).read_bytes()
        if hashlib.sha256(blob).hexdigest() != version.artifact_sha256:
            raise ArtifactIntegrityError(f"artifact of {version.name} {version.version} changed since it was "
                                         "registered; not publishing it")
        model_uri = self._put(f"{prefix}/model.pkl", blob, "application/octet-stream")
        metrics_uri = self._put(f"{prefix}/metrics.json", json.dumps(
            {"metrics": version.metrics, "fairness": version.fairness}, sort_keys=True, default=str).encode(),
            "application/json")
        card_uri = None
        if version.model_card is not None:
            card_uri = self._put(f"{prefix}/model_card.json", json.dumps(version.model_card, sort_keys=True,
                                                                         default=str).encode(), "application/json")
        record = version.to_dict()
        record.update(artifact_uri=model_uri, model_card_path=card_uri)
        record_bytes = json.dumps(record, sort_keys=True, default=str).encode()
        self._put(f"{prefix}/version.json", record_bytes, "application/json")
        image = self.outputs.ecr_repository_urls.get("serving") or next(iter(self.outputs.ecr_repository_urls.values()))
        metadata = {
            "modelway_version": version.version, "modelway_status": version.status,
            "environment": version.environment, "artifact_sha256": version.artifact_sha256,
            "record_sha256": hashlib.sha256(record_bytes).hexdigest(), "record_uri": f"s3://{self.bucket}/{prefix}/version.json",
            "run_id": version.run_id or "", "mlflow_run_id": version.mlflow_run_id or "",
            "card_uri": card_uri or "", "gates_passed": str(bool(version.gates_passed)).lower(),
            "data_versions": json.dumps(version.data_versions, sort_keys=True)[:256],
        }
        for key in ("roc_auc", "accuracy", "f1", "r2", "rmse"):
            if isinstance(version.metrics.get(key), (int, float)):
                metadata[f"metric_{key}"] = f"{version.metrics[key]:.6g}"
        with self.clients.call("sagemaker:CreateModelPackage", f"model package group {self._group(version.name)}"):
            self.clients.get("sagemaker").create_model_package(
                ModelPackageGroupName=self._group(version.name),
                ModelPackageDescription=f"{version.name} {version.version}: {version.version_reason}"[:1000],
                ModelApprovalStatus=TO_SAGEMAKER[version.status],
                CustomerMetadataProperties={k: v for k, v in metadata.items() if v},  # empty values are invalid
                InferenceSpecification={
                    "Containers": [{"Image": f"{image}:latest", "ModelDataUrl": model_uri}],
                    "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"]},
                ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                              "S3Uri": metrics_uri}}},
            )

    def _same_artifact(self, candidate: ModelCandidate, environment: str,
                       packages: list[dict[str, Any]]) -> ModelVersion | None:
        """The stack's version of this exact model artifact for ``environment``, if there is one."""
        import pickle

        blob = candidate.model_bytes if candidate.model_bytes is not None else pickle.dumps(candidate.model, protocol=5)
        sha = hashlib.sha256(blob).hexdigest()
        for package in packages:
            meta = package["CustomerMetadataProperties"]
            if meta.get("artifact_sha256") == sha and meta.get("environment") == environment:
                return self._version_of(package)
        return None

    def _mirror(self, version: ModelVersion) -> ModelVersion:
        """Put our status and decision on the version's model package."""
        package = self._package(version.name, version.version)
        if package is None:
            self._publish(version)
            return self._with_package(version)
        # the whole set, not only the changes: AWS merges properties, some implementations replace them
        metadata = {**package.get("CustomerMetadataProperties", {}), "modelway_status": version.status,
                    "decided_by": version.decided_by or "", "decided_at": version.decided_at or ""}
        with self.clients.call("sagemaker:UpdateModelPackage", package["ModelPackageArn"]):
            self.clients.get("sagemaker").update_model_package(
                ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus=TO_SAGEMAKER[version.status],
                ApprovalDescription=(version.decision_reason or version.status)[:1024],
                CustomerMetadataProperties={k: v for k, v in metadata.items() if v})
        return self._with_package(version)

    def _with_package(self, version: ModelVersion) -> ModelVersion:
        package = self._package(version.name, version.version)
        return self._version_of(package) if package is not None else version

    def _version_of(self, package: dict[str, Any]) -> ModelVersion:
        meta = package["CustomerMetadataProperties"]
        bucket, key = _split_s3(meta["record_uri"])
        with self.clients.call("s3:GetObject", meta["record_uri"]):
            body = self.clients.get("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        if hashlib.sha256(body).hexdigest() != meta.get("record_sha256"):
            raise ArtifactIntegrityError(f"version record {meta['record_uri']} does not match the sha256 its model "
                                         "package recorded: it was modified after registration")
        record = json.loads(body)
        names = {f.name for f in fields(ModelVersion)}
        version = ModelVersion(**{k: v for k, v in record.items() if k in names})
        # status and decision are what SageMaker holds now (set through Modelway: audit verify checks it)
        version.status = meta.get("modelway_status") or version.status
        if meta.get("decided_by"):
            version.decided_by = meta["decided_by"]
            version.decided_at = meta.get("decided_at") or version.decided_at
        if package.get("ApprovalDescription") and meta.get("decided_by"):
            version.decision_reason = package["ApprovalDescription"]
        if TO_SAGEMAKER.get(version.status) != package["ModelApprovalStatus"]:
            version.status = {"PendingManualApproval": ModelStatus.PENDING.value}.get(
                package["ModelApprovalStatus"], package["ModelApprovalStatus"])
        version.lineage = {**version.lineage, "model_package_arn": package["ModelPackageArn"]}
        return version


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise RegistryError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key
