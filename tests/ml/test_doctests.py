"""The examples in the ML modules' docstrings run and stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "modelway.datasets.credit", "modelway.stages.gates", "modelway.stages.validation", "modelway.stages.training",
    "modelway.stages.evaluation", "modelway.stages.fairness", "modelway.stages.robustness", "modelway.stages.model_schema",
    "modelway.stages.model_card", "modelway.stages.env", "modelway.stages.lifecycle", "modelway.stages.results",
    "modelway.stages.steps", "modelway.registry",
    "modelway.registry.semver", "modelway.registry.promotion", "modelway.registry.audit", "modelway.registry.embedded",
    "modelway.html_blocks", "modelway.settings", "modelway.dsl.hooks", "modelway.contracts.environments",
    "modelway.registry.anchor", "modelway.config_files", "modelway.exits", "modelway.store.faults",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, home):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
