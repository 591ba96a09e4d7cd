"""Pins on the retry rules (``modelway.runtime.retry``), fast enough for ``make mutate``.

What a user relies on: ``@step(retries=N)`` gives exactly N more attempts after a retryable
failure and none after another one; the waits between them double from ``retry_delay``; a
SageMaker job that failed for a transient cloud reason goes through the step's retries, a
job that failed in the step's own code does not get extra ones from the cloud's wording; a
remote job is polled less and less often, never less than once per ceiling. The runs that
show the same end to end are in test_core_runner.py and tests/aws/.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.runtime.retry import backoff_s, next_poll_s, sagemaker_retryable, should_retry, transient

QUICK = settings(max_examples=60, deadline=None)


# --- whether a failed attempt is tried again ---------------------------------------------------------
@pytest.mark.parametrize(("tries", "retries", "again"), [
    (1, 0, False),  # no retries: the first failure is final
    (1, 1, True), (2, 1, False),
    (2, 2, True), (3, 2, False),
])
def test_a_retryable_failure_is_tried_again_while_retries_are_left(tries: int, retries: int, again: bool) -> None:
    assert should_retry(True, tries, retries) is again


@QUICK
@given(retries=st.integers(0, 6))
def test_a_step_with_n_retries_gets_n_plus_one_attempts(retries: int) -> None:
    tries = 1
    while should_retry(True, tries, retries):
        tries += 1
    assert tries == retries + 1


@QUICK
@given(tries=st.integers(1, 6), retries=st.integers(0, 6))
def test_a_failure_that_is_not_retryable_is_final_whatever_the_retries(tries: int, retries: int) -> None:
    assert should_retry(False, tries, retries) is False


# --- how long the runner waits before the next attempt -------------------------------------------------
def test_the_wait_starts_at_retry_delay_and_doubles() -> None:
    assert [backoff_s(1.0, n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert [backoff_s(0.05, n) for n in (1, 2)] == [0.05, 0.1]
    assert [backoff_s(0.0, n) for n in (1, 2, 3)] == [0.0, 0.0, 0.0]  # retry_delay="0s": at once


@QUICK
@given(delay=st.floats(0, 60), tries=st.integers(1, 8))
def test_each_wait_is_twice_the_one_before(delay: float, tries: int) -> None:
    assert backoff_s(delay, 1) == delay
    assert backoff_s(delay, tries + 1) == 2 * backoff_s(delay, tries)


# --- how often a remote job is polled -------------------------------------------------------------------
def test_polls_slow_down_by_half_up_to_the_ceiling() -> None:
    delays = [2.0]
    while delays[-1] < 30.0:
        delays.append(next_poll_s(delays[-1], 30.0))
    assert delays == [2.0, 3.0, 4.5, 6.75, 10.125, 15.1875, 22.78125, 30.0]
    assert next_poll_s(30.0, 30.0) == 30.0
    assert next_poll_s(20.0, 30.0) == 30.0  # 1.5 times would be 30: the ceiling either way
    assert next_poll_s(21.0, 30.0) == 30.0


# --- which remote failures are transient ------------------------------------------------------------------
@pytest.mark.parametrize("reason", [
    "CapacityError: Unable to provision requested ML compute capacity.",
    "InsufficientInstanceCapacity",
    "Training job interrupted",
    "SpotInterruption",
    "spot instance reclaimed",
    "ThrottlingException: Rate exceeded",
    "Throttled",
    "InternalServerError: We encountered an internal error.",
    "InternalError",
    "MaxWaitTimeExceeded",
    "CAPACITY",  # the cloud's capitals do not matter
])
def test_transient_failure_reasons(reason: str) -> None:
    assert transient(reason) is True
    assert sagemaker_retryable("Failed", reason) is True


@pytest.mark.parametrize("reason", [
    "AlgorithmError: exit 1",
    "ClientError: Data download failed",
    "MaxRuntimeExceeded",
    "Failed",
    "",
])
def test_failures_of_the_step_or_its_request_are_not_transient(reason: str) -> None:
    assert transient(reason) is False
    assert sagemaker_retryable("Failed", reason) is False


def test_a_stopped_sagemaker_job_is_tried_again_whatever_the_reason() -> None:
    # Stopped without a result: spot capacity was reclaimed or MaxWaitTimeInSeconds passed
    assert sagemaker_retryable("Stopped", "Interrupted") is True
    assert sagemaker_retryable("Stopped", "AlgorithmError: exit 1") is True
    assert sagemaker_retryable("Completed", "AlgorithmError: exit 1") is False
    assert sagemaker_retryable("stopped", "AlgorithmError: exit 1") is False  # SageMaker's status, exactly
