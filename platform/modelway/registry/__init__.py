"""Model registry: computed semantic versions, approvals per environment, hash-chained audit log.

Example:
    >>> from modelway.registry import ModelStatus
    >>> ModelStatus.APPROVED.value
    'Approved'
"""
from __future__ import annotations

from pathlib import Path

from modelway.registry.base import (
    ArtifactIntegrityError,
    ModelCandidate,
    ModelRegistry,
    ModelStatus,
    ModelVersion,
    RegistryError,
)

__all__ = [
    "ArtifactIntegrityError",
    "ModelCandidate",
    "ModelRegistry",
    "ModelStatus",
    "ModelVersion",
    "RegistryError",
    "get_registry",
]


def get_registry(home: Path | None = None) -> ModelRegistry:
    """The registry for this environment: the embedded one under ``$MODELWAY_HOME``.

    Example:
        >>> import tempfile
        >>> get_registry(Path(tempfile.mkdtemp())).list()
        []
    """
    from modelway.registry.embedded import EmbeddedRegistry

    return EmbeddedRegistry(home)
