"""The approval gate of a rollout: only versions the environment's promotion rules allow reach traffic.

* A version must be ``Approved`` (Pending, Rejected and Revoked versions are refused).
* An environment whose rules require a human approval (``auto_approve: false``, e.g. prod)
  accepts only versions registered for that environment and approved by a person, not
  the automatic approver of a more lenient environment.
* The artifact must still match its recorded sha256 (the registry's verified load).

There is deliberately no flag to skip this.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modelway.registry import get_registry
    >>> try:
    ...     check_deployable(get_registry(Path(tempfile.mkdtemp())), "m", "1.0.0", "prod")
    ... except Exception as exc:
    ...     print(type(exc).__name__)
    RegistryError
"""
from __future__ import annotations

from typing import Any

from modelway.deploy.base import DeployRefused
from modelway.registry import ModelStatus
from modelway.registry.promotion import AUTO_APPROVER, load_promotion_rules


def check_deployable(registry: Any, model: str, version: str, environment: str) -> Any:
    """The :class:`~modelway.registry.ModelVersion` if it may be deployed to ``environment``; DeployRefused otherwise."""
    mv = registry.get(model, version)
    if mv.status != ModelStatus.APPROVED.value:
        hint = (f"approve it first: modelway models approve {model} {version} --by NAME --reason '...'"
                if mv.status == ModelStatus.PENDING.value else "only Approved versions can be deployed")
        raise DeployRefused(f"{model} {version} is {mv.status}; {hint}")
    rules = getattr(registry, "rules", None) or load_promotion_rules()
    rule = rules.for_env(environment)
    if not rule.auto_approve:
        if mv.environment != environment:
            raise DeployRefused(f"{model} {version} was approved for {mv.environment}, but {environment} requires a human "
                                f"approval for {environment}; register it for {environment} and approve it there")
        if mv.decided_by in (None, AUTO_APPROVER):
            raise DeployRefused(f"{model} {version} was approved automatically; {environment} requires a human approval")
    registry.load_model(model, version)  # ArtifactIntegrityError when the artifact no longer matches its sha256
    return mv
