"""What a Modelway rule is: a plain check function wrapped in a CrossGuard policy with its metadata.

A *resource check* is ``check(resource_type, props, ctx)`` and a *stack check* is
``check(resources, ctx)``. Both yield a message string (or :class:`Violation`) per
violation and a :class:`Note` for anything they could not evaluate (an unknown value during
preview, a document that does not parse). :class:`ResourceRule` / :class:`StackRule` wrap
them into real ``pulumi_policy`` policies, so the pack served to ``pulumi preview``, the
offline checker and the tests all run the same objects:

* ``validate(args, report_violation)`` is what the Pulumi CLI calls; notes without any
  violation are reported as "not applicable" with the reason, never as a silent pass.
* ``evaluate(args) -> Outcome`` is what the offline checker and the tests call.

Example:
    >>> def check(resource_type, props, ctx):
    ...     if props.get("enableKeyRotation") is not True:
    ...         yield "rotation is off"
    >>> rule = ResourceRule("kms-key-rotation", "KMS keys rotate.", check=check,
    ...                     resource_types=["aws:kms/key:Key"], remediation="Set enableKeyRotation.",
    ...                     mirrors=["CKV_AWS_7"], concern="storage")
    >>> rule.enforcement_level.value
    'mandatory'
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .levels import DEFAULT_LEVELS
from .values import unwrap


@dataclass(frozen=True)
class Violation:
    """One violation; ``urn`` names the offending resource (stack checks), else the checked one."""

    message: str
    urn: str | None = None


@dataclass(frozen=True)
class Note:
    """A part of a rule that could not be evaluated, and why (reported, never a silent pass)."""

    message: str
    urn: str | None = None


@dataclass
class Outcome:
    """What one rule found on one resource (or on the stack)."""

    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a check may know besides the props: its parameters, and where it is looking."""

    config: Mapping[str, Any]
    urn: str = ""
    name: str = ""
    provider_props: Mapping[str, Any] | None = None
    stack_tags: Mapping[str, str] = field(default_factory=dict)
    stack: "StackInfo | None" = None


@dataclass(frozen=True)
class StackResource:
    """A resource as a stack check sees it: type token, plain props (camelCase), URN, name."""

    type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    provider_props: Mapping[str, Any] | None = None

    @property
    def id(self) -> str | None:
        """The provider id when known (outputs carry it; plain inputs do not)."""
        value = self.props.get("id")
        return value if isinstance(value, str) else None


ResourceCheck = Callable[[str, Mapping[str, Any], Context], Iterable["str | Violation | Note"]]
StackCheck = Callable[[Sequence[StackResource], Context], Iterable["str | Violation | Note"]]


def _collect(items: Iterable[Any], default_urn: str | None) -> Outcome:
    outcome = Outcome()
    for item in items:
        if isinstance(item, Note):
            note = item if item.urn else Note(item.message, default_urn)
            if note not in outcome.notes:  # two readers of one document may each note the same unknown
                outcome.notes.append(note)
        elif isinstance(item, Violation):
            outcome.violations.append(item if item.urn else Violation(item.message, default_urn))
        else:
            outcome.violations.append(Violation(str(item), default_urn))
    return outcome


INTERNAL_ERROR = "could not evaluate"


def _guarded(run: Callable[[], Outcome], policy: str, urn: str | None) -> Outcome:
    """Run a check; a value no rule anticipated becomes a visible note, never a crash or a pass."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - last line of defence, reported to the user
        return Outcome(notes=[Note(f"{INTERNAL_ERROR} ({type(exc).__name__}: {exc}); please report this to the "
                                   f"{policy} maintainers", urn)])


class _RuleMixin:
    """Metadata shared by both rule kinds: mirrors, concern, parameter defaults."""

    name: str
    config_schema: PolicyConfigSchema | None
    mirrors: tuple[str, ...]
    concern: str
    kind: str

    def _init_meta(self, mirrors: Sequence[str], concern: str) -> None:
        self.mirrors = tuple(mirrors)
        self.concern = concern

    def params(self, configured: Mapping[str, Any] | None) -> dict[str, Any]:
        """Schema defaults overlaid with the configured values (``--policy-pack-config``)."""
        values: dict[str, Any] = {}
        if self.config_schema is not None:
            for key, spec in self.config_schema.properties.items():
                if "default" in spec:
                    values[key] = spec["default"]
        values.update({k: v for k, v in (configured or {}).items() if k != "enforcementLevel"})
        return values


def _schema(params: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in params.items()}) if params else None


class ResourceRule(ResourceValidationPolicy, _RuleMixin):
    """A CrossGuard resource policy around a plain ``check(resource_type, props, ctx)``.

    ``resource_types`` limits the rule to those type tokens (empty: every resource).
    ``params`` is a JSON-schema ``properties`` map with defaults (the policy's config schema).
    """

    kind = "resource"

    def __init__(self, name: str, description: str, *, check: ResourceCheck, resource_types: Iterable[str],
                 remediation: str, mirrors: Sequence[str], concern: str,
                 severity: Severity = Severity.HIGH, params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.check = check
        self.resource_types = frozenset(resource_types)
        self._init_meta(mirrors, concern)
        super().__init__(name=name, description=description, validate=self._validate,
                         enforcement_level=DEFAULT_LEVELS[name], config_schema=_schema(params),
                         severity=severity, tags=[concern, *mirrors], remediation_steps=remediation)

    def applies_to(self, resource_type: str) -> bool:
        """Whether this rule looks at resources of ``resource_type`` at all."""
        return not self.resource_types or resource_type in self.resource_types

    def evaluate(self, args: ResourceValidationArgs) -> Outcome:
        """Run the check on one resource and return violations and notes."""
        if not self.applies_to(args.resource_type):
            return Outcome()
        provider_props = unwrap(args.provider.props) if args.provider is not None else None
        ctx = Context(config=self.params(args.get_config()), urn=args.urn, name=args.name,
                      provider_props=provider_props, stack_tags=args.stack_tags)
        return _guarded(lambda: _collect(self.check(args.resource_type, unwrap(args.props), ctx), args.urn),
                        self.name, args.urn)

    def _validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        outcome = self.evaluate(args)
        for violation in outcome.violations:
            report_violation(violation.message, None)
        if outcome.notes and not outcome.violations:
            args.not_applicable("; ".join(note.message for note in outcome.notes))


class StackRule(StackValidationPolicy, _RuleMixin):
    """A CrossGuard stack policy around a plain ``check(resources, ctx)`` (cross-resource views)."""

    kind = "stack"

    def __init__(self, name: str, description: str, *, check: StackCheck, remediation: str,
                 mirrors: Sequence[str], concern: str, severity: Severity = Severity.HIGH,
                 params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.check = check
        self._init_meta(mirrors, concern)
        super().__init__(name=name, description=description, validate=self._validate,
                         enforcement_level=DEFAULT_LEVELS[name], config_schema=_schema(params),
                         severity=severity, tags=[concern, *mirrors], remediation_steps=remediation)

    def evaluate(self, args: StackValidationArgs) -> Outcome:
        """Run the check over every resource of the stack."""
        resources = stack_resources(args.resources)
        ctx = Context(config=self.params(args.get_config()), stack_tags=args.stack_tags, stack=current_stack())
        return _guarded(lambda: _collect(self.check(resources, ctx), None), self.name, None)

    def _validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        outcome = self.evaluate(args)
        for violation in outcome.violations:
            report_violation(violation.message, violation.urn)
        if outcome.notes and not outcome.violations:
            args.not_applicable("; ".join(note.message for note in outcome.notes))


@dataclass(frozen=True)
class StackInfo:
    """The stack being checked: its name and its config (engine format: qualified keys, string values)."""

    name: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        """A config value, JSON-decoded when it is an object or list (``modelway:registries``)."""
        raw = self.config.get(key)
        if isinstance(raw, str) and raw[:1] in "{[":
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return raw
        return raw


_STACK: StackInfo | None = None


def use_stack(name: str | None, config: Mapping[str, Any] | None = None) -> None:
    """Tell stack rules which stack they check (the offline checker and tests call this).

    ``None`` goes back to what the Pulumi CLI passes (see :func:`current_stack`).
    """
    global _STACK
    _STACK = None if name is None else StackInfo(name, dict(config or {}))


def current_stack() -> StackInfo:
    """The stack set by :func:`use_stack`, else what the Pulumi CLI passes a policy pack
    (``PULUMI_STACK`` and the stack config in ``PULUMI_CONFIG``)."""
    if _STACK is not None:
        return _STACK
    try:
        import pulumi.runtime.config as runtime_config

        config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    except Exception:  # noqa: BLE001 - no config is a valid answer
        config = {}
    # PULUMI_STACK may be fully qualified ("org/project/prod"); rules want the stack name.
    return StackInfo(os.environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1], config)


# Stack checks all look at the same resource list; build the plain views once per list.
_VIEWS: dict[int, tuple[Any, list[StackResource]]] = {}


def stack_resources(resources: Sequence[Any]) -> list[StackResource]:
    """Plain :class:`StackResource` views of CrossGuard ``PolicyResource`` objects (cached per list)."""
    cached = _VIEWS.get(id(resources))
    if cached is not None and cached[0] is resources:
        return cached[1]
    views = [
        StackResource(
            type=r.resource_type,
            props=unwrap(r.props),
            urn=r.urn,
            name=r.name,
            provider_props=unwrap(r.provider.props) if getattr(r, "provider", None) is not None else None,
        )
        for r in resources
    ]
    _VIEWS.clear()
    _VIEWS[id(resources)] = (resources, views)
    return views


Rule = ResourceRule | StackRule

__all__ = ["Context", "Note", "Outcome", "ResourceRule", "Rule", "StackInfo", "StackResource", "StackRule",
           "Violation", "EnforcementLevel", "Severity", "current_stack", "stack_resources", "use_stack"]
