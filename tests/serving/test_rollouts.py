"""Rollouts over real HTTP: weights, canary steps, automatic rollback by guardrails, blue-green, A/B, shadow."""
from __future__ import annotations

import math
import time

import pytest

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.deploy.guardrails import Guardrails
from modelway.serving.state import DeploymentStore
from modelway.registry import get_registry
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from tests.serving.helpers import Failing, FailsAfter, Inverted, Slow, Traffic, records, register, variant_shares

EP = "credit-risk"
FAST = dict(window_requests=40, window_seconds=90,
            # a strict alpha: at accuracy_alpha 0.05 a window of identical models is rolled back 1 time in
            # 20 by design (see test_labels_and_windows), and these tests judge ~5 good windows
            guardrails=Guardrails(min_requests=20, min_labelled=20, accuracy_alpha=0.001))


@pytest.fixture
def live(home, credit):
    """v1 serving all traffic on a server on a free loopback port; yields (deployer, url, v1, rows, labels)."""
    v1 = register(home, credit)
    deployer = EmbeddedDeployer(home)
    deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=v1))
    rows = records(credit.test, credit.features)
    labels = credit.test["default"].tolist()
    with serve_in_thread(ModelServer(EP, home=home, poll_s=0.05)) as url:
        yield deployer, url, v1, rows, labels


def _req(version: str, strategy: str, **kw) -> DeployRequest:
    return DeployRequest(endpoint=EP, model=EP, version=version, strategy=strategy, actor="pytest", **{**FAST, **kw})


def _within(share: float, weight: float, n: int) -> bool:
    return abs(share - weight) <= 4 * math.sqrt(weight * (1 - weight) / n)  # 4 sigma: ~1 in 16,000 flakes


def test_the_router_draws_variants_by_weight():
    from modelway.serving.state import EndpointState
    from modelway.serving.app import Routing

    state = EndpointState(model="m", environment="dev", variants={"1.0.0": 0.9, "1.1.0": 0.1}, incumbent="1.0.0")
    routing = Routing(1, state, {"1.0.0": "A", "1.1.0": "B"})
    draws = [routing.choose(None) for _ in range(50_000)]
    assert _within(draws.count("B") / len(draws), 0.1, len(draws))
    keyed = [routing.choose(f"client-{i}") for i in range(50_000)]
    assert _within(keyed.count("B") / len(keyed), 0.1, len(keyed))


def test_routing_weights_hold_over_http(live, home, credit):
    deployer, url, v1, rows, _ = live
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="same-model")
    store = DeploymentStore(home)
    _, state = store.require(EP)
    state.variants, state.candidate = {v1: 0.7, v2: 0.3}, v2
    deployer._wait_applied(EP, store.put(EP, state))
    with Traffic(url, rows, threads=4) as traffic:
        while len(traffic.replies) < 500:
            time.sleep(0.1)
    replies = traffic.replies
    share = sum(1 for *_, v in replies if v == v2) / len(replies)
    assert _within(share, 0.3, len(replies)), share


def test_good_canary_is_promoted_step_by_step_and_recorded(live, home, credit):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="retrained")
    with Traffic(url, rows, labels, deployer=deployer):
        result = deployer.deploy(_req(v2, "canary", steps=(0.2, 0.5, 1.0)))
    assert result.outcome == "promoted", result.reason
    assert [s.weights[v2] for s in result.steps] == [0.2, 0.5]
    assert all(s.verdict["ok"] for s in result.steps)
    _, state = DeploymentStore(home).require(EP)
    assert state.variants == {v2: 1.0} and state.standby == v1
    actions = [h["action"] for h in deployer.store.history(EP)]
    assert actions[-3:] == ["step", "step", "promoted"]
    events = [e for e in get_registry(home).audit_entries(EP, v2) if e.event == "deployment"]
    assert events[-1].payload["decision"] == "promoted" and events[-1].payload["candidate"]["requests"] >= 20


def test_a_candidate_that_fails_its_contract_tests_never_gets_traffic(live, home, credit):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Failing(credit.model), tag="broken")
    with pytest.raises(Exception, match="contract tests failed"):
        deployer.deploy(_req(v2, "canary", steps=(0.3, 1.0)))
    assert deployer.store.require(EP)[1].variants == {v1: 1.0}
    assert deployer.traffic(EP).count(v2, since=0) == 0
    assert deployer.store.history(EP)[-1]["action"] == "refused"


def test_a_contract_response_time_breach_must_reproduce(live, home, credit):
    from modelway.deploy.contract import RESPONSE_TIME_ATTEMPTS, run_contract_tests
    from modelway.registry import get_registry

    _, _, v1, _, _ = live
    report = run_contract_tests(get_registry(home), home, EP, v1, v1, max_p95_ms=0.001, latency_requests=3)
    (detail,) = [d for name, ok, d in report.checks if name == "response time" and not ok]
    assert detail.endswith(f"(limit 0 ms, best of {RESPONSE_TIME_ATTEMPTS} measurements)")
    roomy = run_contract_tests(get_registry(home), home, EP, v1, v1, max_p95_ms=60_000, latency_requests=3)
    assert roomy.passed and "best of" not in dict((n, d) for n, _, d in roomy.checks)["response time"]


@pytest.mark.parametrize("bad, breach", [
    (lambda m: FailsAfter(m, 40), "error rate"),
    (lambda m: Slow(m, 0.3), "p95 latency"),
    (lambda m: Inverted(m), "accuracy"),
])
def test_a_bad_candidate_is_rolled_back_and_then_gets_zero_requests(live, home, credit, bad, breach):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, bad(credit.model), tag=breach)
    with Traffic(url, rows, labels, deployer=deployer) as traffic:
        result = deployer.deploy(_req(v2, "canary", steps=(0.3, 1.0)))
        # requests already routed before the rollback was applied may still complete just after it
        done = time.time() + 0.25
        time.sleep(2.0)
        after = traffic.since(done)
    assert result.outcome == "rolled_back", result.reason
    assert breach in result.reason
    assert len(after) >= 5 and all(v == v1 for _, _, v in after), variant_shares(after)
    assert deployer.traffic(EP).count(v2, since=done) == 0
    rolled = deployer.store.history(EP)[-1]
    assert rolled["action"] == "rolled-back" and rolled["actor"] == "modelway-guardrails"
    assert breach in rolled["details"]["reason"]
    audit = [e for e in get_registry(home).audit_entries(EP, v2) if e.event == "deployment"][-1]
    assert audit.payload["decision"] == "rolled-back" and audit.payload["breaches"]


def test_blue_green_switches_at_once_and_rolls_back_instantly(live, home, credit):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="bg")
    with Traffic(url, rows, labels, deployer=deployer) as traffic:
        result = deployer.deploy(_req(v2, "blue-green"))
        assert result.outcome == "promoted", result.reason
        assert variant_shares(traffic.since(time.time() - 0.3)) == {v2: 1.0}
        start = time.monotonic()
        back = deployer.rollback(EP, actor="pytest", reason="manual check")
        took = time.monotonic() - start
        done = time.time()
        time.sleep(0.5)
        after = traffic.since(done)
    assert back.outcome == "rolled_back" and back.incumbent == v1
    assert took < 2.0  # the previous version is still loaded: no model load, one revision
    assert after and all(v == v1 for _, _, v in after)


def test_ab_assignment_is_sticky_and_a_worse_candidate_loses(live, home, credit):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Inverted(credit.model), tag="ab")
    store = DeploymentStore(home)
    client = Client(url)
    with Traffic(url, rows, labels, deployer=deployer, key_header=True):
        # accuracy guardrail off: the A/B test itself must call the winner
        result = deployer.deploy(_req(v2, "ab", sticky_key="applicant_id", window_requests=60, ab_min_labelled=40,
                                      guardrails=Guardrails(min_requests=20, min_labelled=10_000)))
    assert result.outcome == "rolled_back" and result.details["ab"]["winner"] == v1, result.reason
    assert result.details["ab"]["p_value_accuracy"] < 0.05
    # stickiness: a fresh A/B split, the same key lands on the same variant every time
    _, state = store.require(EP)
    state.variants, state.candidate, state.sticky_key, state.phase = {v1: 0.5, v2: 0.5}, v2, "applicant_id", "ab"
    deployer._wait_applied(EP, store.put(EP, state))
    seen: dict[int, set[str]] = {}
    for i in range(200):
        row = rows[i % 40]
        seen.setdefault(row["applicant_id"], set()).add(client.invoke(row).variant)
    assert all(len(v) == 1 for v in seen.values())
    assert {next(iter(v)) for v in seen.values()} == {v1, v2}


def test_shadow_answers_are_never_returned(live, home, credit):
    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Inverted(credit.model), tag="shadow")
    with Traffic(url, rows, deployer=deployer) as traffic:
        start = time.time()
        result = deployer.deploy(_req(v2, "shadow"))
        replies = traffic.since(start)
    assert result.outcome == "running"
    assert replies and all(v == v1 for _, _, v in replies)
    shadow = result.details["shadow"]
    assert shadow["requests"] >= 40 and shadow["agreement"] < 0.5  # the inverted model disagrees
    assert deployer.traffic(EP).count(v2, since=start) == 0  # no live answer came from the shadow


def test_approval_is_enforced_where_required(home, credit):
    from modelway.deploy.base import DeployRefused

    deployer = EmbeddedDeployer(home)
    pending = register(home, credit, environment="prod")
    with pytest.raises(DeployRefused, match="Pending"):
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=pending, environment="prod"))
    dev = register(home, credit, Slow(credit.model, 0.0), environment="dev")
    with pytest.raises(DeployRefused, match="requires a human approval"):
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=dev, environment="prod"))
    reg = get_registry(home)
    reg.approve(EP, pending, actor="alice", reason="reviewed")
    assert deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=pending, environment="prod")).outcome == "promoted"
    reg.revoke(EP, pending, actor="alice", reason="bad champion")
    with pytest.raises(DeployRefused, match="Revoked"):
        deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=pending, environment="prod"))
    assert [h["action"] for h in deployer.store.history(EP)].count("refused") == 3


def test_a_restarted_server_comes_back_with_the_same_routing(home, credit):
    v1 = register(home, credit)
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="r")
    deployer = EmbeddedDeployer(home)
    deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=v1))
    store = DeploymentStore(home)
    _, state = store.require(EP)
    state.variants, state.candidate, state.sticky_key, state.phase = {v1: 0.5, v2: 0.5}, v2, "applicant_id", "ab"
    store.put(EP, state)
    rows = records(credit.test.iloc[:60], credit.features)

    def assignments() -> dict[int, str]:
        with serve_in_thread(ModelServer(EP, home=home)) as url:
            client = Client(url)
            out = {r["applicant_id"]: client.invoke(r).variant for r in rows}
            client.close()
            return out

    first = assignments()
    assert set(first.values()) == {v1, v2}
    assert assignments() == first


def test_concurrent_deploys_on_one_endpoint_are_serialised(live, home, credit):
    import threading

    deployer, url, v1, rows, labels = live
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="c2")
    v3 = register(home, credit, Slow(credit.model, 0.0), tag="c3")
    results = {}
    with Traffic(url, rows, labels, deployer=deployer):
        threads = [threading.Thread(target=lambda v=v: results.setdefault(v, EmbeddedDeployer(home).deploy(
            _req(v, "canary", steps=(0.5, 1.0))))) for v in (v2, v3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert {r.outcome for r in results.values()} == {"promoted"}
    versions = [h["version"] for h in deployer.store.history(EP) if h["action"] in ("step", "promoted")]
    # each rollout's step and promotion are contiguous: never interleaved
    assert versions in ([v2, v2, v3, v3], [v3, v3, v2, v2]), versions
