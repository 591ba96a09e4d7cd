"""The model registry interface: versions, approvals, audit, integrity-checked loading.

Backends implement :class:`ModelRegistry`: the embedded one (SQLite under
``$MODELWAY_HOME``, :mod:`modelway.registry.embedded`) is the default; a SageMaker Model
Registry backend comes with the AWS backend. Statuses follow
``Pending -> Approved | Rejected`` and ``Approved -> Revoked``; who may approve is decided per environment by
:mod:`modelway.registry.promotion`.

Example:
    >>> ModelStatus.PENDING.value
    'Pending'
"""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from modelway.errors import UserError


class ModelStatus(str, Enum):
    """Approval status of a model version."""

    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    REVOKED = "Revoked"  # was Approved, then retired (a bad champion); never a champion again


class RegistryError(UserError):
    """A registry operation the user asked for cannot be done (unknown version, bad transition...)."""


class ArtifactIntegrityError(UserError):
    """A stored model artifact does not match its recorded sha256: it was tampered with or corrupted."""


@dataclass
class ModelCandidate:
    """Everything the registry records about a new model version (the version is computed).

    Example:
        >>> ModelCandidate(name="m", model=None, schema={}, metrics={}).gates_passed
        True
    """

    name: str
    model: Any
    schema: dict[str, Any]
    metrics: dict[str, Any]
    fairness: dict[str, Any] | None = None
    model_card: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    code_commit: str | None = None
    data_versions: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    mlflow_run_id: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    gates_passed: bool = True
    family: str | None = None
    model_bytes: bytes | None = None  # the pickled model, when the caller pickled it already (then ``family`` is required)


@dataclass
class ModelVersion:
    """A registered model version as stored (no model object; load it with ``load_model``)."""

    name: str
    version: str
    status: str
    environment: str
    created_at: str
    version_reason: str
    family: str
    artifact_sha256: str
    artifact_uri: str
    artifact_bytes: int
    schema: dict[str, Any]
    metrics: dict[str, Any]
    fairness: dict[str, Any] | None
    model_card: dict[str, Any] | None
    model_card_path: str | None
    hyperparameters: dict[str, Any]
    code_commit: str | None
    data_versions: dict[str, str]
    run_id: str | None
    mlflow_run_id: str | None
    lineage: dict[str, Any]
    gates_passed: bool
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None
    # set by ``register`` when the same artifact and metadata were already registered for the environment
    already_registered: bool = False

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data.pop("already_registered")
        if not full:
            for key in ("schema", "fairness", "model_card", "lineage", "hyperparameters"):
                data.pop(key, None)
        return data


class ModelRegistry(abc.ABC):
    """What every registry backend offers."""

    @abc.abstractmethod
    def register(self, candidate: ModelCandidate, *, environment: str, actor: str) -> ModelVersion:
        """Store a new version (version number computed), then apply the environment's rules.

        Idempotent: when the same model, artifact sha256 and metadata are already registered
        for ``environment``, that version is returned (``already_registered=True``) and
        nothing is written."""

    @abc.abstractmethod
    def get(self, name: str, version: str | None = None) -> ModelVersion:
        """One version (the latest when ``version`` is None); RegistryError if unknown."""

    @abc.abstractmethod
    def list(self, name: str | None = None) -> list[ModelVersion]:
        """All versions, newest first (optionally of one model)."""

    @abc.abstractmethod
    def approve(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        """Pending -> Approved, recording who, when and why."""

    @abc.abstractmethod
    def reject(self, name: str, version: str, *, actor: str, reason: str | None) -> ModelVersion:
        """Pending -> Rejected, recording who, when and why."""

    @abc.abstractmethod
    def revoke(self, name: str, version: str, *, actor: str, reason: str) -> ModelVersion:
        """Approved -> Revoked (a reason is required), recording who, when and why."""

    @abc.abstractmethod
    def champion(self, name: str, environments: tuple[str, ...] = ("prod",)) -> ModelVersion | None:
        """The newest Approved version in the first of ``environments`` that has one."""

    @abc.abstractmethod
    def load_model(self, name: str, version: str | None = None) -> Any:
        """The model object, after verifying the artifact's sha256 (ArtifactIntegrityError if not)."""

    @abc.abstractmethod
    def verify_audit(self) -> Any:
        """Verify the audit chain (and that statuses agree with it)."""
