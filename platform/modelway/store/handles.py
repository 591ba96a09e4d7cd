"""The run store and artifact store of a Modelway home, opened once per process.

Below the runtime and lineage, which both use them. SQLite connections are never shared
across ``fork``: the cache is keyed by process id.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from modelway import active_backends
from modelway.artifacts.store import ArtifactStore
from modelway.errors import ConfigError
from modelway.store.runs import RunStore

_STORES: dict[tuple, RunStore | ArtifactStore | tuple[RunStore, ArtifactStore]] = {}


def stores(home: Path) -> tuple[RunStore, ArtifactStore]:
    """(RunStore, ArtifactStore) for this process and home; connections are never shared across fork.

    With a stack's backends installed (:mod:`modelway.active_backends`) they come from it.
    """
    backends = active_backends.current()
    key = (os.getpid(), str(home), id(backends))
    found = _STORES.get(key)
    if found is None:
        try:
            run_store = RunStore(home) if backends is None else backends.run_store(home)
            found = _STORES[key] = (run_store, artifact_store(home))
        except (OSError, sqlite3.OperationalError) as exc:
            raise ConfigError(f"cannot use {home} as the Modelway home ({exc}); "
                              "set MODELWAY_HOME to a writable directory") from None
    return found  # type: ignore[return-value]


def artifact_store(home: Path) -> ArtifactStore:
    """The ArtifactStore for ``home`` (no database connection: cheap in a step process)."""
    backends = active_backends.current()
    key = (os.getpid(), str(home), "artifacts", id(backends))
    found = _STORES.get(key)
    if found is None:
        found = _STORES[key] = ArtifactStore(home) if backends is None else backends.artifact_store(home)
    return found  # type: ignore[return-value]


def forget_stores() -> None:
    """Drop this process's handles (a forked child calls it: the parent's connections stay in the parent)."""
    _STORES.clear()
