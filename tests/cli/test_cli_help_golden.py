"""Every command's ``--help``, word for word, matches a golden file: the help text is what users
read to learn an option (its name, meaning, default and range), so a change to it is reviewed.

Rendered in-process with Click's plain formatter (Typer's Rich help is off, as in the CLI itself)
on a terminal of 120 columns: Click caps help at 78 columns, so this is what any terminal of 80
columns or more shows. Regenerate after an intended change with:
``MODELWAY_UPDATE_GOLDEN=1 pytest tests/cli/test_cli_help_golden.py`` and review the diff.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer.core
import typer.main

from modelway.cli.main import _register_commands, app

from tests.cli.cli_inprocess import invoke

GOLDEN = Path(__file__).parent / "golden" / "cli_help.json"


def _helps() -> dict[str, str]:
    """``{"modelway runs list": help text, ...}`` for the root, every group and every command."""
    _register_commands()
    root = typer.main.get_command(app)
    helps: dict[str, str] = {}

    def walk(command, ctx) -> None:
        helps[ctx.command_path] = command.get_help(ctx)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, sub.context_class(sub, info_name=name, parent=ctx))

    walk(root, root.context_class(root, info_name="modelway"))
    return helps


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI renders plain Click help (cli/app.py sets TYPER_USE_RICH=0 before importing Typer);
    # another test may have imported Typer first, with Rich on: switch it off as the CLI has it.
    monkeypatch.setattr(typer.core, "HAS_RICH", False)
    monkeypatch.setenv("COLUMNS", "120")


def test_every_commands_help_matches_the_golden_file() -> None:
    helps = _helps()
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(helps, indent=1, ensure_ascii=False) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(helps) == sorted(golden), "commands added or removed: regenerate the golden file"
    changed = [path for path in golden if helps[path] != golden[path]]
    assert not changed, "\n\n".join(f"--- {p} (golden)\n{golden[p]}\n+++ {p} (now)\n{helps[p]}" for p in changed)


def test_a_group_without_a_command_prints_its_help(capsys) -> None:
    golden = json.loads(GOLDEN.read_text())
    groups = [path for path in golden if any(other.startswith(path + " ") for other in golden) and path != "modelway"]
    assert len(groups) == 10
    for path in groups:
        done = invoke(capsys, *path.split()[1:])
        assert (done.code, done.err, done.out) == (0, "", golden[path] + "\n"), path
    root = invoke(capsys)
    assert (root.code, root.out) == (0, golden["modelway"] + "\n")
