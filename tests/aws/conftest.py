"""Fixtures: one moto server per test session, a fresh stack in it per test, boto3 pointed at it."""
from __future__ import annotations

import pytest

from tests.aws.moto_stack import MotoStack, create_stack, moto_server, server_env


@pytest.fixture(scope="session")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """boto3 in this process (and subprocesses) talks to the moto server; no MODELWAY_STACK leaks in."""
    for key, value in server_env(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    for key in ("MODELWAY_STACK", "MODELWAY_OUTPUTS", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    return server_env(moto_endpoint)


@pytest.fixture
def moto_stack(aws_env, moto_endpoint, tmp_path) -> MotoStack:
    """A dev stack's resources in moto and its outputs file."""
    return create_stack(moto_endpoint, tmp_path)


@pytest.fixture(autouse=True)
def _no_installed_backends():
    """Tests that install a stack's backends in this process leave the embedded default behind."""
    from modelway import active_backends

    yield
    active_backends.install(None)


@pytest.fixture
def moto_update_endpoint(monkeypatch):
    """UpdateEndpoint for moto's in-process server: the endpoint takes the new config's variants."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def update_endpoint(self):
        backend = self.sagemaker_backend
        endpoint = backend.endpoints[self._get_param("EndpointName")]
        config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
        endpoint.endpoint_config_name = config["EndpointConfigName"]
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        return ActionResult({"EndpointArn": endpoint.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
