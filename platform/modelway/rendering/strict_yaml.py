"""Strict YAML for the files users write (Pulumi project/stack files, waivers).

The loader lives in :mod:`modelway.config_files`, the one strict reader for JSON and YAML
config files (duplicate keys refused, timestamps kept as text); this module keeps the names
the rendering and policy code import.

Example:
    >>> load_yaml_text("a: 1\\na: 2\\n", "w.yaml")
    Traceback (most recent call last):
    ...
    modelway.errors.ConfigError: w.yaml:2: duplicate key 'a' (the first is on line 1)
"""
from __future__ import annotations

from modelway.config_files import StrictLoader, load_yaml_text

__all__ = ["StrictLoader", "load_yaml_text"]
