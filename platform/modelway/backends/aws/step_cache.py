"""The step cache and dataset versions shared through the stack's buckets, so another machine sees them.

Datasets: ``modelway data add`` (and ``register_dataset`` in a step) also publishes the
version's content to the raw-data bucket (content-addressed, SSE-KMS) and its record to
``s3://<raw-data bucket>/datasets/<name>/<version>.json``; listing and resolving datasets
merge those records with this machine's, so a user elsewhere pulls the same version
(``NAME@VERSION``), as DVC users expect from a remote. The content is read back through
the artifact store (verified against its hash).

The run database stays local (runs, events, attachments are this machine's history); only
the cache index is shared: ``s3://<artifacts bucket>/step-cache/<cache key>.json`` holds the
output's hash and kind and the run/step that produced it. A local hit is used first; a
remote hit is also recorded locally. The output itself lives in the S3 artifact store,
and the runner checks it is there before reusing it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelway.backends.aws.artifacts import S3ArtifactStore
from modelway.backends.aws.clients import AwsClients
from modelway.store.runs import RunStore

PREFIX = "step-cache"


class SharedCacheRunStore(RunStore):
    """:class:`~modelway.store.runs.RunStore` whose step cache is also read from and written to S3 (SSE-KMS)."""

    def __init__(self, home: Path, clients: AwsClients, *, bucket: str, kms_key_arn: str,
                 raw_data_bucket: str | None = None) -> None:
        super().__init__(home)
        self.clients = clients
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.raw_data_bucket = raw_data_bucket

    # -- datasets ---------------------------------------------------------------------------
    def add_dataset(self, name: str, version: str, ref: Any, source: str, files: int) -> bool:
        added = super().add_dataset(name, version, ref, source, files)
        if self.raw_data_bucket:
            raw = S3ArtifactStore(self.path.parent, self.clients, bucket=self.raw_data_bucket,
                                  kms_key_arn=self.kms_key_arn)
            raw.publish(ref.hash)  # the content, from this machine's cache
            row = next(r for r in super().datasets(name) if r["version"] == version)
            with self.clients.call("s3:PutObject", f"s3://{self.raw_data_bucket}/datasets/"):
                self.clients.get("s3").put_object(
                    Bucket=self.raw_data_bucket, Key=f"datasets/{name}/{version}.json",
                    Body=json.dumps(row, default=str).encode(), ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=self.kms_key_arn, ContentType="application/json")
        return added

    def datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        rows = {(r["name"], r["version"]): r for r in super().datasets(name)}
        if self.raw_data_bucket:
            s3 = self.clients.get("s3")
            prefix = f"datasets/{name}/" if name else "datasets/"
            with self.clients.call("s3:ListBucket", f"s3://{self.raw_data_bucket}/{prefix}"):
                keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
                        Bucket=self.raw_data_bucket, Prefix=prefix) for o in page.get("Contents", [])]
                for key in keys:
                    record = json.loads(s3.get_object(Bucket=self.raw_data_bucket, Key=key)["Body"].read())
                    rows.setdefault((record["name"], record["version"]), record)
        ordered = sorted(rows.values(), key=lambda r: r.get("created_at") or 0, reverse=True)
        return sorted(ordered, key=lambda r: r["name"]) if name is None else ordered

    def cache_lookup(self, key: str) -> dict[str, Any] | None:
        hit = super().cache_lookup(key)
        if hit is not None:
            return hit
        s3 = self.clients.get("s3")
        with self.clients.call("s3:GetObject", f"s3://{self.bucket}/{PREFIX}/"):
            try:
                body = s3.get_object(Bucket=self.bucket, Key=f"{PREFIX}/{key}.json")["Body"].read()
            except s3.exceptions.NoSuchKey:
                return None
        try:
            record = json.loads(body)
            return {"hash": str(record["hash"]), "kind": str(record["kind"]), "run_id": record.get("run_id"),
                    "step": record.get("step")}
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable entry is a miss: the step runs and rewrites it

    def step_succeeded(self, run_id: str, step: str, *, attempt: int, output: Any, duration_s: float,
                       cpu_s: float | None, peak_rss_mb: float | None, cache_key: str | None, cacheable: bool) -> None:
        super().step_succeeded(run_id, step, attempt=attempt, output=output, duration_s=duration_s, cpu_s=cpu_s,
                               peak_rss_mb=peak_rss_mb, cache_key=cache_key, cacheable=cacheable)
        if cacheable and cache_key:
            record = {"hash": output.hash, "kind": output.kind, "run_id": run_id, "step": step}
            with self.clients.call("s3:PutObject", f"s3://{self.bucket}/{PREFIX}/"):
                self.clients.get("s3").put_object(
                    Bucket=self.bucket, Key=f"{PREFIX}/{cache_key}.json", Body=json.dumps(record).encode(),
                    ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn, ContentType="application/json")
