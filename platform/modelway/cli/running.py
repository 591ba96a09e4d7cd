"""What ``modelway run`` does, and its fast path: a plain invocation runs without building the Typer app.

Typer converts every option through pydantic ``TypeAdapter``\\ s, which with Typer itself is
about half of a small run's start-up. :func:`parse_fast` reads the argument lists a user
types every day (a file, known options each with an ordinary value); anything else
(``--help``, ``--opt=value``, an unknown or repeated option, a value that looks like an
option, a bad number) returns None and goes through Typer, which owns every message and
exit code. ``tests/cli/test_run_fast_path.py`` checks that both read the same values.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

from modelway.cli.stack_choice import use_stack
from modelway.extras import require

# option -> parameter of run(); the flags take no value
FLAGS = {"--no-cache": "no_cache", "--in-process": "in_process", "--json": "as_json", "--plain": "plain",
         "--dry-run": "dry_run"}
VALUED = {"--pipeline": "pipeline", "-p": "pipeline", "--param": "param", "-P": "param", "--workers": "workers",
          "-w": "workers", "--stack": "stack", "-s": "stack", "--outputs": "outputs"}


def parse_fast(args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments of :func:`run` for ``args`` (``["run", FILE, ...]``), or None to let Typer parse them.

    Example:
        >>> parse_fast(["run", "p.py", "-P", "n=1", "--plain"])["param"]
        ['n=1']
        >>> parse_fast(["run", "p.py", "--help"]) is None
        True
    """
    if not args or args[0] != "run":
        return None
    values: dict[str, Any] = {"pipeline": None, "param": [], "no_cache": False, "in_process": False,
                              "workers": None, "as_json": False, "plain": False, "dry_run": False, "stack": None,
                              "outputs": None}
    files: list[str] = []
    seen: set[str] = set()
    tokens = iter(args[1:])
    for token in tokens:
        if token in FLAGS:
            values[FLAGS[token]] = True
        elif token in VALUED:
            name, value = VALUED[token], next(tokens, None)
            if value is None or value.startswith("-"):
                return None
            if name == "param":
                values["param"].append(value)
                continue
            if name in seen:
                return None
            seen.add(name)
            values[name] = value
        elif token.startswith("-"):
            return None
        else:
            files.append(token)
    if len(files) != 1:
        return None
    if values["workers"] is not None:
        if not (values["workers"].isascii() and values["workers"].isdigit()) or int(values["workers"]) < 1:
            return None
        values["workers"] = int(values["workers"])
    if values["outputs"] is not None:
        values["outputs"] = Path(values["outputs"])
    return {"file": Path(files[0]), **values}


def run(file: Path, pipeline: Optional[str], param: list[str], no_cache: bool, in_process: bool,
        workers: Optional[int], as_json: bool, plain: bool, dry_run: bool, stack: Optional[str],
        outputs: Optional[Path]) -> None:
    """``modelway run`` (see the command's help in :mod:`modelway.cli.pipeline_runs`)."""
    require("ml", "modelway run")
    # The runtime is imported here: a user with only the base install gets require()'s message.
    from modelway.dsl.loader import load_pipeline
    from modelway.runtime.runner import run_pipeline

    use_stack(stack, outputs)  # before loading: a bad stack is one line, and nothing has started

    pipe = load_pipeline(file, pipeline)
    params = pipe.parse_cli_params(param)
    if dry_run:
        print_dag(pipe.build(params).to_spec(), as_json)
        return
    display = "none" if as_json else ("plain" if plain else "auto")
    result = run_pipeline(pipe, params, executor="inprocess" if in_process else None, workers=workers,
                          use_cache=not no_cache, display=display, pipeline_file=file.resolve())
    if as_json:
        print_json(result.to_json())
    elif result.status != "succeeded":
        print_next_steps(result)
    exit_for(result.status)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def exit_for(status: str) -> None:
    if status == "succeeded":
        return
    # sys.exit rather than typer.Exit: honoured whether or not Typer runs in standalone mode.
    sys.exit(130 if status == "cancelled" else 1)


def print_next_steps(result: Any) -> None:
    # Resume helps after a crash, timeout, kill or Ctrl-C, not after a deliberate StepFailed
    # (a failed gate): that fails the same way again until the code or data change.
    hint = f"see the details with: modelway runs show {result.run_id}"
    if result.resumable:
        hint += f"; continue with: modelway resume {result.run_id}"
    print(hint, file=sys.stderr)


def print_dag(spec: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(spec)
        return
    print(f"pipeline {spec['pipeline']}  params {json.dumps(spec['params'], default=str)}")
    for s in spec["steps"]:
        after = f"  <- {', '.join(s['upstream'])}" if s["upstream"] else ""
        settings = s["settings"]
        notes = [f"retries={settings['retries']}"] if settings["retries"] else []
        if settings["timeout"]:
            notes.append(f"timeout={settings['timeout']}")
        if not settings["cache"]:
            notes.append("cache=off")
        notes += [f"{k}={v}" for k, v in settings["resources"].items() if v not in (None, 0, False)]
        print(f"  {s['name']}{after}" + (f"   [{', '.join(notes)}]" if notes else ""))
    print(f"valid: {len(spec['steps'])} steps")
