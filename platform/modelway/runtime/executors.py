"""Executors: run one attempt of a step in the runner process or in a forked child process.

Process-per-step uses the ``fork`` start method: it is by far the cheapest on Linux (about
2 ms per process here, against about 70 ms for ``forkserver`` and 115 ms for ``spawn``, which
re-import the pipeline module and its libraries), steps defined in a pipeline file need not
be importable by name, and it is safe because the runner process itself never runs user
computations or starts threads (the live display refreshes from the main thread). Modules
a pipeline declares with ``preload=[...]`` are imported by the runner before the first
fork (see :mod:`modelway.runtime.preload`), so children inherit them.
"""
from __future__ import annotations

import inspect
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from modelway.artifacts.serializers import UnserializableError
from modelway.artifacts.store import ArtifactRef, CorruptArtifact
from modelway.dsl.graph import OutputRef, StepNode, map_refs
from modelway.dsl.types import type_name, value_mismatch
from modelway.exits import ExitAttempt, exits_forbidden
from modelway.runtime import context as ctx_mod
from modelway.runtime.errors import StepFailed
from modelway.store.handles import forget_stores


@dataclass
class Task:
    """One attempt of one step."""

    name: str
    node: StepNode
    attempt: int
    input_hashes: dict[str, str]
    run_id: str
    pipeline_name: str
    home: Path
    params: dict[str, Any]
    timeout_s: float | None
    echo: Callable[[str, str], None] | None = None  # (step, message) -> show a step's log line
    memory_limit: int | None = None  # bytes; enforced by the process executor
    started: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    """Result of one attempt."""

    ok: bool
    output: ArtifactRef | None = None
    error: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    timed_out: bool = False
    retryable: bool = True
    deliberate: bool = False  # the step raised StepFailed (or a subclass): its message says it all


@runtime_checkable
class Executor(Protocol):
    """What the runner needs from an executor: the local ones below, and the remote ones a
    stack's backends add (SageMaker training jobs, Kubernetes Jobs) satisfy it.

    The scheduler submits an attempt when a step is ready and a worker slot is free
    (``running() < workers``), then calls ``wait`` to collect finished attempts; ``cancel_all``
    on Ctrl-C. ``tests/core/test_core_executor_protocol.py`` checks every implementation."""

    name: str

    def submit(self, task: Task) -> None:
        """Start one attempt (returns at once, or when it finished for a synchronous executor)."""

    def running(self) -> int:
        """Attempts started and not yet collected by :meth:`wait`."""

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        """Attempts that finished, waiting up to ``timeout`` seconds for one."""

    def cancel_all(self) -> list[Task]:
        """Stop every running attempt; returns them."""


class StepTimeout(Exception):
    """Raised in the step when its time limit is over (in-process mode)."""


class InputUnusable(Exception):
    """An input artifact of the step failed verification (it was edited or corrupted on disk)."""


def resolve_inputs(node: StepNode, input_hashes: dict[str, str], artifacts: Any) -> dict[str, Any]:
    """Concrete keyword arguments for a node: placeholders replaced by loaded artifacts."""
    loaded: dict[str, Any] = {}

    def load(ref: OutputRef) -> Any:
        digest = input_hashes[ref.node.name]
        if digest not in loaded:
            try:
                loaded[digest] = artifacts.get(digest)
            except CorruptArtifact as exc:
                raise InputUnusable(f"its input from step {ref.node.name!r} is unusable: {exc}") from None
        return ref.select(loaded[digest])

    # Constants pass through untouched (namedtuples, dict subclasses...).
    return {k: map_refs(v, load) for k, v in node.inputs.items()}


def execute(task: Task, in_runner: bool = False) -> Outcome:
    """Run one attempt in the current process: load inputs, call the function, store the output.

    ``in_runner``: this process is the runner (in-process executor), so ``os._exit`` in the step
    is intercepted too; in a step process it just ends that process, which the runner reports."""
    artifacts = ctx_mod.artifact_store(task.home)  # the run store is opened only if the step logs/attaches
    ctx = ctx_mod.StepContext(task.run_id, task.name, task.pipeline_name, task.home, task.params, task.attempt,
                              task.echo)
    start = time.perf_counter()
    token = ctx_mod.activate(ctx)
    try:
        inputs = resolve_inputs(task.node, task.input_hashes, artifacts)
        # BoundArguments puts positional-only, *args and **kwargs parameters back in place.
        call = inspect.BoundArguments(task.node.step.signature, inputs)  # type: ignore[arg-type]
        with exits_forbidden(os_exit=in_runner):
            value = task.node.step.fn(*call.args, **call.kwargs)
    except InputUnusable as exc:  # the same bytes are read again on a retry: no retry
        return Outcome(False, error=str(exc), duration_s=time.perf_counter() - start, retryable=False)
    except ExitAttempt as exc:  # would end the runner (in-process) or the step process without a result
        return Outcome(False, error=f"the step called {exc.how}; a step must return a value or raise, not exit "
                                    "the process", duration_s=time.perf_counter() - start, retryable=False,
                       deliberate=True)
    except StepTimeout:
        return Outcome(False, error=f"timed out after {task.timeout_s:g}s", duration_s=time.perf_counter() - start,
                       timed_out=True)
    except Exception as exc:
        # A deliberate failure (a gate, a check) is its message; a traceback only helps for bugs.
        # It is also final: the step decided on its inputs, and a retry would decide the same way.
        deliberate = isinstance(exc, StepFailed)
        return Outcome(False, error=_one_line(exc), traceback=None if deliberate else _user_traceback(exc),
                       duration_s=time.perf_counter() - start, deliberate=deliberate, retryable=not deliberate)
    finally:
        ctx_mod.deactivate(token)
    mismatch = value_mismatch(value, task.node.step.return_annotation())
    if mismatch is not None:  # the same code returns the same type again: no retry, no traceback
        return Outcome(False, error=f"returned {type_name(type(value))} but is annotated -> {mismatch}",
                       duration_s=time.perf_counter() - start, retryable=False)
    try:
        output = artifacts.put(value)
    except UnserializableError as exc:
        return Outcome(False, error=f"step {task.name!r} {exc}", duration_s=time.perf_counter() - start, retryable=False)
    except Exception as exc:
        return Outcome(False, error=f"step {task.name!r}: storing the output failed: {_one_line(exc)}",
                       traceback=traceback.format_exc(), duration_s=time.perf_counter() - start)
    return Outcome(True, output=output, duration_s=time.perf_counter() - start)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the runner's own frame on top."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is execute.__code__ and tb.tb_next is not None:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, StepFailed) and text:
        return text[0]  # a deliberate failure message needs no exception class
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # Linux reports KiB


class InProcessExecutor:
    """Runs each attempt synchronously in the runner process (fast; for tests and tiny steps).

    Timeouts use SIGALRM, so they work only in the main thread.
    """

    name = "inprocess"

    def __init__(self) -> None:
        self._done: list[tuple[Task, Outcome]] = []
        self._current: Task | None = None

    def running(self) -> int:
        # Finished-but-uncollected attempts count as running, so the runner collects them next.
        return len(self._done)

    def submit(self, task: Task) -> None:
        self._current = task
        cpu0 = time.process_time()
        use_alarm = task.timeout_s is not None and _in_main_thread()
        if use_alarm:
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, task.timeout_s)
        try:
            outcome = execute(task, in_runner=True)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        outcome.cpu_s = time.process_time() - cpu0
        outcome.peak_rss_mb = _usage()[1]
        self._current = None
        self._done.append((task, outcome))

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        done, self._done = self._done, []
        if not done and timeout:
            time.sleep(timeout)
        return done

    def cancel_all(self) -> list[Task]:
        current, self._current = self._current, None
        return [current] if current is not None else []


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_timeout(signum: int, frame: Any) -> None:
    raise StepTimeout()


class _LogLine:
    """A step's log line sent to the runner over the result pipe (before the Outcome)."""

    __slots__ = ("step", "message")

    def __init__(self, step: str, message: str) -> None:
        self.step, self.message = step, message

    def __reduce__(self) -> Any:
        return (_LogLine, (self.step, self.message))


def _child_main(task: Task, conn: Any, runner_pid: int) -> None:
    # The parent decides about cancellation; a Ctrl-C in the terminal must not half-run the step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(runner_pid)
    forget_stores()  # the parent's connections stay in the parent
    if task.echo is not None:  # the runner shows log lines; this process never writes to its display
        import threading

        lock = threading.Lock()  # a step may log from several threads; Connection.send is not thread-safe

        def send_log(step: str, message: str) -> None:
            with lock:
                conn.send(_LogLine(step, message))

        task.echo = send_log
    try:
        outcome = execute(task)
        outcome.cpu_s, outcome.peak_rss_mb = _usage()
        conn.send(outcome)
    except BaseException as exc:  # report instead of dying silently
        try:
            conn.send(Outcome(False, error=_one_line(exc), traceback=traceback.format_exc()))
        except Exception:
            pass
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()


_LIBC: Any = None


def _load_libc() -> None:
    global _LIBC
    if _LIBC is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _LIBC = ctypes.CDLL(None, use_errno=True)
        except OSError:
            pass


def _die_with_parent(runner_pid: int) -> None:
    """If the runner is killed (even with SIGKILL), its step processes die too (Linux prctl)."""
    if _LIBC is None:
        return
    try:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        # The runner died before prctl took effect: this process was handed to init, or to a
        # subreaper (systemd --user, a container's init), so compare with the runner, not with 1.
        if os.getppid() != runner_pid:
            os._exit(1)
    except (OSError, AttributeError):
        pass


class ProcessExecutor:
    """One forked process per attempt; a crash, OOM kill or timeout stays inside that process."""

    name = "process"

    def __init__(self, on_log: Callable[[str, str], None] | None = None) -> None:
        self.on_log = on_log
        self._mp = multiprocessing.get_context("fork")
        _load_libc()  # once in the runner; forked children inherit it
        self._running: dict[str, tuple[Task, Any, Any, float | None]] = {}

    def running(self) -> int:
        return len(self._running)

    def submit(self, task: Task) -> None:
        reader, writer = self._mp.Pipe(duplex=False)
        # Not a daemon: a step may start its own worker processes (multiprocessing, joblib).
        # If the runner dies, PR_SET_PDEATHSIG still takes the step down with it.
        proc = self._mp.Process(target=_child_main, args=(task, writer, os.getpid()), name=f"modelway-step-{task.name}", daemon=False)
        sys.stdout.flush()
        sys.stderr.flush()
        proc.start()
        writer.close()
        deadline = time.monotonic() + task.timeout_s if task.timeout_s else None
        task.started = time.monotonic()
        self._running[task.name] = (task, proc, reader, deadline)

    def next_deadline(self) -> float | None:
        deadlines = [d for (_, _, _, d) in self._running.values() if d is not None]
        return min(deadlines) if deadlines else None

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        if not self._running:
            if timeout:
                time.sleep(timeout)
            return []
        deadline = self.next_deadline()
        if deadline is not None:
            until = max(0.0, deadline - time.monotonic())
            timeout = until if timeout is None else min(timeout, until)
        limited = [t for (t, _, _, _) in self._running.values() if t.memory_limit]
        if limited:  # poll memory while such steps run
            timeout = MEMORY_POLL_S if timeout is None else min(timeout, MEMORY_POLL_S)
        handles = []
        for _, proc, reader, _ in self._running.values():
            handles.extend((reader, proc.sentinel))
        ready = set(multiprocessing.connection.wait(handles, timeout))
        finished: list[tuple[Task, Outcome]] = []
        now = time.monotonic()
        for name, (task, proc, reader, deadline) in list(self._running.items()):
            if reader in ready or proc.sentinel in ready:
                outcome = self._drain(reader)
                if outcome is None and proc.is_alive():
                    continue  # only log lines so far: the step is still running
                proc.join(timeout=5)
                if outcome is None:  # it may have reported just before exiting
                    outcome = self._drain(reader)
                if outcome is None:
                    code = proc.exitcode
                    why = (f"killed by signal {-code}" + (" (out of memory?)" if code == -signal.SIGKILL else "")
                           if code is not None and code < 0 else f"exited with code {code}"
                           + (" (did the step call os._exit?)" if code == 0 else ""))
                    outcome = Outcome(False, error=f"step process {why} before reporting a result",
                                      duration_s=now - task.started)
                reader.close()
                del self._running[name]
                finished.append((task, outcome))
            elif deadline is not None and now >= deadline:
                _kill(proc)
                reader.close()
                del self._running[name]
                finished.append((task, Outcome(False, error=f"timed out after {task.timeout_s:g}s",
                                               duration_s=now - task.started, timed_out=True)))
            elif task.memory_limit and (used := _memory_of(proc.pid)) > task.memory_limit:
                _kill(proc)
                reader.close()
                del self._running[name]
                limit = task.node.settings.resources.memory
                finished.append((task, Outcome(False, error=f"exceeded its memory limit {limit} "
                                               f"(using {used / 2**20:.0f} MiB); raise @step(memory=...)",
                                               duration_s=now - task.started, retryable=False)))
        return finished

    def _drain(self, reader: Any) -> Outcome | None:
        """Read what a step process sent: show its log lines, return its Outcome if it came."""
        try:
            while reader.poll():
                item = reader.recv()
                if isinstance(item, _LogLine):
                    if self.on_log is not None:
                        self.on_log(item.step, item.message)
                else:
                    return item
        except (EOFError, OSError):
            pass
        return None

    def cancel_all(self) -> list[Task]:
        tasks = []
        for task, proc, reader, _ in self._running.values():
            _kill(proc)
            reader.close()
            tasks.append(task)
        self._running.clear()
        return tasks


MEMORY_POLL_S = 0.2


def _memory_of(pid: int) -> int:
    """Memory a step process (and its children) uses on its own: unique set size, so pages
    shared with the runner after fork are not counted."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_full_info().uss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total
    except psutil.Error:
        return 0


def _kill(proc: Any) -> None:
    proc.terminate()
    proc.join(timeout=2)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=2)
