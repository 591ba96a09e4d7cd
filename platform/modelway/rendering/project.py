"""Read a Pulumi project the way the CLI does: Pulumi.yaml (name, runtime, main) and Pulumi.<stack>.yaml config."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelway.errors import UserError
from modelway.rendering.strict_yaml import load_yaml_text

# The engine hands config to the language host as strings; secrets it cannot decrypt
# here are replaced by this placeholder (and a warning says so).
SECRET_PLACEHOLDER = "mock-secret-value"


@dataclass(frozen=True)
class ProgramSpec:
    """Where a Pulumi Python program lives and the config its stack passes to it.

    ``config`` maps fully qualified keys (``namespace:key``) to the string values the
    engine would put in ``PULUMI_CONFIG``; objects and lists are JSON-encoded.

    Example:
        >>> spec = load_program_spec(Path("."), "prod")   # doctest: +SKIP
        >>> spec.config["aws:region"]                      # doctest: +SKIP
        'eu-west-1'
    """

    project_dir: Path
    project: str
    main: Path
    stack: str
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _read_yaml(path: Path) -> Any:
    # Strict: two equal keys (e.g. a second `modelway:storage:`) are an error, not "last wins".
    return load_yaml_text(path.read_text(encoding="utf-8"), path) or {}


def _wire_value(value: Any) -> str:
    # Same encoding as the Pulumi engine: scalars as text, structured values as JSON.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def find_project_dir(start: Path | None = None) -> Path:
    """The Pulumi project that ``start`` (default: the current directory) is in, as the Pulumi CLI finds it.

    The CLI looks for ``Pulumi.yaml`` in the directory and then in each parent; so do we.
    There is no fallback: outside any project this is a :class:`UserError`, never some other
    program (a checker that falls back to a program the user did not mean passes the wrong thing).

    Example:
        >>> find_project_dir(Path("infra")) == find_project_dir(Path("."))   # doctest: +SKIP
        True
    """
    given = start is not None
    start = Path(start) if given else Path.cwd()
    if given and not start.exists():
        raise UserError(f"{start}: no such directory; pass the directory of a Pulumi project")
    if given and not start.is_dir():
        raise UserError(f"{start}: not a directory; pass the directory holding Pulumi.yaml")
    here = start.resolve()
    for directory in (here, *here.parents):
        if any((directory / name).is_file() for name in PROJECT_FILES):
            return directory
    where = str(start) if given else f"the current directory ({here})"
    raise UserError(f"no Pulumi.yaml in {where} or any parent directory; run this inside a Pulumi project "
                    "or pass its directory")


def load_program_spec(project_dir: Path, stack: str | None) -> ProgramSpec:
    """Parse ``project_dir/Pulumi.yaml`` and, when present, ``Pulumi.<stack>.yaml`` (absent: no stack config, a warning)."""
    project_dir = Path(project_dir).resolve()
    project_file = next((project_dir / n for n in PROJECT_FILES if (project_dir / n).is_file()),
                        project_dir / "Pulumi.yaml")
    if not project_file.is_file():
        raise UserError(f"{project_file}: no Pulumi.yaml here; pass the directory of a Pulumi project")
    doc = _read_yaml(project_file)
    if not isinstance(doc, dict) or not doc.get("name"):
        raise UserError(f"{project_file}: missing the project `name:`")
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise UserError(f"{project_file}: runtime is {runtime_name!r}; only Python programs can be rendered")
    project = str(doc["name"])
    main = (project_dir / str(doc.get("main") or ".")).resolve()
    entry = main / "__main__.py" if main.is_dir() else main
    if not entry.is_file():
        raise UserError(f"{project_file}: main program {entry} does not exist (check `main:`)")

    stack_name = stack or "dev"
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    warnings: list[str] = []
    project_config = doc.get("config") or {}
    if not isinstance(project_config, dict):
        raise UserError(f"{project_file}: `config:` must be a mapping of keys to values")
    # Project-level config: either `key: value` or `key: {default: value, ...}`.
    for key, value in project_config.items():
        if isinstance(value, dict) and ("default" in value or "type" in value):
            if "default" not in value:
                continue
            value = value["default"]
        elif isinstance(value, dict) and "value" in value:
            value = value["value"]
        config[_qualify(str(key), project)] = _wire_value(value)

    stack_file = project_dir / f"Pulumi.{stack_name}.yaml"
    if stack is not None and not stack_file.is_file():
        # The Pulumi CLI treats a missing stack file as a stack with no config; so do we, and
        # say so (with the stack files that do exist, in case the name is a typo).
        available = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        warnings.append(f"{stack_file.name} not found: stack {stack_name} has no stack config "
                        f"(stack files here: {', '.join(available) or 'none'})")
    if stack_file.is_file():
        stack_doc = _read_yaml(stack_file)
        if not isinstance(stack_doc, dict):
            # A list or scalar here would otherwise render the stack with no config at all.
            raise UserError(f"{stack_file}: expected a mapping with a `config:` section")
        stack_config = stack_doc.get("config")
        if stack_config is not None and not isinstance(stack_config, dict):
            raise UserError(f"{stack_file}: `config:` must be a mapping of keys to values")
        for key, value in (stack_config or {}).items():
            qualified = _qualify(str(key), project)
            if isinstance(value, dict) and set(value) == {"secure"}:
                warnings.append(f"{stack_file.name}: secret {qualified} cannot be decrypted offline; using a placeholder")
                value = SECRET_PLACEHOLDER
                secret_keys.append(qualified)
            config[qualified] = _wire_value(value)
    return ProgramSpec(project_dir, project, main, stack_name, config, secret_keys, warnings)
