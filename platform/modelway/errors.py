"""Errors a user can cause, and how the CLI reports them.

Anything raised as :class:`UserError` (or a subclass) is printed by the CLI as one line
naming what is wrong and where, and the process exits with code 2. Tracebacks are shown
only with ``--debug``. Library code raises these; it never calls ``sys.exit`` itself.
"""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: bad input, bad config, bad definition. Exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """Invalid configuration (stack config, settings, policy config, waivers)."""


class DefinitionError(UserError):
    """An invalid pipeline or step definition, found when the pipeline is built."""
