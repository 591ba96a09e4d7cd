"""Helpers for policy tests: evaluate a catalogue policy on props and assert what it reports.

Every helper goes through the real ``pulumi_policy`` argument objects (built by
``policies.harness``), so the tests run the policies exactly as the Pulumi CLI and the
offline checker do.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from policies.catalog import by_name
from policies.core import Outcome, use_stack
from policies.harness import policy_resource, resource_args, stack_args

Res = tuple  # (type, props) or (type, props, name)
# Set to a file path, every evaluation below is appended to it as one JSON line (inputs and the
# exact messages): how tests/policies/golden/policy_cases.jsonl was recorded from these tests.
RECORD = os.environ.get("MODELWAY_RECORD_POLICY_CASES")


def _record(case: dict[str, Any], outcome: Outcome) -> None:
    if not RECORD:
        return
    case = {**case, "violations": [v.message for v in outcome.violations], "notes": [n.message for n in outcome.notes]}
    try:
        line = json.dumps(case, sort_keys=True)
    except (TypeError, ValueError):
        return  # props with unknown (preview) values or objects: not replayable from JSON
    with open(RECORD, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def evaluate(policy: str, resource_type: str, props: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
             provider_props: Mapping[str, Any] | None = None) -> Outcome:
    """Run a resource policy on one resource."""
    rule = by_name(policy)
    assert rule.kind == "resource", f"{policy} is a stack policy; use evaluate_stack"
    assert rule.applies_to(resource_type), f"{policy} does not look at {resource_type}"
    outcome = rule.evaluate(resource_args(resource_type, props, config=config, provider_props=provider_props))
    _record({"policy": policy, "resource_type": resource_type, "props": props, "config": config,
             "provider_props": provider_props}, outcome)
    return outcome


def evaluate_stack(policy: str, resources: Iterable[Res], *, config: Mapping[str, Any] | None = None,
                   stack: str | None = "test", stack_config: Mapping[str, Any] | None = None) -> Outcome:
    """Run a stack policy over resources given as ``(type, props[, name])`` tuples.

    ``stack=None`` leaves the stack to what the Pulumi CLI would pass (PULUMI_STACK, PULUMI_CONFIG).
    """
    rule = by_name(policy)
    assert rule.kind == "stack", f"{policy} is a resource policy; use evaluate"
    resources = list(resources)
    built = []
    for i, item in enumerate(resources):
        resource_type, props, *rest = item
        built.append(policy_resource(resource_type, props, name=rest[0] if rest else f"r{i}"))
    use_stack(stack, stack_config)
    try:
        outcome = rule.evaluate(stack_args(built, config=config))
    finally:
        use_stack(None)
    _record({"policy": policy, "resources": [list(r) for r in resources], "config": config, "stack": stack,
             "stack_config": stack_config}, outcome)
    return outcome


def _messages(outcome: Outcome) -> list[str]:
    return [v.message for v in outcome.violations]


def assert_violates(policy: str, resource_type: str, props: Mapping[str, Any], *, contains: str = "",
                    **kwargs: Any) -> list[str]:
    """The policy reports at least one violation (one containing ``contains``, if given)."""
    messages = _messages(evaluate(policy, resource_type, props, **kwargs))
    assert messages, f"{policy} reported nothing for {resource_type} {dict(props)}"
    assert any(contains in m for m in messages), f"{policy}: no message contains {contains!r}: {messages}"
    return messages


def assert_passes(policy: str, resource_type: str, props: Mapping[str, Any], **kwargs: Any) -> None:
    """The policy reports neither a violation nor a note (it did check, and it is satisfied)."""
    outcome = evaluate(policy, resource_type, props, **kwargs)
    assert not outcome.violations, f"{policy} unexpectedly reported {_messages(outcome)}"
    assert not outcome.notes, f"{policy} could not evaluate: {[n.message for n in outcome.notes]}"


def assert_stack_violates(policy: str, resources: Iterable[Res], *, contains: str = "", **kwargs: Any) -> list[Any]:
    outcome = evaluate_stack(policy, resources, **kwargs)
    assert outcome.violations, f"{policy} reported nothing"
    assert any(contains in v.message for v in outcome.violations), \
        f"{policy}: no message contains {contains!r}: {_messages(outcome)}"
    return outcome.violations


def assert_stack_passes(policy: str, resources: Iterable[Res], **kwargs: Any) -> None:
    outcome = evaluate_stack(policy, resources, **kwargs)
    assert not outcome.violations, f"{policy} unexpectedly reported {_messages(outcome)}"
    assert not outcome.notes, f"{policy} could not evaluate: {[n.message for n in outcome.notes]}"


def validate_sarif(document: Mapping[str, Any]) -> Any:
    """Validate a SARIF log against the schema-generated pydantic-sarif models; return the parsed log.

    Both Python SARIF models (pydantic-sarif 0.1.1, sarif-om 1.0.4) were generated from a 2.1.0
    draft that named a suppression's review state ``state``; the published SARIF 2.1.0 schema
    (OASIS, section 3.35.3) calls it ``status``. So a suppression must carry ``status`` and no
    ``state``; its value is checked against the same enum (accepted, underReview, rejected)
    under the old name, and everything else is validated as is (unknown keys are errors).
    """
    import copy

    from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as SarifLog

    document = copy.deepcopy(dict(document))
    for run in document.get("runs", []):
        for result in run.get("results", []):
            for suppression in result.get("suppressions", []):
                assert "state" not in suppression, "SARIF 2.1.0 names it status, not state"
                if "status" in suppression:
                    suppression["state"] = suppression.pop("status")
    return SarifLog.model_validate(document)
