"""Tagging and cost rules: required tags (provider default tags count), budgets."""
from __future__ import annotations

import json
from pathlib import Path

from policy_helpers import assert_passes, assert_stack_passes, assert_stack_violates, assert_violates

from policies import taggable

BUCKET = "aws:s3/bucket:Bucket"
BUDGET = "aws:budgets/budget:Budget"
TAGS = {"owner": "ml-platform", "cost-center": "ml", "environment": "prod"}


def test_required_tags_on_resource_or_from_provider_default_tags():
    assert_passes("required-tags", BUCKET, {"tags": TAGS})
    assert_passes("required-tags", BUCKET, {"tags": {"Name": "x"}}, provider_props={"defaultTags": {"tags": TAGS}})
    # the engine hands provider config over as JSON strings
    assert_passes("required-tags", BUCKET, {}, provider_props={"defaultTags": json.dumps({"tags": TAGS})})
    assert_violates("required-tags", BUCKET, {"tags": {"owner": "x"}}, contains="cost-center, environment")
    assert_violates("required-tags", BUCKET, {"tags": TAGS}, config={"requiredTags": ["owner", "data-class"]},
                    contains="data-class")


def test_a_tag_value_not_known_yet_is_a_note_not_a_missing_tag():
    from policy_helpers import evaluate

    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi_policy's "unknown string" during preview
    outcome = evaluate("required-tags", BUCKET, {"tags": {**TAGS, "owner": unknown}})
    assert [n.message for n in outcome.notes] == ["tag values owner are not known yet"] and not outcome.violations
    outcome = evaluate("required-tags", BUCKET, {"tags": {"owner": unknown}})
    assert [v.message for v in outcome.violations] == [
        "missing tags cost-center, environment (set them on the resource or in the provider's defaultTags)"]


def test_required_tags_only_on_taggable_types():
    assert "aws:iam/rolePolicy:RolePolicy" not in taggable.TAGGABLE_TYPES
    assert "aws:sagemaker/modelPackageGroup:ModelPackageGroup" in taggable.TAGGABLE_TYPES


def test_taggable_list_matches_installed_pulumi_aws():
    import importlib.util

    package = Path(importlib.util.find_spec("pulumi_aws").origin).parent
    assert taggable.scan_pulumi_aws(package) == set(taggable.TAGGABLE_TYPES), \
        "policies/aws_taggable_types.txt is stale: run `python -m policies.taggable > policies/aws_taggable_types.txt`"


def test_budget_exists_with_notifications():
    notified = {"budgetType": "COST", "notifications": [{"comparisonOperator": "GREATER_THAN", "threshold": 80,
                                                         "subscriberEmailAddresses": ["ml@example.com"]}]}
    assert_stack_passes("budget-exists", [(BUDGET, notified, "budget")])
    assert_stack_violates("budget-exists", [(BUCKET, {}, "b")], contains="no aws.budgets.Budget")
    assert_stack_violates("budget-exists", [(BUDGET, {"budgetType": "COST"}, "budget")], contains="notifies")


ASG = "aws:autoscaling/group:Group"


def asg_tags(tags: dict, propagate: bool = True) -> dict:
    return {"minSize": 0, "maxSize": 2,
            "tags": [{"key": k, "value": v, "propagateAtLaunch": propagate} for k, v in tags.items()]}


def test_auto_scaling_groups_are_tagged_through_their_tags_blocks():
    # CKV_AWS_153's cases: tag blocks pass; an ASG without them fails, whatever the provider's default tags
    assert_passes("required-tags", ASG, asg_tags(TAGS))
    assert_violates("required-tags", ASG, asg_tags({"owner": "ml"}), contains="cost-center, environment")
    assert_violates("required-tags", ASG, {"minSize": 0}, provider_props={"defaultTags": {"tags": TAGS}},
                    contains="defaultTags do not apply to Auto Scaling groups")


UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"  # pulumi_policy's "unknown array" during preview
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"


def budget_outcome(*budgets: dict) -> tuple[list[str], list[str]]:
    from policy_helpers import evaluate_stack

    outcome = evaluate_stack("budget-exists", [(BUDGET, b, f"budget-{i}") for i, b in enumerate(budgets)])
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def notifying(**subscribers) -> dict:
    return {"budgetType": "COST", "notifications": [{"comparisonOperator": "GREATER_THAN", "threshold": 80,
                                                      **subscribers}]}


def test_budget_subscribers_not_known_yet_are_a_note_not_a_violation():
    # an unknown subscriber list is falsy: it was read as "nobody", a violation for a budget that may notify
    note = "budget budget-0: a notification's subscribers are not known yet"
    assert budget_outcome(notifying(subscriberSnsTopicArns=UNKNOWN_ARRAY)) == ([], [note])
    assert budget_outcome(notifying(subscriberEmailAddresses=[], subscriberSnsTopicArns=UNKNOWN_ARRAY)) == ([], [note])
    assert budget_outcome({"budgetType": "COST", "notifications": [UNKNOWN_OBJECT]}) == ([], [note])
    # notifications not known yet: a note, and no "nobody" violation beside it
    assert budget_outcome({"budgetType": "COST", "notifications": UNKNOWN_ARRAY}) == (
        [], ["budget budget-0: notifications are not known yet"])


def test_budget_known_subscribers_decide_whatever_is_unknown():
    unknown = notifying(subscriberSnsTopicArns=UNKNOWN_ARRAY)
    assert budget_outcome(unknown, notifying(subscriberEmailAddresses=["ml@example.com"])) == ([], [])
    assert budget_outcome(notifying(subscriberEmailAddresses=["ml@example.com"], subscriberSnsTopicArns=UNKNOWN_ARRAY)
                          ) == ([], [])
    # a topic whose ARN is not known yet is still a subscriber
    assert budget_outcome(notifying(subscriberSnsTopicArns=["04da6b54-80e4-46f7-96ec-b56ff0331ba9"])) == ([], [])
    nobody = "no budget notifies anyone; add notifications with subscriber emails or SNS topics"
    assert budget_outcome(notifying(subscriberEmailAddresses=[], subscriberSnsTopicArns=[])) == ([nobody], [])
    assert budget_outcome(notifying()) == ([nobody], [])
