"""Contracts between layers: typed config and outputs shared by infra, runtime and policies (no Pulumi import)."""
from modelway.contracts.platform_config import PlatformConfig
from modelway.contracts.stack_outputs import StackOutputs

__all__ = ["PlatformConfig", "StackOutputs"]
