"""Mutation pins for the stack's SageMaker deployer (:mod:`modelway.backends.aws.deployer`), on moto.

What a user of ``modelway rollback|promote|feedback|deployments show --stack`` sees: the exact
refusals, which version a rollback lands on, the endpoint record and its history in S3, the
ground-truth objects, the per-variant numbers read back from CloudWatch, the rollout lock.
The endpoint's variants are real SageMaker calls (moto) through
:class:`~modelway.backends.aws.endpoints.EndpointVariants`; the record is seeded in the
artifacts bucket the way the deployer writes it, so no model needs to be trained here (the
full rollouts with trained models are in test_deploy_on_stack.py).

One moto stack for the whole module (each test uses its own endpoint name) keeps this fast.
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from modelway.backends.aws.deployer import HISTORY_KEPT, SUPPORTED, EndpointRecord, SageMakerEndpointDeployer
from modelway.backends.aws.endpoints import EndpointVariants, Variant
from modelway.backends.mapping import backends_for
from modelway.backends.stack import resolve_stack
from modelway.deploy.base import DeployRequest
from modelway.errors import UserError
from tests.aws.moto_stack import create_stack, server_env


@pytest.fixture(scope="module")
def stack(moto_endpoint, tmp_path_factory):
    """One stack for the module, boto3 in this process pointed at it while the module runs."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in server_env(moto_endpoint).items():
            mp.setenv(key, value)
        for key in ("MODELWAY_STACK", "MODELWAY_OUTPUTS", "AWS_PROFILE"):
            mp.delenv(key, raising=False)
        moto = create_stack(moto_endpoint, tmp_path_factory.mktemp("deployer-stack"))
        yield moto, backends_for(resolve_stack(None, moto.outputs_file))


@pytest.fixture
def env(stack, tmp_path):
    """(moto stack, backends, deployer logging into a list, the log, a fresh endpoint name)."""
    moto, backends = stack
    log: list[str] = []
    deployer = backends.deployer(tmp_path / "home", log=log.append)
    return moto, backends, deployer, log, f"ep-{uuid.uuid4().hex[:10]}"


def _endpoint(backends, moto, endpoint, weights):
    """The endpoint with one variant per version (``{version: weight}``), as the deployer would have left it."""
    models = f"s3://{moto.outputs['buckets']['models']}/credit-risk"
    EndpointVariants(backends.clients, backends.outputs).put(
        endpoint, [Variant("credit-risk", v, f"{models}/{v}/model.pkl", w) for v, w in weights.items()],
        config_suffix="seed")


def _seed(moto, endpoint, **fields):
    """The deployer's record of ``endpoint`` in the artifacts bucket (what an earlier rollout wrote)."""
    record = {"model": "credit-risk", "environment": "dev", "incumbent": "1.0.0", "weights": {"1.0.0": 1.0},
              **fields}
    moto.client("s3").put_object(Bucket=moto.outputs["buckets"]["artifacts"], Key=f"deployments/{endpoint}.json",
                                 Body=json.dumps(record).encode())


def _stored(moto, endpoint, key=None):
    s3 = moto.client("s3")
    got = s3.get_object(Bucket=moto.outputs["buckets"]["artifacts"], Key=key or f"deployments/{endpoint}.json")
    return got


def _record(moto, endpoint):
    return json.loads(_stored(moto, endpoint)["Body"].read())


def _weights(moto, endpoint):
    described = moto.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return {v["VariantName"]: v.get("CurrentWeight", 0.0) for v in described["ProductionVariants"]}


def _lock_exists(moto, endpoint):
    listed = moto.client("s3").list_objects_v2(Bucket=moto.outputs["buckets"]["artifacts"],
                                               Prefix=f"deployments/{endpoint}.lock")
    return listed.get("KeyCount", 0) > 0


def test_constants_and_record_defaults():
    assert SUPPORTED == ("canary", "blue-green")
    assert HISTORY_KEPT == 200
    record = EndpointRecord(model="m", environment="dev", incumbent="1", weights={"1": 1.0})
    assert (record.candidate, record.standby, record.strategy, record.phase, record.revision, record.history) == (
        None, None, None, "stable", 0, [])


def test_constructor_defaults(stack, tmp_path):
    _, backends = stack
    deployer = SageMakerEndpointDeployer(backends, tmp_path)
    assert (deployer.poll_s, deployer.settle_s) == (5.0, 15.0)
    assert deployer.log("anything") is None  # the default log swallows lines
    assert deployer.home == tmp_path and deployer.outputs is backends.outputs and deployer.clients is backends.clients
    assert deployer.registry is deployer.registry  # built once


@pytest.mark.parametrize("strategy", ["shadow", "ab"])
def test_unsupported_strategy_is_refused_naming_the_stack_and_the_alternatives(env, strategy):
    moto, backends, deployer, _, endpoint = env
    with pytest.raises(UserError) as caught:
        deployer.deploy(DeployRequest(endpoint=endpoint, model="credit-risk", version="1.0.0", strategy=strategy))
    assert str(caught.value) == (f"--strategy {strategy} is not available on SageMaker endpoints "
                                 f"(stack {backends.resolved.name}); use canary or blue-green")
    assert not _lock_exists(moto, endpoint)


def test_an_unknown_version_is_refused_and_the_refusal_is_in_the_history(env):
    moto, backends, deployer, _, endpoint = env
    _seed(moto, endpoint, revision=4)
    request = DeployRequest(endpoint=endpoint, model="credit-risk", version="9.9.9", actor="alice", trigger="ci")
    with pytest.raises(UserError) as caught:
        deployer.deploy(request)
    record = _record(moto, endpoint)
    [entry] = record["history"]
    assert record["revision"] == 5 and entry["revision"] == 5 and entry["actor"] == "alice" and entry["action"] == "refused"
    assert (entry["version"], entry["previous"]) == ("9.9.9", "1.0.0")
    assert entry["details"] == {"trigger": "ci", "reason": str(caught.value)}
    assert not _lock_exists(moto, endpoint)  # released on the error path
    # nothing recorded for an endpoint the deployer never saw
    other = f"{endpoint}-new"
    with pytest.raises(UserError):
        deployer.deploy(DeployRequest(endpoint=other, model="credit-risk", version="9.9.9"))
    assert deployer.describe(other) == {"endpoint": other, "state": None, "history": []}
    assert not _lock_exists(moto, other)


def test_a_held_lock_refuses_a_second_rollout_and_is_left_alone(env):
    moto, backends, deployer, _, endpoint = env
    bucket = moto.outputs["buckets"]["artifacts"]
    moto.client("s3").put_object(Bucket=bucket, Key=f"deployments/{endpoint}.lock", Body=b"{}")
    _seed(moto, endpoint, candidate="1.1.0")
    with pytest.raises(UserError) as caught:
        deployer.rollback(endpoint, actor="bob", reason="pager")
    assert str(caught.value) == (f"endpoint {endpoint}: another rollout holds s3://{bucket}/deployments/{endpoint}.lock; "
                                 "wait for it, or delete that object if its process died")
    assert _lock_exists(moto, endpoint)  # the other rollout's lock is not ours to delete


def _s3_answer(status, code):
    """An S3 error answer (XML), as botocore receives it."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_):
            yield self.body

    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    return AWSResponse("https://s3", status, {"Content-Type": "application/xml"}, _Raw(body))


@pytest.mark.parametrize(("status", "code", "held"), [(412, "PreconditionFailed", True), (412, "412", True),
                                                      (409, "ConditionalRequestConflict", True),
                                                      (400, "InvalidRequest", False)])
def test_the_answers_that_mean_another_rollout_holds_the_lock(env, status, code, held):
    """S3's compare-and-swap answers 412 (or 409 while another conditional write is in flight); anything else is
    an error of its own, never taken for a held lock."""
    from botocore.exceptions import ClientError

    moto, backends, deployer, _, endpoint = env
    _seed(moto, endpoint, candidate="1.1.0")
    s3 = backends.clients.get("s3")

    def refuse(request, **_):
        if request.method == "PUT" and request.url.split("?")[0].endswith(f"deployments/{endpoint}.lock"):
            return _s3_answer(status, code)

    s3.meta.events.register("before-send.s3.*", refuse)
    try:
        with pytest.raises(ClientError if not held else UserError) as caught:
            deployer.rollback(endpoint, actor="bob", reason="pager")
    finally:
        s3.meta.events.unregister("before-send.s3.*", refuse)
    if held:
        assert str(caught.value).startswith(f"endpoint {endpoint}: another rollout holds s3://")
    else:
        assert caught.value.response["Error"]["Code"] == code
    assert _record(moto, endpoint)["candidate"] == "1.1.0"  # nothing happened


def test_the_lock_is_written_with_the_stack_key_and_removed_afterwards(env):
    moto, backends, deployer, _, endpoint = env
    with deployer._lock(endpoint):
        held = _stored(moto, endpoint, f"deployments/{endpoint}.lock")
        assert held["ServerSideEncryption"] == "aws:kms" and held["SSEKMSKeyId"] == moto.outputs["kms_key_arn"]
        assert time.time() - json.loads(held["Body"].read())["since"] < 60
    assert not _lock_exists(moto, endpoint)


def test_rollback_of_a_candidate_returns_all_traffic_to_the_incumbent(env):
    moto, backends, deployer, log, endpoint = env
    _endpoint(backends, moto, endpoint, {"1.0.0": 0.5, "1.1.0": 0.5})
    _seed(moto, endpoint, candidate="1.1.0", standby="0.9.0", strategy="canary", phase="canary",
          weights={"1.0.0": 0.5, "1.1.0": 0.5}, revision=7)
    result = deployer.rollback(endpoint, actor="bob", reason="pager", trigger="alarm")
    assert (result.endpoint, result.model, result.version, result.strategy, result.outcome, result.reason,
            result.incumbent, result.revision) == (endpoint, "credit-risk", "1.1.0", "canary", "rolled_back", "pager",
                                                   "1.0.0", 8)
    assert _weights(moto, endpoint) == {"v1-0-0": 1.0, "v1-1-0": 0.0}
    shown = deployer.describe(endpoint)
    assert shown["revision"] == 8
    assert shown["state"] == {"model": "credit-risk", "environment": "dev", "incumbent": "1.0.0", "candidate": None,
                              "standby": "0.9.0", "strategy": "canary", "phase": "stable",
                              "variants": {"1.0.0": 1.0, "1.1.0": 0.0}, "shadow": None}
    [entry] = shown["history"]
    assert {k: v for k, v in entry.items() if k != "ts"} == {
        "revision": 8, "actor": "bob", "action": "rolled-back", "version": "1.0.0", "previous": "1.1.0",
        "weights": {"1.0.0": 1.0, "1.1.0": 0.0}, "details": {"trigger": "alarm", "reason": "pager"}}
    assert abs(datetime.fromisoformat(entry["ts"]).timestamp() - time.time()) < 120
    assert log[-1] == "  rolled back to 1.0.0 (pager)"
    # the model is not in this stack's registry: the decision stays in the record, the log says why
    assert any(line.startswith("  (audit log: decision not chained here: ") for line in log)
    assert not _lock_exists(moto, endpoint)
    # the record is stored under the stack's KMS key
    stored = _stored(moto, endpoint)
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == moto.outputs["kms_key_arn"]


def test_rollback_without_a_candidate_goes_back_to_the_standby(env):
    moto, backends, deployer, log, endpoint = env
    _endpoint(backends, moto, endpoint, {"1.0.0": 0.0, "1.1.0": 1.0})
    _seed(moto, endpoint, incumbent="1.1.0", standby="1.0.0", weights={"1.0.0": 0.0, "1.1.0": 1.0})
    result = deployer.rollback(endpoint, actor="bob", reason="bad")
    assert (result.version, result.incumbent, result.strategy, result.outcome) == ("1.1.0", "1.0.0", "rollback",
                                                                                   "rolled_back")
    assert _weights(moto, endpoint) == {"v1-0-0": 1.0, "v1-1-0": 0.0}
    state = deployer.describe(endpoint)["state"]
    assert (state["incumbent"], state["standby"], state["candidate"]) == ("1.0.0", None, None)  # never stands by
    assert deployer.describe(endpoint)["history"][-1]["details"] == {"trigger": "manual", "reason": "bad"}
    # now nothing is left to roll back to
    with pytest.raises(UserError) as caught:
        deployer.rollback(endpoint, actor="bob", reason="again")
    assert str(caught.value) == (f"endpoint {endpoint} has nothing to roll back to: 1.0.0 serves all traffic and no "
                                 "previous version is on standby")
    assert not _lock_exists(moto, endpoint)


def test_promote_without_a_candidate_is_refused_naming_the_phase(env):
    moto, backends, deployer, _, endpoint = env
    _seed(moto, endpoint, phase="stable")
    with pytest.raises(UserError) as caught:
        deployer.promote(endpoint, actor="bob", reason="ok")
    assert str(caught.value) == f"endpoint {endpoint} has no candidate to promote (phase stable)"


def test_promote_checks_the_candidate_is_deployable(env):
    moto, backends, deployer, _, endpoint = env
    _seed(moto, endpoint, candidate="7.7.7", phase="canary")
    with pytest.raises(UserError, match="7.7.7"):
        deployer.promote(endpoint, actor="bob", reason="ok")
    assert _record(moto, endpoint)["candidate"] == "7.7.7"  # nothing moved


@pytest.mark.parametrize("call", ["rollback", "promote", "feedback"])
def test_an_endpoint_without_a_deployment_is_one_line_naming_the_fix(env, call):
    moto, backends, deployer, _, endpoint = env
    with pytest.raises(UserError) as caught:
        if call == "feedback":
            deployer.feedback(endpoint, [("r1", 1.0)])
        else:
            getattr(deployer, call)(endpoint, actor="bob", reason="x")
    assert str(caught.value) == (f"endpoint {endpoint!r} has no deployment on stack {backends.resolved.name}; deploy "
                                 f"one with: modelway deploy MODEL@VERSION --endpoint {endpoint} --stack ...")


def test_feedback_is_stored_as_model_monitor_ground_truth(env):
    moto, backends, deployer, _, endpoint = env
    _seed(moto, endpoint)
    assert deployer.feedback(endpoint, [("req-1", 1), ("req-2", 0.5)]) == {"stored": 2, "matched": 0}
    s3 = moto.client("s3")
    bucket = moto.outputs["buckets"]["artifacts"]
    [obj] = s3.list_objects_v2(Bucket=bucket, Prefix=f"ground-truth/{endpoint}/")["Contents"]
    now = datetime.now(timezone.utc)
    assert obj["Key"].startswith(f"ground-truth/{endpoint}/{now:%Y/%m/%d}/") and obj["Key"].endswith(".jsonl")
    assert obj["Key"].split("/")[5] in {f"{h:02}" for h in (now.hour, (now.hour - 1) % 24)}  # the hour it came in
    assert len(obj["Key"].rsplit("/", 1)[1]) == 32 + len(".jsonl")
    body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
    assert body.endswith("\n") and body.count("\n") == 2
    assert [json.loads(line) for line in body.splitlines()] == [
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "req-1"}, "eventVersion": "0"},
        {"groundTruthData": {"data": "0.5", "encoding": "CSV"}, "eventMetadata": {"eventId": "req-2"},
         "eventVersion": "0"}]


def test_describe_reads_each_variants_numbers_from_cloudwatch(env):
    moto, backends, deployer, _, endpoint = env
    _endpoint(backends, moto, endpoint, {"1.0.0": 0.75, "1.1.0": 0.25})
    history = [{"revision": i, "action": "step"} for i in range(1, 26)]
    _seed(moto, endpoint, candidate="1.1.0", weights={"1.0.0": 0.75, "1.1.0": 0.25, "0.1.0": 0.0}, revision=25,
          history=history)
    now = datetime.now(timezone.utc)
    data = []
    for variant, calls, errors in (("v1-0-0", 30, 1), ("v1-1-0", 10, 2)):
        dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        for value in (calls, calls):  # two data points: the numbers are their sums
            data.append({"MetricName": "Invocations", "Dimensions": dims, "Timestamp": now, "Value": value})
        data.append({"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Timestamp": now, "Value": errors})
    # another endpoint's variant of the same name: never counted here
    data.append({"MetricName": "Invocations", "Timestamp": now, "Value": 1000,
                 "Dimensions": [{"Name": "EndpointName", "Value": endpoint + "-x"}, {"Name": "VariantName", "Value": "v1-0-0"}]})
    moto.client("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=data)

    def latency(parsed, **_):
        """moto has no ExtendedStatistics: the per-minute percentiles CloudWatch would give (microseconds)."""
        if parsed.get("Label") == "ModelLatency":
            parsed["Datapoints"] = [{"ExtendedStatistics": {"p95": 12000.0, "p50": 5000.0}},
                                    {"ExtendedStatistics": {"p95": 15000.0, "p50": 4000.0}},
                                    {"ExtendedStatistics": {"p99": 99000.0}}, {}]

    cloudwatch = backends.clients.get("cloudwatch")
    cloudwatch.meta.events.register("after-call.cloudwatch.GetMetricStatistics", latency)
    try:
        shown = deployer.describe(endpoint)
    finally:
        cloudwatch.meta.events.unregister("after-call.cloudwatch.GetMetricStatistics", latency)
    assert shown["endpoint"] == endpoint and shown["revision"] == 25
    assert shown["history"] == history[-20:]
    assert shown["stats"]["1.0.0"] == {"version": "1.0.0", "requests": 60, "errors": 1, "error_rate": round(1 / 60, 4),
                                       "p50_ms": 5.0, "p95_ms": 15.0, "labelled": 0, "accuracy": None,
                                       "agreement": None}
    assert shown["stats"]["1.1.0"]["requests"] == 20 and shown["stats"]["1.1.0"]["errors"] == 2
    # a version the endpoint does not serve: zeros, no CloudWatch numbers
    assert shown["stats"]["0.1.0"] == {"version": "0.1.0", "requests": 0, "errors": 0, "error_rate": 0.0,
                                       "p50_ms": None, "p95_ms": None, "labelled": 0, "accuracy": None,
                                       "agreement": None}
    assert shown["sagemaker"]["status"] == "InService"
    assert shown["sagemaker"]["by_version"] == {"1.0.0": "v1-0-0", "1.1.0": "v1-1-0"}
    assert shown["sagemaker"]["weights"] == {"v1-0-0": 0.75, "v1-1-0": 0.25}


def test_history_keeps_the_last_200_decisions(env):
    moto, backends, deployer, _, endpoint = env
    _endpoint(backends, moto, endpoint, {"1.0.0": 0.9, "1.1.0": 0.1})
    history = [{"revision": i} for i in range(1, HISTORY_KEPT + 1)]
    _seed(moto, endpoint, candidate="1.1.0", weights={"1.0.0": 0.9, "1.1.0": 0.1}, revision=HISTORY_KEPT,
          history=history)
    deployer.rollback(endpoint, actor="bob", reason="pager")
    stored = json.loads(_stored(moto, endpoint)["Body"].read())
    assert len(stored["history"]) == HISTORY_KEPT
    assert stored["history"][0] == {"revision": 2} and stored["history"][-1]["revision"] == HISTORY_KEPT + 1
    assert stored["revision"] == HISTORY_KEPT + 1


def test_suffix_names_the_version_and_the_time():
    before = int(time.time())
    version, stamp = SageMakerEndpointDeployer._suffix("1.2.0").rsplit("-", 1)
    assert version == "1-2-0" and before <= int(stamp) <= int(time.time())
