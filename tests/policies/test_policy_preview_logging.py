"""Server access logging in a preview of a new stack: ``BucketLogging(bucket=data.id, target_bucket=logs.id)``.

Neither id is known yet in that preview. The logging resource must not turn into a made-up
"has no server access logging" violation on the source bucket, and its target is still a log
bucket: AWS cannot deliver access logs into an SSE-KMS bucket, so it must keep AES256.
"""
from __future__ import annotations

from policy_helpers import evaluate_stack

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how Pulumi passes a string not known yet
BUCKET = "aws:s3/bucket:Bucket"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KEY = "arn:aws:kms:us-east-1:111122223333:key/k"


def sse(bucket: str, algorithm: str, key: str | None = None) -> dict:
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    return {"bucket": bucket, "rules": [{"applyServerSideEncryptionByDefault": default}]}


STACK = [(BUCKET, {"bucket": "data-1"}, "data"), (BUCKET, {"bucket": "logs-1"}, "logs"),
         (LOGGING, {"bucket": UNKNOWN_STRING, "targetBucket": "logs-1"}, "access-logs")]


def outcome(policy: str, *extra) -> tuple[list[str], list[str]]:
    result = evaluate_stack(policy, STACK + list(extra))
    return [v.message for v in result.violations], [n.message for n in result.notes]


def test_a_logging_resource_whose_bucket_is_not_known_yet_is_a_note_not_a_violation():
    assert outcome("s3-access-logging") == (
        [], ['bucket "data" (data-1): server access logging may be access-logs, whose bucket is not known yet'])
    # the bucket it delivers into is a log bucket, which needs no access logging of its own
    assert outcome("s3-access-logging", (BUCKET, {"bucket": "other-1"}, "other"))[1] == [
        'bucket "data" (data-1): server access logging may be access-logs, whose bucket is not known yet',
        'bucket "other" (other-1): server access logging may be access-logs, whose bucket is not known yet']


def test_without_such_a_resource_a_bucket_without_logging_still_violates():
    result = evaluate_stack("s3-access-logging", STACK[:2])
    assert [v.message for v in result.violations] == [
        'bucket "data" (data-1) has no server access logging (BucketLogging or inline logging)',
        'bucket "logs" (logs-1) has no server access logging (BucketLogging or inline logging)']
    # a known-bucket logging resource links as before: only the bucket without logging violates
    known = evaluate_stack("s3-access-logging", STACK[:2] + [(LOGGING, {"bucket": "data-1", "targetBucket": "logs-1"}, "l")])
    assert ([v.message for v in known.violations], known.notes) == ([], [])


def test_the_target_of_a_logging_resource_not_known_yet_is_still_a_log_bucket():
    # AES256 on the log bucket is what AWS requires: no "use a customer-managed key" violation
    violations, notes = outcome("s3-encryption-cmk", (SSE, sse("logs-1", "AES256"), "e-logs"),
                                (SSE, sse("data-1", "aws:kms", KEY), "e-data"))
    assert (violations, notes) == ([], ["access-logs: the bucket it configures is not known yet"])
    violations, _ = outcome("s3-encryption-cmk", (SSE, sse("logs-1", "aws:kms", KEY), "e-logs"),
                            (SSE, sse("data-1", "aws:kms", KEY), "e-data"))
    assert violations == [
        'bucket "logs" (logs-1) is the access-log target of the bucket of "access-logs" (not known yet): AWS cannot '
        "deliver server access logs to an SSE-KMS bucket, use AES256 (found 'aws:kms')"]


def test_only_logging_resources_count_and_only_for_the_bucket_they_name():
    versioning = ("aws:s3/bucketVersioning:BucketVersioning", {"bucket": UNKNOWN_STRING}, "v")
    result = evaluate_stack("s3-access-logging", STACK[:2] + [versioning])
    assert len(result.violations) == 2 and result.notes == []
    elsewhere = (LOGGING, {"bucket": UNKNOWN_STRING, "targetBucket": "not-in-this-stack"}, "l2")
    result = evaluate_stack("s3-encryption-cmk", STACK[:2] + [elsewhere, (SSE, sse("logs-1", "AES256"), "e-logs"),
                                                            (SSE, sse("data-1", "aws:kms", KEY), "e-data")])
    assert [v.message for v in result.violations] == [
        'bucket "logs" (logs-1) uses AES256 default encryption; use aws:kms with a customer-managed key']


def test_every_logging_resource_not_known_yet_is_named():
    second = (LOGGING, {"bucket": UNKNOWN_STRING, "targetBucket": "logs-1"}, "more-logs")
    assert outcome("s3-access-logging", second)[1] == [
        'bucket "data" (data-1): server access logging may be access-logs, more-logs, whose bucket is not known yet']
