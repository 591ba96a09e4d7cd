"""What ``modelway monitor | triggers`` print, line for line: the monitoring report for fixed
figures (every section, each window unit at its boundaries), the trigger decisions and launches.
The monitor and trigger engines are stand-ins that record what the command asked of them."""
from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import modelway.cli.monitoring as monitoring
from modelway.monitoring.base import Alert

from tests.cli.cli_inprocess import invoke, utc


def _feature(name: str, kind: str, psi: float, test: str, p: float | None, missing: float, *, drifted: bool = False,
             quality: bool = False, reasons: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(name=name, kind=kind, psi=psi, test=test, p_value=p, missing_rate=missing, drifted=drifted,
                           quality_breach=quality, reasons=list(reasons))


def _report(**overrides: Any) -> SimpleNamespace:
    fields = dict(
        model="credit-risk", version="1.2.0", source="endpoint credit", rows=1234, window_s=3600.0,
        drift=SimpleNamespace(
            features={"age": _feature("age", "numeric", 0.3141, "KS", 0.000123, 0.0),
                      "income-with-a-long-name-xx": _feature("income-with-a-long-name-xx", "numeric", 0.05, "KS", 0.5, 0.125,
                                                         drifted=True, reasons=("PSI 0.31 > 0.2", "KS p < 0.01")),
                      "city": _feature("city", "categorical", 0.0, "chi2", None, 0.5, quality=True,
                                       reasons=("missing 50% > 10%", "3 unseen categories"))},
            prediction=_feature("prediction", "numeric", 1.5, "KS", 1e-9, 0.0)),
        quality={"scored": 100, "rejected": 5, "rejected_share": 0.04762, "rejected_by_field": {"age": 5}},
        performance={"accuracy": 0.81234, "labelled": 40, "registered_accuracy": 0.9},
        latency={"p95_ms": 12.345, "throughput_rps": 3.5, "previous": {"version": "1.1.0", "p95_ms": None}},
        resources={"model_mb": 1.25, "predict_peak_mb": 40.04, "rows_per_s": 1234.5,
                   "previous": {"version": "1.1.0", "model_mb": 1.0, "predict_peak_mb": 30.0, "rows_per_s": 999.4}},
        staleness={"age_days": 12, "limit_days": 30.0},
        alerts=[Alert("warning", "drift", "credit-risk", "2 features drifted"),
                Alert("critical", "staleness", "credit-risk", "too old")],
    )
    fields.update(overrides)
    return SimpleNamespace(**fields)


def _printed(capsys, report: SimpleNamespace) -> list[str]:
    capsys.readouterr()
    monitoring._print_report(report)
    return capsys.readouterr().out.splitlines()


def test_the_report_prints_every_section(capsys) -> None:
    assert _printed(capsys, _report()) == [
        "monitor credit-risk 1.2.0 (endpoint credit, last 1h): 1234 rows",
        "  feature                 kind             PSI  test   p-value  missing  verdict",
        "  age                     numeric        0.314    KS   0.00012    0.0%  ok",
        "  income-with-a-long-name-xxnumeric        0.050    KS       0.5   12.5%  DRIFT PSI 0.31 > 0.2; KS p < 0.01",
        "  city                    categorical    0.000  chi2             50.0%  QUALITY missing 50% > 10%; 3 unseen categories",
        "  prediction              numeric        1.500    KS     1e-09    0.0%  ok",
        "  quality    100 scored, 5 rejected (4.8%) by field {'age': 5}",
        "  accuracy   0.812 on 40 labelled requests (registered 0.9)",
        "  latency    p95 12.3 ms, 3.5 req/s (previous 1.1.0: p95 n/a)",
        "  resources  model 1.2 MB, predict peak 40.0 MB, 1234 rows/s (previous 1.1.0: 1.0 MB, 30.0 MB, 999 rows/s)",
        "  staleness  12 days old (limit 30)",
        "  alerts     2",
        "    [warning] credit-risk: drift - 2 features drifted",
        "    [critical] credit-risk: staleness - too old",
    ]


def test_the_report_leaves_out_what_was_not_measured(capsys) -> None:
    report = _report(drift=None, quality={"scored": 0, "rejected": 0}, performance={}, resources={}, alerts=[],
                     latency={"p95_ms": None, "throughput_rps": 0.0}, staleness={"age_days": 0, "limit_days": 30.4})
    assert _printed(capsys, report)[1:] == [
        "  drift      not judged: fewer rows than min_rows",
        "  quality    0 scored, 0 rejected (0.0%)",
        "  latency    p95 n/a, 0.0 req/s",
        "  staleness  0 days old (limit 30)",
        "  alerts     0",
    ]
    no_prediction = _report(drift=SimpleNamespace(features={}, prediction=None), latency={}, alerts=[],
                            performance={"accuracy": None, "labelled": 0, "registered_accuracy": None},
                            resources={"model_mb": 2.0, "predict_peak_mb": 3.0, "rows_per_s": 10.0})
    assert _printed(capsys, no_prediction)[1:4] == [
        "  feature                 kind             PSI  test   p-value  missing  verdict",
        "  quality    100 scored, 5 rejected (4.8%) by field {'age': 5}",
        "  accuracy   n/a on 0 labelled requests (registered None)"]
    assert _printed(capsys, no_prediction)[4] == "  resources  model 2.0 MB, predict peak 3.0 MB, 10 rows/s"


@pytest.mark.parametrize("seconds, span", [
    (1, "1s"), (59, "59s"), (59.5, "59.5s"), (60, "1m"), (90, "1.5m"), (3599, "59.9833m"), (3600, "1h"),
    (5400, "1.5h"), (86399, "23.9997h"), (86400, "1d"), (172800, "2d"),
])
def test_the_window_is_said_in_its_largest_whole_unit(capsys, seconds: float, span: str) -> None:
    assert _printed(capsys, _report(window_s=seconds))[0] == f"monitor credit-risk 1.2.0 (endpoint credit, last {span}): 1234 rows"


@pytest.fixture()
def engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """run_monitor, the monitoring page and the trigger engine record their calls; the home is tmp_path."""
    import modelway.monitoring.monitor as monitor
    import modelway.monitoring.report as page
    import modelway.triggers.config as triggers_config
    import modelway.triggers.engine as engine

    calls: dict[str, list] = {"monitor": [], "page": [], "evaluate": [], "stack": []}
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))

    class Backends:
        def metrics_sink(self, home: Path) -> str:
            return f"sink@{home}"

        def alerter(self, home: Path, webhook: Any) -> str:
            return f"alerter@{home}:{webhook}"

    def use_stack(stack: Any, outputs: Any) -> Backends:
        calls["stack"].append((stack, outputs))
        return Backends()

    def run_monitor(home: Path, model: str, **kwargs: Any) -> Any:
        calls["monitor"].append((home, model, kwargs))
        return calls["report"]

    monkeypatch.setattr(monitoring, "use_stack", use_stack)
    monkeypatch.setattr(monitor, "run_monitor", run_monitor)
    monkeypatch.setattr(monitor, "load_config", lambda path: SimpleNamespace(path=path, webhook_url="https://hook"))
    monkeypatch.setattr(page, "write_monitoring_page", lambda home, report, path: calls["page"].append((home, path)))
    monkeypatch.setattr(triggers_config, "load_triggers", lambda path: f"cfg:{path.name}")
    monkeypatch.setattr(engine, "evaluate", lambda cfg, home, **kw: calls["evaluate"].append((cfg, home, kw))
                        or calls["decisions"])
    return calls


def test_monitor_passes_the_options_and_exits_1_on_an_alert(capsys, engines: dict, tmp_path: Path) -> None:
    engines["report"] = report = _report(drift=None, performance={}, latency={}, resources={})
    report.to_dict = lambda: {"model": "credit-risk", "alerts": 2}
    done = invoke(capsys, "monitor", "credit-risk", "-e", "credit", "--window", "2h", "--data", "x.csv", "-c", "m.yaml",
                  "--html", str(tmp_path / "page.html"), "--stack", "prod")
    assert done.code == 1, done.err
    lines = done.out.splitlines()
    assert lines[0] == "monitor credit-risk 1.2.0 (endpoint credit, last 1h): 1234 rows"
    assert lines[-1] == f"monitoring page: {tmp_path / 'page.html'}"
    assert lines[-2] == "    [critical] credit-risk: staleness - too old"
    [(home, model, kwargs)] = engines["monitor"]
    assert (home, model) == (tmp_path, "credit-risk")
    assert kwargs == {"endpoint": "credit", "window_s": 7200.0, "data": Path("x.csv"),
                      "config": kwargs["config"], "sink": f"sink@{tmp_path}", "alerter": f"alerter@{tmp_path}:https://hook"}
    assert kwargs["config"].path == Path("m.yaml")
    assert engines["page"] == [(tmp_path, tmp_path / "page.html")] and engines["stack"] == [("prod", None)]

    report.alerts = []
    done = invoke(capsys, "monitor", "credit-risk", "--json")
    assert (done.code, done.out) == (0, '{\n  "model": "credit-risk",\n  "alerts": 2\n}\n')
    assert engines["monitor"][-1][2]["endpoint"] is None and engines["monitor"][-1][2]["window_s"] == 3600.0
    assert engines["monitor"][-1][2]["config"].path is None and len(engines["page"]) == 1


def test_triggers_evaluate_says_what_it_decided(capsys, engines: dict, tmp_path: Path) -> None:
    from modelway.triggers.engine import Decision

    engines["decisions"] = [
        Decision("training", True, "drift on age", ["drift"], launch_id=3, run_id="r-1", status="succeeded"),
        Decision("scoring", True, "schedule due", ["schedule"], launch_id=4),
        Decision("a-pipeline-name-over-20", False, "nothing fired", ["drift"]),
    ]
    config = tmp_path / "t.yaml"
    done = invoke(capsys, "triggers", "evaluate", "-c", str(config), "--wait")
    assert done.out.splitlines() == [
        "training             launched     drift on age -> run r-1 succeeded",
        "scoring              launched     schedule due (launch 4)",
        "a-pipeline-name-over-20 skip         nothing fired",
    ]
    assert engines["evaluate"] == [("cfg:t.yaml", tmp_path, {"base_dir": tmp_path, "dry_run": False, "wait": True})]
    dry = invoke(capsys, "triggers", "evaluate", "--config", str(config), "--dry-run")
    assert dry.out.splitlines()[:2] == ["training             would launch drift on age -> run r-1 succeeded",
                                        "scoring              would launch schedule due (launch 4)"]
    assert engines["evaluate"][-1][2] == {"base_dir": tmp_path, "dry_run": True, "wait": False}
    text = invoke(capsys, "triggers", "evaluate", "-c", str(config), "--json").out
    assert text.startswith('[\n  {\n    "pipeline": "training",\n')
    doc = json.loads(text)
    assert doc[1] == {"pipeline": "scoring", "fire": True, "reason": "schedule due", "triggers": ["schedule"],
                      "launch_id": 4, "run_id": None, "status": None}


def test_triggers_watch_evaluates_the_given_number_of_times(capsys, engines: dict, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.triggers.engine import Decision

    engines["decisions"] = [Decision("training", True, "drift", ["drift"]), Decision("scoring", False, "quiet", [])]
    slept: list[float] = []
    monkeypatch.setattr(monitoring.time, "sleep", slept.append)
    strftime = monitoring.time.strftime
    monkeypatch.setattr(monitoring.time, "strftime", lambda fmt, *a: strftime(fmt, monitoring.time.gmtime(43200)))
    done = invoke(capsys, "triggers", "watch", "-c", str(tmp_path / "t.yaml"), "-i", "30s", "--max-evaluations", "2")
    assert done.out.splitlines() == ["12:00:00 training             launched  drift", "12:00:00 scoring              skip      quiet"] * 2
    assert slept == [30.0]  # between evaluations, not after the last
    assert [kw for _, _, kw in engines["evaluate"]] == [{"base_dir": tmp_path, "dry_run": False, "wait": False}] * 2
    flushed: list[str] = []

    class Stream(io.StringIO):
        def flush(self) -> None:
            flushed.append(self.getvalue())

    monkeypatch.setattr(monitoring.sys, "stdout", Stream())
    monitoring.triggers_watch(config=tmp_path / "t.yaml", interval="1s", max_evaluations=1)
    assert flushed == ["12:00:00 training             launched  drift\n",
                       "12:00:00 training             launched  drift\n12:00:00 scoring              skip      quiet\n"]



def test_triggers_status_lists_the_launches(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelway.triggers.engine import TriggerState

    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    assert invoke(capsys, "triggers", "status").out == "no trigger launches yet\n"
    store = TriggerState(tmp_path)
    first = store.add_launch("training", ["drift"], "drift on age", None, None, 1764806400.0)
    store.finish(first, "succeeded", "r-1")
    second = store.add_launch("scoring", ["schedule"], "schedule due", None, None, 1764806461.0)
    store.finish(second, "failed", None)
    with utc():
        done = invoke(capsys, "triggers", "status")
    assert done.out.splitlines() == [
        "   1 2025-12-04 00:00:00 training           succeeded  run r-1  drift on age",
        "   2 2025-12-04 00:01:01 scoring            failed     run -  schedule due",
    ]
    text = invoke(capsys, "triggers", "status", "--json").out
    assert text.startswith('[\n  {\n    "id": 1,\n')
    rows = json.loads(text)
    assert [(r["id"], r["pipeline"], r["status"], r["run_id"]) for r in rows] == [(1, "training", "succeeded", "r-1"),
                                                                                 (2, "scoring", "failed", None)]


def test_baseline_needs_a_version(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    done = invoke(capsys, "baseline", "credit-risk", "--data", "x.csv")
    assert (done.code, done.err) == (2, "error: expected MODEL@VERSION, got 'credit-risk'\n")


def test_baseline_computes_and_saves_the_profile(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import modelway.monitoring.monitor as monitor
    import modelway.profiling.profile as profile

    calls: list = []
    registry = SimpleNamespace(get=lambda name, version: SimpleNamespace(
        schema={"features": [["age", "numeric"], ["city", "categorical"]]}))
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.setattr(monitoring, "get_registry", lambda home: calls.append(("registry", home)) or registry)
    monkeypatch.setattr(monitor, "file_frame", lambda reg, name, version, data: calls.append(
        ("frame", reg is registry, name, version, data)) or (["r1", "r2", "r3"], "scores"))
    monkeypatch.setattr(profile, "build_profile", lambda frame, kinds, predictions: ("profile", kinds, predictions))
    monkeypatch.setattr(profile, "save_baseline", lambda home, name, version, built: calls.append(
        ("save", home, name, version, built)) or tmp_path / "baseline.json")
    done = invoke(capsys, "baseline", "credit-risk@1.2.0", "--data", "train.csv")
    assert (done.code, done.out) == (0, f"baseline of credit-risk 1.2.0 from 3 rows: {tmp_path / 'baseline.json'}\n")
    assert calls == [("registry", tmp_path), ("frame", True, "credit-risk", "1.2.0", Path("train.csv")),
                     ("save", tmp_path, "credit-risk", "1.2.0",
                      ("profile", {"age": "numeric", "city": "categorical"}, "scores"))]
