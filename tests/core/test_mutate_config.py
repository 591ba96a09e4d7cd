"""The mutation-testing config in pyproject.toml stays true to the code it describes.

An equivalent mutant is left out of a score on the strength of its written reason; an entry whose
line no longer exists in its file (the code moved or changed) would silently excuse nothing, or,
after an edit that brings the text back elsewhere, excuse a mutant nobody looked at. Every listed
module and test file must exist too, or ``make mutate`` scores the wrong thing.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["modelway"]["mutate"]


@pytest.mark.parametrize("entry", CONFIG["equivalent"], ids=lambda e: f"{e['path']}:{e['line'][:40]}")
def test_each_equivalent_names_a_line_of_its_file_and_a_reason(entry):
    lines = {line.strip() for line in (ROOT / entry["path"]).read_text().splitlines()}
    assert entry["line"].strip() in lines, f"{entry['path']} has no line {entry['line']!r}"
    assert len(entry["reason"].split()) >= 4


def test_each_module_and_its_tests_exist_and_names_are_unique():
    names = [m["name"] for m in CONFIG["modules"]]
    assert len(names) == len(set(names))
    for module in CONFIG["modules"]:
        assert (ROOT / module["path"]).is_file(), module["path"]
        assert module["tests"], module["name"]
        for test in module["tests"]:
            assert (ROOT / test.split("::")[0]).is_file(), test
