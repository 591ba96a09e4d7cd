"""What is known about a run, as plain data: shared by ``runs show`` and the HTML run report."""
from __future__ import annotations

from typing import Any

from modelway.errors import UserError
from modelway.runtime.context import artifact_store
from modelway.runtime.runner import runner_alive


def effective_status(run: dict[str, Any]) -> str:
    """A 'running' run whose runner process is gone was killed: show it as interrupted."""
    if run["status"] == "running" and not runner_alive(run):
        return "interrupted"
    return run["status"]


def run_details(run_store: Any, run_id: str) -> dict[str, Any]:
    """Everything known about a run, as a JSON-able dict (``runs show --json``)."""
    full_id = run_store.resolve_run_id(run_id)
    if full_id is None:
        if run_id in ("latest", "last"):
            raise UserError(f"no runs yet in {run_store.path.parent}; start one with: modelway run PIPELINE.py")
        raise UserError(f"no run {run_id!r}; list runs with: modelway runs list")
    run = run_store.get_run(full_id)
    run["status"] = effective_status(run)
    run["steps"] = run_store.steps(full_id)
    run["attachments"] = run_store.attachments(full_id)
    artifacts = artifact_store(run_store.path.parent)
    for att in run["attachments"]:
        if att["kind"] in ("text", "file", "dir") and artifacts.exists(att["hash"]):
            att["path"] = str(artifacts.data_path(att["hash"]))  # open it with any viewer
    run["datasets"] = run_store.dataset_usage(run_id=full_id)
    run["models"] = run_store.models_of_runs([full_id])
    events = run_store.events(full_id)
    run["logs"] = [e for e in events if e["kind"] == "log"]
    run["events"] = [e for e in events if e["kind"] != "log"]  # status transitions with timestamps
    return run
