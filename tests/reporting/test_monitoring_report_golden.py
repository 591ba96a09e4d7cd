"""The monitoring page and the run report's monitoring section, from a fixed history (times, values and
alerts set by the test), compared with ``golden/monitoring_report.html``; plus the sparkline's scale
and what :func:`monitoring_history` reads back from a home.

Regenerate after an intended change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/test_monitoring_report_golden.py``.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from modelway.monitoring import report as mr
from modelway.monitoring.base import Metric
from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink
from tests.reporting.golden_html import assert_matches_golden

T0 = 1764158400.0  # 2025-11-26 12:00:00 UTC
HOUR = 3600.0


def _history() -> dict:
    """What monitoring_history returns for three passes: one feature drifting, one not, one never measured."""
    return {
        "model": "credit<1>", "passes": 3, "first": T0, "last": T0 + 2 * HOUR,
        "features": {
            "income": {"psi": [(T0, 0.05, "1"), (T0 + HOUR, 0.31, "1"), (T0 + 2 * HOUR, 0.27, "2")],
                       "p_value": [(T0, 0.5, "1"), (T0 + HOUR, 0.02, "1"), (T0 + 2 * HOUR, 0.000123, "2")],
                       "missing": [(T0 + 2 * HOUR, 0.0153, "2")],
                       "drifted": [(T0, 1.0, "1"), (T0 + HOUR, 0.0, "1"), (T0 + 2 * HOUR, 1.0, "2")]},  # the LATEST verdict counts
            "age": {"psi": [(T0, 0.01, "1"), (T0 + HOUR, 0.4, "1")], "p_value": [], "missing": [],
                    "drifted": [(T0, 0.0, "1"), (T0 + HOUR, 0.0, "1")]},
            "<zip>": {"psi": [(T0, 0.02, "1")], "p_value": [], "missing": [], "drifted": []},
            "a-never": {"psi": [], "p_value": [(T0, 0.3, "1")], "missing": [], "drifted": []},  # sorted before the others: skipped, not the end
        },
        "series": {"quality.rejected_share": [(T0, 0.01, "1"), (T0 + HOUR, 0.125, "1")],
                   "performance.accuracy": [(T0, 0.91, "1"), (T0 + HOUR, 0.9051, "1")],
                   "drift.features_drifted": [(T0, 0.0, "1"), (T0 + HOUR, 2.0, "1")], "drift.prediction_psi": [(T0, 0.0123, "1")]},
        "alerts": [{"ts": T0 + HOUR, "severity": "warning", "kind": "drift", "message": "income drifted <PSI 0.31>"},
                   {"ts": T0 + 2 * HOUR + 59, "severity": "critical", "kind": "quality", "message": "12.5% rejected"}],
    }


def _feature(name: str, *, psi: float, drifted: bool = False, breach: bool = False, p: float | None = None, reasons=()) -> SimpleNamespace:
    return SimpleNamespace(name=name, kind="numeric", psi=psi, test="ks", p_value=p, missing_rate=0.0153, drifted=drifted,
                           quality_breach=breach, reasons=list(reasons))


def _home_with_history(home: Path) -> None:
    sink = SqliteMetricsSink(home)
    sink.put([Metric("drift.psi", v, {"model": "credit", "feature": "income", "version": "1"}, T0 + i * HOUR)
              for i, v in enumerate([0.05, 0.31, 0.27])]
             + [Metric("drift.psi", 0.9, {"model": "other", "feature": "income"}, T0)])
    alerter = LogAlerter(home)
    with sqlite3.connect(alerter.path) as db:  # alerts at fixed times (send() stamps the current time)
        db.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?)",
                       [(T0 + i * 60, "warning", "drift", "credit", f"alert {i} <x>", "{}", None) for i in range(52)]
                       + [(T0, "critical", "drift", "other", "not this model", "{}", None)])


def _report(drift: SimpleNamespace | None) -> SimpleNamespace:
    return SimpleNamespace(model="credit", version="1.2.0<b>", source="s3://logs/<day>", window_s=3619, rows=5150,  # 1.01 h
                           quality={"scored": 5000, "rejected": 150, "rejected_share": 0.0291}, staleness={"age_days": 12},
                           drift=drift)


def _cases(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    _home_with_history(home)
    features = {"income": _feature("income", psi=0.2712, drifted=True, p=0.000123, reasons=["PSI 0.27 > 0.2", "KS p < 0.01"]),
                "age": _feature("age<", psi=0.01, breach=True, reasons=["missing 5% > 1%", "3 values out of range"]),
                "zip": _feature("zip", psi=0.0, p=0.5)}
    page = mr.write_monitoring_page(home, _report(SimpleNamespace(features=features)), tmp_path / "out" / "page.html")
    empty = mr.write_monitoring_page(tmp_path / "empty", SimpleNamespace(model="m", version="1", source="x", window_s=3600, rows=0,
                                                                          quality={}, staleness={}, drift=None), tmp_path / "empty.html")
    return {
        "sparkline": mr._sparkline([0.01, 0.02, 0.3], 0.2),
        "sparkline_below_threshold": mr._sparkline([0.5, 0.1], 1.0, width=100, height=20),
        "sparkline_one_point": mr._sparkline([0.3], 0.2),
        "sparkline_all_zero": mr._sparkline([0.0, 0.0], 0.0),
        "sparkline_empty": mr._sparkline([], 0.2),
        "section": mr.monitoring_section(_history()),
        "section_h3_threshold": mr.monitoring_section(_history() | {"features": {}, "alerts": [], "series": {}}, threshold=0.1, level="h3"),
        "section_none": mr.monitoring_section(None) + mr.monitoring_section({}),
        "page": page.read_text(),
        "page_no_drift": empty.read_text(),
    }


def test_monitoring_html_matches_the_golden_file(tmp_path: Path) -> None:
    assert_matches_golden("monitoring_report.html", _cases(tmp_path))


def test_sparkline_scale_puts_the_threshold_line_and_points_where_the_values_are() -> None:
    svg = mr._sparkline([0.0, 0.11, 0.22], 0.2, width=200, height=40)
    top = 0.22 * 1.1
    points = [tuple(map(float, p.split(","))) for p in re.search(r'points="([^"]*)"', svg).group(1).split()]
    assert points == [(0.0, 40.0), (100.0, round(40 - 0.11 / top * 40, 1)), (200.0, round(40 - 0.22 / top * 40, 1))]
    assert all(0 <= y <= 40 for _, y in points) and points[2][1] > 0  # 10% headroom above the highest value
    y = float(re.search(r'y1="([\d.]+)"', svg).group(1))
    assert y == round(40 - 0.2 / top * 40, 1) and points[2][1] < y < points[1][1]  # 0.11 < threshold 0.2 < 0.22
    assert 'x2="200"' in svg and 'viewBox="0 0 200 40"' in svg


def test_monitoring_history_reads_one_model_and_creates_nothing(tmp_path: Path) -> None:
    assert mr.monitoring_history(tmp_path / "none", "credit") is None
    assert not (tmp_path / "none").exists()  # reading never creates a home
    home = tmp_path / "home"
    _home_with_history(home)
    assert mr.monitoring_history(home, "credit") is None  # metrics, but no monitor pass recorded
    SqliteMetricsSink(home).put([Metric("monitor.alerts", n, {"model": "credit"}, T0 + i * HOUR) for i, n in enumerate([0, 2, 1])]
                                + [Metric("drift.drifted", 1.0, {"model": "credit", "feature": "income", "version": "1"}, T0),
                                   Metric("drift.p_value", 0.01, {"model": "credit"}, T0),
                                   Metric("quality.missing_rate", 0.02, {"model": "credit", "feature": "age"}, T0 + 5),
                                   Metric("performance.accuracy", 0.9, {"model": "credit", "version": "1"}, T0)])
    history = mr.monitoring_history(home, "credit")
    alerts = history.pop("alerts")
    assert len(alerts) == 50 and alerts[0]["message"] == "alert 2 <x>" and alerts[-1]["message"] == "alert 51 <x>"  # the last 50
    assert history == {
        "model": "credit", "passes": 3, "first": T0, "last": T0 + 2 * HOUR,
        "features": {"income": {"psi": [(T0, 0.05, "1"), (T0 + HOUR, 0.31, "1"), (T0 + 2 * HOUR, 0.27, "1")], "p_value": [],
                                "missing": [], "drifted": [(T0, 1.0, "1")]},
                     "?": {"psi": [], "p_value": [(T0, 0.01, None)], "missing": [], "drifted": []},
                     "age": {"psi": [], "p_value": [], "missing": [(T0 + 5, 0.02, None)], "drifted": []}},
        "series": {"quality.rejected_share": [], "performance.accuracy": [(T0, 0.9, "1")], "drift.features_drifted": [],
                   "drift.prediction_psi": []},
    }
