"""Pins on the shared readers of policy documents (policies/documents.py) that mutation testing found loose.

Every rule that reads an IAM, key, bucket or repository policy goes through them: what is not
known yet, or unreadable, must be a note there, never a silent pass. See ``make mutate``.
"""
from __future__ import annotations

import pytest
from policy_helpers import evaluate, evaluate_stack

from policies.core import Note
from policies.documents import has_unknown, public_allows, read_document
from policies.values import UNKNOWN

UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
PUBLIC = {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}


# ---- has_unknown / read_document ---------------------------------------------------------------
@pytest.mark.parametrize("value, unknown", [
    (UNKNOWN, True), ({"a": {"b": [1, UNKNOWN]}}, True), ([[UNKNOWN]], True), ({"a": UNKNOWN}, True),
    ({"a": [1, {"b": 2}]}, False), ("x", False), (None, False), ((UNKNOWN,), False),
])
def test_has_unknown_looks_anywhere_inside_dicts_and_lists(value, unknown):
    assert has_unknown(value) is unknown


def test_read_document_yields_the_document_a_note_or_nothing():
    assert list(read_document('{"Statement": []}', "p")) == [{"Statement": []}]
    assert list(read_document(None, "p")) == [] and list(read_document("", "p")) == []
    assert list(read_document(UNKNOWN, "key policy")) == [Note("key policy is not known yet")]
    assert list(read_document("[]", "key policy")) == [Note("key policy: policy document is not a JSON object")]


def test_a_statement_not_known_yet_is_a_note_and_the_known_ones_are_still_read():
    # statements() skips what is no dict: an unknown Statement (or one unknown statement) read as none, so a
    # policy that may hold the very "*" a rule looks for passed silently
    whole = {"Statement": UNKNOWN}
    assert list(read_document(whole, "p")) == [Note("p statements are not known yet"), whole]
    part = {"Statement": [UNKNOWN, PUBLIC]}
    assert list(read_document(part, "p")) == [Note("p statement 1 is not known yet"), part]
    assert list(read_document({"Statement": PUBLIC}, "p")) == [{"Statement": PUBLIC}]


@pytest.mark.parametrize("policy, resource_type, props", [
    ("kms-no-public-principal", "aws:kms/key:Key", {"policy": {"Statement": UNKNOWN_ARRAY}}),
    ("kms-no-public-principal", "aws:kms/key:Key", {"policy": {"Statement": [UNKNOWN_OBJECT]}}),
    ("iam-no-admin-wildcard", "aws:iam/policy:Policy", {"policy": {"Statement": UNKNOWN_ARRAY}}),
    ("iam-trust-not-public", "aws:iam/role:Role", {"assumeRolePolicy": {"Statement": [UNKNOWN_OBJECT]}}),
    ("ecr-no-public-policy", "aws:ecr/repositoryPolicy:RepositoryPolicy", {"policy": {"Statement": UNKNOWN_ARRAY}}),
])
def test_rules_reading_a_document_with_statements_not_known_yet_note_it(policy, resource_type, props):
    outcome = evaluate(policy, resource_type, props)
    assert not outcome.violations and len(outcome.notes) == 1
    assert outcome.notes[0].message.endswith(("statements are not known yet", "statement 1 is not known yet"))


def test_a_known_public_statement_still_violates_beside_an_unknown_one():
    outcome = evaluate("kms-no-public-principal", "aws:kms/key:Key", {"policy": {"Statement": [UNKNOWN_OBJECT, PUBLIC]}})
    assert [n.message for n in outcome.notes] == ["key policy statement 1 is not known yet"]
    assert len(outcome.violations) == 1


def test_the_same_note_from_two_readers_of_one_document_is_reported_once():
    # s3-tls-only reads the policy, then public_allows reads it again: one unknown statement, one note
    outcome = evaluate_stack("s3-tls-only", [("aws:s3/bucket:Bucket", {"bucket": "d", "policy": {
        "Statement": [UNKNOWN_OBJECT]}}, "d")])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ['bucket "d" policy statement 1 is not known yet'])
    outcome = evaluate_stack("kms-key-policy-principals-exist", [("aws:kms/key:Key", {"policy": {
        "Statement": UNKNOWN_ARRAY}}, "k")])
    assert [n.message for n in outcome.notes] == ["key policy of k statements are not known yet"]


# ---- public_allows -----------------------------------------------------------------------------
def test_public_allows_labels_by_sid_else_position_and_notes_unknown_effect_or_principal():
    doc = {"Statement": [
        {"Sid": "Open", **PUBLIC},
        PUBLIC,
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}},
        {"Effect": UNKNOWN, "Principal": "arn:x"},
        {"Sid": "U", "Effect": "Allow", "Principal": {"AWS": [UNKNOWN]}},
        {"Effect": "Deny", "Principal": UNKNOWN},
    ]}
    got = list(public_allows(doc, "key policy"))
    assert got == [("Open", doc["Statement"][0]), ("2", PUBLIC),
                   Note("key policy statement 5: Effect or Principal is not known yet"),
                   Note("key policy statement U: Effect or Principal is not known yet")]
    assert list(public_allows(UNKNOWN, "key policy")) == [Note("key policy is not known yet")]
