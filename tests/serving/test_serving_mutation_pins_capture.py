"""Mutation pins of request capture, the Prometheus metrics and the resource profile of a loaded version."""
from __future__ import annotations

import json
import os
import random
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from modelway.serving import capture as capture_mod
from modelway.serving.capture import CaptureWriter, capture_root, read_capture
from modelway.serving.metrics import ServerMetrics
from modelway.serving.resources import ResourceProfile, measure_load, probe_predict


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


def test_sampling_draws_only_between_the_extremes(tmp_path):
    # rate 0 and rate 1 decide without a draw, so a server whose rate changes later samples the seed's sequence
    for extreme in (0.0, 1.0):
        w = CaptureWriter(tmp_path, "ep", extreme, seed=11)
        for _ in range(5):
            w.maybe({})
        w.rate = 0.5
        rng = random.Random(11)
        assert [w.maybe({}) for _ in range(50)] == [rng.random() < 0.5 for _ in range(50)]


def test_a_nan_input_is_captured_as_json_nan(tmp_path):
    w = CaptureWriter(tmp_path, "ep", 1.0)
    w.maybe({"ts": 1.0, "inputs": {"x": [float("nan")]}})
    assert w.flush() == 1
    [line] = next(capture_root(tmp_path, "ep").rglob("*.jsonl")).read_text().splitlines()
    assert line == '{"ts": 1.0, "inputs": {"x": [NaN]}}'


def test_a_load_that_frees_memory_holds_none():
    ballast = [bytearray(2**20) for _ in range(4)]
    obj, mb = measure_load(lambda: ballast.clear())
    assert obj is None and mb == 0.0


def test_costs_are_measured_from_the_current_size_under_someone_elses_trace():
    # an outer trace with memory held and an earlier, higher peak: only what the load or the call adds counts
    tracemalloc.start()
    try:
        held = bytearray(8 * 2**20)
        spike = bytearray(16 * 2**20)
        del spike
        _, mb = measure_load(lambda: bytearray(2 * 2**20))
        assert 1.9 < mb < 2.3
        profile = probe_predict("1", lambda cols: bytes(4 * 2**20), None, 10, 0.0)
        assert 3.9 < profile.predict_peak_mb < 4.5
        assert len(held) == 8 * 2**20
    finally:
        tracemalloc.stop()


def test_a_call_that_allocates_nothing_has_no_peak():
    assert probe_predict("1", lambda cols: None, None, 1, 0.0).predict_peak_mb == 0.0


def test_every_flush_appends_and_numpy_values_stay_numbers(tmp_path):
    w = CaptureWriter(tmp_path, "ep", 1.0)
    w.maybe({"ts": 1.0, "request_id": "a", "n": np.int64(3), "flag": np.bool_(True)})
    assert w.flush() == 1
    w.maybe({"ts": 2.0, "request_id": "b"})
    assert w.flush() == 1  # the hour's file exists already: appended to
    got = read_capture(tmp_path, "ep")
    assert [r["request_id"] for r in got] == ["a", "b"] and got[0]["n"] == 3 and got[0]["flag"] is True


def test_blank_lines_and_records_without_time(tmp_path):
    day = capture_root(tmp_path, "ep") / datetime.fromtimestamp(time.time(), timezone.utc).strftime("%Y-%m-%d")
    day.mkdir(parents=True)
    (day / "00-1.jsonl").write_text('{"ts": 0.5, "request_id": "half"}\n\n{"request_id": "timeless"}\n'
                                    '{"ts": 3.0, "request_id": "three"}\n')
    assert [r["request_id"] for r in read_capture(tmp_path, "ep")] == ["timeless", "half", "three"]
    assert [r["request_id"] for r in read_capture(tmp_path, "ep", since=0.25)] == ["half", "three"]
