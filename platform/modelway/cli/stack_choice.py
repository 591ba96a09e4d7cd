"""Which stack a command runs against: the ``--stack`` / ``--outputs`` options every command shares.

Free of Typer, so ``modelway run``'s fast path (:mod:`modelway.cli.running`) uses it too;
resolving a stack (pydantic, boto3, pulumi.automation) happens only when one is given.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack

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
    stack = stack or os.environ.get("MODELWAY_STACK") or None
    outputs_env = os.environ.get("MODELWAY_OUTPUTS")
    outputs = outputs or (Path(outputs_env) if outputs_env else None)
    # The embedded default needs no outputs model (pydantic): skip resolving on that common path.
    resolved = resolve_stack(stack, outputs) if stack is not None or outputs is not None else None
    if resolved is not None:
        os.environ["MODELWAY_STACK"] = resolved.name
        if outputs is not None:
            os.environ["MODELWAY_OUTPUTS"] = str(Path(outputs).absolute())
    return use(resolved)
