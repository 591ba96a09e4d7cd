"""`/invocations` contract over real HTTP: formats, 400s naming field and row, ping/health/metrics, tampering."""
from __future__ import annotations

import json

import numpy as np
import pytest

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.registry import ArtifactIntegrityError, get_registry
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from tests.serving.helpers import records, register


@pytest.fixture
def served(home, credit):
    version = register(home, credit)
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint="credit-risk", model="credit-risk", version=version))
    with serve_in_thread(ModelServer("credit-risk", home=home)) as url:
        client = Client(url)
        yield client, version
        client.close()


def test_json_records_split_columns_and_csv_score_like_the_model(served, credit):
    client, version = served
    rows = records(credit.test.iloc[:5], credit.features)
    expected = credit.model.predict_proba(credit.test.iloc[:5][credit.features])[:, 1]
    names = credit.features
    payloads = [
        (rows, "application/json"),
        ({"dataframe_records": rows}, "application/json"),
        ({"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}}, "application/json"),
        ({n: [r[n] for r in rows] for n in names}, "application/json"),
        ((",".join(names) + "\n" + "\n".join(",".join(str(r[n]) for n in names) for r in rows)).encode(), "text/csv"),
    ]
    for payload, ctype in payloads:
        reply = client.invoke(payload, content_type=ctype)
        assert reply.status == 200, reply.body
        assert reply.variant == version
        probs = [p["probability"] for p in reply.json()["predictions"]]
        np.testing.assert_allclose(probs, expected, rtol=1e-9)
    single = client.invoke(rows[0])
    assert single.status == 200 and len(single.json()["predictions"]) == 1


@pytest.mark.parametrize("mutate, needle", [
    (lambda r: r.pop("age"), "'age'"),
    (lambda r: r.update(age="forty"), "row 1, field 'age': expected a number, got 'forty'"),
    (lambda r: r.update(region="atlantis"), "row 1, field 'region': unknown category 'atlantis'"),
    (lambda r: r.update(loan_amount=True), "row 1, field 'loan_amount'"),
    (lambda r: r.update(home_ownership=3), "row 1, field 'home_ownership'"),
])
def test_bad_rows_are_400_naming_field_and_row(served, credit, mutate, needle):
    client, _ = served
    rows = records(credit.test.iloc[:3], credit.features)
    mutate(rows[1])
    reply = client.invoke(rows)
    assert reply.status == 400, reply.body
    assert needle in reply.json()["error"]


@pytest.mark.parametrize("body, ctype", [(b"{not json", "application/json"), (b"[]", "application/json"),
                                         (b"age\nabc\n", "text/csv"), (b"<xml/>", "application/xml"),
                                         (b'{"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}', "application/json")])
def test_malformed_bodies_are_400_never_500(served, body, ctype):
    client, _ = served
    reply = client.invoke(body, content_type=ctype)
    assert reply.status == 400 and reply.json()["error"]


def test_ping_health_and_prometheus_metrics(served, credit):
    client, version = served
    assert client.get("/ping").status == 200
    health = client.get("/health").json()
    assert health["weights"] == {version: 1.0} and health["categories_checked"][version] is True
    client.invoke(records(credit.test.iloc[:1], credit.features))
    client.invoke({"age": 1})
    text = client.get("/metrics").body.decode()
    assert f'modelway_requests_total{{endpoint="credit-risk",status="200",variant="{version}"}}' in text
    assert "modelway_request_latency_seconds_bucket" in text
    assert "modelway_invalid_payloads_total" in text


def test_a_tampered_artifact_is_refused_at_load(home, credit):
    version = register(home, credit)
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint="credit-risk", model="credit-risk", version=version))
    mv = get_registry(home).get("credit-risk", version)
    path = mv.artifact_uri.removeprefix("file://")
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        ModelServer("credit-risk", home=home)
