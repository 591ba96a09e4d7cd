"""`modelway run`'s fast path (no Typer app) reads exactly what Typer reads, and leaves every
other command line to Typer, which owns the help, the usage errors and their exit codes."""
from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from modelway.cli import commands
from modelway.cli.app import app
from modelway.cli.running import parse_fast

ACCEPTED = [
    ["run", "p.py"],
    ["run", "pipelines/credit_risk.py", "--plain"],
    ["run", "p.py", "--pipeline", "chain10", "--no-cache", "--plain"],
    ["run", "--json", "p.py", "-p", "x", "-P", "a=1", "--param", "b=two words", "-P", "a=3"],
    ["run", "p.py", "--in-process", "--workers", "4", "--dry-run"],
    ["run", "p.py", "-w", "1", "--json", "--json"],
    ["run", "p.py", "--stack", "dev", "--outputs", "out/dev.json"],
    ["run", "p.py", "-s", "org/prod", "-P", "x="],
    ["run", "p.py", "--pipeline", ""],
]

DECLINED = [
    [],
    ["--help"],
    ["runs", "list"],
    ["run"],
    ["run", "--help"],
    ["run", "p.py", "--help"],
    ["run", "a.py", "b.py"],
    ["run", "p.py", "--pipeline=x"],
    ["run", "p.py", "--pipeline", "a", "--pipeline", "b"],
    ["run", "p.py", "--pipeline"],
    ["run", "p.py", "--param", "--plain"],
    ["run", "p.py", "-w", "0"],
    ["run", "p.py", "-w", "two"],
    ["run", "p.py", "-w", "٣"],
    ["run", "p.py", "--bogus"],
    ["run", "p.py", "-Pa=1"],
    ["run", "p.py", "--"],
    ["run", "-", "p.py"],
]


def _typer_params(args: list[str]) -> dict:
    command = typer.main.get_group(commands.load(app, "run")).commands["run"]
    ctx = command.make_context("run", list(args))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in ctx.params.items()}


@pytest.mark.parametrize("args", ACCEPTED, ids=" ".join)
def test_the_fast_path_reads_what_typer_reads(args: list[str]) -> None:
    fast = parse_fast(args)
    assert fast is not None
    assert fast == _typer_params(args[1:])
    assert isinstance(fast["file"], Path)


@pytest.mark.parametrize("args", DECLINED, ids=lambda a: " ".join(a) or "(none)")
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    assert parse_fast(args) is None
