"""Self-contained HTML building blocks (page shell, tables, inline-SVG charts, model card section),
shared by the model card (stages) and the run report (reporting), so it sits below both.

Everything is inline (CSS and SVG), so a report opens from disk or an email attachment
with no network access. Charts are small SVGs drawn here: grouped bars (per-group
fairness metrics, with value labels and the configured gap limit), a DAG of step boxes
coloured by state (scaled to the page, wrapped onto several rows when long, arrowheads on
edges), a confusion-matrix heat table and a residual scatter with axes.

Example:
    >>> "<svg" in bar_chart({"F": {"selection_rate": 0.3}, "M": {"selection_rate": 0.2}}, ["selection_rate"])
    True
"""
from __future__ import annotations

import html
import json
import math
import re
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem;margin-top:2rem}
h3{font-size:1.05rem}h4{font-size:.95rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem;max-width:100%}
th,td{border:1px solid #d9e2ec;padding:.3rem .6rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f0f4f8}table.kv th{background:#f7f9fb;font-weight:600;white-space:nowrap}
.pass{color:#127c3a;font-weight:600}.fail{color:#b3261e;font-weight:700}.warn{color:#8a5a00;font-weight:700}
.badge{display:inline-block;padding:.15rem .55rem;border-radius:.8rem;font-size:.85rem;font-weight:600}
.badge.ok{background:#d3f4dd;color:#127c3a}.badge.bad{background:#fde2e1;color:#b3261e}.badge.wait{background:#fff3c4;color:#7a5b00}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:#f7f9fb;padding:.6rem;overflow:auto;border:1px solid #e4e7eb;white-space:pre-wrap;overflow-wrap:anywhere}
.error{background:#fde2e1;border:1px solid #f5b5b0;border-left:4px solid #b3261e;padding:.6rem .8rem;margin:1rem 0;border-radius:4px}
.error p{margin:.2rem 0;overflow-wrap:anywhere}.error pre{background:#fff;max-height:28rem}
details summary{cursor:pointer;color:#334e68}
svg.chart{display:block;max-width:100%;height:auto}
.muted{color:#627d98}
td.num{text-align:right;white-space:nowrap}td.bad{background:#fde2e1;color:#8e1c16;font-weight:700}
th.bad{background:#f9c9c5}.scroll{overflow-x:auto}
@media print{body{margin:0;max-width:none}details::details-content{content-visibility:visible;display:block}
summary{list-style:none}h2,h3,h4{break-after:avoid}svg,tr{break-inside:avoid}
.scroll{overflow:visible}.scroll table{font-size:.58rem;width:100%}.scroll td,.scroll th{padding:.1rem .15rem}
.scroll td,.scroll th,td:first-child{overflow-wrap:anywhere}.scroll td.num{overflow-wrap:normal}td:first-child{min-width:9rem}}
"""
# Every <details> opens before printing, so print and PDF show every check: the ::details-content rule above
# (Chromium 131+, Firefox 139+) and, for older browsers, this script on the beforeprint event.
PRINT_SCRIPT = ("<script>addEventListener('beforeprint',()=>document.querySelectorAll('details')"
                ".forEach(d=>d.open=true))</script>")

STATE_COLORS = {
    "succeeded": "#d3f4dd", "completed": "#d3f4dd", "cached": "#dbeafe", "failed": "#fde2e1",
    "running": "#fff3c4", "pending": "#eef2f7", "skipped": "#eef2f7", "cancelled": "#eceff1",
}
SERIES_COLORS = ["#2f6fde", "#e07b39", "#3a9d5d", "#b04ac9", "#c9a227", "#5b6b7f"]
# Which per-group rate each fairness disparity is the gap of (the dashed limit line is drawn there).
DISPARITY_RATES = {
    "demographic_parity_difference": ("selection_rate",),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(value: Any) -> str:
    """A cell value for people: counts with thousands separators, other numbers to 4 significant digits.

    Example:
        >>> fmt(20000), fmt(106682.31), fmt(0.029712), fmt(5.0), fmt(None)
        ('20,000', '106,682.31', '0.02971', '5', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return esc(value)
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, (dict, list)):
        return esc(json.dumps(value, default=str))
    return esc(value)


CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
"""Money columns declare an ISO 4217 code as their unit (``pa.Column(..., metadata={"unit": "EUR"})``)."""


def number(value: int | float) -> str:
    """A number with thousands separators; below 1 000, four significant digits.

    Example:
        >>> number(5150), number(2.0), number(12345.678), number(0.000533), number(-40267.73)
        ('5,150', '2', '12,345.68', '0.000533', '-40,267.73')
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"


def with_unit(value: Any, unit: str | None) -> str:
    """``value`` for people in ``unit``: money with its currency, shares as percentages, counts with separators.

    Example:
        >>> with_unit(106682.31, "EUR"), with_unit(-40267.7, "USD"), with_unit(0.02971, "share"), with_unit(5150, "rows")
        ('€106,682.31', '-$40,267.70', '2.97 %', '5,150 rows')
    """
    if value is None:
        return ""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return fmt(value)
    if _is_currency(unit):
        sign, amount = ("-" if value < 0 else ""), f"{abs(value):,.2f}"
        symbol = CURRENCY_SYMBOLS.get(unit)
        return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {unit}"
    if unit == "share":
        return f"{value * 100:.3g} %"
    return f"{number(value)} {esc(unit)}" if unit else number(value)


def _is_currency(unit: str | None) -> bool:
    return bool(unit) and len(unit) == 3 and unit.isalpha() and unit.isupper()  # an ISO 4217 code: EUR, USD...


# What a check's observed value and limit measure, by check name (first match wins): the unit and whether
# the limit is a maximum ("max"), a minimum ("min"), a bound the value must stay under ("below"), an
# allowed range ("range") or an exact value ("equal"). A check not listed shows its figures as plain numbers.
CHECK_QUANTITIES: tuple[tuple[str, str, str], ...] = (
    (r"^quality\.row_count$", "rows", "range"),
    (r"^quality\.(missing_rate|out_of_range)\.", "share", "max"),
    (r"^(quality\.duplicate_rows|leakage\.train_test_overlap)$", "share", "max"),
    (r"^quality\.class_balance$", "share", "min"),
    (r"^leakage\.target\.", "ROC AUC", "below"),
    (r"^schema\.", "rows", "max"),
    (r"^slice\..*\.support$", "test rows", "min"),
    (r"^(quality|slice\..*)\.(mae|rmse|mse|mape|log_loss|brier)$", "", "max"),
    (r"^(quality|slice\..*)\.[a-z0-9_]+$", "", "min"),
    (r"^fairness\.", "", "max"),
    (r"^robustness\.latency\.", "ms", "max"),
    (r"^robustness\.artifact_size$", "MB", "max"),
    (r"^robustness\.(perturbation_stability|targeted_perturbation)$", "share", "max"),
    (r"^data\.screening\.", "share", "max"),
    (r"^reproducibility\.refit$", "predictions changed", "equal"),
    (r"^staleness\.impact$", "", "max"),
    (r"^debug\.explain$", "", "max"),
    (r"^performance\.", "× the previous run", "max"),
)
_LIMIT_WORDS = {"max": "≤ ", "min": "≥ ", "below": "&lt; ", "equal": "= ", "range": ""}  # HTML


def check_quantity(check: dict[str, Any]) -> tuple[str, str]:
    """A check's observed value and limit in words, with units (HTML-escaped).

    Example:
        >>> check_quantity({"name": "quality.missing_rate.annual_income", "observed": 0.02971, "limit": 0.0})
        ('2.97 %', '≤ 0 %')
        >>> check_quantity({"name": "quality.row_count", "observed": 5150, "limit": "[200, 5000000]"})
        ('5,150 rows', '200 – 5,000,000 rows')
        >>> check_quantity({"name": "robustness.latency.single_row_p95", "observed": 49.1653, "limit": 100})
        ('49.17 ms', '≤ 100 ms')
    """
    name = str(check.get("name") or "")
    observed, limit = check.get("observed"), check.get("limit")
    unit, direction = next(((u, d) for pattern, u, d in CHECK_QUANTITIES if re.search(pattern, name)), ("", ""))
    if direction == "range" and isinstance(limit, str):
        bounds = re.findall(r"-?[\d.]+(?:e[-+]?\d+)?", limit)
        if len(bounds) == 2:
            low, high = (float(b) for b in bounds)
            return with_unit(observed, unit), f"{number(low)} – {with_unit(high, unit)}"
    shown_limit = "" if limit is None else (_LIMIT_WORDS.get(direction, "") + with_unit(limit, unit)
                                            if isinstance(limit, (int, float)) and not isinstance(limit, bool) else fmt(limit))
    return with_unit(observed, unit), shown_limit


def page(title: str, body: str) -> str:
    """A complete HTML document with inline CSS."""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{CSS}</style>{PRINT_SCRIPT}</head><body><h1>{esc(title)}</h1>{body}</body></html>\n"
    )


def table(headers: list[str], rows: list[list[Any]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(rows: list[tuple[str, Any]] | list[list[Any]], *, raw: bool = False) -> str:
    """A key/value table with no header row (the keys are the row headers).

    Example:
        >>> "<thead>" in kv_table([("version", "1.0.0")])
        False
    """
    body = "".join(f"<tr><th scope=row>{esc(k)}</th><td>{v if raw else fmt(v)}</td></tr>" for k, v in rows)
    return f"<table class=kv><tbody>{body}</tbody></table>"


def badge(passed: bool | None, text: str | None = None) -> str:
    if passed is None:
        return f"<span class='badge wait'>{esc(text or 'pending')}</span>"
    return f"<span class='badge {'ok' if passed else 'bad'}'>{esc(text or ('passed' if passed else 'FAILED'))}</span>"


def _num(value: Any) -> str:
    # as in the tables: a bound of 1000000 reads "1,000,000", not "1e+06"
    return number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _bounds(args: dict[str, Any]) -> str:
    lo, hi = args.get("min_value"), args.get("max_value")
    inc_lo, inc_hi = args.get("include_min", True), args.get("include_max", True)
    if lo is not None and hi is not None:
        exclusive = "" if inc_lo and inc_hi else " (exclusive)"
        return f"between {_num(lo)} and {_num(hi)}{exclusive}"
    return f"at least {_num(lo)}" if lo is not None else f"at most {_num(hi)}"


_CHECK_WORDS = {
    "in_range": _bounds,
    "greater_than": lambda a: f"greater than {_num(a.get('min_value'))}",
    "greater_than_or_equal_to": lambda a: f"at least {_num(a.get('min_value'))}",
    "less_than": lambda a: f"less than {_num(a.get('max_value'))}",
    "less_than_or_equal_to": lambda a: f"at most {_num(a.get('max_value'))}",
    "equal_to": lambda a: f"equal to {_num(a.get('value'))}",
    "not_equal_to": lambda a: f"not {_num(a.get('value'))}",
    "str_length": _bounds,
}
_CHECK_RE = re.compile(r"\b(" + "|".join(sorted(_CHECK_WORDS, key=len, reverse=True)) + r")(\{[^{}]*\})")
_ISIN_RE = re.compile(r"\b(isin|notin)\((\[[^\]]*\])\)")


def humanize_check(text: Any) -> str:
    """Rewrite pandera's check reprs in a message into words.

    Example:
        >>> humanize_check('outside in_range{"min_value": 18, "max_value": 100, "include_min": true, "include_max": true}')
        'not between 18 and 100'
        >>> humanize_check("3 rows fail isin(['north', 'south'])")
        '3 rows are not one of north, south'
    """
    if text is None:
        return ""

    def words(match: re.Match[str]) -> str:
        try:
            return _CHECK_WORDS[match.group(1)](json.loads(match.group(2)))
        except (ValueError, TypeError):
            return match.group(0)

    def members(match: re.Match[str]) -> str:
        values = re.findall(r"'([^']*)'|\"([^\"]*)\"|([^,\s\[\]]+)", match.group(2))
        flat = [next(v for v in triple if v) if any(triple) else "" for triple in values]
        return ("one of " if match.group(1) == "isin" else "none of ") + ", ".join(flat)

    out = _CHECK_RE.sub(words, str(text))
    out = _ISIN_RE.sub(members, out)
    for inside, outside in (("between", "not between"), ("greater than", "not greater than"), ("at least", "below"),
                            ("at most", "above"), ("less than", "not less than"), ("one of", "not one of")):
        out = out.replace(f"outside {inside} ", f"{outside} ").replace(f"fail {inside} ", f"are {outside} ")
    return out


def checks_table(checks: list[dict[str, Any]], *, fold_passed: bool = False) -> str:
    """Checks with pass/FAIL, observed, limit, rows and message (failed ones first).

    ``fold_passed``: failed checks stay in view; the passing ones go in a collapsed block.
    """
    if fold_passed:
        failed = [c for c in checks if not c.get("passed")]  # advisory warnings stay in view too
        passed = [c for c in checks if c.get("passed")]
        out = checks_table(failed) if failed else ""
        if passed:
            out += (f"<details><summary>{len(passed)} passed check{'s' if len(passed) != 1 else ''}</summary>"
                    f"{checks_table(passed)}</details>")
        return out
    ordered = sorted(checks, key=lambda c: bool(c.get("passed")))
    rows = [[esc(c.get("name")), verdict(c), *check_quantity(c), fmt(c.get("count")), esc(humanize_check(c.get("message")))]
            for c in ordered]
    return table(["check", "result", "observed", "limit", "rows", "detail"], rows, raw=True)


def verdict(check: dict[str, Any]) -> str:
    """pass, warn (an advisory check's finding: reported, not gating) or FAIL, as a coloured label."""
    if check.get("passed"):
        return "<span class=pass>pass</span>"
    return "<span class=warn>warn</span>" if check.get("advisory") else "<span class=fail>FAIL</span>"


def examples_table(examples: list[dict[str, Any]], *, limit: int = 5, failing: tuple[str, ...] | list[str] = (),
                   units: dict[str, str] | None = None, ids: tuple[str, ...] | list[str] = ()) -> str:
    """Example rows (records) as a compact table: ``_row`` (the row index) first, then the ``failing``
    columns, highlighted; numbers for people (money in its currency, per ``units``), ids as they are.

    Example:
        >>> html = examples_table([{"_row": 3, "age": 999, "income": 106682.31}], failing=["age"], units={"income": "EUR"})
        >>> "<th class=bad>age ⚠</th>" in html, "<td class='num bad'>999</td>" in html, "€106,682.31" in html
        (True, True, True)
    """
    rows = [e for e in examples[:limit] if isinstance(e, dict)]
    if not rows:
        return f"<pre>{esc(json.dumps(examples[:limit], default=str))}</pre>" if examples else ""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    bad = [c for c in failing if c in columns]
    columns.sort(key=lambda c: 0 if c == "_row" else 1 if c in bad else 2)  # stable: the rest keep their order
    units = units or {}
    head = "".join(f"<th class=bad>{esc(c)} ⚠</th>" if c in bad else
                   f"<th>{'row' if c == '_row' else esc(c)}{f' ({esc(units[c])})' if c in units else ''}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            money = _is_currency(units.get(c))  # money carries its currency in the cell; other units sit in the header
            text = esc(value) if c == "_row" or c in ids else with_unit(value, units[c]) if numeric and money else fmt(value)
            if value is None and c in bad:
                text = "missing"
            classes = " ".join(x for x in ("num" if numeric else "", "bad" if c in bad else "") if x)
            cells.append(f"<td class='{classes}'>{text}</td>" if classes else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def failing_columns(check: dict[str, Any], columns: list[str] | tuple[str, ...]) -> list[str]:
    """The columns a failed check is about: those its name or its examples' ``column`` field names.

    Example:
        >>> failing_columns({"name": "quality.out_of_range.age"}, ["age", "income"])
        ['age']
    """
    named = [part for part in str(check.get("name") or "").split(".") if part in columns]
    named += [e["column"] for e in check.get("examples") or [] if isinstance(e, dict) and e.get("column") in columns]
    return list(dict.fromkeys(named))


def _svg_open(width: float, height: float, label: str) -> str:
    # viewBox + width 100% (capped at the natural size): the chart scales down to the page, never scrolls
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class=chart viewBox='0 0 {width:.0f} {height:.0f}' width='100%' "
            f"style='max-width:{width:.0f}px' preserveAspectRatio='xMinYMin meet' role='img' aria-label='{esc(label)}'>")


def bar_chart(groups: dict[str, dict[str, float]], metrics: list[str], *, width: int = 760, height: int = 240,
              attribute: str | None = None, limits: dict[str, float] | None = None) -> str:
    """Grouped bars: one cluster per metric, one bar per group, value labels on bars. The axis
    is [0, 1] for rates, else [0, a round number above the largest value].

    ``limits`` maps a metric to the largest allowed gap between groups; a dashed line at
    (lowest group + limit) shows how high the other groups may go.
    """
    names = list(groups)
    if not names or not metrics:
        return ""
    limits = limits or {}
    of = lambda g, m: float(groups[g].get(m, 0.0) or 0.0)  # noqa: E731
    # room for each limit line, drawn at the LOWEST group + the gap (not the highest: that kept a rate chart
    # whose best group is near 1 off its [0, 1] axis)
    peak = max([of(g, m) for g in names for m in metrics]
               + [min(of(g, m) for g in names) + v for m, v in limits.items() if m in metrics])
    if peak <= 1.0:
        y_max, y_ticks = 1.0, [0, 0.25, 0.5, 0.75, 1.0]
    else:
        coarse = _ticks(0.0, peak, 4)
        step = coarse[1] - coarse[0] if len(coarse) > 1 else peak
        y_max = math.ceil(peak * 1.05 / step) * step  # headroom for the value labels
        y_ticks = [round(i * step, 10) for i in range(int(round(y_max / step)) + 1)]
    # 3 significant digits, never in exponent form (an MAE of 25 000 reads "25,000", not "2.5e+04")
    label = (lambda v: f"{v:.2f}") if peak <= 1.0 else (lambda v: number(float(f"{v:.3g}")))  # noqa: E731
    pad_l, pad_b, pad_t = 40, 40, 24
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    cluster = plot_w / len(metrics)
    bar = max(4.0, (cluster - 16) / max(len(names), 1))
    legend_h = 26
    parts = [_svg_open(width, height + legend_h, f"per-group metrics by {attribute or 'group'}")]
    for tick in y_ticks:
        y = pad_t + plot_h * (1 - tick / y_max)
        parts.append(f"<line x1='{pad_l}' x2='{width - 10}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e7eb'/>")
        parts.append(f"<text x='{pad_l - 6}' y='{y + 4:.1f}' font-size='10' text-anchor='end' fill='#627d98'>{tick:g}</text>")
    for i, metric in enumerate(metrics):
        x0 = pad_l + i * cluster + 8
        values = [float(groups[g].get(metric, 0.0) or 0.0) for g in names]
        for j, (group, value) in enumerate(zip(names, values)):
            h = plot_h * max(0.0, min(1.0, value / y_max))
            x = x0 + j * bar
            parts.append(
                f"<rect x='{x:.1f}' y='{pad_t + plot_h - h:.1f}' width='{bar - 2:.1f}' height='{h:.1f}' fill='{SERIES_COLORS[j % len(SERIES_COLORS)]}'>"
                f"<title>{esc(group)} {esc(metric)} = {value:.3f}</title></rect>"
            )
            parts.append(f"<text x='{x + (bar - 2) / 2:.1f}' y='{pad_t + plot_h - h - 3:.1f}' font-size='10' text-anchor='middle' "
                         f"fill='#1f2933'>{label(value)}</text>")
        if metric in limits and values:
            top = min(values) + float(limits[metric])
            if top <= y_max:
                y = pad_t + plot_h * (1 - top / y_max)
                parts.append(f"<line class=limit x1='{x0 - 4:.1f}' x2='{x0 + len(names) * bar + 2:.1f}' y1='{y:.1f}' y2='{y:.1f}' "
                             f"stroke='#b3261e' stroke-width='1.5' stroke-dasharray='5 3'><title>limit: groups may differ by at most "
                             f"{float(limits[metric]):g}</title></line>")
        parts.append(f"<text x='{x0 + (cluster - 16) / 2:.1f}' y='{pad_t + plot_h + 16}' font-size='11' text-anchor='middle'>{esc(metric.replace('_', ' '))}</text>")
    x = pad_l
    if attribute:
        parts.append(f"<text x='{x}' y='{height + 15}' font-size='11' font-weight='600'>{esc(attribute)}:</text>")
        x += 10 + 7 * len(attribute)
    for j, group in enumerate(names):
        parts.append(f"<rect x='{x}' y='{height + 6}' width='10' height='10' fill='{SERIES_COLORS[j % len(SERIES_COLORS)]}'/>")
        parts.append(f"<text x='{x + 14}' y='{height + 15}' font-size='11'>{esc(group)}</text>")
        x += 30 + 7 * len(str(group))
    if limits:
        parts.append(f"<line x1='{x}' x2='{x + 18}' y1='{height + 11}' y2='{height + 11}' stroke='#b3261e' stroke-width='1.5' stroke-dasharray='5 3'/>")
        parts.append(f"<text x='{x + 22}' y='{height + 15}' font-size='11' fill='#b3261e'>lowest group + allowed gap</text>")
    parts.append("</svg>")
    return "".join(parts)


def dag_svg(steps: list[dict[str, Any]], edges: list[tuple[str, str]], *, max_columns: int = 6) -> str:
    """Step boxes in topological layers (left to right), coloured by state, with durations.

    More than ``max_columns`` layers wrap onto further rows (a long chain reads like text);
    the SVG has a viewBox and scales to the page width; edges end in arrowheads.
    """
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
    box_w, box_h, gap_x, gap_y, band_gap = 160, 54, 34, 18, 34
    n_cols = min(len(columns), max_columns)
    band_rows = [0] * (math.ceil(len(columns) / max_columns))
    for col, members in columns.items():
        band_rows[col // max_columns] = max(band_rows[col // max_columns], len(members))
    # an edge that skips a layer arcs over the boxes between: leave room above each band for it
    skips = any(a in layer and b in layer and layer[b] - layer[a] > 1 and layer[a] // max_columns == layer[b] // max_columns
                for a, b in edges)
    arc = 26 if skips else 0
    band_gap += arc
    band_top = [10 + arc]
    for rows in band_rows[:-1]:
        band_top.append(band_top[-1] + rows * (box_h + gap_y) - gap_y + band_gap)
    width = n_cols * (box_w + gap_x) - gap_x + 20
    height = band_top[-1] + band_rows[-1] * (box_h + gap_y) - gap_y + 10
    pos = {}
    for col, members in columns.items():
        band = col // max_columns
        for row, name in enumerate(members):
            pos[name] = (10 + (col % max_columns) * (box_w + gap_x), band_top[band] + row * (box_h + gap_y))
    by_name = {s["name"]: s for s in steps}
    parts = [_svg_open(width, height, "pipeline steps"),
             "<defs><marker id='mw-arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
             "orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#7b8794'/></marker></defs>"]
    for a, b in edges:
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            if x2 > x1 + box_w + gap_x and y1 == y2:  # skips a column: arc over the boxes in between
                span = round((x2 - x1) / (box_w + gap_x))
                sx, ex, top = x1 + box_w / 2 + 8, x2 + box_w / 2 - 8, y1 - min(arc + 4, 10 + 8 * span)  # longer, higher
                d = f"M{sx},{y1} C{sx},{top} {ex},{top} {ex},{y2 - 1}"
            elif x2 > x1:  # same row band: left to right
                sx, sy, ex, ey = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
                mid = (sx + ex) / 2
                d = f"M{sx},{sy} C{mid},{sy} {mid},{ey} {ex - 1},{ey}"
            else:  # wrapped onto the next band: leave from the bottom, enter from the top
                sx, sy, ex, ey = x1 + box_w / 2, y1 + box_h, x2 + box_w / 2, y2
                d = f"M{sx},{sy} C{sx},{sy + band_gap} {ex},{ey - band_gap} {ex},{ey - 1}"
            parts.append(f"<path d='{d}' fill='none' stroke='#9aa5b1' stroke-width='1.5' marker-end='url(#mw-arrow)'/>")
    for name, (x, y) in pos.items():
        step = by_name[name]
        state = str(step.get("status", "pending")).lower()
        if step.get("cached"):
            state_label, color = "cached", STATE_COLORS["cached"]
        else:
            state_label, color = state, STATE_COLORS.get(state, "#eef2f7")
        duration = step.get("duration_s")
        dur = f"{duration:.2f} s" if isinstance(duration, (int, float)) else ""
        label = name if len(name) <= 20 else name[:19] + "…"
        stroke = "#b3261e" if state == "failed" else "#627d98"
        parts.append(f"<g><title>{esc(name)}: {esc(state_label)} {esc(dur)}</title>"
                     f"<rect x='{x}' y='{y}' width='{box_w}' height='{box_h}' rx='8' fill='{color}' stroke='{stroke}'/>")
        parts.append(f"<text x='{x + 10}' y='{y + 21}' font-size='13' font-weight='600'>{esc(label)}</text>")
        parts.append(f"<text x='{x + 10}' y='{y + 40}' font-size='11' fill='#334e68'>{esc(state_label)} {esc(dur)}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def class_names(labels: list[Any], names: dict[str, str] | list[str] | None = None) -> list[str]:
    """Display names for confusion-matrix classes: the pipeline's names when known, else
    ``negative (0)`` / ``positive (1)`` for a 0/1 label, else the raw labels.

    Example:
        >>> class_names([0, 1])
        ['negative (0)', 'positive (1)']
    """
    if isinstance(names, list) and len(names) == len(labels):
        return [f"{n} ({l})" for n, l in zip(names, labels)]
    if isinstance(names, dict):
        return [f"{names[str(l)]} ({l})" if str(l) in names else str(l) for l in labels]
    if [str(l) for l in labels] == ["0", "1"]:
        return ["negative (0)", "positive (1)"]
    return [str(l) for l in labels]


def confusion_matrix_html(cm: dict[str, Any] | None, names: dict[str, str] | list[str] | None = None) -> str:
    """A heat-shaded confusion matrix table (rows: actual class, columns: predicted class)."""
    if not cm:
        return ""
    labels, matrix = cm["labels"], cm["matrix"]
    shown = class_names(labels, names or cm.get("class_names"))
    peak = max((max(r) for r in matrix), default=1) or 1
    head = (f"<tr><td rowspan=2 colspan=2></td><th colspan={len(labels)} style='text-align:center'>predicted</th></tr>"
            "<tr>" + "".join(f"<th>{esc(l)}</th>" for l in shown) + "</tr>")
    rows = []
    for i, (label, row) in enumerate(zip(shown, matrix)):
        axis = f"<th rowspan={len(labels)} style='vertical-align:middle'>actual</th>" if i == 0 else ""
        cells = "".join(
            f"<td style='background:rgba(47,111,222,{0.1 + 0.8 * v / peak:.2f});text-align:right;min-width:5rem'>{v}</td>" for v in row
        )
        rows.append(f"<tr>{axis}<th>{esc(label)}</th>{cells}</tr>")
    return f"<table class=confusion>{head}{''.join(rows)}</table>"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 10) for i in range(int((hi - start) / step) + 1)]


def residual_svg(y_true: list[float], y_pred: list[float], *, width: int = 560, height: int = 300) -> str:
    """Residuals (actual - predicted) against predictions, with ticks and axis titles."""
    if not y_true:
        return ""
    res = [t - p for t, p in zip(y_true, y_pred)]
    x_lo, x_hi = min(y_pred), max(y_pred)
    margin = 0.04 * ((x_hi - x_lo) or 1.0)  # keep points off the frame
    x_lo, x_hi = x_lo - margin, x_hi + margin
    r_abs = 1.08 * (max(abs(r) for r in res) or 1.0)
    left, right, top, bottom = 58, 16, 14, 44
    pw, ph = width - left - right, height - top - bottom
    sx = lambda v: left + pw * ((v - x_lo) / ((x_hi - x_lo) or 1))  # noqa: E731
    sy = lambda r: top + ph / 2 - (ph / 2) * (r / r_abs)  # noqa: E731
    parts = [_svg_open(width, height, "residual plot"),
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#d9e2ec'/>"]
    for t in _ticks(-r_abs, r_abs):
        y = sy(t)
        parts.append(f"<line x1='{left - 4}' x2='{left + pw}' y1='{y:.1f}' y2='{y:.1f}' stroke='{'#9aa5b1' if t == 0 else '#eef2f7'}'/>")
        parts.append(f"<text x='{left - 7}' y='{y + 3.5:.1f}' font-size='10' text-anchor='end' fill='#627d98'>{t:g}</text>")
    for t in _ticks(x_lo, x_hi):
        x = sx(t)
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top + ph}' y2='{top + ph + 4}' stroke='#9aa5b1'/>")
        parts.append(f"<text x='{x:.1f}' y='{top + ph + 16}' font-size='10' text-anchor='middle' fill='#627d98'>{t:g}</text>")
    for p, r in zip(y_pred, res):
        parts.append(f"<circle cx='{sx(p):.1f}' cy='{sy(r):.1f}' r='2.5' fill='#2f6fde' fill-opacity='0.6'/>")
    parts.append(f"<text x='{left + pw / 2}' y='{height - 6}' font-size='11' text-anchor='middle'>predicted value</text>")
    parts.append(f"<text transform='translate(14 {top + ph / 2}) rotate(-90)' font-size='11' text-anchor='middle'>"
                 "residual (actual − predicted)</text></svg>")
    return "".join(parts)


def fairness_limits(checks: list[dict[str, Any]]) -> dict[str, float]:
    """Per-rate gap limits from the fairness checks (e.g. selection_rate -> 0.1 from the DPD check)."""
    out: dict[str, float] = {}
    for check in checks:
        name = str(check.get("name") or "")
        for disparity, rates in DISPARITY_RATES.items():
            if name.endswith("." + disparity) and isinstance(check.get("limit"), (int, float)):
                out.update({r: float(check["limit"]) for r in rates})
    return out


def fairness_section(fairness: dict[str, Any] | None, checks: list[dict[str, Any]] | None = None, *, level: str = "h3",
                     overall: dict[str, Any] | None = None) -> str:
    """The per-group fairness chart (with limits), the per-group table and the disparity figures."""
    if not fairness:
        return ""
    groups = fairness.get("by_group", {})
    attribute = fairness.get("sensitive")
    names = sorted({m for g in groups.values() for m in g})
    out = [f"<{level}>Fairness by {esc(attribute)}</{level}>"]
    rate_metrics = [m for m in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy") if m in names]
    if rate_metrics:
        out.append(bar_chart(groups, rate_metrics, attribute=attribute, limits=fairness_limits(checks or [])))
    elif "mae" in names:  # regression: the MAE gap limit is relative to the overall MAE
        gap = next((c.get("limit") for c in checks or [] if str(c.get("name", "")).endswith(".relative_mae_gap")), None)
        mae = (overall or {}).get("mae")
        limits = {"mae": float(gap) * float(mae)} if isinstance(gap, (int, float)) and isinstance(mae, (int, float)) else None
        out.append(bar_chart(groups, ["mae"], width=420, attribute=attribute, limits=limits))
    out.append(table([f"group ({attribute})"] + names, [[g] + [m.get(n) for n in names] for g, m in groups.items()]))
    limit_of = {str(c.get("name", "")).rsplit(".", 1)[-1]: c for c in (checks or [])}
    figures = []
    for key in ("demographic_parity_difference", "equalized_odds_difference", "max_relative_mae_gap"):
        if key in fairness:
            check = limit_of.get(key) or limit_of.get(key.replace("max_", ""))
            verdict = "" if check is None else ("<span class=pass>pass</span>" if check.get("passed") else "<span class=fail>FAIL</span>")
            figures.append([esc(key.replace("_", " ")), fmt(fairness[key]), fmt(None if check is None else check.get("limit")), verdict])
    if figures:
        out.append(table(["disparity", "value", "limit", "result"], figures, raw=True))
    return "".join(out)


def hyperparameters_html(training: dict[str, Any]) -> str:
    """The estimator's stages, the tuned hyperparameters as a table (one row each), and how they were searched.

    Example:
        >>> html = hyperparameters_html({"estimator": ["scale:StandardScaler", "ridge:Ridge"], "best_params": {"ridge__alpha": 3.0},
        ...                              "search": {"strategy": "grid", "budget": 5, "trials_run": 5, "cv_folds": 5}})
        >>> "<td>ridge</td><td>alpha</td><td class=num>3</td>" in html, "scale: StandardScaler → ridge: Ridge" in html
        (True, True)
    """
    out = []
    estimator = training.get("estimator")
    if estimator:
        stages = estimator if isinstance(estimator, list) else [estimator]
        out.append(f"<p>Estimator: <code>{esc(' → '.join(str(s).replace(':', ': ', 1) for s in stages))}</code></p>")
    params = training.get("best_params") or {}
    if params:
        rows = []
        for key, value in params.items():
            stage, _, name = str(key).rpartition("__")
            shown = number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else esc(value)
            rows.append(f"<tr><td>{esc(stage or '-')}</td><td>{esc(name)}</td><td class=num>{shown}</td></tr>")
        out.append("<h4>Hyperparameters (tuned)</h4><table><thead><tr><th>stage</th><th>parameter</th><th>value</th></tr></thead>"
                   f"<tbody>{''.join(rows)}</tbody></table>")
    search = training.get("search") or {}
    if search:
        labels = {"strategy": "strategy", "budget": "trial budget", "trials_run": "trials run", "cv_folds": "CV folds",
                  "refit": "chosen by", "seed": "seed", "best_index": "best trial (index)"}
        out.append("<h4>Search</h4>" + kv_table([(labels.get(k, k), v) for k, v in search.items()]))
    return "".join(out)


def gates_text(card: dict[str, Any]) -> str:
    """'all passed' or 'N of M FAILED': the gate outcome the card was built with."""
    checks = card.get("checks") or []
    failed = [c for c in checks if not c.get("passed") and not c.get("advisory")]
    warned = sum(1 for c in checks if not c.get("passed") and c.get("advisory"))
    note = f" ({warned} advisory warning{'s' if warned != 1 else ''})" if warned else ""
    return (f"all {len(checks)} passed" if not failed else f"{len(failed)} of {len(checks)} FAILED") + note


def approval_hint(card: dict[str, Any]) -> str:
    """Where to see the live approval status (it changes after the card is written)."""
    target = " ".join(x for x in (card.get("name"), card.get("version")) if x)
    return f"modelway models show {target}"


def card_section(card: dict[str, Any], *, registry: dict[str, Any] | None = None, embedded: bool = False) -> str:
    """The model card as HTML.

    ``registry`` is the version's live registry record (status, approver...), rendered at
    view time; without it the card points to ``modelway models show``. ``embedded=True``
    (inside a run report) leaves out metrics, confusion matrix, fairness and checks, which
    the report already shows.
    """
    passed = card.get("passed")
    meta = [f"task {esc(card.get('task'))}", f"run {esc(card.get('run_id'))}",
            f"commit {esc((card.get('code_commit') or '')[:12])}", f"created {esc(card.get('created_at'))}"]
    if card.get("owner"):
        meta.append(f"owner {esc(card['owner'])}")
    out = [f"<p>{badge(passed, 'gates: ' + gates_text(card))} <span class=muted>{' · '.join(meta)}</span></p>"]
    rows: list[tuple[str, str]] = []
    if card.get("version"):
        rows.append(("version", esc(card["version"])))
    if card.get("environment"):
        rows.append(("environment", esc(card["environment"])))
    if card.get("artifact_sha256"):
        rows.append(("artifact sha256", f"<code>{esc(card['artifact_sha256'])}</code>"))
    approval = card.get("approval")  # written into the card's files when a decision is made (registry)
    if approval and not registry:
        rows.append(("approval", f"{badge({'Approved': True, 'Rejected': False}.get(approval.get('status')), approval.get('status'))}"
                                 f" by {esc(approval.get('decided_by') or '-')} at {esc(approval.get('decided_at') or '-')}"
                                 + (f": {esc(approval['reason'])}" if approval.get("reason") else "")
                                 + f"; live: <code>{esc(approval_hint(card))}</code>"))
    elif registry:
        status = registry.get("status")
        rows.append(("approval", f"{badge({'Approved': True, 'Rejected': False}.get(status), status)} as of this page; "
                                 f"live: <code>{esc(approval_hint(card))}</code>"))
    elif card.get("version"):
        rows.append(("approval", f"see <code>{esc(approval_hint(card))}</code> (the status changes after this card was written)"))
    if rows and not embedded:  # inside a run report, "Registered model" shows these (live)
        out.append(kv_table(rows, raw=True))
    out.append(f"<h3>Intended use</h3><p>{esc(card.get('intended_use'))}</p>")
    if card.get("limitations"):
        out.append("<h3>Limitations</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in card["limitations"]) + "</ul>")
    if card.get("data_versions"):
        out.append("<h3>Data</h3>" + table(["dataset", "version"], [[k, v] for k, v in card["data_versions"].items()]))
    if card.get("features"):
        out.append(f"<h3>Features</h3><p>{', '.join(f'<code>{esc(f)}</code>' for f in card['features'])}</p>")
    training = card.get("training") or {}
    if training and not embedded:
        cv = [[f"CV {m}", f"{s['mean']:.4f} ± {s['std']:.4f} ({len(s.get('folds', []))} folds)"] for m, s in (training.get("cv") or {}).items()]
        out.append("<h3>Training</h3>" + hyperparameters_html(training) + (kv_table(cv) if cv else ""))
    if embedded:
        return "".join(out)
    out.append("<h3>Test metrics</h3>" + table(["metric", "value"], [[k, v] for k, v in card.get("metrics", {}).items()]))
    if card.get("confusion_matrix"):
        out.append("<h3>Confusion matrix</h3>" + confusion_matrix_html(card["confusion_matrix"], card.get("class_names")))
    if card.get("slices"):
        names = sorted({m for metrics in card["slices"].values() for m in metrics})
        out.append("<h3>Metrics per slice</h3>" + table(["slice"] + names, [[s] + [m.get(n) for n in names] for s, m in card["slices"].items()]))
    out.append(fairness_section(card.get("fairness"), card.get("checks"), overall=card.get("metrics")))
    out.append("<h3>Checks</h3>" + checks_table(card.get("checks", [])))
    return "".join(out)
