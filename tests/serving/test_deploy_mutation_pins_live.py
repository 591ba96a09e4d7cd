"""Mutation pins of the embedded deployer: each strategy's decision, what it writes and what it says.

A tiny model (scores in microseconds) passes the real contract tests over HTTP; the endpoint's
server is :class:`~tests.serving.tiny_models.SimServer`, which applies revisions through the
heartbeat table and writes chosen traffic into the real traffic log, so each window's numbers,
and so each verdict, are exactly what the test says. What is asserted is what an operator sees:
the result and its reason, the routing left behind, the history and the audit log.
"""
from __future__ import annotations

import pytest

from modelway.deploy import embedded as embedded_mod
from modelway.deploy.base import DeployRefused, DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer, _copy, _ms, _numbers
from modelway.deploy.guardrails import Guardrails
from modelway.errors import UserError
from modelway.registry import get_registry
from modelway.serving.state import DeploymentStore, EndpointState
from tests.serving.tiny_models import Behaviour, SimServer, register_tiny

EP = "tiny"
QUICK = dict(window_requests=20, window_seconds=5.0, actor="pytest",
             guardrails=Guardrails(min_requests=10, min_labelled=10))


def _req(version: str, strategy: str = "canary", **kw) -> DeployRequest:
    return DeployRequest(endpoint=EP, model=EP, version=version, strategy=strategy, **{**QUICK, **kw})


@pytest.fixture
def tiny(home):
    """v1 serving all traffic (written as a first deployment leaves it), v2 and v3 registered candidates."""
    v1, v2, v3 = register_tiny(home, "one"), register_tiny(home, "two"), register_tiny(home, "three")
    lines: list[str] = []
    deployer = EmbeddedDeployer(home, poll_s=0.01, log=lines.append)
    deployer.store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1),
                       history={"actor": "alice", "action": "deployed", "version": v1})
    return deployer, lines, None, v1, v2, v3


def _deployments(home, version=None):
    return [e.payload for e in get_registry(home).audit_entries(EP, version) if e.event == "deployment"]


def test_the_first_deployment_goes_live_without_a_rollout(home):
    v1 = register_tiny(home, "one")
    lines: list[str] = []
    deployer = EmbeddedDeployer(home, log=lines.append)
    first = deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=v1, actor="alice", trigger="ci"))
    assert first.to_dict() == {"endpoint": EP, "model": EP, "version": v1, "strategy": "initial", "outcome": "promoted",
                               "reason": "first version on this endpoint", "incumbent": None, "revision": 1, "steps": [],
                               "details": {}}
    revision, state = DeploymentStore(home).require(EP)
    assert revision == 1 and state == EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1)
    [entry] = deployer.store.history(EP)
    assert (entry["actor"], entry["action"], entry["strategy"], entry["version"], entry["previous"], entry["revision"]) == \
        ("alice", "deployed", "canary", v1, None, 1)
    assert entry["details"] == {"trigger": "ci", "reason": "first version on this endpoint"}
    assert _deployments(home, v1) == [{"endpoint": EP, "decision": "deployed", "trigger": "ci", "strategy": "initial",
                                       "revision": 1}]
    assert lines == []


def test_redeploying_the_serving_version_changes_nothing(home, tiny):
    deployer, _, _, v1, *_ = tiny
    again = deployer.deploy(_req(v1))
    assert (again.outcome, again.reason, again.incumbent, again.revision, again.strategy) == \
        ("unchanged", f"{v1} already serves all traffic", v1, 1, "canary")
    assert DeploymentStore(home).revision(EP) == 1


def test_another_model_on_the_endpoint_is_refused(home, tiny):
    deployer, *_ = tiny
    other = register_tiny(home, "x", name="other")
    with pytest.raises(DeployRefused) as info:
        deployer.deploy(DeployRequest(endpoint=EP, model="other", version=other))
    assert str(info.value) == f"endpoint {EP} serves model {EP}, not other"


def test_a_rollout_needs_a_live_server(home, tiny):
    deployer, lines, _, v1, v2, _ = tiny
    with pytest.raises(UserError) as info:
        deployer.deploy(_req(v2))
    assert str(info.value) == (f"no server is running for endpoint {EP}; a rollout needs live traffic to judge: start one "
                               f"with modelway serve {EP} (in another terminal)")
    assert lines[0].startswith("  contract tests: 8/8 passed") and lines[0] == "  contract tests: 8/8 passed"


def test_a_good_canary_is_promoted_step_by_step(home, tiny):
    deployer, lines, _, v1, v2, _ = tiny
    # a load error the server reported for an older revision does not stop this rollout
    with SimServer(home, EP, {}, load_error="revision 1: stale") as sim:
        result = deployer.deploy(_req(v2, steps=(0.25, 0.5, 1.0), trigger="ci"))
    for revision, step in ((2, 0), (3, 1)):
        mid = sim.states[revision]
        assert (mid.candidate, mid.strategy, mid.phase, mid.step, mid.steps, mid.incumbent, mid.standby) == \
            (v2, "canary", "canary", step, [0.25, 0.5, 1.0], v1, None)
    assert (result.outcome, result.strategy, result.version, result.incumbent, result.revision) == \
        ("promoted", "canary", v2, v1, 4)
    assert result.reason == "all 2 canary steps passed"
    assert [s.weights for s in result.steps] == [{v2: 0.25, v1: 0.75}, {v2: 0.5, v1: 0.5}]
    assert [s.revision for s in result.steps] == [2, 3] and all(s.verdict["ok"] for s in result.steps)
    assert result.steps[0].verdict["judged"] == ["error_rate", "p95_latency"]
    assert result.steps[0].verdict["candidate"]["requests"] >= 20
    assert result.details["contract"]["passed"] is True and len(result.details["contract"]["checks"]) == 8
    _, state = DeploymentStore(home).require(EP)
    assert state == EndpointState(model=EP, environment="dev", variants={v2: 1.0}, incumbent=v2, standby=v1,
                                  strategy="canary", phase="stable")
    history = deployer.store.history(EP)
    assert [(h["action"], h["revision"], h["version"], h["previous"]) for h in history] == [
        ("deployed", 1, v1, None), ("step", 2, v2, v1), ("step", 3, v2, v1), ("promoted", 4, v2, v1)]
    assert history[1]["details"] == {"trigger": "ci", "weights": {v2: 0.25, v1: 0.75}}
    assert history[3]["actor"] == "pytest" and history[3]["strategy"] == "canary"
    assert history[3]["details"]["reason"] == "all 2 canary steps passed" and history[3]["details"]["trigger"] == "ci"
    assert len(history[3]["details"]["steps"]) == 2
    [promoted] = _deployments(home, v2)
    assert {k: promoted[k] for k in ("endpoint", "decision", "trigger", "reason", "previous", "revision", "strategy")} == \
        {"endpoint": EP, "decision": "promoted", "trigger": "ci", "reason": "all 2 canary steps passed", "previous": v1,
         "revision": 4, "strategy": "canary"}
    assert promoted["breaches"] == [] and promoted["candidate"]["version"] == v2 and promoted["incumbent"]["version"] == v1
    assert "ab" not in promoted
    assert lines[1] == f"  revision 2: step [{v1} 75%, {v2} 25%]" and lines[3] == f"  revision 3: step [{v1} 50%, {v2} 50%]"
    c, i = result.steps[0].verdict["candidate"], result.steps[0].verdict["incumbent"]
    assert lines[2] == (f"    window: candidate {c['requests']} req, errors 0.0, p95 2.0 ms, accuracy None | incumbent "
                        f"{i['requests']} req, errors 0.0, p95 2.0 ms, accuracy None -> ok")
    assert lines[5] == f"  revision 4: promoted {v2} to all traffic ({v1} on standby)"


def test_a_failing_canary_is_rolled_back_by_the_guardrails(home, tiny):
    deployer, lines, _, v1, v2, v3 = tiny
    deployer.store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, standby=v3))
    with SimServer(home, EP, {v2: Behaviour(status=500)}):
        result = deployer.deploy(_req(v2, trigger="ci"))
    breach = "error rate 100.0% vs 0.0% for the incumbent (limit +2.0 points)"
    assert (result.outcome, result.strategy, result.version, result.incumbent, result.revision) == \
        ("rolled_back", "canary", v2, v1, 4)
    assert result.reason == f"guardrail breached: {breach}"
    assert [s.weights for s in result.steps] == [{v2: 0.1, v1: 0.9}] and result.steps[0].verdict["breaches"] == [breach]
    _, state = DeploymentStore(home).require(EP)
    # the older standby survives the rollback of a candidate: `modelway rollback` still has somewhere to go
    assert state == EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, phase="stable", standby=v3)
    last = deployer.store.history(EP)[-1]
    assert (last["actor"], last["action"], last["strategy"], last["version"], last["previous"]) == \
        ("modelway-guardrails", "rolled-back", "canary", v1, v2)
    assert last["details"]["reason"] == f"guardrail breached: {breach}"
    assert last["details"]["trigger"] == "guardrail (ci by pytest)" and last["details"]["step"]["revision"] == 3
    [audit] = _deployments(home, v2)
    assert {k: audit[k] for k in ("decision", "trigger", "reason", "restored", "revision", "breaches")} == \
        {"decision": "rolled-back", "trigger": "guardrail (ci by pytest)", "reason": f"guardrail breached: {breach}",
         "restored": v1, "revision": 4, "breaches": [breach]}
    assert any(line.endswith(f"-> BREACH: {breach}") for line in lines)
    assert lines[-1] == f"  revision 4: rolled back to {v1} (guardrail breached: {breach})"


def test_blue_green_switches_at_once_keeps_a_standby_and_rolls_back_to_it(home, tiny):
    deployer, lines, _, v1, v2, v3 = tiny
    with SimServer(home, EP, {}) as sim:
        result = deployer.deploy(_req(v2, "blue-green"))
        assert (result.outcome, result.strategy, result.reason, result.incumbent) == \
            ("promoted", "blue-green", "blue-green window passed", v1)
        switched = sim.states[2]
        assert (switched.variants, switched.candidate, switched.strategy, switched.phase, switched.standby) == \
            ({v2: 1.0}, v2, "blue-green", "blue-green", v1)
        assert [s.weights for s in result.steps] == [{v2: 1.0}]
        # judged against the incumbent's traffic from before the switch
        assert result.steps[0].verdict["incumbent"]["version"] == v1 and result.steps[0].verdict["incumbent"]["requests"] > 0
        history = deployer.store.history(EP)
        assert [h["action"] for h in history] == ["deployed", "switched", "promoted"]
        assert history[1]["details"]["weights"] == {v2: 1.0}
        _, state = DeploymentStore(home).require(EP)
        assert (state.variants, state.standby, state.incumbent, state.candidate) == ({v2: 1.0}, v1, v2, None)
        back = deployer.rollback(EP, actor="bob", reason="customer complaints")  # one revision: v1 is still loaded
    assert (back.outcome, back.version, back.incumbent, back.strategy, back.reason) == \
        ("rolled_back", v2, v1, "blue-green", "customer complaints")
    _, state = DeploymentStore(home).require(EP)
    assert (state.variants, state.incumbent, state.standby, state.phase) == ({v1: 1.0}, v1, None, "stable")
    last = deployer.store.history(EP)[-1]
    assert (last["actor"], last["action"], last["version"], last["previous"]) == ("bob", "rolled-back", v1, v2)
    assert last["details"] == {"reason": "customer complaints", "trigger": "manual"}
    with pytest.raises(UserError) as info:
        deployer.rollback(EP, actor="bob", reason="again")
    assert str(info.value) == (f"endpoint {EP} has nothing to roll back to: {v1} serves all traffic and no previous "
                               "version is on standby")


def test_a_bad_blue_green_candidate_returns_to_the_standby(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v2: Behaviour(status=500)}):
        result = deployer.deploy(_req(v2, "blue-green"))
    assert (result.outcome, result.version, result.incumbent, result.strategy) == ("rolled_back", v2, v1, "blue-green")
    _, state = DeploymentStore(home).require(EP)
    assert (state.variants, state.incumbent, state.standby, state.candidate) == ({v1: 1.0}, v1, None, None)


def test_a_candidate_without_traffic_is_not_promoted_unjudged(home, tiny):
    deployer, lines, _, v1, v2, _ = tiny
    with SimServer(home, EP, {}, per_tick=0):
        result = deployer.deploy(_req(v2, window_seconds=0.3))
    reason = (f"only 0 requests reached {v2} in 0s (guardrails need 10); not promoting an unjudged candidate")
    assert (result.outcome, result.reason) == ("rolled_back", f"guardrail breached: {reason}")
    assert result.steps[0].verdict["ok"] is False and result.steps[0].verdict["breaches"] == [reason]


def test_a_window_that_times_out_with_enough_requests_is_judged(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {}, per_tick=4):
        result = deployer.deploy(_req(v2, window_seconds=0.6, window_requests=100_000, steps=(0.5, 1.0)))
    assert result.outcome == "promoted" and 10 <= result.steps[0].verdict["candidate"]["requests"] < 100_000


def test_ab_picks_the_more_accurate_version(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v1: Behaviour(accuracy=0.5), v2: Behaviour(accuracy=0.95)}) as sim:
        result = deployer.deploy(_req(v2, "ab", ab_min_labelled=40, ab_split=0.4, sticky_key="id"))
    running = sim.states[2]
    assert (running.candidate, running.strategy, running.phase, running.sticky_key) == (v2, "ab", "ab", "id")
    assert result.steps[0].verdict["candidate"]["labelled"] >= 40  # the window waits for the labels it needs
    assert (result.outcome, result.strategy, result.incumbent) == ("promoted", "ab", v1)
    assert result.reason.startswith(f"{v2} wins: accuracy 0.9") and result.details["ab"]["winner"] == v2
    assert [s.weights for s in result.steps] == [{v2: 0.4, v1: 0.6}]
    started = deployer.store.history(EP)[1]
    assert started["action"] == "ab-started" and started["details"]["sticky_key"] == "id"
    assert started["details"]["weights"] == {v2: 0.4, v1: 0.6}
    [audit] = _deployments(home, v2)
    assert audit["decision"] == "promoted" and audit["ab"]["winner"] == v2 and audit["strategy"] == "ab"


def test_ab_rolls_back_the_less_accurate_version(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    # an accuracy gap the guardrails allow (max_accuracy_drop 0.5) but the A/B test sees
    with SimServer(home, EP, {v1: Behaviour(accuracy=0.95), v2: Behaviour(accuracy=0.6)}):
        result = deployer.deploy(_req(v2, "ab", ab_min_labelled=40,
                                      guardrails=Guardrails(min_requests=10, min_labelled=10, max_accuracy_drop=0.5)))
    assert (result.outcome, result.strategy, result.incumbent, result.version) == ("rolled_back", "ab", v1, v2)
    assert result.reason.startswith(f"{v1} wins: accuracy 0.9") and result.details["ab"]["winner"] == v1
    last = deployer.store.history(EP)[-1]
    assert (last["actor"], last["action"], last["version"], last["previous"]) == ("pytest", "rolled-back", v1, v2)


def test_an_undecided_ab_test_keeps_running_until_promoted(home, tiny):
    deployer, lines, _, v1, v2, v3 = tiny
    with SimServer(home, EP, {v1: Behaviour(accuracy=0.8), v2: Behaviour(accuracy=0.8)}):
        result = deployer.deploy(_req(v2, "ab", ab_min_labelled=20))
        assert (result.outcome, result.strategy, result.incumbent, result.revision) == ("running", "ab", v1, 2)
        assert result.reason.startswith("no significant difference yet") or result.reason.startswith("not enough data")
        assert deployer.store.history(EP)[-1]["action"] == "ab-running"
        shown = deployer.describe(EP)
        assert shown["ab"]["winner"] is None and set(shown["stats"]) == {v1, v2}
        assert shown["state"]["phase"] == "ab" and shown["revision"] == 2 and shown["servers"][0]["url"] == "http://sim"
        with pytest.raises(DeployRefused) as info:
            deployer.deploy(_req(v3))
        assert str(info.value) == (f"endpoint {EP} is still running ab of {v2}; end it with modelway promote {EP} or "
                                   f"modelway rollback {EP}")
        promoted = deployer.promote(EP, actor="carol", reason="good enough")
    assert (promoted.outcome, promoted.version, promoted.incumbent, promoted.strategy, promoted.reason) == \
        ("promoted", v2, v1, "ab", "good enough")
    last = deployer.store.history(EP)[-1]
    assert (last["actor"], last["action"], last["details"]) == ("carol", "promoted", {"reason": "good enough",
                                                                                      "trigger": "manual"})
    with pytest.raises(UserError) as info:
        deployer.promote(EP, actor="carol", reason="again")
    assert str(info.value) == f"endpoint {EP} has no candidate to promote (phase stable)"


def test_shadow_reports_and_stays_attached_until_rolled_back(home, tiny):
    deployer, lines, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v2: Behaviour(latency_ms=3.0)}) as sim:
        result = deployer.deploy(_req(v2, "shadow"))
        shadowed = sim.states[2]
        assert (shadowed.variants, shadowed.shadow, shadowed.candidate, shadowed.strategy, shadowed.phase) == \
            ({v1: 1.0}, v2, v2, "shadow", "shadow")
        assert (result.outcome, result.strategy, result.incumbent, result.revision) == ("running", "shadow", v1, 2)
        n = result.details["shadow"]["requests"]
        assert n >= 20 and result.reason == (f"shadow {v2} answered {n} copies: agreement 100.0%, p95 3.0 ms vs 2.0 ms "
                                             f"live; promote with modelway promote {EP}")
        step = result.steps[0]
        assert step.weights == {} and step.seconds == 0.0 and step.verdict["agreement"] == 1.0
        assert "accuracy" not in step.verdict["judged"] and step.verdict["ok"] is True
        assert result.details["live"]["version"] == v1
        assert lines[-1] == f"  revision 2: shadow-started [{v1} 100%] + shadow {v2}"
        history = deployer.store.history(EP)
        assert [h["action"] for h in history[-2:]] == ["shadow-started", "shadow-report"]
        assert history[-2]["details"]["shadow"] == v2 and history[-1]["details"]["agreement"] == 1.0
        shown = deployer.describe(EP)
        assert f"{v2} (shadow)" in shown["stats"] and "ab" not in shown
        # a candidate revoked while it runs can no longer be promoted
        get_registry(home).revoke(EP, v2, actor="sec", reason="leaked training data")
        with pytest.raises(DeployRefused) as info:
            deployer.promote(EP, actor="dan", reason="ship it")
        assert str(info.value) == f"{EP} {v2} is Revoked; only Approved versions can be deployed"
        back = deployer.rollback(EP, actor="dan", reason="enough")
    assert (back.version, back.incumbent, back.strategy) == (v2, v1, "shadow")
    _, state = DeploymentStore(home).require(EP)
    assert (state.shadow, state.candidate, state.variants, state.standby) == (None, None, {v1: 1.0}, None)


def test_a_failing_ab_candidate_is_stopped_by_the_guardrails_before_any_test(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v2: Behaviour(status=500)}):
        result = deployer.deploy(_req(v2, "ab", ab_min_labelled=40))
    assert (result.outcome, result.strategy, result.incumbent) == ("rolled_back", "ab", v1)
    assert result.reason.startswith("guardrail breached: error rate 100.0%") and "ab" not in result.details
    assert len(result.steps) == 1 and result.steps[0].weights == {v2: 0.5, v1: 0.5}


def test_rollback_and_promote_name_themselves_when_no_strategy_was_recorded(home, tiny):
    deployer, _, _, v1, v2, v3 = tiny
    deployer.store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, standby=v3))
    back = deployer.rollback(EP, actor="ops", reason="bad night", trigger="pager")
    assert (back.strategy, back.version, back.incumbent, back.revision) == ("rollback", v1, v3, 3)
    assert deployer.store.history(EP)[-1]["details"] == {"reason": "bad night", "trigger": "pager"}
    _, state = deployer.store.require(EP)
    assert (state.variants, state.incumbent, state.standby) == ({v3: 1.0}, v3, None)
    deployer.store.put(EP, EndpointState(model=EP, environment="dev", variants={v3: 1.0}, incumbent=v3, candidate=v2,
                                         shadow=v2, phase="shadow", standby=v1))
    up = deployer.promote(EP, actor="ops", reason="looks right")
    assert (up.strategy, up.version, up.incumbent, up.outcome) == ("promote", v2, v3, "promoted")
    _, state = deployer.store.require(EP)
    assert state == EndpointState(model=EP, environment="dev", variants={v2: 1.0}, incumbent=v2, standby=v3)


def test_a_failing_shadow_is_rolled_back(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v2: Behaviour(status=500)}):
        result = deployer.deploy(_req(v2, "shadow"))
    assert result.outcome == "rolled_back" and result.reason.startswith("guardrail breached: error rate 100.0%")
    _, state = DeploymentStore(home).require(EP)
    assert state.shadow is None and state.variants == {v1: 1.0}


def test_a_server_that_cannot_apply_a_revision_stops_the_rollout(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {}, load_error="revision {revision}: boom"):
        with pytest.raises(UserError) as info:
            deployer.deploy(_req(v2))
    assert str(info.value) == f"endpoint {EP}: a server could not apply revision 2: revision 2: boom"


def test_a_lagging_server_times_out_naming_it(home, tiny, monkeypatch):
    deployer, _, _, v1, v2, _ = tiny
    monkeypatch.setattr(embedded_mod, "APPLY_TIMEOUT_S", 0.2)
    with SimServer(home, EP, {}, apply=False, url="http://slow"):
        with pytest.raises(UserError) as info:
            deployer.deploy(_req(v2))
    assert str(info.value) == f"endpoint {EP}: server(s) ['http://slow'] did not apply revision 2 within 0s"


def test_feedback_counts_and_unknown_endpoints(home, tiny):
    deployer, _, _, v1, *_ = tiny
    for i in range(25):
        deployer.store.add_history(EP, actor="x", action=f"note-{i}")
    shown = deployer.describe(EP)
    assert [h["action"] for h in shown["history"]] == [f"note-{i}" for i in range(5, 25)]  # the last 20
    assert shown["stats"] == {v1: {"version": v1, "requests": 0, "errors": 0, "error_rate": 0.0, "p50_ms": None,
                                   "p95_ms": None, "labelled": 0, "accuracy": None, "agreement": None}}
    assert (shown["endpoint"], shown["revision"], shown["servers"], shown["state"]["incumbent"]) == (EP, 1, [], v1)
    assert "ab" not in shown
    assert deployer.feedback(EP, [("nope", 1.0)]) == {"stored": 1, "matched": 0, "ambiguous": 0}
    with pytest.raises(UserError, match="endpoint 'ghost' has no deployment"):
        deployer.feedback("ghost", [])
    assert deployer.describe("ghost") == {"endpoint": "ghost", "state": None, "history": []}


def test_a_version_failing_its_contract_tests_is_refused_and_recorded(home, tiny):
    deployer, lines, _, v1, *_ = tiny
    wider = register_tiny(home, "wide", schema={"features": [["x", "numeric"], ["color", "categorical"],
                                                              ["extra", "numeric"]], "task": "classification"})
    with pytest.raises(DeployRefused) as info:
        deployer.deploy(_req(wider))
    reason = ("contract tests failed: compatible fields: needs fields the previous clients do not send: ['extra']; "
              "kind changed: []")
    assert str(info.value) == f"{EP} {wider}: {reason}"
    assert lines[-1] == f"  contract tests: 1/2 passed - compatible fields: needs fields the previous clients do not send: " \
                        f"['extra']; kind changed: []"
    last = deployer.store.history(EP)[-1]
    assert (last["action"], last["version"], last["previous"]) == ("refused", wider, v1)
    assert last["details"]["reason"] == reason and last["details"]["contract"]["passed"] is False
    assert _deployments(home, wider) == [{"endpoint": EP, "decision": "refused", "trigger": "manual", "reason": reason}]


def test_a_failing_first_version_is_refused(home):
    broken = register_tiny(home, "broken", fail=True)
    deployer = EmbeddedDeployer(home)
    with pytest.raises(DeployRefused) as info:
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=broken))
    assert str(info.value).startswith(f"{EP} {broken}: contract tests failed: JSON record: HTTP 500")
    assert DeploymentStore(home).get(EP) is None
    assert deployer.store.history(EP)[0]["action"] == "refused"


def test_an_unapproved_or_unknown_version_is_refused_before_anything_runs(home, tiny):
    deployer, *_ = tiny
    pending = register_tiny(home, "prod-one", environment="prod")
    with pytest.raises(DeployRefused) as info:
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=pending, environment="prod"))
    assert str(info.value) == (f"{EP} {pending} is Pending; approve it first: modelway models approve {EP} {pending} "
                               f"--by NAME --reason '...'")
    last = deployer.store.history(EP)[-1]
    assert (last["action"], last["details"]["reason"]) == ("refused", str(info.value))
    assert _deployments(home, pending)[-1]["decision"] == "refused"
    with pytest.raises(UserError):
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version="9.9.9"))  # unknown: refused, nothing to audit
    assert deployer.store.history(EP)[-1]["version"] == "9.9.9"


def test_helpers_of_the_deployer():
    s = EndpointState(model="m", environment="dev", variants={"1": 1.0}, incumbent="1")
    c = _copy(s, candidate="2", steps=[0.5])
    assert c.candidate == "2" and c.steps == [0.5] and s.candidate is None and c.variants == s.variants
    assert _ms(None) == "n/a" and _ms(2.345) == "2.3 ms"
    verdict = {"breaches": ["b"], "candidate": {"v": 1}, "incumbent": {"v": 2}, "judged": ["x"]}
    assert _numbers({"step": {"verdict": verdict}}) == {"breaches": ["b"], "candidate": {"v": 1}, "incumbent": {"v": 2}}
    assert _numbers({"steps": [{"verdict": {}}, {"verdict": verdict}], "ab": {"w": 1}}) == \
        {"breaches": ["b"], "candidate": {"v": 1}, "incumbent": {"v": 2}, "ab": {"w": 1}}
    assert _numbers({}) == {} and _numbers({"step": "not a dict"}) == {} and _numbers({"steps": []}) == {}
    assert _numbers({"step": {"verdict": {"breaches": []}}}) == {"breaches": []}


def test_a_moderately_worse_candidate_is_caught_when_its_window_completes(home, tiny):
    # 0.6 vs 0.9 on a few dozen labels: p about 0.01, too weak for an interim look (0.001), enough for the
    # complete window's nominal alpha (0.05)
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v1: Behaviour(accuracy=0.9), v2: Behaviour(accuracy=0.6)}):
        result = deployer.deploy(_req(v2, steps=(0.5, 1.0)))
    assert result.outcome == "rolled_back" and result.reason.startswith("guardrail breached: accuracy 0.")
    verdict = result.steps[0].verdict
    assert verdict["judged"] == ["error_rate", "p95_latency", "accuracy"] and verdict["candidate"]["requests"] >= 20


def test_a_shadow_without_comparable_answers_reports_agreement_as_not_available(home, tiny):
    deployer, _, _, v1, v2, _ = tiny
    with SimServer(home, EP, {v2: Behaviour(agree=None)}):
        result = deployer.deploy(_req(v2, "shadow"))
        deployer.rollback(EP, actor="dan", reason="done")
    n = result.details["shadow"]["requests"]
    assert result.outcome == "running" and result.reason == (
        f"shadow {v2} answered {n} copies: agreement n/a, p95 2.0 ms vs 2.0 ms live; promote with modelway promote {EP}")
    assert result.steps[0].verdict["agreement"] is None
