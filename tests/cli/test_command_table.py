"""The static command table (``modelway.cli.commands``) says what the command modules register:
the same commands in the same order, each listed with the same one-line help, so loading a
command only when it runs changes nothing a user sees."""
from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import typer.main

from modelway.cli import commands
from modelway.cli.app import _Placeholder, _register_commands, app

from tests.modelway_cli import REPO


def _real_commands() -> dict:
    _register_commands()
    return {name: command for name, command in typer.main.get_group(app).commands.items()
            if not isinstance(command, _Placeholder)}


def test_the_table_lists_every_registered_command_in_order() -> None:
    assert list(_real_commands()) == [c.name for c in commands.COMMANDS]


@pytest.mark.parametrize("entry", commands.COMMANDS, ids=lambda c: c.name)
def test_the_listed_help_is_the_commands_own(entry: commands.Command) -> None:
    real = _real_commands()[entry.name]
    listed = _Placeholder(entry)
    for width in (20, 45, 60, 120):
        assert listed.get_short_help_str(width) == real.get_short_help_str(width)
    assert (listed.hidden, listed.deprecated) == (real.hidden, real.deprecated)


@pytest.mark.parametrize("entry", commands.COMMANDS, ids=lambda c: c.name)
def test_loading_one_command_builds_the_same_command(entry: commands.Command) -> None:
    real = _real_commands()[entry.name]
    alone = typer.main.get_group(commands.load(app, entry.name)).commands[entry.name]
    assert type(alone) is type(real) and alone.help == real.help
    assert [p.opts for p in alone.params] == [p.opts for p in real.params]
    assert sorted(getattr(alone, "commands", {})) == sorted(getattr(real, "commands", {}))


def test_help_loads_no_command_module_and_run_loads_only_its_own() -> None:
    code = ("import sys, contextlib, io\n"
            "from modelway.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in sys.modules if m in {set(commands.COMMAND_MODULES)!r}))\n")

    def loaded(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                              env={"PYTHONPATH": str(REPO / "platform"), "PATH": "/usr/bin:/bin"}, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    assert loaded("--help") == "[]"
    assert loaded("run", "--help") == "['modelway.cli.pipeline_runs']"


def test_a_plain_run_does_not_build_the_typer_app(tmp_path) -> None:
    code = ("import sys\n"
            "from modelway.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
            "print('typer' in sys.modules, 'modelway.cli.app' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "missing.py"), "--plain"],
                          capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={"PYTHONPATH": str(REPO / "platform"), "PATH": "/usr/bin:/bin",
                               "MODELWAY_HOME": str(tmp_path / "home")})
    assert proc.stdout.splitlines()[-2:] == ["exit 2", "False False"], proc.stdout + proc.stderr
    assert "missing.py" in proc.stderr
