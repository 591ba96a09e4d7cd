"""The one strict reader for the config files users write, JSON and YAML alike.

Both formats silently keep the *last* of two equal keys (``json.loads`` and PyYAML's
``safe_load``), so a second ``"prod"`` block or a repeated ``auto_approve:`` quietly replaces
the first. Here a duplicate key is refused with ``FILE:LINE: duplicate key 'k' (the first is on
line N)``, and every other problem (unreadable file, syntax error) is one ConfigError line
naming the file and line. YAML timestamps stay text, as the Pulumi CLI keeps config values;
callers parse dates where they know the field.

Example:
    >>> load_yaml_text("a: 1\\nb: 2027-06-30\\n", "w.yaml")
    {'a': 1, 'b': '2027-06-30'}
    >>> load_json_text('{"a": 1,\\n "a": 2}', "c.json")
    Traceback (most recent call last):
    ...
    modelway.errors.ConfigError: c.json:2: duplicate key 'a' (the first is on line 1)
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from modelway.errors import ConfigError


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys and keeps timestamps as strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let SafeLoader report it as usual
                break
            if first is not None:
                raise _DuplicateKey(key, line, first)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_str)
StrictLoader.add_constructor("tag:yaml.org,2002:map", StrictLoader.construct_yaml_map)


def load_yaml_text(text: str, where: str | Path) -> Any:
    """Parse YAML ``text``; a ConfigError ``<where>:<line>: <problem>`` on invalid YAML or a duplicate key."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except _DuplicateKey as exc:
        raise ConfigError(f"{where}:{exc.line}: duplicate key {exc.key!r} (the first is on line {exc.first_line})") \
            from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}{_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``:LINE:COL: not valid YAML: problem (context started on line N)`` (PyYAML marks are 0-based)."""
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        context += f" started on line {context_mark.line + 1}"
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def load_json_text(text: str, where: str | Path) -> Any:
    """Parse JSON ``text``; a ConfigError ``<where>:<line>: <problem>`` on invalid JSON or a duplicate key."""
    try:
        document = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except _JsonDuplicate as exc:
        first, second = _key_lines(text, exc.key)
        where_line = f"{where}:{second}" if second else str(where)
        first_note = f" (the first is on line {first})" if first else ""
        raise ConfigError(f"{where_line}: duplicate key {exc.key!r}{first_note}") from None
    return document


def load_config_file(path: str | Path, what: str = "config file") -> Any:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file strictly (by its suffix; anything else as YAML,
    which also reads JSON); ConfigError naming ``what`` when the file is missing or unreadable."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {file} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {file} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {file} ({getattr(exc, 'strerror', None) or exc})") from None
    if file.suffix.lower() == ".json":
        return load_json_text(text, file)
    return load_yaml_text(text, file)


class _JsonDuplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _JsonDuplicate(key)
        document[key] = value
    return document


def _key_lines(text: str, key: str) -> tuple[int | None, int | None]:
    """Lines of the first two occurrences of ``"key":`` (json reports no position for this error)."""
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:")
    lines = [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]
    return (lines[0] if lines else None, lines[1] if len(lines) > 1 else None)
