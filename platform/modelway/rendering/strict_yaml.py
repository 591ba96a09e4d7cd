"""Read the YAML files users write (Pulumi project/stack files, waivers) strictly and in one line on error.

PyYAML's ``safe_load`` keeps the last of two equal keys (so a second ``modelway:storage:``
silently replaces the first) and turns ``2027-13-45`` into a ValueError traceback while
constructing a date. This loader refuses duplicate keys and leaves timestamps as text,
as the Pulumi CLI does with config values; callers parse dates where they know the field.

Example:
    >>> load_yaml_text("a: 1\\nb: 2027-06-30\\n", "w.yaml")
    {'a': 1, 'b': '2027-06-30'}
    >>> load_yaml_text("a: 1\\na: 2\\n", "w.yaml")
    Traceback (most recent call last):
    ...
    modelway.errors.ConfigError: w.yaml:2: duplicate key 'a' (the first is on line 1)
"""
from __future__ import annotations

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
    """Parse ``text``; a ConfigError ``<where>:<line>: <problem>`` on invalid YAML or a duplicate key."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except _DuplicateKey as exc:
        raise ConfigError(f"{where}:{exc.line}: duplicate key {exc.key!r} (the first is on line {exc.first_line})") \
            from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
