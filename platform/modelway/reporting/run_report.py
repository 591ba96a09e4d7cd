"""``modelway runs report RUN_ID``: one self-contained HTML page about a pipeline run.

Sections: run header and lineage, the DAG with step states and durations, the data
validation report, training (CV) and test metrics, the per-group fairness chart, the
confusion matrix (classifiers) or residual plot (regressors), the model card, and the
registered model version. Reports attached by steps are found in the run store; for a
step served from the cache they come from the run that originally computed it.

Example:
    >>> from pathlib import Path
    >>> write_run_report("20261126-150000-ab12cd", Path("report.html"))  # doctest: +SKIP
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from modelway.errors import UserError
from modelway.reporting.html import badge, card_section, checks_table, confusion_matrix_html, dag_svg, esc, page, residual_svg, table


def collect_run(run_id: str, home: Path | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (steps, attachments by name, outputs, model)."""
    from modelway.cli.pipeline_runs import run_details
    from modelway.runtime.context import stores
    from modelway.settings import get_settings

    home = home or get_settings().resolved_home()
    run_store, artifacts = stores(home)
    if run_id in ("latest", "last"):
        newest = run_store.list_runs(limit=1)
        if not newest:
            raise UserError("no runs yet; start one with: modelway run PIPELINE.py")
        run_id = newest[0]["run_id"]
    run = run_details(run_store, run_id)
    attached: dict[str, Any] = {}
    for step in run["steps"]:
        sources = [(run["run_id"], step["name"])]
        if step["cached"] and step.get("cache_key"):
            row = run_store.conn.execute("SELECT run_id, step FROM cache WHERE key = ?", (step["cache_key"],)).fetchone()
            if row is not None:
                sources.append((row[0], row[1]))
        for source_run, source_step in sources:
            for att in run_store.attachments(source_run):
                if att["step"] == source_step and att["name"] not in attached:
                    try:
                        attached[att["name"]] = artifacts.get(att["hash"])
                    except Exception:  # an attachment that cannot be read is left out, not fatal
                        continue
    outputs: dict[str, Any] = {}
    for step in run["steps"]:
        if step.get("output_hash") and step.get("output_kind") == "json":
            try:
                outputs[step["name"]] = artifacts.get(step["output_hash"])
            except Exception:
                pass
    return {"run": run, "attachments": attached, "outputs": outputs}


def render_run_report(data: dict[str, Any]) -> str:
    """The HTML page for :func:`collect_run`'s data."""
    run, attached, outputs = data["run"], data["attachments"], data["outputs"]
    steps = run["steps"]
    edges = [(up, s["name"]) for s in steps for up in s.get("upstream") or []]
    body: list[str] = []
    duration = (run["ended_at"] - run["started_at"]) if run.get("ended_at") and run.get("started_at") else None
    ok = {"succeeded": True, "failed": False}.get(run["status"])
    body.append(
        f"<p>{badge(ok, run['status'])} <span class=muted>pipeline <b>{esc(run['pipeline'])}</b> · started "
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(run['created_at'])))} · "
        f"{'' if duration is None else f'{duration:.1f} s'} · executor {esc(run.get('executor'))}</span></p>"
    )
    if run.get("error"):
        body.append(f"<pre>{esc(run['error'])}</pre>")
    body.append("<h2>Pipeline</h2>" + dag_svg(steps, edges))
    body.append(table(
        ["step", "status", "cached", "attempts", "duration", "CPU", "peak MB", "error"],
        [[s["name"], s["status"], "yes" if s["cached"] else "no", s["attempts"],
          None if s["duration_s"] is None else f"{s['duration_s']:.2f} s",
          None if s.get("cpu_s") is None else f"{s['cpu_s']:.2f} s",
          None if s.get("peak_rss_mb") is None else f"{s['peak_rss_mb']:.0f}", s.get("error")] for s in steps],
    ))
    body.append("<h3>Parameters</h3>" + table(["parameter", "value"], [[k, v] for k, v in (run.get("params") or {}).items()]))

    validation = attached.get("validation_report")
    if validation:
        body.append(f"<h2>Data validation {badge(validation.get('passed'))}</h2><p>{esc(validation.get('summary'))}</p>")
        body.append(checks_table(validation.get("checks", [])))
        body.append(_examples(validation.get("checks", [])))

    evaluation = outputs.get("evaluate") if isinstance(outputs.get("evaluate"), dict) else None
    card = attached.get("model_card") or (evaluation or {}).get("card")
    report = attached.get("evaluation_report") or (evaluation or {}).get("report")
    if card:
        training = card.get("training") or {}
        if training.get("cv"):
            body.append("<h2>Training</h2>" + table(
                ["metric", "CV mean", "CV std", "folds"],
                [[m, s["mean"], s["std"], ", ".join(f"{v:.4f}" for v in s.get("folds", []))] for m, s in training["cv"].items()],
            ))
        body.append("<h2>Test metrics</h2>" + table(["metric", "value"], [[k, v] for k, v in card.get("metrics", {}).items()]))
        if card.get("confusion_matrix"):
            body.append("<h3>Confusion matrix</h3>" + confusion_matrix_html(card["confusion_matrix"]))
        predictions = (evaluation or {}).get("predictions") or {}
        if predictions.get("y_true"):
            body.append("<h3>Residuals</h3>" + residual_svg(predictions["y_true"], predictions["y_pred"]))
    if report:
        body.append(f"<h2>Model tests {badge(report.get('passed'))}</h2><p>{esc(report.get('summary'))}</p>")
        body.append(checks_table(report.get("checks", [])))
    if card:
        body.append("<h2>Model card</h2>" + card_section(card))
    registered = outputs.get("register")
    if isinstance(registered, dict) and registered.get("version"):
        body.append("<h2>Registered model</h2>" + table(["", ""], [[k, v] for k, v in registered.items()]))
    lineage = run.get("lineage") or {}
    if lineage:
        git = lineage.get("git") or {}
        rows = [["git commit", f"{git.get('commit', '')}{' (dirty)' if git.get('dirty') else ''}"],
                ["pipeline file", (lineage.get("pipeline_file") or {}).get("path")],
                ["python", (lineage.get("python") or {}).get("version")],
                ["packages", ", ".join(f"{k} {v}" for k, v in (lineage.get("packages") or {}).items())]]
        rows += [[f"dataset {d['name']}", f"{d['version']} ({d['step']})"] for d in run.get("datasets", [])]
        body.append("<h2>Lineage</h2>" + table(["", ""], rows))
    return page(f"Run {run['run_id']}", "".join(body))


def write_run_report(run_id: str, output: Path | None = None, home: Path | None = None) -> Path:
    """Collect, render and atomically write the report; returns its path.

    The default path is ``$MODELWAY_HOME/reports/<run id>.html``.
    """
    from modelway.stages.model_card import atomic_write_text

    data = collect_run(run_id, home)
    if output is None:
        from modelway.settings import get_settings

        output = (home or get_settings().resolved_home()) / "reports" / f"{data['run']['run_id']}.html"
    if output.is_dir():
        raise UserError(f"report path {output} is a directory; pass a file name such as {output / 'report.html'}")
    atomic_write_text(output, render_run_report(data))
    return output


def _examples(checks: list[dict[str, Any]]) -> str:
    parts = []
    for check in checks:
        if not check.get("passed") and check.get("examples"):
            parts.append(f"<h4>Example rows: {esc(check['name'])}</h4><pre>{esc(json.dumps(check['examples'][:3], indent=1, default=str))}</pre>")
    return "".join(parts)
