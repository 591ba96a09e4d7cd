"""Running pipelines: the local runner, executors, step context, cache keys."""
from modelway.runtime.context import StepContext, step_context
from modelway.runtime.errors import RunCancelled, StepFailed

__all__ = ["RunCancelled", "StepContext", "StepFailed", "step_context"]
