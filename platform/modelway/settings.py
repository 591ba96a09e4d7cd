"""Runtime settings of Modelway, read once from the environment (prefix ``MODELWAY_``).

Every ``MODELWAY_*`` variable is read here and nowhere else. The model is a frozen
:class:`~modelway.light_models.LightModel` filled from ``os.environ``: pydantic-settings would do the
same, but importing it (with its cloud secret providers) costs about a tenth of a second on every
command, and pydantic itself is imported only when a variable needs converting (``MODELWAY_HOME``
and the other text and path variables do not).

Example:
    >>> from modelway.settings import Settings
    >>> Settings.from_env({}).home.name, Settings.from_env({"MODELWAY_HOME": "/srv/mw"}).resolved_home()
    ('.modelway', PosixPath('/srv/mw'))
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from modelway.errors import ConfigError
from modelway.light_models import Bounds, InvalidFields, LightModel

PREFIX = "MODELWAY_"


class Settings(LightModel):
    """Where Modelway keeps its state, how it runs pipelines by default, and who is acting.

    Example:
        >>> Settings(home="/tmp/mw").executor
        'process'
        >>> Settings.from_env({"MODELWAY_WORKERS": "3", "MODELWAY_PRELOAD": "0"}).workers
        3
    """

    home: Path = Path(".modelway")  # artifacts, run store and registry live here
    executor: Literal["process", "inprocess"] = "process"  # one process per step, or in the runner process
    workers: Annotated[int, Bounds(gt=0)] | None = None  # concurrent steps; default = number of cores
    # import the modules pipelines declare in preload=[...] before forking steps (MODELWAY_PRELOAD=0
    # turns it off, e.g. to measure what it saves)
    preload: bool = True
    # environment models are registered for when a pipeline does not say (dev, staging, prod;
    # checked where it is used, default dev)
    env: str | None = None
    user: str | None = None  # who is acting (approvals, card owner); default: the login name
    ml_threads: Annotated[int, Bounds(gt=0)] = 1  # native (OpenMP/BLAS) threads per training or evaluation step
    tracking_uri: str | None = None  # MLflow tracking URI; default: a SQLite store under the home
    promotion_rules: Path | None = None  # YAML file with the approval rules per environment
    # a folder the user chose for caches shared by many homes (e.g. the empty MLflow store
    # template); unset: nothing is written outside the home
    cache_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from ``MODELWAY_*`` variables (names are case-insensitive, unknown ones ignored)."""
        environ = os.environ if environ is None else environ
        given = {k[len(PREFIX):].lower(): v for k, v in environ.items() if k.upper().startswith(PREFIX)}
        values = {k: v for k, v in given.items() if k in cls.FIELDS}  # unknown variables are ignored
        for key in _PATHS:  # a path from the environment is text: Path() is all pydantic would do
            if isinstance(values.get(key), str) and values[key]:
                values[key] = Path(values[key])
        return cls(**values)

    def resolved_home(self) -> Path:
        """The home directory as an absolute path (created on first use by the stores)."""
        return self.home.expanduser().absolute()


@functools.lru_cache(maxsize=8)
def _cached(env_key: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(env_key))


def get_settings() -> Settings:
    """Return the settings for the current environment (re-read when MODELWAY_* variables change).

    Example:
        >>> get_settings().executor in ("process", "inprocess")
        True
    """
    env_key = tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX)))
    try:
        return _cached(env_key)
    except InvalidFields as exc:  # name the variable and the allowed values
        raise ConfigError(f"invalid MODELWAY_* environment setting: {_one_line(exc)}") from None


def current_user() -> str:
    """Who is acting (approvals, card owner): ``$MODELWAY_USER``, else the login name.

    Example:
        >>> isinstance(current_user(), str)
        True
    """
    import getpass

    try:
        return get_settings().user or getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown"


def tracking_uri() -> str:
    """``$MODELWAY_TRACKING_URI``, else the SQLite MLflow store under ``$MODELWAY_HOME``.

    Example:
        >>> tracking_uri().startswith("sqlite:///")
        True
    """
    settings = get_settings()
    return settings.tracking_uri or f"sqlite:///{settings.resolved_home() / 'mlflow.db'}"


def ui_command() -> str:
    """The command that opens the MLflow UI on our store.

    Example:
        >>> ui_command().startswith("mlflow ui --backend-store-uri ")
        True
    """
    return f"mlflow ui --backend-store-uri {tracking_uri()}"


_PATHS = ("home", "promotion_rules", "cache_dir")


def _one_line(exc: InvalidFields) -> str:
    return "; ".join(f"{PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
