"""Pins on the promotion rules (who may approve a version for which environment).

Plain functions, no registry: each test fails on a plausible one-point change of
``modelway.registry.promotion`` (see ``make mutate``). What a changed default would do to a
user: a dev model waiting for a human, a prod model approved by nobody, a registrant
approving their own model.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from modelway.errors import ConfigError
from modelway.registry.promotion import AUTO_APPROVER, EnvironmentRule, PromotionRules, load_promotion_rules


@pytest.fixture(autouse=True)
def _no_rules_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELWAY_PROMOTION_RULES", raising=False)


def _fields(rule: EnvironmentRule) -> tuple:
    return (rule.auto_approve, rule.require_reason, rule.require_gates_passed, rule.allow_self_approval,
            rule.require_reviewed_code)


def test_the_automatic_approver_has_its_documented_name() -> None:
    # Audit logs and `models list` show this name; a renamed approver would also let a human
    # called "modelway-auto" pass as the machine (and the other way round).
    assert AUTO_APPROVER == "modelway-auto"


def test_a_rule_written_with_no_fields_is_the_strict_one() -> None:
    assert _fields(EnvironmentRule()) == (False, True, True, False, None)


@pytest.mark.parametrize("env, expected", [
    ("dev", (True, False, True, True, None)),
    ("staging", (True, False, True, True, None)),
    ("prod", (False, True, True, False, None)),
])
def test_default_rule_of_each_environment(env: str, expected: tuple) -> None:
    assert _fields(PromotionRules().for_env(env)) == expected
    assert _fields(load_promotion_rules().for_env(env)) == expected


def test_the_defaults_cover_exactly_dev_staging_and_prod() -> None:
    assert sorted(PromotionRules().environments) == ["dev", "prod", "staging"]


def test_an_unknown_environment_is_one_line_naming_the_configured_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        PromotionRules().for_env("qa")
    assert str(caught.value) == "no promotion rule for environment 'qa'; configured: ['dev', 'prod', 'staging']"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("setting, env, required", [
    (None, "prod", True), (None, "dev", False), (None, "staging", False), (None, "production", False),
    (True, "dev", True), (True, "prod", True), (False, "prod", False), (False, "dev", False),
])
def test_reviewed_code_is_required_in_prod_unless_the_rule_says_otherwise(setting, env: str, required: bool) -> None:
    assert EnvironmentRule(require_reviewed_code=setting).reviewed_code_required(env) is required


def test_rules_are_frozen_and_refuse_unknown_fields() -> None:
    rule = EnvironmentRule()
    with pytest.raises(Exception, match="frozen"):
        rule.auto_approve = True
    with pytest.raises(Exception, match="frozen"):
        PromotionRules().environments = {}
    with pytest.raises(Exception, match="auto_aprove"):
        EnvironmentRule(auto_aprove=True)
    with pytest.raises(Exception, match="prd"):
        PromotionRules(prd={})


def test_rules_from_a_file_given_by_path_or_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  qa: {auto_approve: true, allow_self_approval: true}\n")
    for loaded in (load_promotion_rules(rules), load_promotion_rules(str(rules))):
        assert sorted(loaded.environments) == ["qa"]
        assert _fields(loaded.for_env("qa")) == (True, True, True, True, None)
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    assert sorted(load_promotion_rules().environments) == ["qa"]


def test_an_empty_rules_file_means_the_defaults(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("# nothing yet\n")
    assert load_promotion_rules(rules) == PromotionRules()


def test_a_missing_rules_file_names_it_and_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_promotion_rules(missing)
    assert str(caught.value) == f"promotion rules file {missing} not found (MODELWAY_PROMOTION_RULES)"


@pytest.mark.parametrize("text, where", [
    ("environments:\n  dev: {auto_aprove: true}\n", "environments.dev.auto_aprove: Extra inputs are not permitted"),
    ("environments:\n  dev: {auto_approve: maybe}\n", "environments.dev.auto_approve: Input should be a valid boolean"),
    ("- dev\n", "Input should be a valid dictionary or instance of PromotionRules"),
])
def test_an_invalid_rules_file_is_one_line_naming_the_file_and_the_field(tmp_path: Path, text: str, where: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_promotion_rules(rules)
    message = str(caught.value)
    assert message.startswith(f"invalid promotion rules in {rules}: {where}"), message
    assert "\n" not in message and ": :" not in message
    assert caught.value.__suppress_context__


def test_a_rules_file_that_is_not_yaml_names_the_file_line_and_the_variable(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  prod: {auto_approve: false}\n  prod: {auto_approve: true}\n")
    with pytest.raises(ConfigError) as caught:  # a duplicate key: never last-one-wins
        load_promotion_rules(rules)
    assert str(caught.value) == (f"invalid promotion rules in {rules}:3: duplicate key 'prod' (the first is on line 2)"
                                 " (MODELWAY_PROMOTION_RULES)")
    assert caught.value.__suppress_context__
