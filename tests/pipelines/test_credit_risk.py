"""credit_risk end to end on reduced data: registers an approved model in dev, stays Pending in
prod until a human approves, is fully cached on re-run, and the gates stop faulty data and biased models."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SMALL = ("n_rows=5000", "n_trials=2", "cv_folds=2")


@pytest.fixture(scope="module")
def first_run(mw):
    done = mw.run("credit_risk", *SMALL)
    assert done.code == 0, done.stderr[-3000:]
    return done.json()


def test_dev_run_registers_an_auto_approved_version(mw, first_run):
    assert first_run["status"] == "succeeded"
    assert [s["name"] for s in first_run["steps"]] == ["load_credit_data", "validate", "train", "evaluate", "track", "package", "register"]
    result = first_run["outputs"]["result"]
    assert (result["model"], result["version"], result["status"], result["environment"]) == ("credit-risk", "1.0.0", "Approved", "dev")
    assert result["run_id"] == first_run["run_id"]
    assert result["mlflow_ui"].startswith("mlflow ui --backend-store-uri sqlite:///") and str(mw.home) in result["mlflow_ui"]
    card = Path(result["model_card"])
    assert card.is_file() and card.with_suffix(".html").is_file()
    text = card.read_text()
    assert "# Model card: credit-risk 1.0.0" in text and "fairness.gender.demographic_parity_difference | pass" in text

    shown = mw("models", "show", "credit-risk", "--json").json()
    assert shown["status"] == "Approved" and shown["decided_by"] == "modelway-auto"
    assert shown["run_id"] == first_run["run_id"] and shown["mlflow_run_id"] == result["mlflow_run_id"]
    assert list(shown["data_versions"]) == ["credit-synthetic"] and shown["fairness"]["sensitive"] == "gender"
    assert shown["lineage"]["run"]["git"]["commit"] and shown["metrics"]["roc_auc"] > 0.7
    # the derived feature's code travels with the version: the model server applies the same function
    assert shown["schema"]["feature_function"] == {"ref": "modelway.datasets.credit_features:add_derived_features",
                                                   "outputs": ["loan_to_income"]}
    assert mw("audit", "verify").code == 0

    impacted = mw("lineage", "impacted", "--dataset", "credit-synthetic", "--json").json()
    assert {(m["model"], m["version"]) for m in impacted["models"]} == {("credit-risk", "1.0.0")}


def test_rerun_is_fully_cached_and_registers_nothing_new(mw, first_run):
    audit_before = mw("audit", "log", "--json").json()
    again = mw.run("credit_risk", *SMALL)
    assert again.code == 0
    doc = again.json()
    # register writes to the registry, so it always runs; it finds the same version and writes nothing
    assert [s["name"] for s in doc["steps"] if not s["cached"]] == ["register"], doc["steps"]
    result = doc["outputs"]["result"]
    assert (result["version"], result["already_registered"], result["run_id"]) == ("1.0.0", True, first_run["run_id"])
    assert [v["version"] for v in mw("models", "list", "--json").json()] == ["1.0.0"]
    assert mw("audit", "log", "--json").json() == audit_before
    # nothing that really ran preloaded pandas/scikit-learn (the register step declares no preload)
    def preload_notes(run_id):
        events = mw("runs", "show", run_id, "--json").json()["events"]
        return [e["message"] for e in events if e["kind"] == "note" and "preloaded" in (e["message"] or "")]

    assert preload_notes(first_run["run_id"]) and not preload_notes(doc["run_id"])
    # the report of a fully cached run still shows the reports attached by the run that computed the steps
    report = mw("runs", "report", "latest")
    assert report.code == 0 and "Data validation" in Path(report.stdout.strip()).read_text()


def test_prod_registration_waits_for_a_human_approval(mw, first_run, tmp_path):
    # this test is about approvals; prod's refusal of uncommitted/unpushed code (ML Test Score M1) is
    # tested in tests/ml/test_ml_test_score_checks.py with real git repositories
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  prod: {auto_approve: false, require_reason: true, require_reviewed_code: false}\n")
    done = mw.run("credit_risk", *SMALL, "env=prod", env={"MODELWAY_PROMOTION_RULES": str(rules)})
    assert done.code == 0, done.stderr[-2000:]
    doc = done.json()
    cached = {s["name"] for s in doc["steps"] if s["cached"]}
    assert cached == {"load_credit_data", "validate", "train"}  # only env-dependent steps re-ran
    result = doc["outputs"]["result"]
    # same artifact and data, only metadata (environment, card) changed -> patch version
    assert (result["version"], result["status"], result["environment"]) == ("1.0.1", "Pending", "prod")

    no_reason = mw("models", "approve", "credit-risk", "1.0.1")
    assert no_reason.code == 2 and "error: prod requires a reason to approve credit-risk 1.0.1" in no_reason.stderr
    ok = mw("models", "approve", "credit-risk", "1.0.1", "--reason", "card reviewed", "--by", "alice", "--json")
    assert ok.code == 0
    approved = ok.json()
    assert (approved["status"], approved["decided_by"], approved["decision_reason"]) == ("Approved", "alice", "card reviewed")
    again = mw("models", "reject", "credit-risk", "1.0.1", "--reason", "changed my mind")
    assert again.code == 2 and "only Pending versions" in again.stderr
    log = mw("audit", "log", "--name", "credit-risk", "--json").json()
    assert [(e["version"], e["event"], e["actor"]) for e in log][-2:] == [("1.0.1", "registered", "pytest"), ("1.0.1", "approved", "alice")]
    listing = mw("models", "list")
    assert listing.code == 0 and re.search(r"credit-risk\s+1\.0\.1\s+Approved\s+prod", listing.stdout)


def test_html_run_report_is_self_contained(mw, first_run, tmp_path):
    out = tmp_path / "report.html"
    done = mw("runs", "report", first_run["run_id"], "-o", str(out))
    assert done.code == 0 and done.stdout.strip() == str(out)
    html = out.read_text()
    for section in ("Data validation", "Training", "Test metrics", "Confusion matrix", "Model tests",
                    "Fairness by gender", "Model card", "Registered model", "Lineage"):
        assert section in html, section
    assert html.count("<svg") >= 2  # the DAG and the per-group fairness chart
    for name in ("load_credit_data", "validate", "train", "evaluate", "track", "package", "register"):
        assert name in html
    assert not re.search(r"(src|href)=['\"]https?://", html)  # no network assets


def test_data_fault_stops_the_run_before_training(mw):
    done = mw.run("credit_risk", *SMALL, "inject_data_fault=true", extra=("--in-process",))
    assert done.code == 1
    doc = done.json()
    status = {s["name"]: s["status"] for s in doc["steps"]}
    assert status["validate"] == "failed"
    assert {status[n] for n in ("train", "evaluate", "track", "register")} == {"skipped"}
    for check in ("schema.region.isin", "quality.missing_rate.annual_income", "quality.out_of_range.age", "quality.duplicate_rows"):
        assert check in doc["error"], check
    shown = mw("runs", "show", doc["run_id"], "--json").json()
    (validate,) = [s for s in shown["steps"] if s["name"] == "validate"]
    assert not validate.get("traceback")  # a gate is a deliberate stop: its report, not a stack trace
    assert {a["name"] for a in shown["attachments"]} >= {"validation_report", "validation_report.md"}
    (markdown,) = [a for a in shown["attachments"] if a["name"] == "validation_report.md"]
    assert markdown["kind"] == "text" and markdown["path"].endswith(".md")  # a file any Markdown viewer opens
    assert "schema.region.isin" in Path(markdown["path"]).read_text()
    report = mw("runs", "report", doc["run_id"], "-o", str(mw.home / "fault.html"))
    assert report.code == 0 and "Example rows: schema.region.isin" in (mw.home / "fault.html").read_text()


def test_biased_label_process_is_stopped_by_the_fairness_gate(mw, first_run):
    versions_before = mw("models", "list", "--json").json()
    done = mw.run("credit_risk", *SMALL, "inject_bias=true", extra=("--in-process",))
    assert done.code == 1
    doc = done.json()
    status = {s["name"]: s["status"] for s in doc["steps"]}
    assert status["evaluate"] == "failed" and status["track"] == status["register"] == "skipped"
    assert "model tests FAILED" in doc["error"] and "fairness.gender.demographic_parity_difference" in doc["error"]
    assert mw("models", "list", "--json").json() == versions_before
    # the rejected candidate is still an experiment in MLflow, with its evaluation report
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{mw.home.absolute() / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("credit-risk")
    runs = client.search_runs([experiment.experiment_id], f"tags.`modelway.run_id` = '{doc['run_id']}'")
    assert len(runs) == 1 and runs[0].data.tags["modelway.gates"] == "failed"
    assert runs[0].data.metrics["fairness_demographic_parity_difference"] > 0.10
    assert "reports/evaluation_report.json" in {a.path for a in client.list_artifacts(runs[0].info.run_id, "reports")}


def test_environment_and_promotion_rules_are_part_of_the_cache_key(tmp_path):
    from tests.pipelines.conftest import Modelway

    mw = Modelway(tmp_path / "home")
    assert mw.run("credit_risk", *SMALL).code == 0
    staging = mw.run("credit_risk", *SMALL, env={"MODELWAY_ENV": "staging"})
    assert staging.code == 0, staging.stderr[-2000:]
    doc = staging.json()
    assert {s["name"] for s in doc["steps"] if s["cached"]} == {"load_credit_data", "validate", "train"}
    result = doc["outputs"]["result"]
    assert (result["environment"], result["status"]) == ("staging", "Approved")
    assert {(v["environment"], v["status"]) for v in mw("models", "list", "--json").json()} == {("dev", "Approved"), ("staging", "Approved")}

    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  dev: {auto_approve: true}\n  staging: {auto_approve: false, require_reason: true}\n"
                     "  prod: {auto_approve: false}\n")
    import shutil

    shutil.rmtree(mw.home / "registry")  # the same model stays registered as it was; new rules apply to new versions
    manual = mw.run("credit_risk", *SMALL, env={"MODELWAY_ENV": "staging", "MODELWAY_PROMOTION_RULES": str(rules)})
    assert manual.code == 0, manual.stderr[-2000:]
    doc = manual.json()
    assert not next(s for s in doc["steps"] if s["name"] == "register")["cached"]
    assert doc["outputs"]["result"]["status"] == "Pending"


@pytest.mark.parametrize("pipeline, param, expected", [
    ("credit_risk", "env=qa", "parameter 'env': Input should be 'dev', 'staging' or 'prod' (got 'qa')"),
    ("credit_risk", "n_rows=-5", "parameter 'n_rows': Input should be greater than 0 (got -5)"),
    ("credit_risk", "cv_folds=1", "parameter 'cv_folds': Input should be greater than or equal to 2 (got 1)"),
    ("credit_risk", "n_trials=0", "parameter 'n_trials': Input should be greater than 0 (got 0)"),
    ("diabetes_regression", "cv_folds=1", "parameter 'cv_folds': Input should be greater than or equal to 2 (got 1)"),
])
def test_bad_parameters_are_refused_before_any_step_runs(tmp_path, pipeline, param, expected):
    from tests.pipelines.conftest import Modelway

    mw = Modelway(tmp_path / "home")
    done = mw.run(pipeline, param)
    assert done.code == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [f"error: pipeline {pipeline!r}: {expected}"]
    assert not (tmp_path / "home" / "registry").exists()  # nothing ran


def test_a_bad_environment_or_rules_file_is_refused_up_front(tmp_path):
    from tests.pipelines.conftest import Modelway

    mw = Modelway(tmp_path / "home")
    done = mw.run("credit_risk", env={"MODELWAY_ENV": "qa"})
    assert done.code == 2 and "unknown environment 'qa'" in done.stderr
    rules = tmp_path / "rules.yaml"
    rules.write_text("environments:\n  dev: {auto_approve: true\n")
    done = mw.run("credit_risk", env={"MODELWAY_PROMOTION_RULES": str(rules)})
    assert done.code == 2 and f"invalid promotion rules in {rules}:3:" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_rerun_after_the_registry_was_deleted_registers_again(tmp_path):
    import shutil

    from tests.pipelines.conftest import Modelway

    mw = Modelway(tmp_path / "home")
    first = mw.run("credit_risk", *SMALL)
    assert first.code == 0, first.stderr[-2000:]
    shutil.rmtree(mw.home / "registry")
    again = mw.run("credit_risk", *SMALL)
    assert again.code == 0, again.stderr[-2000:]
    doc = again.json()
    assert [s["name"] for s in doc["steps"] if not s["cached"]] == ["register"]
    result = doc["outputs"]["result"]
    assert (result["version"], result["status"], result["already_registered"]) == ("1.0.0", "Approved", False)
    assert result["artifact_sha256"] == first.json()["outputs"]["result"]["artifact_sha256"]
    assert [v["version"] for v in mw("models", "list", "--json").json()] == ["1.0.0"]
    assert mw("audit", "verify").code == 0
