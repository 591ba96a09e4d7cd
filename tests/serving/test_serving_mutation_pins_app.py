"""Mutation pins of the model server: the router's sticky buckets and weights, and the routes over real HTTP.

The server runs on a free loopback port with :class:`~tests.serving.tiny_models.Tiny` versions
(no training); every client has a short timeout, so a mutant that hangs the server fails fast.
"""
from __future__ import annotations

import time

import pytest

from modelway.errors import UserError
from modelway.serving.app import ModelServer, Routing, bind, serve_in_thread, sticky_bucket
from modelway.serving.capture import read_capture
from modelway.serving.client import Client
from modelway.serving.state import DeploymentStore, EndpointState
from modelway.serving.traffic import TrafficLog, traffic_path
from tests.serving.tiny_models import register_tiny


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


# --- the server over HTTP ----------------------------------------------------------------------------

EP = "tiny"


@pytest.fixture
def served(home):
    """v1 (weight 1) with v2 as shadow, every request captured; yields (server, client, v1, v2)."""
    v1, v2 = register_tiny(home, "one"), register_tiny(home, "two")
    DeploymentStore(home).put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, shadow=v2,
                                                capture_rate=1.0))
    server = ModelServer(EP, home=home, poll_s=0.02, capture_seed=1)
    with serve_in_thread(server) as url:
        client = Client(url, timeout=10)
        yield server, client, v1, v2
        client.close()


def test_scoring_answers_with_variant_request_id_and_model_headers(home, served):
    server, client, v1, v2 = served
    reply = client.invoke({"x": 8, "color": "red"}, headers={"X-Request-Id": "req-1"})
    assert reply.status == 200 and reply.json() == {"predictions": [{"prediction": 1, "probability": 0.8}]}
    assert (reply.variant, reply.headers["x-request-id"], reply.headers["x-modelway-model"]) == (v1, "req-1", EP)
    assert reply.headers["content-type"] == "application/json"
    generated = client.invoke([{"x": 1, "color": "a"}, {"x": 2, "color": "b"}]).headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    log = TrafficLog(traffic_path(home, EP))
    _wait(lambda: log.stats(v1).requests == 2)  # written by the server's background task
    assert log.stats(v1).errors == 0
    _wait(lambda: len(read_capture(home, EP)) == 2)
    records = read_capture(home, EP)
    first = next(r for r in records if r["request_id"] == "req-1")
    assert first["version"] == v1 and first["status"] == 200 and first["error"] is None
    assert first["inputs"] == {"x": [8.0], "color": ["red"]} and first["outputs"] == [{"prediction": 1, "probability": 0.8}]


def test_the_shadow_scores_a_copy_and_is_never_returned(home, served):
    server, client, v1, v2 = served
    for i in range(3):
        assert client.invoke({"x": i, "color": "c"}).variant == v1
    log = TrafficLog(traffic_path(home, EP))
    _wait(lambda: log.stats(v2, shadow=True).requests == 3)  # scored after the response, logged in the background
    shadow = log.stats(v2, shadow=True)
    assert (shadow.requests, shadow.errors, shadow.agreement) == (3, 0, 1.0)
    assert log.stats(v2).requests == 0
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert f'modelway_shadow_predictions_total{{agree="true",endpoint="{EP}",variant="{v2}"}} 3.0' in metrics.body.decode()


def test_bad_payloads_are_400_and_counted_by_field(home, served):
    server, client, v1, _ = served
    broken = client.invoke(b"{", headers={"X-Request-Id": "b-1"})
    assert broken.status == 400 and broken.json()["error"].startswith("body is not valid JSON (")
    assert broken.variant is None and broken.headers["x-request-id"] == "b-1"
    wrong = client.invoke({"x": "many", "color": "c"}, headers={"X-Request-Id": "b-2"})
    assert wrong.status == 400 and wrong.json() == {"error": "row 0, field 'x': expected a number, got 'many'"}
    assert wrong.variant == v1
    missing = client.invoke({"color": "c"})
    assert missing.status == 400 and missing.json()["error"].startswith("missing field(s) ['x']")
    text = client.get("/metrics").body.decode()
    assert f'modelway_invalid_payloads_total{{endpoint="{EP}",field="x"}} 1.0' in text
    assert f'modelway_invalid_payloads_total{{endpoint="{EP}",field="body"}} 2.0' in text
    assert f'modelway_requests_total{{endpoint="{EP}",status="400",variant="-"}} 1.0' in text
    assert f'modelway_requests_total{{endpoint="{EP}",status="400",variant="{v1}"}} 2.0' in text
    _wait(lambda: len(read_capture(home, EP)) == 3)  # the background task writes the capture
    records = {r["request_id"]: r for r in read_capture(home, EP)}
    assert records["b-1"] == {"request_id": "b-1", "ts": records["b-1"]["ts"], "version": "-", "status": 400,
                              "error": broken.json()["error"], "inputs": None}
    assert records["b-2"]["inputs"] == {"x": ["many"], "color": ["c"]} and records["b-2"]["version"] == v1
    log = TrafficLog(traffic_path(home, EP))
    _wait(lambda: log.count("-", 0) == 1 and log.count(v1, 0) == 2)
    assert log.stats(v1).requests == 0  # a client's mistake is no request the model answered


def test_health_ping_and_following_new_revisions(home, served):
    server, client, v1, v2 = served
    assert client.get("/ping").status == 200
    health = client.get("/health").json()
    assert health == {"endpoint": EP, "model": EP, "revision": 1, "weights": {v1: 1.0}, "phase": "stable", "shadow": v2,
                      "standby": None, "loaded": sorted([v1, v2]), "categories_checked": {v1: False, v2: False},
                      "load_error": None}
    store = DeploymentStore(home)
    store.put(EP, EndpointState(model=EP, environment="dev", variants={v2: 1.0}, incumbent=v2, standby=v1, phase="stable",
                                capture_rate=0.0))
    _wait(lambda: client.get("/health").json()["revision"] == 2)
    health = client.get("/health").json()
    assert (health["weights"], health["shadow"], health["standby"], health["loaded"]) == ({v2: 1.0}, None, v1, sorted([v1, v2]))
    assert server.capture.rate == 0.0 and client.invoke({"x": 1, "color": "c"}).variant == v2
    # a version that cannot be loaded leaves the routing in place and says why, in /health and the heartbeat
    store.put(EP, EndpointState(model=EP, environment="dev", variants={"9.9.9": 1.0}, incumbent="9.9.9"))
    _wait(lambda: client.get("/health").json()["load_error"] is not None)
    health = client.get("/health").json()
    assert health["revision"] == 2 and health["load_error"].startswith("revision 3: ")
    assert client.invoke({"x": 1, "color": "c"}).variant == v2
    _wait(lambda: (store.live_servers(EP)[0]["load_error"] or "").startswith("revision 3: "))
    assert store.live_servers(EP)[0]["applied_revision"] == 2
    store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1))
    _wait(lambda: client.get("/health").json()["revision"] == 4)
    health = client.get("/health").json()
    assert health["load_error"] is None and health["loaded"] == [v1]


def test_failures_and_disagreements_are_logged_and_a_failing_live_model_is_a_500(home):
    v1, flip, bad = register_tiny(home, "one"), register_tiny(home, "flip", invert=True), register_tiny(home, "bad", fail=True)
    store = DeploymentStore(home)
    store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, shadow=flip, capture_rate=1.0))
    log = TrafficLog(traffic_path(home, EP))
    server = ModelServer(EP, home=home, poll_s=0.02)
    with serve_in_thread(server) as url:
        client = Client(url, timeout=10)
        assert client.invoke({"x": 8, "color": "c"}).json() == {"predictions": [{"prediction": 1, "probability": 0.8}]}
        _wait(lambda: log.stats(flip, shadow=True).requests == 1)
        assert log.stats(flip, shadow=True).agreement == 0.0
        text = client.get("/metrics").body.decode()
        assert f'modelway_shadow_predictions_total{{agree="false",endpoint="{EP}",variant="{flip}"}} 1.0' in text
        # a failing shadow is logged as its error, never seen by the client
        store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, shadow=bad,
                                    capture_rate=1.0))
        _wait(lambda: client.get("/health").json()["revision"] == 2)
        assert client.invoke({"x": 8, "color": "c"}).status == 200
        _wait(lambda: log.stats(bad, shadow=True).requests == 1)
        failed = log.stats(bad, shadow=True)
        assert (failed.errors, failed.agreement, failed.p95_ms) == (1, None, None)
        # a failing live model: the request's 500, counted against that version
        store.put(EP, EndpointState(model=EP, environment="dev", variants={bad: 1.0}, incumbent=bad, capture_rate=1.0))
        _wait(lambda: client.get("/health").json()["revision"] == 3)
        reply = client.invoke({"x": 1, "color": "c"}, headers={"X-Request-Id": "boom"})
        client.close()
    assert reply.status == 500 and reply.variant == bad and reply.headers["x-request-id"] == "boom"
    assert reply.json() == {"error": f"model {bad} failed: RuntimeError: tiny model failed"}
    stats = log.stats(bad)
    assert (stats.requests, stats.errors) == (1, 1)
    [record] = [r for r in read_capture(home, EP) if r["request_id"] == "boom"]
    assert (record["status"], record["error"], record["outputs"], record["version"]) == \
        (500, "RuntimeError: tiny model failed", None, bad)
    assert record["inputs"] is None
    assert store.live_servers(EP) == []  # a stopped server says goodbye


def test_sticky_keys_pin_a_client_to_a_variant(home):
    v1, v2 = register_tiny(home, "one"), register_tiny(home, "two")
    DeploymentStore(home).put(EP, EndpointState(model=EP, environment="dev", variants={v1: 0.5, v2: 0.5}, incumbent=v1,
                                                sticky_key="id", shadow=v2, capture_rate=0.0))
    low, high = _bucket_key(0.0, 0.5), _bucket_key(0.5, 1.0)
    with serve_in_thread(ModelServer(EP, home=home, poll_s=0.02)) as url:
        client = Client(url, timeout=10)
        by_field = {client.invoke({"x": 1, "color": "c", "id": low}).variant for _ in range(6)}
        by_other = {client.invoke({"x": 1, "color": "c", "id": high}).variant for _ in range(6)}
        by_header = {client.invoke({"x": 1, "color": "c", "id": low}, headers={"X-Modelway-Key": high}).variant
                     for _ in range(6)}
        keyless = client.invoke({"x": 1, "color": "c"})  # no key in the request: a weighted draw
        client.close()
    assert (by_field, by_other, by_header) == ({v1}, {v2}, {v2}) and keyless.status == 200
    # v2 is also the shadow: a request it answers itself is not copied to it again (the log is complete once
    # the server has stopped)
    shadowed = TrafficLog(traffic_path(home, EP)).stats(v2, shadow=True).requests
    assert shadowed == 6 + (keyless.variant == v1)


def test_a_version_without_feature_schema_cannot_be_served(home):
    v = register_tiny(home, "bare", schema={"features": [], "task": "classification"})
    with pytest.raises(UserError) as info:
        ModelServer(EP, home=home, state=EndpointState(model=EP, environment="dev", variants={v: 1.0}, incumbent=v))
    assert str(info.value) == f"{EP} {v} has no feature schema in the registry; it cannot be served"


def test_a_busy_port_is_one_line():
    taken = bind()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(UserError) as info:
            bind("127.0.0.1", port)
        assert str(info.value).startswith(f"cannot listen on 127.0.0.1:{port} (") and \
            str(info.value).endswith("); pick another --port")
    finally:
        taken.close()


def _wait(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_known_categories_are_checked_and_each_load_is_measured(home):
    import pandas as pd

    from modelway.profiling.profile import build_profile, save_baseline

    v1 = register_tiny(home, "one")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "color": ["red", "blue", "red", "blue"]})
    save_baseline(home, EP, v1, build_profile(frame, {"x": "numeric", "color": "categorical"}))
    store = DeploymentStore(home)
    store.put(EP, EndpointState(model=EP, environment="dev", variants={v1: 1.0}, incumbent=v1, capture_rate=0.0))
    with serve_in_thread(ModelServer(EP, home=home, poll_s=0.02)) as url:
        client = Client(url, timeout=10)
        assert client.get("/health").json()["categories_checked"] == {v1: True}
        unknown = client.invoke({"x": 1, "color": "green"})
        assert (unknown.status, unknown.json()) == (400, {"error": "row 0, field 'color': unknown category 'green'; "
                                                                   "known: ['blue', 'red']"})
        assert client.invoke({"x": 1, "color": "red"}).status == 200
        assert [s["url"] for s in store.live_servers(EP)] == [url]
        client.close()
    cost = TrafficLog(traffic_path(home, EP)).resources(v1)
    assert cost is not None and cost["rows"] == 200 and cost["rows_per_s"] > 0 and cost["model_mb"] >= 0


def test_a_server_given_its_state_serves_it_without_following_or_logging(home):
    v1, v2 = register_tiny(home, "one"), register_tiny(home, "two")
    fixed = EndpointState(model=EP, environment="contract", variants={v1: 1.0}, incumbent=v1, capture_rate=1.0)
    DeploymentStore(home).put(EP, EndpointState(model=EP, environment="dev", variants={v2: 1.0}, incumbent=v2))
    server = ModelServer(EP, home=home, state=fixed, poll_s=0.02)
    assert (server.follow, server.traffic, server.capture.rate, server.routing.revision) == (False, None, 0.0, 0)
    with serve_in_thread(server) as url:
        client = Client(url, timeout=10)
        assert client.invoke({"x": 1, "color": "c"}).variant == v1  # not the persisted v2
        assert client.invoke({"x": "bad", "color": "c"}).status == 400
        assert client.get("/health").json()["revision"] == 0
        assert DeploymentStore(home).live_servers(EP) == []  # invisible to rollouts
        client.close()
    assert read_capture(home, EP) == []
