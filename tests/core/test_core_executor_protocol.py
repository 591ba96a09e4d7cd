"""Every executor the runner can be handed satisfies the ``Executor`` protocol: the local ones
(in-process, a forked process per step, the GPU queue) and the stack ones under ``backends/``
(SageMaker training jobs, the routing between local and remote). Found by scanning the
modules, so an executor added later (a Kubernetes one) is checked without editing this file."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest

import modelway.backends
import modelway.runtime
from modelway.runtime.executors import Executor, InProcessExecutor, ProcessExecutor
from modelway.runtime.gpus import GpuScheduling

PROTOCOL_METHODS = ("submit", "running", "wait", "cancel_all")


def _executor_classes() -> list[type]:
    """Classes under modelway.runtime and modelway.backends that look like executors (submit + wait)."""
    found: dict[str, type] = {}
    for package in (modelway.runtime, modelway.backends):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and cls is not Executor and all(
                        callable(getattr(cls, m, None)) for m in ("submit", "wait")):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


EXECUTORS = _executor_classes()


def test_the_known_executors_are_found() -> None:
    names = {cls.__name__ for cls in EXECUTORS}
    assert {"InProcessExecutor", "ProcessExecutor", "GpuScheduling", "SageMakerExecutor", "RoutingExecutor"} <= names


@pytest.mark.parametrize("cls", EXECUTORS, ids=lambda cls: cls.__name__)
def test_executor_implements_the_protocol(cls: type) -> None:
    for method in PROTOCOL_METHODS:
        assert callable(getattr(cls, method, None)), f"{cls.__name__} has no {method}()"
        wanted = inspect.signature(getattr(Executor, method))
        got = inspect.signature(getattr(cls, method))
        # same parameters, in the same order, with the same defaults (the runner passes them positionally)
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
               [(p.name, p.kind, p.default) for p in wanted.parameters.values()], f"{cls.__name__}.{method}{got}"
        # the same annotations (strings under `from __future__ import annotations`)
        assert typing.get_type_hints(getattr(cls, method), vars(inspect.getmodule(cls))) == \
               typing.get_type_hints(getattr(Executor, method), vars(inspect.getmodule(Executor))), \
               f"{cls.__name__}.{method} annotations differ from Executor.{method}"
    # ``name`` is a class attribute, or set in __init__ (a wrapper takes its inner executor's)
    source = inspect.getsource(cls)
    assert isinstance(getattr(cls, "name", None), str) or "self.name =" in source, f"{cls.__name__} has no name"


def test_a_local_executor_is_an_executor_at_run_time() -> None:
    for executor in (InProcessExecutor(), ProcessExecutor(), GpuScheduling(InProcessExecutor(), devices=[])):
        assert isinstance(executor, Executor)
    assert not isinstance(object(), Executor)
