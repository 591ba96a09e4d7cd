"""The list of command-group modules. Add a module here to add a command group.

Each module defines ``register(app: typer.Typer) -> None`` and keeps heavy imports
inside its command functions so ``modelway --help`` stays fast.
"""
from __future__ import annotations

import importlib
from types import ModuleType

COMMAND_MODULES: tuple[str, ...] = (
    "modelway.cli.render",    # modelway render            (infra under Pulumi mocks)
    "modelway.cli.policy",    # modelway policy check      (offline policy checker)
    "modelway.cli.pipeline_runs",  # modelway run | resume | runs | data | lineage
    "modelway.cli.models",    # modelway models | audit | runs report (registry, approvals)
    "modelway.cli.explain",   # modelway explain           (one row through a registered model)
    "modelway.cli.stack",     # modelway stack show        (--stack / --outputs resolution)
    "modelway.cli.serving",   # modelway serve | deploy | rollback | promote | feedback | deployments
    "modelway.cli.monitoring",  # modelway monitor | baseline | triggers
    "modelway.cli.export",    # modelway export sagemaker  (SageMaker Pipelines definition)
)


def load_all() -> list[ModuleType]:
    """Import every command module, in order (``models`` adds ``runs report`` to ``runs``)."""
    return [importlib.import_module(name) for name in COMMAND_MODULES]
