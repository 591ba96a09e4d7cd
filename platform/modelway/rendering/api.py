"""``render_program``: render any Pulumi Python program under mocks in a fresh subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from modelway.errors import UserError
from modelway.rendering.project import ProgramSpec, load_program_spec
from modelway.rendering.result import RenderResult

DEFAULT_TIMEOUT_S = 300.0


def render_program(
    program_dir: Path,
    stack: str | None,
    *,
    strict_invokes: bool,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RenderResult:
    """Render the Pulumi project at ``program_dir`` for ``stack`` and return what it declares.

    Reads ``Pulumi.yaml`` (project name, ``main:``) and ``Pulumi.<stack>.yaml`` config,
    then runs the program in a fresh Python process under Pulumi mocks (a fresh process,
    because a Pulumi program is module-level code with global runtime state).
    ``strict_invokes=True`` fails on any invoke the mocks do not know; ``False`` answers
    it with an empty result and records a warning. A program that fails raises
    :class:`~modelway.errors.UserError` with one line naming the file and why.
    ``stack=None`` renders the stack named ``dev`` (with ``Pulumi.dev.yaml`` when present),
    as a freshly initialised project would.

    Example:
        >>> result = render_program(Path("."), "prod", strict_invokes=True)   # doctest: +SKIP
        >>> sorted({r.type for r in result.resources})[:1]                      # doctest: +SKIP
        ['aws:autoscaling/group:Group']
    """
    spec = load_program_spec(Path(program_dir), stack)  # fail fast on a bad project, no subprocess
    payload = run_worker("modelway.rendering.worker", [stack or "-", "strict" if strict_invokes else "checker"],
                         spec, timeout=timeout)
    return RenderResult.from_json(payload)


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the render child get SIGKILL when this process dies (Linux).

    A render runs someone else's program; if ``modelway`` is killed (CI cancels the job,
    ``kill -9``), the child must not keep running. ``PR_SET_PDEATHSIG`` asks the kernel to
    signal it when its parent goes away; if the parent is already gone by the time it is
    set, the child exits at once. Elsewhere there is no such call: None (the child shares our
    process group, so killing the group still stops it).
    """
    if not sys.platform.startswith("linux"):
        return None

    def set_death_signal() -> None:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the call took effect
            os._exit(1)

    return set_death_signal


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _rel_main(spec: ProgramSpec) -> str:
    entry = spec.main / "__main__.py" if spec.main.is_dir() else spec.main
    try:
        return str(entry.relative_to(spec.project_dir))
    except ValueError:
        return str(entry)


def run_worker(module: str, args: list[str], spec: ProgramSpec, *, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Run ``python -m module PROJECT_DIR *args RESULT_JSON`` (a :func:`~modelway.rendering.worker.serve`
    worker) in the project directory and return its result; UserError with one line on any failure.

    Example:
        >>> run_worker("modelway.rendering.worker", ["prod", "strict"], load_program_spec(Path("."), "prod"))  # doctest: +SKIP
    """
    with tempfile.TemporaryDirectory(prefix="modelway-render-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [sys.executable, "-m", module, str(spec.project_dir), *args, str(result_path)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG")}
        try:
            # subprocess.run kills the child on a timeout or an exception here (Ctrl-C);
            # _die_with_parent covers this process being killed outright.
            proc = subprocess.run(command, cwd=spec.project_dir, env=env, capture_output=True,
                                  text=True, timeout=timeout, check=False, preexec_fn=_die_with_parent(os.getpid()))
        except subprocess.TimeoutExpired:
            raise UserError(f"{_rel_main(spec)}: rendering stack {spec.stack} took longer than {timeout:g} s "
                            "(raise --timeout if the program is slow)") from None
        if not result_path.is_file():
            lines = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
            why = lines[-1] if lines else f"exit code {proc.returncode}"
            raise UserError(f"{spec.main}: the render process failed: {why}")
        payload = json.loads(result_path.read_text(encoding="utf-8"))
    if not payload.get("ok"):
        raise UserError(payload["error"])
    return payload["result"]
