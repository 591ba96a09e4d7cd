"""Guardrail and A/B decisions on numbers alone (no server): what breaches, what is chance, when data is too thin."""
from __future__ import annotations

from modelway.deploy.guardrails import Guardrails, ab_test, check
from modelway.serving.traffic import VariantStats


def _stats(version, requests=200, errors=0, p95=10.0, labelled=0, correct=0):
    return VariantStats(version, requests, errors, p95, p95 / 2, labelled, correct)


def test_each_guardrail_breaches_on_its_own():
    inc = _stats("1", labelled=400, correct=320)
    assert check(_stats("2", labelled=400, correct=318), inc, Guardrails()).ok
    assert "error rate" in check(_stats("2", errors=20), inc, Guardrails()).breaches[0]
    assert "p95 latency" in check(_stats("2", p95=30.0), inc, Guardrails()).breaches[0]
    assert "accuracy" in check(_stats("2", labelled=400, correct=240), inc, Guardrails()).breaches[0]


def test_too_few_requests_are_not_judged_and_small_accuracy_gaps_are_chance():
    inc = _stats("1", labelled=40, correct=36)
    few = check(_stats("2", requests=5, errors=5), inc, Guardrails(min_requests=30))
    assert few.ok and "error_rate" not in few.judged
    # 0.80 vs 0.90 on 40 labelled each: bigger than max_accuracy_drop, but not significant
    chance = check(_stats("2", labelled=40, correct=32), inc, Guardrails(min_labelled=30))
    assert chance.ok and "accuracy" in chance.judged


def test_ab_says_when_there_is_not_enough_data_yet():
    small = ab_test("1", "2", {"1": ([1, 0] * 10, [1.0] * 20), "2": ([1, 1] * 10, [1.0] * 20)}, min_labelled=100)
    assert small.winner is None and small.decision.startswith("not enough data yet: 20 and 20 labelled")
    even = ab_test("1", "2", {"1": ([1, 0] * 100, [1.0, 2.0] * 100), "2": ([0, 1] * 100, [2.0, 1.0] * 100)})
    assert even.winner is None and even.decision.startswith("no significant difference yet")


def test_a_tail_spike_alone_is_not_a_latency_breach_but_a_slower_candidate_is():
    import numpy as np

    rng = np.random.default_rng(0)
    inc_lat = list(rng.gamma(2.0, 10.0, 300))
    same = list(rng.gamma(2.0, 10.0, 60)) + [400.0] * 4  # same model, a few requests hit a busy moment
    inc = VariantStats("1", 300, 0, float(np.percentile(inc_lat, 95)), 20.0, latencies_ms=inc_lat)
    spiky = VariantStats("2", 64, 0, float(np.percentile(same, 95)), 20.0, latencies_ms=same)
    assert spiky.p95_ms > inc.p95_ms * 1.5 + 5 and check(spiky, inc, Guardrails()).ok
    slow_lat = [x + 80.0 for x in rng.gamma(2.0, 10.0, 64)]
    slow = VariantStats("2", 64, 0, float(np.percentile(slow_lat, 95)), 100.0, latencies_ms=slow_lat)
    assert "p95 latency" in check(slow, inc, Guardrails()).breaches[0]
