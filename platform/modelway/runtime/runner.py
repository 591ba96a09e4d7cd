"""The local runner: schedules a built DAG over an executor, with cache, retries and resume.

A run goes through five phases (:meth:`Scheduler.execute`), over one :class:`StepState`
per step:

1. resolve: the graph is built and the run recorded (:func:`run_pipeline`, :func:`resume_run`);
   a resumed run reuses the outputs it finished, once verified;
2. cache: a step whose inputs are ready gets its cache key; a stored result with that key is
   reused instead of running it;
3. schedule: the other ready steps are submitted to the executor, up to ``workers`` at a time;
4. collect: finished attempts are recorded; a retryable failure waits out its backoff and goes
   back to phase 2, a final failure stops new submissions;
5. finalize: steps that never finished get a status saying why, and the run record its
   status and outputs.

Phases 2 to 4 repeat until nothing runs and nothing can start. Executors (in-process, a
forked process per step, SageMaker, Kubernetes) implement :class:`~modelway.runtime.executors.Executor`.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from modelway import active_backends
from modelway.artifacts.serializers import is_jsonable
from modelway.artifacts.store import CorruptArtifact
from modelway.dsl.graph import OutputRef, PipelineGraph, StepNode, iter_refs, map_refs
from modelway.dsl.loader import load_pipeline
from modelway.dsl.pipeline import Pipeline
from modelway.dsl.settings import cache_relevant
from modelway.errors import UserError
from modelway.lineage.collect import collect, file_sha256
from modelway.lineage.datasets import DatasetRef
from modelway.runtime import fingerprint, gpus
from modelway.runtime.context import stores
from modelway.runtime.display import NullDisplay, make_display
from modelway.runtime.errors import RunCancelled, StepFailed
from modelway.runtime.executors import Executor, InProcessExecutor, Outcome, ProcessExecutor, Task
from modelway.runtime.preload import Preloader
from modelway.runtime.retry import backoff_s, should_retry
from modelway.settings import get_settings
from modelway.store.runs import RunStore


@dataclass
class StepResult:
    """Outcome of one step in a run (the ``steps`` entries of ``--json``)."""

    name: str
    status: str
    cached: bool
    attempts: int
    duration_s: float | None
    output_hash: str | None = None
    error: str | None = None


@dataclass
class RunResult:
    """Outcome of a run.

    Example:
        >>> result = run_pipeline(my_pipeline, {"start": 1}, executor="inprocess")  # doctest: +SKIP
        >>> result.status, result.outputs  # doctest: +SKIP
        ('succeeded', {'result': 11})
    """

    run_id: str
    status: str
    steps: list[StepResult]
    outputs: dict[str, Any]
    error: str | None = None
    failed_step: str | None = None
    home: Path | None = None
    # Whether `modelway resume` can help: not after a deliberate StepFailed (a gate fails the same way again).
    resumable: bool = False
    _graph_outputs: Any = field(default=None, repr=False)
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            "steps": [{"name": s.name, "status": s.status, "cached": s.cached, "attempts": s.attempts,
                       "duration_s": None if s.duration_s is None else round(s.duration_s, 6),
                       "output": s.output_hash} for s in self.steps],
            "outputs": self.outputs,
        }

    def raise_for_status(self) -> None:
        """Raise StepFailed / RunCancelled unless the run succeeded."""
        if self.status == "cancelled":
            raise RunCancelled(self.run_id)
        if self.status != "succeeded":
            raise StepFailed(self.error or "run failed", step=self.failed_step, run_id=self.run_id)

    def output_values(self) -> Any:
        """The pipeline's return value with every step output loaded from the artifact store."""
        _, artifacts = stores(self.home)  # type: ignore[arg-type]
        return map_refs(self._graph_outputs, lambda ref: ref.select(artifacts.get(self._hashes[ref.node.name])),
                        containers=(list, tuple, dict), every_container=True)


# -- phase 1: resolve the graph and record the run ------------------------------------------

def new_run_id() -> str:
    """Sortable, unique run id: ``YYYYmmdd-HHMMSS-<6 hex>``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any] | None = None,
    *,
    executor: str | None = None,
    workers: int | None = None,
    use_cache: bool = True,
    display: str = "auto",
    home: Path | None = None,
    pipeline_file: Path | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Build ``pipeline`` with ``params`` and run it; returns a RunResult (never raises on step failure).

    Raises DefinitionError/UserError for invalid definitions or parameters (before anything runs).

    Example:
        >>> result = run_pipeline(chain, {"start": 1}, executor="inprocess", display="none")  # doctest: +SKIP
    """
    graph = pipeline.build(params)
    home = _home(home)
    run_store, artifacts = stores(home)
    artifacts.clean_stale_tmp()
    executor_name = _pick_executor(executor, pipeline)
    run_id = run_id or new_run_id()
    lineage = collect(pipeline_file, _jsonable_params(graph.params))
    steps = [{"name": n, "func": graph.nodes[n].step.qualname, "upstream": graph.nodes[n].upstream,
              "settings": graph.nodes[n].settings.as_dict(exclude_defaults=True)} for n in graph.order]
    run_store.create_run(run_id, graph.pipeline_name, str(pipeline_file) if pipeline_file else None,
                         _jsonable_params(graph.params), executor_name, use_cache, lineage, steps)
    _record_dataset_inputs(run_store, run_id, graph)
    scheduler = Scheduler(graph, run_id, home, executor_name, _pick_workers(workers, pipeline), use_cache,
                          make_display(display), prior={}, attempts={}, preload=getattr(pipeline, "preload", ()))
    return scheduler.execute(resumed=False)


def resume_run(run_id: str, *, display: str = "auto", home: Path | None = None, executor: str | None = None,
               workers: int | None = None) -> RunResult:
    """Continue a failed, cancelled or killed run: finished steps are reused, the rest runs.

    Example:
        >>> resume_run("20261126-150000-ab12cd", display="plain")  # doctest: +SKIP
    """
    home = _home(home)
    run_store, artifacts = stores(home)
    full_id = run_store.resolve_run_id(run_id)
    if full_id is None:
        raise UserError(f"no run {run_id!r} in {home}; list runs with: modelway runs list")
    run = run_store.get_run(full_id)
    assert run is not None
    if run["status"] == "succeeded":
        raise UserError(f"run {full_id} already succeeded; nothing to resume")
    if run["status"] == "running" and runner_alive(run):
        raise UserError(f"run {full_id} is still running (pid {run['pid']}); wait for it or stop it first")
    if not run["pipeline_file"]:
        raise UserError(f"run {full_id} was started from Python, not from a file; it cannot be resumed from the CLI")
    pipeline = load_pipeline(Path(run["pipeline_file"]), run["pipeline"])
    graph = pipeline.build(run["params"])
    stored = {s["name"]: s for s in run_store.steps(full_id)}
    if set(stored) != set(graph.order):
        raise UserError(f"pipeline {run['pipeline']!r} in {run['pipeline_file']} no longer has the same steps as run "
                        f"{full_id}; start a new run instead")
    recorded = (run["lineage"] or {}).get("pipeline_file", {}).get("sha256")
    if recorded and file_sha256(Path(run["pipeline_file"])) != recorded:
        run_store.log(full_id, None, "pipeline file changed since the run started", kind="note")
        if display != "none":
            print(f"note: {run['pipeline_file']} changed since run {full_id} started; "
                  "unfinished steps run the current code", file=sys.stderr)
    prior = {name: s["output_hash"] for name, s in stored.items()
             if s["status"] in ("succeeded", "cached") and s["output_hash"] and artifacts.exists(s["output_hash"])}
    attempts = {name: s["attempts"] for name, s in stored.items()}
    artifacts.clean_stale_tmp()
    if not run_store.reopen_run(full_id, run):
        raise UserError(f"run {full_id} was resumed by another process just now; see: modelway runs show {full_id}")
    scheduler = Scheduler(graph, full_id, home, executor or run["executor"] or "process",
                          _pick_workers(workers, pipeline), run["use_cache"], make_display(display), prior=prior,
                          attempts=attempts, preload=getattr(pipeline, "preload", ()))
    return scheduler.execute(resumed=True)


def runner_alive(run: dict[str, Any]) -> bool:
    """Whether the process that runs ``run`` still exists.

    Checked by pid and by that process's start time (a recycled pid is not our runner).
    A run started on another host is assumed alive: we cannot look at its processes.
    """
    pid = run.get("pid")
    if not pid or pid == os.getpid():
        return False
    if run.get("host") and run["host"] != socket.gethostname():
        return True
    import psutil  # third-party: only `resume` and `runs show` of a running run need it

    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    started = run.get("runner_started") or run.get("started_at") or 0
    return created <= started + 1.0


def _home(home: Path | None) -> Path:
    return Path(home).absolute() if home is not None else get_settings().resolved_home()


def _pick_executor(requested: str | None, pipeline: Pipeline) -> str:
    if requested:
        if requested not in ("process", "inprocess"):
            raise UserError(f"executor must be 'process' or 'inprocess', got {requested!r}")
        return requested
    return getattr(pipeline, "executor", None) or get_settings().executor


def _pick_workers(requested: int | None, pipeline: Pipeline) -> int:
    return requested or getattr(pipeline, "workers", None) or get_settings().workers or os.cpu_count() or 1


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if is_jsonable(v) else str(v)) for k, v in params.items()}


def _record_dataset_inputs(run_store: RunStore, run_id: str, graph: PipelineGraph) -> None:
    for node in graph.nodes.values():
        for value in node.inputs.values():
            for ref in iter_refs(value, DatasetRef):
                run_store.record_dataset_usage(run_id, node.name, ref.name, ref.version)


def _make_executor(kind: str, graph: PipelineGraph, on_log: Callable[[str, str], None] | None) -> Executor:
    """The executor for a run: local processes or in-process, given GPUs when steps ask for them,
    behind a stack's routing (SageMaker, Kubernetes) when the CLI installed a stack's backends."""
    local: Executor = ProcessExecutor(on_log=on_log) if kind == "process" else InProcessExecutor()
    if gpus.needs_gpus(graph.nodes.values()):  # each gpus=N step gets N devices of its own
        local = gpus.GpuScheduling(local)
    route = getattr(active_backends.current(), "executor", None)
    return route(local, on_log=on_log) if route is not None else local


# -- the scheduler ------------------------------------------------------------------------

@dataclass
class StepState:
    """Everything the scheduler knows about one step of the run.

    ``status`` moves ``pending -> running -> succeeded`` (or ``cached`` / ``reused`` without
    running; back to ``pending`` for a retry; ``failed``, ``cancelled``, ``skipped`` at the end).
    """

    node: StepNode
    status: str = "pending"
    cache_key: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)  # upstream step -> output hash it read
    output_hash: str | None = None
    attempts: int = 0  # all attempts, earlier sessions of a resumed run too
    tries: int = 0  # attempts in this session: a resume gets a fresh retry budget
    retry_at: float = 0.0  # monotonic time before which a retry does not start
    duration_s: float | None = None
    error: str | None = None
    deliberate: bool = False  # the last attempt raised StepFailed: retrying or resuming will not help
    # A cache hit not read yet: verified when a step that runs reads it (a bad one is then
    # recomputed first), so a cached re-run does not hash outputs nobody reads.
    unverified: bool = False
    reported: bool = False  # a pipeline output: verified at once, the run reports it

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def done(self) -> bool:
        """Whether downstream steps can read its output."""
        return self.output_hash is not None

    def result(self) -> StepResult:
        return StepResult(self.name, self.status, self.status == "cached", self.attempts, self.duration_s,
                          self.output_hash, self.error)


class Scheduler:
    """Runs one built graph to the end (see the module doc for its phases)."""

    def __init__(self, graph: PipelineGraph, run_id: str, home: Path, executor: str, workers: int, use_cache: bool,
                 display: NullDisplay, prior: dict[str, str], attempts: dict[str, int],
                 preload: tuple[str, ...] = ()) -> None:
        self.graph = graph
        self.run_id = run_id
        self.home = home
        self.store, self.artifacts = stores(home)
        self.display = display
        self.echo = display.log if type(display) is not NullDisplay else None  # Plain and Rich subclass it
        self.executor = _make_executor(executor, graph, self.echo)
        self.workers = max(1, workers)
        self.use_cache = use_cache
        reported = {ref.node.name for ref in iter_refs(graph.outputs)}
        self.steps: dict[str, StepState] = {}
        for name in graph.order:
            state = self.steps[name] = StepState(graph.nodes[name], attempts=attempts.get(name, 0),
                                                 reported=name in reported)
            if name in prior:
                state.status, state.output_hash = "reused", prior[name]
        self.failed: str | None = None  # the step whose failure stops the run
        self.cancelled = False
        self.code_hashes: dict[int, str] = {}  # per run: steps are alive for the whole run
        self.preload = tuple(preload)
        # Only forked step processes inherit imports; in-process steps import on first use anyway.
        self.preloader = Preloader() if executor == "process" and get_settings().preload else None

    def execute(self, resumed: bool) -> RunResult:
        """Run the graph; returns the RunResult (store faults propagate, after cleaning up)."""
        self.display.start(self.run_id, self.graph.pipeline_name, self.graph.order, resumed=resumed)
        self._reuse_finished()  # phase 1 for a resumed run
        guard = _InterruptGuard(interruptible_submit=isinstance(self.executor, InProcessExecutor))
        try:
            try:
                with guard:
                    self._loop(guard)
            except KeyboardInterrupt:
                self._cancel_running()
            return self._finalize()  # phase 5
        except Exception:  # a store fault (disk full at COMMIT): no temp folder or live display left behind
            self.executor.cancel_all()
            self.artifacts.clean_stale_tmp(include_own=True)
            with contextlib.suppress(Exception):
                self.display.finish("failed", "the run stopped on an error")
            raise

    def _loop(self, guard: _InterruptGuard) -> None:
        """Phases 2-4 until nothing runs and nothing more can start."""
        while True:
            guard.check()
            if self.failed is None:  # after a failure, only the running steps are collected
                with guard.submitting():
                    self._schedule()  # phases 2 and 3
            if self.executor.running():
                self._collect(guard)  # phase 4
                continue
            pending = self._pending()
            if self.failed is not None or not pending:
                return
            waits = [s.retry_at for s in pending if s.retry_at]
            if not waits:  # defensive: nothing can make progress (should not happen)
                self.failed = pending[0].name
                pending[0].error = "internal error: no step could be scheduled"
                return
            with guard.interruptible():  # only retries wait: sleep until the first is due
                time.sleep(max(0.0, min(waits) - time.monotonic()))

    def _pending(self) -> list[StepState]:
        """Steps that still have to start, in topological order."""
        return [s for s in self.steps.values() if s.status == "pending"]

    # -- phase 1 (resume): reuse what the earlier session finished ------------------------
    def _reuse_finished(self) -> None:
        for state in self.steps.values():  # a resume reuses only verified outputs
            if state.status == "reused" and not self._usable(state.name, state.output_hash, "the finished output"):
                state.status, state.output_hash = "pending", None
        for state in self.steps.values():
            if state.status == "reused":
                self.display.update(state.name, "reused")

    # -- phases 2 and 3: serve ready steps from the cache, or submit them -----------------
    def _schedule(self) -> None:
        while self._schedule_pass():
            pass  # a cached input went back to pending: it can start at once

    def _schedule_pass(self) -> bool:
        """Start what can start; True when a step went back to pending (scan again)."""
        now = time.monotonic()
        requeued = False
        for state in self._pending():
            if self.executor.running() >= self.workers:
                return False
            if state.retry_at > now or not all(self.steps[up].done for up in state.node.upstream):
                continue
            state.cache_key = self._cache_key(state)
            if self._from_cache(state):
                continue
            if not self._inputs_verified(state):
                requeued = True  # a cached input failed verification: it runs again first
                continue
            self._submit(state)
        return requeued

    def _cache_key(self, state: StepState) -> str | None:
        """The step's cache key: its code, result-affecting settings and inputs (None: never cached)."""
        node = state.node

        def ref_token(ref: OutputRef) -> dict[str, Any]:
            return {"$ref": self.steps[ref.node.name].output_hash, "path": [repr(k) for k in ref.path]}

        def token(value: Any) -> Any:
            return map_refs(value, ref_token, on_value=fingerprint.value_token, containers=(list, tuple, dict),
                            sequence=list, mapping=lambda items: dict(sorted(items.items())))

        try:
            inputs = {k: token(v) for k, v in sorted(node.inputs.items())}
            if fingerprint.reads_context_params(node.step.fn):
                # the step reads step_context().params: every pipeline parameter is an input
                inputs["$pipeline_params"] = {k: fingerprint.value_token(v) for k, v in sorted(self.graph.params.items())}
        except TypeError:
            return None  # an input that can't be fingerprinted: never cache this step
        code = self.code_hashes.get(id(node.step))
        if code is None:
            code = self.code_hashes[id(node.step)] = fingerprint.code_hash(node.step)
        return fingerprint.cache_key(code, cache_relevant(node.settings), inputs)

    def _from_cache(self, state: StepState) -> bool:
        """Phase 2: reuse a stored result with the step's key; True when it was a hit."""
        key = state.cache_key
        if not (key and self.use_cache and state.node.settings.cache):
            return False
        hit = self.store.cache_lookup(key)
        if hit and hit.get("run_id") and self.store.stale_latest_reads(hit["run_id"], hit["step"]):
            hit = None  # it read "the newest version" of a dataset that has a newer version now
        if not hit:
            return False
        if state.reported:
            if not self._usable(state.name, hit["hash"], "cached result"):
                return False
        elif not self.artifacts.exists(hit["hash"]):
            return False
        else:
            state.unverified = True
        state.inputs = self._input_hashes(state)
        self.store.step_cached(self.run_id, state.name, key, hit, state.inputs)
        state.output_hash = hit["hash"]
        state.status = "cached"
        state.duration_s = 0.0
        self.display.update(state.name, "cached")
        return True

    def _inputs_verified(self, state: StepState) -> bool:
        """Verify the cache hits a step is about to read; a bad one becomes a miss: it goes back
        to pending (to be recomputed) and the step stays pending, waiting for it."""
        upstream = [self.steps[up] for up in state.node.upstream]
        bad = [up for up in upstream
               if up.unverified and not self._usable(up.name, up.output_hash, "cached result")]
        for up in upstream:
            up.unverified = False
        for up in bad:
            up.status, up.output_hash = "pending", None
        return not bad

    def _submit(self, state: StepState) -> None:
        """Phase 3: start one attempt of the step on the executor."""
        node = state.node
        if self.preloader is not None:  # this step really runs: import what the forks should inherit
            for note in self.preloader.load((*self.preload, *node.step.preload)):
                self.store.log(self.run_id, None, note, kind="note")
        state.attempts += 1
        state.tries += 1
        state.status = "running"
        state.inputs = self._input_hashes(state)
        self.store.step_started(self.run_id, state.name, state.attempts, state.cache_key, state.inputs)
        self.display.update(state.name, "running", {"attempt": state.attempts})
        self.executor.submit(Task(
            name=state.name, node=node, attempt=state.attempts, input_hashes=dict(state.inputs),
            run_id=self.run_id, pipeline_name=self.graph.pipeline_name, home=self.home,
            params=dict(self.graph.params), timeout_s=node.settings.timeout_s, echo=self.echo,
            memory_limit=node.settings.resources.memory_bytes,
        ))

    def _input_hashes(self, state: StepState) -> dict[str, str]:
        return {up: self.steps[up].output_hash for up in state.node.upstream  # type: ignore[misc]
                if self.steps[up].output_hash is not None}

    def _usable(self, name: str, digest: str | None, what: str) -> bool:
        """Whether a stored output can be reused: present and verified. A corrupted one is a
        miss, not an error: it is quarantined, the step recomputes it, and the user is told."""
        try:
            self.artifacts.verify(digest)
        except KeyError:
            return False
        except CorruptArtifact as exc:
            moved = self.artifacts.quarantine(digest)
            message = (f"{what} of step {name!r} failed verification ({exc.why}); recomputing it"
                       + (f" (corrupted copy moved to {moved})" if moved else ""))
            self.store.log(self.run_id, name, message, kind="note")
            if type(self.display) is NullDisplay:
                print(f"warning: {message}", file=sys.stderr)
            else:
                self.display.log(name, f"warning: {message}")
            return False
        return True

    # -- phase 4: collect finished attempts -----------------------------------------------
    def _collect(self, guard: _InterruptGuard) -> None:
        timeout = None
        waits = [s.retry_at for s in self._pending() if s.retry_at]
        if waits:  # wake up for the first retry that is due
            timeout = max(0.0, min(waits) - time.monotonic())
        if self.display.refresh_s is not None:  # keep running durations ticking
            timeout = self.display.refresh_s if timeout is None else min(timeout, self.display.refresh_s)
        with guard.interruptible():
            finished = self.executor.wait(timeout)
        self.display.tick()
        for task, outcome in finished:
            self._record(self.steps[task.name], task, outcome)

    def _record(self, state: StepState, task: Task, outcome: Outcome) -> None:
        """One finished attempt: success, a retry after backoff, or the failure that stops the run."""
        state.duration_s = outcome.duration_s
        settings = state.node.settings
        if outcome.ok:
            self.store.step_succeeded(self.run_id, state.name, attempt=task.attempt, output=outcome.output,
                                      duration_s=outcome.duration_s, cpu_s=outcome.cpu_s,
                                      peak_rss_mb=outcome.peak_rss_mb, cache_key=state.cache_key,
                                      cacheable=bool(state.cache_key and settings.cache))
            state.output_hash = outcome.output.hash
            state.status = "succeeded"
            state.error = None
            self.display.update(state.name, "succeeded", {"duration_s": outcome.duration_s, "attempt": task.attempt})
            return
        state.error = outcome.error or "failed"
        state.deliberate = outcome.deliberate
        retry = should_retry(outcome.retryable, state.tries, settings.retries)
        self.store.step_failed(self.run_id, state.name, attempt=task.attempt, status="retrying" if retry else "failed",
                               error=state.error, traceback=outcome.traceback, duration_s=outcome.duration_s,
                               cpu_s=outcome.cpu_s, peak_rss_mb=outcome.peak_rss_mb)
        if retry:
            state.status = "pending"
            state.retry_at = time.monotonic() + backoff_s(settings.retry_delay_s, state.tries)
            self.display.update(state.name, "retrying", {"attempt": task.attempt, "error": state.error})
            return
        state.status = "failed"
        self.failed = self.failed or state.name
        self.display.update(state.name, "failed", {"attempt": task.attempt, "error": state.error})

    def _cancel_running(self) -> None:
        """Ctrl-C or SIGTERM: stop every attempt in flight; each is recorded as cancelled."""
        self.cancelled = True
        started = {task.name: task.started for task in self.executor.cancel_all()}
        for state in self.steps.values():
            if state.status != "running":
                continue
            state.status = "cancelled"
            since = started.get(state.name)
            self.store.step_failed(self.run_id, state.name, attempt=state.attempts, status="cancelled",
                                   error="cancelled", traceback=None,
                                   duration_s=None if since is None else time.monotonic() - since)
            self.display.update(state.name, "cancelled")

    # -- phase 5: finalize the run record ---------------------------------------------------
    def _finalize(self) -> RunResult:
        self.store.steps_not_run(self.run_id, self._close_unfinished())
        if self.cancelled:
            status, error = "cancelled", "cancelled by user"
        elif self.failed is not None:
            status, error = "failed", f"step {self.failed!r} failed: {self.steps[self.failed].error}"
        else:
            status, error = "succeeded", None
        if status != "succeeded":
            # temp dirs of killed step processes, or of an in-process write cut by Ctrl-C
            self.artifacts.clean_stale_tmp(include_own=True)
        outputs = self._render_outputs() if status == "succeeded" else {}
        self.store.finish_run(self.run_id, status, error, outputs)
        # The failing step's line already showed its message: say it once.
        self.display.finish(status, f"step {self.failed!r} failed" if status == "failed" else error, outputs)
        return RunResult(
            run_id=self.run_id, status=status, error=error, failed_step=self.failed, home=self.home, outputs=outputs,
            resumable=self.cancelled or (self.failed is not None and not self.steps[self.failed].deliberate),
            steps=[state.result() for state in self.steps.values()],
            _graph_outputs=self.graph.outputs,
            _hashes={s.name: s.output_hash for s in self.steps.values() if s.output_hash is not None},
        )

    def _close_unfinished(self) -> dict[str, tuple[str, str]]:
        """Give every step the stopped run did not finish a terminal status that says why.

        'skipped': an upstream step did not finish (failed, cancelled or skipped itself);
        'cancelled': it could have run, or was waiting for a retry, when the run stopped.
        """
        stopped = "the run was cancelled" if self.cancelled else f"the run failed at step {self.failed!r}"
        ended: dict[str, tuple[str, str]] = {}
        for state in self._pending():  # topological: upstream statuses are final by now
            blocked = [up for up in state.node.upstream
                       if self.steps[up].status in ("failed", "cancelled", "skipped")]
            if blocked:
                up = blocked[0]
                verb = {"failed": "failed", "cancelled": "was cancelled", "skipped": "did not run"}[self.steps[up].status]
                ended[state.name] = ("skipped", f"not run: upstream step {up!r} {verb}")
            elif state.tries:
                ended[state.name] = ("cancelled", f"not retried: {stopped} (last attempt: {state.error})")
            else:
                ended[state.name] = ("cancelled", f"not started: {stopped}")
            state.status, state.error = ended[state.name]
            self.display.update(state.name, state.status, {"error": state.error})
        return ended

    def _render_outputs(self) -> dict[str, Any]:
        """The pipeline's outputs for the run record: JSON values inline, other artifacts by hash."""
        def ref(value: OutputRef) -> Any:
            digest = self.steps[value.node.name].output_hash
            meta = self.artifacts.meta(digest)
            if meta["kind"] == "json":
                obj = self.artifacts.get(digest)
                try:
                    for key in value.path:
                        obj = obj[key]
                    return obj
                except (KeyError, IndexError, TypeError):
                    pass
            out = {"artifact": digest, "kind": meta["kind"], "type": meta["type"]}
            if value.path:
                out["path"] = list(value.path)
            return out

        def render(value: Any) -> Any:
            return map_refs(value, ref, on_value=lambda v: v if is_jsonable(v) else str(v),
                            containers=(list, tuple, dict), every_container=True, sequence=list,
                            mapping=lambda items: {str(k): v for k, v in items.items()})

        outputs = self.graph.outputs
        if outputs is None:
            return {}
        if isinstance(outputs, dict):
            return {str(k): render(v) for k, v in outputs.items()}
        return {"result": render(outputs)}


class _InterruptGuard:
    """Ctrl-C / SIGTERM become KeyboardInterrupt only at safe points.

    A signal that lands while the runner forks a step or writes the run store is remembered
    and raised right after, so no store write is cut in half and no fork handler swallows it.
    """

    def __init__(self, interruptible_submit: bool) -> None:
        self.interruptible_submit = interruptible_submit
        self.pending = False
        self.open = False
        self.previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.open:
            self.open = False
            raise KeyboardInterrupt()
        self.pending = True

    def __enter__(self) -> _InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def check(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt()

    @contextlib.contextmanager
    def interruptible(self) -> Any:
        self.check()
        self.open = True
        try:
            yield
        finally:
            self.open = False
        self.check()

    def submitting(self) -> Any:
        # In-process steps are user code running right here: let Ctrl-C stop them.
        return self.interruptible() if self.interruptible_submit else contextlib.nullcontext()
