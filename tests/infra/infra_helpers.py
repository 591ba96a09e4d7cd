"""Assertions over rendered resources and IAM policy documents (used by the infra tests)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from infra.identity import ACTIONS_WITHOUT_RESOURCE_SCOPE
from modelway.rendering.engine import render_in_process
from modelway.rendering.project import load_program_spec
from modelway.rendering.result import RenderedResource, RenderResult

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")


def render_stack(stack: str, **config_overrides: str) -> RenderResult:
    """Render our program for ``stack`` in this process under strict mocks (stack config + overrides).

    The mocks are set before the program is imported; overrides are engine string values
    keyed like ``modelway:gpu_pool``.
    """
    spec = load_program_spec(REPO_ROOT, stack)
    if config_overrides:
        spec = dataclasses.replace(spec, config={**spec.config, **config_overrides})
    return render_in_process(spec, strict_invokes=True)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: str | dict[str, Any]) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    return as_list(doc["Statement"])


def assert_identity_statement_scoped(statement: dict[str, Any]) -> None:
    """Allow statements of identity policies: specific actions on specific ARNs.

    ``Resource: "*"`` only for actions AWS cannot scope (ACTIONS_WITHOUT_RESOURCE_SCOPE);
    no ``*`` / ``svc:*`` actions; ``iam:PassRole`` only on concrete role ARNs.
    """
    if statement.get("Effect") != "Allow":
        return
    assert "NotAction" not in statement and "NotResource" not in statement, statement
    actions = as_list(statement.get("Action"))
    resources = as_list(statement.get("Resource"))
    assert actions and resources, statement
    for action in actions:
        assert action != "*" and not action.endswith(":*"), f"wildcard action {action!r} in {statement}"
    for resource in resources:
        if resource == "*":
            unscoped = set(actions) - ACTIONS_WITHOUT_RESOURCE_SCOPE
            assert not unscoped, f"Resource '*' for scopable actions {sorted(unscoped)} in {statement.get('Sid')}"
        else:
            assert resource.startswith("arn:"), resource
            # A concrete ARN: a service, and a resource part that is not just a wildcard.
            parts = resource.split(":", 5)
            assert len(parts) == 6 and parts[2] and parts[5] not in ("*", "", "*/*"), resource
    if "iam:PassRole" in actions:
        for resource in resources:
            assert ":role/" in resource and "*" not in resource, f"PassRole on {resource}"


def assert_trust_not_public(document: str) -> None:
    for statement in statements(document):
        principal = statement.get("Principal")
        assert principal != "*", statement
        if isinstance(principal, dict):
            for value in as_list(principal.get("AWS")):
                assert value != "*", statement


def provider_default_tags(result: RenderResult, resource: RenderedResource) -> dict[str, str]:
    provider = result.by_urn().get(resource.provider)
    assert provider is not None, f"{resource.name} has no explicit provider"
    raw = provider.inputs.get("defaultTags")
    return json.loads(raw)["tags"] if isinstance(raw, str) else (raw or {}).get("tags", {})


def children_of(result: RenderResult, component_type: str) -> list[RenderedResource]:
    parents = {r.urn for r in result.resources if r.type == component_type}
    return [r for r in result.resources if r.parent in parents]


def one(result: RenderResult, type_token: str, name: str) -> RenderedResource:
    matches = [r for r in result.of_type(type_token) if r.name == name]
    assert len(matches) == 1, f"{type_token} {name}: found {len(matches)}"
    return matches[0]
