"""Content-addressed artifact store on the stack's S3 artifacts bucket, with this machine's home as a cache.

The S3 bucket is the source of truth; ``<home>/artifacts`` keeps what this machine wrote
or read (the local store's layout and atomic commit, unchanged). An artifact is published
as its data file(s) first and ``meta.json`` last, so a reader that finds ``meta.json``
finds a complete artifact. Every object is written with SSE-KMS under the stack's key
(the bucket policy denies anything else in a real stack); files above the transfer
threshold go up in parts. A download is verified against its content hash before it
enters the local cache: a corrupted or tampered object is never loaded.

Layout: ``s3://<artifacts bucket>/artifacts/<2 hex>/<64 hex>/{meta.json,data.*}``.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from modelway.artifacts import serializers
from modelway.artifacts.store import ArtifactRef, ArtifactStore, _data_name, content_hash, payload_digest
from modelway.backends.aws.clients import AwsClients, transfer_config
from modelway.errors import UserError

PREFIX = "artifacts"


class ArtifactCorrupted(UserError):
    """An object in S3 does not match the content hash it is stored under."""


class S3ArtifactStore(ArtifactStore):
    """:class:`~modelway.artifacts.store.ArtifactStore` whose artifacts live in S3 (SSE-KMS), cached under ``home``.

    Example:
        >>> store = S3ArtifactStore(home, clients, bucket="modelway-dev-artifacts", kms_key_arn=key)  # doctest: +SKIP
        >>> ref = store.put({"a": 1})          # written locally, then to S3 with the stack key  # doctest: +SKIP
        >>> S3ArtifactStore(other_home, clients, bucket=..., kms_key_arn=key).get(ref.hash)  # doctest: +SKIP
        {'a': 1}
    """

    def __init__(self, home: Path, clients: AwsClients, *, bucket: str, kms_key_arn: str) -> None:
        super().__init__(home)
        self.clients = clients
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self._published: set[str] = set()  # digests known to be complete in S3

    # -- the ArtifactStore interface ------------------------------------------------------
    def exists(self, digest: str) -> bool:
        """True when the artifact is complete in S3 (or already in the local cache and published)."""
        return self._remote_has(digest)

    def put(self, value: Any) -> ArtifactRef:
        ref = super().put(value)
        self.publish(ref.hash)
        return ref

    def put_text(self, text: str, suffix: str = ".txt") -> ArtifactRef:
        ref = super().put_text(text, suffix)
        self.publish(ref.hash)
        return ref

    def _verified(self, digest: str) -> tuple[dict[str, Any], bytes | Path]:
        # Every verified read (get, verify, verified_path) first brings the artifact into the
        # local cache (checked against its hash on the way in), then verifies the cached copy.
        self.fetch(digest)
        return super()._verified(digest)

    def meta(self, digest: str) -> dict[str, Any]:
        self.fetch(digest)
        return super().meta(digest)

    def data_path(self, digest: str) -> Path:
        self.fetch(digest)
        return super().data_path(digest)

    # -- S3 ---------------------------------------------------------------------------------
    def key_of(self, digest: str, name: str = "meta.json") -> str:
        """The S3 key of one file of an artifact."""
        return f"{PREFIX}/{digest[:2]}/{digest}/{name}"

    def uri_of(self, digest: str) -> str:
        """``s3://bucket/artifacts/../<digest>/`` (what lineage and model packages point at)."""
        return f"s3://{self.bucket}/{self.key_of(digest, '')}"

    def publish(self, digest: str) -> None:
        """Upload a locally stored artifact unless S3 has it already: data first, ``meta.json`` last."""
        if self._remote_has(digest):
            return
        folder = self.path_of(digest)
        meta_file = folder / "meta.json"
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p != meta_file)
        s3 = self.clients.get("s3")
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn}
        with self.clients.call("s3:PutObject", f"s3://{self.bucket}"):
            for path in files:
                s3.upload_file(str(path), self.bucket, self.key_of(digest, path.relative_to(folder).as_posix()),
                               ExtraArgs=extra, Config=transfer_config())
            s3.put_object(Bucket=self.bucket, Key=self.key_of(digest), Body=meta_file.read_bytes(), **extra)
        self._published.add(digest)

    def fetch(self, digest: str) -> None:
        """Bring an artifact into the local cache (verified against its hash); no-op when it is there."""
        if super().exists(digest):
            return
        s3 = self.clients.get("s3")
        with self.clients.call("s3:GetObject", f"s3://{self.bucket}/{self.key_of(digest)}"):
            try:
                meta = json.loads(s3.get_object(Bucket=self.bucket, Key=self.key_of(digest))["Body"].read())
            except s3.exceptions.NoSuchKey:
                raise KeyError(f"artifact {digest[:12]} is not in s3://{self.bucket}/{PREFIX}/") from None
            workdir = self._workdir()
            try:
                prefix = self.key_of(digest, "")
                for key, size in self._data_objects(digest, meta):
                    target = workdir / key[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if size is not None and size < transfer_config().multipart_threshold:
                        # one GET (download_file adds a HEAD first): the cached rerun is mostly small objects
                        with open(target, "wb") as out:
                            shutil.copyfileobj(s3.get_object(Bucket=self.bucket, Key=key)["Body"], out)
                    else:
                        s3.download_file(self.bucket, key, str(target), Config=transfer_config())
                data_name = meta.get("data_name")
                self._verify(digest, meta, workdir / (data_name or _default_name(meta["kind"])))
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
        self._commit(workdir, digest, meta["kind"], meta.get("type", ""), meta.get("size", 0), data_name=data_name)
        self._published.add(digest)

    def _data_objects(self, digest: str, meta: dict[str, Any]) -> list[tuple[str, int | None]]:
        """(key, size) of an artifact's data objects: a single-file artifact's one key is named by its meta
        (no LIST); a directory's are listed."""
        if meta.get("kind") != "dir":
            size = meta.get("size")
            return [(self.key_of(digest, _data_name(meta)), size if isinstance(size, int) else None)]
        s3 = self.clients.get("s3")
        return [(o["Key"], o["Size"]) for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.key_of(digest, ""))
                for o in page.get("Contents", []) if o["Key"] != self.key_of(digest)]

    def _remote_has(self, digest: str) -> bool:
        if digest in self._published:
            return True
        s3 = self.clients.get("s3")
        from botocore.exceptions import ClientError

        with self.clients.call("s3:GetObject", f"s3://{self.bucket}/{self.key_of(digest)}"):
            try:
                s3.head_object(Bucket=self.bucket, Key=self.key_of(digest))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        self._published.add(digest)
        return True

    def _verify(self, digest: str, meta: dict[str, Any], data: Path) -> None:
        if meta["kind"] == "text":
            actual = payload_digest("text", hashlib.sha256(data.read_bytes()).hexdigest(), meta.get("data_name"))
        else:
            actual, _ = content_hash(meta["kind"], data)
        if actual != digest:
            raise ArtifactCorrupted(f"s3://{self.bucket}/{self.key_of(digest, '')}: content hash is {actual[:12]}, "
                                    f"not {digest[:12]}: the object was modified or corrupted; not loaded")


def _default_name(kind: str) -> str:
    return serializers.DATA_NAME[kind]
