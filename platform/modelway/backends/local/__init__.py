"""The embedded default's backends: everything on this machine under ``$MODELWAY_HOME``.

The implementations still live where the core grew them (``modelway.artifacts.store``,
``modelway.store.runs``, ``modelway.registry.embedded``, MLflow's local store,
``modelway.runtime.executors``); this package names them for the backend mapping.
Moving them here is a follow-up (they are being changed elsewhere right now).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

CONCERNS = {
    "artifacts": "content-addressed store under $MODELWAY_HOME/artifacts",
    "step cache": "SQLite under $MODELWAY_HOME/modelway.db",
    "registry": "embedded SQLite registry under $MODELWAY_HOME/registry (hash-chained audit log)",
    "tracking": "MLflow, local SQLite store under $MODELWAY_HOME/mlflow.db",
    "metrics": "SQLite under $MODELWAY_HOME/monitoring (modelway monitor)",
    "alerts": "log lines (and the monitor config's webhook)",
    "deployer": "local model servers (modelway serve), routing state under $MODELWAY_HOME",
    "executors": "local processes (one forked process per step) or in-process",
}


def artifact_store(home: Path) -> Any:
    """The local content-addressed artifact store."""
    from modelway.artifacts.store import ArtifactStore

    return ArtifactStore(home)


def run_store(home: Path) -> Any:
    """The local SQLite run store (its step cache is this machine's)."""
    from modelway.store.runs import RunStore

    return RunStore(home)


def registry(home: Path | None, rules: Any) -> Any:
    """The embedded model registry."""
    from modelway.registry.embedded import EmbeddedRegistry

    return EmbeddedRegistry(home, rules=rules)


def deployer(home: Path, *, log: Any = None) -> Any:
    """Rollouts on local model servers."""
    from modelway.deploy.embedded import EmbeddedDeployer

    return EmbeddedDeployer(home, log=log)


def metrics_sink(home: Path) -> Any:
    """Monitoring observations in SQLite under ``$MODELWAY_HOME/monitoring``."""
    from modelway.monitoring.sinks import SqliteMetricsSink

    return SqliteMetricsSink(home)


def alerter(home: Path, webhook_url: str | None = None) -> Any:
    """Alerts as log lines (and an optional webhook)."""
    from modelway.monitoring.sinks import LogAlerter

    return LogAlerter(home, webhook_url)
