"""The model card as a reviewer reads it (Markdown and HTML, with its evidence section), built from
fixed inputs that take each branch and compared with ``golden/model_card.html``; plus what the JSON
form keeps and drops, and that the written files are exactly the renderings.

Regenerate after an intended change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/test_model_card_golden.py``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from modelway.stages import model_card as mc
from modelway.stages.gates import CheckResult
from tests.reporting.golden_html import assert_matches_golden
from tests.reporting.test_evidence_blocks_golden import CURVES, EVIDENCE, SCORE

CREATED = "2026-11-26T15:00:00+00:00"
CHECKS = [
    CheckResult("quality.roc_auc", True, "ok", observed=0.81, limit=0.7),
    CheckResult("quality.out_of_range.age", False, "3 rows of 'age' outside in_range{\"min_value\": 18, \"max_value\": 100} | x",
                observed=0.01, limit=0, count=3),
    {"name": "slice.south.support", "passed": False, "advisory": True, "observed": 12, "limit": 50, "message": "few rows"},
    {"name": "custom.segment", "passed": True, "observed": "a|b", "limit": "in a|b|c"},  # a "|" would split the Markdown cell
]


def _card(**extra) -> dict:
    """A full card (every optional part present), its creation time fixed."""
    args = dict(
        name="credit", task="classification", intended_use="Rank applications for <review>.",
        metrics={"roc_auc": np.float64(0.81234), "n": np.int64(1000), "confusion_matrix": {"labels": [0, 1], "matrix": [[50, 10], [5, 35]]}},
        checks=CHECKS, version="1.2.0", limitations=["not for <minors>"], data_versions={"credit": "v3"},
        training={"estimator": ["scale:StandardScaler", "clf:LogisticRegression", "post:fn:calibrate"], "best_params": {"clf__C": 0.5, "n_jobs": 2},
                  "search": {"strategy": "grid", "budget": 4}, "cv": {"roc_auc": {"mean": 0.8, "std": 0.01, "folds": [0.79, 0.81]}}},
        slices={"region=north": {"roc_auc": 0.8123456, "n": 120}, "region=south": {"roc_auc": 0.7}},
        fairness={"sensitive": "sex", "by_group": {"F": {"selection_rate": 0.3, "mae": 1.5}, "M": {"selection_rate": 0.44, "mae": 2}},
                  "demographic_parity_difference": 0.14, "equalized_odds_difference": 0.2, "max_relative_mae_gap": 0.33,
                  "checks": ["dropped"]},
        features=["age", "income"], run_id="20261126-150000-ab12cd", code_commit="0123456789abcdef", mlflow_run_id="mlf1",
        owner="ana", environment="staging", artifact_sha256="ab" * 32, class_names=["repaid", "defaulted"],
    )
    card = mc.build_model_card(**(args | extra))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", card["created_at"])  # UTC, to the second
    card["created_at"] = CREATED
    return card


def _cases() -> dict[str, str]:
    full = _card() | {"ml_test_score": SCORE, "evidence": {"curves": {"roc": CURVES["roc"]}, "intervals": {
        "overall": {"roc_auc": {"low": 0.78, "high": 0.84, "resamples": 200}},
        "slices": {"region=north": {"low": 0.7, "high": 0.9}, "region=south": {"low": 0.5, "high": 0.9}}}} | EVIDENCE}
    approved = full | {"approval": {"status": "Approved", "decided_by": "bo", "decided_at": "2026-11-27", "reason": "fine | good"}}
    minimal = mc.build_model_card(name="m", task="regression", intended_use="demo", metrics={}, checks=[], owner="")
    minimal["created_at"] = CREATED
    no_version = _card(version=None, environment=None, artifact_sha256=None, code_commit=None, run_id=None,
                       limitations=None, data_versions=None, training={"estimator": "ridge:Ridge"}, slices=None, fairness=None)
    return {
        "markdown_full": mc.render_markdown(full),
        "markdown_approved": mc.render_markdown(approved),
        "markdown_approval_without_details": mc.render_markdown(full | {"approval": {"status": "Rejected"}}),
        "markdown_no_version": mc.render_markdown(no_version),
        "markdown_minimal": mc.render_markdown(minimal),
        "html_full": mc.render_html(full),
        "html_no_run": mc.render_html(no_version),
        "html_minimal": mc.render_html(minimal),
        "evidence_section_no_mlflow": mc.evidence_section(full | {"mlflow_run_id": None}, report_href="../r.html"),
        "evidence_section_no_link": mc.evidence_section(full),
        "evidence_section_empty": mc.evidence_section({"run_id": "r1", "evidence": {}}, report_href="x"),
    }


def test_card_documents_match_the_golden_file() -> None:
    assert_matches_golden("model_card.html", _cases())


def test_json_form_keeps_the_facts_and_drops_what_changes_later() -> None:
    card = _card()
    assert list(card) == ["schema_version", "name", "version", "task", "created_at", "intended_use", "limitations", "features",
                          "data_versions", "training", "metrics", "confusion_matrix", "slices", "fairness", "checks", "passed",
                          "run_id", "mlflow_run_id", "code_commit", "owner", "environment", "artifact_sha256", "class_names"]
    assert card["schema_version"] == 1 and "approval" not in card and "status" not in card
    assert card["metrics"] == {"roc_auc": 0.81234, "n": 1000}  # numpy values as JSON numbers, the matrix kept apart
    assert card["confusion_matrix"] == {"labels": [0, 1], "matrix": [[50, 10], [5, 35]]}
    assert "checks" not in card["fairness"] and card["fairness"]["demographic_parity_difference"] == 0.14
    assert card["checks"][1] == {"name": "quality.out_of_range.age", "passed": False, "message": CHECKS[1].message, "observed": 0.01,
                                 "limit": 0, "count": 3, "examples": [], "category": "", "advisory": False}
    assert card["checks"][2]["advisory"] is True
    assert card["passed"] is False  # one gating check failed
    only_advisory = mc.build_model_card(name="m", task="t", intended_use="x", metrics={}, checks=[CHECKS[0], CHECKS[2]], owner="o")
    assert only_advisory["passed"] is True  # an advisory finding warns, never fails the gate
    empty = mc.build_model_card(name="m", task="t", intended_use="x", metrics={}, checks=[], owner="o", fairness=None,
                                training=None, slices=None, features=("a",))
    assert (empty["passed"], empty["fairness"], empty["training"], empty["slices"], empty["features"]) == (True, None, {}, {}, ["a"])
    odd = mc.build_model_card(name="m", task="t", intended_use="x", metrics={"path": Path("/tmp/x")}, checks=[], owner="o")
    assert odd["metrics"]["path"] == "/tmp/x"


def test_owner_defaults_to_the_user_building_the_card(monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_USER", "carol")
    assert mc.build_model_card(name="m", task="t", intended_use="x", metrics={}, checks=[])["owner"] == "carol"
    assert mc.build_model_card(name="m", task="t", intended_use="x", metrics={}, checks=[], owner="")["owner"] == ""


def test_minimum_slice_support_comes_from_the_support_check() -> None:
    assert mc._min_support({"checks": [{"name": "quality.roc_auc", "limit": 7}, {"name": "slice.south.support", "limit": 50}]}) == 50
    assert mc._min_support({"checks": [{"name": "slice.south.support", "limit": 50.0}]}) is None
    assert mc._min_support({"checks": [{"name": "slice.support.roc_auc", "limit": 5}, {"limit": 7}]}) is None
    assert mc._min_support({}) is None


def test_markdown_cells_for_people() -> None:
    assert [mc._fmt(v) for v in (None, 0.123456, 3, "a<b", "plain", True)] == ["", "0.1235", "3", "a&lt;b", "plain", "True"]


def test_written_files_are_the_renderings(tmp_path: Path) -> None:
    card = _card()
    paths = mc.write_model_card(card, tmp_path / "cards" / "credit")
    assert paths == {k: tmp_path / "cards" / "credit" / f"model_card.{k}" for k in ("json", "md", "html")}
    assert json.loads(paths["json"].read_text()) == card and paths["json"].read_text().startswith('{\n  "schema_version": 1,')
    assert paths["md"].read_text() == mc.render_markdown(card) and paths["html"].read_text() == mc.render_html(card)
    assert sorted(p.name for p in paths["md"].parent.iterdir()) == ["model_card.html", "model_card.json", "model_card.md"]
    card["intended_use"] = "rewritten at a decision"  # the registry writes the files again into the same folder
    again = mc.write_model_card(card, tmp_path / "cards" / "credit")
    assert again == paths and "rewritten at a decision" in paths["md"].read_text()
