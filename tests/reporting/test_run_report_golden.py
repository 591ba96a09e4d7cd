"""``modelway runs report`` as a person reads it: the page rendered from fixed run data (an ML run that
registered a model, a failed run, plain pipelines with outputs) and compared with
``golden/run_report.html``; plus the parts a golden file cannot explain (what is left out, links to
files that exist).

Local times are rendered in UTC here (TZ is set for the test) and temporary paths are replaced by
``TMP``, so the golden file is the same on every machine.
Regenerate after an intended change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/test_run_report_golden.py``.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.reporting import run_report as rr
from tests.reporting.golden_html import assert_matches_golden
from tests.reporting.test_evidence_blocks_golden import EVIDENCE, SCORE
from tests.reporting.test_html_blocks_golden import CARD, CHECKS
from tests.reporting.test_monitoring_report_golden import _history

T0 = 1764158400.0  # 2025-11-26 12:00:00 UTC


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC for the test (the report shows the start time in local time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _step(name: str, status: str = "succeeded", **extra) -> dict:
    return {"name": name, "status": status, "cached": False, "attempts": 1, "duration_s": 1.5, "cpu_s": 1.25, "peak_rss_mb": 120.4,
            "error": None, "upstream": []} | extra


def _ml_run(card_html: Path) -> dict:
    steps = [_step("load", cached=True, duration_s=0.01, cpu_s=None, peak_rss_mb=None), _step("validate", upstream=["load"]),
             _step("train", upstream=["validate"], attempts=2, duration_s=63.456), _step("evaluate", upstream=["train"]),
             _step("register", upstream=["evaluate"], duration_s=None)]
    run = {"run_id": "20261126-120000-ab12cd", "pipeline": "credit <risk>", "status": "succeeded", "created_at": T0,
           "started_at": T0 + 1, "ended_at": T0 + 67.25, "executor": "local", "steps": steps,
           "params": {"env": "", "rows": 5000, "note": "", "tags": ["a", "b"]},
           "outputs": {"result": {"model": "credit", "version": "1.2.0"}},
           "lineage": {"git": {"commit": "0123abc", "dirty": True}, "pipeline_file": {"path": "pipelines/credit.py"},
                       "python": {"version": "3.12.1"}, "packages": {"scikit-learn": "1.5.0", "pandas": "2.2.2"}},
           "datasets": [{"name": "credit", "version": "v3", "step": "load"}, {"name": "bureau", "version": "2026-11", "step": "load"}]}
    validation = {"passed": False, "summary": "validation FAILED: 1 of 2 checks failed", "context": {
        "units": {"income": "EUR"}, "id_columns": ["customer_id"]}, "checks": [
        {"name": "quality.out_of_range.age", "passed": False, "observed": 0.01, "limit": 0, "count": 2,
         "examples": [{"_row": 3, "customer_id": 1003, "age": 999, "income": 52000.5, "column": "income"}, {"_row": 9, "customer_id": 1009, "age": -1},
                      {"_row": 11, "age": 150}, {"_row": 12, "age": 151}]},
        {"name": "quality.row_count", "passed": True, "observed": 5150, "limit": "[200, 5000000]",
         "examples": [{"_row": 1}]}]}  # a passed check's examples are not shown
    report = {"passed": True, "summary": "model tests passed", "checks": CHECKS + [
        {"name": "slice.south.accuracy", "passed": False, "examples": ["not a record"]},
        {"name": "quality.mae", "passed": False, "examples": [{"column": "x", "value": 1}], "observed": 3, "limit": 2},
        # columns in the validation's units and ids: money in its currency, ids as they are
        {"name": "quality.out_of_range.income", "passed": False, "examples": [{"_row": 4, "income": 5.5, "customer_id": 77000}]}]}
    card = CARD | {"ml_test_score": SCORE, "evidence": {"importance": EVIDENCE["importance"]}, "class_names": ["repaid", "defaulted"]}
    registered = {"model": "credit", "version": "1.2.0", "version_reason": "minor: new feature", "environment": "staging",
                  "status": "Pending", "artifact_sha256": "cd" * 32, "run_id": "20261126-120000-ab12cd", "mlflow_run_id": "mlf<1>",
                  "model_card_path": str(card_html.with_suffix(".md")), "mlflow_ui": "http://mlflow:5000/#/runs/mlf1"}
    model = {"artifact_sha256": "ef" * 32, "status": "Approved", "environment": "prod", "decided_by": "modelway-auto", "decided_at": "2026-11-26T12:02:00+00:00",
             "decision_reason": "dev/staging rules", "model_card_path": str(card_html.with_suffix(".md"))}
    return {"run": run, "outputs": {"register": registered, "evaluate": {"predictions": {"y_true": [1.0, 2.0], "y_pred": [1.5, 1.0]}}},
            "attachments": {"validation_report": validation, "model_card": card, "evaluation_report": report,
                            "performance_history": {"summary": "as fast as before", "checks": [
                                {"name": "performance.train.duration", "passed": True, "observed": 1.1, "limit": 2}]}},
            "model": model, "monitoring": _history()}


def _failed_run() -> dict:
    steps = [_step("load"), _step("train", "failed", upstream=["load"], error="ValueError: boom <1>",
                                  traceback="Traceback (most recent call last):\n  File \"x.py\"\nValueError: boom <1>\n\n"),
             _step("audit", "cancelled", upstream=["load"], error="cancelled: upstream failed"),
             _step("score", "failed", upstream=["train"], error=None, traceback="Traceback: only a traceback"),
             _step("late", "failed", error="different error", traceback=None), _step("skip", "skipped", error="ignored: not failed")]
    run = {"run_id": "20261126-130000-ff00ff", "pipeline": "credit", "status": "failed", "created_at": T0 + 3600,
           "started_at": None, "ended_at": None, "error": "step train failed: ValueError: boom <1>", "steps": steps,
           "params": {"env": None}, "outputs": None, "lineage": {"git": {"dirty": False}}}
    return {"run": run, "attachments": {}, "outputs": {}}


def _plain(outputs, *, status: str = "running", registered=None, params=None) -> dict:
    run = {"run_id": "r1", "pipeline": "toy", "status": status, "created_at": T0, "executor": "k8s",
           "steps": [_step("numbers", duration_s=None, cpu_s=None, peak_rss_mb=None, attempts=0)], "outputs": outputs,
           "params": params or {}}
    return {"run": run, "attachments": {}, "outputs": {"register": registered} if registered is not None else {}}


def _regression_from_outputs() -> dict:
    """The card, report and predictions come from the evaluate step's own output (no attachments)."""
    card = {"task": "regression", "metrics": {"mae": 12.5}, "training": {"best_params": {"alpha": 1.0}},
            "fairness": {"sensitive": "region", "by_group": {"n": {"mae": 10.0}, "s": {"mae": 14.0}}, "max_relative_mae_gap": 0.3},
            "checks": [{"name": "fairness.region.relative_mae_gap", "passed": True, "limit": 0.5}]}
    evaluation = {"card": card, "report": {"passed": False, "summary": "1 FAILED", "checks": [
                      {"name": "fairness.region.relative_mae_gap", "passed": False, "limit": 0.25}]},
                  "predictions": {"y_true": [10.0, 20.0, 30.0], "y_pred": [12.0, 18.0, 33.0]}}
    data = _plain({"result": {"mae": 12.5}}, status="succeeded")
    data["outputs"] = {"evaluate": evaluation, "register": "not a dict"}
    return data


def _cases(tmp_path: Path) -> dict[str, str]:
    card_html = tmp_path / "cards" / "model_card.html"
    card_html.parent.mkdir()
    card_html.write_text("<html></html>")
    missing = tmp_path / "gone" / "model_card.md"
    ml = _ml_run(card_html)
    without_record = _ml_run(card_html) | {"model": None, "monitoring": None}
    without_record["outputs"]["register"] |= {"model_card_path": str(missing), "mlflow_run_id": None, "status": "Pending"}
    rejected = _ml_run(card_html) | {"model": {"status": "Rejected", "decided_by": "bo <b>", "decided_at": "2026-11-27"}}
    rejected["outputs"]["register"].pop("model_card_path")
    rejected["attachments"]["predictions"] = {"y_true": [3.0, 1.0], "y_pred": [2.0, 2.5]}  # attached wins over the output's
    rejected["attachments"]["model_card"] = {k: v for k, v in ml["attachments"]["model_card"].items() if k != "evidence"}
    without_record["attachments"]["model_card"] = {k: v for k, v in ml["attachments"]["model_card"].items() if k != "ml_test_score"}
    cases = {
        "ml_run": rr.render_run_report(ml),
        "ml_run_as_recorded": rr.render_run_report(without_record),
        "ml_run_rejected": rr.render_run_report(rejected),
        "failed_run": rr.render_run_report(_failed_run()),
        "regression_from_outputs": rr.render_run_report(_regression_from_outputs()),
        "outputs_single_value_long": rr.render_run_report(_plain({"result": list(range(30))})),
        "outputs_single_value_short": rr.render_run_report(_plain({"result": {"a": 1}}, params={"env": "prod", "n": ""})),
        "outputs_dict": rr.render_run_report(_plain({"count": 5, "total": 10.5, "rows": [{"a": "<b>"}] * 5, "ok": None,
                                                    "tags": ["a", "<b>"]})),
        "outputs_scalar_and_registered_equal": rr.render_run_report(_plain({"result": 7})) + rr.render_run_report(
            _plain({"model": "m"}, registered={"model": "m"})),
        "error_banner_step_only": rr._error_banner({"run_id": "r2", "steps": [_step("a", "failed", error="boom")]}),
        "error_banner_run_only": rr._error_banner({"run_id": "r3", "error": "lost the executor", "steps": [_step("a")]}),
        "error_banner_none": rr._error_banner({"run_id": "r4", "steps": [_step("a", "failed"), _step("b", "succeeded", error="x")]}),
        "outputs_empty": "".join(rr.render_run_report(_plain(o)) for o in (None, {}, [], {"result": None})),
    }
    return {k: v.replace(str(tmp_path), "TMP") for k, v in cases.items()}


def test_run_report_matches_the_golden_file(tmp_path: Path, utc) -> None:
    assert_matches_golden("run_report.html", _cases(tmp_path))


def test_card_link_points_at_the_html_next_to_the_recorded_card(tmp_path: Path) -> None:
    card = tmp_path / "c d" / "model_card.md"
    assert rr._card_link(None) == "" and rr._card_link({}) == ""
    assert rr._card_link({"model_card": str(card)}) == f"<code>{card}</code>"  # no HTML next to it (yet)
    card.parent.mkdir()
    card.with_suffix(".html").write_text("x")
    link = rr._card_link({"model_card": str(card), "model_card_path": None})
    assert link == (f"<a href='{card.with_suffix('.html').as_uri()}'>model_card.html</a> "
                    f"<span class=muted>({card.parent}; also .md and .json)</span>") and "c%20d" in link


def test_report_paths_a_user_typed_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^report path .*r\.html: directory .*missing does not exist$"):
        rr.write_run_report("latest", tmp_path / "missing" / "r.html", home=tmp_path)
    with pytest.raises(UserError, match=rf"^runs report: there is no Modelway home at {tmp_path / 'nohome'}; run this in your "
                                        "project directory or set MODELWAY_HOME to the home your runs use$"):
        rr.collect_run("latest", tmp_path / "nohome")
    assert not (tmp_path / "nohome").exists() and not (tmp_path / "missing").exists()


def test_the_header_names_only_what_is_known(utc) -> None:
    def header(**run) -> str:
        data = _plain(None)
        data["run"] |= run
        return rr.render_run_report(data).split("<h2>", 1)[0].split("<body><h1>Run r1</h1>", 1)[1]

    assert header(status="succeeded", started_at=T0, ended_at=T0 + 61.26, executor="local") == (
        "<p><span class='badge ok'>succeeded</span> <span class=muted>pipeline <b>toy</b> · started 2025-11-26 12:00:00 · "
        "61.3 s · executor local</span></p>")
    assert header(status="running", executor=None) == (  # still going, executor not recorded
        "<p><span class='badge wait'>running</span> <span class=muted>pipeline <b>toy</b> · started 2025-11-26 12:00:00</span></p>")
    assert header(status="failed", started_at=None, ended_at=T0) == (
        "<p><span class='badge bad'>failed</span> <span class=muted>pipeline <b>toy</b> · started 2025-11-26 12:00:00 · "
        "executor k8s</span></p>")


@pytest.fixture(scope="module")
def reported_runs(tmp_path_factory) -> tuple[Path, list[str], str]:
    """A home with three runs of one small pipeline (the later ones take ``check`` from the cache), its model
    registered and monitored once; one attachment's stored file is gone."""
    import shutil

    from modelway import pipeline, run_pipeline, step
    from modelway.monitoring.base import Metric
    from modelway.monitoring.sinks import SqliteMetricsSink
    from modelway.registry import get_registry
    from modelway.registry.base import ModelCandidate
    from modelway.runtime.context import step_context, stores

    @step
    def check(n: int) -> int:
        ctx = step_context()
        ctx.attach("unreadable", {"stored": "then deleted"})  # first: an unreadable one must not hide the others
        ctx.attach("validation_report", {"passed": True, "summary": f"{n} rows", "checks": []})
        ctx.attach("performance_history", {"summary": "first"})
        return n

    @step(cache=False)
    def evaluate(n: int) -> dict:
        step_context().attach("performance_history", {"summary": "from evaluate: not the first attachment of this name"})
        return {"card": {"metrics": {"rows": n}}}

    @step(cache=False)
    def opaque(n: int) -> set:
        return {n}  # not JSON: stored pickled, not an output the report shows

    @step(cache=False)
    def register(scored: dict, other: set) -> dict:
        return {"model": "demo", "version": "1.0.0"}

    @pipeline(name="reported")
    def reported(n: int = 3) -> dict:
        return register(evaluate(check(n)), opaque(n))

    @pipeline(name="unregistered")
    def unregistered(n: int = 3) -> set:
        return opaque(n)

    home = tmp_path_factory.mktemp("reports") / "home"
    get_registry(home).register(ModelCandidate(name="demo", model=[1, 2], schema={"features": []}, metrics={"r2": 0.5}),
                                environment="dev", actor="tester")  # what the register step names: 1.0.0, approved in dev
    runs = [run_pipeline(reported, executor="inprocess", display="none", home=home) for _ in range(3)]
    assert [r.status for r in runs] == ["succeeded"] * 3, [r.error for r in runs]
    SqliteMetricsSink(home).put([Metric("monitor.alerts", 0, {"model": "demo"}, T0)])
    run_store, artifacts = stores(home)
    (unreadable,) = {a["hash"] for a in run_store.attachments(runs[0].run_id) if a["name"] == "unreadable"}
    shutil.rmtree(artifacts.path_of(unreadable))
    # the last run as an older Modelway recorded it: no copies of the cached step's attachments
    run_store.conn.execute("DELETE FROM attachments WHERE run_id = ? AND step = 'check'", (runs[2].run_id,))
    run_store.conn.commit()
    plain = run_pipeline(unregistered, executor="inprocess", display="none", home=home)
    assert plain.status == "succeeded", plain.error
    return home, [r.run_id for r in runs], plain.run_id


def test_collect_run_finds_attachments_also_of_steps_served_from_the_cache(reported_runs) -> None:
    home, run_ids, _ = reported_runs
    for run_id in run_ids:
        data = rr.collect_run(run_id, home)
        assert data["run"]["run_id"] == run_id
        assert data["attachments"] == {"validation_report": {"passed": True, "summary": "3 rows", "checks": []},
                                       "performance_history": {"summary": "first"}}  # the first of a name wins; unreadable left out
        assert data["outputs"] == {"check": 3, "evaluate": {"card": {"metrics": {"rows": 3}}},
                                   "register": {"model": "demo", "version": "1.0.0"}}  # every JSON output, cached or not
        assert data["monitoring"]["passes"] == 1 and data["monitoring"]["model"] == "demo"
        assert {k: data["model"][k] for k in ("name", "version", "status", "decided_by")} == {
            "name": "demo", "version": "1.0.0", "status": "Approved", "decided_by": "modelway-auto"}  # as the registry says now
        assert "schema" not in data["model"] and "lineage" not in data["model"]  # the short record
    assert [s["name"] for s in rr.collect_run(run_ids[1], home)["run"]["steps"] if s["cached"]] == ["check"]


def test_collect_run_of_a_pipeline_that_registers_nothing(reported_runs) -> None:
    home, _, plain = reported_runs
    data = rr.collect_run(plain, home)
    assert (data["attachments"], data["outputs"], data["model"], data["monitoring"]) == ({}, {}, None, None)


def test_write_run_report_writes_the_rendering_where_asked(reported_runs, tmp_path: Path) -> None:
    home, (first, *_), _ = reported_runs
    default = rr.write_run_report(first, home=home)
    assert default == home / "reports" / f"{first}.html"
    assert "<h2>Data validation" in default.read_text() and "3 rows" in default.read_text()
    assert rr.write_run_report(first, tmp_path / "r.html", home=home).read_text() == default.read_text()
    with pytest.raises(UserError, match=rf"^report path {tmp_path} is a directory; pass a file name such as {tmp_path / 'report.html'}$"):
        rr.write_run_report(first, tmp_path, home=home)


def test_the_registry_record_is_looked_up_only_for_a_named_version(reported_runs) -> None:
    home = reported_runs[0]
    assert rr._registry_record({"model": "demo", "version": "1.0.0"}, home)["status"] == "Approved"
    for registered in ({"model": "demo", "version": "9.9.9"}, {"model": "demo"}, {"version": "1.0.0"}, "demo", None):
        assert rr._registry_record(registered, home) is None
    assert rr._registry_record({"model": "demo", "version": "1.0.0"}, home / "elsewhere") is None


def test_a_value_longer_than_a_line_is_shown_as_a_block() -> None:
    at_80 = ["x" * 73]  # json.dumps(indent=1) makes it 80 characters
    assert len(__import__("json").dumps(at_80, indent=1)) == 80
    assert rr._value_html(at_80) == f'<code>[&quot;{"x" * 73}&quot;]</code>'
    assert rr._value_html(["x" * 74]).startswith("<pre>[\n &quot;xxx") and rr._value_html(7) == "7"
