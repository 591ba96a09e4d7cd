"""Run a Pulumi Python program in THIS process under :class:`PlatformMocks` and collect what it declares.

Used by the subprocess worker (``render_program``) and, for speed, by tests that render
our own ``infra/`` several times in one process: each render runs in a fresh
``contextvars.Context`` (Pulumi keeps its runtime state in context variables) and the
program's own modules are dropped from ``sys.modules`` afterwards, so renders don't leak
into each other.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import runpy
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Iterator

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

from modelway.errors import ConfigError, UserError
from modelway.rendering.mocks import PlatformMocks, UnknownInvokeError
from modelway.rendering.project import ProgramSpec
from modelway.rendering.result import RenderedResource, RenderResult
from modelway.rendering.values import plain, struct_to_plain


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping parent/provider/options that ``Mocks.new_resource`` never sees."""

    def __init__(self, mocks: PlatformMocks, project_dir: Path) -> None:
        super().__init__(mocks)
        self.registered: list[RenderedResource] = []
        self._project_dir = project_dir
        self._files: dict[str, str] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root Stack out of its children's type chain
        # (urn:pulumi:<stack>::<project>::aws:kms/key:Key::key); the stock mock keeps it.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            provider = request.provider.rsplit("::", 1)[0] if request.provider else ""
            self.registered.append(RenderedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                inputs=struct_to_plain(request.object),
                provider=provider,
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                id=response.id,
                file=self._file(request.sourcePosition.uri),
                line=int(request.sourcePosition.line),
                delete_before_replace=bool(request.deleteBeforeReplace),
                # Output inputs and depends_on both arrive here: the order `pulumi up` creates in.
                dependencies=tuple(sorted(set(request.dependencies))),
            ))
        return response

    def _file(self, uri: str) -> str:
        """The declaring file relative to the project directory (``infra/storage.py``); "" when unknown."""
        if not uri:
            return ""
        relative = self._files.get(uri)
        if relative is None:
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(uri).path))
            try:
                relative = path.relative_to(self._project_dir).as_posix()
            except ValueError:
                relative = path.as_posix()
            self._files[uri] = relative
        return relative


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "error: " if record.levelno >= logging.ERROR else ""
        self.messages.append(prefix + record.getMessage())


def _ordered(resources: list[RenderedResource]) -> list[RenderedResource]:
    # Registration order depends on thread scheduling; parents-first, siblings by name
    # gives the same listing on every run.
    children: dict[str, list[RenderedResource]] = {}
    urns = {r.urn for r in resources}
    roots = []
    for resource in resources:
        (children.setdefault(resource.parent, []) if resource.parent in urns else roots).append(resource)
    out: list[RenderedResource] = []

    def visit(nodes: list[RenderedResource]) -> None:
        for node in sorted(nodes, key=lambda r: (not r.type.startswith("pulumi:providers:"), r.name, r.type)):
            out.append(node)
            visit(children.get(node.urn, []))

    visit(roots)
    return out


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe_failure(exc: BaseException, spec: ProgramSpec) -> str:
    """One line: the file (and line) of the program where it failed, and why."""
    chain = _cause_chain(exc)
    # Pulumi wraps errors raised while resolving inputs ("While processing input: ...");
    # the innermost exception is the one that says why.
    root = next((e for e in chain if isinstance(e, (UserError, UnknownInvokeError))), chain[-1])
    stack_file = spec.project_dir / f"Pulumi.{spec.stack}.yaml"
    text = str(root).strip()
    reason = text.splitlines()[0] if text else type(root).__name__
    if isinstance(root, ConfigError):
        where = stack_file.name if stack_file.is_file() else f"stack {spec.stack} (no {stack_file.name})"
        return f"{where}: {reason}"
    entry = spec.main / "__main__.py" if spec.main.is_dir() else spec.main
    if isinstance(root, UnknownInvokeError):
        return f"{_rel(entry, spec)}: {reason}"
    program_root = spec.main if spec.main.is_dir() else spec.main.parent
    location = _rel(entry, spec)
    # A syntax error has no frame in the program: the exception itself says where.
    frames = [(e.filename, e.lineno) for e in chain if isinstance(e, SyntaxError) and e.filename]
    tracebacks = [frame for e in reversed(chain) for frame in traceback.extract_tb(e.__traceback__)]
    frames += [(frame.filename, frame.lineno) for frame in reversed(tracebacks)]
    for filename, lineno in frames:
        path = Path(filename)
        # "<frozen importlib._bootstrap>" and the like are not files (relative, they would
        # resolve into the program directory).
        if (not filename.startswith("<") and _inside(path, program_root)
                and ".venv" not in path.parts and "site-packages" not in path.parts):
            location = f"{_rel(path, spec)}:{lineno}"
            break
    if isinstance(root, UserError):
        return f"{location}: {reason}"
    return f"{location}: {type(root).__name__}: {reason}"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


def _rel(path: Path, spec: ProgramSpec) -> str:
    try:
        return str(path.resolve().relative_to(spec.project_dir))
    except ValueError:
        return str(path)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(plain(value), default=str))


class _SourceLocator:
    """Where each resource is declared: the first frame of the call stack inside the program directory.

    The SDK's own capture (``_get_stack_trace``) walks and formats the whole Python stack,
    reading source lines, for every resource: ~0.7 ms a resource, a fifth of a render
    (measured). This walks the raw frames instead, stops at the first one in the program, and
    hands the SDK the same ``StackTrace`` message with that one frame, so the request the
    monitor receives carries it as ``sourcePosition``. Frames of installed packages (a
    virtualenv inside the project) do not count as the program.
    """

    def __init__(self, program_root: Path) -> None:
        self.root = str(program_root.resolve()) + os.sep
        self._inside: dict[str, bool] = {}

    def _in_program(self, filename: str) -> bool:
        inside = self._inside.get(filename)
        if inside is None:
            inside = (filename.startswith(self.root) and "site-packages" not in filename
                      and f"{os.sep}.venv{os.sep}" not in filename[len(self.root) - 1:])
            self._inside[filename] = inside
        return inside

    def stack_trace(self) -> Any:
        from pulumi.runtime.proto import source_pb2

        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if self._in_program(filename):
                position = source_pb2.SourcePosition(uri=Path(filename).as_uri(), line=frame.f_lineno)
                return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=position)])
            frame = frame.f_back
        return source_pb2.StackTrace()


@contextlib.contextmanager
def _source_positions(program_root: Path) -> Iterator[None]:
    """Record each resource's declaring file and line cheaply (see :class:`_SourceLocator`).

    An SDK without the hook is left as it is (its own capture still fills ``sourcePosition``).
    """
    from pulumi.runtime import resource as sdk_resource

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    sdk_resource._get_stack_trace = _SourceLocator(program_root).stack_trace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


@contextlib.contextmanager
def _own_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Run a render on an event loop of its own, closed afterwards with nothing left pending.

    A render must not depend on what ran before it in the process: Pulumi's runtime calls
    ``asyncio.get_event_loop()``, which raises once ``asyncio.run`` (or an HTTP test client) has
    cleared the thread's loop, and a program that crashed leaves output tasks pending that
    would otherwise run, and fail, inside the next render.
    """
    try:
        previous: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        previous = None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(previous if previous is not None and not previous.is_closed() else None)


def _render(spec: ProgramSpec, strict_invokes: bool, preview: bool) -> RenderResult:
    from pulumi.runtime.stack import massage, run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    pulumi.runtime.set_all_config(dict(spec.config), list(spec.secret_keys))
    mocks = PlatformMocks(strict_invokes=strict_invokes, region=spec.config.get("aws:region"), preview=preview)
    monitor = _RecordingMonitor(mocks, spec.project_dir)
    collector = _WarningCollector()
    logger = logging.getLogger("modelway.rendering.program")
    logger.propagate = False
    logger.addHandler(collector)
    # preview=True: outputs the mocks do not give back are unknown, as `pulumi preview` sees them,
    # and applies over them do not run; preview=False: they resolve to None (a finished update).
    pulumi.runtime.set_mocks(mocks, project=spec.project, stack=spec.stack, preview=preview,
                             logger=logger, monitor=monitor)

    program_root = spec.main if spec.main.is_dir() else spec.main.parent
    modules_before = set(sys.modules)
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(spec.project_dir)  # the Pulumi CLI runs programs from the project directory
    if not spec.main.is_dir():
        sys.path.insert(0, str(program_root))
    try:
        with warnings.catch_warnings(), _source_positions(program_root):
            # Importing a provider module defines its deprecated resource classes, each of
            # which warns at import time: noise for whoever renders, not about the program.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_\w+\.")
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(spec.main), run_name="__main__")))
        root = pulumi.runtime.get_root_resource()
        exported = dict(getattr(root, "outputs", {}) or {})

        async def resolve() -> dict[str, Any]:
            return {key: await pulumi.Output.from_input(massage(value, [])).future()
                    for key, value in exported.items()}

        with _source_positions(program_root):
            outputs = _sync_await(resolve())
    except SystemExit as exc:
        entry = spec.main / "__main__.py" if spec.main.is_dir() else spec.main
        raise UserError(f"{_rel(entry, spec)}: the program called exit({exc.code})") from None
    except Exception as exc:  # noqa: BLE001 - every program failure becomes one line
        raise UserError(_describe_failure(exc, spec)) from exc
    finally:
        # Pulumi keeps the program's pending outputs in a set every render shares (the default of
        # a context variable); a crashed program's leftovers must not be awaited by the next one.
        with pulumi_settings.SETTINGS.lock:
            pulumi_settings.SETTINGS.outputs.clear()
        os.chdir(old_cwd)
        sys.path[:] = old_path
        logger.removeHandler(collector)
        for name in set(sys.modules) - modules_before:
            module_file = getattr(sys.modules[name], "__file__", None)
            if module_file and not name.startswith("modelway") and _inside(Path(module_file), program_root):
                del sys.modules[name]

    return RenderResult(
        stack=spec.stack,
        resources=_ordered(monitor.registered),
        outputs=_json_safe(outputs),
        warnings=list(spec.warnings) + mocks.warnings + collector.messages,
        config=dict(spec.config),
    )


def render_in_process(spec: ProgramSpec, *, strict_invokes: bool, preview: bool = False) -> RenderResult:
    """Render ``spec`` in this process, isolated from any other render by a fresh context.

    ``preview=True`` judges the program as ``pulumi preview`` sees it (the policy checker):
    provider-computed outputs (an EKS endpoint, a certificate) are unknown, and ``apply``
    callbacks over them do not run. The identifiers the mocks predict from the inputs (ids,
    ARNs, names) stay known, so rules can still link a resource to the ones that name it.

    Example:
        >>> from modelway.rendering.project import load_program_spec
        >>> result = render_in_process(load_program_spec(Path("."), "dev"), strict_invokes=True)  # doctest: +SKIP
    """
    with _own_event_loop():
        return contextvars.Context().run(_render, spec, strict_invokes, preview)
