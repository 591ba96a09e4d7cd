"""The evidence of a real pipeline run: ML Test Score on the card, curves and intervals in the report,
and the MLflow view read back with MLflow's own client (one run, nested steps, datasets, model,
registry mirror with the champion alias, report and card artifacts)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def credit_run(mw):
    done = mw.run("credit_risk", "n_rows=5000", "n_trials=2", "cv_folds=2")
    assert done.code == 0, done.stderr[-3000:]
    return done.json()


@pytest.fixture(scope="module")
def card(credit_run):
    return json.loads(Path(credit_run["outputs"]["result"]["model_card"]).with_suffix(".json").read_text())


def test_the_card_scores_at_least_six_in_data_and_model(card):
    sections = card["ml_test_score"]["sections"]
    assert sections["Data"]["score"] >= 6 and sections["Model"]["score"] >= 6, {s: v["score"] for s, v in sections.items()}
    automated = {tid for s in sections.values() for tid, t in s["tests"].items() if t["how"].startswith("automated")}
    assert {"D1", "D2", "D3", "D5", "D7", "M1", "M3", "M4", "M5", "M6", "M7", "I1", "I2", "I3", "I4"} <= automated
    names = {c["name"] for c in card["checks"]}
    assert {"features.importance", "features.cost", "features.derived", "baseline.dummy", "baseline.linear", "staleness.impact",
            "data.screening.label_noise", "robustness.targeted_perturbation", "reproducibility.refit",
            "dependencies.vs_champion"} <= names
    assert card["libraries"]["scikit-learn"] and card["evidence"]["baselines"]["baselines"]["dummy"] == 0.5


def test_the_card_and_report_show_the_evidence(mw, credit_run, card, tmp_path):
    assert card["approval"]["status"] == "Approved" and card["approval"]["decided_by"] == "modelway-auto"
    md = Path(credit_run["outputs"]["result"]["model_card"]).read_text()
    assert "**Approval:** Approved by modelway-auto at" in md and "## ML Test Score" in md and "| Data | " in md
    html = Path(credit_run["outputs"]["result"]["model_card"]).with_suffix(".html").read_text()
    for section in ("ML Test Score", "ROC curve", "Precision-recall", "Calibration", "Scores per true class",
                    "95% interval", "permutation importance", "Baselines", "Staleness", "beforeprint"):
        assert section in html, section
    out = tmp_path / "report.html"
    assert mw("runs", "report", credit_run["run_id"], "-o", str(out)).code == 0
    report = out.read_text()
    assert "<h2>Evidence</h2>" in report and "ROC curve" in report and "below minimum support" not in report.split("Evidence")[0]
    assert report.count("<svg") >= 6
    assert not re.search(r"(src|href)=['\"]https?://", report)


def test_mlflow_shows_one_run_with_steps_datasets_model_and_registry(mw, credit_run):
    import mlflow

    result = credit_run["outputs"]["result"]
    mlflow.set_tracking_uri(result["mlflow_ui"].split()[-1])
    client = mlflow.MlflowClient()
    run = client.get_run(result["mlflow_run_id"])
    tags = run.data.tags
    assert tags["mlflow.runName"] == credit_run["run_id"] and tags["mlflow.user"] == "pytest"
    assert tags["mlflow.source.name"].endswith("pipelines/credit_risk.py") and tags["mlflow.source.git.commit"]
    steps = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert {s.data.tags["modelway.step"] for s in steps} == {"load_credit_data", "validate", "train", "evaluate"}
    first = min(s.info.start_time for s in steps)
    assert run.info.start_time <= first and run.info.end_time >= max(s.info.end_time for s in steps)
    inputs = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "evaluation"} and inputs["training"].digest and "credit-synthetic@" in inputs["training"].name
    models = client.search_logged_models(experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    info = mlflow.models.get_model_info(models[0].model_uri)
    assert info.signature is not None and info.saved_input_example_info is not None
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/model_card.html", "reports/evaluation_report.json", "reports/validation_report.json"} <= artifacts
    champion = client.get_model_version_by_alias("credit-risk", "dev-champion")
    assert champion.run_id == run.info.run_id and champion.tags["modelway.version"] == result["version"]
    loaded = mlflow.sklearn.load_model("models:/credit-risk@dev-champion")
    assert type(loaded).__name__ == "GuardedModel"


def _browser_tools() -> tuple[str | None, str | None]:
    """Chromium and poppler's pdftotext, both from Debian's packages (`chromium`, `poppler-utils`)."""
    import shutil

    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome-headless-shell")) if p), None)
    return browser, shutil.which("pdftotext")


def _render(browser: str, page: Path, out: Path) -> tuple[str, bytes, bytes]:
    """The DOM after scripts ran, a 1280-px-wide screenshot and the PDF export of ``page``."""
    import subprocess

    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,3000"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180).stdout
    shot, pdf = out.with_suffix(".png"), out.with_suffix(".pdf")
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=180, check=True)
    subprocess.run([*common, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=180,
                   check=True)
    return dom, shot.read_bytes(), pdf.read_bytes()


def _assert_rendered(png: bytes, document: bytes, min_pages: int) -> None:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000          # a rendered page, not a blank one
    pages = re.findall(rb"/Type\s*/Page[^s]", document)
    assert document.startswith(b"%PDF") and len(pages) >= min_pages, len(pages)


def test_the_card_and_the_run_report_render_in_headless_chromium_screenshot_and_pdf(mw, credit_run, tmp_path):
    browser, _ = _browser_tools()
    if browser is None:
        pytest.skip("no Chromium on PATH (install Debian's `chromium` package to run the screenshot and PDF checks)")
    card = Path(credit_run["outputs"]["result"]["model_card"]).with_suffix(".html")
    dom, png, pdf = _render(browser, card, tmp_path / "card")
    for section in ("ML Test Score", "ROC curve", "Calibration", "95% interval", "Hyperparameters (tuned)", "Checks",
                    "A held-out row explained", "Run report:"):
        assert section in dom, section
    _assert_rendered(png, pdf, 2)                                       # every section printed, over pages
    report = tmp_path / "report.html"
    assert mw("runs", "report", credit_run["run_id"], "-o", str(report)).code == 0
    dom, png, pdf = _render(browser, report, tmp_path / "report")
    for section in ("<h2>Pipeline</h2>", "<h2>Data validation", "<h2>Training</h2>", "<h2>Test metrics</h2>", "<h2>Model tests",
                    "<h2>Evidence</h2>", "<h2>Model card</h2>", "<h2>Registered model</h2>", "<h2>Lineage</h2>"):
        assert section in dom, section
    _assert_rendered(png, pdf, 3)


def test_the_pdf_export_of_a_failed_run_prints_every_folded_check(mw, tmp_path):
    import subprocess

    browser, pdftotext = _browser_tools()
    if browser is None or pdftotext is None:
        pytest.skip("needs Chromium and pdftotext on PATH (Debian's `chromium` and `poppler-utils` packages)")
    done = mw.run("credit_risk", "n_rows=2000", "inject_data_fault=true")
    assert done.code == 1
    report = tmp_path / "failed.html"
    assert mw("runs", "report", done.json()["run_id"], "-o", str(report)).code == 0
    html = report.read_text()
    folded = re.search(r"<details><summary>(\d+) passed checks</summary>(.*?)</details>", html, re.S)
    assert folded and int(folded.group(1)) > 50
    _, _, pdf = _render(browser, report, tmp_path / "failed")
    text = subprocess.run([pdftotext, str(tmp_path / "failed.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    passed = re.findall(r"<tr><td>([\w.=+-]+)</td><td><span class=pass>", folded.group(2))
    assert passed and all(name in flat for name in passed), [n for n in passed if n not in flat]   # folded, yet printed
    assert "quality.missing_rate.annual_income" in flat and "€" in text                              # failed ones, money


# --- I5: `modelway explain` on the registered credit model ---------------------------------------------

def _credit_row(seed: int = 7) -> dict:
    from modelway.datasets import credit

    frame = credit.generate_credit_data(50, seed=seed)
    frame["loan_to_income"] = (frame["loan_amount"] / frame["annual_income"]).round(6)
    return json.loads(frame.iloc[[0]].to_json(orient="records"))[0]


def test_explain_steps_a_row_through_the_registered_booster_and_its_shapley_values_add_up(mw, credit_run, tmp_path):
    from modelway.registry import get_registry

    result = credit_run["outputs"]["result"]
    row = _credit_row()
    (tmp_path / "row.json").write_text(json.dumps(row))
    done = mw("explain", f"credit-risk@{result['version']}", "--row", str(tmp_path / "row.json"), "--json")
    assert done.code == 0, done.stderr
    doc = done.json()
    model = get_registry(mw.home).load_model("credit-risk", result["version"])
    features = model.schema.feature_names
    import pandas as pd

    expected = float(model.predict_proba(pd.DataFrame([{f: row[f] for f in features}]))[0, 1])
    assert doc["method"] == "shapley" and doc["output"] == "P(class 1)" and doc["output_value"] == pytest.approx(expected, abs=1e-9)
    assert doc["base_value"] + sum(c["contribution"] for c in doc["contributions"]) == pytest.approx(expected, abs=1e-9)
    assert {c["feature"] for c in doc["contributions"]} == set(features) and doc["replay_matches"]
    assert [s["name"] for s in doc["stages"]] == ["input", "encode", "clf"]
    # a row as clients send it (without the derived loan_to_income): the version's feature function fills it in
    from modelway.datasets.credit_features import add_derived_features

    raw = {k: v for k, v in row.items() if k != "loan_to_income"}
    served = add_derived_features(pd.DataFrame([raw]))
    from_raw = mw("explain", f"credit-risk@{result['version']}", "--row", json.dumps(raw), "--json")
    assert from_raw.code == 0, from_raw.stderr
    assert from_raw.json()["output_value"] == pytest.approx(float(model.predict_proba(served[features])[0, 1]), abs=1e-9)
    no_income = {k: v for k, v in raw.items() if k != "annual_income"}
    refused = mw("explain", f"credit-risk@{result['version']}", "--row", json.dumps(no_income))
    assert refused.code == 2 and refused.stderr.startswith("error: --row JSON: missing column(s) ['annual_income']")
    assert doc["stages"][1]["values"]["remainder__annual_income"] == pytest.approx(row["annual_income"])
    assert set(doc["ignored_columns"]) >= {"applicant_id", "gender", "default"} and doc["artifact_sha256"] == result["artifact_sha256"]
    # the same row as CSV, in text: every stage and every feature's contribution, largest first
    csv_row = tmp_path / "row.csv"
    csv_row.write_text(",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n")
    text = mw("explain", "credit-risk", "--row", str(csv_row))
    assert text.code == 0, text.stderr
    assert "verified against its signed registration" in text.stdout and "stage 2/3  encode: ColumnTransformer" in text.stdout
    assert "exact Shapley values (16384 coalitions)" in text.stdout and f"{expected:+.4f}" in text.stdout


def test_explain_refuses_a_bad_row_or_a_tampered_model_in_one_line(mw, credit_run, tmp_path):
    version = credit_run["outputs"]["result"]["version"]
    row = _credit_row()
    for bad, message in [
        ({k: v for k, v in row.items() if k != "debt_to_income"}, "--row JSON: missing column(s) ['debt_to_income']"),
        ({**row, "age": "forty"}, "--row JSON: column 'age' must be a number, got 'forty'"),
    ]:
        done = mw("explain", f"credit-risk@{version}", "--row", json.dumps(bad))
        assert done.code == 2 and done.stderr.startswith(f"error: {message}") and done.stderr.count("\n") == 1, done.stderr
    for arg, message in [('{"age": 4', "error: --row JSON is not valid JSON"),
                         (str(tmp_path / "nope.csv"), f"error: row file {tmp_path / 'nope.csv'} does not exist")]:
        done = mw("explain", f"credit-risk@{version}", "--row", arg)
        assert done.code == 2 and done.stderr.startswith(message) and "Traceback" not in done.stderr
    from modelway.registry import get_registry

    artifact = Path(get_registry(mw.home).get("credit-risk", version).artifact_uri.removeprefix("file://"))
    original = artifact.read_bytes()
    try:
        artifact.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        done = mw("explain", f"credit-risk@{version}", "--row", json.dumps(row))
        assert done.code == 2 and "refusing to load a tampered or corrupted model" in done.stderr
    finally:
        artifact.write_bytes(original)
