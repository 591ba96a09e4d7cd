"""Runtime settings of Modelway, read once from the environment (prefix ``MODELWAY_``).

Example:
    >>> from modelway.settings import get_settings
    >>> get_settings().home.name
    '.modelway'
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Modelway keeps its state and how it runs pipelines by default.

    Example:
        >>> Settings(home="/tmp/mw").executor
        'process'
    """

    model_config = SettingsConfigDict(env_prefix="MODELWAY_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".modelway"), description="Artifacts, run store and registry live here.")
    executor: Literal["process", "inprocess"] = Field(
        default="process", description="Default step executor: one process per step, or in the runner process."
    )
    workers: PositiveInt | None = Field(default=None, description="Concurrent steps; default = number of cores.")
    preload: bool = Field(
        default=True, description="Import the modules pipelines declare in preload=[...] before forking steps "
        "(MODELWAY_PRELOAD=0 turns it off, e.g. to measure what it saves)."
    )

    def resolved_home(self) -> Path:
        """The home directory as an absolute path (created on first use by the stores)."""
        return self.home.expanduser().absolute()


@functools.lru_cache(maxsize=8)
def _cached(env_key: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()


def get_settings() -> Settings:
    """Return the settings for the current environment (re-read when MODELWAY_* variables change).

    Example:
        >>> get_settings().executor in ("process", "inprocess")
        True
    """
    env_key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MODELWAY_")))
    try:
        return _cached(env_key)
    except Exception as exc:  # pydantic ValidationError: name the variable and allowed values
        from modelway.errors import ConfigError

        raise ConfigError(f"invalid MODELWAY_* environment setting: {_one_line(exc)}") from None


def _one_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = [f"MODELWAY_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in errors()]
        return "; ".join(parts)
    return str(exc).splitlines()[0]
