"""Mutation pins of the serving pieces that need no server: traffic log, deployment state, payloads,
variants and batching, capture, metrics, resource profiles and the router.

Each test states what a user sees: the exact 400 message a client gets, the numbers the
guardrails read from the traffic log, the routing a restarted server comes back with.
"""
from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from modelway.errors import UserError
from modelway.serving import capture as capture_mod
from modelway.serving.app import Routing, sticky_bucket
from modelway.serving.capture import CaptureWriter, capture_root, read_capture
from modelway.serving.metrics import ServerMetrics
from modelway.serving.payload import _ABSENT, PayloadError, PayloadValidator, parse_body, row_count
from modelway.serving.resources import ResourceProfile, measure_load, probe_predict
from modelway.serving.state import DeploymentStore, EndpointState, _now
from modelway.serving.traffic import TrafficLog, TrafficRecord, VariantStats, _chunks, traffic_path
from modelway.serving.variant import MAX_BATCH_ROWS, Variant, first_prediction


# --- traffic log ---------------------------------------------------------------------------------

def test_variant_stats_rates_and_rounded_report():
    s = VariantStats("1", 3, 1, 12.345678, 6.789, labelled=3, correct=2, agreement=2 / 3)
    assert s.error_rate == pytest.approx(1 / 3) and s.accuracy == pytest.approx(2 / 3)
    assert s.to_dict() == {"version": "1", "requests": 3, "errors": 1, "error_rate": 0.3333, "p50_ms": 6.79,
                           "p95_ms": 12.35, "labelled": 3, "accuracy": 0.6667, "agreement": 0.6667}
    empty = VariantStats("1", 0, 0, None, None)
    assert empty.error_rate == 0.0 and empty.accuracy is None and empty.latencies_ms == []
    assert empty.to_dict() == {"version": "1", "requests": 0, "errors": 0, "error_rate": 0.0, "p50_ms": None,
                               "p95_ms": None, "labelled": 0, "accuracy": None, "agreement": None}
    assert "latencies_ms" not in repr(s)


def _log(tmp_path: Path) -> TrafficLog:
    return TrafficLog(traffic_path(tmp_path, "ep"))


def test_traffic_path_and_flush_counts(tmp_path):
    assert traffic_path(tmp_path, "ep") == tmp_path / "deployments" / "ep" / "traffic.db"
    log = _log(tmp_path)
    assert log.path.exists() and log.flush() == 0
    log.record(TrafficRecord("a", 1.0, "1", 1, 200, 3.0))
    log.record(TrafficRecord("b", 1.0, "1", 1, 200, 3.0))
    assert log.flush() == 2 and log.flush() == 0
    assert log.stats("1").requests == 2


def test_stats_count_errors_latency_and_leave_client_mistakes_out(tmp_path):
    log = _log(tmp_path)
    lat = [float(x) for x in range(1, 21)]
    for i, ms in enumerate(lat):
        log.record(TrafficRecord(f"r{i}", 10.0 + i, "1", 1, 200, ms))
    log.record(TrafficRecord("bad", 5.0, "1", 1, 400, 1000.0))  # a bad payload: the client's mistake
    log.record(TrafficRecord("bad2", 5.0, "1", 1, 499, 1000.0))
    log.record(TrafficRecord("err", 5.0, "1", 1, 500, 900.0))
    log.record(TrafficRecord("err2", 5.0, "1", 1, 503, 900.0))
    log.record(TrafficRecord("redirect", 5.0, "1", 1, 399, 800.0))
    log.record(TrafficRecord("other", 5.0, "2", 1, 500, 1.0))
    log.flush()
    s = log.stats("1")
    assert (s.requests, s.errors) == (23, 2)
    assert s.latencies_ms == lat  # only answered (200) requests have a latency that counts
    assert s.p95_ms == pytest.approx(float(np.percentile(lat, 95))) and s.p50_ms == pytest.approx(10.5)
    assert s.agreement is None and (s.labelled, s.correct) == (0, 0)
    none = log.stats("9")
    assert (none.requests, none.errors, none.p95_ms, none.p50_ms, none.latencies_ms) == (0, 0, None, None, [])


def test_stats_filters_by_revision_time_and_shadow(tmp_path):
    log = _log(tmp_path)
    log.record(TrafficRecord("a", 1.0, "1", 1, 200, 1.0))
    log.record(TrafficRecord("b", 2.0, "1", 2, 200, 2.0))
    log.record(TrafficRecord("c", 3.0, "1", 3, 200, 3.0))
    log.record(TrafficRecord("a", 1.5, "1", 1, 200, 9.0, shadow=1, agree=1))
    log.record(TrafficRecord("b", 2.5, "1", 2, 200, 9.0, shadow=1, agree=0))
    log.record(TrafficRecord("c", 3.5, "1", 2, 500, 9.0, shadow=1, agree=None))
    log.flush()
    assert log.stats("1").requests == 3
    assert log.stats("1", revisions=[2, 3]).latencies_ms == [2.0, 3.0]
    assert log.stats("1", revisions=[1]).latencies_ms == [1.0]
    assert log.stats("1", since=2.0).latencies_ms == [2.0, 3.0]  # inclusive
    assert log.stats("1", since=2.0, revisions=[3]).latencies_ms == [3.0]
    shadow = log.stats("1", shadow=True)
    assert (shadow.requests, shadow.errors, shadow.agreement) == (3, 1, 0.5)
    assert log.stats("1", shadow=True, revisions=[2]).agreement == 0.0
    assert log.stats("1", shadow=True, revisions=[1]).agreement == 1.0
    assert log.count("1", since=2.0) == 2 and log.count("1", since=3.0) == 1 and log.count("1", since=3.1) == 0
    assert log.count("2", since=0.0) == 0


def test_feedback_is_matched_to_served_requests_and_ambiguous_ids_are_left_out(tmp_path):
    log = _log(tmp_path)
    log.record(TrafficRecord("ok", 1.0, "1", 1, 200, 4.0, prediction=1.0, score=0.9))
    log.record(TrafficRecord("ok", 1.0, "2", 1, 200, 5.0, prediction=0.0, shadow=1, agree=0))  # its shadow copy
    log.record(TrafficRecord("wrong", 1.0, "1", 1, 200, 6.0, prediction=0.0))
    log.record(TrafficRecord("twice", 1.0, "1", 1, 200, 7.0, prediction=1.0))
    log.record(TrafficRecord("twice", 2.0, "2", 1, 200, 8.0, prediction=1.0))
    log.record(TrafficRecord("failed", 1.0, "1", 1, 500, 9.0))
    log.flush()
    labels = [("ok", 1), ("wrong", 1), ("twice", 1), ("failed", 1), ("unknown", 0)]
    assert log.add_feedback(labels, 100.0) == (5, 4, 1)
    s = log.stats("1")
    assert (s.labelled, s.correct, s.accuracy) == (2, 1, 0.5)  # "twice" is ambiguous, "failed" had no answer
    assert log.outcomes("1") == ([1, 0], [4.0, 6.0])
    assert log.outcomes("1", revisions=[2]) == ([], [])
    assert log.outcomes("2") == ([], [])  # the shadow copy is never labelled, "twice" is ambiguous
    shadow = log.stats("2", shadow=True)  # a shadow copy of a labelled request is judged by the same label
    assert (shadow.labelled, shadow.correct) == (1, 0)
    # a label sent again replaces the first one
    assert log.add_feedback([("wrong", 0)], 101.0) == (1, 1, 0)
    assert (log.stats("1").labelled, log.stats("1").correct) == (2, 2)


def test_feedback_in_chunks_of_500(tmp_path):
    log = _log(tmp_path)
    for i in range(1001):
        log.record(TrafficRecord(f"r{i}", 1.0, "1", 1, 200, 1.0, prediction=1.0))
    log.flush()
    assert log.add_feedback([(f"r{i}", 1) for i in range(1001)] + [("x", 0)], 1.0) == (1002, 1001, 0)
    assert [len(c) for c in _chunks([str(i) for i in range(1001)], 500)] == [500, 500, 1]
    assert list(_chunks(["a", "b", "c"], 2)) == [["a", "b"], ["c"]] and list(_chunks([], 2)) == []


def test_resources_latest_profile_per_version(tmp_path):
    log = _log(tmp_path)
    assert log.resources("1") is None
    log.record_resources(ResourceProfile("1", 10.0, 2.0, 500.0, 200), 5.0)
    log.record_resources(ResourceProfile("1", 12.0, 3.0, 400.0, 200), 7.0)
    log.record_resources(ResourceProfile("2", 99.0, 9.0, 9.0, 9), 9.0)
    got = log.resources("1")
    assert {k: got[k] for k in ("version", "ts", "model_mb", "predict_peak_mb", "rows_per_s", "rows")} == \
        {"version": "1", "ts": 7.0, "model_mb": 12.0, "predict_peak_mb": 3.0, "rows_per_s": 400.0, "rows": 200}
    import os
    assert got["pid"] == os.getpid()


# --- deployment state ------------------------------------------------------------------------------

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
    for bad in ({}, {"1": 0.5, "2": 0.49}, {"1": 1.00001}):
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
    import time

    store = DeploymentStore(tmp_path)
    store.heartbeat("ep", "http://a", None)
    store.heartbeat("ep", "http://a", 3, "revision 3: boom")  # the same server: updated, not added
    store.heartbeat("other", "http://b", 1)
    live = store.live_servers("ep")
    assert [(s["url"], s["applied_revision"], s["load_error"]) for s in live] == [("http://a", 3, "revision 3: boom")]
    import os
    assert live[0]["pid"] == os.getpid() and live[0]["endpoint"] == "ep"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 4.5)
    assert len(store.live_servers("ep")) == 1
    monkeypatch.setattr(time, "time", lambda: now + 6.0)
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


# --- payloads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", [None, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                   "*/*", ""])
def test_json_content_types(ctype):
    assert parse_body(b'{"a": 1}', ctype) == {"a": [1]}


@pytest.mark.parametrize("ctype", ["text/csv", "application/csv", "text/csv; charset=utf-8", " Text/CSV "])
def test_csv_content_types(ctype):
    assert parse_body(b"a,b\n1,\n", ctype) == {"a": ["1"], "b": [None]}


def _error(body: bytes, ctype: str | None = "application/json") -> str:
    with pytest.raises(PayloadError) as info:
        parse_body(body, ctype)
    return str(info.value)


def test_payload_errors_say_what_to_fix():
    assert _error(b"a", "text/plain; x=1") == "unsupported content type 'text/plain'; send application/json or text/csv"
    assert _error(b"{").startswith("body is not valid JSON (Expecting property name")
    assert _error(b"\xff\xfe\xfa").startswith("body is not valid JSON (")
    assert _error(b"[]") == "no rows to score (empty list)"
    assert _error(b'[{"a": 1}, 3]') == "row 1: expected an object of field -> value, got int"
    assert _error(b"3") == "expected a JSON list of records or an object, got int"
    assert _error(b'"x"') == "expected a JSON list of records or an object, got str"
    assert _error(b"{}") == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": [1], "b": {"c": 1}}') == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": 1, "b": [2]}') == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": [1, 2], "b": [3]}') == \
        "columns have different lengths [1, 2]; every column needs one value per row"
    split = "dataframe_split needs 'columns' (list) and 'data' (list of rows)"
    assert _error(b'{"dataframe_split": []}') == split
    assert _error(b'{"dataframe_split": {"columns": "a", "data": []}}') == split
    assert _error(b'{"dataframe_split": {"columns": ["a"], "data": {}}}') == split
    assert _error(b'{"columns": ["a", "b"], "data": [[1, 2], [3]]}') == "row 1: expected 2 values (one per column), got 1"
    assert _error(b'{"columns": ["a"], "data": [{"a": 1}]}') == "row 0: expected 1 values (one per column), got dict"
    assert _error(b"\xff,a\n1,2", "text/csv") == "CSV body is not UTF-8"
    assert _error(b"", "text/csv") == "CSV body has no header line"
    assert _error(b"\n1,2", "text/csv") == "CSV body has no header line"
    assert _error(b"a,b\n1,2\n3\n", "text/csv") == "CSV row 1: 1 values for 2 columns"
    assert isinstance(PayloadError("x"), UserError)


def test_every_json_shape_becomes_columns():
    records = b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]'
    want = {"a": [1, 2], "b": ["x", "y"]}
    assert parse_body(records, None) == want
    for key in ("dataframe_records", "instances", "inputs"):
        assert parse_body(json.dumps({key: json.loads(records)}).encode(), None) == want
    split = {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}
    assert parse_body(json.dumps({"dataframe_split": split}).encode(), None) == want
    assert parse_body(json.dumps(split).encode(), None) == want
    assert parse_body(json.dumps({**split, "index": [0, 1]}).encode(), None) == want
    assert parse_body(b'{"a": [1, 2], "b": ["x", "y"]}', None) == want
    assert parse_body(b'{"a": 1, "b": null}', None) == {"a": [1], "b": [None]}
    assert parse_body(b'{"7": 1}', None) == {"7": [1]}
    assert parse_body(b'{"columns": [1], "data": [[2]]}', None) == {"1": [2]}
    # records with different fields: a field a record lacks is absent (not null)
    cols = parse_body(b'[{"a": 1}, {"b": 2}, {"a": 3, "b": null}]', None)
    assert cols == {"a": [1, _ABSENT, 3], "b": [_ABSENT, 2, None]} and repr(_ABSENT) == "<absent>"
    assert parse_body(b" a ,b\n1,2\n\n3,4\n", "text/csv") == {"a": ["1", "3"], "b": ["2", "4"]}
    assert row_count({}) == 0 and row_count({"a": [1, 2, 3]}) == 3


def _verror(validator: PayloadValidator, columns) -> str:
    with pytest.raises(PayloadError) as info:
        validator.validate(columns)
    return str(info.value)


def test_validation_converts_and_names_row_and_field():
    v = PayloadValidator([("age", "numeric"), ("region", "categorical")], {"region": {"north", "east"}})
    out = v.validate({"age": [41, "2.5", None, 3.0], "region": ["north", None, "east", "north"], "unused": [1, 2, 3, 4]})
    assert list(out) == ["age", "region"] and out["region"] == ["north", None, "east", "north"]
    assert out["age"][:2] == [41.0, 2.5] and math.isnan(out["age"][2]) and type(out["age"][0]) is float
    assert _verror(v, {"region": ["north"]}) == "missing field(s) ['age'] (every row); the model expects ['age', 'region']"
    assert _verror(v, {}) == "missing field(s) ['age', 'region'] (every row); the model expects ['age', 'region']"
    assert _verror(v, {"age": [1, _ABSENT], "region": ["north", "north"]}) == "row 1: missing field 'age'"
    assert _verror(v, {"age": [True], "region": ["north"]}) == "row 0, field 'age': expected a number, got a boolean (True)"
    assert _verror(v, {"age": ["forty"], "region": ["north"]}) == "row 0, field 'age': expected a number, got 'forty'"
    assert _verror(v, {"age": [[1]], "region": ["north"]}) == "row 0, field 'age': expected a number, got [1]"
    assert _verror(v, {"age": [1, 2], "region": ["north", 5]}) == \
        "row 1, field 'region': expected a category (string), got 5"
    assert _verror(v, {"age": [1], "region": ["south"]}) == \
        "row 0, field 'region': unknown category 'south'; known: ['east', 'north']"
    free = PayloadValidator([("region", "categorical")])
    assert free.categories == {} and free.validate({"region": ["anything"]}) == {"region": ["anything"]}


# --- variants and batching -------------------------------------------------------------------------

class _Proba:
    """A classifier: probability of class 'yes' is x / 10; records the batch sizes it scored."""

    def __init__(self, classes=("no", "yes")):
        if classes is not None:
            self.classes_ = np.array(classes)
        self.calls: list[int] = []

    def predict_proba(self, frame):
        self.calls.append(len(frame))
        if (frame["x"] < 0).any():
            raise ValueError("negative x")
        p = frame["x"].to_numpy(dtype=float) / 10
        return np.column_stack([1 - p, p])


class _Reg:
    def predict(self, frame):
        return frame["x"] * 2


def test_variant_task_inputs_and_featurize():
    assert Variant("1", _Proba(), [("x", "numeric")], task=None).task == "classification"
    assert Variant("1", _Reg(), [("x", "numeric")], task=None).task == "regression"
    assert Variant("1", _Proba(), [("x", "numeric")], task="regression").task == "regression"
    v = Variant("1", _Reg(), [("x", "numeric")], task=None, categories={"c": {"a"}})
    assert v.categories_checked is True and v.inputs == [("x", "numeric")] and v.feature_fn is None
    assert Variant("1", _Reg(), [("x", "numeric")], task=None, categories={}).categories_checked is False
    cols = {"x": [1.0]}
    assert v.featurize(cols) is cols
    v.close()


def test_predict_columns_classification_and_regression():
    v = Variant("1", _Proba(), [("x", "numeric")], task="classification")
    assert v.predict_columns({"x": [2.0, 8.0]}) == [{"prediction": "no", "probability": pytest.approx(0.2)},
                                                     {"prediction": "yes", "probability": pytest.approx(0.8)}]
    no_classes = Variant("1", _Proba(classes=None), [("x", "numeric")], task="classification")
    assert no_classes.predict_columns({"x": [9.0]}) == [{"prediction": 1, "probability": pytest.approx(0.9)}]
    assert type(no_classes.predict_columns({"x": [9.0]})[0]["prediction"]) is int
    reg = Variant("1", _Reg(), [("x", "numeric")], task="regression")
    assert reg.predict_columns({"x": [1.5]}) == [{"prediction": 3.0}]
    # a classifier served as regression answers predict(): here it has none
    assert Variant("1", _Reg(), [("x", "numeric")], task="classification").predict_columns({"x": [1.0]}) == [{"prediction": 2.0}]


def _submit_all(variant: Variant, requests: list[dict]) -> list:
    async def run():
        return await asyncio.gather(*(variant.submit(r) for r in requests), return_exceptions=True)

    return asyncio.run(run())


@pytest.mark.parametrize("sizes,calls", [
    ([1, 1, 1], [1, 2]),  # the first request goes straight to the model, the others wait and are merged
    ([256, 256], [512]), ([256, 257], [256, 257]), ([300, 300, 300], [300, 300, 300]), ([600, 1], [600, 1]),
])
def test_requests_waiting_together_are_merged_up_to_max_batch_rows(sizes, calls):
    assert MAX_BATCH_ROWS == 512
    model = _Proba()
    v = Variant("1", model, [("x", "numeric")], task="classification")
    start = 0
    requests = []
    for n in sizes:
        requests.append({"x": [float(i % 10) for i in range(start, start + n)]})
        start += n
    replies = _submit_all(v, requests)
    v.close()
    assert [len(r) for r in replies] == sizes
    assert [r[0]["probability"] for r in replies] == pytest.approx([req["x"][0] / 10 for req in requests])
    assert sum(model.calls) == sum(sizes) and len(model.calls) <= len(calls) + 1
    if len(sizes) > 1 and sizes[0] > 1:
        assert model.calls == calls


def test_a_failing_request_in_a_merged_batch_fails_alone():
    model = _Proba()
    v = Variant("1", model, [("x", "numeric")], task="classification")
    replies = _submit_all(v, [{"x": [1.0, 2.0]}, {"x": [3.0]}, {"x": [-1.0]}, {"x": [5.0]}])
    v.close()
    assert replies[0] == [{"prediction": "no", "probability": pytest.approx(0.1)},
                          {"prediction": "no", "probability": pytest.approx(0.2)}]
    assert isinstance(replies[2], ValueError) and str(replies[2]) == "negative x"
    assert replies[1][0]["probability"] == pytest.approx(0.3) and replies[3][0]["probability"] == pytest.approx(0.5)
    alone = Variant("1", _Proba(), [("x", "numeric")], task="classification")
    [err] = _submit_all(alone, [{"x": [-2.0]}])
    assert isinstance(err, ValueError)
    # the variant keeps serving after a failure
    assert _submit_all(alone, [{"x": [4.0]}])[0][0]["prediction"] == "no"
    alone.close()


def test_first_prediction_for_the_traffic_log():
    assert first_prediction([]) == (None, None)
    assert first_prediction([{"prediction": 1, "probability": 0.75}, {"prediction": 0}]) == (1.0, 0.75)
    assert first_prediction([{"prediction": 2.5}]) == (2.5, 2.5)
    assert first_prediction([{"prediction": "yes", "probability": 0.6}]) == (None, 0.6)
    assert first_prediction([{"prediction": "7"}]) == (7.0, 7.0)
    assert first_prediction([{"prediction": float("nan"), "probability": float("inf")}]) == (None, None)
    assert first_prediction([{"probability": 0.3}]) == (None, 0.3)
    assert first_prediction([{"prediction": None}]) == (None, None)


# --- capture ---------------------------------------------------------------------------------------

def test_capture_samples_at_its_rate(tmp_path):
    assert capture_root(tmp_path, "ep") == tmp_path / "capture" / "ep"
    never = CaptureWriter(tmp_path, "ep", 0.0)
    assert not any(never.maybe({"i": i}) for i in range(50))
    assert not CaptureWriter(tmp_path, "ep", -1.0).maybe({})
    always = CaptureWriter(tmp_path, "ep", 1.0)
    assert all(always.maybe({"i": i}) for i in range(50))
    half = CaptureWriter(tmp_path, "ep", 0.5, seed=3)
    rng = random.Random(3)
    assert [half.maybe({"i": i}) for i in range(200)] == [rng.random() < 0.5 for _ in range(200)]
    assert CaptureWriter(tmp_path, "ep", 0.5, seed=3).maybe({}) == (random.Random(3).random() < 0.5)


def test_capture_flush_and_read_back(tmp_path):
    import os
    from datetime import datetime, timezone

    w = CaptureWriter(tmp_path, "ep", 1.0)
    assert w.flush() == 0 and not capture_root(tmp_path, "ep").exists()
    assert read_capture(tmp_path, "ep") == []
    w.maybe({"ts": 30.0, "request_id": "c", "inputs": {"x": [np.float64(1.5)]}, "other": Path("p")})
    w.maybe({"ts": 10.0, "request_id": "a"})
    w.maybe({"ts": 20.0, "request_id": "b"})
    assert w.flush() == 3 and w.flush() == 0
    now = datetime.now(timezone.utc)
    files = list(capture_root(tmp_path, "ep").rglob("*.jsonl"))
    assert len(files) == 1 and files[0].parent.name == now.strftime("%Y-%m-%d")
    assert files[0].name.endswith(f"-{os.getpid()}.jsonl") and len(files[0].name.split("-")[0]) == 2
    assert len(files[0].read_text().splitlines()) == 3
    got = read_capture(tmp_path, "ep")
    assert [r["request_id"] for r in got] == ["a", "b", "c"]
    assert got[2]["inputs"] == {"x": [1.5]} and got[2]["other"] == "p"
    assert [r["request_id"] for r in read_capture(tmp_path, "ep", since=20.0)] == ["b", "c"]  # inclusive
    with open(files[0], "a") as handle:
        handle.write("\n   \n")
    (capture_root(tmp_path, "ep") / "stray.txt").write_text("not a day")
    assert len(read_capture(tmp_path, "ep")) == 3


def test_capture_reads_only_days_and_times_since(tmp_path):
    import time
    from datetime import datetime, timezone

    root = capture_root(tmp_path, "ep")
    t = time.time()
    today = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d")
    (root / "2000-01-01").mkdir(parents=True)
    (root / "2000-01-01" / "00-1.jsonl").write_text(json.dumps({"ts": t + 5, "request_id": "old-day"}) + "\n")
    (root / today).mkdir()
    (root / today / "00-1.jsonl").write_text("".join(json.dumps({"ts": t + d, "request_id": str(d)}) + "\n"
                                                     for d in (2, 0, -1)) + json.dumps({"request_id": "no-ts"}) + "\n")
    assert [r["request_id"] for r in read_capture(tmp_path, "ep", since=t)] == ["0", "2"]
    assert [r["request_id"] for r in read_capture(tmp_path, "ep")] == ["no-ts", "-1", "0", "2", "old-day"]
    assert capture_mod.now() == pytest.approx(time.time(), abs=5)


# --- metrics ------------------------------------------------------------------------------------

def test_metrics_exposition():
    m = ServerMetrics("ep")
    m.observe("1", 200, 0.003)
    m.observe("1", 500, 0.2)
    m.observe("2", 400, 0.001)
    m.invalid.labels("ep", "age").inc()
    m.shadow.labels("ep", "2", "true").inc()
    text = m.render().decode()
    assert '# HELP modelway_requests_total Scoring requests by variant and HTTP status' in text
    assert 'modelway_requests_total{endpoint="ep",status="200",variant="1"} 1.0' in text
    assert 'modelway_requests_total{endpoint="ep",status="500",variant="1"} 1.0' in text
    assert 'modelway_requests_total{endpoint="ep",status="400",variant="2"} 1.0' in text
    assert '# HELP modelway_request_latency_seconds Scoring latency by variant' in text
    assert 'modelway_request_latency_seconds_count{endpoint="ep",variant="1"} 1.0' in text  # the 500 is not timed
    assert 'modelway_request_latency_seconds_count{endpoint="ep",variant="2"}' not in text
    buckets = [line.split('le="')[1].split('"')[0] for line in text.splitlines()
               if line.startswith("modelway_request_latency_seconds_bucket")]
    assert buckets == ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "+Inf"]
    assert 'modelway_request_latency_seconds_bucket{endpoint="ep",le="0.0025",variant="1"} 0.0' in text
    assert 'modelway_request_latency_seconds_bucket{endpoint="ep",le="0.005",variant="1"} 1.0' in text
    assert '# HELP modelway_invalid_payloads_total Rejected payloads (HTTP 400) by field' in text
    assert 'modelway_invalid_payloads_total{endpoint="ep",field="age"} 1.0' in text
    assert '# HELP modelway_shadow_predictions_total Shadow predictions by variant and agreement' in text
    assert 'modelway_shadow_predictions_total{agree="true",endpoint="ep",variant="2"} 1.0' in text
    assert "modelway_requests_total" not in ServerMetrics("other").render().decode().split("# TYPE")[1].split("\n", 1)[1]


# --- resources ------------------------------------------------------------------------------------

def test_resource_profile_rounds_floats_only():
    p = ResourceProfile("1", 1.234567, 2.0000049, 300.123456, 200)
    assert p.to_dict() == {"version": "1", "model_mb": 1.2346, "predict_peak_mb": 2.0, "rows_per_s": 300.1235, "rows": 200}


def test_measure_load_and_probe_leave_an_outer_trace_running():
    was = tracemalloc.is_tracing()
    obj, mb = measure_load(lambda: bytearray(3 * 2**20))
    assert len(obj) == 3 * 2**20 and 2.9 < mb < 3.2 and tracemalloc.is_tracing() == was
    tracemalloc.start()
    try:
        _, mb = measure_load(lambda: bytearray(2**20))
        assert 0.9 < mb < 1.2 and tracemalloc.is_tracing()  # somebody else's trace stays on
        probe_predict("1", lambda cols: bytearray(2**20), None, 10, 1.0)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    _, freed = measure_load(lambda: None)
    assert freed >= 0.0


def test_probe_predict_measures_peak_and_speed():
    calls = []

    def predict(columns):
        calls.append(columns)
        return bytes(4 * 2**20)  # 4 MB at its peak, freed on return

    p = probe_predict("1.2.0", predict, "cols", 200, 7.5)
    assert len(calls) == 5 and set(calls) == {"cols"}  # warm-up, traced, three timed
    assert (p.version, p.model_mb, p.rows) == ("1.2.0", 7.5, 200) and 3.9 < p.predict_peak_mb < 4.5
    assert p.rows_per_s > 200 and not tracemalloc.is_tracing()
    calls.clear()
    probe_predict("1", predict, "c", 1, 0.0, repeats=1)
    assert len(calls) == 3


# --- the router ------------------------------------------------------------------------------------

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
