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
import sys
from pathlib import Path

from modelway.errors import UserError
from modelway.policy_check.report import Finding, Report, WaivedFinding

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The Modelway checkout (``platform/modelway/policy_check`` → repo root): its ``Pulumi.yaml`` is the default program."""


def ensure_pack_importable() -> None:
    """Make ``import policies`` work from anywhere: the pack lives at the repo root, beside ``platform/``."""
    if (REPO_ROOT / "policies" / "catalog.py").is_file() and str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))


def default_config(stack: str | None) -> Path | None:
    """``policies/config.<stack>.json`` of this checkout, when it exists."""
    if stack is None:
        return None
    candidate = REPO_ROOT / "policies" / f"config.{stack}.json"
    return candidate if candidate.is_file() else None


def check_program(program_dir: Path | None = None, stack: str | None = None, *, config: Path | None = None,
                  waivers: Path | None = None, today: datetime.date | None = None) -> Report:
    """Render ``program_dir`` for ``stack`` and evaluate every policy; raises UserError on bad input.

    ``config`` defaults to ``policies/config.<stack>.json``; ``waivers`` is an optional YAML file.
    The render and the evaluation run in one fresh subprocess (the pack and Pulumi are
    imported there once, never in this process).
    """
    from modelway.rendering.api import run_worker
    from modelway.rendering.project import load_program_spec

    program_dir = Path(program_dir) if program_dir is not None else REPO_ROOT
    if not program_dir.is_dir():
        raise UserError(f"{program_dir}: not a directory; pass the directory holding Pulumi.yaml")
    for path, what in ((config, "policy config"), (waivers, "waivers file")):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{path}: no such {what}")
    spec = load_program_spec(program_dir, stack)  # a bad project fails here, before any subprocess
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


__all__ = ["Finding", "Report", "WaivedFinding", "check_program", "default_config", "ensure_pack_importable"]
