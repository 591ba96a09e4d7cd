"""Mutation pins for ``modelway.backends.aws.step_cache``: the step cache index and dataset records shared
through S3 (moto), read from another machine's home. Fresh buckets per test in one shared moto stack."""
from __future__ import annotations

import json
import secrets

import pytest

from modelway.artifacts.store import ArtifactRef, ArtifactStore
from modelway.backends.aws.clients import AwsClients
from modelway.backends.aws.step_cache import PREFIX, SharedCacheRunStore

STEPS = [{"name": "train", "func": "p.train", "upstream": [], "settings": {}}]


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        stack = create_stack(moto_endpoint, tmp_path_factory.mktemp("step-cache-pins"))
        stack.clients = AwsClients("eu-west-1", stack="dev")  # boto3 clients are slow to make: once
        yield stack


class Buckets:
    def __init__(self, stack) -> None:
        self.stack = stack
        self.s3 = stack.client("s3")
        self.artifacts = f"cache-{secrets.token_hex(4)}"
        self.raw = f"raw-{secrets.token_hex(4)}"
        for bucket in (self.artifacts, self.raw):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.kms = stack.outputs["kms_key_arn"]
        self.clients = stack.clients

    def store(self, home, *, raw: bool = True) -> SharedCacheRunStore:
        return SharedCacheRunStore(home, self.clients, bucket=self.artifacts, kms_key_arn=self.kms,
                                   raw_data_bucket=self.raw if raw else None)


@pytest.fixture
def buckets(shared_stack, aws_env) -> Buckets:
    return Buckets(shared_stack)


def _succeed(store, run_id, *, key, cacheable=True, output=None):
    store.create_run(run_id, "p", "p.py", {}, "inprocess", True, {}, STEPS)
    store.step_started(run_id, "train", 1, key)
    store.step_succeeded(run_id, "train", attempt=1, output=output or ArtifactRef("h" * 64, "pickle", 3, "int"),
                         duration_s=1.0, cpu_s=None, peak_rss_mb=None, cache_key=key, cacheable=cacheable)


def test_a_cached_output_is_shared_with_another_home(buckets, tmp_path):
    assert PREFIX == "step-cache"
    _succeed(buckets.store(tmp_path / "a"), "run-a", key="k1")
    got = buckets.s3.get_object(Bucket=buckets.artifacts, Key="step-cache/k1.json")
    assert json.loads(got["Body"].read()) == {"hash": "h" * 64, "kind": "pickle", "run_id": "run-a", "step": "train"}
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == buckets.kms
    assert got["ContentType"] == "application/json"
    other = buckets.store(tmp_path / "b")
    assert other.cache_lookup("k1") == {"hash": "h" * 64, "kind": "pickle", "run_id": "run-a", "step": "train"}
    assert other.cache_lookup("k-missing") is None


def test_a_local_hit_comes_first(buckets, tmp_path):
    store = buckets.store(tmp_path / "a")
    _succeed(store, "run-a", key="k2")
    buckets.s3.put_object(Bucket=buckets.artifacts, Key="step-cache/k2.json",
                          Body=json.dumps({"hash": "other", "kind": "json", "run_id": "x", "step": "y"}).encode())
    assert store.cache_lookup("k2")["hash"] == "h" * 64


def test_uncacheable_or_keyless_outputs_are_not_shared(buckets, tmp_path):
    store = buckets.store(tmp_path / "a")
    _succeed(store, "run-a", key="k3", cacheable=False)
    _succeed(store, "run-b", key=None)
    assert buckets.s3.list_objects_v2(Bucket=buckets.artifacts).get("KeyCount") == 0


@pytest.mark.parametrize("body", [b"not json", b'{"kind": "pickle"}', b'["list"]', b'{"hash": "h"}'])
def test_an_unreadable_entry_is_a_miss(buckets, tmp_path, body):
    buckets.s3.put_object(Bucket=buckets.artifacts, Key="step-cache/bad.json", Body=body)
    assert buckets.store(tmp_path / "a").cache_lookup("bad") is None


def test_a_minimal_entry_reads_with_no_run_or_step(buckets, tmp_path):
    buckets.s3.put_object(Bucket=buckets.artifacts, Key="step-cache/min.json", Body=b'{"hash": 1, "kind": 2}')
    assert buckets.store(tmp_path / "a").cache_lookup("min") == {"hash": "1", "kind": "2", "run_id": None, "step": None}


def _dataset(home, content):
    return ArtifactStore(home).put(content)


def test_a_dataset_version_is_published_and_listed_elsewhere(buckets, tmp_path):
    home = tmp_path / "a"
    store = buckets.store(home)
    ref = _dataset(home, {"rows": [1, 2, 3]})
    assert store.add_dataset("iris", "v1", ref, "data/iris.csv", 1) is True
    got = buckets.s3.get_object(Bucket=buckets.raw, Key="datasets/iris/v1.json")
    record = json.loads(got["Body"].read())
    [local] = store.datasets("iris")
    assert record == json.loads(json.dumps(local, default=str))
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == buckets.kms
    assert got["ContentType"] == "application/json"
    content_keys = [o["Key"] for o in buckets.s3.list_objects_v2(Bucket=buckets.raw, Prefix="artifacts/")["Contents"]]
    assert any(ref.hash in key for key in content_keys)  # the content went to the raw-data bucket too
    # another home sees it
    other = buckets.store(tmp_path / "b")
    [seen] = other.datasets("iris")
    assert (seen["name"], seen["version"], seen["hash"]) == ("iris", "v1", ref.hash)
    assert [r["version"] for r in other.datasets()] == ["v1"]
    assert other.datasets("other-name") == []


def test_without_a_raw_data_bucket_datasets_stay_local(buckets, tmp_path):
    home = tmp_path / "a"
    store = buckets.store(home, raw=False)
    assert store.add_dataset("iris", "v1", _dataset(home, [1]), "s", 1) is True
    assert buckets.s3.list_objects_v2(Bucket=buckets.raw).get("KeyCount") == 0
    assert [r["version"] for r in store.datasets()] == ["v1"]


def test_datasets_merge_newest_first_and_group_by_name(buckets, tmp_path):
    def put(name, version, created_at):
        buckets.s3.put_object(Bucket=buckets.raw, Key=f"datasets/{name}/{version}.json", Body=json.dumps(
            {"name": name, "version": version, "hash": f"{name}{version}", "created_at": created_at}).encode())

    put("zeta", "v1", 10)
    put("alpha", "v1", 5)
    put("alpha", "v2", 20)
    put("alpha", "v0", None)
    store = buckets.store(tmp_path / "a")
    assert [(r["name"], r["version"]) for r in store.datasets()] == [
        ("alpha", "v2"), ("alpha", "v1"), ("alpha", "v0"), ("zeta", "v1")]
    assert [r["version"] for r in store.datasets("alpha")] == ["v2", "v1", "v0"]
    # newest first, not by name, when one name is asked for
    put("beta", "b-old", 1)
    put("beta", "a-new", 2)
    assert [r["version"] for r in store.datasets("beta")] == ["a-new", "b-old"]
    # no creation time sorts as the oldest (as 0), after a time between 0 and 1
    put("gamma", "v-none", None)
    put("gamma", "v-half", 0.5)
    assert [r["version"] for r in store.datasets("gamma")] == ["v-half", "v-none"]
    # a version known here wins over the bucket's record of it
    home = tmp_path / "a"
    buckets.store(home, raw=False).add_dataset("alpha", "v1", _dataset(home, [9]), "local", 1)  # not published
    [v1] = [r for r in store.datasets("alpha") if r["version"] == "v1"]
    assert v1["source"] == "local"


def test_a_missing_bucket_is_one_line_naming_the_action_and_the_place(buckets, tmp_path):
    from modelway.errors import UserError

    gone = SharedCacheRunStore(tmp_path / "a", buckets.clients, bucket="no-such-cache-pins", kms_key_arn=buckets.kms,
                               raw_data_bucket="no-such-raw-pins")
    with pytest.raises(UserError) as err:
        gone.cache_lookup("k")
    assert str(err.value).startswith("stack dev: s3://no-such-cache-pins/step-cache/ does not exist "
                                     "(s3:GetObject: NoSuchBucket)")
    with pytest.raises(UserError) as err:
        gone.datasets()
    assert str(err.value).startswith("stack dev: s3://no-such-raw-pins/datasets/ does not exist "
                                     "(s3:ListBucket: NoSuchBucket)")
