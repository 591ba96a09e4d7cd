"""What a person opening ``modelway runs report`` notices: a DAG that fits the page, the error
and traceback of a failed run, the outputs of any pipeline, the approver of a registered model."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path


from modelway.html_blocks import bar_chart, confusion_matrix_html, dag_svg, humanize_check, residual_svg

CHAIN = '''
from modelway import pipeline, step

@step
def add(x: int, i: int) -> int:
    if x < 0 and i == 7:
        raise ValueError(f"step {i} got a negative running total {x}")
    return x + i

@pipeline(name="long_chain")
def long_chain(start: int = 1):
    x = start
    for i in range(11):
        x = add(x, i)
    return x
'''

TOY = '''
from modelway import pipeline, step

@step
def numbers(n: int) -> list:
    return list(range(n))

@step
def total(xs: list) -> int:
    return sum(xs)

@step
def summary(xs: list, t: int) -> dict:
    return {"count": len(xs), "total": t}

@pipeline(name="toy")
def toy(n: int = 10):
    xs = numbers(n)
    return summary(xs, total(xs))
'''

# A pipeline whose last step registers a (tiny, real) model in prod, where it waits for a human.
REGISTERING = '''
from modelway import pipeline, step

@step
def register(n: int) -> dict:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from modelway.registry import ModelCandidate, get_registry
    from modelway.stages.model_card import build_model_card, write_model_card

    X = np.arange(2 * n, dtype=float).reshape(n, 2)
    model = LogisticRegression().fit(X, np.arange(n) % 2)
    card = build_model_card(name="toy-model", task="classification", intended_use="tests", metrics={"accuracy": 0.5},
                            checks=[{"name": "quality.accuracy", "passed": True, "observed": 0.5, "limit": 0.4}])
    v = get_registry(card_writer=write_model_card).register(ModelCandidate(name="toy-model", model=model, schema={"x0": "float", "x1": "float"},
                                               metrics={"accuracy": 0.5}, model_card=card), environment="prod", actor="pytest")
    return {"model": v.name, "version": v.version, "status": v.status, "environment": v.environment,
            "version_reason": v.version_reason, "model_card": v.model_card_path, "artifact_sha256": v.artifact_sha256}

@pipeline(name="toy_registering")
def toy_registering(n: int = 20):
    return register(n)
'''


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def _svg_boxes(svg: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"<rect x='([\d.]+)' y='([\d.]+)' width='160'", svg)]


def test_long_chain_dag_scales_to_the_page_wraps_and_has_arrowheads():
    steps = [{"name": f"step_{i}", "status": "succeeded", "duration_s": 0.1} for i in range(11)]
    edges = [(f"step_{i}", f"step_{i + 1}") for i in range(10)]
    svg = dag_svg(steps, edges)
    view = re.search(r"viewBox='0 0 ([\d.]+) ([\d.]+)'", svg)
    assert view and float(view.group(1)) <= 1200, "the natural width must fit the 1100 px page without a big shrink"
    assert "width='100%'" in svg  # scales down with the container instead of scrolling sideways
    assert "<marker id='mw-arrow'" in svg and svg.count("marker-end='url(#mw-arrow)'") == 10
    boxes = _svg_boxes(svg)
    assert len(boxes) == 11 and len({y for _, y in boxes}) == 2  # wrapped onto a second row
    assert all(x + 160 <= float(view.group(1)) for x, _ in boxes)  # no box is cut off
    for i in range(11):
        assert f">step_{i}<" in svg


def test_charts_have_axes_labels_and_limits():
    residuals = residual_svg([1.0, 2.0, 3.5, 10.0], [1.5, 2.5, 3.0, 8.0])
    assert "predicted value" in residuals and "residual (actual − predicted)" in residuals
    assert len(re.findall(r"text-anchor='middle' fill='#627d98'>[-\d.]+</text>", residuals)) >= 3  # x ticks
    cm = confusion_matrix_html({"labels": [0, 1], "matrix": [[5, 1], [2, 4]]})
    assert "negative (0)" in cm and "positive (1)" in cm and ">predicted<" in cm and ">actual<" in cm
    assert "defaulted (1)" in confusion_matrix_html({"labels": [0, 1], "matrix": [[5, 1], [2, 4]]}, ["repaid", "defaulted"])
    bars = bar_chart({"F": {"selection_rate": 0.30}, "M": {"selection_rate": 0.25}}, ["selection_rate"],
                     attribute="gender", limits={"selection_rate": 0.1})
    assert ">0.30<" in bars and ">0.25<" in bars  # value labels on the bars
    assert "class=limit" in bars and "gender:" in bars
    # errors in target units (regression MAE) get an axis that fits them instead of bars clipped at 1
    mae = bar_chart({"sex_1": {"mae": 41.5}, "sex_2": {"mae": 42.2}}, ["mae"], attribute="sex_group", limits={"mae": 12.5})
    heights = [float(h) for h in re.findall(r"<rect x='[\d.]+' y='[\d.]+' width='[\d.]+' height='([\d.]+)' fill='#\w+'><title>", mae)]
    assert len(heights) == 2 and 0 < heights[0] < heights[1] and ">41.5<" in mae and "sex_group:" in mae


def test_pandera_check_reprs_become_words():
    assert humanize_check('61 rows of \'age\' outside in_range{"min_value": 18, "max_value": 100, "include_min": true, '
                          '"include_max": true} (1.48%)') == "61 rows of 'age' not between 18 and 100 (1.48%)"
    assert humanize_check("0 rows of 'loan' outside greater_than{\"min_value\": 0}") == "0 rows of 'loan' not greater than 0"


def test_failed_run_report_shows_the_error_wrapped_and_the_traceback(mw, tmp_path):
    done = mw.run(_write(tmp_path, "chain", CHAIN), "start=-100")
    assert done.code == 1
    html = mw.report(done.json()["run_id"])
    assert "<div class=error role=alert>" in html
    assert "step 7 got a negative running total -79" in html
    details = re.search(r"<details><summary>Traceback of step <b>(\w+)</b></summary><pre class=traceback>(.*?)</pre>", html, re.S)
    assert details and details.group(1) == "add_8"
    assert "Traceback (most recent call last)" in details.group(2) and "raise ValueError" in details.group(2)
    assert "white-space:pre-wrap" in html  # long errors wrap instead of scrolling sideways


def test_any_pipeline_report_has_its_outputs_and_no_empty_header_rows(mw, tmp_path):
    done = mw.run(_write(tmp_path, "toy", TOY), "n=5")
    assert done.code == 0
    html = mw.report(done.json()["run_id"])
    outputs = html.split("<h2>Outputs</h2>", 1)[1].split("<h2>", 1)[0]
    assert re.search(r"<th scope=row>count</th><td>5</td>", outputs) and re.search(r"<th scope=row>total</th><td>10</td>", outputs)
    assert "<th></th>" not in html  # key/value tables have no blank header row
    assert "<svg" in html and "Model card" not in html  # not an ML pipeline: no empty ML sections


def test_registered_model_shows_the_approver_and_links_the_html_card(mw, tmp_path):
    done = mw.run(_write(tmp_path, "registering", REGISTERING))
    assert done.code == 0, done.stderr
    run_id = done.json()["run_id"]
    pending = mw.report(run_id)
    registered = pending.split("<h2>Registered model</h2>", 1)[1]
    assert "Pending" in registered and "modelway models approve toy-model 1.0.0" in registered
    assert mw("models", "approve", "toy-model", "1.0.0", "--reason", "reviewed the card", "--by", "alice").code == 0
    approved = mw.report(run_id).split("<h2>Registered model</h2>", 1)[1]
    assert "Approved" in approved and "alice" in approved and "reviewed the card" in approved
    link = re.search(r"<a href='(file://[^']+model_card\.html)'>", approved)
    assert link and Path(link.group(1).removeprefix("file://")).is_file()
    # the card's files are re-rendered at each decision: status, approver, date and reason, never a stale status
    card_md = (Path(link.group(1).removeprefix("file://")).with_suffix(".md")).read_text()
    assert re.search(r"\*\*Approval:\*\* Approved by alice at \d{4}-\d\d-\d\dT[\d:]+\+00:00: reviewed the card "
                     r"\(live: `modelway models show toy-model 1\.0\.0`\)", card_md)
    assert "Pending" not in card_md and "all checks passed" not in card_md
    assert re.search(r">Approved</span> by alice at [^<]+: reviewed the card", Path(link.group(1).removeprefix("file://")).read_text())


def test_failed_checks_stay_in_view_and_passing_ones_fold_away():
    from modelway.html_blocks import checks_table

    checks = [{"name": "quality.duplicate_rows", "passed": False, "message": "12 duplicate rows"}] + [
        {"name": f"quality.ok_{i}", "passed": True, "message": "fine"} for i in range(3)]
    html = checks_table(checks, fold_passed=True)
    visible, folded = html.split("<details>", 1)
    assert "quality.duplicate_rows" in visible and "quality.ok_0" not in visible
    assert folded.startswith("<summary>3 passed checks</summary>") and "quality.ok_2" in folded


def test_report_outside_a_home_creates_nothing_and_a_missing_output_folder_is_refused(mw, tmp_path):
    nowhere = type(mw)(tmp_path / "no-home")  # a CLI pointed at a home that does not exist
    done = nowhere("runs", "report", "latest")
    assert done.code == 2 and done.stderr.startswith("error: runs report: there is no Modelway home at")
    assert not nowhere.home.exists()

    done = nowhere("runs", "report", "latest", "--output", str(tmp_path / "missing" / "r.html"))
    assert done.code == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "missing").exists()
