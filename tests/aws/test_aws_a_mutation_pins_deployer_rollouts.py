"""Mutation pins for the rollouts of :mod:`modelway.backends.aws.deployer`: deploy, canary, blue-green, breach.

Real models (small, trained once for the module) registered in the stack's model package
group, approved by the dev rules, contract-tested on a local server, then rolled out on moto's
SageMaker. Instead of a traffic thread, the per-variant numbers SageMaker would publish are put
in CloudWatch as each weight change is sent (timestamped just after it, inside the window), so
each window is complete at its first look and the outcome is decided by the numbers alone.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from modelway import active_backends
from modelway.deploy.base import DeployRefused, DeployRequest
from modelway.registry import get_registry


@pytest.fixture(scope="module")
def credit():
    from tests.serving.helpers import train_credit

    return train_credit(n_rows=400), train_credit(n_rows=400, seed=6)


@pytest.fixture
def setup(moto_stack, tmp_path, monkeypatch, moto_update_endpoint, credit):
    """(moto stack, deployer logging into a list, the log, endpoint, registry, [version per registration]).

    A stack per test: its model package group (versions, approvals, revocations) is the test's own."""
    from modelway.backends.mapping import backends_for
    from modelway.backends.stack import resolve_stack
    from tests.serving.helpers import register

    resolved = resolve_stack(None, moto_stack.outputs_file)
    # the stack's alarms: only the endpoint-errors alarm of the deployed model may roll an update back
    alarms = {"endpoint-errors/credit-risk": "cr-5xx", "endpoint-errors/credit-risk-v2": "other-5xx",
              "drift/credit-risk": "cr-drift"}
    moto = moto_stack
    backends = backends_for(dataclasses.replace(resolved, outputs=resolved.outputs.model_copy(
        update={"alarm_names": alarms})))
    home = tmp_path / "home"
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    for var in ("MODELWAY_ENV", "MODELWAY_PROMOTION_RULES", "MODELWAY_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    active_backends.install(backends)
    champion, challenger = credit
    versions = [register(home, champion, tag="champion", baseline=True),
                register(home, champion, model=challenger.model, tag="challenger")]
    log: list[str] = []
    deployer = backends.deployer(home, log=log.append)
    return moto, deployer, log, f"ep-{uuid.uuid4().hex[:10]}", get_registry(home), versions


def _request(endpoint, version, strategy="canary", **extra):
    return DeployRequest(endpoint=endpoint, model="credit-risk", version=version, strategy=strategy,
                         environment="dev", actor="alice", trigger="ci", steps=(0.1, 0.5, 1.0), window_requests=100,
                         window_seconds=30, **extra)


@contextlib.contextmanager
def _traffic(deployer, moto, endpoint, per_variant):
    """What SageMaker would measure once traffic moves: ``{variant: (invocations, 5xx errors)}``, published as
    each weight change is sent and timestamped just after it, so every window finds its numbers at once."""
    cloudwatch = moto.client("cloudwatch")

    def publish(**_):
        when = datetime.now(timezone.utc) + timedelta(seconds=30)
        data = []
        for variant, (calls, errors) in per_variant.items():
            dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
            data += [{"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when, "Value": calls},
                     {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Timestamp": when, "Value": errors}]
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)

    events = deployer.clients.get("sagemaker").meta.events
    events.register("before-call.sagemaker.UpdateEndpointWeightsAndCapacities", publish)
    try:
        yield
    finally:
        events.unregister("before-call.sagemaker.UpdateEndpointWeightsAndCapacities", publish)


def _weights(moto, endpoint):
    described = moto.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return {v["VariantName"]: v.get("CurrentWeight", 0.0) for v in described["ProductionVariants"]}


def _deployments(registry, version):
    return [e.payload for e in registry.audit_entries("credit-risk", version) if e.event == "deployment"]


def test_first_deploy_then_unchanged_then_canary_to_promotion(setup):
    moto, deployer, log, endpoint, registry, (first, second) = setup
    result = deployer.deploy(_request(endpoint, first))
    assert (result.endpoint, result.model, result.version, result.strategy, result.outcome, result.reason,
            result.incumbent, result.revision) == (endpoint, "credit-risk", first, "initial", "promoted",
                                                   "first version on this endpoint", None, 1)
    assert _weights(moto, endpoint) == {"v" + first.replace(".", "-"): 1.0}
    assert log[0].startswith("  contract tests: ") and log[0].endswith(" passed")
    assert log[-1] == f"  endpoint {endpoint} created: {first} 100%"
    [entry] = deployer.describe(endpoint)["history"]
    assert (entry["action"], entry["version"], entry["previous"], entry["weights"]) == ("deployed", first, None,
                                                                                        {first: 1.0})
    assert entry["details"] == {"trigger": "ci", "reason": "first version on this endpoint", "strategy": "initial"}
    assert _deployments(registry, first) == [{"endpoint": endpoint, "decision": "deployed", "trigger": "ci", "revision": 1,
                                              "weights": {first: 1.0}, "reason": "first version on this endpoint"}]

    again = deployer.deploy(_request(endpoint, first))
    assert (again.outcome, again.reason, again.incumbent, again.revision, again.strategy) == (
        "unchanged", f"{first} already serves all traffic", first, 1, "canary")

    old, new = "v" + first.replace(".", "-"), "v" + second.replace(".", "-")
    updates: list[dict] = []
    deployer.clients.get("sagemaker").meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpoint", lambda params, **_: updates.append(params))
    with _traffic(deployer, moto, endpoint, {old: (400, 0), new: (400, 0)}):
        result = deployer.deploy(_request(endpoint, second))
    [update] = updates  # the candidate joined once, guarded by the model's endpoint-errors alarm only
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "cr-5xx"}]}
    assert update["EndpointConfigName"].startswith(f"{endpoint}-{second.replace('.', '-')}-")
    joined = moto.client("sagemaker").describe_endpoint_config(EndpointConfigName=update["EndpointConfigName"])
    assert {v["VariantName"]: v["InitialVariantWeight"] for v in joined["ProductionVariants"]} == {old: 1.0, new: 0.0}
    assert (result.outcome, result.reason, result.version, result.incumbent, result.strategy) == (
        "promoted", "all 2 canary steps passed", second, first, "canary")
    assert [s.weights for s in result.steps] == [{second: 0.1, first: 0.9}, {second: 0.5, first: 0.5}]
    assert [s.revision for s in result.steps] == [2, 3] and result.revision == 4
    assert all(s.verdict["ok"] for s in result.steps)
    assert result.details["contract"]["passed"] is True
    assert result.details["steps"] == [
        {"weights": s.weights, "revision": s.revision, "seconds": s.seconds, "verdict": s.verdict} for s in result.steps]
    assert _weights(moto, endpoint) == {old: 0.0, new: 1.0}
    assert f"  {second} added to endpoint {endpoint} with weight 0 (guarded update)" in log
    assert log[-1] == f"  promoted {second} to all traffic ({first} on standby, weight 0)"
    shown = deployer.describe(endpoint)
    assert [(h["action"], h["version"], h["previous"]) for h in shown["history"]] == [
        ("deployed", first, None), ("step", second, first), ("step", second, first), ("promoted", second, first)]
    assert [h["weights"] for h in shown["history"][1:]] == [{second: 0.1, first: 0.9}, {second: 0.5, first: 0.5},
                                                           {second: 1.0, first: 0.0}]
    assert shown["history"][-1]["details"]["reason"] == "all 2 canary steps passed"
    assert (shown["state"]["incumbent"], shown["state"]["standby"], shown["state"]["candidate"],
            shown["state"]["phase"], shown["state"]["strategy"]) == (second, first, None, "stable", "canary")
    assert [(p["decision"], p["trigger"]) for p in _deployments(registry, second)] == [
        ("step", "ci"), ("step", "ci"), ("promoted", "ci")]

    # a manual rollback returns to the standby; the audit goes to the version rolled back
    back = deployer.rollback(endpoint, actor="bob", reason="pager")
    assert (back.outcome, back.version, back.incumbent, back.strategy) == ("rolled_back", second, first, "canary")
    assert [(p["decision"], p["reason"]) for p in _deployments(registry, second)[3:]] == [("rolled-back", "pager")]
    assert [p["decision"] for p in _deployments(registry, first)] == ["deployed"]


def test_blue_green_breach_rolls_back_at_once(setup):
    moto, deployer, log, endpoint, registry, (first, second) = setup
    deployer.deploy(_request(endpoint, first))
    old, new = "v" + first.replace(".", "-"), "v" + second.replace(".", "-")
    with _traffic(deployer, moto, endpoint, {old: (400, 0), new: (400, 120)}):
        result = deployer.deploy(_request(endpoint, second, strategy="blue-green"))
    assert (result.outcome, result.version, result.incumbent, result.strategy) == ("rolled_back", second, first,
                                                                                   "blue-green")
    assert result.reason.startswith("guardrail breach: error rate 30.0% vs 0.0% for the incumbent")
    [step] = result.steps
    assert step.weights == {second: 1.0, first: 0.0} and step.verdict["ok"] is False
    assert result.details["contract"]["passed"] is True
    assert {k: v for k, v in result.details.items() if k != "contract"} == {"step": {"weights": step.weights, "revision": step.revision, "seconds": step.seconds,
                                       "verdict": step.verdict}}
    assert _weights(moto, endpoint) == {old: 1.0, new: 0.0}
    history = deployer.describe(endpoint)["history"]
    assert [(h["action"], h["version"], h["previous"]) for h in history] == [
        ("deployed", first, None), ("switched", second, first), ("rolled-back", first, second)]
    state = deployer.describe(endpoint)["state"]
    assert (state["incumbent"], state["candidate"], state["standby"], state["phase"]) == (first, None, None, "stable")
    assert log[-1] == f"  rolled back to {first} ({result.reason})"

    # a held candidate (as an interrupted canary leaves it) is promoted by hand
    s3, key = moto.client("s3"), f"deployments/{endpoint}.json"
    bucket = moto.outputs["buckets"]["artifacts"]
    record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    record.update(candidate=second, phase="canary", strategy=None)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(record).encode())
    promoted = deployer.promote(endpoint, actor="dana", reason="looks fine")
    assert (promoted.outcome, promoted.version, promoted.incumbent, promoted.strategy, promoted.reason) == (
        "promoted", second, first, "promote", "looks fine")
    assert _weights(moto, endpoint) == {old: 0.0, new: 1.0}
    last = deployer.describe(endpoint)["history"][-1]
    assert (last["action"], last["actor"], last["version"], last["previous"], last["details"]) == (
        "promoted", "dana", second, first, {"trigger": "manual", "reason": "looks fine"})

    # blue-green back to the first version, still on the endpoint at weight 0: no new variant, one window
    updates: list[dict] = []
    deployer.clients.get("sagemaker").meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpoint", lambda params, **_: updates.append(params))
    with _traffic(deployer, moto, endpoint, {old: (400, 0), new: (400, 0)}):
        again = deployer.deploy(_request(endpoint, first, strategy="blue-green"))
    assert (again.outcome, again.reason, again.version, again.incumbent, again.strategy) == (
        "promoted", "blue-green window passed", first, second, "blue-green")
    assert [s.weights for s in again.steps] == [{first: 1.0, second: 0.0}] and updates == []
    assert _weights(moto, endpoint) == {old: 1.0, new: 0.0}

    # a revoked version is refused before anything moves, and the refusal is audited (last: the
    # revocation stays in the stack's registry, which this module's tests share)
    registry.revoke("credit-risk", second, actor="carol", reason="bias")
    with pytest.raises(DeployRefused) as caught:
        deployer.deploy(_request(endpoint, second))
    # audited once (it was twice: by the endpoint's decision and again on its own), with the decision's revision
    refusals = [p for p in _deployments(registry, second) if p["decision"] == "refused"]
    last = deployer.describe(endpoint)["history"][-1]
    assert last["action"] == "refused"
    assert refusals == [{"endpoint": endpoint, "decision": "refused", "trigger": "ci", "revision": last["revision"],
                         "weights": {first: 1.0, second: 0.0}, "reason": str(caught.value)}]
    assert _weights(moto, endpoint) == {old: 1.0, new: 0.0}


def test_refusals_before_traffic_moves_another_model_and_failed_contract_tests(setup, credit):
    """An endpoint serving another model, and a candidate its incumbent's clients cannot call (it needs a field
    they do not send): both refused, both recorded in the endpoint's history, no weight moves."""
    from modelway.stages.model_schema import GuardedModel, ModelSchema
    from tests.serving.helpers import register

    moto, deployer, log, endpoint, registry, (first, _) = setup
    other = f"{endpoint}-other"
    bucket = moto.outputs["buckets"]["artifacts"]
    moto.client("s3").put_object(Bucket=bucket, Key=f"deployments/{other}.json", Body=json.dumps(
        {"model": "fraud", "environment": "dev", "incumbent": "3.0.0", "weights": {"3.0.0": 1.0}}).encode())
    with pytest.raises(DeployRefused) as caught:
        deployer.deploy(_request(other, first))
    assert str(caught.value) == f"endpoint {other} serves model fraud, not credit-risk"

    deployer.deploy(_request(endpoint, first))
    # a rollout that stopped half-way (its process died) holds a candidate: end it first, never interleave two
    key = f"deployments/{endpoint}.json"
    record = json.loads(moto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    held = {**record, "candidate": "9.9.9", "phase": "canary"}
    moto.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(held).encode())
    with pytest.raises(DeployRefused) as caught:
        deployer.deploy(_request(endpoint, first))
    assert str(caught.value) == (f"endpoint {endpoint} is still running canary of 9.9.9; end it with modelway "
                                 f"promote {endpoint} or modelway rollback {endpoint}")
    moto.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(record).encode())
    champion, _ = credit
    wider = champion.train[champion.features].assign(bureau_score=1.0)
    needy = GuardedModel(champion.model.model, ModelSchema.infer(wider, task="classification", classes=[0, 1]))
    third = register(deployer.home, champion, model=needy, tag="needs-a-field", baseline=False)
    with pytest.raises(DeployRefused) as caught:
        deployer.deploy(_request(endpoint, third))
    reason = ("contract tests failed: compatible fields: needs fields the previous clients do not send: "
              "['bureau_score']; kind changed: []")
    assert str(caught.value) == f"credit-risk {third}: {reason}"
    assert log[-1] == f"  contract tests: 1/2 passed - compatible fields: needs fields the previous clients do not " \
                      "send: ['bureau_score']; kind changed: []"
    last = deployer.describe(endpoint)["history"][-1]
    assert (last["action"], last["version"], last["previous"], last["details"]) == (
        "refused", third, first, {"trigger": "ci", "reason": reason})
    assert _weights(moto, endpoint) == {"v" + first.replace(".", "-"): 1.0}
