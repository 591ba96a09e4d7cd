"""``modelway monitor``: one pass over an endpoint's recent traffic (or a data file) against the baseline.

What one pass computes, for a time window (default the last hour):

* drift per feature and of the prediction (:mod:`modelway.profiling.drift`), on the
  captured inputs (the served features, so training/serving skew shows up as drift against
  the training profile);
* live data quality: missing rates vs the baseline, NaN/inf predictions, and the share of
  rejected requests (schema violations) per field;
* performance on labelled traffic (``modelway feedback``) against the accuracy the version
  was registered with;
* staleness: the serving version's age against ``max_model_age_days``;
* serving latency and throughput against the previous version's last window, and what each
  version costs the server (memory held by the model, peak memory and rows/s of a probe
  prediction, measured at load by :mod:`modelway.serving.resources`) against the previous one.

Every number goes to the :class:`~modelway.monitoring.base.MetricsSink`; every breach
becomes an :class:`~modelway.monitoring.base.Alert` for the
:class:`~modelway.monitoring.base.Alerter`. Thresholds come from :class:`MonitorConfig`
(a YAML file, ``--config``), with the defaults below.

Example:
    >>> MonitorConfig().max_model_age_days
    30.0
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelway.config_files import load_yaml_text
from modelway.errors import ConfigError, UserError
from modelway.features import resolve
from modelway.monitoring.base import Alert, Alerter, Metric, MetricsSink
from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink
from modelway.profiling.drift import DriftReport, DriftThresholds, compare
from modelway.profiling.profile import load_baseline
from modelway.registry import get_registry
from modelway.serving.capture import read_capture
from modelway.serving.state import DeploymentStore

if TYPE_CHECKING:
    from modelway.registry.base import ModelRegistry


class MonitorConfig(BaseModel):
    """Monitoring thresholds (YAML keys of the same names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift: DriftThresholds = DriftThresholds()
    max_drifted_features: int = Field(0, ge=0, description="more drifted features than this is a drift alert")
    max_rejected_share: float = Field(0.05, ge=0, le=1, description="share of requests rejected (400) before alerting")
    max_accuracy_drop: float = Field(0.05, ge=0, description="labelled accuracy below registered accuracy minus this")
    min_labelled: int = Field(50, ge=1, description="labelled requests needed to judge accuracy")
    max_model_age_days: float = Field(30.0, gt=0, description="a serving version older than this is stale")
    max_latency_ratio: float = Field(1.5, ge=1, description="p95 latency vs the previous version's")
    max_memory_ratio: float = Field(1.5, ge=1, description="model memory / predict peak vs the previous version's ...")
    memory_slack_mb: float = Field(5.0, ge=0, description="... plus this many MB (small models vary by a few MB)")
    min_throughput_ratio: float = Field(0.67, gt=0, le=1, description="scoring rows/s vs the previous version's")
    min_rows: int = Field(100, ge=1, description="captured rows needed to judge drift")
    webhook_url: str | None = Field(None, description="POST alerts here (JSON with a 'text' field)")


def load_config(path: Path | None) -> MonitorConfig:
    """:class:`MonitorConfig` from a YAML file (None: defaults); ConfigError names the key."""
    if path is None:
        return MonitorConfig()
    try:
        # the strict loader: a duplicate key is an error (naming both lines), never "last one wins"
        data = load_yaml_text(Path(path).read_text(), path) or {}
        return MonitorConfig.model_validate(data)
    except FileNotFoundError:
        raise ConfigError(f"monitor config {path} not found") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"monitor config {path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@dataclass
class MonitorReport:
    """The outcome of one monitor pass."""

    model: str
    version: str
    endpoint: str | None
    window_s: float
    source: str
    rows: int
    drift: DriftReport | None
    quality: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    staleness: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "endpoint": self.endpoint, "window_s": self.window_s,
                "source": self.source, "rows": self.rows, "drift": self.drift.to_dict() if self.drift else None,
                "quality": self.quality, "performance": self.performance, "staleness": self.staleness,
                "latency": self.latency, "resources": self.resources, "alerts": [a.to_dict() for a in self.alerts]}


def parse_window(text: str) -> float:
    """Seconds in ``30m``, ``1h``, ``2d``, ``90s`` (or a plain number of seconds).

    Example:
        >>> parse_window("2h")
        7200.0
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise UserError(f"--window {text!r}: expected a duration such as 30m, 1h or 2d") from None


def captured_frame(home: Path, endpoint: str, since: float) -> tuple[Any, Any, dict[str, Any]]:
    """(inputs frame, predictions, counts) of the captured requests since ``since``."""
    import numpy as np
    import pandas as pd

    records = read_capture(home, endpoint, since=since)
    ok = [r for r in records if r.get("status") == 200 and r.get("inputs")]
    rejected = [r for r in records if r.get("status") == 400]
    columns: dict[str, list[Any]] = {}
    for r in ok:  # one DataFrame at the end: building one per record costs seconds on a day of traffic
        for name, values in r["inputs"].items():
            columns.setdefault(name, []).extend(values)
    frame = pd.DataFrame(columns) if columns else pd.DataFrame()
    preds = [o.get("probability", o.get("prediction")) for r in ok for o in (r.get("outputs") or [])]
    by_field: dict[str, int] = {}
    for r in rejected:
        message = r.get("error") or ""
        name = message.split("field ", 1)[1].split(":")[0].strip("' ") if "field " in message else "body"
        by_field[name] = by_field.get(name, 0) + 1
    counts = {"captured": len(records), "scored": len(ok), "rejected": len(rejected), "rejected_by_field": by_field}
    return frame, np.asarray(preds, dtype="float64"), counts


def file_frame(registry: ModelRegistry, model: str, version: str, path: Path) -> tuple[Any, Any]:
    """(inputs, predictions of ``version``) for a CSV or Parquet file of feature rows."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"--data file {path} not found") from None
    except Exception as exc:  # noqa: BLE001 - any parse error is the file's problem
        raise UserError(f"--data file {path} cannot be read ({exc})") from None
    estimator = registry.load_model(model, version)
    schema = registry.get(model, version).schema
    if schema.get("feature_function") and not set(schema["feature_function"]["outputs"]) <= set(frame.columns):
        frame = resolve(schema["feature_function"]["ref"])(frame)  # raw rows: derive as training and serving do
    features = [n for n, _ in schema["features"]]
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise UserError(f"--data file {path} lacks feature column(s) {missing}")
    scores = estimator.score_positive(frame[features]) if hasattr(estimator, "score_positive") else estimator.predict(frame[features])
    return frame, scores


def _resources(log: Any, version: str, previous: str | None, cfg: MonitorConfig, model: str, labels: dict[str, str],
               now: float) -> tuple[dict[str, Any], tuple[list[Metric], list[Alert]]]:
    """Memory and scoring throughput of ``version`` (measured by the server at load) against ``previous``."""
    current = log.resources(version)
    if current is None:
        return {}, ([], [])
    keys = ("model_mb", "predict_peak_mb", "rows_per_s")
    out: dict[str, Any] = {k: round(current[k], 3) for k in keys}
    metrics = [Metric(f"serving.{k}", current[k], labels, now) for k in keys]
    alerts: list[Alert] = []
    before = log.resources(previous) if previous else None
    if before is not None:
        out["previous"] = {"version": previous, **{k: round(before[k], 3) for k in keys}}
        for key, what in (("model_mb", "memory held by the model"), ("predict_peak_mb", "peak memory of a prediction")):
            limit = before[key] * cfg.max_memory_ratio + cfg.memory_slack_mb
            if current[key] > limit:
                alerts.append(Alert("warning", "memory", model, f"{what} {current[key]:.1f} MB vs {before[key]:.1f} MB for "
                                    f"the previous version {previous} (limit {limit:.1f} MB)", {"version": version}))
        floor = before["rows_per_s"] * cfg.min_throughput_ratio
        if current["rows_per_s"] < floor:
            alerts.append(Alert("warning", "throughput", model, f"scores {current['rows_per_s']:.0f} rows/s vs "
                                f"{before['rows_per_s']:.0f} for the previous version {previous} (floor {floor:.0f})",
                                {"version": version}))
    return out, (metrics, alerts)


def run_monitor(home: Path, model: str, *, endpoint: str | None = None, window_s: float = 3600.0,
                data: Path | None = None, config: MonitorConfig | None = None, sink: MetricsSink | None = None,
                alerter: Alerter | None = None, registry: ModelRegistry | None = None, now: float | None = None) -> MonitorReport:
    """One monitor pass (see the module docstring); results to ``sink``, breaches to ``alerter``."""
    from modelway.serving.traffic import TrafficLog, traffic_path

    cfg = config or MonitorConfig()
    registry = registry or get_registry(home)
    sink = sink or SqliteMetricsSink(home)
    alerter = alerter or LogAlerter(home, cfg.webhook_url)
    now = now or time.time()
    since = now - window_s
    state = None
    if data is None:
        endpoint = endpoint or model
        found = DeploymentStore(home).get(endpoint)
        if found is None:
            raise UserError(f"endpoint {endpoint!r} has no deployment to monitor; serve it first (modelway serve {model}) "
                            f"or monitor a file with --data")
        state = found[1]
        version = state.incumbent
    else:
        champion = registry.champion(model, ("prod", "staging", "dev"))
        version = champion.version if champion else registry.get(model).version
    mv = registry.get(model, version)
    profile = load_baseline(home, model, version)
    labels = {"model": model, "version": version}

    if data is not None:
        frame, preds = file_frame(registry, model, version, Path(data))
        counts = {"captured": len(frame), "scored": len(frame), "rejected": 0, "rejected_by_field": {}}
        source = str(data)
    else:
        frame, preds, counts = captured_frame(home, endpoint, since)
        source = f"capture of endpoint {endpoint}"
    report = MonitorReport(model, version, endpoint, window_s, source, int(len(frame)), None)
    metrics: list[Metric] = []
    alerts: list[Alert] = []

    # drift and missing values
    if len(frame) >= cfg.min_rows:
        drift = compare(profile, frame, preds if len(preds) == len(frame) else None, cfg.drift)
        report.drift = drift
        for name, f in drift.features.items():
            fl = {**labels, "feature": name}
            metrics += [Metric("drift.psi", f.psi, fl, now), Metric("quality.missing_rate", f.missing_rate, fl, now),
                        Metric("drift.drifted", float(f.drifted), fl, now)]
            if f.p_value is not None:
                metrics.append(Metric("drift.p_value", f.p_value, fl, now))
        if drift.prediction is not None:
            metrics.append(Metric("drift.prediction_psi", drift.prediction.psi, labels, now))
            if drift.prediction.drifted:
                alerts.append(Alert("warning", "prediction-drift", model, f"prediction distribution shifted: "
                                    f"{'; '.join(drift.prediction.reasons)}", {"version": version}))
        metrics.append(Metric("drift.features_drifted", len(drift.drifted_features), labels, now))
        if len(drift.drifted_features) > cfg.max_drifted_features:
            detail = "; ".join(f"{n}: {', '.join(drift.features[n].reasons)}" for n in drift.drifted_features)
            alerts.append(Alert("warning", "drift", model, f"{len(drift.drifted_features)} of {len(drift.features)} "
                                f"features drifted ({detail})", {"features": drift.drifted_features, "version": version}))
        if drift.quality_breaches:
            alerts.append(Alert("warning", "quality", model, "missing values above baseline: " + "; ".join(
                f"{n}: {', '.join(drift.features[n].reasons)}" for n in drift.quality_breaches)))
        if drift.nonfinite_predictions:
            alerts.append(Alert("critical", "quality", model, f"{drift.nonfinite_predictions} NaN/inf predictions"))
    report.quality = dict(counts)
    total = counts["scored"] + counts["rejected"]
    rejected_share = counts["rejected"] / total if total else 0.0
    report.quality["rejected_share"] = round(rejected_share, 4)
    metrics.append(Metric("quality.rejected_share", rejected_share, labels, now))
    if rejected_share > cfg.max_rejected_share:
        alerts.append(Alert("warning", "quality", model, f"{rejected_share:.1%} of requests rejected by the schema "
                            f"(by field: {counts['rejected_by_field']})"))

    # performance on labelled traffic, latency vs the previous version
    if state is not None:
        log = TrafficLog(traffic_path(home, endpoint))
        stats = log.stats(version, since=since)
        registered = mv.metrics.get("accuracy")
        report.performance = {"labelled": stats.labelled, "accuracy": stats.accuracy, "registered_accuracy": registered}
        if stats.accuracy is not None:
            metrics.append(Metric("performance.accuracy", stats.accuracy, labels, now))
        if stats.labelled >= cfg.min_labelled and registered is not None and stats.accuracy < registered - cfg.max_accuracy_drop:
            alerts.append(Alert("critical", "performance", model, f"accuracy {stats.accuracy:.3f} on {stats.labelled} "
                                f"labelled requests vs {registered:.3f} at registration"))
        throughput = stats.requests / window_s
        report.latency = {"requests": stats.requests, "p95_ms": stats.p95_ms, "throughput_rps": round(throughput, 3)}
        if stats.p95_ms is not None:
            metrics.append(Metric("serving.p95_ms", stats.p95_ms, labels, now))
        metrics.append(Metric("serving.throughput_rps", throughput, labels, now))
        if state.standby and stats.p95_ms is not None:
            before = log.stats(state.standby)
            report.latency["previous"] = {"version": state.standby, "p95_ms": before.p95_ms}
            if before.p95_ms and stats.p95_ms > before.p95_ms * cfg.max_latency_ratio:
                alerts.append(Alert("warning", "latency", model, f"p95 {stats.p95_ms:.1f} ms vs {before.p95_ms:.1f} ms "
                                    f"for the previous version {state.standby}"))
        report.resources, found = _resources(log, version, state.standby, cfg, model, labels, now)
        metrics += found[0]
        alerts += found[1]

    # staleness
    created = datetime.fromisoformat(mv.created_at)
    age_days = (datetime.fromtimestamp(now, timezone.utc) - created).total_seconds() / 86400
    report.staleness = {"created_at": mv.created_at, "age_days": round(age_days, 2), "limit_days": cfg.max_model_age_days}
    metrics.append(Metric("model.age_days", age_days, labels, now))
    if age_days > cfg.max_model_age_days:
        alerts.append(Alert("warning", "staleness", model, f"{version} is {age_days:.0f} days old "
                            f"(limit {cfg.max_model_age_days:.0f})"))
    metrics.append(Metric("monitor.alerts", len(alerts), labels, now))
    sink.put(metrics)
    for alert in alerts:
        alerter.send(alert)
    report.alerts = alerts
    return report
