"""The `modelway` entry point: exit codes and one-line errors, as a user sees them."""
from __future__ import annotations

import subprocess
import sys

import pytest

MODELWAY = [sys.executable, "-m", "modelway.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MODELWAY, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bogus"], "error: modelway: No such command 'bogus'."),
        (["runs", "list", "--nope"], "error: modelway runs list: No such option: --nope"),
        (["render", "--format", "xml"], "error: modelway render: Invalid value for '--format'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, expected):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(expected)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_user_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "missing.py"
    proc = run("run", str(missing))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: pipeline file {missing} does not exist"

    debug = run("--debug", "run", str(missing))
    assert debug.returncode == 2  # same exit code, plus the traceback
    assert "Traceback" in debug.stderr
    assert debug.stderr.strip().endswith(f"error: pipeline file {missing} does not exist")


def test_no_arguments_prints_help_and_succeeds():
    proc = run()
    assert proc.returncode == 0
    for group in ("run", "runs", "render", "policy", "models", "audit", "data", "lineage"):
        assert f" {group} " in proc.stdout


def test_debug_flag_is_accepted_after_the_command(tmp_path):
    proc = run("run", str(tmp_path / "missing.py"), "--debug")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "No such option" not in proc.stderr

