"""Mutation pins for modelway.monitoring (monitor, sinks, base): one monitor pass, end to end, on traffic written by hand.

A tiny logistic model is registered twice (1.0.0 is the standby, 1.0.1 serves); the
captured requests, the traffic log, the labels and the resource profiles are written
directly with the serving layer's own writers, so every threshold can be put exactly at its
boundary and each alert's text checked as the user reads it (stderr, webhook, metrics DB).
"""
from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from modelway.errors import ConfigError, UserError
from modelway.monitoring.base import Alert, Alerter, Metric, MetricsSink
from modelway.monitoring.monitor import (MonitorConfig, MonitorReport, captured_frame, load_config, parse_window,
                                         run_monitor)
from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink
from modelway.profiling.drift import DriftThresholds
from modelway.serving.capture import CaptureWriter, capture_root
from modelway.serving.state import DeploymentStore, EndpointState
from modelway.serving.traffic import TrafficLog, TrafficRecord, traffic_path

OLD, NEW = "1.0.0", "1.0.1"
DAY = 86400.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A home with model 'tiny' registered twice (accuracy 0.9), with baselines; copied per test."""
    from sklearn.linear_model import LogisticRegression

    from modelway.profiling.profile import profile_model, save_baseline
    from modelway.registry import ModelCandidate, get_registry
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    home = tmp_path_factory.mktemp("monitor") / "home"
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    schema = ModelSchema.infer(X, task="classification", classes=[0, 1])
    model = GuardedModel(LogisticRegression().fit(X, (X.a + X.b > 0).astype(int)), schema)
    registry = get_registry(home)
    for i in range(2):
        mv = registry.register(ModelCandidate(name="tiny", model=model, schema=schema.signature(),
                                              metrics={"accuracy": 0.9, "i": i}, family="LogisticRegression"),
                               environment="dev", actor="pytest")
        save_baseline(home, "tiny", mv.version, profile_model(model, X))
    return home, X


@pytest.fixture
def home(template: tuple[Path, pd.DataFrame], tmp_path: Path) -> Path:
    path = tmp_path / "home"
    shutil.copytree(template[0], path)
    return path


def created(home: Path, version: str = NEW) -> float:
    from modelway.registry import get_registry

    return datetime.fromisoformat(get_registry(home).get("tiny", version).created_at).timestamp()


def deploy(home: Path, standby: str | None = OLD) -> None:
    DeploymentStore(home).put("tiny", EndpointState(model="tiny", environment="dev", variants={NEW: 1.0}, incumbent=NEW,
                                                    standby=standby))


class Writer:
    """Captured records as the server's CaptureWriter stores them, but in the day folder of their own
    time stamp (the tests move the clock weeks ahead of the wall clock to age the model)."""

    def __init__(self, home: Path, endpoint: str = "tiny") -> None:
        self.root, self.records = capture_root(home, endpoint), []

    def maybe(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def flush(self) -> None:
        for record in self.records:
            day = datetime.fromtimestamp(record["ts"], timezone.utc).strftime("%Y-%m-%d")
            path = self.root / day / "00-1.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, allow_nan=True) + "\n")
        self.records = []


def capture(home: Path, now: float, *, rows: int = 120, shift: float = 0.0, rejected: int = 0,
            predictions: bool = False, ts_offset: float = 10.0) -> None:
    rng = np.random.default_rng(1)
    writer = Writer(home)
    for _ in range(rows):
        writer.maybe({"ts": now - ts_offset, "status": 200,
                      "inputs": {"a": [float(rng.normal() + shift)], "b": [float(rng.normal())]},
                      "outputs": [{"probability": 0.5}] if predictions else []})
    for i in range(rejected):
        writer.maybe({"ts": now - ts_offset, "status": 400,
                      "error": "field 'a': expected a number" if i % 2 == 0 else "body is not JSON"})
    writer.maybe({"ts": now - ts_offset, "status": 200})  # no inputs: not scored
    writer.maybe({"ts": now - ts_offset, "status": 500, "inputs": {"a": [1.0]}})  # a server error: neither
    writer.flush()


def traffic(home: Path, now: float, *, labelled: int = 0, correct: int = 0, p95_new: float = 20.0,
            p95_old: float | None = 10.0, new_res: tuple[float, float, float] | None = None,
            old_res: tuple[float, float, float] | None = None) -> None:
    log = TrafficLog(traffic_path(home, "tiny"))
    for i in range(max(labelled, 10)):
        log.record(TrafficRecord(f"n{i}", now - 5, NEW, 1, 200, p95_new, prediction=1.0))
    if p95_old is not None:
        for i in range(10):
            log.record(TrafficRecord(f"o{i}", now - 50 * DAY, OLD, 1, 200, p95_old, prediction=1.0))
    log.flush()
    log.add_feedback([(f"n{i}", 1.0 if i < correct else 0.0) for i in range(labelled)], now)
    for version, res in ((OLD, old_res), (NEW, new_res)):
        if res is not None:
            log.record_resources(SimpleNamespace(version=version, model_mb=res[0], predict_peak_mb=res[1],
                                                 rows_per_s=res[2], rows=100), now - 1)


def monitor(home: Path, now: float, stream: StringIO | None = None, **cfg: Any):  # type: ignore[no-untyped-def]
    return run_monitor(home, "tiny", now=now, config=MonitorConfig(**cfg),
                       alerter=LogAlerter(home, stream=stream or StringIO()))


def texts(report: MonitorReport) -> list[tuple[str, str, str]]:
    return [(a.severity, a.kind, a.message) for a in report.alerts]


# -- one pass that breaches everything --------------------------------------------------------

def test_a_pass_over_bad_traffic_raises_every_alert_in_order(home: Path) -> None:
    now = created(home) + 31 * DAY
    deploy(home)
    capture(home, now, shift=4.0, rejected=30, predictions=True)
    traffic(home, now, labelled=60, correct=0, p95_new=20.0, p95_old=5.0, new_res=(40.0, 41.0, 100.0),
            old_res=(10.0, 11.0, 1000.0))
    stream = StringIO()
    report = monitor(home, now, stream)
    assert (report.model, report.version, report.endpoint, report.window_s, report.source, report.rows) == (
        "tiny", NEW, "tiny", 3600.0, "capture of endpoint tiny", 120)
    kinds = [(a.severity, a.kind) for a in report.alerts]
    assert kinds == [("warning", "prediction-drift"), ("warning", "drift"), ("warning", "quality"), ("critical", "performance"), ("warning", "latency"),
                     ("warning", "memory"), ("warning", "memory"), ("warning", "throughput"), ("warning", "staleness")]
    assert report.alerts[0].message == "prediction distribution shifted: " + "; ".join(report.drift.prediction.reasons)
    drift = report.alerts[1]
    assert drift.message.startswith("1 of 2 features drifted (a: PSI ") and drift.message.endswith(" >= 0.2)")
    assert drift.details == {"features": ["a"], "version": NEW}
    assert texts(report)[2:] == [
        ("warning", "quality", "20.0% of requests rejected by the schema (by field: {'a': 15, 'body': 15})"),
        ("critical", "performance", "accuracy 0.000 on 60 labelled requests vs 0.900 at registration"),
        ("warning", "latency", f"p95 20.0 ms vs 5.0 ms for the previous version {OLD}"),
        ("warning", "memory", f"memory held by the model 40.0 MB vs 10.0 MB for the previous version {OLD} (limit 20.0 MB)"),
        ("warning", "memory", f"peak memory of a prediction 41.0 MB vs 11.0 MB for the previous version {OLD} "
                              f"(limit 21.5 MB)"),
        ("warning", "throughput", f"scores 100 rows/s vs 1000 for the previous version {OLD} (floor 670)"),
        ("warning", "staleness", f"{NEW} is 31 days old (limit 30)"),
    ]
    assert [a.details for a in report.alerts[2:]] == [{}, {}, {}, {"version": NEW}, {"version": NEW}, {"version": NEW}, {}]
    assert report.quality == {"captured": 152, "scored": 120, "rejected": 30, "rejected_by_field": {"a": 15, "body": 15},
                              "rejected_share": 0.2}
    assert report.performance == {"labelled": 60, "accuracy": 0.0, "registered_accuracy": 0.9}
    assert report.latency == {"requests": 60, "p95_ms": 20.0, "throughput_rps": round(60 / 3600, 3),
                              "previous": {"version": OLD, "p95_ms": 5.0}}
    assert report.resources == {"model_mb": 40.0, "predict_peak_mb": 41.0, "rows_per_s": 100.0,
                                "previous": {"version": OLD, "model_mb": 10.0, "predict_peak_mb": 11.0, "rows_per_s": 1000.0}}
    assert report.staleness["age_days"] == 31.0 and report.staleness["limit_days"] == 30.0
    assert report.drift is not None and report.drift.prediction is not None
    # each alert on the stream, and a row in the alerts table
    assert stream.getvalue().splitlines()[1] == f"ALERT [warning] tiny: drift - {drift.message}"
    assert len(stream.getvalue().splitlines()) == 9
    history = LogAlerter(home).history("tiny")
    assert [(h["severity"], h["kind"]) for h in history] == kinds
    assert json.loads(history[1]["details"]) == {"features": ["a"], "version": NEW}
    assert history[0]["delivered"] is None
    # the metrics, with the model/version labels
    sink = SqliteMetricsSink(home)
    labels = {"model": "tiny", "version": NEW}
    one = {name: [m.value for m in sink.query(name, labels)] for name in (
        "drift.features_drifted", "quality.rejected_share", "performance.accuracy", "serving.p95_ms",
        "serving.throughput_rps", "serving.model_mb", "serving.predict_peak_mb", "serving.rows_per_s",
        "model.age_days", "monitor.alerts")}
    assert one == {"drift.features_drifted": [1.0], "quality.rejected_share": [0.2], "performance.accuracy": [0.0],
                   "serving.p95_ms": [20.0], "serving.throughput_rps": [pytest.approx(60 / 3600)],
                   "serving.model_mb": [40.0], "serving.predict_peak_mb": [41.0], "serving.rows_per_s": [100.0],
                   "model.age_days": [pytest.approx(31.0)], "monitor.alerts": [9.0]}
    assert all(m.ts == now for m in sink.query("monitor.alerts"))
    for feature in ("a", "b"):
        fl = {**labels, "feature": feature}
        assert len(sink.query("drift.psi", fl)) == 1
        assert sink.query("quality.missing_rate", fl)[0].value == 0.0
        assert len(sink.query("drift.p_value", fl)) == 1
    assert sink.query("drift.drifted", {"feature": "a"})[0].value == 1.0
    assert sink.query("drift.drifted", {"feature": "b"})[0].value == 0.0
    assert len(sink.query("drift.prediction_psi", labels)) == 1


def test_prediction_drift_and_nonfinite_predictions_alert(home: Path) -> None:
    now = created(home) + DAY
    deploy(home, standby=None)
    writer = Writer(home)
    rng = np.random.default_rng(2)
    for i in range(100):
        writer.maybe({"ts": now - 1, "status": 200, "inputs": {"a": [float(rng.normal())], "b": [float(rng.normal())]},
                      "outputs": [{"prediction": float("nan") if i < 3 else 1.0}]})
    writer.flush()
    report = monitor(home, now, max_drifted_features=5)
    assert texts(report) == [
        ("warning", "prediction-drift", f"prediction distribution shifted: {'; '.join(report.drift.prediction.reasons)}"),
        ("critical", "quality", "3 NaN/inf predictions"),
    ]
    assert report.drift.prediction.reasons[0].startswith("PSI ")
    assert report.alerts[0].details == {"version": NEW}
    assert report.drift.nonfinite_predictions == 3
    assert (report.latency.get("previous"), report.resources) == (None, {})


def test_missing_values_above_the_baseline_are_a_quality_alert(home: Path) -> None:
    now = created(home) + DAY
    deploy(home, standby=None)
    writer = Writer(home)
    rng = np.random.default_rng(3)
    for i in range(100):
        writer.maybe({"ts": now - 1, "status": 200,
                      "inputs": {"a": [None if i < 20 else float(rng.normal())], "b": [float(rng.normal())]}})
    writer.flush()
    report = monitor(home, now, max_drifted_features=5)
    assert texts(report) == [("warning", "quality", "missing values above baseline: a: missing rate 20.0% vs 0.0% at training")]
    assert report.drift.prediction is None  # no outputs captured: nothing to compare


# -- both sides of every threshold --------------------------------------------------------------

def test_at_each_threshold_nothing_fires(home: Path) -> None:
    now = created(home) + 30 * DAY
    deploy(home)
    capture(home, now, rows=120, rejected=30)
    # 30 of 60 right = 0.5 = 0.9 - 0.4; p95 20 = 10 x 2; memory 20 = 10 x 1.5 + 5; 500 rows/s = 1000 x 0.5
    traffic(home, now, labelled=60, correct=30, p95_new=20.0, p95_old=10.0, new_res=(20.0, 20.0, 500.0),
            old_res=(10.0, 10.0, 1000.0))
    report = monitor(home, now, max_rejected_share=0.2, min_labelled=60, max_accuracy_drop=0.4, max_latency_ratio=2.0,
                     min_throughput_ratio=0.5, max_model_age_days=30.0, min_rows=120, max_drifted_features=2)
    assert report.alerts == []
    assert report.drift is not None
    assert report.performance["accuracy"] == 0.5
    assert report.staleness == {"created_at": report.staleness["created_at"], "age_days": 30.0, "limit_days": 30.0}
    assert SqliteMetricsSink(home).query("monitor.alerts")[0].value == 0.0


def test_just_past_each_threshold_each_fires(home: Path) -> None:
    now = created(home) + 30 * DAY + 3600
    deploy(home)
    capture(home, now, rows=120, rejected=30)
    traffic(home, now, labelled=60, correct=30, p95_new=20.0, p95_old=10.0, new_res=(20.5, 20.0, 499.0),
            old_res=(10.0, 10.0, 1000.0))
    report = monitor(home, now, max_rejected_share=0.199, min_labelled=60, max_accuracy_drop=0.39,
                     max_latency_ratio=1.99, min_throughput_ratio=0.5, max_model_age_days=30.0, min_rows=120,
                     max_drifted_features=2, memory_slack_mb=5.0)
    assert [a.kind for a in report.alerts] == ["quality", "performance", "latency", "memory", "throughput", "staleness"]
    assert report.alerts[-1].message == f"{NEW} is 30 days old (limit 30)"
    assert report.alerts[3].message.startswith("memory held by the model 20.5 MB")


def test_too_few_rows_or_labels_judge_nothing(home: Path) -> None:
    now = created(home) + DAY
    deploy(home)
    capture(home, now, rows=119, shift=4.0)
    traffic(home, now, labelled=59, correct=0, p95_new=20.0, p95_old=None)
    report = monitor(home, now, min_rows=120, min_labelled=60)
    assert report.drift is None and report.to_dict()["drift"] is None
    assert report.alerts == []
    assert report.performance == {"labelled": 59, "accuracy": 0.0, "registered_accuracy": 0.9}
    assert report.latency["previous"] == {"version": OLD, "p95_ms": None}  # the standby served nothing
    assert SqliteMetricsSink(home).query("drift.features_drifted") == []


def test_only_the_window_counts(home: Path) -> None:
    now = created(home) + DAY
    deploy(home, standby=None)
    capture(home, now, rows=50, ts_offset=7200)  # two hours ago: outside the default hour
    capture(home, now, rows=10, ts_offset=60)
    report = monitor(home, now)
    assert report.rows == 10
    assert monitor(home, now + 1, min_rows=1).rows == 10
    wide = run_monitor(home, "tiny", now=now, window_s=3 * 3600, alerter=LogAlerter(home, stream=StringIO()))
    assert (wide.rows, wide.window_s) == (60, 3 * 3600)


def test_a_mismatch_of_predictions_and_rows_skips_prediction_drift(home: Path) -> None:
    now = created(home) + DAY
    deploy(home, standby=None)
    capture(home, now, rows=100)
    writer = Writer(home)
    writer.maybe({"ts": now - 1, "status": 200, "inputs": {"a": [0.0], "b": [0.0]}})  # no outputs
    writer.flush()
    report = monitor(home, now, max_drifted_features=5)
    assert report.rows == 101
    assert report.drift.prediction is None


def test_an_endpoint_without_a_deployment_is_an_error(home: Path) -> None:
    with pytest.raises(UserError, match=r"^endpoint 'tiny' has no deployment to monitor; serve it first "
                                        r"\(modelway serve tiny\) or monitor a file with --data$"):
        run_monitor(home, "tiny")
    with pytest.raises(UserError, match=r"^endpoint 'other' has no deployment"):
        run_monitor(home, "tiny", endpoint="other")


def test_monitoring_a_data_file(home: Path, template: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    template[1].assign(a=template[1]["a"] + 5).to_csv(data, index=False)
    stream = StringIO()
    report = run_monitor(home, "tiny", data=data, now=created(home) + DAY, alerter=LogAlerter(home, stream=stream))
    assert (report.version, report.endpoint, report.source, report.rows) == (NEW, None, str(data), 300)
    assert report.quality == {"captured": 300, "scored": 300, "rejected": 0, "rejected_by_field": {}, "rejected_share": 0.0}
    assert (report.performance, report.latency, report.resources) == ({}, {}, {})
    assert report.drift.drifted_features == ["a"]
    assert report.drift.prediction is not None
    parquet = tmp_path / "rows.parquet"
    template[1].to_parquet(parquet)
    quiet = run_monitor(home, "tiny", data=parquet, now=created(home) + DAY, alerter=LogAlerter(home, stream=StringIO()))
    assert quiet.alerts == [] and quiet.drift.drifted_features == []


def test_data_file_errors(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    with pytest.raises(UserError, match=rf"^--data file {missing} not found$"):
        run_monitor(home, "tiny", data=missing)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(UserError, match=rf"^--data file {bad} cannot be read \("):
        run_monitor(home, "tiny", data=bad)
    lacking = tmp_path / "lacking.csv"
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(lacking, index=False)
    with pytest.raises(UserError, match=rf"^--data file {lacking} lacks feature column\(s\) \['b'\]$"):
        run_monitor(home, "tiny", data=lacking)


# -- small pieces ---------------------------------------------------------------------------------

def test_parse_window_units_and_errors() -> None:
    assert [parse_window(t) for t in ("90s", "30m", "1h", "2d", "45", " 2H ", "1.5h")] == [
        90.0, 1800.0, 3600.0, 172800.0, 45.0, 7200.0, 5400.0]
    for bad in ("", "xh", "1w", "h"):
        with pytest.raises(UserError, match=rf"^--window {bad.strip().lower()!r}: expected a duration such as 30m, 1h or 2d$"):
            parse_window(bad)


def test_config_defaults_bounds_and_file_errors(tmp_path: Path) -> None:
    c = load_config(None)
    assert c == MonitorConfig()
    assert (c.drift, c.max_drifted_features, c.max_rejected_share, c.max_accuracy_drop, c.min_labelled,
            c.max_model_age_days, c.max_latency_ratio, c.max_memory_ratio, c.memory_slack_mb, c.min_throughput_ratio,
            c.min_rows, c.webhook_url) == (DriftThresholds(), 0, 0.05, 0.05, 50, 30.0, 1.5, 1.5, 5.0, 0.67, 100, None)
    MonitorConfig(max_rejected_share=1, min_throughput_ratio=1, max_latency_ratio=1, max_memory_ratio=1, min_labelled=1,
                  min_rows=1, memory_slack_mb=0, max_accuracy_drop=0, max_drifted_features=0, max_model_age_days=0.5)
    with pytest.raises(ValidationError, match="Instance is frozen"):
        c.min_rows = 5  # one config object serves the whole pass
    for bad in ({"max_drifted_features": -1}, {"max_rejected_share": 1.01}, {"max_rejected_share": -0.01},
                {"max_accuracy_drop": -0.01}, {"min_labelled": 0}, {"max_model_age_days": 0},
                {"max_latency_ratio": 0.99}, {"max_memory_ratio": 0.99}, {"memory_slack_mb": -1},
                {"min_throughput_ratio": 0}, {"min_throughput_ratio": 1.01}, {"min_rows": 0}, {"other": 1}):
        with pytest.raises(ValidationError):
            MonitorConfig(**bad)
    path = tmp_path / "monitor.yaml"
    path.write_text("max_rows: 3\n")
    with pytest.raises(ConfigError, match=rf"^monitor config {path}: max_rows: Extra inputs are not permitted$"):
        load_config(path)
    path.write_text("drift:\n  p_value: 2\n")
    with pytest.raises(ConfigError, match=rf"^monitor config {path}: drift.p_value: Input should be less than 1$"):
        load_config(path)
    path.write_text("")
    assert load_config(path) == MonitorConfig()
    path.write_text("min_rows: 7\nwebhook_url: http://x/hook\ndrift:\n  psi_threshold: 0.3\n")
    loaded = load_config(path)
    assert (loaded.min_rows, loaded.webhook_url, loaded.drift.psi_threshold) == (7, "http://x/hook", 0.3)
    with pytest.raises(ConfigError, match=rf"^monitor config {tmp_path / 'no.yaml'} not found$"):
        load_config(tmp_path / "no.yaml")


def test_captured_frame_counts_and_columns(tmp_path: Path) -> None:
    home = tmp_path / "h"
    frame, preds, counts = captured_frame(home, "ep", 0.0)
    assert (frame.empty, preds.tolist(), counts) == (True, [], {"captured": 0, "scored": 0, "rejected": 0,
                                                               "rejected_by_field": {}})
    writer = CaptureWriter(home, "ep", 1.0)
    writer.maybe({"ts": 10.0, "status": 200, "inputs": {"x": [1, 2], "y": ["a", "b"]},
                  "outputs": [{"probability": 0.25, "prediction": 0}, {"prediction": 1}]})
    writer.maybe({"ts": 11.0, "status": 200, "inputs": {"x": [3], "y": ["c"]}})
    writer.maybe({"ts": 12.0, "status": 400, "error": "field 'x': not a number"})
    writer.maybe({"ts": 12.5, "status": 400, "error": "field y: missing"})
    writer.maybe({"ts": 13.0, "status": 400})
    writer.maybe({"ts": 14.0, "status": 200, "inputs": {}})
    writer.maybe({"ts": 1.0, "status": 200, "inputs": {"x": [9], "y": ["z"]}})  # before `since`
    writer.flush()
    frame, preds, counts = captured_frame(home, "ep", 5.0)
    assert frame.to_dict("list") == {"x": [1, 2, 3], "y": ["a", "b", "c"]}
    assert preds.dtype == np.float64 and preds.tolist() == [0.25, 1.0]
    assert counts == {"captured": 6, "scored": 2, "rejected": 3, "rejected_by_field": {"x": 1, "y": 1, "body": 1}}


def test_report_to_dict_lists_every_section() -> None:
    alert = Alert("info", "drift", "m", "msg", {"k": 1})
    report = MonitorReport("m", "1", "ep", 60.0, "src", 5, None, quality={"q": 1}, performance={"p": 2},
                           staleness={"s": 3}, latency={"l": 4}, resources={"r": 5}, alerts=[alert])
    assert report.to_dict() == {"model": "m", "version": "1", "endpoint": "ep", "window_s": 60.0, "source": "src", "rows": 5,
                                "drift": None, "quality": {"q": 1}, "performance": {"p": 2}, "staleness": {"s": 3},
                                "latency": {"l": 4}, "resources": {"r": 5},
                                "alerts": [{"severity": "info", "kind": "drift", "subject": "m", "message": "msg",
                                            "details": {"k": 1}}]}
    empty = MonitorReport("m", "1", None, 1.0, "s", 0, None)
    assert (empty.quality, empty.performance, empty.staleness, empty.latency, empty.resources, empty.alerts) == (
        {}, {}, {}, {}, {}, [])


# -- base and sinks -------------------------------------------------------------------------------

def test_alert_and_metric_shapes() -> None:
    alert = Alert("critical", "quality", "credit", "3 NaN/inf predictions")
    assert alert.to_text() == "[critical] credit: quality - 3 NaN/inf predictions"
    assert alert.to_dict() == {"severity": "critical", "kind": "quality", "subject": "credit",
                               "message": "3 NaN/inf predictions", "details": {}}
    with pytest.raises(AttributeError):
        alert.message = "edited"  # type: ignore[misc]  # frozen: an alert is sent as it was raised
    metric = Metric("x", 1.0)
    assert (metric.labels, metric.ts) == ({}, 0.0)
    with pytest.raises(AttributeError):
        metric.value = 2.0  # type: ignore[misc]
    assert isinstance(SqliteMetricsSink(Path("/tmp/h6-never-used-sink")), MetricsSink)
    assert isinstance(LogAlerter(Path("/tmp/h6-never-used-sink")), Alerter)
    assert not isinstance(object(), MetricsSink) and not isinstance(object(), Alerter)


def test_metrics_sink_filters_by_name_labels_and_time(tmp_path: Path) -> None:
    import time

    sink = SqliteMetricsSink(tmp_path)
    assert sink.path == tmp_path / "monitoring" / "metrics.db"
    before = time.time()
    sink.put([Metric("psi", 0.3, {"f": "a", "m": "x"}, 20.0), Metric("psi", 0.1, {"f": "b", "m": "x"}, 10.0),
              Metric("other", 1, {"f": "a"}, 5.0), Metric("psi", 7, {"f": "a"})])
    got = sink.query("psi")
    assert [(m.name, m.value, m.labels) for m in got] == [("psi", 0.1, {"f": "b", "m": "x"}), ("psi", 0.3, {"f": "a", "m": "x"}),
                                                          ("psi", 7.0, {"f": "a"})]
    assert got[0].ts == 10.0 and got[2].ts >= before  # no time given: stored with the current time
    assert [m.value for m in sink.query("psi", {"f": "a"})] == [0.3, 7.0]
    assert [m.value for m in sink.query("psi", {"f": "a", "m": "x"})] == [0.3]
    assert [m.value for m in sink.query("psi", since=20.0)] == [0.3, 7.0]
    assert [m.value for m in sink.query("psi", since=20.5)] == [7.0]
    assert sink.query("missing") == []
    # labels are stored as sorted JSON (one text per label set); a time in the first second of 1970 still counts
    sink.put([Metric("early", 1, {"z": "1", "a": "2"}, 0.5)])
    got = sink.query("early")
    assert [(m.ts, list(m.labels)) for m in got] == [(0.5, ["a", "z"])]
    nested = SqliteMetricsSink(tmp_path / "not" / "yet")  # a home that does not exist yet
    assert nested.path == tmp_path / "not" / "yet" / "monitoring" / "metrics.db"
    nested.put([Metric("x", 1.0, {}, 1.0)])
    assert [m.value for m in nested.query("x")] == [1.0]


@pytest.fixture
def webhook():  # type: ignore[no-untyped-def]
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            received.append({"body": json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                             "type": self.headers["Content-Type"]})
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_log_alerter_posts_to_the_webhook_and_records_delivery(tmp_path: Path, webhook) -> None:  # type: ignore[no-untyped-def]
    url, received = webhook
    stream = StringIO()
    alerter = LogAlerter(tmp_path, url, stream=stream)
    assert (alerter.webhook_url, alerter.timeout_s) == (url, 5.0)
    alerter.send(Alert("warning", "drift", "m1", "PSI 0.3", {"when": datetime(2026, 1, 1)}))
    assert stream.getvalue() == "ALERT [warning] m1: drift - PSI 0.3\n"
    assert received == [{"type": "application/json",
                         "body": {"text": "[warning] m1: drift - PSI 0.3", "severity": "warning", "kind": "drift",
                                  "subject": "m1", "message": "PSI 0.3", "details": {"when": "2026-01-01 00:00:00"}}}]
    alerter.send(Alert("info", "latency", "m2", "slow"))
    rows = alerter.history()
    assert [(r["severity"], r["kind"], r["subject"], r["message"], r["delivered"]) for r in rows] == [
        ("warning", "drift", "m1", "PSI 0.3", "webhook 202"), ("info", "latency", "m2", "slow", "webhook 202")]
    assert json.loads(rows[0]["details"]) == {"when": "2026-01-01 00:00:00"}
    assert [r["subject"] for r in alerter.history("m2")] == ["m2"]
    quiet = LogAlerter(tmp_path / "quiet", stream=StringIO())  # no webhook: nothing delivered
    quiet.send(Alert("info", "drift", "m3", "x"))
    assert quiet.history()[0]["delivered"] is None
    assert rows[0]["ts"] <= rows[1]["ts"]


def test_a_failing_webhook_is_logged_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/hook"
    LogAlerter(tmp_path, url, timeout_s=2.0).send(Alert("critical", "quality", "m", "bad"))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "ALERT [critical] m: quality - bad"
    assert err[1].startswith(f"  (alert webhook {url} failed: ") and err[1].endswith(")")
    row = LogAlerter(tmp_path).history("m")[0]
    assert row["delivered"].startswith("webhook failed: ")
    assert row["delivered"] == "webhook failed: " + err[1].split(" failed: ", 1)[1][:-1]


def test_drift_at_the_allowed_count_and_rounded_figures(home: Path) -> None:
    now = created(home) + 30 * DAY + 3600
    deploy(home, standby=None)
    capture(home, now, rows=120, shift=4.0, rejected=1)
    report = monitor(home, now, max_drifted_features=1, max_rejected_share=0.5, max_model_age_days=31)
    assert report.drift.drifted_features == ["a"]
    assert report.alerts == []  # one drifted feature, one allowed
    assert report.quality["rejected_share"] == 0.0083  # 1 of 121, to four places
    assert report.staleness["age_days"] == 30.04


def test_an_endpoint_without_traffic_reports_zeros(home: Path) -> None:
    now = created(home) + DAY
    deploy(home, standby=None)
    report = monitor(home, now)
    assert (report.rows, report.drift) == (0, None)
    assert report.quality == {"captured": 0, "scored": 0, "rejected": 0, "rejected_by_field": {}, "rejected_share": 0.0}
    assert report.performance == {"labelled": 0, "accuracy": None, "registered_accuracy": 0.9}
    assert report.latency == {"requests": 0, "p95_ms": None, "throughput_rps": 0.0}
    sink = SqliteMetricsSink(home)
    assert sink.query("performance.accuracy") == [] and sink.query("serving.p95_ms") == []
    assert [m.value for m in sink.query("serving.throughput_rps")] == [0.0]


def test_a_data_file_is_judged_against_the_champion_not_the_newest_version(home: Path, template, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelway.registry import ModelCandidate, get_registry

    registry = get_registry(home)
    model = registry.load_model("tiny", NEW)
    rejected = registry.register(ModelCandidate(name="tiny", model=model, schema=registry.get("tiny", NEW).schema,
                                                metrics={"accuracy": 0.1}, gates_passed=False), environment="dev",
                                 actor="pytest")
    assert registry.get("tiny").version == rejected.version != NEW
    data = tmp_path / "rows.csv"
    template[1].to_csv(data, index=False)
    report = run_monitor(home, "tiny", data=data, now=created(home) + DAY, alerter=LogAlerter(home, stream=StringIO()))
    assert report.version == NEW
