"""SARIF 2.1.0 output (for GitHub code scanning and other SARIF viewers), built with the sarif-om object model.

Each policy becomes a rule (description, remediation as help, mirrored scanner checks as
tags, a ``security-severity`` GitHub understands); each violation a result located at the
line that declared the resource (a stack finding: the program's entry file), with the
resource URN as logical location. Waived violations are
results with an accepted external suppression carrying the waiver's reason.

Example:
    >>> from modelway.policy_check.report import Report
    >>> to_sarif(Report(resources=0), artifact_uri="infra/__main__.py")["version"]
    '2.1.0'
"""
from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

import attr

from modelway import __version__

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "modelway-policy"
INFORMATION_URI = "https://github.com/modelway/modelway"
_LEVELS = {"mandatory": "error", "advisory": "warning"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _to_dict(value: Any) -> Any:
    """Serialize sarif-om objects by their schema property names, leaving out unset (default) fields."""
    if attr.has(type(value)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(value)):
            item = getattr(value, field.name)
            default = field.default.factory() if isinstance(field.default, attr.Factory) else field.default
            if item is None or (item == default and field.name not in ("level",)):
                continue
            out[field.metadata["schema_property_name"]] = _to_dict(item)
        # Property bags carry extra keys beyond "tags" (e.g. security-severity).
        names = {f.name for f in attr.fields(type(value))}
        out.update({k: _to_dict(v) for k, v in vars(value).items() if k not in names and v is not None})
        return out
    if isinstance(value, (list, tuple)):
        return [_to_dict(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_dict(v) for k, v in value.items()}
    return value


def _property_bag(tags: list[str], **extra: Any) -> Any:
    import sarif_om

    bag = sarif_om.PropertyBag(tags=tags)
    for key, value in extra.items():
        setattr(bag, key, value)
    return bag


def _accepted_suppression(justification: str) -> Any:
    """An external suppression (the waivers file) whose review status is ``accepted``.

    sarif-om 1.0.4 models the review state as ``state``, the name in a 2.1.0 draft; the
    published SARIF 2.1.0 schema (section 3.35.3) calls it ``status``. The property is set as
    an extra attribute so ``_to_dict`` writes it under the spec's name.
    """
    import sarif_om

    suppression = sarif_om.Suppression(kind="external", justification=justification)
    suppression.status = "accepted"
    return suppression


def _uri(program_dir: str, file: str) -> str:
    """The file's URI as code scanning resolves it: relative to where the check ran, when it is inside it."""
    path = PurePosixPath(program_dir or ".") / file
    if path.is_absolute():
        return Path(path).as_uri()
    return path.as_posix()


def to_sarif(report: Any, *, artifact_uri: str, tool_version: str = __version__) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log (a JSON-able dict)."""
    import sarif_om as s

    log = s.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[_run(report, artifact_uri, tool_version)])
    return _to_dict(log)


def to_sarif_log(reports: list[Any], *, tool_version: str = __version__) -> dict[str, Any]:
    """Several stacks' reports as one SARIF log: one run per stack (each its own code scanning category)."""
    import sarif_om as s

    runs = [_run(r, r.program or "Pulumi.yaml", tool_version) for r in reports]
    return _to_dict(s.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=runs))


def _run(report: Any, artifact_uri: str, tool_version: str) -> Any:
    import sarif_om as s

    rules, index = [], {}
    for i, policy in enumerate(report.policies):
        index[policy.name] = i
        rules.append(s.ReportingDescriptor(
            id=policy.name,
            name="".join(part.capitalize() for part in policy.name.split("-")),
            short_description=s.MultiformatMessageString(text=policy.description),
            full_description=s.MultiformatMessageString(
                text=f"{policy.description} Mirrors: {', '.join(policy.mirrors)}."),
            help=s.MultiformatMessageString(text=policy.remediation, markdown=f"**Fix:** {policy.remediation}"),
            default_configuration=s.ReportingConfiguration(level=_LEVELS.get(policy.level, "warning")),
            properties=_property_bag([policy.concern, *policy.mirrors], **{
                "security-severity": _SECURITY_SEVERITY.get(policy.severity, "5.5"),
                "enforcementLevel": policy.level,
            }),
        ))

    def physical(finding: Any) -> Any:
        if not finding.file:
            return s.PhysicalLocation(artifact_location=s.ArtifactLocation(uri=artifact_uri),
                                      region=s.Region(start_line=1))
        return s.PhysicalLocation(artifact_location=s.ArtifactLocation(uri=_uri(report.program_dir, finding.file)),
                                  region=s.Region(start_line=max(finding.line, 1)))

    def result(finding: Any, suppression: Any = None) -> Any:
        fingerprint = hashlib.sha256(f"{finding.policy}|{finding.urn}|{finding.message}".encode()).hexdigest()
        return s.Result(
            rule_id=finding.policy,
            rule_index=index.get(finding.policy, -1),
            level=_LEVELS.get(finding.level, "warning"),
            message=s.Message(text=f"{finding.name} ({finding.resource_type}): {finding.message}"),
            locations=[s.Location(
                physical_location=physical(finding),
                logical_locations=[s.LogicalLocation(name=finding.name, fully_qualified_name=finding.urn,
                                                     kind="resource")],
            )],
            partial_fingerprints={"modelwayPolicyFinding/v1": fingerprint},
            suppressions=[suppression] if suppression is not None else None,
        )

    results = [result(f) for f in report.violations]
    results += [result(w.finding, _accepted_suppression(f"{w.reason} (approved by {w.approver}, "
                                                         f"expires {w.expires})"))
                for w in report.waived]
    run = s.Run(
        tool=s.Tool(driver=s.ToolComponent(name=TOOL_NAME, version=tool_version, information_uri=INFORMATION_URI,
                                           rules=rules)),
        results=results,
        invocations=[s.Invocation(execution_successful=True,
                                  tool_execution_notifications=[
                                      s.Notification(message=s.Message(text=w), level="note")
                                      for w in report.warnings] or None)],
        automation_details=s.RunAutomationDetails(id=f"modelway-policy/{report.stack or 'default'}/"),
    )
    return run
