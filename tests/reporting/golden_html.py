"""Golden HTML files for the pages people read: each file holds named cases, each the exact HTML a
render function returns for fixed inputs, so any change to what a reader sees (a label, a
coordinate, a scale, a row) shows as a diff of that case.

A golden file is HTML: every case starts with a ``<!-- case: NAME -->`` line and ends with one
newline, so the file also opens in a browser to look at every block at once. After an intended
change of the rendering, regenerate with ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/reporting/<file>``
and read the diff (and the page) before committing it.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
_MARK = re.compile(r"^<!-- case: (.+?) -->\n", re.M)


def read_golden(path: Path) -> dict[str, str]:
    """The cases of a golden file by name, each exactly as it was rendered."""
    parts = _MARK.split(path.read_text(encoding="utf-8"))
    return {name: body[:-1] for name, body in zip(parts[1::2], parts[2::2])}


def assert_matches_golden(name: str, cases: dict[str, str]) -> None:
    """Every case equals its golden rendering (``MODELWAY_UPDATE_GOLDEN=1``: rewrite the file instead)."""
    path = GOLDEN / name
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"<!-- case: {k} -->\n{v}\n" for k, v in cases.items()), encoding="utf-8")
    golden = read_golden(path)
    assert list(cases) == list(golden), f"{name}: cases {list(cases)} != golden {list(golden)}"
    changed = [k for k in cases if cases[k] != golden[k]]
    if changed:
        first = changed[0]
        # one element per line, so the diff points at the changed tag, not at a 5 kB line
        split = lambda s: re.sub(r">(?=<)", ">\n", s).splitlines()  # noqa: E731
        diff = "\n".join(list(difflib.unified_diff(split(golden[first]), split(cases[first]), "golden", "now", lineterm=""))[:40])
        raise AssertionError(f"{name}: {len(changed)} case(s) differ from the golden file: {changed}\n{first}:\n{diff}")
