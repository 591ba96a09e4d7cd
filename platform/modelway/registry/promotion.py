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

from modelway.config_files import load_config_file
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
    # separation of duties: whoever registered a version may not approve it too, unless allowed
    allow_self_approval: bool = False
    # ML Test Score M1: only committed, pushed code (a reviewable spec); None = required for prod only
    require_reviewed_code: bool | None = None

    def reviewed_code_required(self, env: str) -> bool:
        """Whether a registration for ``env`` must come from committed, pushed code (default: prod only).

        Example:
            >>> EnvironmentRule().reviewed_code_required("prod"), EnvironmentRule().reviewed_code_required("dev")
            (True, False)
        """
        return env == "prod" if self.require_reviewed_code is None else self.require_reviewed_code


class PromotionRules(BaseModel):
    """Rules for every environment.

    Example:
        >>> PromotionRules().for_env("staging").auto_approve
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    environments: dict[str, EnvironmentRule] = {
        "dev": EnvironmentRule(auto_approve=True, require_reason=False, allow_self_approval=True),
        "staging": EnvironmentRule(auto_approve=True, require_reason=False, allow_self_approval=True),
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
    file = Path(path)
    try:
        data = load_config_file(file, "promotion rules file") or {}
    except ConfigError as exc:
        text = str(exc)
        if text.startswith(str(file)):  # FILE:LINE: a syntax error or a duplicate key
            raise ConfigError(f"invalid promotion rules in {text} (MODELWAY_PROMOTION_RULES)") from None
        raise ConfigError(f"{text} (MODELWAY_PROMOTION_RULES)") from None
    try:
        return PromotionRules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ConfigError(f"invalid promotion rules in {file}: {where + ': ' if where else ''}{first['msg']}") from None
