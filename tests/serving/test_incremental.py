"""A labels trigger with `incremental: true` updates a partial_fit model on the new labelled rows, through the gates."""
from __future__ import annotations

import json
import time

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.serving.state import DeploymentStore
from modelway.registry import ModelCandidate, get_registry
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from modelway.triggers.config import load_triggers
from modelway.triggers.engine import TriggerState, evaluate
from tests.serving.test_monitor_and_triggers import FIXTURES

FEATURES = ["debt_to_income", "credit_utilization", "num_late_payments_12m", "credit_history_years"]


def _serve_a_weak_sgd_model(home):
    """A weak partial_fit model registered in dev and serving all traffic with full capture: (v1, df)."""
    from sklearn.linear_model import SGDClassifier

    from modelway.datasets.credit import generate_credit_data
    from modelway.profiling.profile import profile_model, save_baseline
    from modelway.stages.model_schema import GuardedModel, ModelSchema

    df = generate_credit_data(1200, seed=9)
    schema = ModelSchema.infer(df[FEATURES], task="classification", classes=[0, 1])
    model = GuardedModel(SGDClassifier(loss="log_loss", random_state=0), schema)
    model.model.partial_fit(df[FEATURES].iloc[:20], df["default"].iloc[:20], classes=[0, 1])  # a weak start
    reg = get_registry(home)
    v1 = reg.register(ModelCandidate(name="scorer", model=model, schema=schema.signature(), metrics={"accuracy": 0.5}),
                      environment="dev", actor="pytest").version
    save_baseline(home, "scorer", v1, profile_model(model, df.iloc[:200]))
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint="scorer", model="scorer", version=v1))
    store = DeploymentStore(home)
    _, state = store.require("scorer")
    state.capture_rate = 1.0
    store.put("scorer", state)
    return v1, df


def _label_600_requests(home, df):
    """600 requests to the endpoint, each labelled with its true outcome through feedback."""
    deployer = EmbeddedDeployer(home)
    with serve_in_thread(ModelServer("scorer", home=home)) as url:
        client = Client(url)
        labels = []
        for _, row in df.iloc[200:800].iterrows():
            reply = client.invoke({f: float(row[f]) for f in FEATURES})
            labels.append((reply.headers["x-request-id"], float(row["default"])))
        deployer.feedback("scorer", labels)
        client.close()


def test_a_labels_trigger_updates_the_serving_model_with_partial_fit(home, tmp_path):
    v1, df = _serve_a_weak_sgd_model(home)
    reg = get_registry(home)
    config = tmp_path / "triggers.yaml"
    config.write_text(json.dumps({"pipelines": {"scorer": {"file": str(FIXTURES / "tiny_retrain.py"), "triggers": [
        {"name": "labels", "kind": "labels", "endpoint": "scorer", "new_rows": 300, "incremental": True}]}}}))
    cfg = load_triggers(config)
    t0 = time.time() - 1
    assert not evaluate(cfg, home, base_dir=tmp_path, now=t0)[0].fire  # arms the trigger
    _label_600_requests(home, df)
    time.sleep(0.1)
    decision = evaluate(cfg, home, base_dir=tmp_path)[0]
    assert decision.fire and "partial_fit of 1.0.0 on 600 rows" in decision.reason, decision.reason
    new = reg.list("scorer")[0]
    assert new.version != v1 and new.lineage["incremental_from"] == v1
    assert new.lineage["trigger"]["triggers"] == ["labels"] and "600 new labelled rows" in new.lineage["trigger"]["reason"]
    assert new.metrics["holdout_rows"] == 120
    # the update went through the gate and the environment's approval rules
    assert (new.status == "Approved") == new.gates_passed
    assert new.gates_passed and new.metrics["accuracy"] >= new.metrics["base_accuracy"] - 0.01
    assert TriggerState(home).launches()[-1]["status"].startswith(f"incremental {new.version}")
    # a second evaluation right away: cooldown (default 1h) holds it back
    assert evaluate(cfg, home, base_dir=tmp_path)[0].fire is False


def test_an_update_that_fails_its_gate_is_rejected_and_never_serves(home):
    from modelway.triggers.incremental import update

    v1, df = _serve_a_weak_sgd_model(home)
    since = time.time() - 1
    _label_600_requests(home, df)
    # a gate no update can pass: the holdout accuracy would have to rise by more than 100 points
    result = update(home, "scorer", since=since, reason="pytest", trigger={"triggers": ["labels"]}, max_regression=-1.0)
    assert result["incremental"] and result["gates_passed"] is False and result["base_version"] == v1
    version = get_registry(home).get("scorer", result["version"])
    assert version.status == "Rejected" and not version.gates_passed
    assert DeploymentStore(home).require("scorer")[1].variants == {v1: 1.0}  # traffic never moved
