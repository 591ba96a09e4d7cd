"""Pins on the tagging and cost rules (policies/tagging.py) that mutation testing found loose.

Which tags count (the resource's, the provider's default tags, an Auto Scaling group's tag
blocks), what a missing tag says, and when a budget notifies anyone: each pinned word for word
at both sides of the decision. See ``make mutate``.
"""
from __future__ import annotations

import json

import pytest
from policy_helpers import evaluate, evaluate_stack

from policies.tagging import asg_tags, default_tags
from policies.values import UNKNOWN

BUCKET = "aws:s3/bucket:Bucket"
ASG = "aws:autoscaling/group:Group"
BUDGET = "aws:budgets/budget:Budget"
TAGS = {"owner": "ml", "cost-center": "cc", "environment": "prod"}
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
MISSING = "missing tags {} (set them on the resource or in the provider's defaultTags)"
ASG_MISSING = ("missing tags {} (add tags blocks with propagate_at_launch=True; the provider's defaultTags do not "
               "apply to Auto Scaling groups)")


def tags_of(resource_type: str, props: dict, **kwargs) -> tuple[list[str], list[str]]:
    outcome = evaluate("required-tags", resource_type, props, **kwargs)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def blocks(tags: dict) -> list[dict]:
    return [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in tags.items()]


# ---- required-tags ------------------------------------------------------------------------------
def test_every_missing_tag_is_named_in_the_required_order():
    assert tags_of(BUCKET, {}) == ([MISSING.format("owner, cost-center, environment")], [])
    assert tags_of(BUCKET, {"tags": {"environment": "prod"}}) == ([MISSING.format("owner, cost-center")], [])
    assert tags_of(BUCKET, {"tags": TAGS}) == ([], [])


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_tag_value_is_a_missing_tag(value):
    assert tags_of(BUCKET, {"tags": {**TAGS, "owner": value}}) == ([MISSING.format("owner")], [])


def test_the_resource_tags_and_the_provider_default_tags_add_up_and_the_resource_wins():
    provider = {"defaultTags": {"tags": {"owner": "ml", "cost-center": "cc"}}}
    assert tags_of(BUCKET, {"tags": {"environment": "dev"}}, provider_props=provider) == ([], [])
    assert tags_of(BUCKET, {"tags": {"owner": ""}}, provider_props=provider) == (
        [MISSING.format("owner, environment")], [])
    assert tags_of(BUCKET, {"tags": "owner=ml"}, provider_props=provider) == ([MISSING.format("environment")], [])


@pytest.mark.parametrize("default", [
    "{not json",                                  # a config string that is no JSON
    {"tags": ["owner"]},                          # tags that are no map
    {"other": TAGS},
    json.dumps({"tags": "x"}),
])
def test_default_tags_that_are_no_map_count_for_nothing(default):
    assert default_tags({"defaultTags": default}) == {}
    assert tags_of(BUCKET, {"tags": {"owner": "ml"}}, provider_props={"defaultTags": default}) == (
        [MISSING.format("cost-center, environment")], [])


def test_default_tags_read_from_json_text_or_an_object():
    assert default_tags({"defaultTags": json.dumps({"tags": TAGS})}) == TAGS
    assert default_tags({"defaultTags": {"tags": TAGS}}) == TAGS
    assert default_tags(None) == {} and default_tags({}) == {}
    assert default_tags({"defaultTags": {"tags": UNKNOWN}}) is UNKNOWN


@pytest.mark.parametrize("props, provider", [
    ({"tags": UNKNOWN_OBJECT}, None),
    ({"tags": {}}, {"defaultTags": UNKNOWN_OBJECT}),
    ({"tags": {}}, {"defaultTags": {"tags": UNKNOWN_OBJECT}}),
])
def test_tags_not_known_yet_are_one_note_and_nothing_else(props, provider):
    assert tags_of(BUCKET, props, provider_props=provider) == ([], ["tags are not known yet"])


def test_tag_values_not_known_yet_are_named_beside_the_missing_ones():
    got = tags_of(BUCKET, {"tags": {"owner": UNKNOWN_STRING, "environment": UNKNOWN_STRING}})
    assert got == ([MISSING.format("cost-center")], ["tag values owner, environment are not known yet"])
    provider = {"defaultTags": {"tags": {"cost-center": UNKNOWN_STRING}}}
    assert tags_of(BUCKET, {"tags": {"owner": "ml", "environment": "e"}}, provider_props=provider) == (
        [], ["tag values cost-center are not known yet"])


def test_the_required_tags_are_configurable():
    config = {"requiredTags": ["team"]}
    assert tags_of(BUCKET, {}, config=config) == ([MISSING.format("team")], [])
    assert tags_of(BUCKET, {"tags": {"team": "a"}}, config=config) == ([], [])


def test_an_auto_scaling_group_counts_only_its_tag_blocks():
    provider = {"defaultTags": {"tags": TAGS}}
    assert tags_of(ASG, {"tags": blocks(TAGS)}) == ([], [])
    assert tags_of(ASG, {"tags": blocks({"owner": "ml"})}, provider_props=provider) == (
        [ASG_MISSING.format("cost-center, environment")], [])
    assert tags_of(ASG, {}, provider_props=provider) == ([ASG_MISSING.format("owner, cost-center, environment")], [])
    # a map of tags (the bucket style) is no tag block
    assert tags_of(ASG, {"tags": TAGS}) == ([ASG_MISSING.format("owner, cost-center, environment")], [])


def test_an_auto_scaling_group_tag_block_not_known_yet():
    assert tags_of(ASG, {"tags": UNKNOWN_ARRAY}) == ([], ["tags are not known yet"])
    assert tags_of(ASG, {"tags": [*blocks(TAGS), UNKNOWN_OBJECT]}) == ([], ["tags are not known yet"])
    assert tags_of(ASG, {"tags": [*blocks({"owner": "ml"}), {"key": UNKNOWN_STRING, "value": "x"}]}) == (
        [], ["tags are not known yet"])
    assert tags_of(ASG, {"tags": blocks({**TAGS, "owner": UNKNOWN_STRING})}) == (
        [], ["tag values owner are not known yet"])


def test_asg_tags_reads_every_block_with_a_text_key():
    assert asg_tags({"tags": [{"key": "a", "value": "1"}, {"key": 5, "value": "2"}, {"value": "3"},
                              {"key": "b"}]}) == {"a": "1", "b": None}
    assert asg_tags({}) == {}
    assert asg_tags({"tags": {"key": "a", "value": "1"}}) == {"a": "1"}  # one block, not a list
    assert asg_tags({"tags": UNKNOWN}) is UNKNOWN
    assert asg_tags({"tags": [{"key": "a", "value": "1"}, UNKNOWN]}) is UNKNOWN
    assert asg_tags({"tags": [{"key": UNKNOWN, "value": "1"}]}) is UNKNOWN


# ---- budget-exists ------------------------------------------------------------------------------
NOBODY = "no budget notifies anyone; add notifications with subscriber emails or SNS topics"


def budgets(*props_list, extra=()) -> tuple[list[str], list[str], list[str]]:
    resources = [*extra, *((BUDGET, p, f"b{i}") for i, p in enumerate(props_list))]
    outcome = evaluate_stack("budget-exists", resources)
    urns = [x.urn.rsplit("::", 1)[1] for x in [*outcome.violations, *outcome.notes] if x.urn]
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes], urns


def notify(**subscribers) -> dict:
    return {"notifications": [{"threshold": 80, **subscribers}]}


def test_no_budget_at_all_is_one_violation_on_the_stack():
    assert budgets(extra=[(BUCKET, {}, "bucket")]) == (["the stack declares no aws.budgets.Budget; add one with "
                                                        "notifications"], [], [])


def test_any_budget_with_an_email_or_topic_subscriber_passes():
    assert budgets({}, notify(subscriberEmailAddresses=["a@b.c"])) == ([], [], [])
    assert budgets(notify(subscriberSnsTopicArns=["arn:aws:sns:eu-west-1:1:t"]), {}) == ([], [], [])
    multi = {"notifications": [{"subscriberEmailAddresses": []}, {"subscriberSnsTopicArns": ["arn:t"]}]}
    assert budgets(multi) == ([], [], [])


def test_budgets_that_notify_nobody_are_one_violation_on_the_first():
    assert budgets({}, notify(subscriberEmailAddresses=[])) == ([NOBODY], [], ["b0"])


def test_a_budget_not_known_yet_is_a_note_on_it_and_no_violation():
    assert budgets({}, {"notifications": UNKNOWN_ARRAY}) == (
        [], ["budget b1: notifications are not known yet"], ["b1"])
    assert budgets({"notifications": UNKNOWN_ARRAY}, notify(subscriberEmailAddresses=UNKNOWN_ARRAY)) == (
        [], ["budget b0: notifications are not known yet", "budget b1: a notification's subscribers are not known yet"],
        ["b0", "b1"])
    # a known subscriber anywhere settles it, before or after the unknown
    assert budgets({"notifications": UNKNOWN_ARRAY}, notify(subscriberEmailAddresses=["a@b.c"])) == ([], [], [])
    assert budgets(notify(subscriberEmailAddresses=["a@b.c"]), {"notifications": UNKNOWN_ARRAY}) == ([], [], [])
