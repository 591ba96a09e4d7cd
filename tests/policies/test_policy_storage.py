"""Storage rules: S3 (separate-resource v7 style and inline style) and KMS, passing and failing fixtures."""
from __future__ import annotations

import json

import pytest
from policy_helpers import (
    assert_passes,
    assert_stack_passes,
    assert_stack_violates,
    assert_violates,
    evaluate_stack,
)

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ACL = "aws:s3/bucketAcl:BucketAcl"
KEY = "aws:kms/key:Key"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1111"


def kms_rules(algorithm: str = "aws:kms", key: str | None = KEY_ARN) -> list[dict]:
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    return [{"applyServerSideEncryptionByDefault": default}]


def bucket(name: str, **props) -> tuple:
    return (BUCKET, {"bucket": name, **props}, name)


# --- s3-encryption-cmk --------------------------------------------------------------------------
def test_encryption_passes_with_cmk_in_separate_resource():
    assert_stack_passes("s3-encryption-cmk", [bucket("data"), (SSE, {"bucket": "data", "rules": kms_rules()})])


def test_encryption_passes_with_cmk_inline_and_v2_token():
    inline = {"serverSideEncryptionConfiguration": {"rule": kms_rules()[0]}}
    assert_stack_passes("s3-encryption-cmk", [bucket("a", **inline), bucket("b"),
                                              (SSE_V2, {"bucket": "b", "rules": kms_rules()})])


@pytest.mark.parametrize("rules, contains", [
    (kms_rules("AES256"), "AES256"),
    (kms_rules("aws:kms", key=None), "without kmsMasterKeyId"),
    (kms_rules("aws:kms", key="alias/aws/s3"), "AWS-managed key"),
])
def test_encryption_fails_without_customer_managed_key(rules, contains):
    assert_stack_violates("s3-encryption-cmk", [bucket("data"), (SSE, {"bucket": "data", "rules": rules})],
                          contains=contains)


def test_encryption_fails_when_absent():
    assert_stack_violates("s3-encryption-cmk", [bucket("data")], contains="no default encryption")


def test_encryption_links_auto_named_bucket_by_logical_name_pattern():
    # Rendered from inputs only: the bucket has no physical name, its id is "<logical>-<hex>".
    resources = [(BUCKET, {}, "raw"), (SSE, {"bucket": "raw-1a2b3c4", "rules": kms_rules()})]
    assert_stack_passes("s3-encryption-cmk", resources)


def test_log_target_bucket_must_use_sse_s3_not_kms():
    logging = (LOGGING, {"bucket": "data", "targetBucket": "logs", "targetPrefix": "data/"})
    ok = [bucket("data"), (SSE, {"bucket": "data", "rules": kms_rules()}), logging,
          bucket("logs"), (SSE, {"bucket": "logs", "rules": kms_rules("AES256")})]
    assert_stack_passes("s3-encryption-cmk", ok)
    bad = ok[:-1] + [(SSE, {"bucket": "logs", "rules": kms_rules()})]
    violations = assert_stack_violates("s3-encryption-cmk", bad, contains="cannot deliver server access logs")
    assert all('"logs"' in v.message for v in violations)


def test_log_target_exception_also_for_inline_logging():
    resources = [bucket("data", logging={"targetBucket": "logs"},
                        serverSideEncryptionConfiguration={"rule": kms_rules()[0]}),
                 bucket("logs", serverSideEncryptionConfiguration={"rule": kms_rules()[0]})]
    assert_stack_violates("s3-encryption-cmk", resources, contains="access-log target")


def test_unknown_algorithm_is_a_note_not_a_pass():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    outcome = evaluate_stack("s3-encryption-cmk", [bucket("d"), (SSE, {"bucket": "d", "rules": kms_rules(unknown)})])
    assert not outcome.violations and outcome.notes


# --- s3-public-access-blocked -------------------------------------------------------------------
ALL_BLOCKED = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
               "restrictPublicBuckets": True}


def test_public_access_block_passes_with_all_four_flags():
    assert_stack_passes("s3-public-access-blocked", [bucket("d"), (PAB, {"bucket": "d", **ALL_BLOCKED})])


def test_public_access_block_fails_when_missing_or_partial():
    assert_stack_violates("s3-public-access-blocked", [bucket("d")], contains="no BucketPublicAccessBlock")
    partial = {**ALL_BLOCKED, "restrictPublicBuckets": False}
    assert_stack_violates("s3-public-access-blocked", [bucket("d"), (PAB, {"bucket": "d", **partial})],
                          contains="restrictPublicBuckets")


# --- s3-no-public-acl ---------------------------------------------------------------------------
def test_no_public_acl():
    assert_passes("s3-no-public-acl", BUCKET, {"acl": "private"})
    assert_violates("s3-no-public-acl", BUCKET, {"acl": "public-read"}, contains="public-read")
    grants = {"accessControlPolicy": {"grants": [
        {"grantee": {"type": "CanonicalUser", "id": "abc"}, "permission": "FULL_CONTROL"},
        {"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"},
         "permission": "READ"}]}}
    assert_violates("s3-no-public-acl", ACL, grants, contains="AllUsers")


# --- s3-tls-only --------------------------------------------------------------------------------
TLS_DENY = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::d", "arn:aws:s3:::d/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def test_tls_only_passes_with_deny_statement_json_string():
    policy = json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})
    assert_stack_passes("s3-tls-only", [bucket("d"), (POLICY, {"bucket": "d", "policy": policy})])


def test_tls_only_passes_with_inline_dict_policy():
    assert_stack_passes("s3-tls-only", [bucket("d", policy={"Statement": TLS_DENY})])


def test_tls_only_fails_without_policy_and_on_public_allow():
    assert_stack_violates("s3-tls-only", [bucket("d")], contains="aws:SecureTransport")
    public = {"Sid": "Public", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::d/*"}
    policy = {"Statement": [TLS_DENY, public]}  # the offending statement is the SECOND one
    assert_stack_violates("s3-tls-only", [bucket("d"), (POLICY, {"bucket": "d", "policy": policy})],
                          contains='Principal "*"')


def test_tls_only_unparseable_policy_is_a_note():
    outcome = evaluate_stack("s3-tls-only", [bucket("d"), (POLICY, {"bucket": "d", "policy": "{not json"})])
    assert outcome.notes and not outcome.violations


# --- s3-versioning ------------------------------------------------------------------------------
def test_versioning_required_for_data_buckets_only():
    enabled = (VERSIONING, {"bucket": "modelway-models", "versioningConfiguration": {"status": "Enabled"}})
    assert_stack_passes("s3-versioning", [bucket("modelway-models"), enabled])
    assert_stack_passes("s3-versioning", [bucket("modelway-scratch")])  # not a data bucket
    assert_stack_passes("s3-versioning", [bucket("artifacts", versioning={"enabled": True})])
    suspended = (VERSIONING, {"bucket": "modelway-models", "versioningConfiguration": {"status": "Suspended"}})
    assert_stack_violates("s3-versioning", [bucket("modelway-models"), suspended], contains="versioning")
    assert_stack_violates("s3-versioning", [bucket("raw-data")], contains="raw-data")


# --- s3-access-logging --------------------------------------------------------------------------
def test_access_logging():
    resources = [bucket("data"), bucket("logs"), (LOGGING, {"bucket": "data", "targetBucket": "logs"})]
    assert_stack_passes("s3-access-logging", resources)  # the log bucket itself is exempt
    violations = assert_stack_violates("s3-access-logging", [bucket("data"), bucket("other")],
                                       contains="server access logging")
    assert len(violations) == 2


# --- s3-lifecycle-tiering -----------------------------------------------------------------------
def test_lifecycle_tiering():
    rules = [{"id": "tier", "status": "Enabled", "transitions": [{"days": 30, "storageClass": "STANDARD_IA"}]}]
    assert_stack_passes("s3-lifecycle-tiering", [bucket("d"), (LIFECYCLE, {"bucket": "d", "rules": rules})])
    assert_stack_passes("s3-lifecycle-tiering", [bucket("d", lifecycleRules=[
        {"enabled": True, "noncurrentVersionExpiration": {"days": 90}}])])
    disabled = [{**rules[0], "status": "Disabled"}]
    assert_stack_violates("s3-lifecycle-tiering", [bucket("d"), (LIFECYCLE, {"bucket": "d", "rules": disabled})],
                          contains="lifecycle")


# --- kms ----------------------------------------------------------------------------------------
def test_kms_key_rotation():
    assert_passes("kms-key-rotation", KEY, {"enableKeyRotation": True})
    assert_violates("kms-key-rotation", KEY, {}, contains="enableKeyRotation")
    assert_violates("kms-key-rotation", KEY, {"enableKeyRotation": False})
    assert_passes("kms-key-rotation", KEY, {"customerMasterKeySpec": "RSA_2048"})  # cannot rotate


def test_kms_no_public_principal_dict_and_string_documents():
    root = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*",
            "Resource": "*"}
    conditioned = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                   "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}}}
    assert_passes("kms-no-public-principal", KEY, {"policy": {"Statement": [root, conditioned]}})
    public = {"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]},
              "Action": "kms:Decrypt", "Resource": "*"}
    assert_violates("kms-no-public-principal", "aws:kms/keyPolicy:KeyPolicy",
                    {"policy": json.dumps({"Statement": [root, public]})}, contains="Open")
