"""The model card says which gates passed and what artifact it describes, never a frozen approval."""
from __future__ import annotations

from modelway.stages.model_card import build_model_card, render_html, render_markdown

SHA = "ab" * 32


def _card(**extra):
    checks = [{"name": "quality.roc_auc", "passed": True, "observed": 0.8, "limit": 0.7, "message": "ok"},
              {"name": "quality.out_of_range.age", "passed": False, "observed": 0.01, "limit": 0,
               "message": "3 rows of 'age' outside in_range{\"min_value\": 18, \"max_value\": 100}"}]
    return build_model_card(name="credit-risk", task="classification", intended_use="demo", metrics={"roc_auc": 0.8},
                            checks=checks, version="1.2.0", **extra)


def test_card_has_registry_facts_owner_and_gates():
    card = _card(environment="prod", artifact_sha256=SHA, owner="alice")
    md, html = render_markdown(card), render_html(card)
    for text in (md, html):
        assert SHA in text and "prod" in text and "alice" in text
        assert "modelway models show credit-risk 1.2.0" in text
        assert "1 of 2 FAILED" in text
        assert "not between 18 and 100" in text and "in_range{" not in text
    assert "**Gates:** 1 of 2 FAILED" in md and "Status:" not in md


def test_owner_defaults_to_the_acting_user(monkeypatch):
    monkeypatch.setenv("MODELWAY_USER", "bob")
    assert _card()["owner"] == "bob"


def test_passing_card_says_gates_passed_not_approved():
    card = build_model_card(name="m", task="regression", intended_use="x", metrics={}, version="1.0.0",
                            checks=[{"name": "quality.r2", "passed": True}])
    md = render_markdown(card)
    assert "**Gates:** all 1 passed" in md and "approved" not in md.lower().replace("approval", "")
