"""The evidence a reviewer checks (curves, intervals, ML Test Score, feature tables, approval rows), rendered
from fixed inputs that take each branch and compared with ``golden/evidence_blocks.html``; plus the
geometry of the curves (every point inside the frame, where the data puts it) and the order of rows.

Regenerate after an intended change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/test_evidence_blocks_golden.py``.
"""
from __future__ import annotations

import re

from modelway import evidence_blocks as eb
from tests.reporting.golden_html import assert_matches_golden

CURVES = {
    "roc": {"fpr": [0.0, 0.1, 0.4, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0], "auc": 0.8567},
    "pr": {"recall": [0.0, 0.5, 1.0], "precision": [1.0, 0.8, 0.3], "average_precision": 0.7123, "prevalence": 0.3},
    "calibration": {"mean_predicted": [0.1, 0.5, 0.9], "fraction_positive": [0.05, 0.55, 0.8], "brier": 0.1456},
    "score_distribution": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "positive": [1, 2, 3, 4], "negative": [8, 4, 2, 0]},
}
SCORE = {"final": 2.5, "sections": {
    "data": {"score": 3.5, "tests": {"Data1": {"title": "Feature expectations <schema>", "score": 1, "how": "validated"},
                                     "Data2": {"title": "Feature benefit", "score": 0.5, "how": "manual"}}},
    "model": {"score": 2.5, "tests": {"Model1": {"title": "Spec reviewed", "score": 0, "how": "not covered"}}}}}
EVIDENCE = {
    "importance": {"scoring": "roc_auc", "features": {"age": {"mean": 0.02, "std": 0.004}, "income": {"mean": 0.11, "std": 0.01},
                                                     "zip": {"mean": None, "std": None}}},
    "feature_cost": {"features": {"income": {"latency_share": 0.4, "bytes_per_row": 8}, "photo": {"latency_share": 0.5, "bytes_per_row": 20000}}},
    "baselines": {"metric": "roc_auc", "candidate": 0.81, "baselines": {"majority": 0.5, "logistic": 0.78}, "margins": {"majority": 0.05}},
    "staleness": {"metric": "roc_auc", "ordered_by": "<date>", "by_age": [{"age": 0, "train_rows": 1000, "roc_auc": 0.8},
                                                                          {"age": 2, "train_rows": 800}]},
    "screening": {"rows": 5150, "outlier_share": 0.012, "label_noise_share": 0.0},
    "explanation": {"row": 17, "output": "probability", "output_value": 0.73456, "base_value": 0.31, "method": "linear",
                    "note": "exact for a linear model", "stages": ["scale", "clf"],
                    "contributions": [{"feature": "income", "value": 52000.5, "contribution": 0.4}, {"feature": "age", "contribution": -0.02}]},
    "targeted_perturbation": {"epsilon": 0.1, "by_feature": {"age": 0.01, "income": 0.2, "zip": 0.05}},
}


def _cases() -> dict[str, str]:
    return {
        "curves_all": eb.curves_html(CURVES),
        "curves_roc_only": eb.curves_html({"roc": CURVES["roc"]}),
        "curves_none": eb.curves_html({}),
        "line_svg_two_series": eb.line_svg("Two <lines>", [("a", [0, 0.5, 1], [0, 0.25, 1]), ("b", [0, 1], [1, 0]), ("c", [0], [0]),
                                                           ("d", [0], [0]), ("e", [0.5], [0.5])],
                                           x_label="x <in>", y_label="y", width=300, height=200),
        "histogram_empty_class": eb.histogram_svg("Scores", [0.0, 0.5, 1.0], {"positive": [3, 1], "negative": [0, 0]}),
        "histogram_nothing_counted": eb.histogram_svg("None yet", [0.0, 1.0], {"positive": [0], "negative": []}),
        "intervals": eb.intervals_html(
            {"roc_auc": 0.8123, "accuracy": 0.75},
            {"overall": {"roc_auc": {"low": 0.78912, "high": 0.83456, "resamples": 200}, "brier": {"low": 0.1, "high": 0.2, "resamples": 200}},
             "slices": {"north": {"low": 0.7, "high": 0.9}, "south": {"low": 0.5, "high": 0.95}, "<east>": {"low": 0.6, "high": 0.8}}},
            {"north": {"n": 120}, "south": {"n": 12}}, 50),
        "intervals_no_min_support": eb.intervals_html({}, {"slices": {"south": {"low": 0.5, "high": 0.95}}}, {"south": {"n": 12}}),
        "intervals_at_min_support": eb.intervals_html({}, {"slices": {"south": {"low": 0.5, "high": 0.95}}}, {"south": {"n": 50}}, 50),
        "intervals_none": eb.intervals_html({}, {}),
        "ml_test_score": eb.ml_test_score_html(SCORE),
        "ml_test_score_no_final": eb.ml_test_score_html({"sections": {}}),
        "evidence_all": eb.evidence_html(EVIDENCE),
        "evidence_cost_only": eb.evidence_html({"feature_cost": EVIDENCE["feature_cost"],
                                                "explanation": {"contributions": [{"feature": "a", "contribution": 1}]}}),
        "evidence_none": eb.evidence_html({}) + eb.evidence_html({"explanation": {"contributions": []}, "importance": {}}),
    }


def test_blocks_match_the_golden_file() -> None:
    assert_matches_golden("evidence_blocks.html", _cases())


def test_approval_rows() -> None:
    assert eb.approval_rows(None) == [] and eb.approval_rows({}) == []
    assert eb.approval_rows({"status": "Approved", "decided_by": "ana <a>", "decided_at": "2026-11-27", "reason": "ok & fine"}) == [
        ("approval status", "Approved"), ("approved by", "ana &lt;a&gt;"), ("decided at", "2026-11-27"), ("reason", "ok &amp; fine")]
    assert eb.approval_rows({"status": "Rejected", "decided_by": "bo"}) == [("approval status", "Rejected"), ("decided by", "bo")]
    assert eb.approval_rows({"status": "Pending"}) == [("approval status", "Pending")]


def _points(svg: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in pts.split()] for pts in re.findall(r"points='([^']*)'", svg)]


def test_curve_points_lie_in_the_frame_where_the_data_puts_them() -> None:
    svg = eb.line_svg("ROC", [("m", CURVES["roc"]["fpr"], CURVES["roc"]["tpr"])], x_label="fpr", y_label="tpr", diagonal=True)
    left, top, pw, ph = 46, 22, 360 - 46 - 12, 300 - 22 - 44
    (points,) = _points(svg)
    assert points[0] == (left, top + ph) and points[-1] == (left + pw, top)  # (0, 0) bottom left, (1, 1) top right
    assert points[1] == (round(left + pw * 0.1, 1), round(top + ph * 0.4, 1))
    assert f"<line x1='{left}' y1='{top + ph}' x2='{left + pw}' y2='{top}'" in svg  # the chance diagonal, same corners
    assert "diagonal" not in svg and "stroke-dasharray" in svg
    assert "stroke-dasharray" not in eb.line_svg("PR", [("m", [0, 1], [1, 0])], x_label="r", y_label="p")


def test_histogram_bars_are_shares_of_each_class_scaled_to_the_tallest() -> None:
    svg = eb.histogram_svg("S", [0.0, 0.5, 1.0], {"positive": [3, 1], "negative": [1, 1]})
    ph, top = 300 - 22 - 44, 22
    heights = [float(h) for h in re.findall(r"height='([\d.]+)' fill='#", svg)]
    assert heights == [ph, round(ph / 3, 1), round(ph * 2 / 3, 1), round(ph * 2 / 3, 1)]  # 0.75 is the tallest share
    xs = [float(x) for x in re.findall(r"<rect x='([\d.]+)' y='[\d.]+' width='151.0'", svg)]
    assert xs == [46.0, 197.0, 46.0, 197.0]
    assert all(float(y) >= top for y in re.findall(r"<rect x='[\d.]+' y='([\d.]+)' width='151.0'", svg))


def test_feature_rows_follow_importance_and_perturbations_their_effect() -> None:
    out = eb.evidence_html(EVIDENCE)
    assert re.findall(r"<tr><td>(\w+)</td>", out)[:4] == ["income", "age", "photo", "zip"]  # most important first, ties by name
    assert out.index("<td>income</td><td>0.2</td>") < out.index("<td>zip</td><td>0.05</td>") < out.index("<td>age</td><td>0.01</td>")


def test_features_of_equal_importance_keep_one_order_from_run_to_run() -> None:
    names = [f"f{i}" for i in range(10)]  # none measured: all tie at 0 (a set's order would change with the hash seed)
    out = eb.evidence_html({"feature_cost": {"features": {n: {"bytes_per_row": 8} for n in reversed(names)}}})
    assert re.findall(r"<tr><td>(f\d)</td>", out) == names
