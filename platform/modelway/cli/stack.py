"""``modelway stack show`` and the ``--stack`` / ``--outputs`` options other commands share.

Only Typer is imported here; resolving the stack (pydantic, boto3, pulumi.automation)
happens inside the commands.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

stack_app = typer.Typer(help="The provisioned stack a command runs against (--stack / --outputs).",
                        no_args_is_help=True)

STACK_HELP = ("Run against this Pulumi stack (dev, staging, prod): its outputs come from the Pulumi Automation API "
              "(needs the pulumi CLI), or from --outputs. Default: the embedded default on this machine. "
              "Env: MODELWAY_STACK.")
OUTPUTS_HELP = ("The stack's outputs as a JSON file (pulumi stack output --json > FILE), for CI and machines without "
                "the pulumi CLI. Env: MODELWAY_OUTPUTS.")


def use_stack(stack: Optional[str], outputs: Optional[Path]) -> Any:
    """Resolve ``--stack``/``--outputs`` (else ``$MODELWAY_STACK``/``$MODELWAY_OUTPUTS``) and install its backends.

    Returns the backend set (``kind`` is ``local`` for the embedded default). The choice is
    also put in the environment, so subprocesses (a resumed run, a remote step) use the same stack.
    """
    from modelway.backends.mapping import use
    from modelway.backends.stack import resolve_stack

    stack = stack or os.environ.get("MODELWAY_STACK") or None
    outputs_env = os.environ.get("MODELWAY_OUTPUTS")
    outputs = outputs or (Path(outputs_env) if outputs_env else None)
    resolved = resolve_stack(stack, outputs)
    if resolved is not None:
        os.environ["MODELWAY_STACK"] = resolved.name
        if outputs is not None:
            os.environ["MODELWAY_OUTPUTS"] = str(Path(outputs).absolute())
    return use(resolved)


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
