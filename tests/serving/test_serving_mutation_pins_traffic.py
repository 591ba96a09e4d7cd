"""Mutation pins of the traffic log: the numbers the guardrails, A/B tests and monitor read back."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from modelway.serving.resources import ResourceProfile
from modelway.serving.traffic import TrafficLog, TrafficRecord, VariantStats, _chunks, traffic_path


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
    assert got["pid"] == os.getpid()


def test_a_labelled_answer_without_a_numeric_prediction_counts_as_wrong_in_both_readers(tmp_path):
    # a classifier with string classes ("yes"/"no") answers, but its prediction is no number the log can store;
    # a label sent for it must not break the A/B test's reader (it crashed with int(None)) and counts as wrong,
    # as the guardrails' reader already counts it
    log = _log(tmp_path)
    log.record(TrafficRecord("s", 1.0, "1", 1, 200, 3.0, prediction=None, score=0.7))
    log.record(TrafficRecord("n", 1.0, "1", 1, 200, 4.0, prediction=1.0, score=0.9))
    log.flush()
    assert log.add_feedback([("s", 1.0), ("n", 1.0)], 2.0) == (2, 2, 0)
    assert log.outcomes("1") == ([0, 1], [3.0, 4.0])
    s = log.stats("1")
    assert (s.labelled, s.correct) == (2, 1)


def test_defaults_of_records_and_stats(tmp_path):
    rec = TrafficRecord("r", 1.0, "1", 1, 200, 2.0)
    assert (rec.prediction, rec.score, rec.shadow, rec.agree, rec.error) == (None, None, 0, None, None)
    assert VariantStats("1", 10, 0, None, None, labelled=4).accuracy == 0.0
    assert (VariantStats("1", 1, 0, None, None).labelled, VariantStats("1", 1, 0, None, None).agreement) == (0, None)
    # a second reader of the same log (the deployer next to the server) opens it as it is
    log = _log(tmp_path)
    log.record(rec)
    log.flush()
    assert TrafficLog(log.path).stats("1").requests == 1


def test_ambiguous_labels_are_counted_over_every_chunk(tmp_path):
    log = _log(tmp_path)
    for i in range(700):
        log.record(TrafficRecord(f"r{i}", 1.0, "1", 1, 200, 1.0, prediction=1.0))
    for dup in ("r0", "r600"):  # one in each chunk of 500 ids
        log.record(TrafficRecord(dup, 2.0, "2", 1, 200, 1.0, prediction=1.0))
    log.flush()
    assert log.add_feedback([(f"r{i}", 1) for i in range(700)], 1.0) == (700, 700, 2)


def test_outcomes_over_several_revisions(tmp_path):
    log = _log(tmp_path)
    for rev in (1, 2, 3):
        log.record(TrafficRecord(f"r{rev}", 1.0, "1", rev, 200, float(rev), prediction=1.0))
    log.flush()
    log.add_feedback([("r1", 1), ("r2", 0), ("r3", 1)], 1.0)
    assert log.outcomes("1", revisions=[1, 2]) == ([1, 0], [1.0, 2.0])
    assert log.outcomes("1", revisions=[3]) == ([1], [3.0])
