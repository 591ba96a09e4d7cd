"""Read the stack's Pulumi config ONCE into a validated PlatformConfig (before any resource exists)."""
from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from modelway.contracts.platform_config import CONFIG_NAMESPACE, PlatformConfig


def _all_config_values() -> dict[str, str]:
    # pulumi.Config only answers key by key; we need every `modelway:` key to reject
    # unknown ones (extra="forbid"). The engine passes config either through
    # set_all_config (the language host, and mocks) or through PULUMI_CONFIG (older CLIs).
    values = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return {key: value for key, value in values.items() if isinstance(value, str)}


def load_platform_config() -> PlatformConfig:
    """The PlatformConfig of the current stack, or a one-line ConfigError naming the bad key.

    Example:
        >>> cfg = load_platform_config()          # doctest: +SKIP
        >>> cfg.gpu_pool.max_size                 # doctest: +SKIP
        16
    """
    values = _all_config_values()
    stack = pulumi.get_stack()
    if not any(key.startswith(f"{CONFIG_NAMESPACE}:") for key in values):
        # The defaults are safe (retained data, manual approval, a year of logs), so an empty
        # stack file still deploys; but it is almost always a forgotten or misnamed file, and
        # the result has no GPU pool, no tenancy and placeholder tags: say so in every render.
        pulumi.log.warn(f"Pulumi.{stack}.yaml sets no {CONFIG_NAMESPACE}: config; the {stack} stack uses the "
                        "default of every key (no GPU pool, no Kubernetes tenancy, default tags and budget): "
                        "set the keys it needs (README.md, section 'Config keys')")
    return PlatformConfig.from_pulumi_values(values, stack=stack)
