"""MLflow, imported with Modelway's settings in place: a ``preload`` entry for the steps that log to it.

``track`` names this module in its ``preload``, so the runner imports MLflow once, before it
forks ``track``, and ``register`` (which mirrors the version into MLflow's model registry)
inherits it instead of importing it again: about 2 s of CPU per uncached run. A cached
re-run runs neither import (``track`` is a cache hit and ``register`` finds the version).
The settings MLflow reads on import (telemetry off) are applied first.
"""
from __future__ import annotations

from modelway.stages.tracking import _quiet_mlflow_env

_quiet_mlflow_env()

import mlflow  # noqa: E402,F401  (after the settings above)
import mlflow.sklearn  # noqa: E402,F401
