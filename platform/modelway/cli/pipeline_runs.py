"""``modelway run | resume | runs | data | lineage``: run pipelines and inspect runs and lineage.

The runner and the run details (the DSL, its pydantic models) are imported inside the commands
that start or read runs, after ``require()`` could say which extra is missing.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer

from modelway import active_backends
from modelway.cli import running
from modelway.cli.stack_choice import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.errors import UserError
from modelway.extras import require
from modelway.lineage.datasets import add_dataset, consumers, model_lineage
from modelway.runtime.context import stores
from modelway.settings import get_settings
from modelway.store.faults import check_home

runs_app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)
data_app = typer.Typer(help="Register datasets as immutable, content-addressed versions.", no_args_is_help=True)
lineage_app = typer.Typer(help="Trace which runs and models used which data.", no_args_is_help=True)


def _home() -> Path:
    return check_home(get_settings().resolved_home())


@data_app.callback()
def _data_on_stack(
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Register datasets as immutable, content-addressed versions (on a stack: also in its raw-data bucket)."""
    use_stack(stack, outputs)


def _read_stores() -> tuple[Any, Any] | None:
    """The stores of an existing home, or None: a read-only command never creates $MODELWAY_HOME
    (on a stack the home is a cache of what the stack holds, so it is created)."""
    home = _home()
    if not (home / "modelway.db").is_file() and active_backends.current() is None:
        return None
    return stores(home)


def _no_home(what: str) -> Exception:
    return UserError(f"{what}: there is no Modelway home at {_home()}; run this in your project directory "
                     "or set MODELWAY_HOME to the home your runs use")


def run_command(
    file: Path = typer.Argument(..., help="Python file defining one or more @pipeline functions."),
    pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p", help="Pipeline to run when the file has several."),
    param: list[str] = typer.Option([], "--param", "-P", help="Pipeline parameter KEY=VALUE (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step even if an identical result is cached."),
    in_process: bool = typer.Option(False, "--in-process", help="Run steps in this process (fast, no isolation)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Concurrent steps (default: cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the run's result on stdout."),
    plain: bool = typer.Option(False, "--plain", help="Plain log lines instead of the live display."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Build and validate the DAG, print it, run nothing."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Run a pipeline (on the embedded default, or against a stack). Exit code 0 = succeeded, 1 = a step failed,
    2 = invalid definition/usage."""
    running.run(file, pipeline, param, no_cache, in_process, workers, as_json, plain, dry_run, stack, outputs)


def resume_command(
    run_id: str = typer.Argument(..., help="Run id (a unique prefix, or 'latest') of a failed, cancelled or killed run."),
    in_process: bool = typer.Option(False, "--in-process", help="Run steps in this process."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the run's result."),
    plain: bool = typer.Option(False, "--plain", help="Plain log lines instead of the live display."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Continue a run: steps that finished are reused, the others run (same run id)."""
    require("ml", "modelway resume")
    from modelway.runtime.runner import resume_run

    backends = use_stack(stack, outputs)
    found = _read_stores()
    if found is None:
        raise _no_home(f"no run {run_id!r}")
    _same_stack(found[0], run_id, backends)
    display = "none" if as_json else ("plain" if plain else "auto")
    result = resume_run(run_id, display=display, executor="inprocess" if in_process else None, workers=workers)
    if as_json:
        running.print_json(result.to_json())
    elif result.status != "succeeded":
        running.print_next_steps(result)
    running.exit_for(result.status)


def _same_stack(run_store: Any, run_id: str, backends: Any) -> None:
    """A run continues on the stack it started on (its artifacts and cache live there)."""
    full_id = run_store.resolve_run_id(run_id)
    run = run_store.get_run(full_id) if full_id else None
    started_on = ((run or {}).get("lineage") or {}).get("stack", {}).get("name")
    now_on = backends.resolved.name if backends.resolved is not None else None
    if run is not None and started_on != now_on:
        where = f"stack {started_on}" if started_on else "the embedded default"
        raise UserError(f"run {full_id} started on {where}; resume it there (the same --stack/--outputs), "
                        "its artifacts and step cache live there")


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _fmt_dur(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


# What `runs list --status` can match: the stored statuses and the derived "interrupted" (a running
# run whose runner is gone).
RUN_STATUSES = ("running", "succeeded", "failed", "cancelled", "interrupted")


@runs_app.command("list")
def runs_list(
    limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many runs (newest first)."),
    pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p", help="Only runs of this pipeline."),
    status: Optional[str] = typer.Option(
        None, "--status", help=f"Only runs with this status: {', '.join(RUN_STATUSES)}."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List recent runs."""
    from modelway.runtime.run_details import effective_status

    if status is not None and status not in RUN_STATUSES:  # a typo would read as "no runs match"
        raise UserError(f"--status {status!r} is no run status; use one of: {', '.join(RUN_STATUSES)}")
    found = _read_stores()
    if found is None:
        if as_json:
            running.print_json([])
        else:
            print(f"no runs yet in {_home()}; start one with: modelway run PIPELINE.py")
        return
    run_store, _ = found
    # "interrupted" is derived (a running run whose runner is gone), so filter after deriving it;
    # then the limit too applies after that filter (-1: SQLite's "no limit"), or an alive running
    # run among the newest would hide older interrupted ones, and the other way round.
    stored_status = "running" if status == "interrupted" else status
    derived = status in ("running", "interrupted")
    runs = run_store.list_runs(limit=-1 if derived else limit, pipeline=pipeline, status=stored_status)
    runs = [run for run in runs if not status or effective_status(run) == status][:limit]
    rows = []
    for run in runs:
        steps = run_store.steps(run["run_id"])
        rows.append({
            "run_id": run["run_id"], "pipeline": run["pipeline"], "status": effective_status(run),
            "created_at": run["created_at"],
            "duration_s": (run["ended_at"] - run["started_at"]) if run["ended_at"] and run["started_at"] else None,
            "steps": len(steps), "cached": sum(1 for s in steps if s["cached"]),
            "params": run["params"], "error": run["error"],
        })
    if as_json:
        running.print_json(rows)
        return
    if not rows:
        filters = " ".join(f"{flag} {value}" for flag, value in (("--pipeline", pipeline), ("--status", status)) if value)
        print(f"no runs match {filters}" if filters else "no runs yet; start one with: modelway run PIPELINE.py")
        return
    print(f"{'RUN ID':<24} {'PIPELINE':<20} {'STATUS':<12} {'STARTED':<19} {'DURATION':>9} {'STEPS':>6} {'CACHED':>6}")
    for r in rows:
        print(f"{r['run_id']:<24} {r['pipeline'][:20]:<20} {r['status']:<12} {_fmt_time(r['created_at']):<19} "
              f"{_fmt_dur(r['duration_s']):>9} {r['steps']:>6} {r['cached']:>6}")


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="Run id, a unique prefix, or 'latest'."),
    as_json: bool = typer.Option(False, "--json", help="Print the full record as JSON."),
) -> None:
    """Show a run: steps, timings, cache hits, artifacts, errors with tracebacks, lineage."""
    from modelway.runtime.run_details import run_details

    found = _read_stores()
    if found is None:
        raise _no_home(f"no run {run_id!r}")
    run_store, _ = found
    run = run_details(run_store, run_id)
    if as_json:
        running.print_json(run)
        return
    dur = (run["ended_at"] - run["started_at"]) if run["ended_at"] and run["started_at"] else None
    print(f"run       {run['run_id']}")
    print(f"pipeline  {run['pipeline']}  ({run['pipeline_file'] or 'from Python'})")
    print(f"status    {run['status']}" + (f": {run['error']}" if run["error"] else ""))
    print(f"started   {_fmt_time(run['started_at'])}   duration {_fmt_dur(dur)}   executor {run['executor']}"
          + (f"   resumed {run['resumes']}x" if run["resumes"] else ""))
    print(f"params    {json.dumps(run['params'], default=str)}")
    print()
    print(f"{'STEP':<24} {'STATUS':<10} {'CACHED':<6} {'TRIES':>5} {'DURATION':>9} {'CPU':>8} {'PEAK MB':>8}  OUTPUT")
    for s in run["steps"]:
        cpu = "-" if s["cpu_s"] is None else f"{s['cpu_s']:.2f}s"
        mem = "-" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
        out = f"{s['output_kind']}:{s['output_hash'][:12]}" if s["output_hash"] else ""
        print(f"{s['name'][:24]:<24} {s['status']:<10} {'yes' if s['cached'] else 'no':<6} {s['attempts']:>5} "
              f"{_fmt_dur(s['duration_s']):>9} {cpu:>8} {mem:>8}  {out}")
    if run["outputs"]:
        print()
        print(f"outputs   {json.dumps(run['outputs'], default=str)}")
    if run["attachments"]:
        print()
        print("attachments")
        for a in run["attachments"]:
            where = f"  {a['path']}" if a.get("path") else ""
            print(f"  {a['step']}/{a['name']}  {a['kind']}:{a['hash'][:12]}{where}")
    if run["datasets"]:
        print()
        print("datasets  " + ", ".join(f"{d['name']}@{d['version']} ({d['step']})" for d in run["datasets"]))
    if run["logs"]:
        print()
        print("logs")
        for e in run["logs"]:
            print(f"  {_fmt_time(e['ts'])} [{e['step']}] {e['message']}")
    notes = [e for e in run["events"] if e["kind"] == "note"]
    if notes:
        print()
        print("notes")
        for e in notes:
            print(f"  {_fmt_time(e['ts'])} {e['message']}")
    lineage = run["lineage"] or {}
    print()
    git = lineage.get("git") or {}
    print("lineage")
    if lineage.get("trigger"):  # launched by `modelway triggers evaluate`
        t = lineage["trigger"]
        print(f"  trigger   {', '.join(t.get('triggers', []))} (launch {t.get('launch_id')}): {t.get('reason')}")
    if git:
        print(f"  git       {git.get('commit', '')[:12]}{' (dirty)' if git.get('dirty') else ''}")
    pf = lineage.get("pipeline_file") or {}
    if pf:
        print(f"  file      {pf.get('path')} sha256:{pf.get('sha256', '')[:12]}")
    py = lineage.get("python") or {}
    print(f"  python    {py.get('version')}  host {(lineage.get('host') or {}).get('name')}")
    pk = lineage.get("packages") or {}
    if pk:
        print("  packages  " + ", ".join(f"{k} {v}" for k, v in pk.items()))
    said = False
    for s in run["steps"]:
        if s["status"] not in ("failed", "retrying", "cancelled", "skipped") or not (s["error"] or s["traceback"]):
            continue
        if not s["traceback"] and s["error"] and run["error"] and s["error"] in run["error"]:
            continue  # the status line above already says it
        if s["traceback"] or not said:
            print()
        said = True
        print(f"step {s['name']} {s['status']}: {s['error']}")
        if s["traceback"]:
            print(s["traceback"].rstrip())


@data_app.command("add")
def data_add(
    name: str = typer.Argument(..., help="Dataset name, e.g. credit."),
    path: Path = typer.Argument(..., help="File or directory to register."),
    as_json: bool = typer.Option(False, "--json", help="Print the registered version as JSON."),
) -> None:
    """Register PATH as an immutable version of dataset NAME (version = content hash)."""
    ref, added = add_dataset(name, path)
    if as_json:
        running.print_json({"name": ref.name, "version": ref.version, "hash": ref.hash, "path": str(ref.path), "added": added})
        return
    note = "registered" if added else "already registered (same content)"
    print(f"{ref.name}@{ref.version}  {note}  sha256:{ref.hash}")


@data_app.command("list")
def data_list(
    name: Optional[str] = typer.Argument(None, help="Only versions of this dataset."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List registered datasets and their versions (newest first)."""
    found = _read_stores()
    rows = found[0].datasets(name) if found is not None else []
    if as_json:
        running.print_json(rows)
        return
    if not rows:
        print(f"no datasets in {_home()}; register one with: modelway data add NAME PATH")
        return
    for r in rows:
        print(f"{r['name']}@{r['version']}  {r['files']} file(s)  {r['size']} bytes  {_fmt_time(r['created_at'])}  {r['source']}")


@lineage_app.command("impacted")
def lineage_impacted(
    dataset: str = typer.Option(..., "--dataset", "-d", help="NAME@VERSION (or NAME for its latest version)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the runs, and models produced by them, that consumed a dataset version."""
    if _read_stores() is None:
        raise _no_home(f"no dataset {dataset!r}")
    found = consumers(dataset, _home())
    if as_json:
        running.print_json(found)
        return
    print(f"dataset {found['dataset']}@{found['version']}: {len(found['runs'])} run(s), {len(found['models'])} model(s)")
    for r in found["runs"]:
        print(f"  run   {r['run_id']}  {r['pipeline']}  {r['status']}  steps: {', '.join(r['steps'])}")
    for m in found["models"]:
        print(f"  model {m['model']} {m['version']}  (run {m['run_id']})")


@lineage_app.command("model")
def lineage_model(
    model: str = typer.Argument(..., help="Registered model name, e.g. credit-risk."),
    version: str = typer.Argument(..., help="Model version, e.g. 1.2.0."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show where a model version comes from: run, code version, parameters, data versions, environment."""
    if _read_stores() is None:
        raise _no_home(f"no lineage for model {model} {version}")
    found = model_lineage(model, version, _home())
    if as_json:
        running.print_json(found)
        return
    print(f"model {found['model']} {found['version']}" + (f"  artifact sha256:{found['artifact']}" if found["artifact"] else ""))
    run = found["run"]
    if run is None:
        print("  produced outside a recorded run")
        return
    git = run.get("git") or {}
    pf = run.get("pipeline_file") or {}
    print(f"  run       {run['run_id']}  pipeline {run['pipeline']}  {run['status']}  {_fmt_time(run['created_at'])}"
          + (f"  step {found['step']}" if found["step"] else ""))
    if git:
        print(f"  git       {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}")
    if pf:
        print(f"  file      {pf.get('path')} sha256:{pf.get('sha256')}")
    print(f"  params    {json.dumps(run['params'], default=str)}")
    for d in found["datasets"]:
        print(f"  data      {d['name']}@{d['version']} sha256:{d['hash']} (read by {d['step']})")
    py = run.get("python") or {}
    print(f"  python    {py.get('version')}  host {(run.get('host') or {}).get('name')}")
    if run.get("packages"):
        print("  packages  " + ", ".join(f"{k} {v}" for k, v in run["packages"].items()))


def register(app: typer.Typer) -> None:
    """Add run, resume and the runs/data/lineage groups to the ``modelway`` app."""
    app.command("run")(run_command)
    app.command("resume")(resume_command)
    app.add_typer(runs_app, name="runs")
    app.add_typer(data_app, name="data")
    app.add_typer(lineage_app, name="lineage")
