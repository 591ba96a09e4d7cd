"""What an auditor reading a report or a card notices: money in its currency and counts with separators,
observed values with units against their limits, the failing column first and highlighted in each failed
check's example rows, hyperparameters as a table, every folded check shown when printed, a card that
links its run report."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelway.evidence_blocks import evidence_html
from modelway.stages.model_card import build_model_card, render_html, render_markdown, write_model_card

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def faulty_report(mw):
    done = mw.run(REPO / "pipelines" / "credit_risk.py", "n_rows=2000", "inject_data_fault=true")
    assert done.code == 1, done.stderr[-2000:]
    return mw.report(done.json()["run_id"])


def _row(html: str, check: str) -> list[str]:
    """The cells of ``check``'s row in a checks table."""
    found = re.search(rf"<tr><td>{re.escape(check)}</td>(.*?)</tr>", html)
    assert found, check
    return re.findall(r"<td>(.*?)</td>", found.group(1))


def test_observed_values_have_units_and_limits(faulty_report):
    result, observed, limit, rows, _ = _row(faulty_report, "quality.missing_rate.annual_income")
    assert "FAIL" in result and re.fullmatch(r"\d\.\d\d? %", observed) and limit == "≤ 0 %" and re.fullmatch(r"\d+", rows)
    _, observed, limit, _, _ = _row(faulty_report, "quality.row_count")                      # a passed, folded check
    assert re.fullmatch(r"2,\d{3} rows", observed) and limit == "200 – 5,000,000 rows"
    _, observed, limit, _, _ = _row(faulty_report, "leakage.target.age")
    assert observed.endswith(" ROC AUC") and limit == "&lt; 0.95 ROC AUC"
    assert re.search(r"<th scope=row>n_rows</th><td>2,000</td>", faulty_report)              # counts with separators


def test_example_rows_put_the_failing_column_first_highlighted_and_money_in_its_currency(faulty_report):
    section = faulty_report.split("Example rows: quality.out_of_range.loan_amount (failing: loan_amount)</h4>", 1)[1]
    table = section.split("</table>", 1)[0]
    headers = re.findall(r"<th(?: class=bad)?>(.*?)</th>", table)
    assert headers[:2] == ["row", "loan_amount ⚠"] and "annual_income (EUR)" in headers
    assert "credit_history_years (years)" in headers and "loan_term_months (months)" in headers
    bad = re.findall(r"<td class='num bad'>(.*?)</td>", table)
    assert len(bad) == 3 and all(re.fullmatch(r"-€\d{1,3}(,\d{3})*\.\d\d", b) for b in bad), bad   # the negative amounts
    incomes = re.findall(r"<td class='num'>(€[\d,.]+)</td>", table)
    assert incomes and all(re.fullmatch(r"€\d{1,3}(,\d{3})*\.\d\d", i) for i in incomes)
    assert "e+0" not in table                                                                    # no scientific notation
    missing = faulty_report.split("Example rows: quality.missing_rate.annual_income (failing: annual_income)</h4>", 1)[1]
    assert missing.split("</table>", 1)[0].count("<td class='bad'>missing</td>") == 3
    ids = re.findall(r"<td class='num'>(\d+)</td>", table)                                       # ids stay as they are
    assert ids


def test_every_check_opens_when_printed(faulty_report):
    assert "<details><summary>" in faulty_report and "details::details-content{content-visibility:visible" in faulty_report
    assert "addEventListener('beforeprint'" in faulty_report


def _card(**extra):
    training = {"estimator": ["encode:ColumnTransformer", "clf:HistGradientBoostingClassifier"],
                "best_params": {"clf__learning_rate": 0.15654768434611416, "clf__max_leaf_nodes": 7, "clf__l2_regularization": 5.0},
                "search": {"strategy": "random", "budget": 4, "trials_run": 4, "cv_folds": 3, "refit": "roc_auc", "seed": 42},
                "cv": {"roc_auc": {"mean": 0.78, "std": 0.001, "folds": [0.779, 0.781]}}}
    return build_model_card(name="credit-risk", task="classification", intended_use="demo", metrics={"roc_auc": 0.78},
                            checks=[{"name": "robustness.latency.single_row_p95", "passed": True, "observed": 49.1653, "limit": 100}],
                            version="1.0.0", run_id="20261203-150000-abcdef", training=training, **extra)


def test_hyperparameters_are_a_table_in_the_card(tmp_path):
    card = _card()
    html, md = render_html(card), render_markdown(card)
    assert "<td>clf</td><td>learning_rate</td><td class=num>0.1565</td>" in html
    assert "<td>clf</td><td>max_leaf_nodes</td><td class=num>7</td>" in html
    assert "encode: ColumnTransformer → clf: HistGradientBoostingClassifier" in html and "<th scope=row>trial budget</th><td>4</td>" in html
    assert "| clf | learning_rate | 0.1565 |" in md and "| stage | hyperparameter (tuned) | value |" in md
    assert "49.17 ms" in html and "≤ 100 ms" in html and "| 49.17 ms | ≤ 100 ms |" in md


def test_the_card_links_its_run_report_where_runs_report_writes_it(tmp_path):
    card = _card()
    home = tmp_path / "home"
    paths = write_model_card(card, home / "registry" / "cards" / "credit-risk" / "1.0.0")
    href = re.search(r"Run report: <a href='([^']+)'>", paths["html"].read_text()).group(1)
    report = home / "reports" / "20261203-150000-abcdef.html"                   # `modelway runs report RUN`'s default path
    assert (paths["html"].parent / href).resolve() == report.resolve()


def test_the_explained_row_is_in_the_evidence():
    html = evidence_html({"explanation": {
        "row": 4020, "method": "shapley", "output": "P(class 1)", "output_value": 0.2048, "base_value": 0.31, "note": "exact",
        "stages": ["input: the row as given", "encode: ColumnTransformer", "clf: HistGradientBoostingClassifier"],
        "contributions": [{"feature": "credit_history_years", "value": 4, "contribution": -0.1684}]}})
    assert "A held-out row explained (row 4020): P(class 1) 0.2048 = base 0.31 + contributions" in html
    assert "<td>credit_history_years</td><td>4</td><td>-0.1684</td>" in html and "modelway explain MODEL@VERSION" in html
