"""Defects found by a new-user trial: each test failed before its fix."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from core_helpers import cli, write_pipeline


@pytest.mark.parametrize("command", [("runs", "list"), ("runs", "show", "latest")])
def test_corrupt_run_store_is_a_one_line_user_error(home: Path, command: tuple[str, ...]) -> None:
    home.mkdir(parents=True)
    db = home / "modelway.db"
    db.write_bytes(os.urandom(4096))
    proc = cli(*command, home=home)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert str(db) in line and "not a Modelway run store" in line and "move it aside" in line
