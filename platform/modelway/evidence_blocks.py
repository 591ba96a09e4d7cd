"""HTML for the evidence a reviewer checks: curves, intervals, ML Test Score, feature tables, approval.

Rendered into the run report and the model card (self-contained SVG; the page shell,
:func:`modelway.html_blocks.page`, opens every ``<details>`` when printed).

Example:
    >>> "ROC" in curves_html({"roc": {"fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}})
    True
"""
from __future__ import annotations

from typing import Any

from modelway.html_blocks import _svg_open, _ticks, esc, fmt, kv_table, table

COLORS = ("#2f6fde", "#d9822b", "#127c3a", "#b3261e")


def line_svg(title: str, series: list[tuple[str, list[float], list[float]]], *, x_label: str, y_label: str,
             diagonal: bool = False, width: int = 360, height: int = 300) -> str:
    """Lines on a [0, 1] x [0, 1] frame with ticks, axis titles and a legend (ROC, PR, calibration)."""
    left, right, top, bottom = 46, 12, 22, 44
    pw, ph = width - left - right, height - top - bottom
    sx = lambda v: left + pw * v  # noqa: E731
    sy = lambda v: top + ph * (1 - v)  # noqa: E731
    parts = [_svg_open(width, height + 18 * len(series), title),
             f"<text x='{left}' y='14' font-size='12' font-weight='600'>{esc(title)}</text>",
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#d9e2ec'/>"]
    for t in _ticks(0.0, 1.0, 4):
        parts.append(f"<text x='{left - 6}' y='{sy(t) + 3.5:.1f}' font-size='10' text-anchor='end' fill='#627d98'>{t:g}</text>")
        parts.append(f"<text x='{sx(t):.1f}' y='{top + ph + 14}' font-size='10' text-anchor='middle' fill='#627d98'>{t:g}</text>")
    if diagonal:
        parts.append(f"<line x1='{sx(0)}' y1='{sy(0)}' x2='{sx(1)}' y2='{sy(1)}' stroke='#9aa5b1' stroke-dasharray='4 3'/>")
    for i, (label, xs, ys) in enumerate(series):
        points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys))
        color = COLORS[i % len(COLORS)]
        parts.append(f"<polyline points='{points}' fill='none' stroke='{color}' stroke-width='2'/>")
        parts.append(f"<text x='{left}' y='{height + 14 + 18 * i}' font-size='11' fill='{color}'>&#9632; {esc(label)}</text>")
    parts.append(f"<text x='{left + pw / 2}' y='{top + ph + 32}' font-size='11' text-anchor='middle'>{esc(x_label)}</text>")
    parts.append(f"<text transform='translate(12 {top + ph / 2}) rotate(-90)' font-size='11' text-anchor='middle'>{esc(y_label)}</text></svg>")
    return "".join(parts)


def histogram_svg(title: str, edges: list[float], counts: dict[str, list[int]], *, width: int = 360, height: int = 300) -> str:
    """Overlaid per-class histograms of scores (as shares of each class, so a rare class stays visible)."""
    left, right, top, bottom = 46, 12, 22, 44
    pw, ph = width - left - right, height - top - bottom
    shares = {k: [c / (sum(v) or 1) for c in v] for k, v in counts.items()}
    peak = max((max(v) for v in shares.values() if v), default=1.0) or 1.0
    bins = len(edges) - 1
    parts = [_svg_open(width, height + 18 * len(shares), title),
             f"<text x='{left}' y='14' font-size='12' font-weight='600'>{esc(title)}</text>",
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#d9e2ec'/>"]
    for i, (label, values) in enumerate(shares.items()):
        color = COLORS[i % len(COLORS)]
        for b, value in enumerate(values):
            h = ph * value / peak
            parts.append(f"<rect x='{left + pw * b / bins:.1f}' y='{top + ph - h:.1f}' width='{pw / bins:.1f}' height='{h:.1f}' "
                         f"fill='{color}' fill-opacity='0.45'/>")
        parts.append(f"<text x='{left}' y='{height + 14 + 18 * i}' font-size='11' fill='{color}'>&#9632; {esc(label)}</text>")
    for t in _ticks(0.0, 1.0, 4):
        parts.append(f"<text x='{left + pw * t:.1f}' y='{top + ph + 14}' font-size='10' text-anchor='middle' fill='#627d98'>{t:g}</text>")
    parts.append(f"<text x='{left + pw / 2}' y='{top + ph + 32}' font-size='11' text-anchor='middle'>score (probability of the positive class)</text>")
    parts.append(f"<text transform='translate(12 {top + ph / 2}) rotate(-90)' font-size='11' text-anchor='middle'>share of the class</text></svg>")
    return "".join(parts)


def curves_html(curves: dict[str, Any]) -> str:
    """ROC, precision-recall, calibration and score distributions side by side."""
    out = []
    if "roc" in curves:
        roc = curves["roc"]
        out.append(line_svg("ROC curve", [(f"model (AUC {roc['auc']:.3f})", roc["fpr"], roc["tpr"])], diagonal=True,
                            x_label="false positive rate", y_label="true positive rate"))
    if "pr" in curves:
        pr = curves["pr"]
        out.append(line_svg("Precision-recall", [(f"model (AP {pr['average_precision']:.3f})", pr["recall"], pr["precision"]),
                                                 (f"prevalence {pr['prevalence']:.3f}", [0, 1], [pr["prevalence"]] * 2)],
                            x_label="recall", y_label="precision"))
    if "calibration" in curves:
        cal = curves["calibration"]
        out.append(line_svg("Calibration", [(f"model (Brier {cal['brier']:.3f})", cal["mean_predicted"], cal["fraction_positive"])],
                            diagonal=True, x_label="mean predicted probability", y_label="observed share of positives"))
    if "score_distribution" in curves:
        dist = curves["score_distribution"]
        out.append(histogram_svg("Scores per true class", dist["edges"], {"positive": dist["positive"], "negative": dist["negative"]}))
    return "<div style='display:flex;flex-wrap:wrap;gap:1rem'>" + "".join(f"<div style='flex:1 1 320px'>{o}</div>" for o in out) + "</div>"


def intervals_html(metrics: dict[str, Any], intervals: dict[str, Any], slices: dict[str, dict[str, Any]] | None = None,
                   min_support: int | None = None) -> str:
    """Headline metrics with 95% bootstrap intervals, and the primary metric per slice (low-support slices marked)."""
    overall = intervals.get("overall") or {}
    rows = [[name, fmt(metrics.get(name)), f"{ci['low']:.4g} – {ci['high']:.4g}", ci["resamples"]] for name, ci in overall.items()]
    out = table(["metric", "value", "95% interval", "resamples"], rows) if rows else ""
    per_slice = intervals.get("slices") or {}
    if per_slice:
        srows = []
        for name, ci in per_slice.items():
            n = (slices or {}).get(name, {}).get("n")
            low = min_support is not None and n is not None and n < min_support
            note = f"<span class=warn>below minimum support ({n} &lt; {min_support}): not gated</span>" if low else ""
            srows.append([esc(name), fmt(n), f"{ci['low']:.4g} – {ci['high']:.4g}", note])
        out += table(["slice", "rows", "95% interval (primary metric)", "support"], srows, raw=True)
    return out


def ml_test_score_html(score: dict[str, Any]) -> str:
    """Per-section score and the 28 tests with how each is covered for this version."""
    sections = score.get("sections") or {}
    head = table(["section", "score (of 7)"], [[s, f"{v['score']:g}"] for s, v in sections.items()]
                 + [["final (weakest section)", f"{score.get('final', 0):g}"]])
    rows = [[tid, esc(t["title"]), esc(section), f"{t['score']:g}", esc(t["how"])]
            for section, v in sections.items() for tid, t in v["tests"].items()]
    return head + "<details><summary>the 28 tests</summary>" + table(["test", "title", "section", "score", "how"], rows, raw=True) + "</details>"


def approval_rows(approval: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Approval status, approver, date and reason rows (empty when unknown)."""
    if not approval:
        return []
    rows = [("approval status", esc(approval.get("status")))]
    if approval.get("decided_by"):
        rows.append(("approved by" if approval.get("status") == "Approved" else "decided by", esc(approval["decided_by"])))
    if approval.get("decided_at"):
        rows.append(("decided at", esc(approval["decided_at"])))
    if approval.get("reason"):
        rows.append(("reason", esc(approval["reason"])))
    return rows


def evidence_html(evidence: dict[str, Any]) -> str:
    """Tables behind the ML Test Score checks: importance, cost, baselines, staleness, screens, an explained row,
    perturbations."""
    out = []
    importance = (evidence.get("importance") or {}).get("features") or {}
    cost = (evidence.get("feature_cost") or {}).get("features") or {}
    if importance or cost:
        # ties (features without importance) by name: a set's order changes from one process to the next
        names = sorted(set(importance) | set(cost), key=lambda c: (-(importance.get(c, {}).get("mean") or 0), c))
        scoring = (evidence.get("importance") or {}).get("scoring", "")
        rows = [[c, fmt(importance.get(c, {}).get("mean")), fmt(importance.get(c, {}).get("std")),
                 fmt(cost.get(c, {}).get("latency_share")), fmt(cost.get(c, {}).get("bytes_per_row"))] for c in names]
        out.append("<h4>Features: permutation importance and cost</h4>"
                   + table(["feature", f"importance ({scoring}, mean)", "std", "share of predict time", "bytes / row"], rows))
    baselines = evidence.get("baselines")
    if baselines:
        rows = [["candidate", fmt(baselines.get("candidate")), ""]] + [
            [name, fmt(value), f"{baselines['margins'].get(name, 0):+g}"] for name, value in (baselines.get("baselines") or {}).items()]
        out.append(f"<h4>Baselines ({esc(baselines.get('metric'))})</h4>" + table(["model", "score", "required margin"], rows))
    staleness = evidence.get("staleness")
    if staleness:
        metric = staleness.get("metric")
        rows = [[r["age"], r["train_rows"], fmt(r.get(metric))] for r in staleness.get("by_age", [])]
        out.append(f"<h4>Staleness: {esc(metric)} on the newest data by training-window age ({esc(staleness.get('ordered_by'))})</h4>"
                   + table(["age (windows)", "training rows", esc(metric)], rows, raw=True))
    screening = evidence.get("screening")
    if screening:
        out.append("<h4>Training-data screens</h4>" + kv_table([("rows screened", screening.get("rows")),
                                                               ("outlier share", screening.get("outlier_share")),
                                                               ("label-noise share", screening.get("label_noise_share"))]))
    explained = evidence.get("explanation")
    if explained and explained.get("contributions"):
        rows = [[c["feature"], fmt(c.get("value")), f"{c['contribution']:+.4g}"] for c in explained["contributions"]]
        out.append(f"<h4>A held-out row explained (row {esc(explained.get('row'))}): {esc(explained.get('output'))} "
                   f"{explained.get('output_value', 0):.4g} = base {explained.get('base_value', 0):.4g} + contributions</h4>"
                   f"<p class=muted>{esc(explained.get('method'))}: {esc(explained.get('note'))}. Stages: "
                   f"{esc(' → '.join(explained.get('stages') or []))}. Any row: <code>modelway explain MODEL@VERSION --row FILE</code></p>"
                   + table(["feature", "value", "contribution"], rows))
    targeted = evidence.get("targeted_perturbation")
    if targeted:
        rows = [[c, fmt(v)] for c, v in sorted((targeted.get("by_feature") or {}).items(), key=lambda kv: -kv[1])]
        out.append(f"<h4>Targeted perturbations (±{targeted.get('epsilon')} std of each continuous feature)</h4>"
                   + table(["feature", "effect (flip rate or relative move)"], rows))
    return "".join(out)
