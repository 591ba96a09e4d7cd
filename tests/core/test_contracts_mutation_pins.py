"""Pins on the stack config's prod safety rules that mutation testing found loose (both sides of each)."""
from __future__ import annotations

import pytest

from modelway.contracts import PlatformConfig
from modelway.errors import ConfigError


@pytest.mark.parametrize("days, ok", [(180, False), (365, True), (400, True)])
def test_prod_log_retention_minimum_is_365_days(days: int, ok: bool) -> None:
    raw = {"observability": {"log_retention_days": days}}
    if ok:
        assert PlatformConfig.from_mapping(raw, stack="prod").observability.log_retention_days == days
    else:
        with pytest.raises(ConfigError) as caught:
            PlatformConfig.from_mapping(raw, stack="prod")
        assert str(caught.value) == "modelway:observability.log_retention_days: prod keeps logs at least 365 days"


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_shorter_log_retention_is_fine_outside_prod(stack: str) -> None:
    config = PlatformConfig.from_mapping({"observability": {"log_retention_days": 30}}, stack=stack)
    assert config.observability.log_retention_days == 30


def test_log_retention_must_be_a_value_cloudwatch_accepts() -> None:
    with pytest.raises(ConfigError, match=r"modelway:observability.log_retention_days: .*must be one of 1, 3, 5"):
        PlatformConfig.from_mapping({"observability": {"log_retention_days": 366}}, stack="dev")


@pytest.mark.parametrize("raw, key, why", [
    ({"registries": {"model_approval_status": "Approved"}}, "registries.model_approval_status",
     "prod requires PendingManualApproval"),
    ({"storage": {"retain_on_delete": False}}, "storage.retain_on_delete", "prod must retain data"),
    ({"storage": {"model_lock_days": 0}}, "storage.model_lock_days", "prod locks model versions (at least 1 day)"),
    ({"audit": {"cloudtrail": False}}, "audit.cloudtrail", "prod keeps a CloudTrail trail for the auditor"),
])
def test_each_prod_safety_rule_names_its_key(raw: dict, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(raw, stack="prod")
    assert str(caught.value).startswith(f"modelway:{key}: {why}")
    PlatformConfig.from_mapping(raw, stack="dev")  # the same values are allowed in dev


def test_prod_defaults_are_safe_and_one_day_of_model_lock_is_enough() -> None:
    config = PlatformConfig.from_mapping({"storage": {"model_lock_days": 1}}, stack="prod")
    assert (config.environment, config.storage.model_lock_days, config.observability.log_retention_days) == (
        "prod", 1, 365)


@pytest.mark.parametrize("claimed, stack, message", [
    ("dev", "prod", "modelway:environment: is 'dev' but the stack is 'prod'; remove the key or set it to prod"),
    (None, "sandbox", "modelway:environment: the stack 'sandbox' is not dev, staging or prod"),
])
def test_a_stack_cannot_claim_another_environment(claimed, stack: str, message: str) -> None:
    raw = {} if claimed is None else {"environment": claimed}
    with pytest.raises(ConfigError) as caught:
        PlatformConfig.from_mapping(raw, stack=stack)
    assert str(caught.value).startswith(message)


def test_a_custom_stack_name_may_claim_an_environment() -> None:
    assert PlatformConfig.from_mapping({"environment": "prod"}, stack="prod-eu").environment == "prod"
    assert PlatformConfig.from_mapping({"environment": "prod"}, stack="prod").environment == "prod"
