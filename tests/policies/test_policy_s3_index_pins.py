"""Pins on the S3 bucket index (policies/s3_index.py) that mutation testing found loose.

The index decides which side resource (encryption, public access block, policy, versioning,
logging, lifecycle...) configures which bucket, and which bucket receives access logs: a wrong
link passes a bucket on another bucket's settings or fails it for settings it has. Each test
pins one linking decision at both sides (see ``make mutate``).
"""
from __future__ import annotations

import pytest
from policy_helpers import evaluate_stack

from policies.core import StackResource
from policies.s3_index import SIDE_TYPES, Bucket, BucketIndex, iter_side, sse_rules
from policies.values import UNKNOWN

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def res(resource_type: str, props: dict, name: str) -> StackResource:
    return StackResource(resource_type, props, f"urn:{name}", name)


def bucket(name: str, **props) -> StackResource:
    return res(BUCKET, props, name)


def side(ref, name: str = "side", resource_type: str = VERSIONING, **props) -> StackResource:
    return res(resource_type, {"bucket": ref, **props}, name)


def linked(resources) -> dict[str, list[str]]:
    """For each bucket, the names of the side resources linked to it (all kinds); "-" for unlinked ones."""
    index = BucketIndex(resources)
    out = {b.resource.name: sorted(s.name for sides in b.sides.values() for s in sides) for b in index.buckets}
    out["-"] = sorted(s.name for sides in index.unlinked.values() for s in sides)
    return out


# ---- linking a side resource to its bucket ------------------------------------------------------
@pytest.mark.parametrize("ref", ["data-1", "id-1", "arn:aws:s3:::data-1", "data"])
def test_a_side_links_by_physical_name_id_arn_or_logical_name(ref):
    data = bucket("data", bucket="data-1", id="id-1", arn="arn:aws:s3:::data-1")
    assert linked([data, bucket("other", bucket="other-1"), side(ref)]) == {"data": ["side"], "other": [], "-": []}


@pytest.mark.parametrize("ref", ["", None, 7, "data-2", "Data-1"])
def test_a_side_naming_no_bucket_is_unlinked(ref):
    assert linked([bucket("data", bucket="data-1"), side(ref)]) == {"data": [], "-": ["side"]}


def test_the_first_bucket_wins_an_identifier_two_buckets_share():
    assert linked([bucket("a", bucket="shared"), bucket("b", bucket="shared"), side("shared")]) == {
        "a": ["side"], "b": [], "-": []}
    # a logical name and another bucket's physical name alike: the earlier bucket in the stack wins
    assert linked([bucket("x", bucket="y"), bucket("y", bucket="y-phys"), side("y")]) == {"x": ["side"], "y": [],
                                                                                        "-": []}


@pytest.mark.parametrize("ref, hit", [
    ("data-1a2b3c4", True), ("data-1a2b3c4d", True),          # Pulumi's auto-name: 7 or 8 hex digits
    ("data-1a2b3c", False), ("data-1a2b3c4d5", False), ("data-1A2B3C4", False), ("data-1a2b3cx", False),
    ("datax-1a2b3c4", False), ("xdata-1a2b3c4", False),
])
def test_an_auto_named_bucket_links_by_its_logical_name_and_a_hex_suffix(ref, hit):
    assert linked([bucket("data"), side(ref)]) == ({"data": ["side"], "-": []} if hit else
                                                   {"data": [], "-": ["side"]})


def test_a_bucket_with_a_physical_name_is_not_auto_named():
    assert linked([bucket("data", bucket="data-phys"), side("data-1a2b3c4")]) == {"data": [], "-": ["side"]}
    assert linked([bucket("data", bucketPrefix="data-"), side("data-1a2b3c4")]) == {"data": ["side"], "-": []}


@pytest.mark.parametrize("props, ref, hit", [
    ({"bucketPrefix": "ml-logs-"}, "ml-logs-20240101", True),
    ({"bucketPrefix": "ml-logs-"}, "ml-log-20240101", False),
    ({"bucketPrefix": "ml-logs-", "bucket": "fixed"}, "ml-logs-20240101", False),   # a name beats the prefix
    ({"bucketPrefix": ""}, "anything", False),
    ({"bucketPrefix": 5}, "5x", False),
])
def test_a_prefixed_bucket_links_by_its_prefix(props, ref, hit):
    assert linked([bucket("logs", **props), side(ref)]) == ({"logs": ["side"], "-": []} if hit else
                                                            {"logs": [], "-": ["side"]})


def test_the_first_prefixed_bucket_that_matches_wins():
    index = BucketIndex([bucket("a", bucketPrefix="x-"), bucket("b", bucketPrefix="x-y-"), side("x-y-1")])
    assert [b.resource.name for b in index.buckets if b.side("versioning")] == ["a"]
    index = BucketIndex([bucket("a", bucketPrefix="q-"), bucket("b", bucketPrefix="x-y-"), side("x-y-1")])
    assert [b.resource.name for b in index.buckets if b.side("versioning")] == ["b"]


def test_matches_reads_every_identifier_and_refuses_non_strings():
    data = Bucket(bucket("data", bucket="data-1", id="id-1", arn="arn:1"))
    assert [data.matches(r) for r in ("data-1", "id-1", "arn:1", "data", "data-2", "", None, 3)] == [
        True, True, True, True, False, False, False, False]
    auto = Bucket(bucket("data"))
    assert [auto.matches(r) for r in ("data-1a2b3c4", "data-1a2b3c4d", "data-1a2b3c", "d.ta-1a2b3c4")] == [
        True, True, False, False]
    prefixed = Bucket(bucket("p", bucketPrefix="pre-"))
    assert [prefixed.matches(r) for r in ("pre-x", "pr-x")] == [True, False]
    named = Bucket(bucket("p", bucketPrefix="pre-", bucket="p-1"))
    assert [named.matches(r) for r in ("pre-x", "p-1a2b3c4")] == [False, False]
    assert Bucket(bucket("p", bucketPrefix="")).matches("x") is False
    # a reference that is no text, or empty, names no bucket, whatever the bucket's own props hold
    assert [auto.matches(r) for r in (7, ["data"], "")] == [False, False, False]
    assert Bucket(bucket("p", bucket="")).matches("") is False


def test_a_bucket_with_odd_identifiers_is_still_indexed_by_the_others():
    odd = bucket("data", id=5, arn=["arn:aws:s3:::x"], bucket="")
    index = BucketIndex([odd, side("data", "by-name"), side("5", "by-id")])
    assert [s.name for s in index.buckets[0].side("versioning")] == ["by-name"]
    assert [s.name for s in index.unlinked["versioning"]] == ["by-id"]


def test_a_side_whose_bucket_is_not_known_yet_is_kept_apart():
    unknown = side(UNKNOWN, "u")
    index = BucketIndex([bucket("data"), unknown, side("data", "known")])
    assert index.unknown_refs == [unknown]
    assert [s.name for s in index.buckets[0].side("versioning")] == ["known"] and index.unlinked == {}


# pulumi-aws v7 tokens and the deprecated V2 ones, spelled out: each is what a program's resource is typed as
SIDES = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "encryption",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": "encryption",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public_access_block",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:s3/bucketVersioning:BucketVersioning": "versioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "versioning",
    "aws:s3/bucketLogging:BucketLogging": "logging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2": "logging",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "lifecycle",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": "lifecycle",
    "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration": "intelligent_tiering",
    "aws:s3/bucketAcl:BucketAcl": "acl",
    "aws:s3/bucketAclV2:BucketAclV2": "acl",
}


@pytest.mark.parametrize("resource_type, kind", sorted(SIDES.items()))
def test_every_side_type_is_filed_under_its_kind(resource_type, kind):
    configured = side("data", "s", resource_type)
    index = BucketIndex([bucket("data"), configured])
    assert index.buckets[0].sides == {kind: [configured]}
    assert BucketIndex([bucket("data"), side("elsewhere", "s", resource_type)]).unlinked == {kind: [
        side("elsewhere", "s", resource_type)]}


def test_other_types_pointing_at_a_bucket_are_ignored():
    index = BucketIndex([bucket("data"), side("data", "o", "aws:s3/bucketObject:BucketObject"),
                         side(UNKNOWN, "o2", "aws:s3/bucketObject:BucketObject")])
    assert (index.buckets[0].sides, index.unlinked, index.unknown_refs) == ({}, {}, [])
    assert SIDE_TYPES == SIDES


def test_both_bucket_types_are_buckets_and_account_blocks_are_collected():
    pab = res(ACCOUNT_PAB, {"blockPublicAcls": True}, "pab")
    index = BucketIndex([bucket("a"), res(BUCKET_V2, {}, "b"), res("aws:s3/bucketObject:BucketObject", {}, "o"), pab])
    assert [b.resource.name for b in index.buckets] == ["a", "b"]
    assert index.account_blocks == [pab]


def test_unlinked_sides_are_grouped_by_kind_and_iter_side_lists_linked_ones_first():
    enc_unlinked = side("nowhere", "e1", SSE)
    v_unlinked = side("nowhere", "v1")
    v_linked_b = side("b", "vb")
    v_linked_a = side("a", "va")
    index = BucketIndex([bucket("a"), bucket("b"), v_unlinked, enc_unlinked, v_linked_b, v_linked_a])
    assert index.unlinked == {"versioning": [v_unlinked], "encryption": [enc_unlinked]}
    assert [(b.resource.name if b else None, s.name) for b, s in iter_side(index, "versioning")] == [
        ("a", "va"), ("b", "vb"), (None, "v1")]
    assert list(iter_side(index, "policy")) == []


def test_index_of_caches_per_list_object():
    resources = [bucket("a")]
    first = BucketIndex.of(resources)
    assert BucketIndex.of(resources) is first
    assert BucketIndex.of(list(resources)) is not first


# ---- labels -------------------------------------------------------------------------------------
@pytest.mark.parametrize("props, label", [
    ({}, '"data"'),
    ({"bucket": "data"}, '"data"'),
    ({"bucket": "data-1"}, '"data" (data-1)'),
    ({"bucket": UNKNOWN}, '"data"'),
])
def test_a_bucket_label_shows_the_physical_name_when_it_differs(props, label):
    b = Bucket(bucket("data", **props))
    assert (b.label, b.urn, b.props) == (label, "urn:data", props)


# ---- access-log delivery ------------------------------------------------------------------------
def test_log_targets_from_inline_logging_and_bucket_logging_resources():
    data = bucket("data", logging=[{"targetBucket": "logs-1"}, {"targetBucket": "other"}])
    index = BucketIndex([data, bucket("logs", bucket="logs-1"), bucket("other"),
                         side("data", "l", LOGGING, targetBucket="more"), bucket("more")])
    assert index.logging_targets(index.buckets[0]) == ["logs-1", "other", "more"]
    assert [(b.resource.name, b.log_sources, b.is_log_target) for b in index.buckets] == [
        ("data", [], False), ("logs", ['"data"'], True), ("other", ['"data"'], True), ("more", ['"data"'], True)]


def test_a_bucket_logging_into_itself_or_nowhere_known_is_no_log_target():
    index = BucketIndex([bucket("a", logging={"targetBucket": "a"}), bucket("b", logging={"targetBucket": "zzz"}),
                         bucket("c", logging={"targetBucket": ""})])
    assert [b.log_sources for b in index.buckets] == [[], [], []]
    assert index.logging_targets(index.buckets[2]) == []


def test_each_source_bucket_is_named_once_per_delivery():
    index = BucketIndex([bucket("logs", bucket="logs-1"), bucket("a", bucket="a-1", logging={"targetBucket": "logs"}),
                         bucket("b", logging={"targetBucket": "logs-1"})])
    assert index.buckets[0].log_sources == ['"a" (a-1)', '"b"']


def test_a_logging_target_not_known_yet_is_still_logging():
    # UNKNOWN is falsy: dropped from the targets, a bucket whose access logs go to a bucket not known yet (the
    # usual preview of target_bucket=logs.id) got a made-up "has no server access logging" violation
    data = bucket("data", logging={"targetBucket": UNKNOWN})
    assert BucketIndex([data]).logging_targets(BucketIndex([data]).buckets[0]) == [UNKNOWN]
    outcome = evaluate_stack("s3-access-logging", [(BUCKET, {"logging": {"targetBucket": UNKNOWN_STRING}}, "data")])
    assert (outcome.violations, outcome.notes) == ([], [])
    outcome = evaluate_stack("s3-access-logging", [(BUCKET, {}, "data"),
                                                   (LOGGING, {"bucket": "data", "targetBucket": UNKNOWN_STRING}, "l")])
    assert (outcome.violations, outcome.notes) == ([], [])
    outcome = evaluate_stack("s3-access-logging", [(BUCKET, {}, "data")])
    assert [v.message for v in outcome.violations] == [
        'bucket "data" has no server access logging (BucketLogging or inline logging)']


# ---- default-encryption rules -------------------------------------------------------------------
def by_default(algorithm, key=None) -> dict:
    default = {"sseAlgorithm": algorithm} if key is None else {"sseAlgorithm": algorithm, "kmsMasterKeyId": key}
    return {"applyServerSideEncryptionByDefault": default}


def test_sse_rules_of_an_inline_bucket_configuration_one_block_or_a_list():
    one = bucket("a", serverSideEncryptionConfiguration={"rule": by_default("aws:kms", "k1")})
    assert sse_rules(one) == [("aws:kms", "k1")]
    listed = bucket("a", serverSideEncryptionConfiguration={"rules": [by_default("AES256"), by_default("aws:kms")]})
    assert sse_rules(listed) == [("AES256", None), ("aws:kms", None)]
    v2 = res(BUCKET_V2, {"serverSideEncryptionConfiguration": {"rule": [by_default("aws:kms", "k2")]}}, "b")
    assert sse_rules(v2) == [("aws:kms", "k2")]
    # a bucket's own `rules` prop is not its encryption
    assert sse_rules(bucket("a", rules=[by_default("aws:kms")])) == []


def test_sse_rules_of_a_separate_resource_rules_and_rule():
    resource = side("a", "e", SSE, rules=[by_default("aws:kms", "k1")], rule=by_default("AES256"))
    assert sse_rules(resource) == [("aws:kms", "k1"), ("AES256", None)]
    assert sse_rules(side("a", "e", SSE, rules=[{"bucketKeyEnabled": True}])) == []  # no default: nothing to read
    assert sse_rules(side("a", "e", SSE, serverSideEncryptionConfiguration={"rule": by_default("x")})) == []


def test_sse_rules_not_known_yet_are_unknown_pairs():
    assert sse_rules(side("a", "e", SSE, rules=[UNKNOWN, {"applyServerSideEncryptionByDefault": UNKNOWN},
                                                by_default(UNKNOWN, UNKNOWN)])) == [
        (UNKNOWN, UNKNOWN), (UNKNOWN, UNKNOWN), (UNKNOWN, UNKNOWN)]
    assert set(sse_rules(bucket("a", serverSideEncryptionConfiguration=UNKNOWN))) == {(UNKNOWN, UNKNOWN)}
