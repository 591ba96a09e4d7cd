"""A whole-package mutation score, estimated from a seeded uniform sample of mutants.

``python tools/mutate.py --whole-package`` (``make mutate WHOLE=1``) runs this. Mutating every line
of platform/modelway and running the whole suite for each mutant is out of reach (one suite run
takes minutes), so the figure is an estimate, built to err low, never high:

1. **Which tests run which lines.** One run of the suite under coverage.py, with the test's node
   id as the coverage context (switched at each test's setup, call and teardown), records for
   every line of the package the tests that executed it. Processes the tests start are measured
   too: forked children (the process executor's step processes, multiprocessing pools) carry on
   the test's context; subprocesses (the CLI, servers) start coverage from the same
   configuration, their context taken from the environment the test gave them. The data is kept
   under ``.mutate/coverage/``, keyed by a hash of the sources and tests, and reused while
   neither changes.
2. **The sample.** Every mutant mutmut would make in every file of platform/modelway (its own
   operators, so the figure compares with the per-module scores), in a fixed order; ``--sample N``
   of them drawn uniformly with ``--seed S``.
3. **Each mutant** is written into a copy of the tree (``.mutate/whole``) and tested by the tests
   that executed its line and passed without it, fastest first, with ``-x``. Killed means one of
   them failed. A mutant on a line no passing test executes is a survivor (nothing could see
   it); a line executed only while modules are imported (a constant, a ``def`` line, a decorator)
   is tested by the tests that executed any line of its file. The tests cut by the per-mutant
   cap (``--cap-s``, in the tests' measured time) are not run: if the others pass, the mutant
   counts as survived ("capped"). A mutant that runs past its time limit counts as a timeout,
   against the score as well. At the end, the tests that killed mutants are run once more on the
   unmutated copy: a kill by a test that fails there too is withdrawn (counted as survived).

The score is killed / sampled, with a 95% Wilson interval. Every shortcut above can only turn
a kill into a survivor, so the interval is conservative: the whole-suite score lies at or above
it, up to sampling error.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutate as base  # noqa: E402  (tools/ is not a package)

ROOT = base.ROOT
WHOLE = ROOT / ".mutate" / "whole"  # the copy the coverage run and the sampled mutants use
COVERAGE = ROOT / ".mutate" / "coverage"
PACKAGE = "platform/modelway"
CONTEXT_ENV = "MODELWAY_COVERAGE_CONTEXT"
# The whole suite reads more of the checkout than the per-module pin files (action.yml, .github/,
# ...): the copy takes every tracked top-level entry but the tools themselves.
def _copied() -> tuple[str, ...]:
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        tracked = ""
    top = {line.split("/", 1)[0] for line in tracked.splitlines() if line}
    return tuple(sorted((top | set(base.COPIED)) - {"tools", ".gitignore"}))


COPIED = _copied()
IMPORT_TIME = ""  # coverage's context for lines run outside any test (collection: imports)
# The same pytest flags as the per-module runs (see tools/mutate.py's RUNNER and run_module).
PYTEST_FLAGS = ("-p", "no:cacheprovider", "-p", "no:randomly", "--no-header", "--assert=plain")


def source_key(root: Path = ROOT) -> str:
    """sha256 over every file the copy takes (names and bytes): the coverage data of an earlier
    run is reused only for exactly these sources, tests and settings."""
    digest = hashlib.sha256()
    for name in COPIED:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        for file in files:
            rel = file.relative_to(root)
            if any(part in {"__pycache__", ".modelway", "mlruns", ".pytest_cache", ".hypothesis"}
                   or part.endswith(".egg-info") for part in rel.parts) or file.suffix == ".pyc":
                continue
            digest.update(str(rel).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def mutant_env(work: Path = WHOLE) -> dict[str, str]:
    """The environment of every pytest run here (coverage run and mutants alike)."""
    return {**os.environ, "PYTHONPATH": f"{work / 'platform'}{os.pathsep}{work}", "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


# --------------------------------------------------------------------------------------------
# 1. The coverage run
# --------------------------------------------------------------------------------------------

def _rcfile(data_dir: Path, work: Path, subprocess: bool = False) -> Path:
    """The coverage settings of the pytest process and its forked children, or (``subprocess``)
    of the processes the tests start, which read it at their start (COVERAGE_PROCESS_START and
    coverage's .pth): their context is the test that was running when they were started, and
    they save their data when terminated (a server stopped by SIGTERM). Not so in forked
    children: a handler there would outlive the fork into worker pools that are SIGTERMed."""
    rc = data_dir / ("coveragerc-subprocess" if subprocess else "coveragerc")
    rc.write_text(
        "[run]\n"
        f"source = {work / PACKAGE}\n"
        f"data_file = {data_dir / 'data' / '.coverage'}\n"
        "parallel = True\n"
        + ("sigterm = True\n" if subprocess else "")
        + f"context = ${{{CONTEXT_ENV}}}\n")
    return rc


def collect(rcfile: str, subprocess_rcfile: str, outcomes_path: str, pytest_args: list[str]) -> int:
    """Inside the coverage process: the suite under coverage, one context per test."""
    import coverage
    import pytest

    current = {"context": IMPORT_TIME}

    def switch(context: str) -> None:
        current["context"] = context
        os.environ[CONTEXT_ENV] = context
        cov = coverage.Coverage.current()
        if cov is not None:
            cov.switch_context(context)

    def after_fork_in_child() -> None:
        # A forked child (a step process) stops the parent's collector, which would save into the
        # parent's file, and measures into its own, under the test's context. It ends by os._exit
        # (no atexit), so the data is saved there.
        parent = coverage.Coverage.current()
        if parent is not None:
            parent.stop()
        # Its static context: the config's ${CONTEXT_ENV}, which holds the test's node id now.
        child = coverage.Coverage(config_file=rcfile, data_suffix=True)
        child.start()
        real_exit = os._exit

        def exit_saving(code: int) -> None:
            try:
                child.stop()
                child.save()
            except Exception:  # noqa: BLE001 - the child's exit must happen whatever coverage does
                pass
            real_exit(code)

        os._exit = exit_saving

    outcomes: dict[str, dict] = {}

    class Contexts:
        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_setup(self, item) -> None:
            switch(item.nodeid)

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_call(self, item) -> None:
            switch(item.nodeid)

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_teardown(self, item) -> None:
            switch(item.nodeid)

        def pytest_runtest_logreport(self, report) -> None:
            entry = outcomes.setdefault(report.nodeid, {"outcome": "passed", "duration": 0.0})
            entry["duration"] += report.duration
            if report.failed:
                entry["outcome"] = "failed"
            elif report.skipped and entry["outcome"] == "passed":
                entry["outcome"] = "skipped"

        def pytest_runtest_logfinish(self, nodeid, location) -> None:
            switch(IMPORT_TIME)

    os.environ["COVERAGE_PROCESS_START"] = subprocess_rcfile
    os.environ[CONTEXT_ENV] = IMPORT_TIME
    cov = coverage.Coverage(config_file=rcfile, data_suffix=True)
    cov.start()
    os.register_at_fork(after_in_child=after_fork_in_child)
    try:
        code = pytest.main(pytest_args, plugins=[Contexts()])
    finally:
        cov.stop()
        cov.save()
        Path(outcomes_path).write_text(json.dumps(outcomes, indent=0, sort_keys=True))
    return int(code)


def coverage_index(python: str, log=print, refresh: bool = False) -> dict:
    """Which passing tests execute which lines of the package: from the data of the last
    coverage run if the sources and tests are unchanged, else from a new run (slow: the suite
    under coverage, once)."""
    key = source_key()
    index_path = COVERAGE / "index.json"
    if index_path.exists() and not refresh:
        index = json.loads(index_path.read_text())
        if index.get("key") == key:
            return index
        log("sources or tests changed since the last coverage run: measuring again")
    shutil.rmtree(COVERAGE, ignore_errors=True)
    (COVERAGE / "data").mkdir(parents=True)
    base.sync_copy(WHOLE, COPIED)
    rc, subprocess_rc = _rcfile(COVERAGE, WHOLE), _rcfile(COVERAGE, WHOLE, subprocess=True)
    outcomes_path = COVERAGE / "outcomes.json"
    temp = base.basetemp().with_name(base.basetemp().name + "-coverage")
    log(f"coverage run of the whole suite (once per source state; log in {(COVERAGE / 'pytest.log').relative_to(ROOT)})")
    started = time.monotonic()
    with (COVERAGE / "pytest.log").open("w") as out:
        code = subprocess.call(
            [python, str(Path(__file__).resolve()), "collect", str(rc), str(subprocess_rc), str(outcomes_path), "-q", *PYTEST_FLAGS,
             "--continue-on-collection-errors", f"--basetemp={temp}", "tests"],
            cwd=WHOLE, env=mutant_env(), stdout=out, stderr=subprocess.STDOUT)
    shutil.rmtree(temp, ignore_errors=True)
    log(f"  suite under coverage: exit {code} in {time.monotonic() - started:.0f}s")
    index = build_index(COVERAGE, WHOLE, json.loads(outcomes_path.read_text()))
    index["key"] = key
    index["seconds"] = round(time.monotonic() - started)
    index_path.write_text(json.dumps(index))
    return index


def build_index(data_dir: Path, work: Path, outcomes: dict[str, dict]) -> dict:
    """Combine the per-process data files and invert them: for each package file (relative
    path), each line number -> the node ids of the tests that ran it."""
    import coverage

    data = coverage.CoverageData(basename=str(data_dir / "data" / ".coverage"))
    combiner = coverage.Coverage(data_file=str(data_dir / "data" / ".coverage"))
    combiner.combine(keep=True)
    combiner.save()
    data.read()
    lines: dict[str, dict[str, list[str]]] = {}
    prefix = str(work) + os.sep
    for filename in sorted(data.measured_files()):
        if not filename.startswith(prefix):
            continue
        rel = filename[len(prefix):]
        if not rel.startswith(PACKAGE + "/"):
            continue
        by_line = data.contexts_by_lineno(filename)
        lines[rel] = {str(n): sorted(set(c for c in contexts)) for n, contexts in by_line.items()}
    return {"tests": outcomes, "lines": lines}


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "collect":
    sys.exit(collect(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
