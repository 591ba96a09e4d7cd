"""Pins on the gate reports every model and data gate returns (``modelway.stages.gates``).

Fast on purpose (no model is trained): ``make mutate`` runs this file once per mutant of
``stages/gates.py``. What a user relies on: a gate passes exactly when no gating check failed
(an advisory finding is a warning, never a failure), the step fails with a message naming
every failed check, and the report's JSON, Markdown and one-line summary say what was
observed against which limit.
"""
from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.runtime.errors import StepFailed
from modelway.stages.gates import CheckResult, GateFailed, GateReport, _jsonable

QUICK = settings(max_examples=60, deadline=None)


def _report(*checks: CheckResult, gate: str = "model tests") -> GateReport:
    return GateReport(gate, list(checks))


# --- the pass/fail decision ------------------------------------------------------------------
@QUICK
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=6))
def test_a_gate_passes_exactly_when_no_gating_check_failed(flags: list[tuple[bool, bool]]) -> None:
    checks = [CheckResult(f"c{i}", passed, "why", advisory=advisory) for i, (passed, advisory) in enumerate(flags)]
    report = _report(*checks)
    gating_failures = [c for c in checks if not c.passed and not c.advisory]
    advisory_findings = [c for c in checks if not c.passed and c.advisory]
    assert report.passed is (not gating_failures)
    assert report.failed == gating_failures  # every one, in order
    assert report.warnings == advisory_findings
    assert report.to_dict()["passed"] is report.passed
    if gating_failures:
        with pytest.raises(GateFailed) as caught:
            report.raise_if_failed()
        assert caught.value.report is report
        for check in gating_failures:
            assert f"  - {check.name}: why" in str(caught.value)
        assert all(f"- {c.name}:" not in str(caught.value) for c in advisory_findings)
    else:
        assert report.raise_if_failed() is None


def test_an_empty_gate_passes() -> None:
    report = _report(gate="data validation")
    assert report.passed and report.failed == [] and report.warnings == []
    assert report.summary() == "data validation passed: 0 checks"


def test_a_failed_advisory_check_is_a_warning_not_a_failure() -> None:
    report = _report(CheckResult("ok", True, "fine"), CheckResult("drift.psi", False, "0.3 > 0.2", advisory=True))
    report.raise_if_failed()  # does not raise
    assert report.summary() == "model tests passed: 2 checks (1 advisory warning(s): drift.psi)"
    assert report.to_markdown().splitlines()[0] == "## model tests: PASSED"
    assert "| drift.psi | warn (advisory) |" in report.to_markdown()


def test_every_advisory_warning_is_named() -> None:
    report = _report(CheckResult("drift.psi", False, "m", advisory=True), CheckResult("ok", True, "m"),
                     CheckResult("drift.ks", False, "m", advisory=True))
    assert report.summary() == "model tests passed: 3 checks (2 advisory warning(s): drift.psi, drift.ks)"


def test_a_report_built_with_its_name_only_is_an_empty_passing_gate() -> None:
    report, other = GateReport("data validation"), GateReport("model tests")
    assert (report.checks, report.context, report.passed) == ([], {}, True)
    assert report.to_dict() == {"gate": "data validation", "passed": True, "summary": "data validation passed: 0 checks",
                                "checks": [], "context": {}}
    report.extend([CheckResult("a", False, "m")])
    report.context["seed"] = 1
    assert (other.checks, other.context) == ([], {})  # each report its own list and dict


def test_a_passed_advisory_check_is_not_a_warning() -> None:
    report = _report(CheckResult("drift.psi", True, "0.1", advisory=True))
    assert report.warnings == []
    assert report.summary() == "model tests passed: 1 checks"


def test_gate_failed_is_a_deliberate_step_failure_that_survives_a_process_boundary() -> None:
    report = _report(CheckResult("quality.auc", False, "AUC 0.61 < 0.70", observed=0.61, limit=0.7))
    with pytest.raises(GateFailed) as caught:
        report.raise_if_failed()
    assert isinstance(caught.value, StepFailed)  # the runner shows it without a traceback
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is GateFailed
    assert str(copy) == str(caught.value) == report.details()
    assert copy.report.to_dict() == report.to_dict()


# --- what the report says ---------------------------------------------------------------------
def test_summary_names_every_failed_check_with_its_rows_or_its_value_against_the_limit() -> None:
    report = _report(
        CheckResult("quality.rows", True, "fine"),
        CheckResult("nulls.age", False, "3 nulls", count=3),
        CheckResult("quality.auc", False, "low", observed=0.61234, limit=0.7),
        CheckResult("latency.p95", False, "slow", observed=12, limit=10),
        CheckResult("schema", False, "mismatch", observed="a", limit="b"),
        CheckResult("drift", False, "advisory", advisory=True),
    )
    assert report.summary() == ("model tests FAILED: 4 of 6 checks failed: nulls.age (3 rows), "
                                "quality.auc (0.6123, limit 0.7), latency.p95 (12, limit 10), schema")


def test_summary_brief_without_a_row_count_or_numbers() -> None:
    # count 0: no rows to speak of, so the numbers are shown; one side not a number: nothing
    both = _report(CheckResult("a", False, "m", observed=2.5, limit=1, count=0))
    assert both.summary() == "model tests FAILED: 1 of 1 checks failed: a (2.5, limit 1)"
    for observed, limit in ((2.5, None), (None, 1), ("2.5", 1), (2.5, "1")):
        one = _report(CheckResult("a", False, "m", observed=observed, limit=limit))
        assert one.summary() == "model tests FAILED: 1 of 1 checks failed: a", (observed, limit)


def test_details_lists_each_failed_check_with_its_message_and_two_examples_at_most() -> None:
    long_row = {"text": "x" * 300}
    report = _report(
        CheckResult("ok", True, "fine", examples=[{"never": "shown"}]),
        CheckResult("nulls.age", False, "3 nulls", count=3,
                    examples=[{"id": 1, "at": dt.date(2026, 1, 2)}, long_row, {"id": 3}]),
        CheckResult("drift", False, "advisory", advisory=True, examples=[{"id": 9}]),
        CheckResult("quality.auc", False, "AUC low"),
    )
    assert report.details().splitlines() == [
        "model tests FAILED: 2 of 4 checks failed: nulls.age (3 rows), quality.auc",
        "  - nulls.age: 3 nulls",
        '      e.g. {"id": 1, "at": "2026-01-02"}',
        "      e.g. " + json.dumps(long_row)[:200],
        "  - quality.auc: AUC low",
    ]
    assert len(report.details().splitlines()[3]) == len("      e.g. ") + 200


def test_details_of_a_passed_gate_is_its_summary() -> None:
    report = _report(CheckResult("ok", True, "fine", examples=[{"id": 1}]))
    assert report.details() == "model tests passed: 1 checks"


def test_markdown_table_row_per_check() -> None:
    report = _report(
        CheckResult("quality.auc", False, "AUC 0.6123 | below", observed=0.612345, limit=0.7),
        CheckResult("nulls", True, "none", observed=0, limit=5, count=0),
        CheckResult("schema", True, "a|b", observed="x|y"),
        CheckResult("drift", False, "psi", observed=None, limit=None, count=None, advisory=True),
    )
    assert report.to_markdown() == (
        "## model tests: FAILED\n"
        "\n"
        "| check | result | observed | limit | rows | message |\n"
        "|---|---|---|---|---|---|\n"
        "| quality.auc | **FAIL** | 0.6123 | 0.7 |  | AUC 0.6123 / below |\n"
        "| nulls | pass | 0 | 5 | 0 | none |\n"
        "| schema | pass | x/y |  |  | a/b |\n"
        "| drift | warn (advisory) |  |  |  | psi |\n"
    )


def test_a_check_as_json_has_every_field_with_its_default() -> None:
    assert CheckResult("a", True, "m").to_dict() == {
        "name": "a", "passed": True, "message": "m", "observed": None, "limit": None, "count": None,
        "examples": [], "category": "", "advisory": False}
    one, other = CheckResult("a", True, "m"), CheckResult("b", True, "m")
    one.examples.append({"id": 1})
    assert other.examples == []  # a fresh list each


def test_report_json_round_trips() -> None:
    report = GateReport("fairness", [
        CheckResult("fairness.dpd", False, "0.21 > 0.10", observed=np.float64(0.21), limit=0.1, count=np.int64(7),
                    examples=[{"group": "a", "n": np.int32(3)}], category="fairness"),
        CheckResult("fairness.note", True, "ok", advisory=True),
    ], context={"threshold": np.float32(0.5), "when": dt.datetime(2026, 12, 4, 10, 30)})
    doc = report.to_dict()
    assert doc == {
        "gate": "fairness", "passed": False,
        "summary": "fairness FAILED: 1 of 2 checks failed: fairness.dpd (7 rows)",
        "checks": [
            {"name": "fairness.dpd", "passed": False, "message": "0.21 > 0.10", "observed": 0.21, "limit": 0.1,
             "count": 7, "examples": [{"group": "a", "n": 3}], "category": "fairness", "advisory": False},
            {"name": "fairness.note", "passed": True, "message": "ok", "observed": None, "limit": None,
             "count": None, "examples": [], "category": "", "advisory": True},
        ],
        "context": {"threshold": 0.5, "when": "2026-12-04T10:30:00"},
    }
    json.dumps(doc)  # plain JSON
    back = GateReport.from_dict(doc)
    assert back.to_dict() == doc
    assert back.failed[0].name == "fairness.dpd" and back.warnings == []


def test_from_dict_without_checks_or_context() -> None:
    back = GateReport.from_dict({"gate": "g"})
    assert (back.gate, back.checks, back.context, back.passed) == ("g", [], {}, True)


def test_extend_appends_in_order_and_returns_the_report() -> None:
    report = _report(CheckResult("a", True, "m"))
    same = report.extend([CheckResult("b", False, "m"), CheckResult("c", True, "m")])
    assert same is report
    assert [c.name for c in report.checks] == ["a", "b", "c"]
    assert not report.passed


class _ItemFails:
    def item(self):
        raise AttributeError("no item here")

    def tolist(self):
        return ["from", "tolist"]


class _ItemRaisesValueError:
    def item(self):
        raise ValueError("not a scalar")

    def isoformat(self):
        return "iso"


class _Plain:
    def __str__(self) -> str:
        return "plain"


def test_report_values_become_plain_json() -> None:
    assert _jsonable({"scalar": np.int64(3), "one": np.array([5]), "many": np.array([1, 2]),
                      "date": dt.date(2026, 12, 4), "item_fails": _ItemFails(), "value_error": _ItemRaisesValueError(),
                      "other": _Plain(), "plain": [1, "a", None]}) == {
        "scalar": 3, "one": 5, "many": [1, 2], "date": "2026-12-04", "item_fails": ["from", "tolist"],
        "value_error": "iso", "other": "plain", "plain": [1, "a", None]}
