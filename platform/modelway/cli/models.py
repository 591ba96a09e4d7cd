"""``modelway models | audit`` and ``modelway runs report``: registry, approvals, audit trail, HTML report.

Only Typer (and the stdlib) is imported here; the registry and report code load inside
the commands.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from modelway import active_backends
from modelway.cli.stack import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.registry import RegistryError, get_registry
from modelway.settings import current_user, get_settings, ui_command
from modelway.store.faults import check_home

models_app = typer.Typer(help="Registered model versions and their approvals.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log of registry and approval events.", no_args_is_help=True)


@models_app.callback()
@audit_app.callback()
def _on_stack(
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Registered model versions and their approvals (on a stack: its SageMaker model package groups)."""
    use_stack(stack, outputs)


def _on_a_stack() -> bool:
    return active_backends.current() is not None


def _registry(*, create: bool = False) -> Any:
    """The registry of $MODELWAY_HOME (or the stack's); unless ``create``, a home without one is a one-line
    error naming the home looked in (and nothing is created there)."""
    home = check_home(get_settings().resolved_home())
    if not create and not _on_a_stack() and not (home / "registry" / "registry.db").exists():
        raise RegistryError(f"no model registry in {home} (MODELWAY_HOME); register a model first, "
                            "e.g. modelway run pipelines/credit_risk.py")
    from modelway.stages.model_card import write_model_card  # an approval re-renders the card's files with it

    return get_registry(home, card_writer=write_model_card)


def _has_registry() -> bool:
    return _on_a_stack() or (check_home(get_settings().resolved_home()) / "registry" / "registry.db").exists()


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _card_paths(md_path: str | None) -> dict[str, str]:
    if not md_path:
        return {}
    md = Path(md_path)
    return {"md": str(md), "html": str(md.with_suffix(".html")), "json": str(md.with_suffix(".json"))}


@models_app.command("list")
def models_list(
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Only versions of this model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List model versions (newest first per model) with status and environment."""
    if not _has_registry():
        if as_json:
            _print_json([])
        else:
            print(f"no model versions registered yet in {get_settings().resolved_home()}; run a pipeline, "
                  "e.g.: modelway run pipelines/credit_risk.py")
        return
    versions = _registry().list(name)
    if as_json:
        _print_json([v.to_dict(full=False) for v in versions])
        return
    if not versions:
        print("no model versions registered yet; run a pipeline, e.g.: modelway run pipelines/credit_risk.py")
        return
    print(f"{'MODEL':<22} {'VERSION':<9} {'STATUS':<9} {'ENV':<8} {'GATES':<6} {'CREATED':<25} {'RUN':<24} REASON")
    for v in versions:
        print(f"{v.name[:22]:<22} {v.version:<9} {v.status:<9} {v.environment:<8} {'pass' if v.gates_passed else 'FAIL':<6} "
              f"{v.created_at:<25} {(v.run_id or '-')[:24]:<24} {v.version_reason}")


@models_app.command("show")
def models_show(
    name: str = typer.Argument(..., help="Model name, e.g. credit-risk."),
    version: Optional[str] = typer.Argument(None, help="Version (default: the latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full record as JSON."),
) -> None:
    """Show one version: status, approval, metrics, fairness, lineage, card and artifact."""
    registry = _registry()
    v = registry.get(name, version)
    history = [e.__dict__ for e in registry.audit_entries(name, v.version)]
    if as_json:
        doc = v.to_dict()
        doc["model_card_paths"] = _card_paths(v.model_card_path)
        doc["audit"] = history
        _print_json(doc)
        return

    print(f"model      {v.name} {v.version}  ({v.version_reason})")
    decided = f" by {v.decided_by} at {v.decided_at}" + (f": {v.decision_reason}" if v.decision_reason else "") if v.decided_by else ""
    print(f"status     {v.status}{decided}")
    print(f"env        {v.environment}   gates {'passed' if v.gates_passed else 'FAILED'}")
    print(f"family     {v.family}")
    print(f"artifact   {v.artifact_uri}  sha256:{v.artifact_sha256[:16]}  {v.artifact_bytes} bytes")
    print(f"run        {v.run_id or '-'}   MLflow run {v.mlflow_run_id or '-'}")
    print(f"code       {v.code_commit or '-'}")
    print(f"data       " + (", ".join(f"{k}@{val}" for k, val in v.data_versions.items()) or "-"))
    print("metrics    " + ", ".join(f"{k}={val:.4f}" if isinstance(val, float) else f"{k}={val}" for k, val in v.metrics.items()))
    if v.fairness:
        figures = {k: v.fairness[k] for k in ("demographic_parity_difference", "equalized_odds_difference", "max_relative_mae_gap") if k in v.fairness}
        print(f"fairness   by {v.fairness.get('sensitive')}: " + ", ".join(f"{k}={val:.4f}" for k, val in figures.items()))
    if v.hyperparameters:
        print(f"params     {json.dumps(v.hyperparameters, default=str)}")
    paths = _card_paths(v.model_card_path)
    if paths:
        print(f"card       {paths['md']}  (also .html, .json)")
    print(f"mlflow     {ui_command()}")
    print("history")
    for e in history:
        reason = e["payload"].get("reason") or e["payload"].get("version_reason") or ""
        print(f"  {e['ts']}  {e['event']:<10} by {e['actor']:<14} {reason}")
    if v.status == "Pending":
        print(f"next       modelway models approve {v.name} {v.version} --reason '...'   (or reject)")


def _decide(action: str, name: str, version: str, reason: Optional[str], by: Optional[str], as_json: bool) -> None:
    registry = _registry()
    actor = current_user() if by is None else by  # an explicit --by "" is refused, not replaced
    fn = registry.approve if action == "approve" else registry.reject
    v = fn(name, version, actor=actor, reason=reason)
    if v.mlflow_run_id and not _on_a_stack():  # MLflow users see the decision (and the champion alias) too
        from modelway.stages.registration import mirror_to_mlflow

        mirror_to_mlflow(v.mlflow_run_id, v.name, v.version, v.environment, v.status)
    if as_json:
        _print_json(v.to_dict(full=False))
        return
    print(f"{v.name} {v.version} ({v.environment}): {v.status} by {v.decided_by} at {v.decided_at}"
          + (f": {v.decision_reason}" if v.decision_reason else ""))


@models_app.command("approve")
def models_approve(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version to approve (must be Pending)."),
    reason: Optional[str] = typer.Option(None, "--reason", "-r", help="Why (required for prod)."),
    by: Optional[str] = typer.Option(None, "--by", help="Approver (default: $MODELWAY_USER or your login)."),
    as_json: bool = typer.Option(False, "--json", help="Print the updated version as JSON."),
) -> None:
    """Approve a Pending version; records who, when and why in the audit log."""
    _decide("approve", name, version, reason, by, as_json)


@models_app.command("reject")
def models_reject(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version to reject (must be Pending)."),
    reason: Optional[str] = typer.Option(None, "--reason", "-r", help="Why (required for prod)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who rejects (default: $MODELWAY_USER or your login)."),
    as_json: bool = typer.Option(False, "--json", help="Print the updated version as JSON."),
) -> None:
    """Reject a Pending version; records who, when and why in the audit log."""
    _decide("reject", name, version, reason, by, as_json)


@models_app.command("revoke")
def models_revoke(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version to revoke (must be Approved)."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why it is retired (required)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who revokes (default: $MODELWAY_USER or your login)."),
    as_json: bool = typer.Option(False, "--json", help="Print the updated version as JSON."),
) -> None:
    """Retire an Approved version (e.g. a bad champion): Revoked, audited with who, when and why;
    it is never picked as the champion again."""
    v = _registry().revoke(name, version, actor=current_user() if by is None else by, reason=reason)
    if as_json:
        _print_json(v.to_dict(full=False))
        return
    print(f"{v.name} {v.version} ({v.environment}): {v.status} by {v.decided_by} at {v.decided_at}: {v.decision_reason}")


@audit_app.command("verify")
def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Recompute the audit chain and cross-check versions, artifacts and run lineage; exit 1 on any problem."""
    home = get_settings().resolved_home()
    if not home.exists():
        raise RegistryError(f"no Modelway home at {home} (MODELWAY_HOME); nothing to verify")
    # a home whose registry was deleted is verified too: the run lineage says what is missing
    result = _registry(create=True).verify_audit()
    if as_json:
        _print_json(result.to_dict())
    elif result.ok:
        print(f"audit log OK: {result.entries} entries, chain intact, statuses match")
    else:
        print(f"audit log BROKEN: {len(result.problems)} problem(s) in {result.entries} entries", file=sys.stderr)
        for problem in result.problems:
            print(f"  - {problem}", file=sys.stderr)
    if not result.ok:
        sys.exit(1)


@audit_app.command("log")
def audit_log(
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Only events of this model."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """Print the audit events in order."""
    registry = _registry()
    if name is not None:
        registry.get(name)  # an unknown model is an error naming the known ones (exit 2), as in `models show`
    entries = registry.audit_entries(name)
    if as_json:
        _print_json([e.__dict__ for e in entries])
        return
    for e in entries:
        print(f"{e.seq:>5} {e.ts}  {e.event:<10} {e.model} {e.version:<8} by {e.actor:<14} {json.dumps(e.payload, default=str)}")


def runs_report(
    run_id: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML file to write (default: $MODELWAY_HOME/reports/RUN_ID.html)."),
) -> None:
    """Write a self-contained HTML report of a run: DAG, validation, metrics, fairness, model card."""
    from modelway.reporting.run_report import write_run_report

    path = write_run_report(run_id, output)
    print(path)


def register(app: typer.Typer) -> None:
    """Add ``models``, ``audit`` and ``runs report`` to the ``modelway`` app."""
    app.add_typer(models_app, name="models")
    app.add_typer(audit_app, name="audit")
    try:
        from modelway.cli.pipeline_runs import runs_app
    except ImportError:  # the pipeline core is not installed: report gets its own group
        runs_app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)
        app.add_typer(runs_app, name="runs")
    runs_app.command("report")(runs_report)
