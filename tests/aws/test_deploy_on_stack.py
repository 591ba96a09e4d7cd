"""``modelway deploy`` on a stack: SageMaker endpoint variants whose weights shift, judged by the same guardrails.

Real boto3 calls to the moto server; a real trained model registered in the stack's model
package group, approved, contract-tested locally, then rolled out.

Not exercised, and why:
* moto has no ``UpdateEndpoint``: the fixture ``moto_update_endpoint`` adds its effect (the
  endpoint switches to the new endpoint config's variants) to the in-process moto server,
  so the guarded blue/green ``DeploymentConfig`` is only checked against botocore's model.
* no container answers requests: :class:`SageMakerTraffic` publishes the per-variant metrics
  SageMaker would (``AWS/SageMaker`` ``Invocations``, ``Invocation5XXErrors``) in proportion to
  the weights it reads back from ``DescribeEndpoint``, with the error rate the test chooses.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.deploy.base import DeployRefused, DeployRequest
from modelway.errors import UserError
from modelway.registry import get_registry


class SageMakerTraffic:
    """Publishes what SageMaker would measure: per tick, 100 invocations split by the variants' current weights."""

    def __init__(self, stack, endpoint: str, error_rates: dict[str, float]):
        self.cloudwatch = stack.client("cloudwatch")
        self.sagemaker = stack.client("sagemaker")
        self.endpoint, self.error_rates = endpoint, error_rates
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            described = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)
            now = datetime.now(timezone.utc)
            data = []
            for v in described["ProductionVariants"]:
                calls = round(100 * v.get("CurrentWeight", 0.0))
                if not calls:
                    continue
                dims = [{"Name": "EndpointName", "Value": self.endpoint}, {"Name": "VariantName", "Value": v["VariantName"]}]
                errors = round(calls * self.error_rates.get(v["VariantName"], 0.0))
                data += [{"MetricName": "Invocations", "Dimensions": dims, "Timestamp": now, "Value": calls, "Unit": "Count"},
                         {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Timestamp": now, "Value": errors,
                          "Unit": "Count"}]
            if data:
                self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def stack_home(moto_stack, tmp_path, monkeypatch, moto_update_endpoint):
    home = tmp_path / "home"
    monkeypatch.setenv("MODELWAY_HOME", str(home))
    for var in ("MODELWAY_ENV", "MODELWAY_PROMOTION_RULES", "MODELWAY_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    backends = use(resolve_stack(None, moto_stack.outputs_file))
    # the contract's name (endpoint_name(prefix, model)): unique per test stack, endpoints are per account
    prefix = moto_stack.outputs["buckets"]["artifacts"].rsplit("-artifacts", 1)[0]
    return backends, home, f"{prefix}-credit-risk"


@pytest.fixture(scope="module")
def credit():
    """Two real credit models trained on different samples: the champion and the challenger."""
    from tests.serving.helpers import train_credit

    return train_credit(n_rows=1500), train_credit(n_rows=1500, seed=6)


def _two_versions(home, credit):
    from tests.serving.helpers import register

    champion, challenger = credit
    return register(home, champion, tag="champion"), register(home, champion, model=challenger.model, tag="challenger")


def _request(endpoint, version, strategy="canary"):
    """A rollout to this test's endpoint (endpoint names are per account: one per test's stack)."""
    return DeployRequest(endpoint=endpoint, model="credit-risk", version=version, strategy=strategy,
                         environment="dev", actor="alice", steps=(0.1, 0.5, 1.0), window_requests=150,
                         window_seconds=20)


def _weights(moto_stack, endpoint):
    described = moto_stack.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return {v["VariantName"]: v.get("CurrentWeight", 0.0) for v in described["ProductionVariants"]}


def test_canary_shifts_variant_weights_and_promotes(stack_home, moto_stack, credit):
    backends, home, endpoint = stack_home
    first, second = _two_versions(home, credit)
    deployer = backends.deployer(home)
    deployer.poll_s = 0.1
    assert deployer.deploy(_request(endpoint, first)).outcome == "promoted"
    assert _weights(moto_stack, endpoint) == {"v1-0-0": 1.0}
    with SageMakerTraffic(moto_stack, endpoint, {}):
        result = deployer.deploy(_request(endpoint, second))
    assert result.outcome == "promoted", result.reason
    assert [s.weights for s in result.steps] == [{"1.1.0": 0.1, "1.0.0": 0.9}, {"1.1.0": 0.5, "1.0.0": 0.5}]
    assert all(s.verdict["ok"] and "error_rate" in s.verdict["judged"] for s in result.steps)
    assert _weights(moto_stack, endpoint) == {"v1-0-0": 0.0, "v1-1-0": 1.0}  # the old version stays loaded: instant rollback
    history = [h["action"] for h in deployer.describe(endpoint)["history"]]
    assert history == ["deployed", "step", "step", "promoted"]
    events = [e for e in get_registry(home).audit_entries("credit-risk", "1.1.0") if e.event == "deployment"]
    assert [e.payload["decision"] for e in events] == ["step", "step", "promoted"]
    back = deployer.rollback(endpoint, actor="bob", reason="pager")
    assert back.outcome == "rolled_back" and back.incumbent == "1.0.0"
    assert _weights(moto_stack, endpoint) == {"v1-0-0": 1.0, "v1-1-0": 0.0}


def test_guardrail_breach_on_sagemaker_metrics_rolls_back(stack_home, moto_stack, credit):
    backends, home, endpoint = stack_home
    first, second = _two_versions(home, credit)
    deployer = backends.deployer(home)
    deployer.poll_s = 0.1
    deployer.deploy(_request(endpoint, first))
    with SageMakerTraffic(moto_stack, endpoint, {"v1-1-0": 0.3}):
        result = deployer.deploy(_request(endpoint, second))
    assert result.outcome == "rolled_back"
    assert "error rate" in result.reason and len(result.steps) == 1  # stopped at the first (10%) step
    assert _weights(moto_stack, endpoint) == {"v1-0-0": 1.0, "v1-1-0": 0.0}
    assert deployer.describe(endpoint)["state"]["incumbent"] == "1.0.0"


def test_unapproved_version_is_refused_before_any_traffic_moves(stack_home, moto_stack, credit):
    backends, home, endpoint = stack_home
    first, second = _two_versions(home, credit)
    deployer = backends.deployer(home)
    deployer.deploy(_request(endpoint, first))
    get_registry(home).revoke("credit-risk", second, actor="carol", reason="bias")
    with pytest.raises(DeployRefused, match="Revoked"):
        deployer.deploy(_request(endpoint, second))
    assert _weights(moto_stack, endpoint) == {"v1-0-0": 1.0}
    with pytest.raises(UserError, match="not available on SageMaker"):
        deployer.deploy(_request(endpoint, second, strategy="shadow"))


def test_cli_deploy_and_show_on_the_stack(stack_home, moto_stack, credit):
    from tests.modelway_cli import ModelwayCli

    backends, home, endpoint = stack_home
    first, _ = _two_versions(home, credit)
    cli = ModelwayCli(home)
    out = cli("deploy", f"credit-risk@{first}", "--endpoint", endpoint, "--outputs", str(moto_stack.outputs_file))
    assert out.code == 0, out.stderr
    assert "promoted: first version on this endpoint" in out.stdout
    show = cli("deployments", "show", endpoint, "--outputs", str(moto_stack.outputs_file))
    assert show.code == 0, show.stderr
    assert "weights    1.0.0 100%" in show.stdout
