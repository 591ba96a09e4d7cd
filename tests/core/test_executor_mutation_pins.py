"""Pins on the local executors (``modelway.runtime.executors``) and the GPU queue
(``modelway.runtime.gpus``), fast enough for ``make mutate``.

What a user relies on: a failed attempt says why in one line (the exception, an exit code, a
signal, a time or memory limit), is retried only when running it again could help, and leaves no
process behind; an attempt is stopped once its time limit passes, not later; a step that asks for
N GPUs gets N devices no other running step has. The process executor's decisions (which attempt
finished, timed out or went over its memory) are pinned on stand-in processes and a stand-in
clock, so both sides of each limit are exact; a few real forked attempts check the wiring.
"""
from __future__ import annotations

import functools
import multiprocessing.connection
import os
import resource
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway import pipeline, step
from modelway.artifacts.store import ArtifactStore
from modelway.contracts.resource_settings import ResourceSettings
from modelway.runtime import executors, gpus
from modelway.runtime.context import artifact_store, step_context
from modelway.runtime.errors import StepFailed
from modelway.runtime.executors import Executor, InProcessExecutor, Outcome, ProcessExecutor, Task, execute
from modelway.runtime.gpus import GpuScheduling, discover_gpus, needs_gpus

RUN_ID = "20261204-000000-abcdef"


def _task(home: Path, fn: Any, timeout_s: float | None = None, memory_limit: int | None = None,
          echo: Any = None) -> Task:
    """One attempt of a one-step pipeline made of ``fn``."""
    @pipeline
    def p() -> Any:
        return fn()

    node = p.build().nodes[fn.name]
    return Task(name=fn.name, node=node, attempt=1, input_hashes={}, run_id=RUN_ID, pipeline_name="p", home=home,
                params={}, timeout_s=timeout_s, echo=echo, memory_limit=memory_limit)


def _timed(call: Any) -> tuple[Any, float]:
    """What ``call()`` returns and the wall time it took (a bound for durations it reports)."""
    before = time.perf_counter()
    result = call()
    return result, time.perf_counter() - before


# --- one attempt in this process -----------------------------------------------------------------------
@step
def _answer() -> int:
    return 42


@step
def _multiline_bug() -> int:
    raise ValueError("\n  first line\nsecond line")


@step
def _silent_bug() -> int:
    raise RuntimeError("   ")


class _GateFailed(StepFailed):
    pass


@step
def _gate_subclass() -> int:
    raise _GateFailed("recall 0.4 < 0.5\nper group: a=0.4")


@step
def _bare_step_failed() -> int:
    raise StepFailed("  ")


@step
def _calls_os_exit() -> int:
    os._exit(4)


@step
def _wrong_type() -> int:
    return "5"  # type: ignore[return-value]


@step
def _unstorable() -> object:
    return (i for i in range(3))


@step
def _produce() -> dict:
    return {"a": 20, "b": 22}


@step
def _add(a: int, b: int, c: int) -> int:
    return a + b + c


def _takes_nothing(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper() -> Any:  # its signature, through __wrapped__, says it takes x: calling it with x fails
        return fn(1)
    return wrapper


@step
@_takes_nothing
def _misdeclared(x: int) -> int:
    return x


class TestExecute:
    def test_a_successful_attempt_stores_its_value(self, tmp_path: Path) -> None:
        outcome, elapsed = _timed(lambda: execute(_task(tmp_path, _answer), in_runner=True))
        assert (outcome.ok, outcome.error, outcome.traceback, outcome.timed_out, outcome.deliberate) == \
            (True, None, None, False, False)
        assert artifact_store(tmp_path).get(outcome.output.hash) == 42
        assert 0 <= outcome.duration_s <= elapsed

    def test_a_bug_is_its_first_line_with_the_exception_class_and_the_users_traceback(self, tmp_path: Path) -> None:
        outcome, elapsed = _timed(lambda: execute(_task(tmp_path, _multiline_bug), in_runner=True))
        assert (outcome.ok, outcome.retryable, outcome.deliberate, outcome.timed_out) == (False, True, False, False)
        assert outcome.error == "ValueError: first line"
        assert outcome.traceback.startswith("Traceback (most recent call last):\n")
        assert 'in _multiline_bug\n    raise ValueError("\\n  first line\\nsecond line")' in outcome.traceback
        assert "in execute" not in outcome.traceback  # the runner's own frame is no help to the user
        assert outcome.traceback.endswith("ValueError: \n  first line\nsecond line\n")
        lines = outcome.traceback.splitlines()  # the frames as Python prints them, one after the other
        assert lines[0] == "Traceback (most recent call last):" and lines[1].startswith('  File "')
        assert lines[-5].startswith('  File "') and lines[-5].endswith(", in _multiline_bug")
        assert 0 <= outcome.duration_s <= elapsed

    def test_a_bug_without_a_message_is_its_class(self, tmp_path: Path) -> None:
        outcome = execute(_task(tmp_path, _silent_bug), in_runner=True)
        assert outcome.error == "RuntimeError"
        assert outcome.traceback is not None

    def test_a_deliberate_failure_is_its_first_line_without_class_or_traceback(self, tmp_path: Path) -> None:
        outcome = execute(_task(tmp_path, _gate_subclass), in_runner=True)
        assert (outcome.ok, outcome.error, outcome.traceback, outcome.deliberate, outcome.retryable) == \
            (False, "recall 0.4 < 0.5", None, True, False)  # final: a retry would decide the same way
        bare = execute(_task(tmp_path, _bare_step_failed), in_runner=True)
        assert (bare.error, bare.traceback, bare.deliberate, bare.retryable) == ("StepFailed", None, True, False)

    def test_os_exit_in_the_runner_is_a_final_deliberate_failure(self, tmp_path: Path) -> None:
        outcome, elapsed = _timed(lambda: execute(_task(tmp_path, _calls_os_exit), in_runner=True))
        assert (outcome.ok, outcome.retryable, outcome.deliberate, outcome.traceback) == (False, False, True, None)
        assert outcome.error == "the step called os._exit(4); a step must return a value or raise, not exit the process"
        assert 0 <= outcome.duration_s <= elapsed


    def test_a_call_that_fails_in_the_runners_own_frame_keeps_it(self, tmp_path: Path) -> None:
        # the step function could not even be entered: the runner's frame is the only one to show
        @pipeline
        def p() -> int:
            return _misdeclared(5)

        task = Task(name="_misdeclared", node=p.build().nodes["_misdeclared"], attempt=1, input_hashes={},
                    run_id=RUN_ID, pipeline_name="p", home=tmp_path, params={}, timeout_s=None)
        outcome = execute(task, in_runner=True)
        assert outcome.error == "TypeError: _misdeclared() takes 0 positional arguments but 1 was given"
        assert outcome.traceback.startswith("Traceback (most recent call last):\n")
        assert ", in execute\n" in outcome.traceback

    def test_an_unusable_input_reports_its_duration(self, tmp_path: Path) -> None:
        @pipeline
        def p() -> int:
            out = _produce()
            return _add(out["a"], out["b"], 0)

        store = ArtifactStore(tmp_path)
        ref = store.put({"a": 20, "b": 22})
        (store.path_of(ref.hash) / "data.json").write_text('{"a": 1, "b": 2}')  # edited after it was stored
        task = Task(name="_add", node=p.build().nodes["_add"], attempt=1, input_hashes={"_produce": ref.hash},
                    run_id=RUN_ID, pipeline_name="p", home=tmp_path, params={}, timeout_s=None)
        outcome, elapsed = _timed(lambda: execute(task, in_runner=True))
        assert (outcome.ok, outcome.retryable, outcome.traceback) == (False, False, None)
        assert outcome.error.startswith("its input from step '_produce' is unusable: ")
        assert 0 <= outcome.duration_s <= elapsed
    def test_a_store_that_fails_is_a_retryable_failure_naming_the_step(self, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        def disk_full(self: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(ArtifactStore, "put", disk_full)
        outcome, elapsed = _timed(lambda: execute(_task(tmp_path, _answer), in_runner=True))
        assert (outcome.ok, outcome.retryable, outcome.deliberate) == (False, True, False)
        assert outcome.error == "step '_answer': storing the output failed: OSError: [Errno 28] No space left on device"
        assert outcome.traceback.startswith("Traceback (most recent call last):") and "disk_full" in outcome.traceback
        assert 0 <= outcome.duration_s <= elapsed

    @pytest.mark.parametrize("fn", [_wrong_type, _unstorable])
    def test_final_failures_report_their_duration(self, tmp_path: Path, fn: Any) -> None:
        outcome, elapsed = _timed(lambda: execute(_task(tmp_path, fn), in_runner=True))
        assert (outcome.ok, outcome.retryable, outcome.traceback) == (False, False, None)
        assert 0 <= outcome.duration_s <= elapsed

    def test_an_output_used_twice_is_loaded_once_and_constants_pass_through(self, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        @pipeline
        def p() -> int:
            out = _produce()
            return _add(out["a"], out["b"], 0)

        node = p.build().nodes["_add"]
        ref = ArtifactStore(tmp_path).put({"a": 20, "b": 22})
        loads: list[str] = []
        real_get = ArtifactStore.get

        def counting_get(self: Any, digest: str, *args: Any, **kwargs: Any) -> Any:
            loads.append(digest)
            return real_get(self, digest, *args, **kwargs)

        monkeypatch.setattr(ArtifactStore, "get", counting_get)
        task = Task(name="_add", node=node, attempt=1, input_hashes={"_produce": ref.hash}, run_id=RUN_ID,
                    pipeline_name="p", home=tmp_path, params={}, timeout_s=None)
        outcome = execute(task, in_runner=True)
        assert outcome.ok, outcome.error
        assert loads == [ref.hash]
        assert real_get(ArtifactStore(tmp_path), outcome.output.hash) == 42

    def test_an_outcome_and_a_task_start_with_nothing_decided(self) -> None:
        outcome = Outcome(False)
        assert (outcome.output, outcome.error, outcome.traceback, outcome.duration_s, outcome.cpu_s,
                outcome.peak_rss_mb, outcome.timed_out, outcome.retryable, outcome.deliberate) == \
            (None, None, None, 0.0, None, None, False, True, False)
        before = time.monotonic()
        task = Task(name="s", node=None, attempt=1, input_hashes={}, run_id="r", pipeline_name="p", home=Path("."),
                    params={}, timeout_s=None)  # type: ignore[arg-type]
        assert (task.echo, task.memory_limit) == (None, None)
        assert before <= task.started <= time.monotonic()


# --- the in-process executor ----------------------------------------------------------------------------
@step
def _sleeps() -> int:
    time.sleep(30)
    return 1


@step
def _reads_the_alarm() -> float:
    return signal.getitimer(signal.ITIMER_REAL)[0]


class TestInProcessExecutor:
    def test_in_process_a_time_limit_stops_the_step_and_is_retryable(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        handler = signal.getsignal(signal.SIGALRM)
        executor.submit(_task(tmp_path, _sleeps, timeout_s=0.05))
        [(task, outcome)] = executor.wait(None)
        assert (outcome.ok, outcome.timed_out, outcome.retryable, outcome.deliberate) == (False, True, True, False)
        assert outcome.error == "timed out after 0.05s"
        assert 0 < outcome.duration_s < 30  # the alarm was set just before the attempt started
        # the alarm is disarmed and the previous handler is back
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) is handler

    def test_in_process_the_alarm_is_set_only_for_a_step_with_a_time_limit(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        executor.submit(_task(tmp_path, _reads_the_alarm, timeout_s=60))
        executor.submit(_task(tmp_path, _reads_the_alarm))
        [(_, limited), (_, unlimited)] = executor.wait(None)
        store = artifact_store(tmp_path)
        assert 0 < store.get(limited.output.hash) <= 60
        assert store.get(unlimited.output.hash) == 0.0

    def test_in_process_outside_the_main_thread_a_step_runs_without_the_alarm(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        errors: list[BaseException] = []

        def submit() -> None:
            try:
                executor.submit(_task(tmp_path, _answer, timeout_s=0.01))
            except BaseException as exc:  # signal.signal outside the main thread raises ValueError
                errors.append(exc)

        thread = threading.Thread(target=submit)
        thread.start()
        thread.join()
        assert errors == []
        [(_, outcome)] = executor.wait(None)
        assert outcome.ok

    def test_in_process_attempts_are_collected_once_with_their_cpu_and_memory(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        assert (executor.name, executor.running()) == ("inprocess", 0)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        cpu_before = time.process_time()
        executor.submit(_task(tmp_path, _answer))
        cpu_spent = time.process_time() - cpu_before
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        assert executor.running() == 1  # finished but not collected: the runner collects it next
        [(task, outcome)] = executor.wait(None)
        assert task.name == "_answer" and outcome.ok
        assert 0 <= outcome.cpu_s <= cpu_spent
        assert rss_before <= outcome.peak_rss_mb <= rss_after  # MiB (Linux reports KiB)
        assert (executor.running(), executor.wait(None)) == (0, [])

    def test_in_process_wait_sleeps_only_when_nothing_finished(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        slept: list[float] = []
        monkeypatch.setattr(executors.time, "sleep", slept.append)
        executor = InProcessExecutor()
        assert executor.wait(0.5) == [] and slept == [0.5]
        assert executor.wait(None) == [] and executor.wait(0) == [] and slept == [0.5]
        executor.submit(_task(tmp_path, _answer))
        assert len(executor.wait(0.5)) == 1 and slept == [0.5]

    def test_in_process_cancel_returns_the_attempt_that_is_running(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        seen: list[list[str]] = []

        @step
        def _cancels() -> int:  # what a Ctrl-C handler does while the step runs
            seen.append([t.name for t in executor.cancel_all()])
            return 1

        executor.submit(_task(tmp_path, _cancels))
        assert seen == [["_cancels"]]
        assert executor.cancel_all() == []


    def test_in_process_nothing_to_cancel_before_the_first_attempt(self) -> None:
        assert InProcessExecutor().cancel_all() == []

    def test_in_process_a_step_calling_os_exit_does_not_end_the_runner(self, tmp_path: Path) -> None:
        executor = InProcessExecutor()
        assert isinstance(executor, Executor) and isinstance(ProcessExecutor(), Executor)
        executor.submit(_task(tmp_path, _calls_os_exit))  # the test process would end here otherwise
        [(_, outcome)] = executor.wait(None)
        assert (outcome.ok, outcome.retryable) == (False, False)
        assert outcome.error.startswith("the step called os._exit(4)")


# --- the process executor: its decisions, on stand-in processes and a stand-in clock ------------------------
class _Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


class _Reader:
    """The runner's end of a step's result pipe."""

    def __init__(self, items: list[Any] | None = None, later: list[Any] | None = None, error: type | None = None):
        self.items, self.later, self.error, self.closed = list(items or []), list(later or []), error, False

    def poll(self) -> bool:
        if self.error is not None:
            raise self.error()
        return bool(self.items)

    def recv(self) -> Any:
        return self.items.pop(0)

    def close(self) -> None:
        self.closed = True


class _Proc:
    def __init__(self, alive: bool = True, exitcode: int | None = None, dies_on_terminate: bool = True,
                 reader: _Reader | None = None) -> None:
        self.sentinel = object()
        self.pid = 4242
        self.alive, self.exitcode, self.dies_on_terminate, self.reader = alive, exitcode, dies_on_terminate, reader
        self.calls: list[str] = []

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout: float | None = None) -> None:
        self.calls.append(f"join({timeout})")
        if self.reader is not None:  # what it sent just before it exited arrives by now
            self.reader.items += self.reader.later
            self.reader.later = []

    def terminate(self) -> None:
        self.calls.append("terminate")
        if self.dies_on_terminate:
            self.alive, self.exitcode = False, -signal.SIGTERM

    def kill(self) -> None:
        self.calls.append("kill")
        self.alive, self.exitcode = False, -signal.SIGKILL


class _Harness:
    """A ProcessExecutor whose attempts are stand-ins: ``ready`` says which handles ``wait`` sees."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, memory: int = 0) -> None:
        self.clock = _Clock()
        self.waited: list[float | None] = []
        self.ready: list[Any] = []
        self.memory_asked: list[int] = []
        self.logs: list[tuple[str, str]] = []
        self.memory = memory
        monkeypatch.setattr(executors, "time", self.clock)

        def wait(handles: list[Any], timeout: float | None) -> list[Any]:
            self.waited.append(timeout)
            return [h for h in handles if h in self.ready]

        def memory_of(pid: int) -> int:
            self.memory_asked.append(pid)
            return self.memory

        monkeypatch.setattr(multiprocessing.connection, "wait", wait)
        monkeypatch.setattr(executors, "_memory_of", memory_of)
        self.executor = ProcessExecutor(on_log=lambda step, message: self.logs.append((step, message)))

    def start(self, name: str, proc: _Proc, reader: _Reader, timeout_s: float | None = None,
              memory: str | None = None, started: float | None = None) -> Task:
        node = SimpleNamespace(settings=SimpleNamespace(resources=ResourceSettings(memory=memory)))
        task = Task(name=name, node=node, attempt=1, input_hashes={}, run_id=RUN_ID,  # type: ignore[arg-type]
                    pipeline_name="p", home=Path("."), params={}, timeout_s=timeout_s,
                    memory_limit=ResourceSettings(memory=memory).memory_bytes)
        task.started = self.clock.now if started is None else started
        deadline = task.started + timeout_s if timeout_s else None
        self.executor._running[name] = (task, proc, reader, deadline)
        return task


class TestProcessExecutorDecisions:
    def test_wait_blocks_no_longer_than_the_next_deadline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        h.start("a", _Proc(), _Reader(), timeout_s=30)
        h.start("b", _Proc(), _Reader(), timeout_s=5)
        h.start("c", _Proc(), _Reader())
        assert h.executor.next_deadline() == 1005.0
        for asked in (None, 10, 2):
            h.executor.wait(asked)
        assert h.waited == [5.0, 5.0, 2]
        h.clock.now = 1007.0  # b is late: no waiting at all, and b is stopped
        h.waited.clear()
        [(task, outcome)] = h.executor.wait(None)
        assert h.waited == [0.0] and task.name == "b"

    def test_without_deadlines_or_memory_limits_wait_blocks_as_asked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        h.start("a", _Proc(), _Reader())
        assert h.executor.next_deadline() is None
        h.executor.wait(None)
        h.executor.wait(3)
        assert h.waited == [None, 3]
        assert h.memory_asked == []  # no limit: its memory is never read

    def test_a_memory_limited_step_is_polled_every_fifth_of_a_second(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        h.start("a", _Proc(), _Reader(), memory="1Gi")
        for asked in (None, 10, 0.1):
            h.executor.wait(asked)
        assert h.waited == [0.2, 0.2, 0.1]
        assert executors.MEMORY_POLL_S == 0.2

    @pytest.mark.parametrize(("now", "stopped"), [(1004.999, False), (1005.0, True), (1006.0, True)])
    def test_an_attempt_is_stopped_when_its_time_limit_is_reached(self, monkeypatch: pytest.MonkeyPatch, now: float,
                                                                  stopped: bool) -> None:
        h = _Harness(monkeypatch)
        proc, reader = _Proc(), _Reader()
        h.start("slow", proc, reader, timeout_s=5, started=1000.0)
        h.clock.now = now
        finished = h.executor.wait(None)
        if not stopped:
            assert finished == [] and h.executor.running() == 1 and proc.calls == []
            return
        [(task, outcome)] = finished
        assert (outcome.ok, outcome.timed_out, outcome.retryable, outcome.error) == (False, True, True,
                                                                                     "timed out after 5s")
        assert outcome.duration_s == now - 1000.0
        assert proc.calls == ["terminate", "join(2)"] and reader.closed and h.executor.running() == 0

    def test_the_time_limit_is_written_as_the_user_wrote_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        h.start("a", _Proc(), _Reader(), timeout_s=0.25, started=990.0)
        [(_, outcome)] = h.executor.wait(None)
        assert outcome.error == "timed out after 0.25s"

    @pytest.mark.parametrize(("used", "stopped"), [(2**20, False), (2**20 + 1, True), (300 * 2**20, True)])
    def test_an_attempt_over_its_memory_limit_is_stopped_and_not_retried(self, monkeypatch: pytest.MonkeyPatch, used: int,
                                                                         stopped: bool) -> None:
        h = _Harness(monkeypatch, memory=used)
        proc, reader = _Proc(), _Reader()
        h.start("big", proc, reader, memory="1Mi", started=998.5)
        finished = h.executor.wait(None)
        assert h.memory_asked == [4242]
        if not stopped:
            assert finished == [] and h.executor.running() == 1 and proc.calls == []
            return
        [(task, outcome)] = finished
        assert (outcome.ok, outcome.retryable, outcome.timed_out) == (False, False, False)
        assert outcome.error == f"exceeded its memory limit 1Mi (using {used / 2**20:.0f} MiB); raise @step(memory=...)"
        assert outcome.duration_s == 1.5
        assert proc.calls == ["terminate", "join(2)"] and reader.closed and h.executor.running() == 0

    def test_a_reported_outcome_is_collected_and_the_process_reaped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        sent = Outcome(True)
        reader = _Reader([executors._LogLine("a", "epoch 1"), sent])
        proc = _Proc(alive=False, exitcode=0)
        other = h.start("b", _Proc(), _Reader())
        h.start("a", proc, reader)
        h.ready = [reader]
        [(task, outcome)] = h.executor.wait(None)
        assert task.name == "a" and outcome is sent
        assert h.logs == [("a", "epoch 1")]
        assert proc.calls == ["join(5)"] and reader.closed
        assert h.executor.running() == 1 and list(h.executor._running) == [other.name]

    def test_log_lines_alone_leave_the_step_running(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        reader = _Reader([executors._LogLine("a", "one"), executors._LogLine("a", "two")])
        proc = _Proc(alive=True)
        h.start("a", proc, reader)
        h.ready = [reader]
        assert h.executor.wait(None) == []
        assert h.logs == [("a", "one"), ("a", "two")]
        assert h.executor.running() == 1 and proc.calls == [] and not reader.closed


    def test_a_running_step_does_not_hide_one_that_finished(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        logging_reader = _Reader([executors._LogLine("a", "epoch 1")])
        done = Outcome(True)
        done_reader = _Reader([done])
        h.start("a", _Proc(alive=True), logging_reader)
        h.start("b", _Proc(alive=False, exitcode=0), done_reader)
        h.ready = [logging_reader, done_reader]
        assert [(t.name, o) for t, o in h.executor.wait(None)] == [("b", done)]
        assert list(h.executor._running) == ["a"]
    def test_an_outcome_sent_just_before_exiting_is_the_one_reported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        sent = Outcome(False, error="ValueError: x")
        reader = _Reader(later=[sent])
        proc = _Proc(alive=False, exitcode=0, reader=reader)
        h.start("a", proc, reader)
        h.ready = [proc.sentinel]
        [(_, outcome)] = h.executor.wait(None)
        assert outcome is sent

    @pytest.mark.parametrize(("code", "why"), [
        (-signal.SIGKILL, "killed by signal 9 (out of memory?)"),
        (-signal.SIGTERM, "killed by signal 15"),
        (-signal.SIGSEGV, "killed by signal 11"),
        (0, "exited with code 0 (did the step call os._exit?)"),
        (1, "exited with code 1"),
        (3, "exited with code 3"),
        (None, "exited with code None"),
    ])
    def test_a_process_that_ended_without_a_result_says_how(self, monkeypatch: pytest.MonkeyPatch, code: int | None,
                                                            why: str) -> None:
        h = _Harness(monkeypatch)
        reader = _Reader()
        proc = _Proc(alive=False, exitcode=code)
        h.start("a", proc, reader, started=997.0)
        h.ready = [proc.sentinel]
        [(_, outcome)] = h.executor.wait(None)
        assert outcome.error == f"step process {why} before reporting a result"
        assert (outcome.ok, outcome.retryable, outcome.timed_out, outcome.duration_s) == (False, True, False, 3.0)
        assert reader.closed and h.executor.running() == 0

    @pytest.mark.parametrize("error", [EOFError, OSError])
    def test_a_broken_pipe_reads_as_no_result(self, monkeypatch: pytest.MonkeyPatch, error: type) -> None:
        h = _Harness(monkeypatch)
        reader = _Reader(error=error)
        proc = _Proc(alive=False, exitcode=1)
        h.start("a", proc, reader)
        h.ready = [reader]
        [(_, outcome)] = h.executor.wait(None)
        assert outcome.error == "step process exited with code 1 before reporting a result"

    def test_log_lines_without_a_listener_are_dropped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        h.executor.on_log = None
        sent = Outcome(True)
        reader = _Reader([executors._LogLine("a", "x"), sent])
        h.start("a", _Proc(alive=False, exitcode=0), reader)
        h.ready = [reader]
        [(_, outcome)] = h.executor.wait(None)
        assert outcome is sent

    def test_wait_with_nothing_running_sleeps_as_asked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        assert h.executor.wait(0.5) == [] and h.clock.slept == [0.5]
        assert h.executor.wait(None) == [] and h.executor.wait(0) == [] and h.clock.slept == [0.5]
        assert h.waited == []

    def test_cancel_stops_every_attempt(self, monkeypatch: pytest.MonkeyPatch) -> None:
        h = _Harness(monkeypatch)
        procs, readers = [_Proc(), _Proc()], [_Reader(), _Reader()]
        h.start("a", procs[0], readers[0])
        h.start("b", procs[1], readers[1])
        assert [t.name for t in h.executor.cancel_all()] == ["a", "b"]
        assert all(p.calls == ["terminate", "join(2)"] for p in procs) and all(r.closed for r in readers)
        assert h.executor.running() == 0

    @pytest.mark.parametrize(("dies", "calls"), [(True, ["terminate", "join(2)"]),
                                                 (False, ["terminate", "join(2)", "kill", "join(2)"])])
    def test_a_process_that_ignores_terminate_is_killed(self, dies: bool, calls: list[str]) -> None:
        proc = _Proc(dies_on_terminate=dies)
        executors._kill(proc)
        assert proc.calls == calls and not proc.alive

    def test_memory_of_a_process_is_its_own_pages(self) -> None:
        me = psutil.Process()
        assert executors._memory_of(os.getpid()) >= me.memory_full_info().uss * 0.5 > 0
        assert executors._memory_of(2**22 + 12345) == 0  # no such process (above Linux's pid_max)


    def test_memory_of_a_step_is_its_pages_and_every_descendants(self, monkeypatch: pytest.MonkeyPatch) -> None:
        class Fake:
            def __init__(self, uss: int | None, children: list[Any] = ()) -> None:
                self.uss, self._children = uss, list(children)

            def children(self, recursive: bool = False) -> list[Any]:
                if not recursive:
                    return list(self._children)
                return [d for c in self._children for d in (c, *c.children(recursive=True))]

            def memory_full_info(self) -> Any:
                if self.uss is None:
                    raise psutil.NoSuchProcess(1)  # ended while its memory was read
                return SimpleNamespace(uss=self.uss)

        tree = Fake(1000, [Fake(None), Fake(20, [Fake(300)]), Fake(4000)])
        monkeypatch.setattr(psutil, "Process", lambda pid: tree)
        assert executors._memory_of(1) == 5320


# --- the process executor: real step processes ----------------------------------------------------------
def _collect(executor: Any) -> list[tuple[Task, Outcome]]:
    done: list[tuple[Task, Outcome]] = []
    while executor.running():
        done += executor.wait(10)
    return done


@step
def _logs_then_answers() -> dict:
    step_context().log("loading")
    step_context().log("training")
    sum(i * i for i in range(200_000))  # some CPU of its own, in user mode
    with open("/dev/zero", "rb", buffering=0) as zeros:  # and in the kernel
        for _ in range(300):
            zeros.read(2**20)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    import multiprocessing  # the name its log records show as %(processName)s

    return {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024.0,
            "process": multiprocessing.current_process().name}


def _worker() -> None:
    pass


@step
def _uses_a_worker_process() -> int:
    import multiprocessing

    worker = multiprocessing.get_context("fork").Process(target=_worker)
    worker.start()  # a daemonic step process could not
    worker.join()
    return worker.exitcode


@step
def _records_pid_and_sleeps() -> int:
    Path(os.environ["MODELWAY_TEST_PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(30)
    return 1


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _within(seconds: float, condition: Any) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@step
def _interrupted() -> int:
    raise KeyboardInterrupt("stop")


@step
def _exits_hard() -> int:
    os._exit(3)


@step
def _killed() -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 1


@step(memory="16Mi")
def _hogs_memory() -> int:
    hog = b"\x01" * (96 * 2**20)  # written pages: the process's own memory
    time.sleep(30)
    return len(hog)


class TestStepProcesses:
    def test_a_step_process_reports_its_value_logs_cpu_and_memory(self, tmp_path: Path) -> None:
        logs: list[tuple[str, str]] = []
        executor = ProcessExecutor(on_log=lambda s, m: logs.append((s, m)))
        assert executor.name == "process"
        executor.submit(_task(tmp_path, _logs_then_answers, timeout_s=60, echo=lambda s, m: None))
        assert executor.running() == 1
        [(task, outcome)] = _collect(executor)
        assert outcome.ok, outcome.error
        seen_in_step = artifact_store(tmp_path).get(outcome.output.hash)
        assert logs == [("_logs_then_answers", "loading"), ("_logs_then_answers", "training")]
        # the child's own usage, measured after the step: at least what the step saw of it (MiB, Linux KiB / 1024)
        assert outcome.cpu_s >= seen_in_step["cpu_s"] > 0
        assert outcome.peak_rss_mb >= seen_in_step["peak_mb"] > 1
        assert seen_in_step["process"] == "modelway-step-_logs_then_answers"
        assert executor.next_deadline() is None

    def test_a_step_process_may_start_its_own_workers(self, tmp_path: Path) -> None:
        executor = ProcessExecutor()
        executor.submit(_task(tmp_path, _uses_a_worker_process))
        [(_, outcome)] = _collect(executor)
        assert outcome.ok, outcome.error
        assert artifact_store(tmp_path).get(outcome.output.hash) == 0

    def test_a_step_process_dies_with_its_runner(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        pid_file = tmp_path / "step.pid"
        monkeypatch.setenv("MODELWAY_TEST_PID_FILE", str(pid_file))
        task = _task(tmp_path, _records_pid_and_sleeps)

        def runner() -> None:
            executor = ProcessExecutor()
            executor.submit(task)
            executor.wait(60)

        import multiprocessing

        process = multiprocessing.get_context("fork").Process(target=runner)
        process.start()
        try:
            assert _within(20, lambda: pid_file.exists() and pid_file.read_text())
            step_pid = int(pid_file.read_text())
        finally:
            os.kill(process.pid, signal.SIGKILL)  # the runner dies without a chance to clean up
            process.join()
        assert _within(20, lambda: _gone(step_pid)), "the step process outlived its runner"

    @pytest.mark.parametrize("runner_alive", [True, False])
    def test_a_step_process_whose_runner_is_already_gone_ends_before_the_step(self, tmp_path: Path,
                                                                              runner_alive: bool) -> None:
        # The runner died between the fork and prctl: the process now has another parent (init, or a
        # subreaper such as systemd --user), and no death signal will come.
        import multiprocessing

        ProcessExecutor()  # loads libc, as the runner does before its first fork
        fork = multiprocessing.get_context("fork")
        ended = fork.Process(target=lambda: None)
        ended.start()
        ended.join()
        went_on = tmp_path / "went-on"

        def step_process(runner_pid: int) -> None:
            executors._die_with_parent(runner_pid)
            went_on.write_text("yes")

        child = fork.Process(target=step_process, args=(os.getpid() if runner_alive else ended.pid,))
        child.start()
        child.join()
        assert went_on.exists() is runner_alive
        assert (child.exitcode == 0) is runner_alive

    def test_memory_of_a_step_counts_its_workers_and_theirs(self, tmp_path: Path) -> None:
        import subprocess

        root = subprocess.Popen(["sh", "-c", "sh -c 'sleep 30; :' & wait"])
        try:
            # Until the grandchild has exec'd sleep, it is a forked copy of sh whose pages change
            # under the measurement (a flake under load).
            assert _within(20, lambda: sorted(p.name() for p in psutil.Process(root.pid).children(recursive=True))
                           == ["sh", "sleep"])
            tree = [psutil.Process(root.pid), *psutil.Process(root.pid).children(recursive=True)]
            uss = [p.memory_full_info().uss for p in tree]
            total = executors._memory_of(root.pid)
            assert total > uss[0] + uss[1] > 0  # the grandchild's pages count too
            assert total >= 0.9 * sum(uss)
        finally:
            for p in psutil.Process(root.pid).children(recursive=True):
                p.kill()
            root.kill()
            root.wait()

    @pytest.mark.parametrize(("fn", "error"), [
        (_interrupted, "KeyboardInterrupt: stop"),
        (_exits_hard, "step process exited with code 3 before reporting a result"),
        (_killed, "step process killed by signal 9 (out of memory?) before reporting a result"),
    ])
    def test_a_step_process_that_fails_outside_python_still_reports_one_line(self, tmp_path: Path, fn: Any,
                                                                             error: str) -> None:
        executor = ProcessExecutor()
        executor.submit(_task(tmp_path, fn))
        [(_, outcome)] = _collect(executor)
        assert (outcome.ok, outcome.error, outcome.retryable) == (False, error, True)
        if fn is _interrupted:  # raised past execute(): the step process still reports it, with where it came from
            assert "raise KeyboardInterrupt(\"stop\")" in outcome.traceback

    def test_a_step_process_past_its_time_limit_is_stopped(self, tmp_path: Path) -> None:
        executor = ProcessExecutor()
        executor.submit(_task(tmp_path, _sleeps, timeout_s=0.1))
        pid = next(iter(executor._running.values()))[1].pid
        [(_, outcome)] = _collect(executor)
        assert (outcome.ok, outcome.timed_out, outcome.error) == (False, True, "timed out after 0.1s")
        assert 0 < outcome.duration_s < 30  # measured from the start of the attempt
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    def test_a_step_process_over_its_memory_is_stopped(self, tmp_path: Path) -> None:
        executor = ProcessExecutor()
        executor.submit(_task(tmp_path, _hogs_memory, timeout_s=60, memory_limit=16 * 2**20))
        [(_, outcome)] = _collect(executor)
        assert (outcome.ok, outcome.retryable) == (False, False)
        assert outcome.error.startswith("exceeded its memory limit 16Mi (using ")
        assert outcome.error.endswith(" MiB); raise @step(memory=...)")


# --- GPU assignment ---------------------------------------------------------------------------------------
class _Inner:
    """A local executor stand-in: records what each attempt saw of CUDA_VISIBLE_DEVICES; ``finish`` ends them."""

    name = "inner"

    def __init__(self) -> None:
        self.started: dict[str, str | None] = {}
        self.done: list[tuple[Task, Outcome]] = []
        self.live: list[Task] = []
        self.waits: list[float | None] = []

    def submit(self, task: Task) -> None:
        self.started[task.name] = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.live.append(task)

    def running(self) -> int:  # finished but not collected counts, as the protocol says
        return len(self.live) + len(self.done)

    def finish(self, name: str) -> None:
        task = next(t for t in self.live if t.name == name)
        self.live.remove(task)
        self.done.append((task, Outcome(True)))

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        self.waits.append(timeout)
        done, self.done = self.done, []
        return done

    def cancel_all(self) -> list[Task]:
        live, self.live = self.live, []
        return live


def _gpu_task(name: str, gpus: int) -> Task:
    node = SimpleNamespace(settings=SimpleNamespace(resources=ResourceSettings(gpus=gpus)))
    return Task(name=name, node=node, attempt=1, input_hashes={}, run_id=RUN_ID, pipeline_name="p",  # type: ignore
                home=Path("."), params={}, timeout_s=None)


@pytest.fixture()
def no_cuda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


class TestGpuAssignment:
    def test_a_gpu_step_sees_only_its_devices_and_the_runner_keeps_its_own(self, no_cuda_env: None) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=["0", "1", "2"])
        assert sched.name == "inner"
        sched.submit(_gpu_task("two", 2))
        sched.submit(_gpu_task("cpu", 0))
        sched.submit(_gpu_task("one", 1))
        assert inner.started == {"two": "0,1", "cpu": None, "one": "2"}
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
        assert (sched.free, sched.assigned) == ([], {"two": ["0", "1"], "one": ["2"]})

    def test_a_runner_given_devices_gets_its_setting_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
        inner = _Inner()
        GpuScheduling(inner, devices=["4", "5"]).submit(_gpu_task("a", 1))
        assert inner.started == {"a": "4"} and os.environ["CUDA_VISIBLE_DEVICES"] == "4,5"

    def test_a_step_waits_for_devices_and_gets_the_released_ones(self, no_cuda_env: None) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=["0", "1"])
        sched.submit(_gpu_task("a", 1))
        sched.submit(_gpu_task("b", 1))
        sched.submit(_gpu_task("c", 2))
        sched.submit(_gpu_task("d", 1))
        assert inner.started == {"a": "0", "b": "1"}
        assert sched.running() == 4  # two running, two queued
        inner.finish("a")
        assert [t.name for t, _ in sched.wait(1.0)] == ["a"] and inner.waits == [1.0]
        # c (2 GPUs) does not fit in one free device; d, behind it, does and starts
        assert inner.started == {"a": "0", "b": "1", "d": "0"}
        inner.finish("b")
        inner.finish("d")
        sched.wait(None)
        assert inner.started["c"] == "0,1" and sched.free == []
        inner.finish("c")
        sched.wait(None)
        assert sched.free == ["0", "1"] and sched.assigned == {} and sched.running() == 0

    def test_released_devices_go_back_in_the_machines_order(self, no_cuda_env: None) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=["3", "1", "2"])
        for name in ("a", "b", "c"):
            sched.submit(_gpu_task(name, 1))
        assert inner.started == {"a": "3", "b": "1", "c": "2"}
        inner.finish("c")
        inner.finish("a")
        sched.wait(None)
        assert sched.free == ["3", "2"]

    @pytest.mark.parametrize(("devices", "wanted", "have"), [
        ([], 1, "no NVIDIA GPU"),
        (["0"], 2, "1 GPU(s) (0)"),
        (["0", "3"], 4, "2 GPU(s) (0, 3)"),
    ])
    def test_a_step_needing_more_gpus_than_the_machine_has_fails_at_once(self, devices: list[str], wanted: int,
                                                                         have: str) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=devices)
        sched.submit(_gpu_task("big", wanted))
        assert inner.started == {} and sched.running() == 1
        [(task, outcome)] = sched.wait(5)
        assert task.name == "big" and inner.waits == []  # answered without waiting for the running ones
        assert (outcome.ok, outcome.retryable) == (False, False)
        assert outcome.error == (f"needs {wanted} GPU(s) but this machine has {have}; run it on a stack "
                                 "(instance_type=...) or lower gpus=")
        assert sched.running() == 0 and sched.wait(None) == []

    def test_a_step_needing_all_the_gpus_runs(self, no_cuda_env: None) -> None:
        inner = _Inner()
        GpuScheduling(inner, devices=["0", "1"]).submit(_gpu_task("all", 2))
        assert inner.started == {"all": "0,1"}

    def test_wait_does_not_ask_an_idle_executor(self, no_cuda_env: None) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=["0"])
        assert sched.wait(2.0) == [] and inner.waits == []

    def test_cancel_returns_running_queued_and_refused_steps_and_frees_every_device(self, no_cuda_env: None) -> None:
        inner = _Inner()
        sched = GpuScheduling(inner, devices=["0"])
        sched.submit(_gpu_task("running", 1))
        sched.submit(_gpu_task("queued", 1))
        sched.submit(_gpu_task("refused", 2))
        assert [t.name for t in sched.cancel_all()] == ["running", "queued", "refused"]
        assert (sched.queue, sched.refused, sched.free, sched.assigned, sched.running()) == ([], [], ["0"], {}, 0)

    @settings(max_examples=60, deadline=None)
    @given(n_devices=st.integers(0, 4), plan=st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=12))
    def test_no_device_is_ever_given_to_two_running_steps(self, n_devices: int, plan: list[tuple[int, bool]]) -> None:
        # Steps asking 0..4 GPUs arrive; after each, the oldest running step may finish. At every point the
        # GPU steps not yet reported finished hold disjoint devices of the machine, each exactly as many as
        # it asked for, and those with the free ones are every device, once.
        saved = os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        try:
            inner = _Inner()
            devices = [str(i) for i in range(n_devices)]
            sched = GpuScheduling(inner, devices=devices)
            asked: dict[str, int] = {}
            reported: set[str] = set()
            refused: set[str] = set()

            def collect(timeout: float | None) -> None:
                for task, outcome in sched.wait(timeout):
                    reported.add(task.name)
                    if not outcome.ok:
                        refused.add(task.name)

            def check() -> None:
                holding = [n for n in inner.started if asked[n] and n not in reported]
                held = [inner.started[n].split(",") for n in holding]
                flat = [d for ids in held for d in ids]
                assert len(flat) == len(set(flat)) and set(flat) <= set(devices)
                assert [len(ids) for ids in held] == [asked[n] for n in holding]
                assert sorted(flat + sched.free, key=devices.index) == devices  # none lost, none made up

            for i, (gpus_wanted, finish) in enumerate(plan):
                name = f"s{i}"
                asked[name] = gpus_wanted
                sched.submit(_gpu_task(name, gpus_wanted))
                check()
                if finish and inner.live:
                    inner.finish(inner.live[0].name)
                collect(None)
                check()
            while sched.running():  # everything that fits the machine runs in the end
                for task in list(inner.live):
                    inner.finish(task.name)
                collect(None)
                check()
            assert refused == {n for n, g in asked.items() if g > n_devices}
            assert set(inner.started) == {n for n, g in asked.items() if g <= n_devices}
            assert reported == set(asked)
        finally:
            if saved is not None:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved

    def test_needs_gpus(self) -> None:
        nodes = [SimpleNamespace(settings=SimpleNamespace(resources=ResourceSettings(gpus=g))) for g in (0, 2)]
        assert needs_gpus(nodes) is True
        assert needs_gpus(nodes[:1]) is False
        assert needs_gpus([]) is False


# --- GPU discovery, with a stand-in nvidia-smi ----------------------------------------------------------
def _fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


LISTS_FOUR = ('[ "$1 $2" = "--query-gpu=index,uuid --format=csv,noheader" ] || exit 9\n'
              'printf "0, GPU-a\\n 1 , GPU-b \\n\\n2, GPU-c\\n3, GPU-d\\n"\n')


class TestGpuDiscovery:
    def test_discovery_lists_the_devices_nvidia_smi_reports(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            no_cuda_env: None) -> None:
        _fake_nvidia_smi(tmp_path, monkeypatch, LISTS_FOUR)
        assert discover_gpus() == ["0", "1", "2", "3"]
        assert GpuScheduling(_Inner()).devices == ["0", "1", "2", "3"]  # no device list: the machine's

    def test_discovery_keeps_only_the_devices_the_runner_was_given(self, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        _fake_nvidia_smi(tmp_path, monkeypatch, LISTS_FOUR)
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", " 3, 1,,7,2")
        assert discover_gpus() == ["3", "1"]  # CUDA's order; it sees nothing from the first unknown entry on
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-c,0")
        assert discover_gpus() == ["2", "0"]
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
        assert discover_gpus() == []

    @pytest.mark.parametrize("script", ["echo 0\nexit 1\n", "echo 0\nexit 6\n"])
    def test_a_failing_nvidia_smi_means_no_gpus(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
        _fake_nvidia_smi(tmp_path, monkeypatch, script)
        assert discover_gpus() == []

    def test_without_nvidia_smi_there_are_no_gpus(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        assert discover_gpus() == []

    @pytest.mark.parametrize("error", [OSError(8, "Exec format error"), gpus.subprocess.TimeoutExpired("nvidia-smi", 20)])
    def test_an_nvidia_smi_that_cannot_run_or_hangs_means_no_gpus(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   error: Exception) -> None:
        _fake_nvidia_smi(tmp_path, monkeypatch, LISTS_FOUR)
        asked: list[dict] = []

        def run(*args: Any, **kwargs: Any) -> Any:
            asked.append(kwargs)
            raise error

        monkeypatch.setattr(gpus.subprocess, "run", run)
        assert discover_gpus() == []
        assert asked[0]["timeout"] == 20  # a hung driver does not hang the run
