"""The local runner: schedules a built DAG over an executor, with cache, retries and resume."""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelway import active_backends
from modelway.artifacts.store import CorruptArtifact
from modelway.dsl.graph import OutputRef, PipelineGraph, iter_refs
from modelway.dsl.settings import cache_relevant
from modelway.errors import UserError
from modelway.runtime import fingerprint, gpus
from modelway.runtime.context import stores
from modelway.runtime.display import NullDisplay, make_display
from modelway.runtime.errors import RunCancelled, StepFailed
from modelway.runtime.executors import Executor, InProcessExecutor, Outcome, ProcessExecutor, Task
from modelway.runtime.preload import Preloader


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

        def load(value: Any) -> Any:
            if isinstance(value, OutputRef):
                obj = artifacts.get(self._hashes[value.node.name])
                for key in value.path:
                    obj = obj[key] if hasattr(type(obj), "__getitem__") else getattr(obj, key)
                return obj
            if isinstance(value, (list, tuple)):
                return type(value)(load(v) for v in value)
            if isinstance(value, dict):
                return {k: load(v) for k, v in value.items()}
            return value

        return load(self._graph_outputs)


def new_run_id() -> str:
    """Sortable, unique run id: ``YYYYmmdd-HHMMSS-<6 hex>``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _home(home: Path | None) -> Path:
    if home is not None:
        return Path(home).absolute()
    from modelway.settings import get_settings

    return get_settings().resolved_home()


def _pick_executor(requested: str | None, pipeline: Any) -> str:
    if requested:
        if requested not in ("process", "inprocess"):
            raise UserError(f"executor must be 'process' or 'inprocess', got {requested!r}")
        return requested
    if getattr(pipeline, "executor", None):
        return pipeline.executor
    from modelway.settings import get_settings

    return get_settings().executor


def _pick_workers(requested: int | None, pipeline: Any) -> int:
    if requested:
        return requested
    if getattr(pipeline, "workers", None):
        return pipeline.workers
    from modelway.settings import get_settings

    return get_settings().workers or os.cpu_count() or 1


def run_pipeline(
    pipeline: Any,
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
    from modelway.lineage.collect import collect

    lineage = collect(pipeline_file, _jsonable_params(graph.params))
    steps = [{"name": n, "func": graph.nodes[n].step.qualname, "upstream": graph.nodes[n].upstream,
              "settings": graph.nodes[n].settings.model_dump(exclude_defaults=True)} for n in graph.order]
    run_store.create_run(run_id, graph.pipeline_name, str(pipeline_file) if pipeline_file else None,
                         _jsonable_params(graph.params), executor_name, use_cache, lineage, steps)
    _record_dataset_inputs(run_store, run_id, graph)
    runner = _Runner(graph, run_id, home, executor_name, _pick_workers(workers, pipeline), use_cache,
                     make_display(display), prior={}, attempts={}, preload=getattr(pipeline, "preload", ()))
    return runner.run(resumed=False)


def resume_run(run_id: str, *, display: str = "auto", home: Path | None = None, executor: str | None = None,
               workers: int | None = None) -> RunResult:
    """Continue a failed, cancelled or killed run: finished steps are reused, the rest runs.

    Example:
        >>> resume_run("20261126-150000-ab12cd", display="plain")  # doctest: +SKIP
    """
    from modelway.dsl.loader import load_pipeline

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
    if recorded:
        from modelway.lineage.collect import file_sha256

        if file_sha256(Path(run["pipeline_file"])) != recorded:
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
    runner = _Runner(graph, full_id, home, executor or run["executor"] or "process", _pick_workers(workers, pipeline),
                     run["use_cache"], make_display(display), prior=prior, attempts=attempts,
                     preload=getattr(pipeline, "preload", ()))
    return runner.run(resumed=True)


def runner_alive(run: dict[str, Any]) -> bool:
    """Whether the process that runs ``run`` still exists.

    Checked by pid and by that process's start time (a recycled pid is not our runner).
    A run started on another host is assumed alive: we cannot look at its processes.
    """
    import socket

    pid = run.get("pid")
    if not pid or pid == os.getpid():
        return False
    if run.get("host") and run["host"] != socket.gethostname():
        return True
    import psutil

    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    started = run.get("runner_started") or run.get("started_at") or 0
    return created <= started + 1.0


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    from modelway.artifacts.serializers import is_jsonable

    return {k: (v if is_jsonable(v) else str(v)) for k, v in params.items()}


def _record_dataset_inputs(run_store: Any, run_id: str, graph: PipelineGraph) -> None:
    from modelway.lineage.datasets import DatasetRef

    def walk(value: Any) -> Any:
        if isinstance(value, DatasetRef):
            yield value
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                yield from walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from walk(v)

    for node in graph.nodes.values():
        for value in node.inputs.values():
            for ref in walk(value):
                run_store.record_dataset_usage(run_id, node.name, ref.name, ref.version)


class _Runner:
    def __init__(self, graph: PipelineGraph, run_id: str, home: Path, executor: str, workers: int, use_cache: bool,
                 display: NullDisplay, prior: dict[str, str], attempts: dict[str, int],
                 preload: tuple[str, ...] = ()) -> None:
        self.graph = graph
        self.run_id = run_id
        self.home = home
        self.store, self.artifacts = stores(home)
        self.echo = display.log if type(display) is not NullDisplay else None  # Plain and Rich subclass it
        local: Executor = ProcessExecutor(on_log=self.echo) if executor == "process" else InProcessExecutor()
        if gpus.needs_gpus(graph.nodes.values()):  # each gpus=N step gets N devices of its own
            local = gpus.GpuScheduling(local)
        # A stack's backends may send some steps elsewhere (SageMaker, Kubernetes) by their resources.
        backends = active_backends.current()
        route = getattr(backends, "executor", None)
        self.executor: Executor = route(local, on_log=self.echo) if route is not None else local
        self.workers = max(1, workers)
        self.use_cache = use_cache
        self.display = display
        self.hashes: dict[str, str] = dict(prior)
        self.prior = set(prior)
        self.attempts = {n: attempts.get(n, 0) for n in graph.order}  # all attempts, earlier sessions too
        self.tries = {n: 0 for n in graph.order}  # attempts in this session: a resume gets a fresh retry budget
        self.status: dict[str, str] = {n: ("reused" if n in prior else "pending") for n in graph.order}
        self.cached: set[str] = set()
        # Cache hits not read yet: verified when a step that runs reads them (a bad one is then
        # recomputed first), so a cached re-run does not hash outputs nobody reads. The pipeline's
        # own outputs are verified at once: the run reports them.
        self.unverified: set[str] = set()
        self.reported = {ref.node.name for ref in iter_refs(graph.outputs)}
        self.durations: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}
        self.deliberate: set[str] = set()  # steps whose last attempt raised StepFailed
        self.keys: dict[str, str | None] = {}
        self.code_hashes: dict[int, str] = {}  # per run: steps are alive for the whole run
        self.preload = tuple(preload)
        # Only forked step processes inherit imports; in-process steps import on first use anyway.
        self.preloader = Preloader() if executor == "process" and self.preload_enabled() else None

    @staticmethod
    def preload_enabled() -> bool:
        from modelway.settings import get_settings

        return get_settings().preload

    # -- cache keys -------------------------------------------------------------------
    def _cache_key(self, name: str) -> str | None:
        node = self.graph.nodes[name]

        def token(value: Any) -> Any:
            if isinstance(value, OutputRef):
                return {"$ref": self.hashes[value.node.name], "path": [repr(k) for k in value.path]}
            if isinstance(value, (list, tuple)) and any(True for _ in iter_refs(value)):
                return [token(v) for v in value]
            if isinstance(value, dict) and any(True for _ in iter_refs(value)):
                return {k: token(v) for k, v in sorted(value.items())}
            return fingerprint.value_token(value)

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

    # -- main loop --------------------------------------------------------------------
    def run(self, resumed: bool) -> RunResult:
        self.display.start(self.run_id, self.graph.pipeline_name, self.graph.order, resumed=resumed)
        for name in sorted(self.prior, key=self.graph.order.index):  # a resume reuses only verified outputs
            if not self._usable(name, self.hashes[name], "the finished output"):
                self.prior.discard(name)
                del self.hashes[name]
                self.status[name] = "pending"
        for name in self.graph.order:
            if name in self.prior:
                self.display.update(name, "reused")
        pending = [n for n in self.graph.order if n not in self.prior]
        retry_at: dict[str, float] = {}
        guard = _InterruptGuard(interruptible_submit=isinstance(self.executor, InProcessExecutor))
        try:
            return self._run(guard, pending, retry_at)
        except Exception:  # a store fault (disk full at COMMIT): no temp folder or live display left behind
            self.executor.cancel_all()
            self.artifacts.clean_stale_tmp(include_own=True)
            with contextlib.suppress(Exception):
                self.display.finish("failed", "the run stopped on an error")
            raise

    def _run(self, guard: _InterruptGuard, pending: list[str], retry_at: dict[str, float]) -> RunResult:
        failed: str | None = None
        cancelled = False
        try:
            with guard:
                while True:
                    guard.check()
                    if failed is None:
                        with guard.submitting():
                            self._launch(pending, retry_at)
                    if self.executor.running() == 0:
                        if failed is not None or not pending:
                            break
                        waits = [t for n, t in retry_at.items() if n in pending]
                        if not waits:  # defensive: nothing can make progress (should not happen)
                            failed = pending[0]
                            self.errors[failed] = "internal error: no step could be scheduled"
                            break
                        with guard.interruptible():
                            time.sleep(max(0.0, min(waits) - time.monotonic()))
                        continue
                    timeout = None
                    waits = [t for n, t in retry_at.items() if n in pending]
                    if waits:
                        timeout = max(0.0, min(waits) - time.monotonic())
                    if self.display.refresh_s is not None:  # keep running durations ticking
                        timeout = self.display.refresh_s if timeout is None else min(timeout, self.display.refresh_s)
                    with guard.interruptible():
                        finished = self.executor.wait(timeout)
                    self.display.tick()
                    for task, outcome in finished:
                        if not self._handle(task, outcome, pending, retry_at):
                            failed = failed or task.name
        except KeyboardInterrupt:
            cancelled = True
            started = {task.name: task.started for task in self.executor.cancel_all()}
            for name in self.graph.order:  # every step that had started and not finished
                if self.status[name] == "running":
                    self.status[name] = "cancelled"
                    since = started.get(name)
                    self.store.step_failed(self.run_id, name, attempt=self.attempts[name], status="cancelled",
                                           error="cancelled", traceback=None,
                                           duration_s=None if since is None else time.monotonic() - since)
                    self.display.update(name, "cancelled")
        self.store.steps_not_run(self.run_id, self._close_unfinished(pending, failed, cancelled))
        if cancelled:
            status, error = "cancelled", "cancelled by user"
        elif failed is not None:
            status, error = "failed", f"step {failed!r} failed: {self.errors.get(failed)}"
        else:
            status, error = "succeeded", None
        if cancelled or failed is not None:
            # temp dirs of killed step processes, or of an in-process write cut by Ctrl-C
            self.artifacts.clean_stale_tmp(include_own=True)
        outputs = self._render_outputs() if status == "succeeded" else {}
        self.store.finish_run(self.run_id, status, error, outputs)
        # The failing step's line already showed its message: say it once.
        self.display.finish(status, f"step {failed!r} failed" if status == "failed" else error, outputs)
        return RunResult(
            run_id=self.run_id, status=status, error=error, failed_step=failed, home=self.home, outputs=outputs,
            resumable=cancelled or (failed is not None and failed not in self.deliberate),
            steps=[StepResult(n, self.status[n], n in self.cached, self.attempts[n], self.durations.get(n),
                              self.hashes.get(n), self.errors.get(n)) for n in self.graph.order],
            _graph_outputs=self.graph.outputs, _hashes=dict(self.hashes),
        )

    def _close_unfinished(self, pending: list[str], failed: str | None, cancelled: bool) -> dict[str, tuple[str, str]]:
        """Give every step the stopped run did not finish a terminal status that says why.

        'skipped': an upstream step did not finish (failed, cancelled or skipped itself);
        'cancelled': it could have run, or was waiting for a retry, when the run stopped.
        """
        stopped = "the run was cancelled" if cancelled else f"the run failed at step {failed!r}"
        ended: dict[str, tuple[str, str]] = {}
        for name in self.graph.order:  # topological: upstream statuses are final by now
            if name not in pending or self.status[name] != "pending":
                continue
            blocked = [up for up in self.graph.nodes[name].upstream
                       if self.status[up] in ("failed", "cancelled", "skipped")]
            if blocked:
                up = blocked[0]
                verb = {"failed": "failed", "cancelled": "was cancelled", "skipped": "did not run"}[self.status[up]]
                ended[name] = ("skipped", f"not run: upstream step {up!r} {verb}")
            elif self.tries[name]:
                ended[name] = ("cancelled", f"not retried: {stopped} (last attempt: {self.errors.get(name)})")
            else:
                ended[name] = ("cancelled", f"not started: {stopped}")
            self.status[name] = ended[name][0]
            self.errors[name] = ended[name][1]
            self.display.update(name, ended[name][0], {"error": ended[name][1]})
        return ended

    def _launch(self, pending: list[str], retry_at: dict[str, float]) -> None:
        while self._launch_pass(pending, retry_at):
            pass  # a cached input went back to pending: it can start at once

    def _launch_pass(self, pending: list[str], retry_at: dict[str, float]) -> bool:
        """Start what can start; True when a step was put back in ``pending`` (scan again)."""
        now = time.monotonic()
        requeued = False
        for name in list(pending):
            if self.executor.running() >= self.workers:
                return False
            node = self.graph.nodes[name]
            if any(up not in self.hashes for up in node.upstream):
                continue
            if retry_at.get(name, 0.0) > now:
                continue
            pending.remove(name)
            key = self.keys[name] = self._cache_key(name)
            if key and self.use_cache and node.settings.cache:
                hit = self.store.cache_lookup(key)
                if hit and hit.get("run_id") and self.store.stale_latest_reads(hit["run_id"], hit["step"]):
                    hit = None  # it read "the newest version" of a dataset that has a newer version now
                if hit and (self._usable(name, hit["hash"], "cached result") if name in self.reported
                            else self.artifacts.exists(hit["hash"])):
                    if name not in self.reported:
                        self.unverified.add(name)
                    self.store.step_cached(self.run_id, name, key, hit, self._inputs(node))
                    self.hashes[name] = hit["hash"]
                    self.status[name] = "cached"
                    self.cached.add(name)
                    self.durations[name] = 0.0
                    self.display.update(name, "cached")
                    continue
            if not self._inputs_verified(name, pending):
                requeued = True  # a cached input failed verification: it runs again first
                continue
            if self.preloader is not None:  # this step really runs: import what the forks should inherit
                for note in self.preloader.load((*self.preload, *node.step.preload)):
                    self.store.log(self.run_id, None, note, kind="note")
            self.attempts[name] += 1
            self.tries[name] += 1
            self.status[name] = "running"
            self.store.step_started(self.run_id, name, self.attempts[name], key, self._inputs(node))
            self.display.update(name, "running", {"attempt": self.attempts[name]})
            self.executor.submit(Task(
                name=name, node=node, attempt=self.attempts[name],
                input_hashes={up: self.hashes[up] for up in node.upstream if up in self.hashes},
                run_id=self.run_id, pipeline_name=self.graph.pipeline_name, home=self.home,
                params=dict(self.graph.params), timeout_s=node.settings.timeout_s, echo=self.echo,
                memory_limit=node.settings.resources.memory_bytes,
            ))
        return requeued

    def _inputs_verified(self, name: str, pending: list[str]) -> bool:
        """Verify the cache hits step ``name`` is about to read; a bad one becomes a miss: it goes
        back to pending (to be recomputed) and so does ``name``, which waits for it."""
        node = self.graph.nodes[name]
        bad = [up for up in node.upstream
               if up in self.unverified and not self._usable(up, self.hashes[up], "cached result")]
        self.unverified.difference_update(node.upstream)
        if not bad:
            return True
        for up in bad:
            del self.hashes[up]
            self.cached.discard(up)
            self.status[up] = "pending"
        position = {n: i for i, n in enumerate(self.graph.order)}
        pending.extend([*bad, name])
        pending.sort(key=position.__getitem__)
        return False

    def _usable(self, name: str, digest: str, what: str) -> bool:
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

    def _inputs(self, node: Any) -> dict[str, str]:
        return {up: self.hashes[up] for up in node.upstream if up in self.hashes}

    def _handle(self, task: Task, outcome: Outcome, pending: list[str], retry_at: dict[str, float]) -> bool:
        name = task.name
        node = self.graph.nodes[name]
        self.durations[name] = outcome.duration_s
        if outcome.ok:
            key = self.keys.get(name)
            self.store.step_succeeded(self.run_id, name, attempt=task.attempt, output=outcome.output,
                                      duration_s=outcome.duration_s, cpu_s=outcome.cpu_s, peak_rss_mb=outcome.peak_rss_mb,
                                      cache_key=key, cacheable=bool(key and node.settings.cache))
            self.hashes[name] = outcome.output.hash
            self.status[name] = "succeeded"
            self.errors.pop(name, None)
            self.display.update(name, "succeeded", {"duration_s": outcome.duration_s, "attempt": task.attempt})
            return True
        self.errors[name] = outcome.error or "failed"
        if outcome.deliberate:
            self.deliberate.add(name)
        else:
            self.deliberate.discard(name)
        tries = self.tries[name]
        if outcome.retryable and tries <= node.settings.retries:
            delay = node.settings.retry_delay_s * (2 ** (tries - 1))
            self.store.step_failed(self.run_id, name, attempt=task.attempt, status="retrying", error=self.errors[name],
                                   traceback=outcome.traceback, duration_s=outcome.duration_s, cpu_s=outcome.cpu_s,
                                   peak_rss_mb=outcome.peak_rss_mb)
            self.status[name] = "pending"
            retry_at[name] = time.monotonic() + delay
            position = {n: i for i, n in enumerate(self.graph.order)}
            pending.append(name)
            pending.sort(key=position.__getitem__)
            self.display.update(name, "retrying", {"attempt": task.attempt, "error": self.errors[name]})
            return True
        self.store.step_failed(self.run_id, name, attempt=task.attempt, status="failed", error=self.errors[name],
                               traceback=outcome.traceback, duration_s=outcome.duration_s, cpu_s=outcome.cpu_s,
                               peak_rss_mb=outcome.peak_rss_mb)
        self.status[name] = "failed"
        self.display.update(name, "failed", {"attempt": task.attempt, "error": self.errors[name]})
        return False

    def _render_outputs(self) -> dict[str, Any]:
        def render(value: Any) -> Any:
            if isinstance(value, OutputRef):
                digest = self.hashes[value.node.name]
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
            if isinstance(value, (list, tuple)):
                return [render(v) for v in value]
            if isinstance(value, dict):
                return {str(k): render(v) for k, v in value.items()}
            from modelway.artifacts.serializers import is_jsonable

            return value if is_jsonable(value) else str(value)

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
        import threading

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
