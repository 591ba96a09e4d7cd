"""Render checker reports: ``json``, ``table`` (Rich, grouped by level), ``junit`` (CI test report), ``github``
(workflow annotations).

SARIF lives in :mod:`modelway.policy_check.sarif`.

Example:
    >>> from modelway.policy_check.report import Report
    >>> to_json_text(Report(resources=3, project="acme", program_dir=".", stack="dev"))[:75]
    '{"project": "acme", "program_dir": ".", "stack": "dev", "policies_run": 0, '
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import Any, TextIO

from modelway.rendering.result import count_label


def to_json_text(report: Any) -> str:
    """One report as a JSON object; several (``--stack a --stack b``) as a JSON list of them."""
    if isinstance(report, list):
        return json.dumps([r.to_json() for r in report])
    return json.dumps(report.to_json())


def print_table(report: Any, stream: TextIO) -> None:
    """Violations grouped by level (mandatory first), then waived ones, then warnings and a summary."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=max(Console(file=stream).width, 150))
    for level, style in (("mandatory", "bold red"), ("advisory", "yellow")):
        rows = [f for f in report.violations if f.level == level]
        if not rows:
            continue
        table = Table(title=f"{level} violations ({len(rows)})", title_style=style, title_justify="left",
                      show_lines=False)
        for column in ("policy", "resource", "type", "declared at", "message"):
            table.add_column(column, overflow="fold")
        for f in rows:
            table.add_row(f.policy, f.name, f.resource_type,
                          f"{_path(report, f.file)}:{f.line}" if f.file else "", f.message)
        console.print(table)
    if report.waived:
        table = Table(title=f"waived ({len(report.waived)})", title_justify="left")
        for column in ("policy", "resource", "reason", "approver", "expires"):
            table.add_column(column, overflow="fold")
        for w in report.waived:
            table.add_row(w.finding.policy, w.finding.name, w.reason, w.approver, w.expires)
        console.print(table)
    for warning in report.warnings:
        console.print(f"[dim]warning: {warning}[/dim]", highlight=False, soft_wrap=True)
    mandatory = len(report.mandatory)
    advisory = len(report.violations) - mandatory
    verdict = "[bold red]FAIL[/bold red]" if mandatory else "[bold green]PASS[/bold green]"
    console.print(f"{verdict} {_subject(report)}: {count_label(report.resources, report.providers)}, "
                  f"{len(report.policies)} policies, {mandatory} mandatory, "
                  f"{advisory} advisory, {len(report.waived)} waived violations", highlight=False, soft_wrap=True)


def _subject(report: Any) -> str:
    """``project modelway (.), stack prod``: which program was checked, so a wrong one cannot pass unnoticed."""
    where = f" ({report.program_dir})" if report.program_dir else ""
    project = f"project {report.project}{where}, " if report.project else ""
    return f"{project}stack {report.stack or '?'}"


def _path(report: Any, file: str) -> str:
    """A finding's file as the user would open it: relative to where the check ran, when inside it."""
    return (PurePosixPath(report.program_dir or ".") / file).as_posix()


def _line(report: Any, finding: Any) -> str:
    where = f"{_path(report, finding.file)}:{finding.line}: " if finding.file else ""
    return f"{where}{finding.urn}: {finding.message}"


def to_junit(reports: Any) -> str:
    """One test suite per stack, one test case per policy that ran: a mandatory violation fails it;
    advisory and waived ones are listed in system-out. A failing case carries the file and line
    of its first violation (CI test reporters annotate it)."""
    reports = reports if isinstance(reports, list) else [reports]
    suites = ET.Element("testsuites")
    total = failed = 0
    for report in reports:
        suite, failures = _junit_suite(report)
        suites.append(suite)
        total += len(report.policies)
        failed += failures
    suites.set("tests", str(total))
    suites.set("failures", str(failed))
    suites.set("errors", "0")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _junit_suite(report: Any) -> tuple[ET.Element, int]:
    suite = ET.Element("testsuite", name=f"modelway-policy.{report.stack or 'default'}")
    failures = 0
    for policy in report.policies:
        case = ET.SubElement(suite, "testcase", classname=f"modelway.policy.{policy.concern}", name=policy.name)
        found = [f for f in report.violations if f.policy == policy.name]
        mandatory = [f for f in found if f.level == "mandatory"]
        if mandatory:
            failures += 1
            failure = ET.SubElement(case, "failure", type="mandatory",
                                    message=f"{len(mandatory)} mandatory violation(s) of {policy.name}")
            failure.text = "\n".join(_line(report, f) for f in mandatory) + f"\nFix: {policy.remediation}"
            located = next((f for f in mandatory if f.file), None)
            if located is not None:  # CI test reporters annotate the first failing line
                case.set("file", _path(report, located.file))
                case.set("line", str(located.line))
        advisory = [f for f in found if f.level != "mandatory"]
        waived = [w for w in report.waived if w.finding.policy == policy.name]
        lines = [f"advisory: {_line(report, f)}" for f in advisory]
        lines += [f"waived: {w.finding.urn}: {w.finding.message} ({w.reason}; {w.approver}; expires {w.expires})"
                  for w in waived]
        if lines:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    suite.set("tests", str(len(report.policies)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    if report.warnings:
        ET.SubElement(suite, "system-err").text = "\n".join(report.warnings)
    return suite, failures


def to_github(reports: Any) -> str:
    """GitHub Actions workflow commands: an ``::error`` (mandatory) or ``::warning`` (advisory) annotation
    per violation on the line that declared the resource, a ``::notice`` per report warning.

    Example:
        >>> from modelway.policy_check.report import Finding, Report
        >>> f = Finding("kms-key-rotation", "mandatory", "aws:kms/key:Key", "urn:k", "key", "rotation is off",
        ...             "infra/storage.py", 12)
        >>> print(to_github(Report(resources=1, violations=[f], stack="prod")))
        ::error file=infra/storage.py,line=12,title=kms-key-rotation (prod)::key (aws:kms/key:Key): rotation is off
    """
    reports = reports if isinstance(reports, list) else [reports]
    lines = []
    for report in reports:
        for finding in report.violations:
            command = "error" if finding.level == "mandatory" else "warning"
            where = ""
            if finding.file:
                where = f"file={_escape_property(_path(report, finding.file))},line={max(finding.line, 1)},"
            elif report.program:
                where = f"file={_escape_property(report.program)},"
            title = _escape_property(f"{finding.policy} ({report.stack})")
            message = _escape_data(f"{finding.name} ({finding.resource_type}): {finding.message}")
            lines.append(f"::{command} {where}title={title}::{message}")
        for warning in report.warnings:
            lines.append(f"::notice title={_escape_property(f'modelway policy ({report.stack})')}::"
                         f"{_escape_data(warning)}")
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    # The escaping the Actions runner undoes (toolkit/core command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
