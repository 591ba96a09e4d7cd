"""How a pipeline definition reaches the runtime without importing it (the DSL sits below the runtime).

The layer above installs the function that runs a pipeline in this process, as kfp's
``pipeline_context`` installs the task-registration handler on the lower module:
``modelway/__init__.py`` (imported before any ``modelway.*`` module) installs one that
imports the runner on first use, so defining pipelines never loads the runtime.

Example:
    >>> calls = []
    >>> previous = install_runner(lambda pipeline, params: calls.append(params) or "done")
    >>> run_in_process(None, {"x": 1}), calls
    ('done', [{'x': 1}])
    >>> _ = install_runner(previous)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from modelway.errors import DefinitionError

if TYPE_CHECKING:
    from modelway.dsl.pipeline import Pipeline

# (pipeline, params) -> the pipeline's outputs, raising when the run fails
InProcessRunner = Callable[["Pipeline", dict[str, Any]], Any]

_runner: InProcessRunner | None = None


def install_runner(runner: InProcessRunner | None) -> InProcessRunner | None:
    """Install the function ``Pipeline.__call__`` runs a pipeline with; returns the previous one."""
    global _runner
    previous, _runner = _runner, runner
    return previous


def run_in_process(pipeline: Pipeline, params: dict[str, Any]) -> Any:
    """Run ``pipeline`` with ``params`` in this process through the installed runner; its outputs."""
    if _runner is None:
        raise DefinitionError("no pipeline runner is installed; import modelway (or modelway.runtime.runner) first")
    return _runner(pipeline, params)
