"""Mutation pins of the persisted deployment state: revisions, weights, history, heartbeats, the deploy lock."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.serving.state import DeploymentStore, EndpointState, _now


def _state(**kw) -> EndpointState:
    return EndpointState(**{"model": "m", "environment": "dev", "variants": {"1": 1.0}, "incumbent": "1", **kw})


def test_endpoint_state_defaults_and_loaded_versions():
    s = _state()
    assert (s.candidate, s.strategy, s.phase, s.shadow, s.standby, s.sticky_key, s.capture_rate, s.step, s.steps) == \
        (None, None, "stable", None, None, None, 0.1, 0, [])
    assert _state(variants={"2": 0.5, "1": 0.5}, shadow="3", standby="0").loaded_versions() == ["2", "1", "3", "0"]
    assert _state(variants={"1": 0.5, "2": 0.5}, shadow="2", standby="1").loaded_versions() == ["1", "2"]
    assert _state(standby="0").loaded_versions() == ["1", "0"]
    text = _state(shadow="2").to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True) and json.loads(text)["shadow"] == "2"
    assert EndpointState.from_json(text) == _state(shadow="2")


def test_store_revisions_weights_and_require(tmp_path):
    store = DeploymentStore(tmp_path)
    assert store.path == tmp_path / "deployments" / "deployments.db"
    assert store.get("b") is None and store.revision("b") is None and store.endpoints() == []
    with pytest.raises(UserError) as info:
        store.require("b")
    assert str(info.value) == "endpoint 'b' has no deployment; known endpoints: none (start one with: modelway serve MODEL)"
    assert store.put("b", _state()) == 1
    assert store.put("b", _state(variants={"1": 0.5, "2": 0.5 + 5e-7})) == 2  # rounding within 1e-6 is fine
    assert store.put("a", _state()) == 1
    assert store.revision("b") == 2 and store.endpoints() == ["a", "b"]
    assert store.require("b") == (2, _state(variants={"1": 0.5, "2": 0.5 + 5e-7}))
    with pytest.raises(UserError, match=r"known endpoints: \['a', 'b'\]"):
        store.require("c")
    for bad in ({}, {"1": 0.5, "2": 0.49}, {"1": 1.00001}, {"1": 0.5, "2": 0.5000015}):
        with pytest.raises(ValueError) as err:
            store.put("b", _state(variants=bad))
        assert str(err.value) == f"variant weights of b must sum to 1, got {bad}"
    assert store.revision("b") == 2


def test_history_is_written_with_the_revision_oldest_first_and_limited(tmp_path):
    store = DeploymentStore(tmp_path)
    store.add_history("ep", actor="x", action="refused")  # before any revision
    store.put("ep", _state(), history={"actor": "alice", "action": "deployed", "strategy": "canary", "version": "1",
                                       "previous": None, "details": {"b": 2, "a": Path("p")}})
    store.add_history("ep", actor="bob", action="note")
    store.add_history("other", actor="eve", action="x")
    rows = store.history("ep")
    assert [(r["actor"], r["action"], r["revision"]) for r in rows] == [("x", "refused", None), ("alice", "deployed", 1),
                                                                       ("bob", "note", 1)]
    assert rows[1]["details"] == {"a": "p", "b": 2} and rows[0]["details"] == {} and rows[1]["strategy"] == "canary"
    assert list(rows[1]["details"]) == ["a", "b"]  # stored with sorted keys: the same decision reads the same
    assert rows[1]["version"] == "1" and rows[1]["endpoint"] == "ep" and rows[2]["strategy"] is None
    assert [r["action"] for r in store.history("ep", 2)] == ["deployed", "note"]
    # a history entry that cannot be written undoes the revision of the same transaction
    with pytest.raises(TypeError):
        store.put("ep", _state(), history={"action": "no actor"})
    assert store.revision("ep") == 1 and len(store.history("ep")) == 3


def test_now_is_utc_iso_with_milliseconds():
    stamp = _now()
    assert stamp.endswith("+00:00") and len(stamp) == len("2026-12-04T21:00:00.000+00:00") and stamp[19] == "."


def test_heartbeats_live_servers_and_gone(tmp_path, monkeypatch):
    store = DeploymentStore(tmp_path)
    store.heartbeat("ep", "http://a", None)
    store.heartbeat("ep", "http://a", 3, "revision 3: boom")  # the same server: updated, not added
    store.heartbeat("other", "http://b", 1)
    live = store.live_servers("ep")
    assert [(s["url"], s["applied_revision"], s["load_error"]) for s in live] == [("http://a", 3, "revision 3: boom")]
    assert live[0]["pid"] == os.getpid() and live[0]["endpoint"] == "ep"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 4.5)
    assert len(store.live_servers("ep")) == 1
    monkeypatch.setattr(time, "time", lambda: now + 5.5)
    assert store.live_servers("ep") == [] and len(store.live_servers("ep", max_age_s=10.0)) == 1
    monkeypatch.undo()
    store.server_gone("ep", "http://a")
    assert store.live_servers("ep") == [] and len(store.live_servers("other")) == 1


def test_the_deploy_lock_is_exclusive_and_says_who_to_wait_for(tmp_path):
    store = DeploymentStore(tmp_path)
    with store.lock("ep"):
        with pytest.raises(UserError) as info:
            with store.lock("ep", timeout_s=0.1):
                pass
        assert str(info.value) == (f"another deploy on endpoint 'ep' is still running after 0s (lock "
                                   f"{tmp_path / 'deployments' / 'ep.lock'}); try again when it has finished")
        with store.lock("other", timeout_s=0.1):  # other endpoints are independent
            pass
    with store.lock("ep", timeout_s=0.1):  # released on exit
        pass
    # a waiter gets the lock once the holder lets go
    held, waited = threading.Event(), []
    release = threading.Event()

    def holder():
        with store.lock("ep"):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    threading.Timer(0.2, release.set).start()
    with store.lock("ep", timeout_s=5):
        waited.append(True)
    t.join(5)
    assert waited == [True]


def test_a_store_under_a_new_home_and_a_second_store_on_it(tmp_path):
    home = tmp_path / "a" / "b"
    first = DeploymentStore(home)
    first.put("ep", _state())
    assert DeploymentStore(home).revision("ep") == 1  # the server and the deployer each open one


def test_history_keeps_the_last_50_by_default(tmp_path):
    store = DeploymentStore(tmp_path)
    for i in range(55):
        store.add_history("ep", actor="x", action=str(i))
    assert [h["action"] for h in store.history("ep")] == [str(i) for i in range(5, 55)]
