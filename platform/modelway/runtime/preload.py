"""Importing the modules a pipeline declares with ``preload=[...]``, once, in the runner process.

Forked step processes inherit the runner's imported modules. Importing is fine before a
fork; *threads* are not (a lock held by another thread stays locked forever in the child),
so a module whose import starts a Python thread is reported in the run's notes. pandas,
pyarrow, scikit-learn, scipy and MLflow start none at import (native BLAS/Arrow pools
register fork handlers and are rebuilt in the child).

Example:
    >>> loader = Preloader()
    >>> loader.load(["json", "no_such_module_xyz"])
    ['preloaded json in ...', "preload: cannot import 'no_such_module_xyz' (...); steps import what they need themselves"]
"""
from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterable


class Preloader:
    """Imports each requested module at most once per runner; returns notes for the run log."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    def load(self, names: Iterable[str]) -> list[str]:
        """Import the names not imported yet; a failing import is a note, never a run failure."""
        todo = [n for n in names if n not in self.done]
        if not todo:
            return []
        self.done.update(todo)
        notes: list[str] = []
        threads_before = {t.ident for t in threading.enumerate()}
        start = time.perf_counter()
        loaded = []
        for name in todo:
            try:
                importlib.import_module(name)
                loaded.append(name)
            except Exception as exc:  # ImportError, or a module failing at import: the step will say so itself
                first = (str(exc).strip().splitlines() or [""])[0]
                notes.append(f"preload: cannot import {name!r} ({type(exc).__name__}: {first}); "
                             "steps import what they need themselves")
        if loaded:
            notes.insert(0, f"preloaded {', '.join(loaded)} in {time.perf_counter() - start:.2f}s")
        started = [t.name for t in threading.enumerate() if t.ident not in threads_before]
        if started:
            notes.append(f"preload: importing {', '.join(todo)} started thread(s) {', '.join(started)} in the runner; "
                         "forking after that can deadlock a step: remove the module from preload")
        return notes
