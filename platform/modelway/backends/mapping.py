"""The one place that maps a stack's outputs (or none: the embedded default) to a set of backends.

Commands resolve ``--stack``/``--outputs`` with :func:`modelway.backends.stack.resolve_stack`,
then call :func:`use`; the core asks :mod:`modelway.active_backends` for its stores and
registry, so no other code branches on whether a stack is in use.

Example:
    >>> backends_for(None).kind
    'local'
"""
from __future__ import annotations

import os
from typing import Any

from modelway import active_backends
from modelway.backends import local
from modelway.backends.stack import ResolvedStack


class LocalBackends:
    """The embedded default: every concern on this machine."""

    kind = "local"
    resolved = None

    def artifact_store(self, home: Any) -> Any:
        return local.artifact_store(home)

    def run_store(self, home: Any) -> Any:
        return local.run_store(home)

    def registry(self, home: Any, rules: Any) -> Any:
        return local.registry(home, rules)

    def lineage(self) -> dict[str, Any]:
        return {"name": "embedded"}

    def tracking_uri(self) -> str | None:
        return None

    def deployer(self, home: Any, *, log: Any = None) -> Any:
        return local.deployer(home, log=log)

    def metrics_sink(self, home: Any) -> Any:
        return local.metrics_sink(home)

    def alerter(self, home: Any, webhook_url: str | None = None) -> Any:
        return local.alerter(home, webhook_url)

    def check(self) -> None:
        """Nothing to check on this machine."""

    def concerns(self) -> dict[str, str]:
        return dict(local.CONCERNS)


def backends_for(resolved: ResolvedStack | None) -> Any:
    """The backend set for a resolved stack; the embedded default for None."""
    if resolved is None:
        return LocalBackends()
    from modelway.backends.aws.stack_backends import AwsBackends

    return AwsBackends(resolved)


def use(resolved: ResolvedStack | None) -> Any:
    """Install the backends of ``resolved`` for this process (and the steps it forks); returns them.

    The embedded default installs nothing: the core's own implementations are the default.
    The stack's tracking server becomes MLflow's URI unless ``MODELWAY_TRACKING_URI`` is set.
    """
    backends = backends_for(resolved)
    backends.check()  # a missing bucket or no access: one line now, not halfway through a run
    active_backends.install(None if backends.kind == "local" else backends)
    tracking = backends.tracking_uri()
    if tracking and not os.environ.get("MODELWAY_TRACKING_URI"):
        os.environ["MODELWAY_TRACKING_URI"] = tracking
    return backends
