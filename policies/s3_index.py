"""A cross-resource view of S3 buckets: each bucket with the settings that apply to it.

pulumi-aws v7 configures a bucket either inline (``aws.s3.Bucket(serverSideEncryptionConfiguration=...)``,
the older style) or through separate resources that point at it with ``bucket: <bucket id>``
(``BucketServerSideEncryptionConfiguration``, ``BucketPublicAccessBlock``, ``BucketPolicy``,
``BucketVersioning``, ``BucketLogging``, ``BucketLifecycleConfiguration``...; the deprecated
``...V2`` tokens too). Storage rules need both, so they are stack rules over this index.

Example:
    >>> from policies.core import StackResource
    >>> b = StackResource("aws:s3/bucket:Bucket", {"bucket": "data-1"}, "urn:b", "data")
    >>> v = StackResource("aws:s3/bucketVersioning:BucketVersioning",
    ...                   {"bucket": "data-1", "versioningConfiguration": {"status": "Enabled"}}, "urn:v", "data-v")
    >>> index = BucketIndex([b, v])
    >>> [s.props["versioningConfiguration"]["status"] for s in index.buckets[0].side("versioning")]
    ['Enabled']
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .core import StackResource
from .values import UNKNOWN, as_list, get

_AUTO_NAME = re.compile(r"(.+)-[0-9a-f]{7,8}")
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})

# Separate-resource settings, by kind (both the v7 names and the deprecated V2 names).
SIDE_TYPES: dict[str, str] = {
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
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"


@dataclass
class Bucket:
    """One bucket, its own props, and the side resources that configure it."""

    resource: StackResource
    sides: dict[str, list[StackResource]] = field(default_factory=dict)
    log_sources: list[str] = field(default_factory=list)
    """Labels of the buckets that deliver their server access logs into this one."""

    @property
    def urn(self) -> str:
        return self.resource.urn

    @property
    def props(self) -> Any:
        return self.resource.props

    @property
    def label(self) -> str:
        physical = self.props.get("bucket")
        name = self.resource.name
        return f'"{name}"' if not isinstance(physical, str) or physical == name else f'"{name}" ({physical})'

    @property
    def is_log_target(self) -> bool:
        return bool(self.log_sources)

    def side(self, kind: str) -> list[StackResource]:
        return self.sides.get(kind, [])

    def matches(self, ref: Any) -> bool:
        """Whether a ``bucket``/``targetBucket`` reference names this bucket."""
        if not isinstance(ref, str) or not ref:
            return False
        props, name = self.props, self.resource.name
        candidates = {props.get("bucket"), props.get("id"), props.get("arn"), name}
        if ref in candidates:
            return True
        prefix = props.get("bucketPrefix")
        if isinstance(prefix, str) and prefix and ref.startswith(prefix) and not props.get("bucket"):
            return True
        # Auto-named bucket rendered from inputs only: "<logical name>-<7 hex>" (Pulumi auto-naming).
        return not props.get("bucket") and re.fullmatch(re.escape(name) + r"-[0-9a-f]{7,8}", ref) is not None


class BucketIndex:
    """Buckets with their side resources linked, plus side resources that match no bucket.

    Build it with :meth:`of`: every storage rule of one stack check shares one index.
    """

    _cache: tuple[Any, "BucketIndex"] | None = None

    @classmethod
    def of(cls, resources: Sequence[StackResource]) -> "BucketIndex":
        """The index of ``resources`` (the same list object gives the same index)."""
        cached = cls._cache
        if cached is not None and cached[0] is resources:
            return cached[1]
        index = cls(resources)
        cls._cache = (resources, index)
        return index

    def __init__(self, resources: Sequence[StackResource]) -> None:
        self.buckets = [Bucket(r) for r in resources if r.type in BUCKET_TYPES]
        # Exact identifiers first (physical name, id, ARN, logical name); first bucket wins.
        self._exact: dict[str, Bucket] = {}
        self._auto_named: dict[str, Bucket] = {}
        self._prefixed: list[Bucket] = []
        for bucket in self.buckets:
            props = bucket.props
            for key in (props.get("bucket"), props.get("id"), props.get("arn"), bucket.resource.name):
                if isinstance(key, str) and key:
                    self._exact.setdefault(key, bucket)
            if not props.get("bucket"):
                self._auto_named.setdefault(bucket.resource.name, bucket)
                if isinstance(props.get("bucketPrefix"), str) and props.get("bucketPrefix"):
                    self._prefixed.append(bucket)
        self.unlinked: dict[str, list[StackResource]] = {}
        self.unknown_refs: list[StackResource] = []
        self.account_blocks = [r for r in resources if r.type == ACCOUNT_PUBLIC_ACCESS_BLOCK]
        for resource in resources:
            kind = SIDE_TYPES.get(resource.type)
            if kind is None:
                continue
            ref = resource.props.get("bucket")
            if ref is UNKNOWN:
                self.unknown_refs.append(resource)
                continue
            bucket = self.find(ref)
            if bucket is None:
                self.unlinked.setdefault(kind, []).append(resource)
            else:
                bucket.sides.setdefault(kind, []).append(resource)
        for bucket in self.buckets:
            for target in self.logging_targets(bucket):
                target_bucket = self.find(target)
                if target_bucket is not None and target_bucket is not bucket:
                    target_bucket.log_sources.append(bucket.label)
        # In preview, BucketLogging(bucket=data.id, target_bucket=logs.id) on a new stack knows neither id;
        # its target is still a log bucket (AWS cannot write access logs under a KMS key there).
        for resource in self.unknown_refs:
            target_bucket = self.find(resource.props.get("targetBucket")) if SIDE_TYPES[resource.type] == "logging" else None
            if target_bucket is not None:
                target_bucket.log_sources.append(f'the bucket of "{resource.name}" (not known yet)')

    def find(self, ref: Any) -> Bucket | None:
        """The bucket a reference names (exact ids first, then the auto-name pattern, then prefixes)."""
        if not isinstance(ref, str) or not ref:
            return None
        bucket = self._exact.get(ref)
        if bucket is not None:
            return bucket
        auto = _AUTO_NAME.fullmatch(ref)
        if auto is not None and auto.group(1) in self._auto_named:
            return self._auto_named[auto.group(1)]
        return next((b for b in self._prefixed if b.matches(ref)), None)

    @staticmethod
    def logging_targets(bucket: Bucket) -> list[Any]:
        """Where a bucket sends its server access logs (inline ``logging`` or ``BucketLogging``)."""
        targets = [get(block, "targetBucket") for block in as_list(bucket.props.get("logging"))]
        targets += [side.props.get("targetBucket") for side in bucket.side("logging")]
        # a target not known yet (UNKNOWN is falsy) is still a target: logging is configured
        return [t for t in targets if t is UNKNOWN or t]


def sse_rules(resource: StackResource) -> list[tuple[Any, Any]]:
    """``(sseAlgorithm, kmsMasterKeyId)`` of every default-encryption rule of a bucket or SSE resource.

    Inline style: ``serverSideEncryptionConfiguration.rule`` (one block, or a list in older
    providers); separate resource: ``rules`` (a list).
    """
    if resource.type in BUCKET_TYPES:
        rules = as_list(get(resource.props, "serverSideEncryptionConfiguration", "rule"))
        rules += as_list(get(resource.props, "serverSideEncryptionConfiguration", "rules"))
    else:
        rules = as_list(resource.props.get("rules")) + as_list(resource.props.get("rule"))
    out = []
    for rule in rules:
        # get() passes an unknown on: a rule, or its default, not known yet gives (UNKNOWN, UNKNOWN)
        default = get(rule, "applyServerSideEncryptionByDefault")
        if default is not None:
            out.append((get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId")))
    return out


def iter_side(index: BucketIndex, kind: str) -> Iterable[tuple[Bucket | None, StackResource]]:
    """Every side resource of ``kind``: linked ones with their bucket, then unlinked ones."""
    for bucket in index.buckets:
        for side in bucket.side(kind):
            yield bucket, side
    for side in index.unlinked.get(kind, []):
        yield None, side
