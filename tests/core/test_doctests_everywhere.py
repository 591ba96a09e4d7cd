"""Every module with examples in its docstrings runs them, and they stay true.

Modules are found by scanning the package and the policy pack for ``>>>``, so a new example
is run without registering it here. The ML modules' examples run in tests/ml/test_doctests.py
(with the ML fixtures); they are left out here rather than run twice.
"""
from __future__ import annotations

import ast
import asyncio
import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "platform" / "modelway"


def _ml_modules() -> set[str]:
    tree = ast.parse((REPO / "tests" / "ml" / "test_doctests.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MODULES" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def _module_name(path: Path) -> str:
    if path.is_relative_to(PACKAGE):
        parts = ("modelway", *path.relative_to(PACKAGE).with_suffix("").parts)
    else:  # the pack ships as modelway.policies
        parts = ("modelway", "policies", *path.relative_to(REPO / "policies").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules_with_examples() -> list[str]:
    files = [*PACKAGE.rglob("*.py"), *(REPO / "policies").glob("*.py")]
    names = {_module_name(p) for p in files if ">>>" in p.read_text(encoding="utf-8")}
    return sorted(names - _ml_modules())


MODULES = _modules_with_examples()


def test_examples_are_found_in_the_store_and_the_policy_report() -> None:
    assert {"modelway.artifacts.store", "modelway.store.runs", "modelway.policy_check.report",
            "modelway.policy_check.waivers"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module, name, globs=vars(module).copy())
    try:
        for test in tests:
            runner.run(test)
    finally:
        try:
            asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:  # an example ran asyncio.run(), which leaves the main thread without a loop
            asyncio.set_event_loop(asyncio.new_event_loop())  # later tests (Pulumi mocks) expect one
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
