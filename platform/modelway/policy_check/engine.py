"""Evaluate the pack's policy objects over a rendered program: every resource, then the whole stack.

The resources come from :func:`modelway.rendering.render_program`; each becomes the same
``ResourceValidationArgs`` / ``PolicyResource`` the Pulumi CLI would build, so the checker
runs exactly the code ``pulumi preview --policy-pack policies`` runs.

Example:
    >>> from modelway.rendering import RenderResult, RenderedResource
    >>> key = RenderedResource("aws:kms/key:Key", "k", "urn:pulumi:dev::p::aws:kms/key:Key::k", "", {})
    >>> report = evaluate(RenderResult("dev", [key]), PackSettings.defaults())
    >>> [f.policy for f in report.violations if f.urn == key.urn]
    ['kms-key-rotation', 'required-tags']
"""
from __future__ import annotations

import datetime
import re
from typing import Any, Iterable

from modelway.policy_check.config import PackSettings
from modelway.policy_check.report import Finding, PolicyInfo, Report, WaivedFinding
from modelway.policy_check.selection import Selection
from modelway.policy_check.waivers import Waiver

STACK_TYPE = "pulumi:pulumi:Stack"
# urn:pulumi:<stack>::<project>::<type>::<name>
PULUMI_URN = re.compile(r"urn:pulumi:[^:]+::([^:]+)::")


def _project_of(result: Any, fallback: str) -> str:
    """The project named by the first resource's Pulumi URN, else ``fallback``."""
    for resource in result.resources:
        match = PULUMI_URN.match(resource.urn)
        if match:
            return match.group(1)
    return fallback


def _provider_props(resource: Any, providers: dict[str, Any], config: dict[str, str]) -> dict[str, Any] | None:
    """Inputs of the resource's explicit provider, else the default provider's config (``aws:*`` keys)."""
    if resource.provider and resource.provider in providers:
        return dict(providers[resource.provider].inputs)
    prefix = resource.type.partition(":")[0] + ":"
    props = {key[len(prefix):]: value for key, value in config.items() if key.startswith(prefix)}
    return props or None


def evaluate(result: Any, settings: PackSettings, *, waivers: Iterable[Waiver] = (),
             today: datetime.date | None = None, project: str = "", selection: Selection | None = None) -> Report:
    """Run every policy of the pack over ``result`` (a RenderResult) and apply ``waivers``.

    ``selection`` (``--check``/``--skip-check``/``--min-level``) limits what runs and what is
    reported; what it leaves out is named in the report's warnings.
    """
    from pulumi_policy import PolicyResource

    from modelway.policies.catalog import RESOURCE_POLICIES, STACK_POLICIES
    from modelway.policies.core import use_stack
    from modelway.policies.harness import options, provider, resource_args, stack_args

    today = today or datetime.date.today()
    selection = selection or Selection()
    every = [p.name for p in (*RESOURCE_POLICIES, *STACK_POLICIES)]
    selection.validate(every)
    resource_policies = [p for p in RESOURCE_POLICIES if selection.runs(p.name)]
    stack_policies = [p for p in STACK_POLICIES if selection.runs(p.name)]
    project = _project_of(result, project or "project")
    stack_urn = f"urn:pulumi:{result.stack}::{project}::{STACK_TYPE}::{project}-{result.stack}"
    stack_name = f"{project}-{result.stack}"
    use_stack(result.stack, result.config)

    providers = {r.urn: r for r in result.resources if r.type.startswith("pulumi:providers:")}
    resources = [r for r in result.resources if not r.type.startswith("pulumi:providers:")]
    by_urn = {r.urn: r for r in result.resources}
    findings: list[Finding] = []
    notes: list[str] = []

    def record(policy: Any, outcome: Any, default: Any) -> None:
        level = settings.level(policy.name)
        for violation in outcome.violations:
            target = by_urn.get(violation.urn, default)
            if target is None:
                findings.append(Finding(policy.name, level, STACK_TYPE, stack_urn, stack_name, violation.message))
            else:
                findings.append(Finding(policy.name, level, target.type, target.urn, target.name, violation.message,
                                        target.file, target.line))
        for note in outcome.notes:
            where = note.urn or stack_urn
            notes.append(f"{policy.name}: not evaluated on {where}: {note.message}")

    # Resource policies: only those whose type filter matches, each with its own config.
    by_type = {t: [p for p in resource_policies if p.applies_to(t)] for t in {r.type for r in resources}}
    for resource in resources:
        applicable = by_type[resource.type]
        if not applicable:
            continue
        provider_props = _provider_props(resource, providers, result.config)
        for policy in applicable:
            args = resource_args(resource.type, resource.inputs, name=resource.name, urn=resource.urn,
                                 config=settings.config_for(policy.name), provider_props=provider_props,
                                 parent=resource.parent or None)
            record(policy, policy.evaluate(args), resource)

    # Stack policies: one list of PolicyResource for all of them.
    stack_resources = [
        PolicyResource(r.type, _stack_props(r), r.urn, r.name,
                       options(r.parent or None), provider(_provider_props(r, providers, result.config)),
                       None, [], {})
        for r in resources
    ]
    for policy in stack_policies:
        args = stack_args(stack_resources, config=settings.config_for(policy.name))
        record(policy, policy.evaluate(args), None)

    unlisted = settings.unlisted_warning()
    skipped = selection.note(every)
    report = Report(resources=len(resources), providers=len(providers), stack=result.stack,
                    warnings=list(result.warnings) + [w for w in (unlisted, skipped) if w] + notes,
                    policies=[_info(p, settings) for p in (*resource_policies, *stack_policies)])
    _apply_waivers(report, findings, list(waivers), today)
    hidden = [f for f in report.violations if not selection.reports(f.level)]
    if hidden:
        report.violations = [f for f in report.violations if selection.reports(f.level)]
        report.waived = [w for w in report.waived if selection.reports(w.finding.level)]
        report.warnings.append(f"{len(hidden)} findings below --min-level {selection.min_level} not shown")
    return report


def _stack_props(resource: Any) -> dict[str, Any]:
    """What a stack policy sees of a resource: its inputs, plus the id the engine gave it.

    Resources name each other by id (an ASG's launch template, a bucket's settings); the
    id is not an input, so without it those links could not be followed.
    """
    props = dict(resource.inputs)
    if resource.id and "id" not in props:
        props["id"] = resource.id
    return props


def _apply_waivers(report: Report, findings: list[Finding], waivers: list[Waiver], today: datetime.date) -> None:
    used: set[int] = set()
    for finding in findings:
        matching = [(i, w) for i, w in enumerate(waivers) if w.covers(finding.policy, finding.urn)]
        used.update(i for i, _w in matching)
        valid = [w for _i, w in matching if not w.expired(today)]
        if valid:
            waiver = valid[0]
            report.waived.append(WaivedFinding(finding, waiver.reason, waiver.approver, waiver.expires.isoformat()))
        else:
            report.violations.append(finding)  # no waiver, or only expired ones: it counts
    for i, waiver in enumerate(waivers):
        if waiver.expired(today):
            report.warnings.append(f"waiver for {waiver.policy} on {waiver.urn} (approved by {waiver.approver}) "
                                   f"expired on {waiver.expires.isoformat()}; its violations count again")
        elif i not in used:
            report.warnings.append(f"waiver for {waiver.policy} on {waiver.urn} matches no violation; remove it")
    # mandatory first (the only other level is advisory: a config cannot disable a policy)
    report.violations.sort(key=lambda f: (f.level != "mandatory", f.policy, f.urn))


def _info(policy: Any, settings: PackSettings) -> PolicyInfo:
    return PolicyInfo(
        name=policy.name,
        description=policy.description,
        level=settings.level(policy.name),
        severity=policy.severity.value,  # every rule has one (core's rules default to HIGH)
        remediation=policy.remediation_steps,
        mirrors=tuple(policy.mirrors),
        concern=policy.concern,
    )
