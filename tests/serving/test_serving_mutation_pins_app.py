"""Mutation pins of the model server: the router's sticky buckets and weights."""
from __future__ import annotations


from modelway.serving.app import Routing, sticky_bucket
from modelway.serving.state import EndpointState


def _state(**kw) -> EndpointState:
    return EndpointState(**{"model": "m", "environment": "dev", "variants": {"1": 1.0}, "incumbent": "1", **kw})


def _bucket_key(lo: float, hi: float) -> str:
    return next(k for k in (f"k{i}" for i in range(10_000)) if lo <= sticky_bucket(k) < hi)


def test_sticky_bucket_is_a_fixed_hash_position():
    # the position is part of the contract: every server, before and after a restart, puts a client in one bucket
    assert sticky_bucket("applicant-17") == 0.09557664193264509 and sticky_bucket("") == 0.8931675160897388
    values = [sticky_bucket(f"k{i}") for i in range(2000)]
    assert all(0 <= v < 1 for v in values) and 0.45 < sum(values) / len(values) < 0.55
    assert sticky_bucket("a") == sticky_bucket("a") != sticky_bucket("b")


def test_routing_orders_variants_and_draws_by_cumulative_weight():
    state = _state(variants={"b": 0.25, "a": 0.75, "z": 0.0}, shadow="s")
    variants = {"a": "A", "b": "B", "z": "Z", "s": "S"}
    r = Routing(3, state, variants)
    assert r.order == ["a", "b"] and r.cumulative == [0.75, 1.0] and r.shadow == "S"
    assert r.choose(_bucket_key(0.0, 0.75)) == "A" and r.choose(_bucket_key(0.75, 1.0)) == "B"
    assert r.choose(_bucket_key(0.70, 0.75)) == "A" and r.choose(_bucket_key(0.75, 0.80)) == "B"
    assert Routing(1, _state(), {"1": "one"}).shadow is None
    # a key at or beyond the last edge (weights summing below 1) goes to the last variant
    short = Routing(1, _state(variants={"a": 0.1, "b": 0.1}), {"a": "A", "b": "B"})
    assert short.choose(_bucket_key(0.5, 1.0)) == "B" and short.choose(_bucket_key(0.1, 0.2)) == "B"
    assert short.choose(_bucket_key(0.0, 0.1)) == "A"
    draws = [r.choose(None) for _ in range(4000)]
    assert 0.2 < draws.count("B") / 4000 < 0.3 and set(draws) == {"A", "B"}
