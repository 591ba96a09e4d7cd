"""Self-contained HTML building blocks: page shell, tables, inline-SVG charts, model card section.

Everything is inline (CSS and SVG), so a report opens from disk or an email attachment
with no network access. Charts are small SVGs drawn here: grouped bars (per-group
fairness metrics), a DAG of step boxes coloured by state, a confusion-matrix heat table
and a residual scatter.

Example:
    >>> "<svg" in bar_chart({"F": {"selection_rate": 0.3}, "M": {"selection_rate": 0.2}}, ["selection_rate"])
    True
"""
from __future__ import annotations

import html
import json
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem;margin-top:2rem}
h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}
.pass{color:#127c3a;font-weight:600}.fail{color:#b3261e;font-weight:700}
.badge{display:inline-block;padding:.15rem .55rem;border-radius:.8rem;font-size:.85rem;font-weight:600}
.badge.ok{background:#d3f4dd;color:#127c3a}.badge.bad{background:#fde2e1;color:#b3261e}.badge.wait{background:#fff3c4;color:#7a5b00}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:#f7f9fb;padding:.6rem;overflow:auto;border:1px solid #e4e7eb}
.muted{color:#627d98}
"""

STATE_COLORS = {
    "succeeded": "#d3f4dd", "completed": "#d3f4dd", "cached": "#dbeafe", "failed": "#fde2e1",
    "running": "#fff3c4", "pending": "#eef2f7", "skipped": "#eef2f7", "cancelled": "#eceff1",
}
SERIES_COLORS = ["#2f6fde", "#e07b39", "#3a9d5d", "#b04ac9", "#c9a227", "#5b6b7f"]


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return esc(json.dumps(value, default=str))
    return esc(value)


def page(title: str, body: str) -> str:
    """A complete HTML document with inline CSS."""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{body}</body></html>\n"
    )


def table(headers: list[str], rows: list[list[Any]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def badge(passed: bool | None, text: str | None = None) -> str:
    if passed is None:
        return f"<span class='badge wait'>{esc(text or 'pending')}</span>"
    return f"<span class='badge {'ok' if passed else 'bad'}'>{esc(text or ('passed' if passed else 'FAILED'))}</span>"


def checks_table(checks: list[dict[str, Any]]) -> str:
    """Checks with pass/FAIL, observed, limit, rows and message (failed ones first)."""
    ordered = sorted(checks, key=lambda c: bool(c.get("passed")))
    rows = [
        [
            esc(c.get("name")),
            "<span class=pass>pass</span>" if c.get("passed") else "<span class=fail>FAIL</span>",
            fmt(c.get("observed")), fmt(c.get("limit")), fmt(c.get("count")), esc(c.get("message")),
        ]
        for c in ordered
    ]
    return table(["check", "result", "observed", "limit", "rows", "detail"], rows, raw=True)


def bar_chart(groups: dict[str, dict[str, float]], metrics: list[str], *, width: int = 640, height: int = 240) -> str:
    """Grouped bars: one cluster per metric, one bar per group (values in [0, 1])."""
    names = list(groups)
    if not names or not metrics:
        return ""
    pad_l, pad_b, pad_t = 40, 40, 20
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    cluster = plot_w / len(metrics)
    bar = max(4.0, (cluster - 16) / max(len(names), 1))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + 24}' role='img'>"]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = pad_t + plot_h * (1 - tick)
        parts.append(f"<line x1='{pad_l}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e7eb'/>")
        parts.append(f"<text x='{pad_l - 6}' y='{y + 4:.1f}' font-size='10' text-anchor='end' fill='#627d98'>{tick:g}</text>")
    for i, metric in enumerate(metrics):
        x0 = pad_l + i * cluster + 8
        for j, group in enumerate(names):
            value = float(groups[group].get(metric, 0.0) or 0.0)
            h = plot_h * max(0.0, min(1.0, value))
            x = x0 + j * bar
            parts.append(
                f"<rect x='{x:.1f}' y='{pad_t + plot_h - h:.1f}' width='{bar - 2:.1f}' height='{h:.1f}' fill='{SERIES_COLORS[j % len(SERIES_COLORS)]}'>"
                f"<title>{esc(group)} {esc(metric)} = {value:.3f}</title></rect>"
            )
        parts.append(f"<text x='{x0 + (cluster - 16) / 2:.1f}' y='{pad_t + plot_h + 16}' font-size='11' text-anchor='middle'>{esc(metric)}</text>")
    for j, group in enumerate(names):
        x = pad_l + j * 110
        parts.append(f"<rect x='{x}' y='{height + 6}' width='10' height='10' fill='{SERIES_COLORS[j % len(SERIES_COLORS)]}'/>")
        parts.append(f"<text x='{x + 14}' y='{height + 15}' font-size='11'>{esc(group)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def dag_svg(steps: list[dict[str, Any]], edges: list[tuple[str, str]]) -> str:
    """Step boxes in topological layers (left to right), coloured by state, with durations."""
    if not steps:
        return ""
    names = [s["name"] for s in steps]
    parents: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        if a in parents and b in parents:
            parents[b].append(a)
    layer: dict[str, int] = {}
    for name in names:  # steps arrive in execution (topological) order
        layer[name] = 1 + max((layer.get(p, 0) for p in parents[name]), default=-1)
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(layer[name], []).append(name)
    box_w, box_h, gap_x, gap_y = 170, 54, 50, 18
    width = len(columns) * (box_w + gap_x) + 20
    height = max(len(c) for c in columns.values()) * (box_h + gap_y) + 20
    pos = {}
    for col, members in columns.items():
        for row, name in enumerate(members):
            pos[name] = (10 + col * (box_w + gap_x), 10 + row * (box_h + gap_y))
    by_name = {s["name"]: s for s in steps}
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    for a, b in edges:
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            parts.append(f"<line x1='{x1 + box_w}' y1='{y1 + box_h / 2}' x2='{x2}' y2='{y2 + box_h / 2}' stroke='#9aa5b1' stroke-width='1.5'/>")
    for name, (x, y) in pos.items():
        step = by_name[name]
        state = str(step.get("status", "pending")).lower()
        if step.get("cached"):
            state_label, color = "cached", STATE_COLORS["cached"]
        else:
            state_label, color = state, STATE_COLORS.get(state, "#eef2f7")
        duration = step.get("duration_s")
        dur = f"{duration:.2f} s" if isinstance(duration, (int, float)) else ""
        parts.append(f"<rect x='{x}' y='{y}' width='{box_w}' height='{box_h}' rx='8' fill='{color}' stroke='#627d98'/>")
        parts.append(f"<text x='{x + 10}' y='{y + 21}' font-size='13' font-weight='600'>{esc(name)[:22]}</text>")
        parts.append(f"<text x='{x + 10}' y='{y + 40}' font-size='11' fill='#334e68'>{esc(state_label)} {esc(dur)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def confusion_matrix_html(cm: dict[str, Any] | None) -> str:
    """A heat-shaded confusion matrix table (rows: actual, columns: predicted)."""
    if not cm:
        return ""
    labels, matrix = cm["labels"], cm["matrix"]
    peak = max((max(r) for r in matrix), default=1) or 1
    head = "<tr><th>actual \\ predicted</th>" + "".join(f"<th>{esc(l)}</th>" for l in labels) + "</tr>"
    rows = []
    for label, row in zip(labels, matrix):
        cells = "".join(
            f"<td style='background:rgba(47,111,222,{0.1 + 0.8 * v / peak:.2f});text-align:right'>{v}</td>" for v in row
        )
        rows.append(f"<tr><th>{esc(label)}</th>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def residual_svg(y_true: list[float], y_pred: list[float], *, width: int = 520, height: int = 260) -> str:
    """Residuals (actual - predicted) against predictions."""
    if not y_true:
        return ""
    res = [t - p for t, p in zip(y_true, y_pred)]
    x_lo, x_hi = min(y_pred), max(y_pred)
    r_abs = max(abs(r) for r in res) or 1.0
    pad = 40
    sx = lambda v: pad + (width - 2 * pad) * ((v - x_lo) / ((x_hi - x_lo) or 1))  # noqa: E731
    sy = lambda r: height / 2 - (height / 2 - 20) * (r / r_abs)  # noqa: E731
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
             f"<line x1='{pad}' x2='{width - pad}' y1='{height / 2}' y2='{height / 2}' stroke='#9aa5b1'/>"]
    for p, r in zip(y_pred, res):
        parts.append(f"<circle cx='{sx(p):.1f}' cy='{sy(r):.1f}' r='2.5' fill='#2f6fde' fill-opacity='0.6'/>")
    parts.append(f"<text x='{pad}' y='14' font-size='11' fill='#627d98'>residual (actual - predicted) vs predicted; |max| {r_abs:.1f}</text></svg>")
    return "".join(parts)


def card_section(card: dict[str, Any]) -> str:
    """The model card as HTML: status, intended use, data, training, metrics, slices, fairness, checks."""
    out = [f"<p>{badge(card.get('passed'), 'all checks passed' if card.get('passed') else 'FAILED checks')} "
           f"<span class=muted>task {esc(card.get('task'))} · run {esc(card.get('run_id'))} · commit {esc((card.get('code_commit') or '')[:12])}"
           f" · created {esc(card.get('created_at'))}</span></p>"]
    out.append(f"<h3>Intended use</h3><p>{esc(card.get('intended_use'))}</p>")
    if card.get("limitations"):
        out.append("<h3>Limitations</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in card["limitations"]) + "</ul>")
    if card.get("data_versions"):
        out.append("<h3>Data</h3>" + table(["dataset", "version"], [[k, v] for k, v in card["data_versions"].items()]))
    training = card.get("training") or {}
    if training:
        rows = [[k, training[k]] for k in ("estimator", "best_params", "search") if k in training]
        rows += [[f"CV {m}", f"{s['mean']:.4f} ± {s['std']:.4f} ({len(s.get('folds', []))} folds)"] for m, s in (training.get("cv") or {}).items()]
        out.append("<h3>Training</h3>" + table(["", ""], rows))
    out.append("<h3>Test metrics</h3>" + table(["metric", "value"], [[k, v] for k, v in card.get("metrics", {}).items()]))
    if card.get("confusion_matrix"):
        out.append("<h3>Confusion matrix</h3>" + confusion_matrix_html(card["confusion_matrix"]))
    if card.get("slices"):
        names = sorted({m for metrics in card["slices"].values() for m in metrics})
        out.append("<h3>Metrics per slice</h3>" + table(["slice"] + names, [[s] + [m.get(n) for n in names] for s, m in card["slices"].items()]))
    fairness = card.get("fairness")
    if fairness:
        groups = fairness.get("by_group", {})
        names = sorted({m for g in groups.values() for m in g})
        out.append(f"<h3>Fairness by {esc(fairness.get('sensitive'))}</h3>")
        rate_metrics = [m for m in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy") if m in names]
        if rate_metrics:
            out.append(bar_chart(groups, rate_metrics))
        out.append(table(["group"] + names, [[g] + [m.get(n) for n in names] for g, m in groups.items()]))
        figures = [[k, fairness[k]] for k in ("demographic_parity_difference", "equalized_odds_difference", "max_relative_mae_gap") if k in fairness]
        if figures:
            out.append(table(["disparity", "value"], figures))
    out.append("<h3>Checks</h3>" + checks_table(card.get("checks", [])))
    return "".join(out)
