"""A whole-package mutation score, estimated from a seeded uniform sample of mutants.

``python tools/mutate.py --whole-package`` (``make mutate WHOLE=1``) runs this. Mutating every line
of platform/modelway and running the whole suite for each mutant is out of reach (one suite run
takes minutes), so the figure is an estimate, built to err low, never high:

1. **Which tests run which lines.** One run of the suite under coverage.py, with the test's node
   id as the coverage context (switched at each test's setup, call and teardown), records for
   every line of the package the tests that executed it. Processes the tests start are measured
   too: forked children (the process executor's step processes, multiprocessing pools) carry on
   the test's context; subprocesses (the CLI, servers) start coverage from their own settings
   (COVERAGE_PROCESS_START, read by coverage's .pth) and take the test running at their start
   from a file the pytest process keeps current. Not seen: a subprocess whose environment drops
   COVERAGE_PROCESS_START or points PYTHONPATH elsewhere (then it does not run the copy's code
   either), a process ended by SIGKILL (a step killed at its time or memory limit) or a pool
   worker ended by SIGTERM, which save nothing. Lines run while test modules are imported have
   no test (the empty context); a module- or session-scoped fixture's lines go to the first
   test that set it up; a thread that outlives its test records under whichever test runs. The
   data is kept under ``.mutate/coverage/``, keyed by a hash of the sources and tests (every
   tracked top-level entry but tools/), and reused while neither changes.
2. **The sample.** Every mutant mutmut would make in every file of platform/modelway (its own
   operators, so the figure compares with the per-module scores), in a fixed order; ``--sample N``
   of them drawn uniformly with ``--seed S``.
3. **Each mutant** is written into a copy of the tree (``.mutate/whole``) and tested by the tests
   that executed its line and passed without it, with ``-x``: first the tests whose file imports
   the mutated module by name (the likely killers), then the others, each group fastest first.
   Killed means one of them failed. A mutant on a line no passing test executes is a survivor (nothing could see
   it); a line executed while modules are imported (a constant, a ``def`` line, a decorator;
   the tests import most modules while pytest collects them, before any test runs, and only the
   tests that start a process of their own run such a line again) is tested by the tests that
   executed any line of its file as well, those that ran the lines using
   what it defines first (a ``def``'s body, the lines reading a constant or a field: see
   ``use_lines``), since the mutant shows there. The tests cut by the per-mutant
   cap (``--cap-s``, in the tests' measured time) are not run: if the others pass, the mutant
   counts as survived ("capped"). A mutant that runs past its time limit counts as a timeout,
   against the score as well. At the end, the tests that killed mutants are run once more on the
   unmutated copy: a kill by a test that fails there too is withdrawn (counted as survived).

The score is killed / (mutants run - those listed as equivalent in pyproject), with a 95%
Wilson interval. Every shortcut above can only turn a kill into a survivor (a test not run, a
timeout not counted as a kill as mutmut would), so the estimate is conservative: the score of
the whole suite over all mutants is at or above what this estimates; the interval adds the
sampling error only.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutate as base  # noqa: E402  (tools/ is not a package)

ROOT = base.ROOT
WHOLE = ROOT / ".mutate" / "whole"  # the copy the coverage run and the sampled mutants use
COVERAGE = ROOT / ".mutate" / "coverage"
PACKAGE = "platform/modelway"
# The running test, for the processes the tests start. Not a MODELWAY_ variable: the suite's CLI
# helper drops those from the environment it gives the CLI.
CONTEXT_ENV = "MUTATE_COVERAGE_CONTEXT"
# Subprocesses read their settings from a file the pytest process rewrites at each test, with that
# test as the static context: not from the environment, which a fixture that outlives a test (the
# suite's CLI helper is module-scoped) copied at its start, and not through a coverage plugin,
# which a grandchild with a PYTHONPATH of its own could not import (coverage then writes its
# error into the output the tests check).
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
    rc.write_text(subprocess_settings(data_dir, work, IMPORT_TIME) if subprocess else
                  _common_settings(data_dir, work) + f"context = ${{{CONTEXT_ENV}}}\n")
    return rc


def _common_settings(data_dir: Path, work: Path) -> str:
    return f"[run]\nsource = {work / PACKAGE}\ndata_file = {data_dir / 'data' / '.coverage'}\nparallel = True\n"


def subprocess_settings(data_dir: Path, work: Path, context: str) -> str:
    """The subprocesses' settings while ``context`` runs (``$`` doubled: coverage expands
    environment variables in its settings)."""
    return _common_settings(data_dir, work) + "sigterm = True\ncontext = " + context.replace("$", "$$") + "\n"


def collect(rcfile: str, subprocess_rcfile: str, outcomes_path: str, pytest_args: list[str]) -> int:
    """Inside the coverage process: the suite under coverage, one context per test."""
    import coverage
    import pytest

    current = {"context": IMPORT_TIME}
    subprocess_rc = Path(subprocess_rcfile)
    source_line, data_line = Path(rcfile).read_text().splitlines()[1:3]
    data_dir = Path(data_line.split(" = ", 1)[1]).parent.parent
    work = Path(source_line.split(" = ", 1)[1]).parents[1]

    def switch(context: str) -> None:
        if context == current["context"]:
            return
        current["context"] = context
        os.environ[CONTEXT_ENV] = context
        temp = subprocess_rc.with_suffix(".tmp")
        temp.write_text(subprocess_settings(data_dir, work, context), encoding="utf-8")
        temp.replace(subprocess_rc)
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
    index["id"] = os.urandom(6).hex()  # results measured against this index go with it
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
        lines[rel] = {str(n): sorted({_normalize(c) for c in contexts}) for n, contexts in by_line.items()}
    return {"tests": outcomes, "lines": lines}


def _normalize(context: str) -> str:
    # A process that had both the static context (from the environment) and a dynamic one
    # records "test|test".
    head, sep, tail = context.partition("|")
    return head if sep and head == tail else context


# --------------------------------------------------------------------------------------------
# 2. The sample
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One of mutmut's mutations: ``line_number`` 0-based as in mutmut, ``index`` which of the
    line's mutations."""

    path: str  # relative to the repository root
    line_number: int
    index: int
    line: str

    @property
    def package(self) -> str:
        """The sub-package under modelway (cli, stages, ...), "(top level)" for modelway/x.py."""
        parts = Path(self.path).relative_to(PACKAGE).parts
        return parts[0] if len(parts) > 1 else "(top level)"

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line_number + 1}:{self.index}"


def all_mutants(root: Path = ROOT, package: str = PACKAGE) -> list[Mutant]:
    """Every mutant mutmut makes in every file of the package, in a fixed order (files sorted,
    then mutmut's order within a file)."""
    from mutmut import Context, list_mutations

    mutants = []
    for file in sorted((root / package).rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        for mid in list_mutations(Context(source=file.read_text(), filename=rel, dict_synonyms=[])):
            mutants.append(Mutant(rel, mid.line_number, mid.index, mid.line))
    return mutants


def draw(mutants: list[Mutant], size: int, seed: int) -> list[Mutant]:
    """A uniform random sample without replacement, in random order: any prefix of it (a run cut
    by the budget) is itself a uniform sample."""
    return random.Random(seed).sample(mutants, min(size, len(mutants)))


def mutated_source(mutant: Mutant, source: str) -> str | None:
    """The file's source with this one mutation applied (None: mutmut no longer applies it)."""
    from mutmut import Context, RelativeMutationID, mutate

    new, applied = mutate(Context(source=source, dict_synonyms=[], filename=mutant.path, mutation_id=RelativeMutationID(
        filename=mutant.path, line=mutant.line, index=mutant.index, line_number=mutant.line_number)))
    return new if applied else None


# --------------------------------------------------------------------------------------------
# 3. Test selection and one mutant's run
# --------------------------------------------------------------------------------------------

def _header_span(node) -> tuple[int, int]:
    """A statement's lines: for a compound statement (if, def, with, ...) its header only,
    decorators included."""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    body = getattr(node, "body", None)
    end = (body[0].lineno - 1) if isinstance(body, list) and body and body[0].lineno > node.lineno else node.end_lineno
    return start, max(start, end)


def _innermost_statement(tree, line: int):
    """The innermost statement whose lines (its header, for a compound one) hold ``line``."""
    import ast

    best, best_span = None, None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start, end = _header_span(node)
        if start <= line <= end and (best_span is None or end - start < best_span[1] - best_span[0]):
            best, best_span = node, (start, end)
    return best


def statement_lines(source: str, line: int) -> list[int]:
    """The lines (1-based) of the innermost statement that holds ``line``: for a compound
    statement (if, def, with, ...) its header only, decorators included. Coverage records a
    statement on some of its lines only (its first, mostly), mutmut mutates a token on any."""
    import ast

    node = _innermost_statement(ast.parse(source), line)
    if node is None:
        return [line]
    start, end = _header_span(node)
    return list(range(start, end + 1))


def use_lines(source: str, line: int) -> set[int]:
    """For a line run only at import, the lines of its file that use what its statement defines,
    where the mutant would show: a ``def``'s or ``class``'s header (a default, a decorator, an
    option's help text) shows in its body; a module- or class-level name (a constant, a table, a
    field's default) where the file reads that name (``NAME`` or ``x.NAME``). Empty when the
    statement defines nothing this can follow; uses in other files are not seen."""
    import ast

    tree = ast.parse(source)
    node = _innermost_statement(tree, line)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return set(range(node.body[0].lineno, node.end_lineno + 1))
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names = {t.id for t in targets if isinstance(t, ast.Name)}
    if not names:
        return set()
    own = set(range(node.lineno, node.end_lineno + 1))
    return {n.lineno for n in ast.walk(tree)
            if (isinstance(n, ast.Name) and n.id in names and isinstance(n.ctx, ast.Load)
                or isinstance(n, ast.Attribute) and n.attr in names)} - own


@dataclass
class Selection:
    """The tests to run against one mutant: ``tests`` fastest first, within the cap;
    ``capped`` how many covering tests the cap left out; ``import_only``: the line runs only when
    the module is imported, so the tests are those that ran any line of its file."""

    tests: list[str]
    capped: int = 0
    import_only: bool = False
    seconds: float = 0.0


def select(mutant: Mutant, index: dict, source: str, cap_s: float, cap_tests: int,
           names_module: "Callable[[str], bool] | None" = None) -> Selection:
    """The passing tests that executed the mutant's statement (see the module docstring): for a
    line run only at import, first those that ran the lines using what it defines; then those
    whose test file names the mutated module (they test it directly, so a killer is likely among
    them); each group fastest first, within the cap."""
    passed = {t: o["duration"] for t, o in index["tests"].items() if o["outcome"] == "passed"}
    by_line = index["lines"].get(mutant.path, {})
    contexts: set[str] = set()
    for n in statement_lines(source, mutant.line_number + 1):
        contexts.update(by_line.get(str(n), ()))
    tests = {t for t in contexts if t in passed}
    import_only = not tests and IMPORT_TIME in contexts
    users: set[str] = set()
    if IMPORT_TIME in contexts:
        # Run at import: in the pytest process that was while collecting, before any test, so
        # the tests that ran it are only those that imported the module again in a process of
        # their own (a CLI run). Every test of the file counts, those of its uses first.
        tests |= {t for ts in by_line.values() for t in ts if t in passed}
        users = {t for n in use_lines(source, mutant.line_number + 1) for t in by_line.get(str(n), ()) if t in passed}
    direct = names_module or (lambda test: test_names_module(test, mutant.path))
    ordered = sorted(tests, key=lambda t: (t not in users, not direct(t), passed[t], t))
    chosen, spent = [], 0.0
    for test in ordered:
        if chosen and (spent + passed[test] > cap_s or len(chosen) >= cap_tests):
            break
        chosen.append(test)
        spent += passed[test]
    return Selection(chosen, len(ordered) - len(chosen), import_only, spent)


@functools.lru_cache(maxsize=None)
def _test_file_text(path: str, root: Path = WHOLE) -> str:
    try:
        return (root / path).read_text()
    except OSError:
        return ""


def test_names_module(test: str, module_path: str, root: Path = WHOLE) -> bool:
    """Whether the file of a test (a node id) imports the module at ``module_path`` by name:
    ``modelway.contracts.resource_settings`` or ``from modelway.contracts import resource_settings``."""
    dotted = Path(module_path).relative_to(Path(PACKAGE).parent).with_suffix("").as_posix().replace("/", ".")
    dotted = dotted.removesuffix(".__init__")
    text = _test_file_text(test.split("::")[0], root)
    parent, _, stem = dotted.rpartition(".")
    return dotted in text or (f"from {parent} import" in text and re.search(rf"\b{stem}\b", text) is not None)


@dataclass
class Result:
    """One sampled mutant's outcome. ``status``: killed, survived, timeout, or not run (the
    budget ran out before it); ``why`` says which kind of survivor; ``killer`` the failing test."""

    mutant: Mutant
    status: str
    why: str = ""
    killer: str = ""
    tests: int = 0
    capped: int = 0
    seconds: float = 0.0


def run_mutant(mutant: Mutant, index: dict, python: str, cap_s: float, cap_tests: int,
               deadline: float, work: Path = WHOLE) -> Result:
    """Write the mutant into the copy, run its tests with -x, put the file back."""
    target = work / mutant.path
    original = target.read_text()
    new = mutated_source(mutant, original)
    if new is None:
        return Result(mutant, "not run", "mutmut no longer applies it to this source")
    selection = select(mutant, index, original, cap_s, cap_tests)
    if not selection.tests:
        return Result(mutant, "survived", "no passing test runs this line")
    # Generous: the tests' time under coverage, 4 times over, plus a pytest start on a busy machine.
    limit = min(60 + 4 * selection.seconds, max(1.0, deadline - time.monotonic()))
    temp = base.basetemp().with_name(base.basetemp().name + "-whole")
    command = [python, "-c", base.RUNNER, "-x", "-q", *PYTEST_FLAGS, f"--basetemp={temp}", *selection.tests]
    started = time.monotonic()
    target.write_text(new)
    try:
        process = subprocess.Popen(command, cwd=work, env=mutant_env(work), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            budget_out = time.monotonic() >= deadline
            return Result(mutant, "not run" if budget_out else "timeout",
                          "budget spent while it ran" if budget_out else f"ran past {limit:.0f}s",
                          tests=len(selection.tests), capped=selection.capped, seconds=time.monotonic() - started)
    finally:
        target.write_text(original)
        shutil.rmtree(temp, ignore_errors=True)
    return classify(mutant, selection, process.returncode, output, time.monotonic() - started)


def classify(mutant: Mutant, selection: Selection, returncode: int, output: str, seconds: float = 0.0) -> Result:
    """A mutant's status from its pytest run (through tools/mutate.py's RUNNER: 1 = a test failed,
    or the mutant broke an import, which pytest reports as exit 2, or as 4 when tests are named by
    node id, as here, or crashed the process). Only that is a kill: any other exit (no test
    collected, an internal error) is no evidence, so the mutant counts as survived."""
    common = dict(tests=len(selection.tests), capped=selection.capped, seconds=seconds)
    if returncode == 1:
        return Result(mutant, "killed", killer=_failed_test(output), **common)
    if returncode == 0:
        why = (f"{selection.capped} covering tests left out by the cap" if selection.capped
               else "the tests that run it passed")
        return Result(mutant, "survived", why + (" (line runs at import only)" if selection.import_only else ""), **common)
    return Result(mutant, "survived", f"pytest exit {returncode}, counted as survived", **common)


def _failed_test(output: str) -> str:
    """The node id of the first FAILED/ERROR in pytest's short summary (-ra), or the test file
    that failed to import ("ERROR tests/x.py")."""
    for line in output.splitlines():
        for tag in ("FAILED ", "ERROR "):
            if line.startswith(tag):
                return line[len(tag):].split(" - ")[0].strip()
    return ""


def recheck_killers(results: list[Result], python: str, work: Path = WHOLE) -> list[str]:
    """Run the tests that killed mutants once more, unmutated, in one pytest: a test that fails
    without any mutant did not notice the mutant (an order dependence, a flaky test), so its
    kills are withdrawn. Returns the withdrawn tests."""
    killers = sorted({r.killer for r in results if r.status == "killed" and "::" in r.killer})
    if not killers:
        return []
    temp = base.basetemp().with_name(base.basetemp().name + "-recheck")
    done = subprocess.run([python, "-c", base.RUNNER, "-q", *PYTEST_FLAGS, f"--basetemp={temp}", *killers],
                          cwd=work, env=mutant_env(work), capture_output=True, text=True)
    shutil.rmtree(temp, ignore_errors=True)
    bad = sorted({line.split(" ", 1)[1].split(" - ")[0].strip() for line in done.stdout.splitlines()
                  if line.startswith(("FAILED ", "ERROR "))})
    for r in results:
        if r.status == "killed" and r.killer in bad:
            r.status, r.why = "survived", f"its killer {r.killer} fails unmutated too (kill withdrawn)"
    return bad


# --------------------------------------------------------------------------------------------
# 4. The figure
# --------------------------------------------------------------------------------------------

def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z=1.96); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = killed / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def is_equivalent(mutant: Mutant, equivalent: list[dict]) -> str | None:
    """The reason given in pyproject for this mutant being equivalent, if it is listed there."""
    return next((e["reason"] for e in equivalent if e["path"] == mutant.path
                 and e["line"].strip() == mutant.line.strip() and int(e.get("index", mutant.index)) == mutant.index), None)


def render(results: list[Result], sampled: int, population: int, seed: int, equivalent: list[dict],
           index: dict, diffs: bool = True) -> str:
    run = [r for r in results if r.status != "not run"]
    equiv = [r for r in run if r.status == "survived" and is_equivalent(r.mutant, equivalent)]
    scored = [r for r in run if r not in equiv]
    killed = sum(r.status == "killed" for r in scored)
    timeout = sum(r.status == "timeout" for r in scored)
    survived = sum(r.status == "survived" for r in scored)
    n = len(scored)
    low, high = wilson(killed, n)
    tests = index["tests"]
    out = [
        f"whole package ({PACKAGE}): {population} mutants; sample of {sampled} drawn with seed {seed}, "
        f"{len(run)} run" + (f" ({sampled - len(run)} not run: budget)" if len(run) < sampled else ""),
        f"coverage run: {len(tests)} tests, {sum(o['outcome'] == 'passed' for o in tests.values())} passed "
        f"(only those select tests), {index.get('seconds', '?')}s",
        f"killed {killed}  survived {survived}  timeout {timeout}  equivalent {len(equiv)} (not scored)",
        f"score {killed / n:.1%} of {n}, 95% CI {low:.1%}-{high:.1%} (Wilson)" if n else "score - (no mutant run)",
        "",
        f"{'package':<16}{'sampled':>8}{'killed':>8}{'survived':>10}{'timeout':>9}{'score':>8}",
    ]
    packages = sorted({r.mutant.package for r in scored})
    for package in packages:
        rs = [r for r in scored if r.mutant.package == package]
        k = sum(r.status == "killed" for r in rs)
        out.append(f"{package:<16}{len(rs):>8}{k:>8}{sum(r.status == 'survived' for r in rs):>10}"
                   f"{sum(r.status == 'timeout' for r in rs):>9}{k / len(rs):>8.0%}")
    reasons: dict[str, int] = {}
    for r in scored:
        if r.status != "killed":
            kind = r.why.split(" (")[0] if r.status == "survived" else "timeout"
            kind = "covering tests left out by the cap" if "left out by the cap" in kind else kind
            reasons[kind] = reasons.get(kind, 0) + 1
    if reasons:
        out.append("\nnot killed, by reason: " + "; ".join(f"{v} {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))
    survivors = sorted((r for r in scored if r.status != "killed"), key=lambda r: (r.mutant.path, r.mutant.line_number))
    if survivors:
        out.append("\nsurvivors (file:line, the change, why):")
        for r in survivors:
            change = show(r.mutant) if diffs else r.mutant.line.strip()
            out.append(f"  {r.mutant.path}:{r.mutant.line_number + 1} [{r.status}: {r.why}]\n      {change}")
    if equiv:
        out.append("\nequivalent (listed in pyproject, not scored):")
        out.extend(f"  {r.mutant.path}:{r.mutant.line_number + 1}: {is_equivalent(r.mutant, equivalent)}" for r in equiv)
    return "\n".join(out)


def show(mutant: Mutant) -> str:
    source = (ROOT / mutant.path).read_text()
    new = mutated_source(mutant, source)
    if new is None:
        return f"-    {mutant.line.strip()} | (not applicable to the current source)"
    return f"-    {mutant.line.strip()} | +    {new.split(chr(10))[mutant.line_number].strip()}"


def run(sample: int, seed: int, budget_s: int, cap_s: float, cap_tests: int, python: str, equivalent: list[dict],
        report_only: bool = False, diffs: bool = True, refresh: bool = False) -> str:
    """The whole-package mode of tools/mutate.py: coverage index (reused if current), the sample,
    each mutant within the budget (results kept: a later run with the same seed and sources
    continues), the recheck of the killers, the report."""
    if report_only:
        if not (COVERAGE / "index.json").exists():
            return "no whole-package run yet (python tools/mutate.py --whole-package)"
        index = json.loads((COVERAGE / "index.json").read_text())
    else:
        index = coverage_index(python, refresh=refresh)
    mutants = all_mutants()
    chosen = draw(mutants, sample, seed)
    state_path = COVERAGE / "results.json"  # goes with the coverage data it was measured on
    state_key = f"{index['key']}:{index.get('id')}:{seed}:{cap_s}:{cap_tests}"
    saved = json.loads(state_path.read_text()) if state_path.exists() else {}
    done: dict[str, dict] = saved.get("results", {}) if saved.get("key") == state_key else {}
    # The budget bounds the mutants' runs; the coverage run (once per source state) comes before.
    deadline = time.monotonic() + budget_s
    if not report_only:
        base.sync_copy(WHOLE, COPIED)
        print(f"{len(mutants)} mutants in {PACKAGE}; sample {len(chosen)} (seed {seed}); "
              f"{sum(m.key in done for m in chosen)} already run", flush=True)
        for i, mutant in enumerate(chosen, 1):
            if mutant.key in done:
                continue
            if time.monotonic() >= deadline:
                print("budget spent; run again to continue", flush=True)
                break
            result = run_mutant(mutant, index, python, cap_s, cap_tests, deadline)
            if result.status != "not run":
                done[mutant.key] = {k: v for k, v in result.__dict__.items() if k != "mutant"}
                state_path.write_text(json.dumps({"key": state_key, "results": done}))
            print(f"  [{i}/{len(chosen)}] {result.status:<8} {mutant.path}:{mutant.line_number + 1} "
                  f"({result.tests} tests, {result.seconds:.0f}s){' ' + result.why if result.why else ''}", flush=True)
    results = [Result(m, **done[m.key]) if m.key in done else Result(m, "not run") for m in chosen]
    if not report_only:
        withdrawn = recheck_killers(results, python)
        if withdrawn:
            print(f"kills withdrawn (the test fails unmutated too): {', '.join(withdrawn)}", flush=True)
            for r in results:
                if r.mutant.key in done:
                    done[r.mutant.key] = {k: v for k, v in r.__dict__.items() if k != "mutant"}
            state_path.write_text(json.dumps({"key": state_key, "results": done}))
    return render(results, len(chosen), len(mutants), seed, equivalent, index, diffs)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "collect":
    sys.exit(collect(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
