"""Which policies a check runs and which findings it reports: ``--check``, ``--skip-check``, ``--min-level``.

Skipping is never silent: the report says which policies did not run (a warning, and the
summary counts the policies that ran), and a name that is not a policy is an error, so a
typo cannot turn a gate off unnoticed.

Example:
    >>> s = Selection(skip=("s3-access-logging",))
    >>> s.runs("s3-access-logging"), s.runs("kms-key-rotation")
    (False, True)
    >>> Selection(min_level="mandatory").reports("advisory")
    False
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from modelway.errors import UserError

LEVELS = ("advisory", "mandatory")


@dataclass(frozen=True)
class Selection:
    """``only``: run just these policies (empty: all); ``skip``: never run these; ``min_level``: hide findings below it."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    min_level: str = "advisory"

    def __post_init__(self) -> None:
        if self.min_level not in LEVELS:
            raise UserError(f"--min-level {self.min_level!r}: choose one of {', '.join(LEVELS)}")

    @classmethod
    def from_options(cls, checks: Iterable[str], skip_checks: Iterable[str], min_level: str) -> "Selection":
        """From repeatable, comma-separable CLI values (``--check a,b --check c``)."""
        return cls(only=_names(checks), skip=_names(skip_checks), min_level=min_level)

    def runs(self, policy: str) -> bool:
        """Whether ``policy`` is evaluated at all."""
        return (not self.only or policy in self.only) and policy not in self.skip

    def reports(self, level: str) -> bool:
        """Whether findings at enforcement ``level`` are reported."""
        return LEVELS.index(level) >= LEVELS.index(self.min_level) if level in LEVELS else True

    def validate(self, known: Iterable[str]) -> None:
        """UserError naming any policy that does not exist (a typo must not disable nothing, or everything)."""
        known = set(known)
        for flag, names in (("--check", self.only), ("--skip-check", self.skip)):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise UserError(f"{flag}: unknown policy {', '.join(unknown)} (see `modelway policy list`)")

    def note(self, known: Iterable[str]) -> str | None:
        """One report warning naming the policies this selection leaves out, or None."""
        left_out = [n for n in known if not self.runs(n)]
        if not left_out:
            return None
        return f"{len(left_out)} policies not run (--check/--skip-check): {', '.join(left_out)}"

    def to_json(self) -> dict[str, Any]:
        return {"only": list(self.only), "skip": list(self.skip), "min_level": self.min_level}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Selection":
        return cls(tuple(data.get("only", ())), tuple(data.get("skip", ())), data.get("min_level", "advisory"))


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))
