"""``modelway stack show``; the ``--stack`` / ``--outputs`` options live in :mod:`modelway.cli.stack_choice`
(re-exported here for the command modules)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from modelway.cli.stack_choice import OUTPUTS_HELP, STACK_HELP, use_stack

__all__ = ["OUTPUTS_HELP", "STACK_HELP", "register", "stack_app", "use_stack"]

stack_app = typer.Typer(help="The provisioned stack a command runs against (--stack / --outputs).",
                        no_args_is_help=True)


@stack_app.command("show")
def stack_show(
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Print the resolved stack outputs and which backend serves each concern."""
    backends = use_stack(stack, outputs)
    resolved = backends.resolved
    doc: dict[str, Any] = {
        "stack": resolved.name if resolved else "embedded default",
        "source": resolved.source if resolved else "this machine ($MODELWAY_HOME)",
        "outputs_sha256": resolved.digest if resolved else None,
        "backends": backends.concerns(),
        "outputs": resolved.outputs.model_dump(mode="json") if resolved else None,
    }
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    print(f"stack      {doc['stack']}")
    print(f"source     {doc['source']}")
    if resolved:
        o = resolved.outputs
        print(f"outputs    sha256 {resolved.digest[:16]}  ({o.environment}, account {o.account_id}, {o.region})")
        print(f"kms key    {o.kms_key_arn}")
        print("buckets    " + ", ".join(f"{k}={v}" for k, v in o.buckets.model_dump().items()))
    print("backends")
    for concern, where in doc["backends"].items():
        print(f"  {concern:<11} {where}")


def register(app: typer.Typer) -> None:
    app.add_typer(stack_app, name="stack")
