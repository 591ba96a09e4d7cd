"""The monitoring page: drift per feature over time, data quality and alerts, as one self-contained HTML file.

History comes from the metrics sink (every past ``modelway monitor`` pass), so the page shows
trends, not just the latest window: one PSI sparkline per feature with the drift threshold
drawn in, the latest verdicts, and the alert log.

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
