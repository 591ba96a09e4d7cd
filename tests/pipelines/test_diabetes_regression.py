"""diabetes_regression end to end: the same lifecycle for a regressor (residual plot in the report)."""
from __future__ import annotations


def test_diabetes_pipeline_registers_a_regressor(mw, tmp_path):
    done = mw.run("diabetes_regression", "cv_folds=3", extra=("--in-process",))
    assert done.code == 0, done.stderr[-3000:]
    doc = done.json()
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
