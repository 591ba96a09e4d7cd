"""Where ML stages keep state and what they know about the environment they run in.

Example:
    >>> target_environment("staging")
    'staging'
"""
from __future__ import annotations

import functools
from pathlib import Path

from modelway.contracts.environments import ENVIRONMENTS, Environment
from modelway.errors import ConfigError
from modelway.lineage.collect import git_info
from modelway.registry.promotion import load_promotion_rules
from modelway.settings import current_user, get_settings

__all__ = ["build_time_settings", "current_user", "git_commit", "limited_threads", "ml_threads", "modelway_home",
           "target_environment"]


def modelway_home() -> Path:
    """``$MODELWAY_HOME`` (default ``.modelway``) as an absolute path, created if missing.

    Example:
        >>> modelway_home().is_absolute()
        True
    """
    home = get_settings().resolved_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def target_environment(explicit: str | None = None) -> Environment:
    """The environment a model is registered for: the argument, else ``$MODELWAY_ENV``, else dev.

    Example:
        >>> target_environment("prod")
        'prod'
    """
    env = (explicit or get_settings().env or "dev").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r} (MODELWAY_ENV or the env parameter); use one of {list(ENVIRONMENTS)}")
    return env  # type: ignore[return-value]  # checked against ENVIRONMENTS above


def build_time_settings(env: str | None = None) -> tuple[Environment, dict]:
    """The target environment and the promotion rules, resolved when a pipeline is *built*.

    Call it in the pipeline body (before the step calls) and pass both to the steps as plain
    constants: constants are part of the steps' cache keys, so ``MODELWAY_ENV=staging`` or a
    changed ``$MODELWAY_PROMOTION_RULES`` file re-runs the steps that depend on them instead
    of reusing a dev run's results. A bad value fails here, before any step runs (exit 2).

    Example:
        >>> env, rules = build_time_settings("staging")
        >>> env, rules["environments"]["staging"]["auto_approve"]
        ('staging', True)
    """
    target, rules = target_environment(env), load_promotion_rules()
    rules.for_env(target)  # rules without the run's environment are refused now, not at `register`
    return target, rules.model_dump(mode="json")


@functools.lru_cache(maxsize=4)
def git_commit(cwd: str = ".") -> dict[str, object]:
    """The current git commit and dirty flag (``unknown`` outside a repository); the run lineage's
    :func:`~modelway.lineage.collect.git_info`, in the shape model cards and the registry record.

    Example:
        >>> sorted(git_commit())
        ['commit', 'dirty']
    """
    info = git_info(Path(cwd))
    return {"commit": info.get("commit", "unknown"), "dirty": bool(info.get("dirty", False))}


def ml_threads() -> int:
    """Native threads (OpenMP/BLAS) per training or evaluation step: ``$MODELWAY_ML_THREADS``, default 1.

    One thread per step is the default because steps already run in parallel processes and,
    on a small shared machine, OpenMP's spinning threads oversubscribe the cores: a
    HistGradientBoosting fit measured 8x slower with 2 threads than with 1 on a busy 2-core box.

    Example:
        >>> ml_threads() >= 1
        True
    """
    return get_settings().ml_threads


def limited_threads():
    """Context manager capping native thread pools at :func:`ml_threads`.

    Example:
        >>> with limited_threads():
        ...     pass
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=ml_threads())
