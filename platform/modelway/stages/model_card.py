"""Model cards: what a model is for, what it was trained on, how it scored, which checks it passed.

:func:`build_model_card` assembles a JSON-able dict (intended use, limitations, data
versions, training summary, metrics overall / per slice / per group, fairness figures and
every gate check with its limit and outcome); :func:`render_markdown` and
:func:`render_html` turn it into documents a reviewer reads. :func:`write_model_card`
writes all three atomically.

Example:
    >>> card = build_model_card(name="m", task="regression", intended_use="demo",
    ...                         metrics={"r2": 0.5}, checks=[])
    >>> render_markdown(card).splitlines()[0]
    '# Model card: m'
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelway.files import atomic_write_text
from modelway.evidence_blocks import curves_html, evidence_html, intervals_html, ml_test_score_html
from modelway.html_blocks import approval_hint, card_section, check_quantity, esc, gates_text, humanize_check, page
from modelway.settings import current_user
from modelway.stages.gates import CheckResult


def build_model_card(
    *,
    name: str,
    task: str,
    intended_use: str,
    metrics: dict[str, Any],
    checks: list[CheckResult | dict[str, Any]],
    version: str | None = None,
    limitations: list[str] | None = None,
    data_versions: dict[str, str] | None = None,
    training: dict[str, Any] | None = None,
    slices: dict[str, dict[str, Any]] | None = None,
    fairness: dict[str, Any] | None = None,
    features: list[str] | None = None,
    run_id: str | None = None,
    code_commit: str | None = None,
    mlflow_run_id: str | None = None,
    owner: str | None = None,
    environment: str | None = None,
    artifact_sha256: str | None = None,
    class_names: dict[str, str] | list[str] | None = None,
) -> dict[str, Any]:
    """A model card as a plain dict (the JSON form).

    ``owner`` defaults to the user building the card (``$MODELWAY_USER`` or the login);
    ``environment`` and ``artifact_sha256`` are filled in when known (the registry knows
    them at registration). The approval status is deliberately NOT part of the card: it
    changes after the card is written; the card points to ``modelway models show``.

    Example:
        >>> build_model_card(name="m", task="classification", intended_use="x", metrics={}, checks=[])["passed"]
        True
    """
    if owner is None:
        owner = current_user()
    check_dicts = [c.to_dict() if isinstance(c, CheckResult) else dict(c) for c in checks]
    fairness_clean = None
    if fairness is not None:
        fairness_clean = {k: v for k, v in fairness.items() if k != "checks"}
    card = {
        "schema_version": 1,
        "name": name,
        "version": version,
        "task": task,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "intended_use": intended_use,
        "limitations": list(limitations or []),
        "features": list(features or []),
        "data_versions": dict(data_versions or {}),
        "training": training or {},
        "metrics": {k: v for k, v in metrics.items() if k != "confusion_matrix"},
        "confusion_matrix": metrics.get("confusion_matrix"),
        "slices": slices or {},
        "fairness": fairness_clean,
        "checks": check_dicts,
        "passed": all(c["passed"] or c.get("advisory") for c in check_dicts),
        "run_id": run_id,
        "mlflow_run_id": mlflow_run_id,
        "code_commit": code_commit,
        "owner": owner,
        "environment": environment,
        "artifact_sha256": artifact_sha256,
        "class_names": class_names,
    }
    return json.loads(json.dumps(card, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def render_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown (tables for metrics, slices, groups and checks)."""
    out = [f"# Model card: {card['name']}" + (f" {card['version']}" if card.get("version") else ""), ""]
    out += [f"**Gates:** {gates_text(card)}  ", f"**Task:** {card['task']}  "]
    if card.get("environment"):
        out.append(f"**Environment:** {card['environment']}  ")
    approval = card.get("approval")
    if approval:  # rewritten by the registry at each decision; `models show` is the live record
        out.append(f"**Approval:** {approval.get('status')} by {approval.get('decided_by') or '-'} at "
                   f"{approval.get('decided_at') or '-'}{': ' + approval['reason'] if approval.get('reason') else ''} "
                   f"(live: `{approval_hint(card)}`)  ")
    elif card.get("version"):
        # the approval status changes after this file is written; never freeze it here
        out.append(f"**Approval:** see `{approval_hint(card)}`  ")
    if card.get("artifact_sha256"):
        out.append(f"**Artifact sha256:** `{card['artifact_sha256']}`  ")
    if card.get("owner"):
        out.append(f"**Owner:** {card['owner']}  ")
    if card.get("run_id"):
        out.append(f"**Run:** {card['run_id']} (report: `modelway runs report {card['run_id']}`)  ")
    if card.get("code_commit"):
        out.append(f"**Code commit:** {card['code_commit']}  ")
    out += ["", "## Intended use", "", card["intended_use"], ""]
    if card["limitations"]:
        out += ["## Limitations", ""] + [f"- {item}" for item in card["limitations"]] + [""]
    if card["data_versions"]:
        out += ["## Data", "", "| dataset | version |", "|---|---|"] + [f"| {k} | {v} |" for k, v in card["data_versions"].items()] + [""]
    training = card.get("training") or {}
    if training:
        out += ["## Training", ""]
        if training.get("estimator"):
            stages = training["estimator"] if isinstance(training["estimator"], list) else [training["estimator"]]
            out += [f"**Estimator:** `{' → '.join(str(s).replace(':', ': ', 1) for s in stages)}`", ""]
        if training.get("best_params"):
            out += ["| stage | hyperparameter (tuned) | value |", "|---|---|---|"]
            for key, value in training["best_params"].items():
                stage, _, name = str(key).rpartition("__")
                out.append(f"| {stage or '-'} | {name} | {_fmt(value)} |")
            out.append("")
        if training.get("search"):
            out.append("**Search:** " + ", ".join(f"{k} {v}" for k, v in training["search"].items()))
            out.append("")
        for metric, stats in (training.get("cv") or {}).items():
            out.append(f"- **CV {metric}:** {stats['mean']:.4f} ± {stats['std']:.4f} over {len(stats.get('folds', []))} folds")
        out.append("")
    out += ["## Metrics (test set)", "", "| metric | value |", "|---|---|"]
    out += [f"| {k} | {_fmt(v)} |" for k, v in card["metrics"].items()] + [""]
    if card["slices"]:
        names = sorted({m for metrics in card["slices"].values() for m in metrics})
        out += ["## Metrics per slice", "", "| slice | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        out += [f"| {s} | " + " | ".join(_fmt(m.get(n)) for n in names) + " |" for s, m in card["slices"].items()] + [""]
    fairness = card.get("fairness")
    if fairness:
        groups = fairness.get("by_group", {})
        names = sorted({m for g in groups.values() for m in g})
        out += [f"## Fairness by {fairness.get('sensitive')}", "", "| group | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        out += [f"| {g} | " + " | ".join(_fmt(m.get(n)) for n in names) + " |" for g, m in groups.items()] + [""]
        for key in ("demographic_parity_difference", "equalized_odds_difference", "max_relative_mae_gap"):
            if key in fairness:
                out.append(f"- **{key}:** {_fmt(fairness[key])}")
        out.append("")
    score = card.get("ml_test_score")
    if score:
        out += ["## ML Test Score", "", "| section | score (of 7) |", "|---|---|"]
        out += [f"| {name} | {section['score']:g} |" for name, section in score["sections"].items()]
        out += [f"| **final (weakest section)** | **{score['final']:g}** |", ""]
    out += ["## Checks", "", "| check | result | observed | limit | detail |", "|---|---|---|---|---|"]
    out += [
        f"| {c['name']} | {'pass' if c['passed'] else 'warn (advisory)' if c.get('advisory') else '**FAIL**'} | "
        + " | ".join(html.unescape(q).replace("|", "/") for q in check_quantity(c))
        + f" | {humanize_check(c.get('message')).replace('|', '/')} |"
        for c in card["checks"]
    ]
    return "\n".join(out) + "\n"


# The card's files sit in $MODELWAY_HOME/registry/cards/<model>/<version>/ and `modelway runs report RUN` writes
# $MODELWAY_HOME/reports/RUN.html: a relative link keeps working when the home is moved or copied whole.
REPORT_FROM_CARD = "../../../../reports/{run_id}.html"


def render_html(card: dict[str, Any]) -> str:
    """The card as a self-contained HTML page (no external assets)."""
    href = REPORT_FROM_CARD.format(run_id=card["run_id"]) if card.get("run_id") else None
    return page(f"Model card: {card['name']} {card.get('version') or ''}".strip(),
                card_section(card) + evidence_section(card, report_href=href))


def evidence_section(card: dict[str, Any], *, report_href: str | None = None) -> str:
    """The card's ML Test Score, curves, intervals and feature/baseline tables (HTML), plus where the report is
    (``report_href``: a link to the run report from where this HTML is written)."""
    evidence = card.get("evidence") or {}
    out: list[str] = []
    if card.get("ml_test_score"):
        out.append("<h3>ML Test Score</h3>" + ml_test_score_html(card["ml_test_score"]))
    if evidence.get("curves"):
        out.append("<h3>Curves</h3>" + curves_html(evidence["curves"]))
    if evidence.get("intervals"):
        out.append("<h3>Confidence intervals</h3>" + intervals_html(card.get("metrics") or {}, evidence["intervals"], card.get("slices"),
                                                                   _min_support(card)))
    details = evidence_html(evidence)
    if details:
        out.append("<h3>Evidence behind the checks</h3>" + details)
    if card.get("run_id") and report_href:
        run = esc(card["run_id"])
        out.append(f"<h3>Reports</h3><p>Run report: <a href='{esc(report_href)}'>reports/{run}.html</a> in the Modelway home "
                   f"(written, or brought up to date, by <code>modelway runs report {run}</code>)"
                   + (f"; MLflow run <code>{esc(card['mlflow_run_id'])}</code>" if card.get("mlflow_run_id") else "") + "</p>")
    return "".join(out)


def _min_support(card: dict[str, Any]) -> int | None:
    for check in card.get("checks") or []:
        if str(check.get("name", "")).endswith(".support") and isinstance(check.get("limit"), int):
            return check["limit"]
    return None


def write_model_card(card: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Write ``model_card.json``, ``.md`` and ``.html`` into ``directory`` (atomically each).

    Example:
        >>> import tempfile
        >>> card = build_model_card(name="m", task="regression", intended_use="x", metrics={}, checks=[])
        >>> sorted(write_model_card(card, Path(tempfile.mkdtemp())))
        ['html', 'json', 'md']
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "model_card.json", "md": directory / "model_card.md", "html": directory / "model_card.html"}
    atomic_write_text(paths["json"], json.dumps(card, indent=2, sort_keys=False))
    atomic_write_text(paths["md"], render_markdown(card))
    atomic_write_text(paths["html"], render_html(card))
    return paths


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value)) if isinstance(value, str) and "<" in value else str(value)
