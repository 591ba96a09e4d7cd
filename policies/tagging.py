"""Tagging and cost rules: required tags on every taggable AWS resource, and a budget per stack.

Provider ``defaultTags`` count where the provider applies them: every resource with a ``tags``
map. Auto Scaling groups tag through ``tags`` blocks, which default tags do not reach.

Example:
    >>> from policies.core import Context
    >>> ctx = Context(config={"requiredTags": ["owner"]}, provider_props={"defaultTags": {"tags": {"owner": "ml"}}})
    >>> list(check_required_tags("aws:s3/bucket:Bucket", {}, ctx))
    []
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, ResourceRule, Severity, StackResource, StackRule, Violation
from .taggable import TAGGABLE_TYPES
from .values import UNKNOWN, as_list, get

BUDGET = "aws:budgets/budget:Budget"
REQUIRED_TAGS = ["owner", "cost-center", "environment"]


def default_tags(provider_props: Mapping[str, Any] | None) -> Any:
    """The provider's ``defaultTags.tags`` (the engine may pass ``defaultTags`` as a JSON string)."""
    value = (provider_props or {}).get("defaultTags")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    tags = get(value, "tags")
    return tags if isinstance(tags, dict) or tags is UNKNOWN else {}


ASG = "aws:autoscaling/group:Group"


def asg_tags(props: Mapping[str, Any]) -> Any:
    """An Auto Scaling group's ``tags`` blocks (``{key, value, propagateAtLaunch}``) as a dict; UNKNOWN if not known.

    Example:
        >>> asg_tags({"tags": [{"key": "owner", "value": "ml", "propagateAtLaunch": True}]})
        {'owner': 'ml'}
    """
    blocks = props.get("tags")
    if blocks is UNKNOWN:
        return UNKNOWN
    tags: dict[str, Any] = {}
    for block in as_list(blocks):
        key = get(block, "key")
        if key is UNKNOWN or block is UNKNOWN:
            return UNKNOWN
        if isinstance(key, str):
            tags[key] = get(block, "value")
    return tags


def check_required_tags(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    if resource_type == ASG:
        # Its tags are blocks, and provider default tags do not reach an ASG (nor its instances).
        own, inherited = asg_tags(props), {}
    else:
        own, inherited = props.get("tags"), default_tags(ctx.provider_props)
    if own is UNKNOWN or inherited is UNKNOWN:
        yield Note("tags are not known yet")
        return
    tags = {**(inherited or {}), **(own if isinstance(own, dict) else {})}
    unknown = [t for t in ctx.config["requiredTags"] if tags.get(t) is UNKNOWN]
    missing = [t for t in ctx.config["requiredTags"] if not tags.get(t) and t not in unknown]
    if unknown:
        yield Note(f"tag values {', '.join(unknown)} are not known yet")
    if missing and resource_type == ASG:
        yield (f"missing tags {', '.join(missing)} (add tags blocks with propagate_at_launch=True; the provider's "
               "defaultTags do not apply to Auto Scaling groups)")
    elif missing:
        yield f"missing tags {', '.join(missing)} (set them on the resource or in the provider's defaultTags)"


def check_budget_exists(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    budgets = [r for r in resources if r.type == BUDGET]
    if not budgets:
        yield Violation("the stack declares no aws.budgets.Budget; add one with notifications")
        return
    notes = []  # what is not known yet matters only when no budget is known to notify anyone
    for budget in budgets:
        notifications = budget.props.get("notifications")
        if notifications is UNKNOWN:
            notes.append(Note(f"budget {budget.name}: notifications are not known yet", budget.urn))
            continue
        subscribers = [(get(n, "subscriberEmailAddresses"), get(n, "subscriberSnsTopicArns"))
                       for n in as_list(notifications)]
        if any(emails or topics for emails, topics in subscribers):  # a list of unknown ARNs is a subscriber
            return
        # UNKNOWN is falsy: a subscriber list not known yet must not read as "nobody"
        if any(UNKNOWN in pair for pair in subscribers):
            notes.append(Note(f"budget {budget.name}: a notification's subscribers are not known yet", budget.urn))
    if notes:
        yield from notes
        return
    yield Violation("no budget notifies anyone; add notifications with subscriber emails or SNS topics",
                    budgets[0].urn)


POLICIES = [
    ResourceRule(
        "required-tags",
        "Every taggable AWS resource carries the owner, cost-center and environment tags.",
        check=check_required_tags, resource_types=[*TAGGABLE_TYPES, ASG], concern="tagging",
        severity=Severity.MEDIUM, mirrors=["AWS Config required-tags", "CKV_AWS_153"],
        params={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_TAGS,
                                 "description": "Tag keys every taggable resource must have."}},
        remediation="Set the tags in the aws provider's defaultTags (stack config aws:defaultTags) or on the resource.",
    ),
    StackRule(
        "budget-exists",
        "The stack has an AWS Budget with notifications.",
        check=check_budget_exists, concern="tagging", severity=Severity.LOW, mirrors=["cost"],
        remediation="Add aws.budgets.Budget (COST, monthly) with notifications to the platform team.",
    ),
]
