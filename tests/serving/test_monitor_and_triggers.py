"""`modelway monitor` on captured traffic (alerts to a real webhook), and triggers: once per cooldown, cap, lineage."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.serving.state import DeploymentStore
from modelway.monitoring.base import Metric
from modelway.monitoring.monitor import MonitorConfig, run_monitor
from modelway.monitoring.sinks import SqliteMetricsSink
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from modelway.triggers.config import load_triggers
from modelway.triggers.engine import TriggerState, evaluate
from tests.serving.helpers import records, register

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def webhook():
    """A real HTTP receiver on a free loopback port; yields (url, received bodies)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def _serve_and_send(home, credit, frame):
    version = register(home, credit)
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint="credit-risk", model="credit-risk", version=version))
    store = DeploymentStore(home)
    _, state = store.require("credit-risk")
    state.capture_rate = 1.0
    store.put("credit-risk", state)
    with serve_in_thread(ModelServer("credit-risk", home=home)) as url:
        client = Client(url)
        rows = records(frame, credit.features)
        for start in range(0, len(rows), 20):  # small batches: many captured requests, quickly
            assert client.invoke(rows[start:start + 20]).status == 200
        client.invoke([{**rows[0], "age": "old"}])  # a rejected one shows up as a schema violation
        client.close()
    return version


def test_monitor_flags_drifted_traffic_and_alerts_the_webhook(home, credit, webhook):
    url, received = webhook
    drifted = credit.test.copy()
    drifted["age"] = drifted["age"] + 15
    drifted["annual_income"] = drifted["annual_income"] * 0.5
    version = _serve_and_send(home, credit, drifted)
    report = run_monitor(home, "credit-risk", window_s=3600, config=MonitorConfig(webhook_url=url))
    assert report.rows == len(drifted) and report.version == version
    assert {"age", "annual_income"} <= set(report.drift.drifted_features)
    assert report.quality["rejected"] == 1 and report.quality["rejected_by_field"] == {"age": 1}
    kinds = {a.kind for a in report.alerts}
    assert "drift" in kinds
    assert any("age" in body["text"] and body["kind"] == "drift" for body in received)
    psi = SqliteMetricsSink(home).query("drift.psi", {"model": "credit-risk", "feature": "age"})
    assert psi and psi[-1].value >= 0.2


def test_monitor_is_quiet_on_traffic_like_the_training_data(home, credit):
    _serve_and_send(home, credit, credit.train.sample(1000, random_state=1))
    report = run_monitor(home, "credit-risk", window_s=3600)
    assert report.drift.drifted_features == []
    assert [a.kind for a in report.alerts] == []


def _config(tmp_path: Path, *, cooldown: str = "1h", max_concurrent: int = 1, sleep_s: float = 0.0,
            pipelines=("a",)) -> Path:
    body = {"max_concurrent": max_concurrent, "pipelines": {
        name: {"file": str(FIXTURES / "tiny_retrain.py"), "params": {"sleep_s": sleep_s}, "cooldown": cooldown,
               "triggers": [{"name": "drift", "kind": "drift", "model": "credit-risk", "max_drifted_features": 1}]}
        for name in pipelines}}
    path = tmp_path / "triggers.yaml"
    path.write_text(json.dumps(body))  # JSON is YAML
    return path


def _drift_seen(home: Path, when: float, drifted: int = 3) -> None:
    SqliteMetricsSink(home).put([Metric("drift.features_drifted", drifted, {"model": "credit-risk", "version": "1.0.0"}, when)])


def test_a_trigger_fires_once_per_cooldown_and_records_the_reason_in_lineage(home, tmp_path):
    cfg = load_triggers(_config(tmp_path, cooldown="1h"))
    t0 = time.time()
    assert [d.fire for d in evaluate(cfg, home, base_dir=tmp_path, now=t0)] == [False]  # nothing observed yet
    _drift_seen(home, t0 + 1)
    first = evaluate(cfg, home, base_dir=tmp_path, now=t0 + 2, wait=True)
    assert first[0].fire and first[0].status == "succeeded", first
    from modelway.runtime.context import stores

    lineage = stores(home)[0].get_run(first[0].run_id)["lineage"]
    assert lineage["trigger"]["triggers"] == ["drift"] and "3 drifted feature(s)" in lineage["trigger"]["reason"]
    # the condition stays true: later passes keep reporting drift, but the cooldown holds it back
    for minutes in (5, 30, 59):
        _drift_seen(home, t0 + minutes * 60)
        d = evaluate(cfg, home, base_dir=tmp_path, now=t0 + minutes * 60 + 1)[0]
        assert not d.fire and d.reason.startswith("cooling down")
    _drift_seen(home, t0 + 3700)
    again = evaluate(cfg, home, base_dir=tmp_path, now=t0 + 3701, wait=True)[0]
    assert again.fire and again.status == "succeeded"
    assert len(TriggerState(home).launches()) == 2


def test_dry_run_decides_and_launches_nothing(home, tmp_path):
    cfg = load_triggers(_config(tmp_path))
    _drift_seen(home, time.time())
    decisions = evaluate(cfg, home, base_dir=tmp_path, dry_run=True)
    assert decisions[0].fire and decisions[0].reason.startswith("drift: monitor at")
    assert TriggerState(home).launches() == []


def test_the_concurrency_cap_holds_retrains_back(home, tmp_path):
    cfg = load_triggers(_config(tmp_path, max_concurrent=1, sleep_s=3.0, pipelines=("a", "b")))
    now = time.time()
    _drift_seen(home, now)
    decisions = {d.pipeline: d for d in evaluate(cfg, home, base_dir=tmp_path, now=now + 1)}
    assert decisions["a"].fire and not decisions["b"].fire
    assert decisions["b"].reason.startswith("concurrency cap: 1 retrain(s) running")
    _drift_seen(home, now + 1.5)
    again = {d.pipeline: d for d in evaluate(cfg, home, base_dir=tmp_path, now=now + 2)}
    assert again["a"].reason.startswith("already retraining")
    from modelway.triggers.engine import _wait

    _wait(TriggerState(home), decisions["a"].launch_id)


def test_schedule_triggers_follow_cron(home, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps({"pipelines": {"nightly": {"file": str(FIXTURES / "tiny_retrain.py"), "triggers": [
        {"name": "hourly", "kind": "schedule", "cron": "0 * * * *"}]}}}))
    cfg = load_triggers(path)
    t0 = 1_800_000_000.0 + 60  # one minute past a full hour
    assert not evaluate(cfg, home, base_dir=tmp_path, now=t0, dry_run=True)[0].fire
    assert not evaluate(cfg, home, base_dir=tmp_path, now=t0 + 3000, dry_run=True)[0].fire
    due = evaluate(cfg, home, base_dir=tmp_path, now=t0 + 3600, dry_run=True)[0]
    assert due.fire and "was due at" in due.reason


def test_a_bad_triggers_file_is_one_line_naming_the_key(tmp_path):
    from modelway.errors import ConfigError

    path = tmp_path / "t.yaml"
    path.write_text(json.dumps({"pipelines": {"p": {"file": "x.py", "triggers": [{"name": "n", "kind": "schedule",
                                                                                   "cron": "every day"}]}}}))
    with pytest.raises(ConfigError, match=r"t.yaml: pipelines.p.triggers.0: .*not a valid cron expression"):
        load_triggers(path)
