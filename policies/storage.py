"""Storage rules: S3 buckets (encryption, public access, TLS, versioning, logging, lifecycle) and KMS keys.

Bucket rules are stack rules over :class:`~policies.s3_index.BucketIndex`, because a bucket's
settings may live on separate resources (v7 style) or inline on the bucket (older style).

Example:
    >>> [p.name for p in POLICIES][:2]
    ['s3-encryption-cmk', 's3-public-access-blocked']
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, ResourceRule, Severity, StackResource, StackRule, Violation
from .documents import public_allows, read_document
from .s3_index import BUCKET_TYPES, SIDE_TYPES, Bucket, BucketIndex, iter_side, sse_rules
from .values import (
    UNKNOWN,
    as_list,
    falsy,
    first_set,
    get,
    is_allow,
    statements,
    truthy,
)

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
AWS_MANAGED_S3_KEY = re.compile(r"(^|:)alias/aws/s3$")


# --- s3-encryption-cmk ------------------------------------------------------------------------
def _check_sse_rules(rules: list[tuple[Any, Any]], label: str, urn: str, log_sources: list[str]) -> Iterator[Any]:
    if log_sources:
        if not rules:
            yield Violation(f"bucket {label} receives server access logs from {', '.join(log_sources)} but declares "
                            "no default encryption; declare SSE-S3 (AES256) explicitly", urn)
        for algorithm, _key in rules:
            if algorithm is UNKNOWN:
                yield Note(f"bucket {label}: sseAlgorithm is not known yet", urn)
            elif algorithm != "AES256":
                yield Violation(f"bucket {label} is the access-log target of {', '.join(log_sources)}: AWS cannot "
                                f"deliver server access logs to an SSE-KMS bucket, use AES256 (found {algorithm!r})", urn)
        return
    if not rules:
        yield Violation(f"bucket {label} has no default encryption; use aws:kms with a customer-managed key", urn)
    for algorithm, key in rules:
        if algorithm is UNKNOWN:
            yield Note(f"bucket {label}: sseAlgorithm is not known yet", urn)
        elif algorithm not in KMS_ALGORITHMS:
            yield Violation(f"bucket {label} uses {algorithm or 'no'} default encryption; use aws:kms with a "
                            "customer-managed key", urn)
        elif key is UNKNOWN:
            yield Note(f"bucket {label}: kmsMasterKeyId is not known yet", urn)
        elif not key:
            yield Violation(f"bucket {label} uses aws:kms without kmsMasterKeyId (the AWS-managed aws/s3 key); "
                            "set a customer-managed key", urn)
        elif isinstance(key, str) and AWS_MANAGED_S3_KEY.search(key):
            yield Violation(f"bucket {label} uses the AWS-managed key {key}; set a customer-managed key", urn)


def check_s3_encryption_cmk(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    index = BucketIndex.of(resources)
    for bucket in index.buckets:
        rules = sse_rules(bucket.resource) + [r for side in bucket.side("encryption") for r in sse_rules(side)]
        yield from _check_sse_rules(rules, bucket.label, bucket.urn, bucket.log_sources)
    for side in index.unlinked.get("encryption", []):
        yield from _check_sse_rules(sse_rules(side), f'"{side.name}"', side.urn, [])
    yield from _unknown_ref_notes(index)


def _unknown_ref_notes(index: BucketIndex) -> Iterator[Note]:
    for side in index.unknown_refs:
        yield Note(f"{side.name}: the bucket it configures is not known yet", side.urn)


# --- s3-public-access-blocked -----------------------------------------------------------------
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _pab_problems(props: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    unknown = [f for f in PAB_FLAGS if props.get(f) is UNKNOWN]
    off = [f for f in PAB_FLAGS if f not in unknown and not truthy(props.get(f))]
    return off, unknown


def check_s3_public_access_blocked(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    index = BucketIndex.of(resources)
    account_wide = any(not _pab_problems(r.props)[0] and not _pab_problems(r.props)[1] for r in index.account_blocks)
    for bucket, side in iter_side(index, "public_access_block"):
        off, unknown = _pab_problems(side.props)
        where = f"bucket {bucket.label}" if bucket else f'"{side.name}"'
        if off:
            yield Violation(f"{where}: public access block has {', '.join(off)} not true", side.urn)
        if unknown:
            yield Note(f"{where}: {', '.join(unknown)} not known yet", side.urn)
    if account_wide:
        return
    for bucket in index.buckets:
        if not bucket.side("public_access_block"):
            yield Violation(f"bucket {bucket.label} has no BucketPublicAccessBlock (all four flags true)", bucket.urn)


# --- s3-no-public-acl -------------------------------------------------------------------------
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
# The two public grantee groups, by URI (a trailing "/" names the same group).
PUBLIC_GRANTEES = {"http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers"}


def check_s3_no_public_acl(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    acl = props.get("acl")
    if acl is UNKNOWN:
        yield Note("acl is not known yet")
    elif isinstance(acl, str) and acl in PUBLIC_ACLS:
        yield f"canned ACL {acl!r} makes the bucket public; use private (or BucketOwnerEnforced ownership)"
    grants = as_list(props.get("grants")) + as_list(get(props, "accessControlPolicy", "grants"))
    for grant in grants:
        uri = first_set(get(grant, "grantee", "uri"), get(grant, "uri"))
        if uri is UNKNOWN:
            yield Note("a grant's grantee is not known yet")
        elif isinstance(uri, str) and uri.removesuffix("/") in PUBLIC_GRANTEES:
            yield f"ACL grant to {PUBLIC_GRANTEES[uri.removesuffix('/')]} makes the bucket public"


# --- s3-tls-only ------------------------------------------------------------------------------
def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    if is_allow(statement):
        return False
    condition = statement.get("Condition")
    for operator, conditions in (condition.items() if isinstance(condition, dict) else ()):
        if not str(operator).lower().startswith("bool") or not isinstance(conditions, dict):
            continue
        for key, value in conditions.items():
            if str(key).lower() == "aws:securetransport" and any(falsy(v) for v in as_list(value)):
                return True
    return False


def _documents(values: list[tuple[str, Any]], where: str) -> Iterator[Any]:
    """Yield (urn, document) or a Note for each policy value that cannot be read."""
    for urn, value in values:
        for document in read_document(value, f"{where} policy"):
            yield Note(document.message, urn) if isinstance(document, Note) else (urn, document)


def check_s3_tls_only(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    index = BucketIndex.of(resources)
    groups: list[tuple[Bucket | None, str, list[tuple[str, Any]]]] = []
    for bucket in index.buckets:
        values = [(bucket.urn, bucket.props.get("policy"))] + [(s.urn, s.props.get("policy")) for s in bucket.side("policy")]
        groups.append((bucket, bucket.label, values))
    for side in index.unlinked.get("policy", []):
        groups.append((None, f'"{side.name}"', [(side.urn, side.props.get("policy"))]))
    for bucket, label, values in groups:
        documents, unreadable = [], False
        for item in _documents(values, f"bucket {label}"):
            if isinstance(item, Note):
                unreadable = True
                yield item
            else:
                documents.append(item)
        for urn, document in documents:
            for item in public_allows(document, f"bucket {label} policy"):
                if isinstance(item, Note):
                    yield Note(item.message, urn)
                else:
                    yield Violation(f"bucket {label}: policy allows Principal \"*\" (statement {item[0]})", urn)
        denies = any(_denies_insecure_transport(s) for _urn, d in documents for s in statements(d))
        if not denies and not unreadable:
            urn = bucket.urn if bucket else values[0][0]
            yield Violation(f"bucket {label}: no bucket policy statement denies aws:SecureTransport=false", urn)
    yield from _unknown_ref_notes(index)


# --- s3-versioning ----------------------------------------------------------------------------
def _needs_versioning(bucket: Bucket, pattern: re.Pattern[str]) -> bool:
    if bucket.is_log_target:
        return False
    tags = bucket.props.get("tags") if isinstance(bucket.props.get("tags"), dict) else {}
    purpose = str(tags.get("purpose") or tags.get("modelway:purpose") or "")
    if purpose:
        return pattern.search(purpose) is not None
    names = [bucket.resource.name, bucket.props.get("bucket"), bucket.props.get("bucketPrefix")]
    return any(isinstance(n, str) and pattern.search(n) for n in names)


def _versioning_state(bucket: Bucket) -> Any:
    inline = get(bucket.props, "versioning", "enabled")
    states = [] if inline is None else [True if truthy(inline) else (UNKNOWN if inline is UNKNOWN else False)]
    for side in bucket.side("versioning"):
        status = get(side.props, "versioningConfiguration", "status")
        states.append(UNKNOWN if status is UNKNOWN else status == "Enabled")
    if any(s is True for s in states):
        return True
    if any(s is UNKNOWN for s in states):
        return UNKNOWN
    return False


def check_s3_versioning(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    pattern = re.compile(ctx.config["bucketPattern"], re.IGNORECASE)
    for bucket in BucketIndex.of(resources).buckets:
        if not _needs_versioning(bucket, pattern):
            continue
        state = _versioning_state(bucket)
        if state is UNKNOWN:
            yield Note(f"bucket {bucket.label}: versioning status is not known yet", bucket.urn)
        elif not state:
            yield Violation(f"data/artifact/model bucket {bucket.label} does not have versioning Enabled", bucket.urn)


# --- s3-access-logging ------------------------------------------------------------------------
def check_s3_access_logging(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    index = BucketIndex.of(resources)
    # A BucketLogging whose bucket is not known yet (preview of a new stack) may be any bucket's logging.
    unknown = [side.name for side in index.unknown_refs if SIDE_TYPES[side.type] == "logging"]
    for bucket in index.buckets:
        if bucket.is_log_target:
            continue  # the log bucket itself: logging into itself would loop
        if index.logging_targets(bucket):
            continue
        if unknown:
            yield Note(f"bucket {bucket.label}: server access logging may be {', '.join(unknown)}, whose bucket is "
                       "not known yet", bucket.urn)
        else:
            yield Violation(f"bucket {bucket.label} has no server access logging (BucketLogging or inline logging)",
                            bucket.urn)


# --- s3-lifecycle-tiering ---------------------------------------------------------------------
_TIERING_KEYS = ("transitions", "noncurrentVersionTransitions", "noncurrentVersionTransition",
                 "noncurrentVersionExpiration", "expiration", "transition")


def _tiers(rule: Any, enabled: Any) -> bool:
    return enabled and isinstance(rule, dict) and any(rule.get(k) for k in _TIERING_KEYS)


def check_s3_lifecycle_tiering(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    for bucket in BucketIndex.of(resources).buckets:
        ok = any(_tiers(rule, truthy(get(rule, "enabled"))) for rule in as_list(bucket.props.get("lifecycleRules")))
        for side in bucket.side("lifecycle"):
            ok = ok or any(_tiers(rule, get(rule, "status") == "Enabled") for rule in as_list(side.props.get("rules")))
        ok = ok or any(side.props.get("status", "Enabled") == "Enabled" for side in bucket.side("intelligent_tiering"))
        if not ok:
            yield Violation(f"bucket {bucket.label} has no lifecycle rule moving older objects to cheaper tiers or "
                            "expiring noncurrent versions", bucket.urn)


# --- kms --------------------------------------------------------------------------------------
def check_kms_key_rotation(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    spec = first_set(props.get("customerMasterKeySpec"), props.get("keySpec"), "SYMMETRIC_DEFAULT")
    if spec is UNKNOWN:
        yield Note("keySpec is not known yet")
        return
    if spec != "SYMMETRIC_DEFAULT":
        return  # AWS only rotates symmetric encryption keys
    rotation = props.get("enableKeyRotation")
    if rotation is UNKNOWN:
        yield Note("enableKeyRotation is not known yet")
    elif not truthy(rotation):
        yield "enableKeyRotation is not true"


def check_kms_no_public_principal(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in public_allows(props.get("policy"), "key policy"):
        if isinstance(item, Note):
            yield item
        elif not item[1].get("Condition"):
            yield f"key policy statement {item[0]} allows Principal \"*\" without conditions"


DATA_BUCKET_PATTERN = r"(^|[-_./])(data|datasets?|artifacts?|models?|features?|checkpoints?|registry)([-_./]|$)"

POLICIES = [
    StackRule(
        "s3-encryption-cmk",
        "S3 buckets encrypt by default with a customer-managed KMS key (access-log targets: SSE-S3).",
        check=check_s3_encryption_cmk, concern="storage", severity=Severity.HIGH,
        mirrors=["CKV_AWS_19", "CKV_AWS_145", "AWS-0088", "AWS-0132"],
        remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm 'aws:kms' and "
                    "kmsMasterKeyId set to your KMS key; a bucket that receives server access logs uses 'AES256'.",
    ),
    StackRule(
        "s3-public-access-blocked",
        "Every S3 bucket has a public access block with all four flags true.",
        check=check_s3_public_access_blocked, concern="storage", severity=Severity.CRITICAL,
        mirrors=["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6"],
        remediation="Add aws.s3.BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
                    "ignorePublicAcls and restrictPublicBuckets all true.",
    ),
    ResourceRule(
        "s3-no-public-acl",
        "S3 buckets carry no public-read, public-read-write or authenticated-read ACL.",
        check=check_s3_no_public_acl, concern="storage", severity=Severity.CRITICAL,
        resource_types=sorted(BUCKET_TYPES | {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"}),
        mirrors=["CKV_AWS_20", "CKV_AWS_57"],
        remediation="Use the 'private' ACL or, better, BucketOwnershipControls with BucketOwnerEnforced.",
    ),
    StackRule(
        "s3-tls-only",
        "S3 bucket policies deny requests without TLS and never allow Principal \"*\".",
        check=check_s3_tls_only, concern="storage", severity=Severity.HIGH, mirrors=["CKV_AWS_70"],
        remediation="Attach a BucketPolicy with a Deny statement on s3:* for the bucket and its objects under "
                    "Condition {\"Bool\": {\"aws:SecureTransport\": \"false\"}}; grant named principals only.",
    ),
    StackRule(
        "s3-versioning",
        "Data, artifact and model buckets have versioning enabled.",
        check=check_s3_versioning, concern="storage", severity=Severity.MEDIUM, mirrors=["CKV_AWS_21"],
        params={"bucketPattern": {"type": "string", "default": DATA_BUCKET_PATTERN,
                                  "description": "Regex on bucket name or 'purpose' tag selecting data buckets."}},
        remediation="Add aws.s3.BucketVersioning with versioningConfiguration.status 'Enabled'.",
    ),
    StackRule(
        "s3-access-logging",
        "S3 buckets deliver server access logs to a log bucket.",
        check=check_s3_access_logging, concern="storage", severity=Severity.LOW, mirrors=["CKV_AWS_18"],
        remediation="Add aws.s3.BucketLogging pointing at a dedicated log bucket (encrypted with AES256).",
    ),
    StackRule(
        "s3-lifecycle-tiering",
        "S3 buckets move older objects to cheaper tiers or expire noncurrent versions.",
        check=check_s3_lifecycle_tiering, concern="storage", severity=Severity.LOW, mirrors=["cost"],
        remediation="Add aws.s3.BucketLifecycleConfiguration with transitions (e.g. STANDARD_IA after 30 days) "
                    "and noncurrentVersionExpiration.",
    ),
    ResourceRule(
        "kms-key-rotation",
        "KMS keys rotate their key material automatically.",
        check=check_kms_key_rotation, concern="storage", severity=Severity.MEDIUM,
        resource_types=["aws:kms/key:Key"],
        mirrors=["CKV_AWS_7", "AWS-0065", "AWSGuard cmk-backing-key-rotation-enabled"],
        remediation="Set enableKeyRotation=True on the aws.kms.Key.",
    ),
    ResourceRule(
        "kms-no-public-principal",
        "KMS key policies never allow Principal \"*\" without conditions.",
        check=check_kms_no_public_principal, concern="storage", severity=Severity.CRITICAL,
        resource_types=["aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy"], mirrors=["CKV_AWS_33"],
        remediation="Name the account root or specific roles as principals, or add a Condition "
                    "(e.g. kms:CallerAccount) to the statement.",
    ),
]
