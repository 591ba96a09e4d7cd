"""Pins on the identity rules' decisions that mutation testing found loose (``make mutate``).

Each test asserts what a user reads, word for word (every violation and every note), on both
sides of each boundary and for every element (document, statement, action, resource, ARN), so a
one-point change of a rule (a flipped comparison, a dropped condition, a skipped element, an
unknown value read as absent) fails one of them.
"""
from __future__ import annotations

import json

import pytest
from policy_helpers import evaluate

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "string not known yet"
UNKNOWN_LIST = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"    # "array not known yet"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # "object not known yet"

POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
SCOPED = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"}


def messages(policy: str, resource_type: str, props: dict, **kwargs) -> tuple[list[str], list[str]]:
    """(violations, notes) of a rule, as the user reads them."""
    outcome = evaluate(policy, resource_type, props, **kwargs)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def doc(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --- statements not known yet: never a clean pass ---------------------------------------------------
def test_a_statement_not_known_yet_is_a_note_and_the_others_are_still_checked():
    # statements() skips what is not a dict, UNKNOWN included: an unknown statement passed silently
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc(SCOPED, UNKNOWN_OBJECT, ALL)}) == (
        ['statement 3 allows Action "*" on Resource "*"'], ["statement 2 is not known yet"])


def test_a_statement_list_not_known_yet_is_a_note():
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": {"Statement": UNKNOWN_LIST}}) == (
        [], ["policy statements are not known yet"])
    inline = [{"name": "mixed", "policy": {"Statement": UNKNOWN_LIST}}]
    assert messages("iam-no-admin-wildcard", ROLE, {"inlinePolicies": inline}) == (
        [], ["inline policy mixed statements are not known yet"])


def test_a_trust_statement_not_known_yet_is_a_note():
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": doc(UNKNOWN_OBJECT, anyone)}) == (
        ['trust policy statement 2 lets any principal ("*") assume the role'],
        ["assumeRolePolicy statement 1 is not known yet"])
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": {"Statement": UNKNOWN_LIST}}) == (
        [], ["assumeRolePolicy statements are not known yet"])


def test_an_attached_policy_arn_not_known_yet_in_a_list_is_a_note():
    # str_list() drops UNKNOWN: a list of one known harmless ARN and one not known yet passed
    props = {"roleName": "r", "policyArns": [READ_ONLY, UNKNOWN_STRING]}
    exclusive = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
    assert messages("iam-no-admin-managed-policy", exclusive, props) == (
        [], ["an attached policy ARN is not known yet"])
    props["policyArns"].append(ADMIN)
    assert messages("iam-no-admin-managed-policy", exclusive, props) == (
        [f"attaches AdministratorAccess ({ADMIN}); grant least-privilege policies instead"],
        ["an attached policy ARN is not known yet"])
