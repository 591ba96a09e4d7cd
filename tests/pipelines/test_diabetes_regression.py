"""diabetes_regression end to end: the same lifecycle for a regressor (residual plot in the report)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def diabetes_run(mw):
    done = mw.run("diabetes_regression", "cv_folds=3", extra=("--in-process",))
    assert done.code == 0, done.stderr[-3000:]
    return done.json()


def test_diabetes_pipeline_registers_a_regressor(mw, diabetes_run, tmp_path):
    doc = diabetes_run
    result = doc["outputs"]["result"]
    assert (result["model"], result["version"], result["status"]) == ("diabetes-progression", "1.0.0", "Approved")
    shown = mw("models", "show", "diabetes-progression", "--json").json()
    assert shown["family"] == "sklearn.linear_model.Ridge"
    assert shown["metrics"]["r2"] >= 0.35 and shown["metrics"]["mae"] > 0
    assert shown["fairness"]["sensitive"] == "sex_group"
    out = tmp_path / "r.html"
    assert mw("runs", "report", doc["run_id"], "-o", str(out)).code == 0
    html = out.read_text()
    assert "Residuals" in html and "Fairness by sex_group" in html and "Confusion matrix" not in html


def test_explain_breaks_a_ridge_prediction_into_coefficient_times_standardised_value(mw, diabetes_run):
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_diabetes

    from modelway.registry import get_registry

    version = diabetes_run["outputs"]["result"]["version"]
    row = load_diabetes(scaled=False, as_frame=True).frame.iloc[3].drop("target").to_dict()
    done = mw("explain", f"diabetes-progression@{version}", "--row", json.dumps(row), "--json")
    assert done.code == 0, done.stderr
    doc = done.json()
    model = get_registry(mw.home).load_model("diabetes-progression", version)
    pipe = model.model
    features = model.schema.feature_names
    x = pd.DataFrame([{f: row[f] for f in features}])
    z = pipe.named_steps["scale"].transform(x)[0]
    coef = pipe.named_steps["ridge"].coef_
    assert doc["method"] == "linear" and doc["output"] == "prediction"
    assert {c["feature"]: c["contribution"] for c in doc["contributions"]} == pytest.approx(dict(zip(features, coef * z)), rel=1e-9)
    assert doc["output_value"] == pytest.approx(float(model.predict(x)[0])) and doc["additivity_error"] < 1e-9
    assert doc["base_value"] == pytest.approx(float(pipe.named_steps["ridge"].intercept_))
    assert [s["name"] for s in doc["stages"]] == ["input", "scale", "ridge"] and np.allclose(list(doc["stages"][1]["values"].values()), z)
    missing = mw("explain", f"diabetes-progression@{version}", "--row", json.dumps({**row, "bmi": None}))
    assert missing.code == 2 and missing.stderr.startswith("error: --row JSON: the model cannot score this row: Input X contains NaN")
