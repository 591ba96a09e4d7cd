"""The run report's monitoring section: drift per feature over time, quality and alerts, from real monitor passes.

A pipeline registers the credit model (with its training profile); ``modelway monitor --data``
checks a same-distribution file and then a drifted one; ``modelway runs report`` of the run
that registered the model then shows each feature's PSI over the two passes, the drifted
features' verdicts and the alert that fired.
"""
from __future__ import annotations

import re
import textwrap

from tests.modelway_cli import ModelwayCli

REGISTERING = '''
from modelway import pipeline, step

@step
def register(n_rows: int) -> dict:
    from modelway.registry import get_registry
    from modelway.settings import get_settings
    from tests.serving.helpers import register as register_credit, train_credit

    home = get_settings().resolved_home()
    credit = train_credit(n_rows)
    credit.test.to_csv(home / "same.csv", index=False)
    drifted = credit.test.copy()
    drifted["age"] = (drifted["age"] + 18).clip(upper=95)
    drifted["annual_income"] = drifted["annual_income"] * 0.55
    drifted.to_csv(home / "drifted.csv", index=False)
    version = register_credit(home, credit)
    mv = get_registry(home).get("credit-risk", version)
    return {"model": mv.name, "version": mv.version, "status": mv.status, "environment": mv.environment}

@pipeline(name="credit_registering")
def credit_registering(n_rows: int = 2000):
    return register(n_rows)
'''


def test_the_run_report_shows_drift_per_feature_over_time_and_the_alerts(home, tmp_path):
    mw = ModelwayCli(home)
    source = tmp_path / "credit_registering.py"
    source.write_text(textwrap.dedent(REGISTERING))
    done = mw.run_file(source)
    assert done.code == 0, done.stderr[-2000:]
    run_id = done.json()["run_id"]
    before = mw("runs", "report", run_id, "--output", str(tmp_path / "before.html"))
    assert before.code == 0, before.stderr
    assert "<h2>Monitoring</h2>" not in (tmp_path / "before.html").read_text()  # never monitored yet

    same = mw("monitor", "credit-risk", "--data", str(home / "same.csv"))
    assert same.code == 0, same.stdout + same.stderr
    drifted = mw("monitor", "credit-risk", "--data", str(home / "drifted.csv"))
    assert drifted.code == 1 and "ALERT [warning] credit-risk: drift" in drifted.stderr, drifted.stdout + drifted.stderr

    report = mw("runs", "report", run_id, "--output", str(tmp_path / "after.html"))
    assert report.code == 0, report.stderr
    page = (tmp_path / "after.html").read_text()
    section = page.split("<h2>Monitoring</h2>", 1)[1]
    assert "2 monitor pass(es) of credit-risk" in section
    drift_table = section.split("<table class='monitoring-drift'>", 1)[1].split("</table>", 1)[0]
    rows = {re.search(r"<td>([^<]+)</td>", r).group(1): r for r in drift_table.split("<tr")[2:]}
    assert {"age", "annual_income", "loan_amount", "region"} <= set(rows)
    for feature in ("age", "annual_income"):
        assert "<td>DRIFT</td>" in rows[feature] and "<td>1 of 2</td>" in rows[feature], rows[feature]
        assert rows[feature].count("<svg") == 1  # PSI over the two passes
    assert "<td>ok</td>" in rows["region"] and "<td>0 of 2</td>" in rows["region"]
    alerts = section.split("<table class='monitoring-alerts'>", 1)[1].split("</table>", 1)[0]
    assert "<td>drift</td>" in alerts and "age: PSI" in alerts
