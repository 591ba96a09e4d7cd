"""Model registry: computed semantic versions, approvals per environment, hash-chained audit log.

Example:
    >>> from modelway.registry import ModelStatus
    >>> ModelStatus.APPROVED.value
    'Approved'
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from modelway import active_backends

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


def get_registry(home: Path | None = None, *, rules: dict | None = None,
                 card_writer: Callable[[dict, Path], dict[str, Path]] | None = None) -> ModelRegistry:
    """The registry for this environment: the embedded one under ``$MODELWAY_HOME``.

    ``rules``: promotion rules as resolved when the pipeline was built (a dict in the
    shape of :class:`~modelway.registry.promotion.PromotionRules`); default: read them now.
    ``card_writer``: writes a registered version's model card documents (the stages pass
    :func:`modelway.stages.model_card.write_model_card`); without one, cards stay in the database.

    Example:
        >>> import tempfile
        >>> get_registry(Path(tempfile.mkdtemp())).list()
        []
    """
    from modelway.registry.promotion import PromotionRules

    parsed = PromotionRules.model_validate(rules) if rules is not None else None
    backends = active_backends.current()
    if backends is not None:  # a stack's registry (SageMaker model package groups)
        return backends.registry(home, parsed)
    from modelway.registry.embedded import EmbeddedRegistry

    return EmbeddedRegistry(home, rules=parsed, card_writer=card_writer)
