"""The checker's findings: violations (by enforcement level), waived violations, warnings; the exit code.

Example:
    >>> f = Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k", "k", "rotation is off")
    >>> Report(resources=1, violations=[f]).exit_code
    1
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One violation of one policy by one resource (or by the stack)."""

    policy: str
    level: str
    resource_type: str
    urn: str
    name: str
    message: str
    file: str = ""
    """The file that declared the resource, relative to the program directory ("" for stack findings)."""
    line: int = 0
    """Its line in ``file`` (0 when unknown)."""

    @property
    def location(self) -> str:
        """``infra/storage.py:42``, or "" when the finding has no declaring line."""
        return f"{self.file}:{self.line}" if self.file and self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "resource_type": self.resource_type,
                "urn": self.urn, "name": self.name, "message": self.message, "file": self.file, "line": self.line}


@dataclass(frozen=True)
class WaivedFinding:
    """A violation covered by a valid (unexpired) waiver."""

    finding: Finding
    reason: str
    approver: str
    expires: str

    def to_json(self) -> dict[str, Any]:
        return {**self.finding.to_json(), "waiver": {"reason": self.reason, "approver": self.approver,
                                                     "expires": self.expires}}


@dataclass(frozen=True)
class PolicyInfo:
    """What a report says about each policy that ran (for SARIF rules and JUnit test cases)."""

    name: str
    description: str
    level: str
    severity: str
    remediation: str
    mirrors: tuple[str, ...]
    concern: str


@dataclass
class Report:
    """Everything one ``modelway policy check`` found."""

    resources: int
    violations: list[Finding] = field(default_factory=list)
    waived: list[WaivedFinding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    policies: list[PolicyInfo] = field(default_factory=list)
    stack: str = ""
    program: str = ""
    project: str = ""
    """The Pulumi project checked (``name:`` of its Pulumi.yaml)."""
    program_dir: str = ""
    """The project directory checked (relative to where the check ran when inside it)."""
    providers: int = 0
    """Explicit providers (``pulumi:providers:*``): rendered, but not counted in ``resources`` nor checked."""

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.violations if f.level == "mandatory"]

    @property
    def exit_code(self) -> int:
        """0 without mandatory violations, 1 with at least one."""
        return 1 if self.mandatory else 0

    def to_json(self) -> dict[str, Any]:
        """``{"project", "program_dir", "stack", "policies_run", "resources", "providers", "violations", "waived",
        "warnings"}`` (the ``--format json`` document)."""
        return {
            "project": self.project,
            "program_dir": self.program_dir,
            "stack": self.stack,
            "policies_run": len(self.policies),
            "resources": self.resources,
            "providers": self.providers,
            "violations": [f.to_json() for f in self.violations],
            "waived": [w.to_json() for w in self.waived],
            "warnings": list(self.warnings),
        }

    def to_state(self) -> dict[str, Any]:
        """Everything in the report as plain data (the checker worker hands it back this way)."""
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "Report":
        """The inverse of :meth:`to_state`."""
        return cls(
            resources=data["resources"],
            violations=[Finding(**f) for f in data["violations"]],
            waived=[WaivedFinding(Finding(**w["finding"]), w["reason"], w["approver"], w["expires"])
                    for w in data["waived"]],
            warnings=list(data["warnings"]),
            policies=[PolicyInfo(**{**p, "mirrors": tuple(p["mirrors"])}) for p in data["policies"]],
            stack=data["stack"],
            program=data["program"],
            providers=data.get("providers", 0),
            project=data.get("project", ""),
            program_dir=data.get("program_dir", ""),
        )
