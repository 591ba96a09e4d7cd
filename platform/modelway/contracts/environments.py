"""The environments a platform is deployed to and models are approved for: one type, used everywhere.

Pulumi stacks, ``PlatformConfig.environment``, ``StackOutputs.environment``, the promotion
rules and the pipelines' ``env`` parameter all take these values.

Example:
    >>> ENVIRONMENTS
    ('dev', 'staging', 'prod')
"""
from __future__ import annotations

from typing import Literal, get_args

Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = get_args(Environment)
