"""Contracts between layers: typed config and outputs shared by infra, runtime and policies (no Pulumi import).

Names are loaded on first use: the pipeline runner needs only ``resource_settings`` and
should not pay for building the platform config models on every ``modelway run``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelway.contracts.platform_config import PlatformConfig
    from modelway.contracts.resource_settings import ResourceSettings
    from modelway.contracts.stack_outputs import StackOutputs

_HOMES = {
    "PlatformConfig": "modelway.contracts.platform_config",
    "StackOutputs": "modelway.contracts.stack_outputs",
    "ResourceSettings": "modelway.contracts.resource_settings",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'modelway.contracts' has no attribute {name!r}")
