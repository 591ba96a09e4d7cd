"""The backends this process uses when they are not the embedded default.

The composition root (the CLI with ``--stack``/``--outputs``, or the remote entry point in
a training job) installs one :class:`BackendSet` here once, before a run starts; the core
(``runtime.context.stores``, ``registry.get_registry``) asks :func:`current` and falls back
to its embedded implementations when nothing is installed. This leaf module imports
nothing of Modelway, so the core never imports ``modelway.backends`` (which sits above it).
Step processes are forked from the runner and inherit what was installed.

Example:
    >>> current() is None
    True
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class BackendSet(Protocol):
    """What the core asks an installed backend set for (see ``modelway.backends.Backends``)."""

    def run_store(self, home: Path) -> Any:
        """A RunStore for ``home`` (the run database stays local; the step cache may be shared)."""

    def artifact_store(self, home: Path) -> Any:
        """An ArtifactStore for ``home`` (``home`` is the local cache when the store is remote)."""

    def registry(self, home: Path | None, rules: Any) -> Any:
        """The model registry (``rules``: PromotionRules or None)."""

    def lineage(self) -> dict[str, Any]:
        """What a run's lineage records about where it ran (stack name, outputs digest...)."""


_ACTIVE: BackendSet | None = None


def install(backends: BackendSet | None) -> None:
    """Make ``backends`` the set this process (and the steps it forks) uses; None = embedded default."""
    global _ACTIVE
    _ACTIVE = backends


def current() -> BackendSet | None:
    """The installed backend set, or None for the embedded default."""
    return _ACTIVE
