"""Run ``modelway ...`` in this process (``modelway.cli.main.main``) and capture what it prints.

In-process is ten times faster than a subprocess; the tests that use it check what a user reads
(exact lines) for records they built themselves.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pytest

from modelway.cli.main import main


@dataclass
class Done:
    code: int
    out: str
    err: str


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> Done:
    """``modelway ARGS``: exit code, stdout and stderr (the output of earlier calls is dropped first)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Done(code, captured.out, captured.err)


@contextmanager
def utc() -> Iterator[None]:
    """Local time is UTC inside (the commands print local times)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
