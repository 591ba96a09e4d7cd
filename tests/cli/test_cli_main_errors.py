"""How ``modelway`` (``modelway.cli.main.main``) turns what a command raises into one line on
stderr and an exit code, in-process: usage errors, user errors (and ``--debug`` anywhere on the
line), a missing optional extra, storage errors, Ctrl-C, a group without a command, --version."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.core

import modelway
import modelway.cli.main as cli_main
import modelway.cli.pipeline_runs as pipeline_runs
from modelway.errors import UserError

from tests.cli.cli_inprocess import invoke


@pytest.fixture(autouse=True)
def _plain_help(monkeypatch: pytest.MonkeyPatch) -> None:
    # as the CLI has it (cli/app.py sets TYPER_USE_RICH=0 before Typer loads; here Typer loaded first)
    monkeypatch.setattr(typer.core, "HAS_RICH", False)


@pytest.fixture()
def raising(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """``modelway runs list`` raises what the test sets."""
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    box: dict = {}

    def read_stores():
        raise box["exc"]

    monkeypatch.setattr(pipeline_runs, "_read_stores", read_stores)
    return box


def test_version_help_and_groups_without_a_command(capsys) -> None:
    version = invoke(capsys, "--version")
    assert (version.code, version.out) == (0, f"modelway {modelway.__version__}\n")
    assert invoke(capsys, "-V").out == version.out
    root = invoke(capsys)
    assert root.code == 0 and root.out.startswith("Usage: modelway [OPTIONS] COMMAND [ARGS]...")
    group = invoke(capsys, "runs")
    assert (group.code, group.err) == (0, "")
    assert group.out.startswith("Usage: modelway runs [OPTIONS] COMMAND [ARGS]...") and "  show " in group.out


def test_usage_errors_name_the_command_and_its_help(capsys) -> None:
    bad = invoke(capsys, "runs", "list", "--limit", "0")
    assert (bad.code, bad.out) == (2, "")
    assert bad.err == ("error: modelway runs list: Invalid value for '--limit': Input should be greater than or equal "
                       "to 1 (see 'modelway runs list --help')\n")
    unknown = invoke(capsys, "nope")
    assert unknown.err == "error: modelway: No such command 'nope'. (see 'modelway --help')\n" and unknown.code == 2


def test_a_user_error_is_one_line_and_debug_adds_the_traceback(capsys, raising: dict) -> None:
    raising["exc"] = UserError("no such thing")
    plain = invoke(capsys, "runs", "list")
    assert (plain.code, plain.out, plain.err) == (2, "", "error: no such thing\n")
    debug = invoke(capsys, "runs", "list", "--debug")  # after the command: still the global flag
    assert debug.code == 2
    assert debug.err.startswith("Traceback (most recent call last):") and debug.err.endswith("error: no such thing\n")


def test_ctrl_c_is_aborted_with_130(capsys, raising: dict) -> None:
    raising["exc"] = typer.Abort()
    done = invoke(capsys, "runs", "list")
    assert (done.code, done.err) == (130, "aborted\n")


@pytest.mark.parametrize("module, extra", [("sklearn.linear_model", "ml"), ("uvicorn", "serve"), ("boto3", "aws"),
                                           ("botocore.client", "aws"), ("kubernetes", "kubernetes")])
def test_a_missing_extra_names_the_pip_install(capsys, raising: dict, module: str, extra: str) -> None:
    raising["exc"] = ModuleNotFoundError(f"No module named {module!r}", name=module)
    done = invoke(capsys, "runs", "list")
    assert (done.code, done.err) == (2, f"error: this command needs {module}, which the base install leaves out; "
                                        f"install it with: pip install 'modelway[{extra}]'\n")


def test_a_missing_module_of_no_extra_or_under_debug_is_raised(capsys, raising: dict) -> None:
    raising["exc"] = ModuleNotFoundError("No module named 'nothing_known'", name="nothing_known")
    with pytest.raises(ModuleNotFoundError):
        invoke(capsys, "runs", "list")
    raising["exc"] = ModuleNotFoundError("No module named 'pandas'", name="pandas")
    with pytest.raises(ModuleNotFoundError):
        invoke(capsys, "--debug", "runs", "list")
    raising["exc"] = ModuleNotFoundError("no name")
    with pytest.raises(ModuleNotFoundError):
        invoke(capsys, "runs", "list")


def test_storage_errors_are_one_line(capsys, raising: dict) -> None:
    raising["exc"] = PermissionError(13, "Permission denied", "/h/modelway.db")
    done = invoke(capsys, "runs", "list")
    assert done.code == 2 and done.err.startswith("error: /h/modelway.db: Permission denied")
    assert "\n" not in done.err.rstrip("\n")
    raising["exc"] = sqlite3.DatabaseError("file is not a database")
    done = invoke(capsys, "runs", "list")
    assert (done.code, done.err) == (2, "error: a Modelway database failed: file is not a database\n")
    debug = invoke(capsys, "runs", "list", "--debug")
    assert debug.err.startswith("Traceback") and debug.err.endswith("error: a Modelway database failed: file is not a database\n")


def test_extra_of() -> None:
    assert cli_main._extra_of("pandas.core") == "ml"
    assert cli_main._extra_of("botocore") == "aws"
    assert cli_main._extra_of(None) is None and cli_main._extra_of("") is None
    assert cli_main._extra_of("requests") is None


def test_an_exit_code_a_command_returns_is_the_process_exit_code(capsys, raising: dict) -> None:
    raising["exc"] = typer.Exit(3)
    assert invoke(capsys, "runs", "list").code == 3


def test_a_plain_run_with_debug_shows_the_traceback(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    missing = tmp_path / "missing.py"
    plain = invoke(capsys, "run", str(missing))
    assert plain.code == 2 and plain.err.startswith("error: ") and "missing.py" in plain.err
    assert "Traceback" not in plain.err
    debug = invoke(capsys, "run", str(missing), "--debug")
    assert debug.code == 2 and debug.err.startswith("Traceback (most recent call last):")
    assert debug.err.endswith(plain.err)


def test_what_is_caught_before_typer_or_sqlite3_is_loaded(monkeypatch) -> None:
    # a plain `modelway run` never loads Typer, and `--help` never loads sqlite3: their except
    # clauses must then name an exception nothing raises (or OSError for storage)
    assert cli_main._abort_error() is typer.Abort
    assert cli_main._click_error().__name__ == "ClickException"
    assert cli_main._sqlite_error() is sqlite3.Error
    monkeypatch.delitem(cli_main.sys.modules, "typer")
    monkeypatch.delitem(cli_main.sys.modules, "modelway.cli.app")
    monkeypatch.delitem(cli_main.sys.modules, "sqlite3")
    assert cli_main._abort_error() is cli_main._NeverRaised
    assert cli_main._click_error() is cli_main._NeverRaised
    assert cli_main._sqlite_error() is OSError


def test_the_app_is_loaded_on_use_and_pydantic_plugins_are_off() -> None:
    from modelway.cli import app

    assert cli_main.app is app.app and cli_main._register_commands is app._register_commands
    with pytest.raises(AttributeError) as missing:
        cli_main.nope  # noqa: B018
    assert str(missing.value) == "module 'modelway.cli.main' has no attribute 'nope'"
    assert cli_main.os.environ["PYDANTIC_DISABLE_PLUGINS"] == "1"


def test_a_plain_run_takes_the_fast_path(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import modelway.cli.app as cli_app
    import modelway.cli.running as running

    ran: list = []
    monkeypatch.setattr(running, "run", lambda **kwargs: ran.append(kwargs))
    monkeypatch.setattr(cli_app, "app", lambda **kwargs: ran.append("typer") or 0)
    assert invoke(capsys, "run", "p.py", "--plain").code == 0
    assert invoke(capsys, "run", "p.py", "--debug", "-P", "n=1").code == 0  # --debug anywhere: still the fast path
    assert [(r["file"], r["plain"], r["param"]) for r in ran] == [(Path("p.py"), True, []), (Path("p.py"), False, ["n=1"])]
    assert invoke(capsys, "run", "--help").code == 0 and ran[-1] == "typer"  # not a plain run: Typer parses it


def test_a_command_that_returns_nothing_exits_0(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    assert invoke(capsys, "runs", "list", "--json").code == 0


def test_a_click_error_keeps_its_exit_code(capsys, raising: dict) -> None:
    from modelway.cli.app import CLICK_ERROR

    raising["exc"] = CLICK_ERROR("the file is locked")
    done = invoke(capsys, "runs", "list")
    assert (done.code, done.err) == (1, "error: modelway: the file is locked (see 'modelway --help')\n")


def test_the_command_line_comes_from_sys_argv(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main.sys, "argv", ["modelway", "--version"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli_main.main()
    assert (exited.value.code, capsys.readouterr().out) == (0, f"modelway {modelway.__version__}\n")


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "modelway.cli.main", "--version"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(Path(modelway.__file__).parents[1])})
    assert (proc.returncode, proc.stdout) == (0, f"modelway {modelway.__version__}\n")
