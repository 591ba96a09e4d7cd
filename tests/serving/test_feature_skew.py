"""Training/serving skew: one feature function, used by training and applied by the server; the monitor compares.

The credit model is trained on ``loan_to_income`` derived by
:func:`modelway.datasets.credit_features.add_derived_features`, the function the example
pipeline uses. Clients send raw fields; the server imports the function named in the
version's schema and applies it. A version whose serving transformation is skewed (the same
feature computed on monthly income) is flagged by ``modelway monitor`` against the training
profile; the version served with the training function is not.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import io
from pathlib import Path

import pytest

from modelway.datasets.credit_features import add_derived_features
from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.errors import UserError
from modelway.features import client_fields, reference, resolve
from modelway.monitoring.monitor import run_monitor
from modelway.monitoring.sinks import LogAlerter
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from modelway.serving.state import DeploymentStore
from modelway.stages.model_schema import GuardedModel
from tests.serving.helpers import records, register, train_credit

REPO = Path(__file__).resolve().parents[2]
EP = "credit-risk"


@pytest.fixture(scope="module")
def derived():
    return train_credit(derived=True)


def _serve_and_send(home: Path, endpoint: str, version: str, rows: list[dict]) -> list[int]:
    deployer = EmbeddedDeployer(home)
    # the contract's response-time limit is not what this test is about (a loaded host can miss 1 s)
    deployer.deploy(DeployRequest(endpoint=endpoint, model=EP, version=version, contract_max_p95_ms=60_000))
    store = DeploymentStore(home)
    _, state = store.require(endpoint)
    state.capture_rate = 1.0
    store.put(endpoint, state)
    statuses = []
    with serve_in_thread(ModelServer(endpoint, home=home, poll_s=0.05, capture_seed=1)) as url:
        client = Client(url)
        for start in range(0, len(rows), 20):  # batches of 20 rows: each is one captured request
            statuses.append(client.invoke(rows[start:start + 20]).status)
        client.close()
    return statuses


def test_the_pipeline_and_the_server_use_one_feature_function(derived):
    spec = importlib.util.spec_from_file_location("_mw_credit_pipeline", REPO / "pipelines" / "credit_risk.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    assert pipeline.add_derived_features is add_derived_features
    assert pipeline.DERIVED["loan_to_income"] is add_derived_features.__globals__["loan_to_income"]
    signature = derived.model.schema.signature()
    assert signature["feature_function"] == {"ref": "modelway.datasets.credit_features:add_derived_features",
                                             "outputs": ["loan_to_income"]}
    assert resolve(signature["feature_function"]["ref"]) is add_derived_features
    assert "loan_to_income" not in dict(client_fields(signature))  # clients send raw fields only


def test_a_function_the_server_cannot_import_is_refused_at_training():
    from modelway.features import feature_function

    @feature_function("y")
    def local(frame):
        return frame

    with pytest.raises(UserError, match="top-level function of an importable module"):
        reference(local)
    with pytest.raises(UserError, match="not a feature function"):
        reference(len)
    with pytest.raises(UserError, match="cannot import module"):
        resolve("no_such_module_xyz:f")


def test_the_server_derives_features_and_a_skewed_serving_transformation_is_flagged(home, derived):
    v1 = register(home, derived)
    # the same trained model, but its serving transformation computes loan_to_income on monthly income
    skewed_schema = dataclasses.replace(derived.model.schema, feature_function="tests.serving.helpers:skewed_derived_features")
    skewed = GuardedModel(derived.model.model, skewed_schema)
    v2 = register(home, derived, skewed, tag="skewed")
    raw = [{k: v for k, v in r.items() if k != "loan_to_income"} for r in records(derived.test, list(derived.features))]
    assert "loan_to_income" not in raw[0]

    assert set(_serve_and_send(home, EP, v1, raw[:600])) == {200}
    assert set(_serve_and_send(home, "credit-risk-skewed", v2, raw[:600])) == {200}

    stream = io.StringIO()
    same = run_monitor(home, EP, endpoint=EP, window_s=600, alerter=LogAlerter(home, stream=stream))
    assert same.rows == 600
    assert not same.drift.features["loan_to_income"].drifted, same.drift.features["loan_to_income"]
    assert same.drift.drifted_features == []
    assert not [a for a in same.alerts if a.kind == "drift"]

    bad = run_monitor(home, EP, endpoint="credit-risk-skewed", window_s=600, alerter=LogAlerter(home, stream=stream))
    assert bad.version == v2 and bad.rows == 600
    assert bad.drift.drifted_features == ["loan_to_income"], bad.drift.drifted_features
    drift_alerts = [a for a in bad.alerts if a.kind == "drift"]
    assert drift_alerts and "loan_to_income" in drift_alerts[0].message
    # the served (captured) feature is the function's output, not something the client sent
    from modelway.serving.capture import read_capture

    captured = read_capture(home, "credit-risk-skewed")[0]["inputs"]
    first = raw[0]
    assert captured["loan_to_income"][0] == pytest.approx(round(first["loan_amount"] / (first["annual_income"] / 12), 6))
