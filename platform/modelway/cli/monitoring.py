"""``modelway monitor | baseline | triggers``: drift and decay on live traffic, and retraining on triggers.

Only Typer (and the stdlib) is imported here; pandas, scipy and the models load inside the commands.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from modelway.cli.stack import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.errors import UserError
from modelway.registry import get_registry
from modelway.settings import get_settings

triggers_app = typer.Typer(help="Continuous training: launch pipelines when their triggers fire.", no_args_is_help=True)


def _home() -> Path:
    return get_settings().resolved_home()


def monitor(
    model: str = typer.Argument(..., help="Model (its endpoint defaults to the model name)."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", "-e", help="Endpoint whose captured traffic to check."),
    window: str = typer.Option("1h", "--window", help="How far back: 30m, 1h, 2d..."),
    data: Optional[Path] = typer.Option(None, "--data", help="Check a CSV/Parquet file instead of captured traffic."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML thresholds (see MonitorConfig)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write the monitoring page (drift over time, alerts)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Drift (PSI, KS, chi-square), data quality, labelled accuracy, staleness, latency; exit 1 when an alert fired."""
    from modelway.monitoring.monitor import load_config, parse_window, run_monitor

    cfg = load_config(config)
    backends = use_stack(stack, outputs)  # metrics and alerts: SQLite + log lines, or CloudWatch + SNS on a stack
    report = run_monitor(_home(), model, endpoint=endpoint, window_s=parse_window(window), data=data, config=cfg,
                         sink=backends.metrics_sink(_home()), alerter=backends.alerter(_home(), cfg.webhook_url))
    if html is not None:
        from modelway.monitoring.report import write_monitoring_page

        write_monitoring_page(_home(), report, html)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        _print_report(report)
        if html is not None:
            print(f"monitoring page: {html}")
    if report.alerts:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    w = report.window_s
    span = f"{w / 86400:g}d" if w >= 86400 else f"{w / 3600:g}h" if w >= 3600 else f"{w / 60:g}m" if w >= 60 else f"{w:g}s"
    print(f"monitor {report.model} {report.version} ({report.source}, last {span}): {report.rows} rows")
    if report.drift is None:
        print(f"  drift      not judged: fewer rows than min_rows")
    else:
        print(f"  {'feature':<24}{'kind':<12}{'PSI':>8}{'test':>6}{'p-value':>10}{'missing':>9}  verdict")
        items = list(report.drift.features.values()) + ([report.drift.prediction] if report.drift.prediction else [])
        for f in items:
            p = "" if f.p_value is None else f"{f.p_value:.2g}"
            verdict = "DRIFT " + "; ".join(f.reasons) if f.drifted else ("QUALITY " + "; ".join(f.reasons) if f.quality_breach else "ok")
            print(f"  {f.name:<24}{f.kind:<12}{f.psi:>8.3f}{f.test:>6}{p:>10}{f.missing_rate:>8.1%}  {verdict}")
    q = report.quality
    print(f"  quality    {q.get('scored')} scored, {q.get('rejected')} rejected ({q.get('rejected_share', 0):.1%})"
          + (f" by field {q['rejected_by_field']}" if q.get("rejected_by_field") else ""))
    if report.performance:
        p = report.performance
        acc = "n/a" if p["accuracy"] is None else f"{p['accuracy']:.3f}"
        print(f"  accuracy   {acc} on {p['labelled']} labelled requests (registered {p['registered_accuracy']})")
    if report.latency:
        lat = report.latency
        print(f"  latency    p95 {_ms(lat['p95_ms'])}, {lat['throughput_rps']} req/s"
              + (f" (previous {lat['previous']['version']}: p95 {_ms(lat['previous']['p95_ms'])})" if "previous" in lat else ""))
    if report.resources:
        r = report.resources
        prev = r.get("previous")
        print(f"  resources  model {r['model_mb']:.1f} MB, predict peak {r['predict_peak_mb']:.1f} MB, {r['rows_per_s']:.0f} rows/s"
              + (f" (previous {prev['version']}: {prev['model_mb']:.1f} MB, {prev['predict_peak_mb']:.1f} MB, "
                 f"{prev['rows_per_s']:.0f} rows/s)" if prev else ""))
    s = report.staleness
    print(f"  staleness  {s['age_days']} days old (limit {s['limit_days']:.0f})")
    print(f"  alerts     {len(report.alerts)}" + "".join(f"\n    {a.to_text()}" for a in report.alerts))


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def baseline(
    ref: str = typer.Argument(..., help="MODEL@VERSION whose baseline to (re)compute."),
    data: Path = typer.Option(..., "--data", help="The training data (CSV or Parquet) with the feature columns."),
) -> None:
    """Compute a version's baseline profile from its training data (versions registered before profiles existed)."""
    from modelway.monitoring.monitor import file_frame
    from modelway.profiling.profile import build_profile, save_baseline

    name, _, version = ref.partition("@")
    if not version:
        raise UserError(f"expected MODEL@VERSION, got {ref!r}")
    registry = get_registry(_home())
    frame, scores = file_frame(registry, name, version, data)
    kinds = {n: k for n, k in registry.get(name, version).schema["features"]}
    path = save_baseline(_home(), name, version, build_profile(frame, kinds, predictions=scores))
    print(f"baseline of {name} {version} from {len(frame)} rows: {path}")


@triggers_app.command("evaluate")
def triggers_evaluate(
    config: Path = typer.Option(Path("triggers.yaml"), "--config", "-c", help="The triggers file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and explain; launch nothing, record nothing."),
    wait: bool = typer.Option(False, "--wait", help="Wait for launched runs and report how they ended."),
    as_json: bool = typer.Option(False, "--json", help="Print the decisions as JSON."),
) -> None:
    """Decide which pipelines to retrain and why; launch them through the normal runner."""
    decisions = _evaluate(config, dry_run=dry_run, wait=wait)
    if as_json:
        sys.stdout.write(json.dumps([d.to_dict() for d in decisions], indent=2) + "\n")
        return
    for d in decisions:
        verb = ("would launch" if dry_run else "launched") if d.fire else "skip"
        extra = f" -> run {d.run_id} {d.status}" if d.run_id else (f" (launch {d.launch_id})" if d.launch_id else "")
        print(f"{d.pipeline:<20} {verb:<12} {d.reason}{extra}")


def _evaluate(config: Path, *, dry_run: bool, wait: bool) -> list[Any]:
    from modelway.triggers.config import load_triggers
    from modelway.triggers.engine import evaluate

    cfg = load_triggers(config)
    return evaluate(cfg, _home(), base_dir=config.resolve().parent, dry_run=dry_run, wait=wait)


@triggers_app.command("watch")
def triggers_watch(
    config: Path = typer.Option(Path("triggers.yaml"), "--config", "-c", help="The triggers file."),
    interval: str = typer.Option("5m", "--interval", "-i", help="Time between evaluations (30s, 5m, 1h)."),
    max_evaluations: Optional[int] = typer.Option(None, "--max-evaluations", min=1, help="Stop after this many."),
) -> None:
    """Evaluate the triggers every --interval (for setups without cron or a CI scheduler)."""
    from modelway.monitoring.monitor import parse_window

    seconds = parse_window(interval)
    count = 0
    while max_evaluations is None or count < max_evaluations:
        for d in _evaluate(config, dry_run=False, wait=False):
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp} {d.pipeline:<20} {'launched' if d.fire else 'skip':<9} {d.reason}", flush=True)
        count += 1
        if max_evaluations is None or count < max_evaluations:
            time.sleep(seconds)


@triggers_app.command("status")
def triggers_status(
    as_json: bool = typer.Option(False, "--json", help="Print the launches as JSON."),
) -> None:
    """Launches so far: pipeline, triggers, reason, run id, status."""
    from modelway.triggers.engine import TriggerState, reap

    store = TriggerState(_home())
    reap(store, _home())
    rows = store.launches()
    if as_json:
        sys.stdout.write(json.dumps([dict(r) for r in rows], indent=2, default=str) + "\n")
        return
    if not rows:
        print("no trigger launches yet")
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started"]))
        print(f"{r['id']:>4} {started} {r['pipeline']:<18} {r['status']:<10} run {r['run_id'] or '-'}  {r['reason']}")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    app.command("baseline")(baseline)
    app.add_typer(triggers_app, name="triggers")
