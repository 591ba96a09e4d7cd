"""Errors on a stack: a missing bucket, AccessDenied and throttling, each through botocore's real parsing and retries.

AccessDenied and throttling answers are injected as HTTP responses at botocore's
``before-send`` hook (moto's server does not enforce IAM for these calls, nor throttle);
everything after that (status handling, retries with backoff, error parsing) is botocore's.
"""
from __future__ import annotations

import json

import pytest
from botocore.awsrequest import AWSResponse

from modelway.backends.aws.clients import AwsAccessDenied
from modelway.backends.mapping import backends_for, use
from modelway.backends.stack import resolve_stack
from tests.modelway_cli import ModelwayCli


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def _answer(status: int, code: str, message: str) -> AWSResponse:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return AWSResponse("https://s3", status, {"Content-Type": "application/xml"}, _Raw(body))


def test_missing_bucket_is_one_line_and_nothing_is_written(moto_stack, tmp_path):
    outputs = json.loads(moto_stack.outputs_file.read_text())
    outputs["buckets"]["artifacts"] = "modelway-dev-gone-artifacts"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(outputs))
    cli = ModelwayCli(tmp_path / "home")
    cli.env.update(moto_stack.env)
    done = cli("run", "pipelines/credit_risk.py", "--outputs", str(stale))
    assert done.code == 2
    assert done.stderr.count("\n") == 1
    assert "bucket modelway-dev-gone-artifacts (buckets.artifacts) does not exist" in done.stderr
    assert not (tmp_path / "home").exists()


def test_access_denied_names_the_role_and_the_action_and_publishes_nothing(moto_stack, tmp_path):
    backends = use(resolve_stack(None, moto_stack.outputs_file))
    store = backends.artifact_store(tmp_path / "home")

    def deny(request, **_):
        if request.method == "PUT":
            return _answer(403, "AccessDenied", "Access Denied")

    backends.clients.get("s3").meta.events.register("before-send.s3.*", deny)
    with pytest.raises(AwsAccessDenied) as caught:
        store.put({"a": 1})
    message = str(caught.value)
    assert "arn:aws:sts::123456789012:" in message  # who: the caller identity moto reports
    assert "s3:PutObject" in message and moto_stack.outputs["buckets"]["artifacts"] in message
    listed = moto_stack.client("s3").list_objects_v2(Bucket=moto_stack.outputs["buckets"]["artifacts"])
    assert listed.get("KeyCount", 0) == 0  # no artifact appears half-published


def test_throttling_is_retried_with_backoff(moto_stack, tmp_path):
    backends = backends_for(resolve_stack(None, moto_stack.outputs_file))
    store = backends.artifact_store(tmp_path / "home")
    attempts = []

    def slow_down(request, **_):
        if request.method == "PUT":
            attempts.append(request.url)
            if len(attempts) <= 2:
                return _answer(503, "SlowDown", "Please reduce your request rate.")

    backends.clients.get("s3").meta.events.register("before-send.s3.*", slow_down)
    ref = store.put({"b": 2})
    assert len(attempts) >= 3 and attempts[0] == attempts[1] == attempts[2]  # the same object, retried
    fresh = backends_for(resolve_stack(None, moto_stack.outputs_file)).artifact_store(tmp_path / "other-home")
    assert fresh.get(ref.hash) == {"b": 2}


def test_a_tampered_s3_object_is_never_loaded(moto_stack, tmp_path):
    backends = backends_for(resolve_stack(None, moto_stack.outputs_file))
    ref = backends.artifact_store(tmp_path / "home").put({"model": "weights"})
    bucket = moto_stack.outputs["buckets"]["artifacts"]
    moto_stack.client("s3").put_object(Bucket=bucket, Key=f"artifacts/{ref.hash[:2]}/{ref.hash}/data.json",
                                       Body=b'{"model": "evil"}')
    fresh = backends.artifact_store(tmp_path / "other-home")
    with pytest.raises(Exception, match="was modified or corrupted; not loaded"):
        fresh.get(ref.hash)
    assert not fresh.path_of(ref.hash).exists()  # nothing entered the local cache
