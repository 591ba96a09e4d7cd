"""The offline policy checker: render any Pulumi Python program under mocks and run the pack on it.

``modelway policy check`` is a thin CLI over :func:`check_program`; no Pulumi CLI, no cloud
credentials. The policies are the very objects ``policies/__main__.py`` serves to
``pulumi preview --policy-pack policies``.

Example:
    >>> from pathlib import Path
    >>> report = check_program(Path("."), "prod")              # doctest: +SKIP
    >>> report.exit_code, len(report.mandatory)                # doctest: +SKIP
    (0, 0)
"""
from __future__ import annotations

import datetime
from pathlib import Path

from modelway.errors import UserError
from modelway.policy_check.report import Finding, Report, WaivedFinding

def pack_dir() -> Path:
    """Where the policy pack is installed: the ``modelway.policies`` package directory (in a checkout,
    the top-level ``policies/``), holding ``PulumiPolicy.yaml`` for ``pulumi preview --policy-pack``.

    Found without importing the pack (which would import Pulumi).
    """
    import importlib.util

    spec = importlib.util.find_spec("modelway.policies")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the modelway.policies package is missing from this installation; reinstall modelway")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def default_config(stack: str | None) -> Path | None:
    """The pack's ``config.<stack>.json`` (dev, staging, prod), when it exists."""
    if stack is None:
        return None
    candidate = pack_dir() / f"config.{stack}.json"
    return candidate if candidate.is_file() else None


def check_program(program_dir: Path | None = None, stack: str | None = None, *, config: Path | None = None,
                  waivers: Path | None = None, today: datetime.date | None = None) -> Report:
    """Render the program at ``program_dir`` for ``stack`` and evaluate every policy; raises UserError on bad input.

    ``program_dir`` (default: the current directory) may be the project directory or any
    directory inside it: the Pulumi project is found from there upwards, as the Pulumi CLI
    finds it, and never defaults to anything else. ``config`` defaults to ``policies/config.<stack>.json``; ``waivers`` is an optional YAML file.
    The render and the evaluation run in one fresh subprocess (the pack and Pulumi are
    imported there once, never in this process).
    """
    from modelway.rendering.api import run_worker
    from modelway.rendering.project import load_program_spec

    from modelway.rendering.project import find_project_dir

    project_dir = find_project_dir(program_dir)
    for path, what in ((config, "policy config"), (waivers, "waivers file")):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{path}: no such {what}")
    spec = load_program_spec(project_dir, stack)  # a bad project fails here, before any subprocess
    config = config if config is not None else default_config(stack)
    # Cheap structural checks first, so a broken config or waivers file fails before the subprocess.
    from modelway.policy_check.config import read_json
    from modelway.policy_check.waivers import load_waivers

    if config is not None:
        read_json(config)
    if waivers is not None:
        load_waivers(waivers, None)

    # The worker runs in the project directory: give it absolute paths, and name the files
    # in its messages the way the user did.
    given = {str(Path(p).resolve()): str(p) for p in (config, waivers) if p is not None}
    args = [stack or "-", *(str(Path(p).resolve()) if p is not None else "-" for p in (config, waivers)),
            (today or datetime.date.today()).isoformat()]
    try:
        state = run_worker("modelway.policy_check.worker", args, spec)
    except UserError as exc:
        message = str(exc)
        for absolute, spelled in given.items():
            if message.startswith(absolute):
                message = spelled + message[len(absolute):]
        raise UserError(message) from None
    report = Report.from_state(state)
    report.project = spec.project
    report.program_dir = _display_path(spec.project_dir)
    entry = spec.main / "__main__.py" if spec.main.is_dir() else spec.main
    # SARIF viewers resolve locations against the checkout: prefer a path relative to where we run.
    for base in (Path.cwd().resolve(), spec.project_dir):
        try:
            report.program = entry.resolve().relative_to(base).as_posix()
            break
        except ValueError:
            continue
    else:
        report.program = entry.name
    return report


def _display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it (``.``, ``infra``), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


__all__ = ["Finding", "Report", "WaivedFinding", "check_program", "default_config", "pack_dir"]
