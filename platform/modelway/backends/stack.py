"""Resolve which stack a command runs against: ``--stack NAME`` and/or ``--outputs FILE``.

- ``--outputs FILE``: the JSON of ``pulumi stack output --json`` (CI, machines without the
  Pulumi CLI). With ``--stack`` too, the file must be that stack's outputs.
- ``--stack NAME`` alone: the outputs come from the Pulumi Automation API
  (``pulumi.automation``, ``stack.outputs()``), which drives the ``pulumi`` CLI: it must be
  on PATH, and the project (``Pulumi.yaml``) is found from the working directory upwards.
- neither: None, the embedded default.

Every problem is one line naming the stack, the file or the field (a ConfigError, exit 2).

Example:
    >>> resolve_stack(None, None) is None
    True
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelway.errors import ConfigError


@dataclass(frozen=True)
class ResolvedStack:
    """A stack's validated outputs and where they came from."""

    name: str
    """The stack name as given (``dev``, ``org/dev``), else the outputs' environment."""
    outputs: Any
    """The validated :class:`~modelway.contracts.stack_outputs.StackOutputs`."""
    source: str
    """``file <path>`` or ``pulumi automation api (<project dir>)``."""
    digest: str
    """sha256 of the outputs (canonical JSON): lineage records it, so a run names the exact stack state."""


def resolve_stack(stack: str | None, outputs_file: Path | None, *, cwd: Path | None = None) -> ResolvedStack | None:
    """The stack selected by ``--stack``/``--outputs``, validated; None when neither is given."""
    from modelway.contracts.stack_outputs import StackOutputs

    if stack is None and outputs_file is None:
        return None
    if outputs_file is not None:
        outputs = StackOutputs.from_json_file(Path(outputs_file))
        source = f"file {outputs_file}"
    else:
        assert stack is not None
        data, project = _automation_outputs(stack, cwd or Path.cwd())
        outputs = StackOutputs.from_mapping(data, source=f"stack {stack!r} outputs")
        source = f"pulumi automation api ({project})"
    if stack is not None and stack.rsplit("/", 1)[-1] != outputs.environment:
        raise ConfigError(f"--stack {stack}: {source} holds the outputs of environment {outputs.environment!r}, "
                          f"not {stack!r}; pass the outputs of {stack!r} (pulumi stack output --json -s {stack})")
    return ResolvedStack(name=stack or outputs.environment, outputs=outputs, source=source,
                         digest=outputs_digest(outputs))


def outputs_digest(outputs: Any) -> str:
    """sha256 of the outputs as canonical JSON (sorted keys)."""
    doc = json.dumps(outputs.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def find_project_dir(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``Pulumi.yaml``."""
    for folder in (start.absolute(), *start.absolute().parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return None


def _automation_outputs(stack: str, cwd: Path) -> tuple[dict[str, Any], Path]:
    if shutil.which("pulumi") is None:
        raise ConfigError(f"--stack {stack}: no pulumi CLI on PATH to read the stack's outputs; install it, or pass "
                          f"them as a file: pulumi stack output --json -s {stack} > outputs.json, then "
                          "--outputs outputs.json")
    project = find_project_dir(cwd)
    if project is None:
        raise ConfigError(f"--stack {stack}: no Pulumi.yaml in {cwd} or above; run this in the project, "
                          "or pass --outputs FILE")
    from pulumi import automation as auto

    try:
        selected = auto.select_stack(stack_name=stack, work_dir=str(project))
        values = selected.outputs()
    except auto.errors.CommandError as exc:
        # str(CommandError) starts with an empty line (then code, stdout, stderr): without an "error" line,
        # its last non-empty line (what pulumi wrote to stderr) says what went wrong
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else str(exc))
        raise ConfigError(f"--stack {stack}: pulumi could not read the stack's outputs in {project}: "
                          f"{first}") from None
    return {key: value.value for key, value in values.items()}, project
