"""Serving memory and throughput per version, against the previous version: measured at load, monitored, alerted."""
from __future__ import annotations

import io

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.monitoring.monitor import MonitorConfig, run_monitor
from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.resources import measure_load
from modelway.serving.state import DeploymentStore
from tests.serving.helpers import Bloated, Slow, register

EP = "credit-risk"


def _serving(home, version: str, previous: str) -> None:
    """``version`` serves all traffic with ``previous`` on standby (as after a promotion); a server loads both."""
    store = DeploymentStore(home)
    _, state = store.require(EP)
    state.variants, state.incumbent, state.standby = {version: 1.0}, version, previous
    store.put(EP, state)
    with serve_in_thread(ModelServer(EP, home=home)):
        pass  # loading measures every version the state holds


def test_load_measures_the_memory_a_model_holds():
    _, mb = measure_load(lambda: bytearray(20 * 2**20))
    assert 19.5 < mb < 21


def test_a_version_that_needs_more_memory_and_scores_slower_is_alerted(home, credit):
    v1 = register(home, credit)
    fat = register(home, credit, Bloated(credit.model, 30, 0.05), tag="bloated")
    same = register(home, credit, Slow(credit.model, 0.0), tag="same")
    EmbeddedDeployer(home).deploy(DeployRequest(endpoint=EP, model=EP, version=v1, contract_max_p95_ms=60_000))
    stream = io.StringIO()

    _serving(home, fat, v1)
    report = run_monitor(home, EP, window_s=600, alerter=LogAlerter(home, stream=stream))
    res = report.resources
    assert res["previous"]["version"] == v1
    assert res["model_mb"] > res["previous"]["model_mb"] + 25  # the 30 MB it holds
    assert res["predict_peak_mb"] > res["previous"]["predict_peak_mb"] + 25  # the 30 MB each call allocates
    assert res["rows_per_s"] < res["previous"]["rows_per_s"] * 0.67  # 50 ms more per 200-row probe
    kinds = [a.kind for a in report.alerts]
    assert kinds.count("memory") == 2 and "throughput" in kinds, kinds
    assert "ALERT [warning] credit-risk: memory - memory held by the model" in stream.getvalue()
    sink = SqliteMetricsSink(home)
    assert [round(m.value, 3) for m in sink.query("serving.model_mb", {"version": fat})] == [res["model_mb"]]

    _serving(home, same, v1)
    report = run_monitor(home, EP, window_s=600, alerter=LogAlerter(home, stream=stream))
    assert report.resources["previous"]["version"] == v1
    assert "memory" not in [a.kind for a in report.alerts]  # the same model: within 1.5x + 5 MB
    # the thresholds come from the config: the bloated version passes when 64 MB more are allowed
    _serving(home, fat, v1)
    loose = MonitorConfig(memory_slack_mb=64.0, min_throughput_ratio=0.01)
    report = run_monitor(home, EP, window_s=600, config=loose, alerter=LogAlerter(home, stream=stream))
    assert not {"memory", "throughput"} & {a.kind for a in report.alerts}
