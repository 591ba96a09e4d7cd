"""The HTML blocks of the run report and the model card, as a reader sees them: every block rendered
from fixed inputs chosen to take each branch (pass and FAIL, empty and many rows, truncation,
negative and positive values, missing optional fields) and compared with
``golden/html_blocks.html``; plus the facts a golden file cannot explain by itself: figures in
words, chart geometry (points inside the plot, in the data's order, on the right scale) and the
escaping of user text.

Regenerate after an intended change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/test_html_blocks_golden.py``.
"""
from __future__ import annotations

import re

import pytest

from modelway import html_blocks as hb
from tests.reporting.golden_html import assert_matches_golden

CHECKS = [
    {"name": "quality.row_count", "passed": True, "observed": 5150, "limit": "[200, 5000000]", "count": None, "message": None},
    {"name": "quality.missing_rate.income", "passed": False, "observed": 0.02971, "limit": 0.0, "count": 153,
     "message": "153 rows fail in_range{\"min_value\": 0, \"max_value\": 1000000, \"include_min\": true, \"include_max\": true}"},
    {"name": "fairness.sex.demographic_parity_difference", "passed": False, "observed": 0.14, "limit": 0.1},
    {"name": "slice.region=south.support", "passed": False, "advisory": True, "observed": 12, "limit": 50},
    {"name": "robustness.latency.single_row_p95", "passed": True, "observed": 49.1653, "limit": 100},
]
CARD = {
    "name": "credit", "version": "1.2.0", "task": "classification", "run_id": "20261126-150000-ab12cd",
    "code_commit": "0123456789abcdef0123", "created_at": "2026-11-26T15:00:00+00:00", "owner": "ana <ops>",
    "environment": "staging", "artifact_sha256": "ab" * 32, "intended_use": "Rank applications for <review>.",
    "limitations": ["trained on 2019-2024 data", "not for <b>minors</b>"], "data_versions": {"credit": "v3", "bureau": "2026-11"},
    "features": ["age", "income"], "passed": False,
    "training": {"estimator": ["scale:StandardScaler", "clf:LogisticRegression"], "best_params": {"clf__C": 0.5},
                 "search": {"strategy": "grid", "budget": 4}, "cv": {"roc_auc": {"mean": 0.81234, "std": 0.01234, "folds": [0.8, 0.82]}}},
    "metrics": {"roc_auc": 0.8123, "accuracy": 0.75},
    "confusion_matrix": {"labels": [0, 1], "matrix": [[50, 10], [5, 35]]},
    "slices": {"region=north": {"roc_auc": 0.8, "n": 120}, "region=south": {"roc_auc": 0.7}},
    "fairness": {"sensitive": "sex", "by_group": {"F": {"selection_rate": 0.3, "accuracy": 0.7}, "M": {"selection_rate": 0.44, "accuracy": 0.8}},
                 "demographic_parity_difference": 0.14},
    "checks": CHECKS,
}


def _cases() -> dict[str, str]:
    """Every block, from inputs that take each branch (the golden file shows them in this order)."""
    groups = {"F": {"selection_rate": 0.3, "true_positive_rate": 0.62}, "M": {"selection_rate": 0.45, "true_positive_rate": 0.7},
              "X": {"selection_rate": None}}
    many = {f"g{i}": {"mae": 1000.0 * (i + 1)} for i in range(7)}  # 7 groups: the colours wrap round
    wrapped = [{"name": f"s{i}", "status": "succeeded", "duration_s": i + 0.5} for i in range(8)]
    branching = [{"name": "load", "status": "succeeded", "duration_s": 1.234},
                 {"name": "featurize_everything_in_the_table", "status": "succeeded", "cached": True, "duration_s": 0},
                 {"name": "train", "status": "FAILED", "duration_s": None}, {"name": "audit", "status": "running"},
                 {"name": "report", "status": "weird"}]
    examples = [{"_row": i, "customer_id": 1000 + i, "age": -3 if i % 2 else None, "income": 106682.31 * (i - 2),
                 "ok": i % 2 == 0, "height": 1.8} for i in range(7)]
    return {
        "page": hb.page("Run <1>", "<p>body</p>"),
        "table": hb.table(["a<", "b"], [[1, 2.5], ["<x>", None], [{"k": [1]}, True]]),
        "table_raw": hb.table(["a"], [["<b>bold</b>"]], raw=True),
        "kv_table": hb.kv_table([("k<", 20000), ("n", None)]) + hb.kv_table([["raw", "<i>x</i>"]], raw=True),
        "badges": hb.badge(True) + hb.badge(False) + hb.badge(None) + hb.badge(True, "ok <1>") + hb.badge(None, "wait"),
        "checks_table": hb.checks_table(CHECKS),
        "checks_table_folded": hb.checks_table(CHECKS, fold_passed=True),
        "checks_table_folded_one_passed": hb.checks_table(CHECKS[:2], fold_passed=True),
        "checks_table_folded_all_passed": hb.checks_table([CHECKS[0]], fold_passed=True),
        "checks_table_empty": hb.checks_table([]),
        "examples_table": hb.examples_table(examples, failing=("age", "nope"), units={"income": "EUR", "height": "m"},
                                            ids=["customer_id"]),
        "examples_table_limit": hb.examples_table(examples, limit=2),
        # the row index leads even when a record lists it after the failing column; it is an index, not a count
        "examples_table_row_last": hb.examples_table([{"age": 999, "_row": 12345}], failing=["age"]),
        "examples_table_not_records": hb.examples_table(["a", 1, None, "b", "c", "dropped"]),
        "examples_table_empty": hb.examples_table([]),
        "bar_chart_rates": hb.bar_chart(groups, ["selection_rate", "true_positive_rate"], attribute="sex",
                                        limits={"selection_rate": 0.1, "true_positive_rate": 0.9, "other": 5.0}),
        "bar_chart_many_groups": hb.bar_chart(many, ["mae"], width=420, limits={"mae": 500.0}),
        "bar_chart_one_group_no_attribute": hb.bar_chart({"all": {"mae": 12.0}}, ["mae"]),
        "bar_chart_crowded": hb.bar_chart({f"g{i}": {"accuracy": i / 40} for i in range(40)}, ["accuracy"], width=200),  # bars 4 px wide
        "bar_chart_between_1_and_2": hb.bar_chart({"a": {"mae": 1.2}, "b": {"mae": 1.6}}, ["mae"]),
        # the limit line (lowest + gap = 15) sits above every bar: the axis makes room for it
        "bar_chart_limit_above_bars": hb.bar_chart({"a": {"mae": 10.0}, "b": {"mae": 11.0}}, ["mae"], limits={"mae": 5.0}),
        "bar_chart_empty": hb.bar_chart({}, ["mae"]) + hb.bar_chart({"a": {}}, []),
        "dag_empty": hb.dag_svg([], []),
        "dag_branching": hb.dag_svg(branching, [("load", "featurize_everything_in_the_table"), ("load", "train"),
                                                ("train", "audit"), ("load", "audit"), ("audit", "report"), ("ghost", "report"),
                                                ("ghost", "load")]),  # edges from unknown steps are left out
        # s1 -> s4 skips a layer but crosses into the next band: no arc room above the bands
        "dag_wrapped_chain": hb.dag_svg(wrapped, [(f"s{i}", f"s{i + 1}") for i in range(7)] + [("s1", "s4")], max_columns=3),
        "dag_states": hb.dag_svg([{"name": s, "status": s} for s in ("completed", "cancelled", "pending", "skipped")]
                                 + [{"name": "no status"}, {"name": "twenty_characters_ab"}, {"name": "twenty_one_characters"}], []),
        "dag_seven_layers": hb.dag_svg(wrapped[:7], [(f"s{i}", f"s{i + 1}") for i in range(6)]),  # 6 columns by default
        # a skip edge from a later layer (s1 -> s3) in the first of two bands: arc room above both bands
        "dag_skip_edge_later_wrapped": hb.dag_svg(wrapped[:6], [(f"s{i}", f"s{i + 1}") for i in range(5)] + [("s1", "s3")],
                                                  max_columns=4),
        "dag_skip_edge": hb.dag_svg(wrapped[:4], [("s0", "s1"), ("s1", "s2"), ("s2", "s3"), ("s0", "s2"), ("s0", "s3")]),
        "confusion_binary": hb.confusion_matrix_html(CARD["confusion_matrix"]),
        "confusion_named": hb.confusion_matrix_html({"labels": ["a", "b", "c"], "matrix": [[3, 0, 1], [0, 4, 0], [2, 0, 5]],
                                                     "class_names": ["cat", "dog", "<eel>"]}),
        "confusion_zero": hb.confusion_matrix_html({"labels": [0, 1], "matrix": [[0, 0], [0, 0]]}, {"1": "yes"}),
        "confusion_none": hb.confusion_matrix_html(None),
        "residuals": hb.residual_svg([10.0, 12.0, 30.0, 41.0], [11.0, 15.0, 26.0, 40.0]),
        "residuals_flat": hb.residual_svg([1.0, 1.0], [1.0, 1.0], width=300, height=200),
        "residuals_empty": hb.residual_svg([], []),
        "fairness_classification": hb.fairness_section(
            CARD["fairness"] | {"equalized_odds_difference": 0.2, "by_group": {
                "F": {"selection_rate": 0.3, "true_positive_rate": 0.6, "false_positive_rate": 0.1, "accuracy": 0.7},
                "M": {"selection_rate": 0.44, "true_positive_rate": 0.8, "false_positive_rate": 0.3, "accuracy": 0.8}}},
            CHECKS + [{"name": "equalized_odds_difference", "passed": True, "limit": 0.25}]),  # a check name without a prefix
        "fairness_regression": hb.fairness_section(
            {"sensitive": "region", "by_group": {"north": {"mae": 10.5}, "south": {"mae": 14.0}}, "max_relative_mae_gap": 0.33},
            [{"name": "fairness.region.relative_mae_gap", "passed": False, "limit": 0.2}], level="h2", overall={"mae": 12.0}),
        "fairness_regression_no_limit": hb.fairness_section(
            {"sensitive": "region", "by_group": {"north": {"mae": 10.5}}, "max_relative_mae_gap": 0.1}, None, overall=None),
        "fairness_regression_no_overall_mae": hb.fairness_section(  # a gap limit but no overall MAE: no limit line
            {"sensitive": "region", "by_group": {"north": {"mae": 10.5}}}, [{"name": "fairness.region.relative_mae_gap", "limit": 0.2}]),
        "fairness_other_metrics": hb.fairness_section({"sensitive": "age", "by_group": {"young": {"count": 3}}}),
        "fairness_none": hb.fairness_section(None) + hb.fairness_section({}),
        "hyperparameters": hb.hyperparameters_html({"estimator": "ridge:linear:Ridge", "best_params": {"alpha": 3.0, "a__b__fit": True,
                                                                                              "m__kind": "<l1>", "m__n": 20000},
                                                    "search": {"strategy": "random", "budget": 10, "trials_run": 7, "cv_folds": 5,
                                                               "refit": "roc_auc", "seed": 1, "best_index": 3, "other": "x"}}),
        "hyperparameters_empty": hb.hyperparameters_html({}),
        "card_full": hb.card_section(CARD | {"approval": {"status": "Rejected", "decided_by": "bo", "decided_at": "2026-11-27",
                                                          "reason": "gap <too> big"}}),
        "card_approved_no_detail": hb.card_section(CARD | {"approval": {"status": "Approved"}, "owner": None, "training": {}}),
        "card_registry": hb.card_section(CARD | {"approval": {"status": "Approved"}}, registry={"status": "Pending"}),
        "card_registry_approved": hb.card_section(CARD, registry={"status": "Approved"}),
        "card_version_only": hb.card_section({k: v for k, v in CARD.items() if k not in ("environment", "artifact_sha256")}),
        "card_registry_rejected": hb.card_section(CARD, registry={"status": "Rejected"}),
        "card_regression": hb.card_section({
            "task": "regression", "intended_use": "x", "passed": True, "training": {"estimator": "ridge:Ridge"}, "metrics": {"mae": 12.0},
            "confusion_matrix": {"labels": [0, 1], "matrix": [[1, 2], [3, 4]]}, "class_names": ["no", "yes"],
            "fairness": {"sensitive": "region", "by_group": {"n": {"mae": 10.0}, "s": {"mae": 13.0}}},
            "checks": [{"name": "fairness.region.relative_mae_gap", "passed": True, "limit": 0.2}]}),  # gap line at 10 + 0.2 x 12
        "card_embedded": hb.card_section(CARD, embedded=True),
        "card_minimal": hb.card_section({"task": "regression", "intended_use": "demo", "passed": True, "checks": [],
                                         "training": {"search": {"seed": 2}, "cv": {"r2": {"mean": 0.5, "std": 0.1}}}}),
    }


def test_blocks_match_the_golden_file() -> None:
    assert_matches_golden("html_blocks.html", _cases())


# --- figures in words: each unit, each direction, both sides of each threshold ---

@pytest.mark.parametrize("value, shown", [
    (5150, "5,150"), (-7, "-7"), (2.0, "2"), (-2.0, "-2"), (999.5, "999.5"), (1000.5, "1,000.50"), (-1234.567, "-1,234.57"),
    (0.000533, "0.000533"), (0.123456, "0.1235"), (1e15 + 0.0, "1,000,000,000,000,000.00"), (999999999999999.0, "999,999,999,999,999"),
    (float("inf"), "inf"), (float("nan"), "nan"), (10**15, "1,000,000,000,000,000"), (-(10**16), "-10,000,000,000,000,000"),
])
def test_number(value, shown) -> None:
    assert hb.number(value) == shown


@pytest.mark.parametrize("value, shown", [
    (None, ""), (True, "True"), (3, "3"), (0.5, "0.5"), ("<a>", "&lt;a&gt;"), ({"a": [1, "<"]}, "{&quot;a&quot;: [1, &quot;&lt;&quot;]}"),
    ([1, 2], "[1, 2]"),
])
def test_fmt(value, shown) -> None:
    assert hb.fmt(value) == shown


@pytest.mark.parametrize("value, unit, shown", [
    (None, "EUR", ""), ("n/a", "EUR", "n/a"), (True, "EUR", "True"), (106682.31, "EUR", "€106,682.31"), (-40267.7, "USD", "-$40,267.70"),
    (5, "GBP", "£5.00"), (0, "JPY", "¥0.00"), (12.5, "CHF", "12.50 CHF"), (-12.5, "CHF", "-12.50 CHF"), (12.5, "eur", "12.5 eur"),
    (12.5, "EURO", "12.5 EURO"), (12.5, "E1R", "12.5 E1R"), (0.02971, "share", "2.97 %"), (1, "share", "100 %"),
    (5150, "rows", "5,150 rows"), (5150, "<u>", "5,150 &lt;u&gt;"), (5150, "", "5,150"), (5150, None, "5,150"),
])
def test_with_unit(value, unit, shown) -> None:
    assert hb.with_unit(value, unit) == shown


@pytest.mark.parametrize("name, observed, limit, shown", [
    ("quality.row_count", 5150, "[200, 5000000]", ("5,150 rows", "200 – 5,000,000 rows")),
    ("quality.row_count", 5150, "[1e3, 2.5e+06]", ("5,150 rows", "1,000 – 2,500,000 rows")),
    ("quality.row_count", 5150, "[-5, 10]", ("5,150 rows", "-5 – 10 rows")),
    ("quality.row_count", 5150, "at least 200", ("5,150 rows", "at least 200")),
    ("quality.row_count", 5150, "[1, 2, 3]", ("5,150 rows", "[1, 2, 3]")),
    ("quality.row_count", 5150, 200, ("5,150 rows", "200 rows")),
    ("quality.missing_rate.age", 0.02971, 0.0, ("2.97 %", "≤ 0 %")),
    ("quality.out_of_range.age", 0.5, 0.1, ("50 %", "≤ 10 %")),
    ("quality.duplicate_rows", 0.01, 0.05, ("1 %", "≤ 5 %")),
    ("leakage.train_test_overlap", 0.01, 0.05, ("1 %", "≤ 5 %")),
    ("quality.class_balance", 0.2, 0.05, ("20 %", "≥ 5 %")),
    ("leakage.target.age", 0.71, 0.95, ("0.71 ROC AUC", "&lt; 0.95 ROC AUC")),
    ("schema.columns", 3, 0, ("3 rows", "≤ 0 rows")),
    ("slice.region=north.support", 120, 50, ("120 test rows", "≥ 50 test rows")),
    ("quality.rmse", 1.5, 2, ("1.5", "≤ 2")),
    ("slice.region=north.log_loss", 0.4, 0.5, ("0.4", "≤ 0.5")),
    ("quality.roc_auc", 0.81, 0.7, ("0.81", "≥ 0.7")),
    ("slice.a.b.accuracy", 0.81, 0.7, ("0.81", "≥ 0.7")),
    ("fairness.sex.demographic_parity_difference", 0.14, 0.1, ("0.14", "≤ 0.1")),
    ("robustness.latency.single_row_p95", 49.1653, 100, ("49.17 ms", "≤ 100 ms")),
    ("robustness.artifact_size", 1.5, 50, ("1.5 MB", "≤ 50 MB")),
    ("robustness.perturbation_stability", 0.02, 0.05, ("2 %", "≤ 5 %")),
    ("robustness.targeted_perturbation", 0.02, 0.05, ("2 %", "≤ 5 %")),
    ("data.screening.outliers", 0.02, 0.05, ("2 %", "≤ 5 %")),
    ("reproducibility.refit", 0, 0, ("0 predictions changed", "= 0 predictions changed")),
    ("staleness.impact", 0.01, 0.02, ("0.01", "≤ 0.02")),
    ("debug.explain", 0.001, 0.01, ("0.001", "≤ 0.01")),
    ("performance.train.duration", 1.2, 2, ("1.2 × the previous run", "≤ 2 × the previous run")),
    ("custom.thing", 0.5, 1, ("0.5", "1")),
    ("custom.thing", 0.5, None, ("0.5", "")),
    ("custom.thing", 0.5, True, ("0.5", "True")),
    ("quality.missing_rate.age", 0.5, True, ("50 %", "True")),
    (None, 0.5, "<x>", ("0.5", "&lt;x&gt;")),
    ("prefix.quality.row_count", 7, "[1, 2]", ("7", "[1, 2]")),  # patterns are anchored: not a row count
])
def test_check_quantity(name, observed, limit, shown) -> None:
    assert hb.check_quantity({"name": name, "observed": observed, "limit": limit}) == shown


@pytest.mark.parametrize("text, words", [
    (None, ""),
    ('outside in_range{"min_value": 18, "max_value": 100, "include_min": true, "include_max": true}', "not between 18 and 100"),
    ('x in_range{"min_value": 0.5, "max_value": 1, "include_min": false, "include_max": true}', "x between 0.5 and 1 (exclusive)"),
    ('x in_range{"min_value": 0, "max_value": 1, "include_min": true, "include_max": false}', "x between 0 and 1 (exclusive)"),
    ('x in_range{"min_value": 0, "max_value": 1}', "x between 0 and 1"),
    ('x in_range{"min_value": 0.25, "max_value": 1000000}', "x between 0.25 and 1,000,000"),  # no exponent form
    ('x in_range{"min_value": true, "max_value": 2.0}', "x between True and 2"),
    ('outside in_range{"min_value": 18} ', "below 18 "),
    ('2 rows fail in_range{"max_value": 9} now', "2 rows are above 9 now"),
    ('fail greater_than{"min_value": 3} ', "are not greater than 3 "),
    ('fail greater_than_or_equal_to{"min_value": 3} ', "are below 3 "),
    ('outside less_than{"max_value": 3} ', "not less than 3 "),
    ('less_than_or_equal_to{"max_value": "a"}', "at most a"),
    ('equal_to{"value": 2}', "equal to 2"), ('not_equal_to{"value": 2.5}', "not 2.5"),
    ('str_length{"min_value": 1, "max_value": 5}', "between 1 and 5"),
    ('in_range{not json}', 'in_range{not json}'), ('in_range{"min_value": "a", "max_value": 2}', 'between a and 2'),
    ('in_range{"min_value": [1], "max_value": 2}', 'between [1] and 2'),
    ("3 rows fail isin(['north', \"so uth\", 7, ''])", "3 rows are not one of north, so uth, 7, "),
    ("outside notin(['a'])", "outside none of a"), ("outside isin(['a']) ", "not one of a "),
    ("misin(['a'])", "misin(['a'])"),
])
def test_humanize_check(text, words) -> None:
    assert hb.humanize_check(text) == words


def test_class_names() -> None:
    assert hb.class_names([0, 1]) == ["negative (0)", "positive (1)"]
    assert hb.class_names(["0", "1"]) == ["negative (0)", "positive (1)"]
    assert hb.class_names([1, 0]) == ["1", "0"]
    assert hb.class_names([0, 1], ["no", "yes"]) == ["no (0)", "yes (1)"]
    assert hb.class_names([0, 1], ["only one"]) == ["negative (0)", "positive (1)"]
    assert hb.class_names([0, 1, 2], {"2": "two", "0": "zero"}) == ["zero (0)", "1", "two (2)"]


def test_failing_columns_and_gates_text() -> None:
    check = {"name": "quality.out_of_range.age.income", "examples": [{"column": "income"}, {"column": "zip"}, "x", {"column": "id"}]}
    assert hb.failing_columns(check, ["income", "age", "id"]) == ["age", "income", "id"]
    assert hb.failing_columns({"name": None}, ["age"]) == []
    assert hb.gates_text({}) == "all 0 passed"
    assert hb.gates_text({"checks": CHECKS}) == "2 of 5 FAILED (1 advisory warning)"
    assert hb.gates_text({"checks": [CHECKS[3], CHECKS[3], CHECKS[0]]}) == "all 3 passed (2 advisory warnings)"
    assert hb.gates_text({"checks": [{"passed": True, "advisory": True}]}) == "all 1 passed"  # a passed advisory check warns of nothing
    assert hb.approval_hint({"name": "m", "version": "1.0.0"}) == "modelway models show m 1.0.0"
    assert hb.approval_hint({"name": "m"}) == "modelway models show m"
    assert hb.fairness_limits([{"name": "fairness.sex.equalized_odds_difference", "limit": 0.2},
                               {"name": "fairness.sex.demographic_parity_difference", "limit": 1},
                               {"name": "x.demographic_parity_difference", "limit": "0.5"},
                               {"name": "demographic_parity_difference", "limit": 0.7}]) == {
        "true_positive_rate": 0.2, "false_positive_rate": 0.2, "selection_rate": 1.0}


@pytest.mark.parametrize("lo, hi, n, ticks", [
    (0.0, 1.0, 4, [0, 0.25, 0.5, 0.75, 1.0]), (0.0, 1.0, 5, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (-1.08, 1.08, 5, [-1, -0.5, 0, 0.5, 1]),
    (0.0, 7.0, 5, [0, 2, 4, 6]), (3.0, 3.0, 5, [3.0]), (5.0, 1.0, 5, [5.0]), (0.0, 0.9, 5, [0, 0.2, 0.4, 0.6, 0.8]),
    (0.0, 12.0, 4, [0, 5, 10]), (0.0, 12.0, None, [0, 2.5, 5, 7.5, 10]), (0.0, 5.0, None, [0, 1, 2, 3, 4, 5]), (0.0, 95.0, 5, [0, 20, 40, 60, 80]), (0.0, 1000.0, 4, [0, 250, 500, 750, 1000]),
])
def test_ticks_are_round_and_cover_the_range(lo, hi, n, ticks) -> None:
    assert (hb._ticks(lo, hi) if n is None else hb._ticks(lo, hi, n)) == ticks  # None: the default, about 5


# --- chart geometry: what a golden of a wrong picture would hide ---

def _floats(svg: str, tag: str, attr: str) -> list[float]:
    return [float(v) for v in re.findall(rf"<{tag}\b[^>]*?\b{attr}='(-?[\d.]+)'", svg)]


def test_residual_points_lie_inside_the_plot_in_data_order() -> None:
    svg = hb.residual_svg([10.0, 12.0, 30.0, 41.0], [11.0, 15.0, 26.0, 40.0])
    xs, ys = _floats(svg, "circle", "cx"), _floats(svg, "circle", "cy")
    left, top, pw, ph = 58, 14, 560 - 58 - 16, 300 - 14 - 44
    assert all(left < x < left + pw for x in xs) and all(top < y < top + ph for y in ys)
    assert xs == sorted(xs) and xs[0] < left + pw * 0.1 and xs[-1] > left + pw * 0.9  # spread over the axis, low to high
    residuals = [-1.0, -3.0, 4.0, 1.0]  # above the zero line is positive; the largest sits near the frame
    zero = top + ph / 2
    assert [y < zero for y in ys] == [r > 0 for r in residuals]
    assert sorted(range(4), key=lambda i: ys[i]) == sorted(range(4), key=lambda i: -residuals[i])
    assert abs((zero - ys[2]) - ph / 2 / 1.08) < 0.2  # |largest residual| = the half-height / 1.08 headroom
    assert f"y1='{zero:.1f}' y2='{zero:.1f}' stroke='#9aa5b1'" in svg  # the zero line is the dark one
    assert "predicted value" in svg and "residual (actual − predicted)" in svg


def test_bar_heights_are_proportional_and_the_limit_sits_above_the_lowest_group() -> None:
    svg = hb.bar_chart({"F": {"selection_rate": 0.3}, "M": {"selection_rate": 0.45}}, ["selection_rate"], limits={"selection_rate": 0.1})
    heights, ys = _floats(svg, "rect", "height")[:2], _floats(svg, "rect", "y")[:2]
    plot_h, pad_t = 240 - 40 - 24, 24
    assert heights == [round(plot_h * 0.3, 1), round(plot_h * 0.45, 1)]  # axis [0, 1] for rates
    assert [y + h for y, h in zip(ys, heights)] == [pad_t + plot_h] * 2  # bars stand on the axis
    limit_y = float(re.search(r"class=limit[^>]*y1='([\d.]+)'", svg).group(1))
    assert limit_y == round(pad_t + plot_h * (1 - 0.4), 1)  # 0.3 + 0.1
    assert ">0.30<" in svg and ">0.45<" in svg


def test_bar_chart_axis_above_one_is_a_round_number_with_headroom() -> None:
    svg = hb.bar_chart({"a": {"mae": 12.0}, "b": {"mae": 3.0}}, ["mae"])
    ticks = [float(t) for t in re.findall(r"text-anchor='end' fill='#627d98'>([\d.]+)<", svg)]
    assert ticks == [0, 5, 10, 15]  # 12 * 1.05 rounded up to the tick step
    heights = _floats(svg, "rect", "height")[:2]
    assert heights == [round(176 * 12 / 15, 1), round(176 * 3 / 15, 1)]
    assert ">12<" in svg and ">3<" in svg  # 3 significant digits above 1


def test_a_rate_chart_keeps_its_0_to_1_axis_when_the_best_group_is_near_1() -> None:
    # the limit line sits at the lowest group + the gap (0.9 + 0.1): the axis must hold that, not 0.95 + 0.1
    svg = hb.bar_chart({"F": {"true_positive_rate": 0.9}, "M": {"true_positive_rate": 0.95}}, ["true_positive_rate"],
                       limits={"true_positive_rate": 0.1})
    ticks = re.findall(r"text-anchor='end' fill='#627d98'>([\d.]+)<", svg)
    assert ticks == ["0", "0.25", "0.5", "0.75", "1"]
    assert float(re.search(r"class=limit[^>]*y1='([\d.]+)'", svg).group(1)) == 24.0  # at 1.0: the top of the plot
    assert ">0.90<" in svg and ">0.95<" in svg


def test_bar_labels_of_large_values_are_not_in_exponent_form() -> None:
    svg = hb.bar_chart({"north": {"mae": 25432.1}, "south": {"mae": 1234.5}, "east": {"mae": 10.5}}, ["mae"])
    labels = re.findall(r"fill='#1f2933'>([^<]*)<", svg)
    assert labels == ["25,400", "1,230", "10.5"]


def test_dag_boxes_do_not_overlap_and_wrap_onto_rows() -> None:
    steps = [{"name": f"s{i}", "status": "succeeded"} for i in range(8)]
    svg = hb.dag_svg(steps, [(f"s{i}", f"s{i + 1}") for i in range(7)], max_columns=3)
    boxes = list(zip(_floats(svg, "rect", "x"), _floats(svg, "rect", "y")))
    assert len(boxes) == 8
    assert [x for x, _ in boxes] == [10, 204, 398] * 2 + [10, 204]  # box 160 + gap 34, left to right
    rows = sorted({y for _, y in boxes})
    assert len(rows) == 3 and [y for _, y in boxes] == [rows[0]] * 3 + [rows[1]] * 3 + [rows[2]] * 2
    width, height = (float(v) for v in re.search(r"viewBox='0 0 (\d+) (\d+)'", svg).groups())
    assert all(x + 160 <= width and y + 54 <= height for x, y in boxes)


def test_user_text_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    out = "".join([
        hb.table([evil], [[evil]]), hb.kv_table([(evil, evil)]), hb.checks_table([{"name": evil, "message": evil, "passed": False}]),
        hb.examples_table([{evil: evil, "_row": evil}], failing=[evil], units={evil: evil}),
        hb.bar_chart({evil: {evil: 0.5}}, [evil], attribute=evil), hb.dag_svg([{"name": evil, "status": evil}], []),
        hb.confusion_matrix_html({"labels": [evil, "b"], "matrix": [[1, 2], [3, 4]]}),
        hb.fairness_section({"sensitive": evil, "by_group": {evil: {"selection_rate": 0.5}}}),
        hb.hyperparameters_html({"estimator": evil, "best_params": {evil: evil}, "search": {evil: evil}}),
        hb.card_section({"name": evil, "version": evil, "intended_use": evil, "limitations": [evil], "features": [evil],
                         "task": evil, "owner": evil, "checks": [], "approval": {"status": evil, "reason": evil}}),
    ])
    assert "<script>" not in out and "&lt;script&gt;" in out
