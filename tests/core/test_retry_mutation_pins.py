"""Pins on the retry rules (``modelway.runtime.retry``), fast enough for ``make mutate``.

What a user relies on: ``@step(retries=N)`` gives exactly N more attempts after a retryable
failure and none after another one; the waits between them double from ``retry_delay``; a
SageMaker job that failed for a transient cloud reason goes through the step's retries, a
job that failed in the step's own code does not get extra ones from the cloud's wording; a
remote job is polled less and less often, never less than once per ceiling. The runs that
show the same end to end are in test_core_runner.py and tests/aws/. Which local failures are
retryable is decided by the executors, pinned at the end on single attempts run in this process
(a timed-out attempt, retryable, in test_core_runner.py: the alarm is the executor's).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway import pipeline, step
from modelway.artifacts.store import ArtifactStore
from modelway.runtime.errors import StepFailed
from modelway.runtime.executors import Outcome, Task, execute
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


# --- which local failures the executors mark retryable -------------------------------------------------
# One attempt run here, in this process (what the in-process executor does): no pipeline run, no fork.
def _attempt(home: Path, build: Any, name: str, timeout_s: float | None = None,
             input_hashes: dict[str, str] | None = None) -> Outcome:
    node = build().build().nodes[name]
    task = Task(name=name, node=node, attempt=1, input_hashes=input_hashes or {}, run_id="20261204-000000-abcdef",
                pipeline_name="p", home=home, params={}, timeout_s=timeout_s)
    return execute(task, in_runner=True)


def _single(fn: Any) -> Any:
    def build() -> Any:
        @pipeline
        def p() -> Any:
            return fn()
        return p
    return build


@step
def _raises_a_bug() -> int:
    raise RuntimeError("flaky network")


@step
def _fails_a_gate() -> int:
    raise StepFailed("AUC 0.61 is below the 0.70 gate")


@step
def _returns_the_wrong_type() -> int:
    return "5"  # type: ignore[return-value]


@step
def _returns_a_generator() -> object:
    return (i for i in range(3))


@step
def _exits() -> int:
    sys.exit(3)


def test_a_bug_is_retryable(tmp_path: Path) -> None:
    outcome = _attempt(tmp_path, _single(_raises_a_bug), "_raises_a_bug")
    assert (outcome.ok, outcome.retryable, outcome.deliberate) == (False, True, False)
    assert outcome.error == "RuntimeError: flaky network"


def test_a_deliberate_failure_is_final(tmp_path: Path) -> None:
    # a failed gate decides the same way on the same inputs: its retries would only repeat it
    outcome = _attempt(tmp_path, _single(_fails_a_gate), "_fails_a_gate")
    assert (outcome.ok, outcome.retryable, outcome.deliberate) == (False, False, True)
    assert outcome.error == "AUC 0.61 is below the 0.70 gate"


@pytest.mark.parametrize(("fn", "error"), [
    (_returns_the_wrong_type, "returned str but is annotated -> int"),
    (_returns_a_generator, "step '_returns_a_generator' returned a builtins.generator that cannot be stored"),
    (_exits, "the step called sys.exit(3); a step must return a value or raise, not exit the process"),
])
def test_failures_the_same_code_repeats_are_final(tmp_path: Path, fn: Any, error: str) -> None:
    outcome = _attempt(tmp_path, _single(fn), fn.name)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert outcome.error.startswith(error), outcome.error


@step
def _produce() -> dict:
    return {"value": 21}


@step
def _consume(d: dict) -> int:
    return d["value"] * 2


def test_an_input_that_fails_verification_is_final(tmp_path: Path) -> None:
    def build() -> Any:
        @pipeline
        def p() -> int:
            return _consume(_produce())
        return p

    store = ArtifactStore(tmp_path)
    ref = store.put({"value": 21})
    (store.path_of(ref.hash) / "data.json").write_text('{"value":500}')  # edited after it was stored
    outcome = _attempt(tmp_path, build, "_consume", input_hashes={"_produce": ref.hash})
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert outcome.error.startswith("its input from step '_produce' is unusable: artifact ")


@step(retries=2, retry_delay="0s")
def _gate_with_retries() -> int:
    raise StepFailed("AUC 0.61 is below the 0.70 gate")


@pipeline
def _gated() -> int:
    return _gate_with_retries()


def test_a_failed_gate_runs_once_even_with_retries(tmp_path: Path) -> None:
    from modelway.runtime.runner import run_pipeline

    result = run_pipeline(_gated, {}, executor="inprocess", display="none", home=tmp_path)
    step_result = next(s for s in result.steps if s.name == "_gate_with_retries")
    assert (result.status, step_result.attempts) == ("failed", 1)
    assert "AUC 0.61 is below the 0.70 gate" in result.error
