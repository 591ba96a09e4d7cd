"""Read a CrossGuard ``--policy-pack-config`` file into per-policy enforcement levels and parameters.

The format is the Pulumi CLI's: ``{"<policy>": "<level>"}`` or
``{"<policy>": {"enforcementLevel": "<level>", "<param>": value}}``, plus an optional ``"all"``.
Parameters are validated against each policy's config schema (as the CLI does). Nothing may
be disabled: a rule may be downgraded to ``advisory``, never switched off silently.

Example:
    >>> settings = PackSettings.defaults()
    >>> settings.level("kms-key-rotation")
    'mandatory'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelway.config_files import load_json_text
from modelway.errors import ConfigError

ALLOWED_LEVELS = ("advisory", "mandatory")


def read_json(path: Path) -> Any:
    """Parse a JSON file, or raise ConfigError naming the file and line (duplicate keys refused)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy config ({exc.strerror})") from None
    return load_json_text(text, path)


@dataclass
class PackSettings:
    """Effective level and parameters of every policy."""

    levels: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "pack defaults"
    unlisted: list[str] = field(default_factory=list)
    """Policies a loaded config file neither names nor covers with ``all`` (they keep their default level)."""

    def level(self, policy: str) -> str:
        return self.levels[policy]

    def config_for(self, policy: str) -> dict[str, Any]:
        """The parameters passed to the policy as ``args.get_config()``."""
        return dict(self.params.get(policy, {}))

    @classmethod
    def defaults(cls) -> "PackSettings":
        from modelway.policies.catalog import ALL_POLICIES

        return cls(levels={p.name: p.enforcement_level.value for p in ALL_POLICIES})

    @classmethod
    def load(cls, path: Path | None) -> "PackSettings":
        """Defaults overlaid with the file at ``path`` (if any); ConfigError on any problem."""
        settings = cls.defaults()
        if path is None:
            return settings
        document = read_json(path)
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: a policy config is a JSON object of policy name -> level or settings")
        settings.source = str(path)
        from modelway.policies.catalog import ALL_POLICIES

        policies = {p.name: p for p in ALL_POLICIES}
        if "all" in document:
            level = _level(document["all"], path, "all")
            settings.levels = {name: level for name in settings.levels}
        for name, value in document.items():
            if name == "all":
                continue
            if name not in policies:
                close = sorted(n for n in policies if n.split("-")[0] == name.split("-")[0])[:3]
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise ConfigError(f"{path}: unknown policy {name!r}{hint}")
            if isinstance(value, str):
                settings.levels[name] = _level(value, path, name)
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {name}: expected a level string or an object")
            if "enforcementLevel" in value:
                settings.levels[name] = _level(value["enforcementLevel"], path, name)
            params = {k: v for k, v in value.items() if k != "enforcementLevel"}
            _validate_params(policies[name], params, path)
            settings.params[name] = params
        if "all" not in document:
            # Our configs list every policy on purpose; one that is left out (a new rule, a
            # typo'd copy) would silently run at its default level, so the report names them.
            settings.unlisted = sorted(set(policies) - set(document))
        return settings

    def unlisted_warning(self) -> str | None:
        """One report warning naming the policies the config file leaves out, or None."""
        if not self.unlisted:
            return None
        names = ", ".join(f"{name} ({self.levels[name]})" for name in self.unlisted)
        plural = "policy" if len(self.unlisted) == 1 else "policies"
        return f"{self.source}: {len(self.unlisted)} {plural} not listed, default level used: {names}"


def _level(value: Any, path: Path, name: str) -> str:
    if value == "disabled":
        raise ConfigError(f"{path}: {name}: policies cannot be disabled; downgrade to \"advisory\" instead")
    if value not in ALLOWED_LEVELS:
        raise ConfigError(f"{path}: {name}: enforcementLevel must be one of {', '.join(ALLOWED_LEVELS)}, got {value!r}")
    return str(value)


def _validate_params(policy: Any, params: dict[str, Any], path: Path) -> None:
    schema = policy.config_schema
    known = schema.properties if schema is not None else {}
    for key in params:
        if key not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{path}: {policy.name}: unknown parameter {key!r} (parameters: {allowed})")
    if not params:
        return
    import jsonschema

    try:
        jsonschema.validate(params, {"type": "object", "properties": known})
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        raise ConfigError(f"{path}: {policy.name}.{where}: {exc.message}") from None
