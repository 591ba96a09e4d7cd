"""The monitoring page: drift per feature over time, data quality and alerts, as one self-contained HTML file.

History comes from the metrics sink (every past ``modelway monitor`` pass), so the page shows
trends, not just the latest window: one PSI sparkline per feature with the drift threshold
drawn in, the latest verdicts, and the alert log. The same history, as a section, is part of
``modelway runs report`` for a run that registered a model (:func:`monitoring_history` collects
it as plain data, :func:`monitoring_section` renders it).

Example:
    >>> _sparkline([0.01, 0.02, 0.3], 0.2).startswith("<svg")
    True
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from modelway.files import atomic_write_text
from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink


def _sparkline(values: list[float], threshold: float, width: int = 220, height: int = 40) -> str:
    top = max(max(values, default=0.0), threshold) * 1.1 or 1.0
    n = max(len(values) - 1, 1)
    pts = " ".join(f"{i * width / n:.1f},{height - v / top * height:.1f}" for i, v in enumerate(values))
    y = height - threshold / top * height
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d33" stroke-dasharray="4 3"/>'
            f'<polyline fill="none" stroke="#246" stroke-width="2" points="{pts}"/></svg>')


def write_monitoring_page(home: Path, report: Any, path: Path) -> Path:
    """Write the page for ``report.model`` to ``path`` (atomically); returns the path."""
    sink = SqliteMetricsSink(home)
    threshold = 0.2
    rows = []
    features = list(report.drift.features.values()) if report.drift else []
    for f in features:
        history = [m.value for m in sink.query("drift.psi", {"model": report.model, "feature": f.name})]
        verdict = "DRIFT: " + "; ".join(f.reasons) if f.drifted else ("quality: " + "; ".join(f.reasons) if f.quality_breach else "ok")
        p = "" if f.p_value is None else f"{f.p_value:.2g}"
        rows.append(f"<tr class='{'bad' if f.drifted or f.quality_breach else ''}'><td>{html.escape(f.name)}</td><td>{f.kind}</td>"
                    f"<td>{f.psi:.3f}</td><td>{f.test} {p}</td><td>{f.missing_rate:.1%}</td>"
                    f"<td>{_sparkline(history, threshold)}</td><td>{html.escape(verdict)}</td></tr>")
    alerts = LogAlerter(home).history(report.model)[-50:]
    alert_rows = "".join(f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(a['ts']))}</td><td>{a['severity']}</td>"
                         f"<td>{a['kind']}</td><td>{html.escape(a['message'])}</td></tr>" for a in reversed(alerts))
    q = report.quality
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Monitoring {html.escape(report.model)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{padding:4px 10px;
border-bottom:1px solid #ddd;text-align:left}} tr.bad td{{background:#fde8e8}}</style></head><body>
<h1>Monitoring: {html.escape(report.model)} {html.escape(report.version)}</h1>
<p>{html.escape(report.source)}, window {report.window_s / 3600:.3g} h, {report.rows} rows;
quality: {q.get('scored')} scored, {q.get('rejected')} rejected ({q.get('rejected_share', 0):.1%});
model age {report.staleness.get('age_days')} days.</p>
<h2>Drift per feature (PSI over monitor passes; dashed line = {threshold})</h2>
<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>test p-value</th><th>missing</th><th>PSI over time</th><th>verdict</th></tr>
{''.join(rows) or '<tr><td colspan=7>not enough rows to judge drift</td></tr>'}</table>
<h2>Alerts</h2><table><tr><th>time (UTC)</th><th>severity</th><th>kind</th><th>message</th></tr>
{alert_rows or '<tr><td colspan=4>none</td></tr>'}</table></body></html>"""
    atomic_write_text(Path(path), doc, create_parents=True)
    return Path(path)


def monitoring_history(home: Path, model: str) -> dict[str, Any] | None:
    """Every past monitor pass of ``model`` from the metrics sink, as plain data (None: never monitored).

    Reads only: a home whose monitoring database does not exist yet gets nothing created.
    """
    if not (Path(home) / "monitoring" / "metrics.db").is_file():
        return None
    sink = SqliteMetricsSink(home)
    labels = {"model": model}
    features: dict[str, dict[str, Any]] = {}
    for metric, key in (("drift.psi", "psi"), ("drift.p_value", "p_value"), ("quality.missing_rate", "missing"),
                        ("drift.drifted", "drifted")):
        for m in sink.query(metric, labels):
            entry = features.setdefault(m.labels.get("feature", "?"), {"psi": [], "p_value": [], "missing": [], "drifted": []})
            entry[key].append((m.ts, m.value, m.labels.get("version")))
    passes = sink.query("monitor.alerts", labels)
    if not passes:
        return None
    series = {name: [(m.ts, m.value, m.labels.get("version")) for m in sink.query(name, labels)]
              for name in ("quality.rejected_share", "performance.accuracy", "drift.features_drifted", "drift.prediction_psi")}
    return {"model": model, "passes": len(passes), "first": passes[0].ts, "last": passes[-1].ts, "features": features,
            "series": series, "alerts": LogAlerter(home).history(model)[-50:]}


def monitoring_section(history: dict[str, Any] | None, *, threshold: float = 0.2, level: str = "h2") -> str:
    """HTML of :func:`monitoring_history`: PSI per feature over the passes, quality and accuracy, the alert log."""
    if not history:
        return ""
    rows = []
    for name in sorted(history["features"]):
        f = history["features"][name]
        psi = [v for _, v, _ in f["psi"]]
        if not psi:
            continue
        drifted = bool(f["drifted"] and f["drifted"][-1][1])
        times_drifted = sum(1 for _, v, _ in f["drifted"] if v)
        p = f"{f['p_value'][-1][1]:.2g}" if f["p_value"] else ""
        missing = f"{f['missing'][-1][1]:.1%}" if f["missing"] else ""
        verdict = "DRIFT" if drifted else "ok"
        rows.append(f"<tr class='{'bad' if drifted else ''}'><td>{html.escape(name)}</td><td>{psi[-1]:.3f}</td>"
                    f"<td>{max(psi):.3f}</td><td>{_sparkline(psi, threshold)}</td><td>{p}</td><td>{missing}</td>"
                    f"<td>{verdict}</td><td>{times_drifted} of {len(f['drifted']) or len(psi)}</td></tr>")
    series = history["series"]

    def trend(name: str, fmt: str) -> str:
        values = [v for _, v, _ in series.get(name, [])]
        if not values:
            return "n/a"
        return f"latest {format(values[-1], fmt)} over {len(values)} pass(es) {_sparkline(values, values[0], 160, 24)}"

    alert_rows = "".join(f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(a['ts']))}</td><td>{html.escape(a['severity'])}</td>"
                         f"<td>{html.escape(a['kind'])}</td><td>{html.escape(a['message'])}</td></tr>"
                         for a in reversed(history["alerts"]))
    span = (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(history['first']))} to "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(history['last']))} UTC")
    return (f"<{level}>Monitoring</{level}><p>{history['passes']} monitor pass(es) of {html.escape(history['model'])}, {span} "
            f"(<code>modelway monitor {html.escape(history['model'])} --html FILE</code> for the live page).</p>"
            f"<h3>Drift per feature over time (PSI; dashed line = {threshold})</h3>"
            "<table class='monitoring-drift'><thead><tr><th>feature</th><th>latest PSI</th><th>max PSI</th><th>PSI over time</th>"
            "<th>latest p-value</th><th>missing</th><th>latest verdict</th><th>passes drifted</th></tr></thead><tbody>"
            + ("".join(rows) or "<tr><td colspan=8>no pass had enough rows to judge drift</td></tr>") + "</tbody></table>"
            f"<h3>Quality</h3><ul><li>rejected share: {trend('quality.rejected_share', '.1%')}</li>"
            f"<li>labelled accuracy: {trend('performance.accuracy', '.3f')}</li>"
            f"<li>drifted features: {trend('drift.features_drifted', '.0f')}</li>"
            f"<li>prediction PSI: {trend('drift.prediction_psi', '.3f')}</li></ul>"
            f"<h3>Alerts ({len(history['alerts'])})</h3><table class='monitoring-alerts'><thead><tr><th>time (UTC)</th>"
            "<th>severity</th><th>kind</th><th>message</th></tr></thead><tbody>"
            + (alert_rows or "<tr><td colspan=4>none</td></tr>") + "</tbody></table>")
