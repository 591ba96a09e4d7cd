"""Mutation pins of the approval gate of a rollout: the exact refusal for each reason a version may not go out."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from modelway.deploy.approval import check_deployable
from modelway.deploy.base import DeployRefused
from modelway.registry import get_registry
from tests.serving.tiny_models import register_tiny

EP = "tiny"


def test_approval_rules_of_a_human_approved_environment(home):
    reg = get_registry(home)
    dev = register_tiny(home, "dev-approved")
    with pytest.raises(DeployRefused) as info:
        check_deployable(reg, EP, dev, "prod")
    assert str(info.value) == (f"{EP} {dev} was approved for dev, but prod requires a human approval for prod; "
                               "register it for prod and approve it there")
    assert check_deployable(reg, EP, dev, "dev").version == dev
    prod = register_tiny(home, "prod-two", environment="prod")
    with pytest.raises(DeployRefused) as info:
        check_deployable(reg, EP, prod, "prod")
    assert str(info.value) == (f"{EP} {prod} is Pending; approve it first: modelway models approve {EP} {prod} "
                               f"--by NAME --reason '...'")
    reg.reject(EP, prod, actor="erin", reason="no")
    with pytest.raises(DeployRefused) as info:
        check_deployable(reg, EP, prod, "prod")
    assert str(info.value) == f"{EP} {prod} is Rejected; only Approved versions can be deployed"
    ok = register_tiny(home, "prod-three", environment="prod")
    reg.approve(EP, ok, actor="erin", reason="reviewed")
    assert check_deployable(reg, EP, ok, "prod").decided_by == "erin"


def test_an_automatic_approval_or_a_tampered_artifact_is_refused(home):
    from modelway.registry.base import ArtifactIntegrityError
    from modelway.registry.promotion import EnvironmentRule, PromotionRules

    reg = get_registry(home)
    auto = register_tiny(home, "staged", environment="staging")  # staging approves automatically by default
    assert check_deployable(reg, EP, auto, "staging").decided_by == "modelway-auto"
    reg.rules = PromotionRules(environments={"staging": EnvironmentRule(auto_approve=False)})  # the rules got stricter
    with pytest.raises(DeployRefused) as info:
        check_deployable(reg, EP, auto, "staging")
    assert str(info.value) == f"{EP} {auto} was approved automatically; staging requires a human approval"
    tampered = register_tiny(home, "tampered")
    path = urlparse(reg.get(EP, tampered).artifact_uri).path
    with open(path, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactIntegrityError):
        check_deployable(get_registry(home), EP, tampered, "dev")
