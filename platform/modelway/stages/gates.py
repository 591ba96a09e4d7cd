"""Check results and gate reports shared by every gate (data validation, model tests).

A gate runs many named checks; each :class:`CheckResult` says whether it passed, what was
observed against which limit, how many rows were affected and a few example rows. A
:class:`GateReport` collects them, renders itself (dict / Markdown) and raises
:class:`GateFailed` naming every failed check, which fails the pipeline step (exit 1).

Example:
    >>> report = GateReport("data validation", [CheckResult("quality.rows", True, "20000 rows")])
    >>> report.passed
    True
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from modelway.runtime.errors import StepFailed


@dataclass
class CheckResult:
    """The outcome of one named check.

    Example:
        >>> CheckResult("fairness.dpd", False, "0.21 > 0.10", observed=0.21, limit=0.10).passed
        False
    """

    name: str
    passed: bool
    message: str
    observed: Any = None
    limit: Any = None
    count: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    category: str = ""
    advisory: bool = False
    """Reported, never gating: a failed advisory check is a warning (the gate still passes)."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class GateReport:
    """All checks of one gate, in order.

    Example:
        >>> r = GateReport("model tests", [CheckResult("a", False, "bad", count=3)])
        >>> r.summary()
        'model tests FAILED: 1 of 1 checks failed: a (3 rows)'
    """

    gate: str
    checks: list[CheckResult] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no gating check failed (advisory findings are warnings)."""
        return not self.failed

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed and not check.advisory]

    @property
    def warnings(self) -> list[CheckResult]:
        """Advisory checks that found something: reported, not gating."""
        return [check for check in self.checks if not check.passed and check.advisory]

    def extend(self, checks: list[CheckResult]) -> GateReport:
        self.checks.extend(checks)
        return self

    def summary(self) -> str:
        """One line: passed, or which checks failed (with affected row counts)."""
        if self.passed:
            warned = f" ({len(self.warnings)} advisory warning(s): {', '.join(c.name for c in self.warnings)})" if self.warnings else ""
            return f"{self.gate} passed: {len(self.checks)} checks{warned}"
        names = ", ".join(c.name + _brief(c) for c in self.failed)
        return f"{self.gate} FAILED: {len(self.failed)} of {len(self.checks)} checks failed: {names}"

    def details(self) -> str:
        """Multi-line text: the summary, then one line per failed check with its message."""
        lines = [self.summary()]
        for check in self.failed:
            lines.append(f"  - {check.name}: {check.message}")
            for example in check.examples[:2]:
                lines.append(f"      e.g. {json.dumps(example, default=str)[:200]}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "summary": self.summary(),
            "checks": [check.to_dict() for check in self.checks],
            "context": _jsonable(self.context),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        checks = [CheckResult(**c) for c in data.get("checks", [])]
        return cls(data["gate"], checks, dict(data.get("context", {})))

    def to_markdown(self) -> str:
        lines = [f"## {self.gate}: {'PASSED' if self.passed else 'FAILED'}", "", "| check | result | observed | limit | rows | message |", "|---|---|---|---|---|---|"]
        for c in self.checks:
            lines.append(
                f"| {c.name} | {_verdict(c)} | {_fmt(c.observed)} | {_fmt(c.limit)} "
                f"| {'' if c.count is None else c.count} | {c.message.replace('|', '/')} |"
            )
        return "\n".join(lines) + "\n"

    def raise_if_failed(self) -> None:
        """Raise :class:`GateFailed` when any check failed."""
        if not self.passed:
            raise GateFailed(self)


class GateFailed(StepFailed):
    """A gate stopped the pipeline; the message names every failed check.

    A :class:`~modelway.runtime.errors.StepFailed`: a deliberate stop, so the runner shows
    the message without a traceback and does not suggest ``modelway resume``.

    Example:
        >>> try:
        ...     GateReport("g", [CheckResult("x", False, "broken")]).raise_if_failed()
        ... except GateFailed as exc:
        ...     "x: broken" in str(exc)
        True
    """

    def __init__(self, report: GateReport):
        self.report = report
        super().__init__(report.details())

    def __reduce__(self):  # picklable across process boundaries (step processes)
        return (GateFailed, (self.report,))


def _verdict(check: CheckResult) -> str:
    return "pass" if check.passed else "warn (advisory)" if check.advisory else "**FAIL**"


def _brief(check: CheckResult) -> str:
    """`` (N rows)`` or `` (observed vs limit)`` for the one-line summary."""
    if check.count:
        return f" ({check.count} rows)"
    if isinstance(check.observed, (int, float)) and isinstance(check.limit, (int, float)):
        return f" ({_fmt(check.observed)}, limit {_fmt(check.limit)})"
    return ""


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy scalars and timestamps become plain values."""
    return json.loads(json.dumps(value, default=_default))


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        try:
            return obj.item()
        except (ValueError, AttributeError):
            pass
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)
