"""Modelway: a governed MLOps platform kit.

The pipeline API is imported lazily so ``modelway --help`` stays fast::

    from modelway import pipeline, step, step_context

    @step
    def add_one(x: int) -> int:
        return x + 1

    @pipeline
    def chain(start: int = 0) -> int:
        x = start
        for _ in range(10):
            x = add_one(x)
        return x
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelway.dsl import hooks as _hooks

__version__ = "0.1.0"

_LAZY = {
    "step": "modelway.dsl.step",
    "pipeline": "modelway.dsl.pipeline",
    "Step": "modelway.dsl.step",
    "Pipeline": "modelway.dsl.pipeline",
    "StepSettings": "modelway.dsl.settings",
    "ResourceSettings": "modelway.contracts.resource_settings",
    "step_context": "modelway.runtime.context",
    "StepContext": "modelway.runtime.context",
    "StepFailed": "modelway.runtime.errors",
    "run_pipeline": "modelway.runtime.runner",
    "RunResult": "modelway.runtime.runner",
    "dataset": "modelway.runtime.lineage",
    "load_dataset": "modelway.runtime.lineage",
    "DatasetRef": "modelway.lineage.datasets",
    "record_model": "modelway.runtime.lineage",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from modelway.contracts.resource_settings import ResourceSettings
    from modelway.dsl.pipeline import Pipeline, pipeline
    from modelway.dsl.settings import StepSettings
    from modelway.dsl.step import Step, step
    from modelway.lineage.datasets import DatasetRef
    from modelway.runtime.context import StepContext, step_context
    from modelway.runtime.errors import StepFailed
    from modelway.runtime.lineage import dataset, load_dataset, record_model
    from modelway.runtime.runner import RunResult, run_pipeline


def _run_in_process(pipeline: Pipeline, params: dict[str, Any]) -> Any:
    """Run a pipeline in this process (``chain(start=1)`` outside a pipeline body) and return its outputs."""
    from modelway.runtime.runner import run_pipeline

    result = run_pipeline(pipeline, params, executor="inprocess", display="none")
    result.raise_for_status()
    return result.output_values()


# The DSL sits below the runtime and never imports it: this package (the composition root of the
# public API) installs the runner it calls, and imports the runtime only when a pipeline runs.
_hooks.install_runner(_run_in_process)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'modelway' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
