"""When a failed step attempt is tried again, and how long the runner and the remote executors wait.

The rules in one place, used by the runner (:mod:`modelway.runtime.runner`) and the remote
executors (SageMaker training jobs, Kubernetes Jobs):

* an attempt is tried again when its failure is *retryable* and the step has retries left
  (``@step(retries=N)``: N more attempts in this session; ``modelway resume`` starts a fresh
  budget). Executors decide retryable (:mod:`modelway.runtime.executors`): an exception, a
  crashed step process or a timeout is; a deliberate ``StepFailed`` (a failed gate decides the
  same way on the same inputs), an input that failed verification, a wrong return type, an
  unstorable value, a memory limit or an exit call are not (the same code fails the same way
  again);
* the wait before retry ``n`` (1, 2, ...) is ``retry_delay`` doubled ``n - 1`` times;
* a remote job that failed without a result is retryable when the cloud says why and it is
  transient (spot capacity or interruption, throttling, an internal error; SageMaker's
  ``Stopped``: spot capacity reclaimed or ``MaxWait`` passed);
* a remote job is polled at once, then each poll waits 1.5 times longer, up to a ceiling.

Example:
    >>> [backoff_s(1.0, n) for n in (1, 2, 3)]
    [1.0, 2.0, 4.0]
    >>> should_retry(True, tries=2, retries=2), should_retry(True, tries=3, retries=2)
    (True, False)
"""
from __future__ import annotations

import re

POLL_BACKOFF = 1.5
# Why a remote job failed, in the cloud's words, when trying again can help.
TRANSIENT_FAILURES = re.compile(r"capacity|interrupt|spot|throttl|internal(server)?error|MaxWaitTimeExceeded",
                                re.IGNORECASE)


def should_retry(retryable: bool, tries: int, retries: int) -> bool:
    """Whether a failed attempt is tried again: ``tries`` attempts were made in this session
    (the failed one included) and the step allows ``retries`` more after the first."""
    return retryable and tries <= retries


def backoff_s(retry_delay_s: float, tries: int) -> float:
    """Seconds to wait before the next attempt after ``tries`` attempts: the step's ``retry_delay``,
    doubled for each retry before (``retry_delay="0s"`` retries at once)."""
    return retry_delay_s * (2 ** (tries - 1))


def next_poll_s(delay_s: float, ceiling_s: float) -> float:
    """The wait before a remote job's next poll, after one that found it still running."""
    return min(ceiling_s, delay_s * POLL_BACKOFF)


def transient(reason: str) -> bool:
    """Whether a remote job's failure reason says trying again can help.

    Example:
        >>> transient("CapacityError: Unable to provision requested ML compute capacity.")
        True
        >>> transient("AlgorithmError: exit 1")
        False
    """
    return bool(TRANSIENT_FAILURES.search(reason))


def sagemaker_retryable(status: str, reason: str) -> bool:
    """Whether a SageMaker training job that ended without a result is tried again: ``Stopped``
    (spot capacity reclaimed, ``MaxWaitTimeInSeconds`` passed) or a transient failure."""
    return status == "Stopped" or transient(reason)
