"""Per-environment promotion rules: who may approve a model version for dev, staging, prod.

Defaults: ``dev`` and ``staging`` approve automatically when every gate passed; ``prod``
needs a human approval with a reason. Override them with a YAML file (path in
``$MODELWAY_PROMOTION_RULES`` or passed explicitly), e.g.::

    environments:
      dev:     {auto_approve: true}
      staging: {auto_approve: false, require_reason: true}
      prod:    {auto_approve: false, require_reason: true}

Example:
    >>> rules = load_promotion_rules()
    >>> rules.for_env("prod").auto_approve, rules.for_env("dev").auto_approve
    (False, True)
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from modelway.errors import ConfigError
from modelway.settings import get_settings

AUTO_APPROVER = "modelway-auto"


class EnvironmentRule(BaseModel):
    """How versions registered for one environment get approved.

    Example:
        >>> EnvironmentRule(auto_approve=False).require_reason
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve: bool = False
    require_reason: bool = True
    require_gates_passed: bool = True


class PromotionRules(BaseModel):
    """Rules for every environment.

    Example:
        >>> PromotionRules().for_env("staging").auto_approve
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: dict[str, EnvironmentRule] = {
        "dev": EnvironmentRule(auto_approve=True, require_reason=False),
        "staging": EnvironmentRule(auto_approve=True, require_reason=False),
        "prod": EnvironmentRule(auto_approve=False, require_reason=True),
    }

    def for_env(self, env: str) -> EnvironmentRule:
        try:
            return self.environments[env]
        except KeyError:
            raise ConfigError(f"no promotion rule for environment {env!r}; configured: {sorted(self.environments)}") from None


def load_promotion_rules(path: str | Path | None = None) -> PromotionRules:
    """Rules from ``path`` / ``$MODELWAY_PROMOTION_RULES``, else the defaults.

    Example:
        >>> load_promotion_rules().for_env("dev").require_gates_passed
        True
    """
    path = path or get_settings().promotion_rules
    if not path:
        return PromotionRules()
    import yaml

    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text()) or {}
        return PromotionRules.model_validate(data)
    except FileNotFoundError:
        raise ConfigError(f"promotion rules file {file} not found (MODELWAY_PROMOTION_RULES)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid promotion rules in {_yaml_problem(file, exc)} (MODELWAY_PROMOTION_RULES)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ConfigError(f"invalid promotion rules in {file}: {where + ': ' if where else ''}{first['msg']}") from None


def _yaml_problem(file: Path, exc: Exception) -> str:
    """``FILE:LINE:COL: problem (context)`` for a YAML syntax error (PyYAML marks are 0-based)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        context += f" started on line {context_mark.line + 1}"
    return f"{where}: {problem}" + (f" ({context})" if context else "")
