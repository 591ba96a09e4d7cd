"""Mutation pins for :mod:`modelway.backends.aws.artifacts`: the content-addressed store on S3, on moto.

What another machine with the stack sees: the object layout, SSE-KMS on every object, data
before ``meta.json``, one upload per artifact, every kind (JSON, text with its suffix, a
directory) read back on a fresh home and verified, the exact refusal of a tampered object.
"""
from __future__ import annotations

import pytest

from modelway.backends.aws.artifacts import PREFIX, ArtifactCorrupted, S3ArtifactStore
from tests.aws.test_aws_a_mutation_pins_deployer import stack  # noqa: F401 - the module's moto stack


@pytest.fixture
def stores(stack, tmp_path):  # noqa: F811
    """(moto stack, a store writing from one home, a factory of stores on fresh homes)."""
    moto, backends = stack
    count = iter(range(100))
    return moto, backends.artifact_store(tmp_path / "home"), lambda: backends.artifact_store(
        tmp_path / f"other-{next(count)}")


def _calls(store, operation):
    """The parameters of every S3 ``operation`` request the store sends from now on."""
    seen: list[dict] = []
    store.clients.get("s3").meta.events.register(f"provide-client-params.s3.{operation}",
                                                 lambda params, **_: seen.append(dict(params)))
    return seen


def test_keys_and_uris():
    assert PREFIX == "artifacts"
    store = S3ArtifactStore.__new__(S3ArtifactStore)
    store.bucket = "bkt"
    digest = "ab" + "0" * 62
    assert store.key_of(digest) == f"artifacts/ab/{digest}/meta.json"
    assert store.key_of(digest, "data.json") == f"artifacts/ab/{digest}/data.json"
    assert store.uri_of(digest) == f"s3://bkt/artifacts/ab/{digest}/"


def test_put_uploads_data_then_meta_under_the_stack_key_once(stores):
    moto, store, fresh = stores
    puts = _calls(store, "PutObject")
    ref = store.put({"weights": [1, 2, 3]})
    assert [p["Key"] for p in puts] == [store.key_of(ref.hash, "data.json"), store.key_of(ref.hash)]  # meta last
    s3 = moto.client("s3")
    bucket = moto.outputs["buckets"]["artifacts"]
    for key in (store.key_of(ref.hash, "data.json"), store.key_of(ref.hash)):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == moto.outputs["kms_key_arn"]
    store.put({"weights": [1, 2, 3]})  # already published: no upload, no HEAD either
    heads = _calls(store, "HeadObject")
    assert store.exists(ref.hash) and heads == []
    assert len(puts) == 2
    # another machine: not published by it, but S3 has it (one HEAD, then remembered)
    other = fresh()
    heads = _calls(other, "HeadObject")
    assert other.exists(ref.hash) and other.exists(ref.hash)
    assert len(heads) == 1
    assert other.get(ref.hash) == {"weights": [1, 2, 3]}
    assert len(heads) == 1  # a small object comes down in one GET, no HEAD first
    assert other.meta(ref.hash)["kind"] == "json"


def test_an_unknown_digest_is_absent_and_a_key_error(stores):
    moto, store, _ = stores
    digest = "cd" + "1" * 62
    assert store.exists(digest) is False
    assert store.exists(digest) is False  # an absence is not remembered as presence
    with pytest.raises(KeyError) as caught:
        store.get(digest)
    assert caught.value.args[0] == f"artifact {digest[:12]} is not in s3://{moto.outputs['buckets']['artifacts']}/artifacts/"


def test_text_keeps_its_suffix_on_another_machine(stores):
    _, store, fresh = stores
    ref = store.put_text("# Report\n", suffix=".md")
    other = fresh()
    assert other.get(ref.hash) == "# Report\n"
    assert other.data_path(ref.hash).name == "data.md"
    assert other.meta(ref.hash)["data_name"] == "data.md"
    plain = store.put_text("plain")
    third = fresh()
    assert third.data_path(plain.hash).name == "data.txt" and third.get(plain.hash) == "plain"


def test_a_directory_comes_back_whole(stores, tmp_path):
    _, store, fresh = stores
    folder = tmp_path / "dataset"
    (folder / "part").mkdir(parents=True)
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "part" / "b.csv").write_text("x\n2\n")
    ref = store.put_path(folder)
    other = fresh()
    gets = _calls(other, "GetObject")
    heads = _calls(other, "HeadObject")
    path = other.get(ref.hash)
    assert other.exists(ref.hash) and heads == []  # fetched: known to be in S3 without asking again
    assert sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()) == ["a.csv", "part/b.csv"]
    assert (path / "part" / "b.csv").read_text() == "x\n2\n"
    assert other.meta(ref.hash)["kind"] == "dir" and other.meta(ref.hash)["size"] == store.meta(ref.hash)["size"]
    # small objects: one GET each (meta.json, then the two files), no separate HEAD
    assert sorted(g["Key"] for g in gets) == sorted([store.key_of(ref.hash), store.key_of(ref.hash, "data/a.csv"),
                                                     store.key_of(ref.hash, "data/part/b.csv")])


def test_a_pickled_value_round_trips(stores):
    _, store, fresh = stores
    ref = store.put({1, 2, 3})
    other = fresh()
    assert other.get(ref.hash) == {1, 2, 3}
    assert other.data_path(ref.hash).name == "data.pkl"


@pytest.mark.parametrize("kind", ["json", "text"])
def test_a_tampered_object_is_refused_word_for_word_and_never_cached(stores, kind):
    moto, store, fresh = stores
    ref = store.put({"model": "weights"}) if kind == "json" else store.put_text("weights", suffix=".md")
    name = "data.json" if kind == "json" else "data.md"
    bucket = moto.outputs["buckets"]["artifacts"]
    moto.client("s3").put_object(Bucket=bucket, Key=store.key_of(ref.hash, name), Body=b'{"model": "evil"}')
    other = fresh()
    with pytest.raises(ArtifactCorrupted) as caught:
        other.get(ref.hash)
    message = str(caught.value)
    assert message.startswith(f"s3://{bucket}/artifacts/{ref.hash[:2]}/{ref.hash}/: content hash is ")
    actual = message.split("content hash is ", 1)[1][:12]
    assert actual != ref.hash[:12] and len(actual) == 12
    assert message.endswith(f", not {ref.hash[:12]}: the object was modified or corrupted; not loaded")
    assert not other.path_of(ref.hash).exists()
    assert list(other.tmp.iterdir()) == []  # the download's temp folder is gone too
