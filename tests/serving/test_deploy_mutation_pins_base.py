"""Mutation pins of the deployer interface: a deploy request is frozen and documented, any deployer is a Deployer."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelway.deploy.base import DeployRequest, Deployer


def test_a_deploy_request_cannot_change_once_made():
    r = DeployRequest(endpoint="e", model="m", version="1")
    with pytest.raises(ValidationError):
        r.version = "2"  # type: ignore[misc]


def test_deploy_request_fields_are_documented():
    described = {k: f.description for k, f in DeployRequest.model_fields.items() if f.description}
    assert described == {
        "steps": "canary traffic shares, the last one 1.0",
        "ab_split": "share of traffic the candidate gets in an A/B test",
        "sticky_key": "request field that pins a client to a variant (A/B)",
        "window_requests": "candidate requests per evaluation window",
        "window_seconds": "longest evaluation window",
        "contract_max_p95_ms": "contract tests: p95 of single-row requests",
    }


def test_bad_canary_steps_are_one_exact_message():
    with pytest.raises(ValidationError) as info:
        DeployRequest(endpoint="e", model="m", version="1", steps=(0.5,))
    [error] = info.value.errors()
    assert error["loc"] == ("steps",) and error["msg"] == (
        "Value error, canary steps must rise to 1.0 through at least one partial share, e.g. 0.1,0.5,1.0 (got [0.5])")


def test_the_embedded_deployer_is_a_deployer(tmp_path):
    from modelway.deploy.embedded import EmbeddedDeployer

    assert isinstance(EmbeddedDeployer(tmp_path), Deployer)
    assert not isinstance(object(), Deployer)
