"""The offline policy checker: render any Pulumi Python program under mocks and run the pack on it.

``modelway policy check`` is a thin CLI over :func:`check_program` / :func:`check_stacks`; no
Pulumi CLI, no cloud credentials. The program checked is the Pulumi project the caller points
at (found upwards from a directory, as the Pulumi CLI finds it). The policies are the very
objects the installed pack (``modelway.policies``, source in the top-level ``policies/``)
serves to ``pulumi preview --policy-pack $(modelway policy pack-path)``.

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
from modelway.policy_check.selection import Selection


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
                  waivers: Path | None = None, today: datetime.date | None = None,
                  selection: Selection | None = None, timeout: float | None = None) -> Report:
    """Render the program at ``program_dir`` for ``stack`` and evaluate every policy; raises UserError on bad input.

    ``program_dir`` (default: the current directory) may be the project directory or any
    directory inside it: the Pulumi project is found from there upwards, as the Pulumi CLI
    finds it, and never defaults to anything else. ``config`` defaults to the pack's
    ``config.<stack>.json``; ``waivers`` is an optional YAML file. The render and the
    evaluation run in one fresh subprocess (the pack and Pulumi are imported there once,
    never in this process).
    """
    return check_stacks(program_dir, [stack], config=config, waivers=waivers, today=today, selection=selection,
                        timeout=timeout)[0]


def check_stacks(program_dir: Path | None, stacks: list[str | None], *, config: Path | None = None,
                 waivers: Path | None = None, today: datetime.date | None = None,
                 selection: Selection | None = None, timeout: float | None = None) -> list[Report]:
    """:func:`check_program` for several stacks of one program, in one subprocess (one report per stack).

    The provider SDKs and the pack are imported once for all stacks; each stack renders in a
    fresh Pulumi context. ``config`` applies to every stack; without it each stack gets the
    pack's ``config.<stack>.json``.
    """
    # Not at the top: `policy pack-path` and `policy list` import this package (so does every
    # policy_check module), and need neither the renderer nor the waivers' YAML reader.
    from modelway.policy_check.config import read_json
    from modelway.policy_check.waivers import load_waivers
    from modelway.rendering.api import DEFAULT_TIMEOUT_S, run_worker
    from modelway.rendering.project import find_project_dir, load_program_spec

    project_dir = find_project_dir(program_dir)
    for path, what in ((config, "policy config"), (waivers, "waivers file")):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{path}: no such {what}")
    stacks = list(dict.fromkeys(stacks or [None]))
    # A bad project or stack file fails here, before any subprocess.
    specs = [load_program_spec(project_dir, stack) for stack in stacks]
    configs = [config if config is not None else default_config(stack) for stack in stacks]
    # Cheap structural checks first, so a broken config or waivers file fails before the subprocess.
    for path in {c for c in configs if c is not None}:
        read_json(path)
    if waivers is not None:
        load_waivers(waivers, None)

    # The worker runs in the project directory: give it absolute paths, and name the files
    # in its messages the way the user did.
    given = {str(Path(p).resolve()): str(p) for p in (*configs, waivers) if p is not None}
    job = {
        "stacks": [{"stack": stack, "config": str(Path(c).resolve()) if c is not None else None}
                   for stack, c in zip(stacks, configs)],
        "waivers": str(Path(waivers).resolve()) if waivers is not None else None,
        "today": (today or datetime.date.today()).isoformat(),
        "selection": (selection or Selection()).to_json(),
    }
    import json

    try:
        states = run_worker("modelway.policy_check.worker", [json.dumps(job)], specs[0],
                            timeout=timeout or DEFAULT_TIMEOUT_S)
    except UserError as exc:
        message = str(exc)
        for absolute, spelled in given.items():
            if message.startswith(absolute):
                message = spelled + message[len(absolute):]
        raise UserError(message) from None
    reports = []
    for spec, state in zip(specs, states):
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
        reports.append(report)
    return reports


def _display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it (``.``, ``infra``), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


__all__ = ["Finding", "Report", "Selection", "WaivedFinding", "check_program", "check_stacks", "default_config",
           "pack_dir"]
