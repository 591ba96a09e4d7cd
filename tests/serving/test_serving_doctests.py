"""The examples in the serving, deploy, monitoring and trigger modules' docstrings run and stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "modelway.serving.payload", "modelway.serving.traffic", "modelway.serving.capture", "modelway.serving.metrics",
    "modelway.serving.variant", "modelway.serving.app", "modelway.serving.client", "modelway.deploy.base",
    "modelway.serving.state", "modelway.deploy.guardrails", "modelway.deploy.contract", "modelway.deploy.approval",
    "modelway.deploy.embedded", "modelway.monitoring.base", "modelway.profiling.profile", "modelway.profiling.drift",
    "modelway.monitoring.sinks", "modelway.monitoring.monitor", "modelway.monitoring.report", "modelway.triggers.config",
    "modelway.triggers.engine", "modelway.triggers.incremental", "modelway.features", "modelway.serving.resources",
    "modelway.datasets.credit_features",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, home):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
