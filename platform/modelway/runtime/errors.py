"""Errors raised when running pipelines (as opposed to defining them)."""
from __future__ import annotations


class StepFailed(Exception):
    """A step failed (after its retries). Raise it in a step for a clean one-line failure message.

    Example:
        >>> from modelway.runtime import StepFailed
        >>> def check(auc: float) -> float:
        ...     if auc < 0.7:
        ...         raise StepFailed(f"AUC {auc:.2f} is below the 0.70 gate")
        ...     return auc
    """

    def __init__(self, message: str, step: str | None = None, run_id: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.run_id = run_id


class RunCancelled(Exception):
    """The run was cancelled (Ctrl-C or SIGTERM); it can be resumed."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} cancelled; continue it with: modelway resume {run_id}")
        self.run_id = run_id
