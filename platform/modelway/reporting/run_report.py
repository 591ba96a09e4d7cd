"""``modelway runs report RUN_ID``: one self-contained HTML page about a pipeline run.

Sections: run header (with the error and the failed step's traceback when the run
failed), the DAG with step states and durations, parameters, the pipeline's outputs, the
data validation report, training (CV) and test metrics, the confusion matrix
(classifiers) or residual plot (regressors), the model tests, the per-group fairness
chart, the model card (what the page does not already show, plus a link to the card's
HTML file), the registered model version with its live approval status, the model's monitoring
history once it is served (drift per feature over time, quality, alerts), and lineage.
Any pipeline gets a report; the ML sections appear when the run has them. Reports
attached by steps are found in the run store; for a step served from the cache they
come from the run that originally computed it.

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
from modelway.files import atomic_write_text
from modelway.stages.model_card import evidence_section
from modelway.html_blocks import (
    badge, card_section, checks_table, confusion_matrix_html, dag_svg, esc, examples_table, failing_columns, fairness_section,
    fmt, hyperparameters_html, kv_table, page, residual_svg, table,
)
from modelway.monitoring.report import monitoring_history, monitoring_section
from modelway.registry import get_registry
from modelway.registry.promotion import AUTO_APPROVER
from modelway.runtime.context import stores
from modelway.runtime.run_details import run_details
from modelway.settings import get_settings


def collect_run(run_id: str, home: Path | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (steps, attachments by name, outputs, model)."""
    home = home or get_settings().resolved_home()
    if not (home / "modelway.db").is_file():  # reading a report never creates a home
        raise UserError(f"runs report: there is no Modelway home at {home}; run this in your project "
                        "directory or set MODELWAY_HOME to the home your runs use")
    run_store, artifacts = stores(home)
    run = run_details(run_store, run_id)  # resolves prefixes and latest/last
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
    registered = outputs.get("register")
    monitoring = None
    if isinstance(registered, dict) and registered.get("model"):
        monitoring = monitoring_history(home, registered["model"])  # the model's life after this run, if it is served
    return {"run": run, "attachments": attached, "outputs": outputs, "model": _registry_record(registered, home),
            "monitoring": monitoring}


def _registry_record(registered: Any, home: Path) -> dict[str, Any] | None:
    """The registered version as the registry knows it NOW (status and approver change after the run)."""
    if not (isinstance(registered, dict) and registered.get("model") and registered.get("version")):
        return None
    try:
        return get_registry(home).get(registered["model"], registered["version"]).to_dict(full=False)
    except Exception:  # a deleted or unreadable registry still leaves the run's own record
        return None


def render_run_report(data: dict[str, Any]) -> str:
    """The HTML page for :func:`collect_run`'s data."""
    run, attached, outputs = data["run"], data["attachments"], data["outputs"]
    model = data.get("model")
    registered = outputs.get("register") if isinstance(outputs.get("register"), dict) else None
    steps = run["steps"]
    edges = [(up, s["name"]) for s in steps for up in s.get("upstream") or []]
    body: list[str] = []
    duration = (run["ended_at"] - run["started_at"]) if run.get("ended_at") and run.get("started_at") else None
    ok = {"succeeded": True, "failed": False}.get(run["status"])
    facts = [f"pipeline <b>{esc(run['pipeline'])}</b>",
             f"started {esc(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(run['created_at'])))}"]
    if duration is not None:  # a run still going (or stopped before it ended) has none: no empty " ·  · "
        facts.append(f"{duration:.1f} s")
    if run.get("executor"):
        facts.append(f"executor {esc(run['executor'])}")
    body.append(f"<p>{badge(ok, run['status'])} <span class=muted>{' · '.join(facts)}</span></p>")
    body.append(_error_banner(run))
    body.append("<h2>Pipeline</h2>" + dag_svg(steps, edges))
    body.append(table(
        ["step", "status", "cached", "attempts", "duration", "CPU", "peak MB", "error"],
        [[s["name"], s["status"], "yes" if s["cached"] else "no", s["attempts"],
          None if s["duration_s"] is None else f"{s['duration_s']:.2f}\u00a0s",  # no break inside a figure
          None if s.get("cpu_s") is None else f"{s['cpu_s']:.2f}\u00a0s",
          None if s.get("peak_rss_mb") is None else f"{s['peak_rss_mb']:.0f}", s.get("error")] for s in steps],
    ))
    params = run.get("params") or {}
    if params:
        body.append("<h3>Parameters</h3>" + kv_table([(k, _param_value(k, v, registered, model)) for k, v in params.items()], raw=True))
    body.append(_outputs_section(run, registered))

    validation = attached.get("validation_report")
    if validation:
        body.append(f"<h2>Data validation {badge(validation.get('passed'))}</h2><p>{esc(validation.get('summary'))}</p>")
        body.append(checks_table(validation.get("checks", []), fold_passed=True))
        body.append(_examples(validation.get("checks", []), validation.get("context") or {}))

    evaluation = outputs.get("evaluate") if isinstance(outputs.get("evaluate"), dict) else None
    card = attached.get("model_card") or (evaluation or {}).get("card")
    report = attached.get("evaluation_report") or (evaluation or {}).get("report")
    if card:
        training = card.get("training") or {}
        if training:
            body.append("<h2>Training</h2>" + hyperparameters_html(training))
        if training.get("cv"):
            body.append(table(
                ["metric", "CV mean", "CV std", "folds"],
                [[m, s["mean"], s["std"], ", ".join(f"{v:.4f}" for v in s.get("folds", []))] for m, s in training["cv"].items()],
            ))
        body.append("<h2>Test metrics</h2>" + table(["metric", "value"], [[k, v] for k, v in card.get("metrics", {}).items()]))
        if card.get("confusion_matrix"):
            body.append("<h3>Confusion matrix</h3>" + confusion_matrix_html(card["confusion_matrix"], card.get("class_names")))
        predictions = attached.get("predictions") or (evaluation or {}).get("predictions") or {}
        if predictions.get("y_true"):
            body.append("<h3>Residuals</h3>" + residual_svg(predictions["y_true"], predictions["y_pred"]))
        if card.get("slices"):
            names = sorted({m for metrics in card["slices"].values() for m in metrics})
            body.append("<h3>Metrics per slice</h3>" + table(["slice"] + names, [[s] + [m.get(n) for n in names] for s, m in card["slices"].items()]))
    if report:
        body.append(f"<h2>Model tests {badge(report.get('passed'))}</h2><p>{esc(report.get('summary'))}</p>")
        body.append(checks_table(report.get("checks", []), fold_passed=True))
        body.append(_examples(report.get("checks", []), (validation or {}).get("context") or {}))
    if card and (card.get("evidence") or card.get("ml_test_score")):
        body.append("<h2>Evidence</h2>" + evidence_section(card))
    history = attached.get("performance_history")
    if history:
        body.append(f"<h2>Speed and memory vs the previous run</h2><p>{esc(history.get('summary'))}</p>"
                    + checks_table(history.get("checks", [])))
    if card and card.get("fairness"):
        body.append(fairness_section(card["fairness"], (report or card).get("checks"), level="h2", overall=card.get("metrics")))
    if card:
        card_link = _card_link(model or registered)
        body.append("<h2>Model card</h2>" + (f"<p>Full card: {card_link}</p>" if card_link else "")
                    + card_section(card, embedded=True))
    if registered and registered.get("version"):
        body.append("<h2>Registered model</h2>" + _registered_table(registered, model))
    if data.get("monitoring"):
        body.append(monitoring_section(data["monitoring"]))
    lineage = run.get("lineage") or {}
    if lineage:
        git = lineage.get("git") or {}
        rows = [("git commit", f"{git.get('commit', '')}{' (dirty)' if git.get('dirty') else ''}"),
                ("pipeline file", (lineage.get("pipeline_file") or {}).get("path")),
                ("python", (lineage.get("python") or {}).get("version")),
                ("packages", ", ".join(f"{k} {v}" for k, v in (lineage.get("packages") or {}).items()))]
        rows += [(f"dataset {d['name']}", f"{d['version']} ({d['step']})") for d in run.get("datasets", [])]
        body.append("<h2>Lineage</h2>" + kv_table(rows))
    return page(f"Run {run['run_id']}", "".join(body))


def write_run_report(run_id: str, output: Path | None = None, home: Path | None = None) -> Path:
    """Collect, render and atomically write the report; returns its path.

    The default path is ``$MODELWAY_HOME/reports/<run id>.html``.
    """
    if output is not None and not output.parent.is_dir():  # a path the user typed: never create its folders
        raise UserError(f"report path {output}: directory {output.parent} does not exist")
    data = collect_run(run_id, home)
    if output is None:
        output = (home or get_settings().resolved_home()) / "reports" / f"{data['run']['run_id']}.html"
    if output.is_dir():
        raise UserError(f"report path {output} is a directory; pass a file name such as {output / 'report.html'}")
    atomic_write_text(output, render_run_report(data), create_parents=True)
    return output


def _error_banner(run: dict[str, Any]) -> str:
    """The run's error, wrapped, with each failed step's traceback in a collapsible block."""
    failed = [s for s in run["steps"] if s.get("status") in ("failed", "cancelled") and (s.get("error") or s.get("traceback"))]
    if not run.get("error") and not failed:
        return ""
    parts = ["<div class=error role=alert>"]
    if run.get("error"):
        parts.append(f"<p><b>Error:</b> {esc(run['error'])}</p>")
    for step in failed:
        if step.get("error") and step["error"] not in (run.get("error") or ""):
            parts.append(f"<p><b>{esc(step['name'])}:</b> {esc(step['error'])}</p>")
        if step.get("traceback"):
            parts.append(f"<details><summary>Traceback of step <b>{esc(step['name'])}</b></summary>"
                         f"<pre class=traceback>{esc(step['traceback'].rstrip())}</pre></details>")
    parts.append(f"<p class=muted>Continue after a fix with <code>modelway resume {esc(run['run_id'])}</code></p></div>")
    return "".join(parts)


def _param_value(name: str, value: Any, registered: dict[str, Any] | None, model: dict[str, Any] | None) -> str:
    """A parameter's value; a blank ``env`` shows the environment it resolved to."""
    if name == "env" and value in ("", None):
        resolved = (model or {}).get("environment") or (registered or {}).get("environment")
        if resolved:
            return f"<b>{esc(resolved)}</b> <span class=muted>(blank: resolved from $MODELWAY_ENV, default dev)</span>"
        return "<span class=muted>blank: $MODELWAY_ENV or dev (not resolved; the run stopped before registration)</span>"
    if value == "":
        return "<span class=muted>(empty)</span>"
    return fmt(value)


def _outputs_section(run: dict[str, Any], registered: dict[str, Any] | None) -> str:
    """What the pipeline returned, for any pipeline (a registration is shown under Registered model)."""
    result = run.get("outputs")
    if isinstance(result, dict) and list(result) == ["result"]:
        result = result["result"]  # the pipeline's single return value
    if result in (None, {}, []) or (registered is not None and result == registered):
        return ""
    if isinstance(result, dict):
        rows = [(k, _value_html(v)) for k, v in result.items()]
        return "<h2>Outputs</h2>" + kv_table(rows, raw=True)
    return "<h2>Outputs</h2>" + _value_html(result)


def _value_html(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, indent=1, default=str)
        return f"<pre>{esc(text)}</pre>" if len(text) > 80 else f"<code>{esc(json.dumps(value, default=str))}</code>"
    return fmt(value)


def _card_link(record: dict[str, Any] | None) -> str:
    """A file:// link to the card's HTML (the registry stores the .md path; .html sits next to it)."""
    path = (record or {}).get("model_card_path") or (record or {}).get("model_card")
    if not path:
        return ""
    html_path = Path(path).with_suffix(".html")
    if not html_path.exists():
        return f"<code>{esc(path)}</code>"
    return (f"<a href='{esc(html_path.as_uri())}'>{esc(html_path.name)}</a> "
            f"<span class=muted>({esc(html_path.parent)}; also .md and .json)</span>")


def _registered_table(registered: dict[str, Any], model: dict[str, Any] | None) -> str:
    """The registered version; status, approver and decision time as the registry says now."""
    model = model or {}
    status = model.get("status") or registered.get("status")
    ok = {"Approved": True, "Rejected": False}.get(str(status))
    rows: list[tuple[str, str]] = [
        ("model", esc(registered.get("model"))), ("version", f"<b>{esc(registered.get('version'))}</b> "
                                                  f"<span class=muted>({esc(registered.get('version_reason'))})</span>"),
        ("environment", esc(model.get("environment") or registered.get("environment"))),
        ("status", f"{badge(ok, str(status))}" + ("" if model else " <span class=muted>(as recorded by the run)</span>")),
    ]
    if model.get("decided_by"):
        who = f"{esc(AUTO_APPROVER)} (automatic, environment rules)" if model["decided_by"] == AUTO_APPROVER else esc(model["decided_by"])
        rows.append(("decided by", f"{who} at {esc(model.get('decided_at'))}"))
        if model.get("decision_reason"):
            rows.append(("reason", esc(model["decision_reason"])))
    elif status == "Pending":
        rows.append(("decided by", f"nobody yet; approve with <code>modelway models approve {esc(registered.get('model'))} "
                                   f"{esc(registered.get('version'))} --reason '...'</code>"))
    sha = model.get("artifact_sha256") or registered.get("artifact_sha256")
    if sha:
        rows.append(("artifact sha256", f"<code>{esc(sha)}</code>"))
    link = _card_link(model or registered)
    if link:
        rows.append(("model card", link))
    for key, label in (("run_id", "run"), ("mlflow_run_id", "MLflow run"), ("mlflow_ui", "MLflow UI")):
        if registered.get(key):
            rows.append((label, f"<code>{esc(registered[key])}</code>"))
    return kv_table(rows, raw=True)


def _examples(checks: list[dict[str, Any]], context: dict[str, Any]) -> str:
    """Example rows of each failed check, its failing columns first and highlighted, values in the contract's units."""
    parts = []
    for check in checks:
        if not check.get("passed") and check.get("examples"):
            columns = [k for e in check["examples"] if isinstance(e, dict) for k in e]
            failing = failing_columns(check, columns)
            what = f" (failing: {', '.join(failing)})" if failing else ""
            parts.append(f"<h4>Example rows: {esc(check['name'])}{esc(what)}</h4>"
                         + examples_table(check["examples"], limit=3, failing=failing, units=context.get("units"),
                                          ids=context.get("id_columns") or ()))
    return "".join(parts)
