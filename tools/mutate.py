"""Mutation testing of the trust-critical modules, one module at a time, within a time budget.

``make mutate`` runs this script. For each module listed under ``[tool.modelway.mutate]`` in
pyproject.toml it runs mutmut (single-point changes: a flipped comparison, a dropped ``not``,
a changed constant, ...) against that module's own tests, and prints one line per module::

    module                       score   killed  survived  timeout  untested  equivalent
    policy_check/waivers.py       92.3%      36         3        0         0           2

then every surviving mutant as a diff. A survivor is a change to the code that no test noticed:
either a missing test (write one that fails on it) or an equivalent mutant (a change that cannot
alter behaviour: list it in ``equivalent`` under ``[tool.modelway.mutate]`` with the reason).

Mutants are never written into the checkout: the sources are copied to ``.mutate/work`` (the
policy pack also as ``modelway/policies``, as the installed distribution has it) and mutmut edits
the copy, with ``PYTHONPATH`` pointing the tests there. mutmut's cache stays in that folder, so a
run cut by the budget continues where it stopped the next time (tests changed: all re-run).

Usage::

    python tools/mutate.py                          # every module, default budget each
    python tools/mutate.py policy_check/waivers.py  # some modules (names as in pyproject)
    python tools/mutate.py --budget 300 --report-only
    python tools/mutate.py --whole-package --sample 200 --seed 1 --budget 3600  # whole-package estimate

``--whole-package`` estimates one score over all of platform/modelway from a seeded sample of
mutants, each run against the tests that execute its line (tools/mutate_whole.py says how).
"""
from __future__ import annotations

import argparse
import compileall
import difflib
import os
import py_compile
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutate" / "work"
REPORT = ROOT / ".mutate" / "report.txt"
# What the copy needs to import and test the package (never .venv, .git, generated state).
COPIED = ("platform", "policies", "tests", "pipelines", "infra", "benchmarks", "pyproject.toml", "setup.py",
          "Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "README.md")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".modelway", "mlruns", ".pytest_cache", ".hypothesis",
                                 "*.egg-info")
KILLED = ("ok_killed", "ok_suspicious", "bad_timeout")
# pytest for one mutant. mutmut 2 counts only exit code 1 as a kill; a mutant that breaks the
# module's import makes pytest exit 2 (collection error), or 4 when the tests are named by node
# id (`file::Class`: "found no collectors"; the same ids collected before the mutant), and one
# that crashes the test process (e.g. os.kill(pid, 0) turned into a SIGHUP to itself) ends it by
# a signal: the tests noticed all three, so all become 1. mutmut's timeout (a mutant that loops forever) kills this runner only:
# pytest gets PR_SET_PDEATHSIG so it goes too, instead of holding mutmut's terminal open until the budget ends.
RUNNER = ("import ctypes, signal, subprocess, sys; code = subprocess.call([sys.executable, '-m', 'pytest', *sys.argv[1:]], "
          "preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGKILL)); "
          "sys.exit(1 if code in (2, 4) or code < 0 else code)")


@dataclass
class Module:
    """One mutated source file and the tests that should kill its mutants."""

    name: str
    path: str
    tests: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[tuple[int, int, str, int]] = field(default_factory=list)  # (mutant id, line index, source line, mutation index)
    equivalent: list[tuple[int, int, str]] = field(default_factory=list)  # (mutant id, line number, reason)
    stopped_by_budget: bool = False

    @property
    def killed(self) -> int:
        return sum(self.counts.get(s, 0) for s in KILLED)

    @property
    def tested(self) -> int:
        return self.killed + self.counts.get("bad_survived", 0)

    @property
    def score(self) -> float | None:
        """Killed over tested mutants, equivalent ones left out of both (None before any ran)."""
        denominator = self.tested - len(self.equivalent)
        return None if denominator <= 0 else self.killed / denominator


def load_config() -> tuple[dict, list[Module], list[dict]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["modelway"]["mutate"]
    modules = [Module(m["name"], m["path"], list(m["tests"])) for m in config["modules"]]
    return config, modules, list(config.get("equivalent", []))


def sync_copy(work: Path = WORK, names: tuple[str, ...] = COPIED) -> None:
    """Refresh the copy from the checkout (this also undoes a mutant left by an interrupted run)."""
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = ROOT / name
        target = work / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=IGNORED, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target)
    link = work / "platform" / "modelway" / "policies"
    if not link.is_symlink():
        link.symlink_to(Path("..", "..", "policies"))
    # Bytecode checked by source hash, not mtime: every mutant run imports the package and the
    # tests from these instead of compiling them again, and a mutated file (whose hash differs)
    # is always compiled from its current source, however fast mutmut rewrites it.
    for folder in ("platform", "policies", "tests"):
        compileall.compile_dir(work / folder, quiet=2, workers=1, force=True,
                               invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


def basetemp() -> Path:
    """pytest's temp root for the mutant runs: in memory where there is a tmpfs, because the tests'
    atomic writes fsync every file and on a shared disk that wait is most of a mutant's cost."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else WORK
    return parent / f"modelway-mutate-{os.getuid()}-{ROOT.name}"


def run_module(module: Module, budget_s: int, python: str) -> None:
    """mutmut on one file, stopped when the budget is spent (the copy is then refreshed)."""
    runner = shlex.join([python, "-c", RUNNER, "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                         "--no-header", "--assert=plain", f"--basetemp={basetemp()}", *module.tests])
    env = {**os.environ, "PYTHONPATH": f"{WORK / 'platform'}{os.pathsep}{WORK}",
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
           # A mutant costs one pytest start: skip the third-party plugins (xdist, anyio, typeguard;
           # Hypothesis runs without its plugin) and assertion rewriting, both a pass/fail no-op,
           # which together take about half of that start on a small machine.
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [python, "-m", "mutmut", "run", "--paths-to-mutate", module.path, "--tests-dir", "tests",
               "--runner", runner, "--no-progress", "--simple-output"]
    log = (WORK / f"mutmut-{module.name.replace('/', '-')}.log").open("w")
    deadline = time.monotonic() + budget_s
    try:
        _run_until(command, env, log, deadline, module)
        # mutmut's cache lookup keys lines by their text: of two identical lines (two
        # `if anchor is not None:`), the second's mutants take the first's status and are never
        # run. Run each mutant still untested by its id, which mutmut always runs, and each
        # survivor on such a line (its status is from an earlier run: the tests changed since).
        for mutant_id in _untested(module.path):
            if module.stopped_by_budget:
                break
            _run_until([*command[:4], str(mutant_id), *command[4:]], env, log, deadline, module)
    finally:
        log.close()
        shutil.rmtree(basetemp(), ignore_errors=True)
        sync_copy()


def _run_until(command: list[str], env: dict[str, str], log, deadline: float, module: Module) -> None:
    process = subprocess.Popen(command, cwd=WORK, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        # SIGKILL, not SIGINT: an interrupted pytest exits non-zero, which mutmut would record as
        # a killed mutant, and mutmut ignores SIGINT while a mutant runs. Killed outright, the
        # mutant in flight stays untested; its change is still in the copy, undone by the caller.
        module.stopped_by_budget = True
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _untested(path: str) -> list[int]:
    """Mutants of ``path`` mutmut's own pass leaves alone: untested ones, and survivors on a line
    whose text another line has (run by id, mutmut re-runs them only if the tests changed)."""
    cache = WORK / ".mutmut-cache"
    if not cache.exists():
        return []
    db = sqlite3.connect(cache)
    try:
        return [row[0] for row in db.execute(
            "SELECT m.id FROM Mutant m JOIN Line l ON m.line = l.id JOIN SourceFile s ON l.sourcefile = s.id "
            "WHERE s.filename = ? AND (m.status = 'untested' OR (m.status = 'bad_survived' AND "
            "(SELECT count(*) FROM Line twin WHERE twin.sourcefile = l.sourcefile AND TRIM(twin.line) = TRIM(l.line)) > 1))",
            (path,))]
    finally:
        db.close()


def read_results(module: Module, equivalent: list[dict]) -> None:
    """Counts and survivors of one file from mutmut's cache (an sqlite database)."""
    cache = WORK / ".mutmut-cache"
    if not cache.exists():
        return
    # Read a copy: a reader's lock on the live cache makes a running mutmut's commit fail
    # ("database is locked") and stops that run (e.g. --report-only while make mutate runs).
    snapshot = WORK.parent / "report.db"
    shutil.copyfile(cache, snapshot)
    db = sqlite3.connect(snapshot)
    rows = db.execute(
        "SELECT m.id, m.status, l.line_number, l.line, m.'index' FROM Mutant m JOIN Line l ON m.line = l.id "
        "JOIN SourceFile s ON l.sourcefile = s.id WHERE s.filename = ? ORDER BY l.line_number, m.'index'",
        (module.path,)).fetchall()
    db.close()
    module.counts = {}
    for mutant_id, status, line_number, line, index in rows:
        module.counts[status] = module.counts.get(status, 0) + 1
        if status != "bad_survived":
            continue
        reason = next((e["reason"] for e in equivalent if e["path"] == module.path
                       and e["line"].strip() == line.strip() and int(e.get("index", index)) == index), None)
        if reason is not None:
            module.equivalent.append((mutant_id, line_number + 1, reason))
        else:
            module.survivors.append((mutant_id, line_number, line, index))


def show(path: str, line_number: int, line: str, index: int) -> str:
    """The survivor as "- old | + new", computed by mutmut's own mutator from the checkout's
    source. (Not `mutmut show`: it rewrites the cache's line table from the file on disk, which
    during a run holds a mutant, and the run then fails to find its lines.)"""
    from mutmut import Context, RelativeMutationID, mutate

    source = (ROOT / path).read_text()
    mutant, applied = mutate(Context(source=source, dict_synonyms=[], mutation_id=RelativeMutationID(
        filename=path, line=line, index=index, line_number=line_number)))
    if not applied:
        return f"-    {line.strip()} | +    (not applicable to the current source)"
    # The first lines that differ: a mutant of a statement over several lines (`x = {...}` to
    # `x = None`) has fewer lines, and its line number is the statement's last line.
    before, after = source.split("\n"), mutant.split("\n")
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag != "equal":
            old = before[i1].strip() if i1 < i2 else ""
            return f"-    {old} | +    {after[j1].strip() if j1 < j2 else '(deleted)'}"
    return f"-    {line.strip()} | +    (no change)"


def render(modules: list[Module], python: str, diffs: bool) -> str:
    out = [f"{'module':<34}{'score':>7}{'killed':>8}{'survived':>10}{'timeout':>9}{'untested':>10}{'equivalent':>12}"]
    total_killed = total_denominator = 0
    for m in modules:
        score = m.score
        total_killed += m.killed
        total_denominator += max(0, m.tested - len(m.equivalent))
        note = "  (budget spent; run again to continue)" if m.stopped_by_budget or m.counts.get("untested") else ""
        out.append(f"{m.name:<34}{'-' if score is None else f'{score:.1%}':>7}{m.killed:>8}{len(m.survivors):>10}"
                   f"{m.counts.get('bad_timeout', 0):>9}{m.counts.get('untested', 0):>10}{len(m.equivalent):>12}{note}")
    overall = f"{total_killed / total_denominator:.1%}" if total_denominator else "-"
    # Say what the total covers: a module never run, or cut short, is not in it (no whole-package
    # figure is implied by modules that were not scored).
    unscored = [m.name for m in modules if m.score is None]
    partial = [m.name for m in modules if m.score is not None and m.counts.get("untested")]
    covers = f"  ({len(modules) - len(unscored)} of {len(modules)} modules scored"
    covers += f"; partly: {', '.join(partial)}" if partial else ""
    covers += f"; not run: {', '.join(unscored)}" if unscored else ""
    out.append(f"{'all modules above':<34}{overall:>7}{covers})")
    for m in modules:
        if m.survivors:
            out.append(f"\nsurvivors in {m.path}:")
            for mutant_id, line_number, line, index in m.survivors:
                detail = show(m.path, line_number, line, index) if diffs else line.strip()
                out.append(f"  #{mutant_id} line {line_number + 1}: {detail}")
        if m.equivalent:
            out.append(f"\nequivalent (not scored) in {m.path}:")
            out.extend(f"  #{mutant_id} line {line_number}: {reason}" for mutant_id, line_number, reason in m.equivalent)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names from pyproject (default: all)")
    parser.add_argument("--budget", type=int, help="seconds per module (default: pyproject's budget_s)")
    parser.add_argument("--report-only", action="store_true", help="print the last results, run nothing")
    parser.add_argument("--no-diffs", action="store_true", help="name survivors by line, without their diff")
    whole = parser.add_argument_group("whole package (a sampled estimate; see tools/mutate_whole.py)")
    whole.add_argument("--whole-package", action="store_true",
                       help="estimate the score over all of platform/modelway from a sample of mutants")
    whole.add_argument("--sample", type=int, default=200, help="mutants in the sample (default 200)")
    whole.add_argument("--seed", type=int, default=1, help="the sample's random seed (default 1)")
    whole.add_argument("--cap-s", type=float, default=60.0,
                       help="per mutant, the covering tests' measured seconds to run at most (default 60)")
    whole.add_argument("--cap-tests", type=int, default=100, help="per mutant, tests to run at most (default 100)")
    whole.add_argument("--refresh-coverage", action="store_true", help="measure the coverage again even if current")
    args = parser.parse_args(argv)
    config, modules, equivalent = load_config()
    if args.whole_package:
        import mutate_whole

        if args.modules:
            print("--whole-package takes no module names", file=sys.stderr)
            return 2
        text = mutate_whole.run(args.sample, args.seed, args.budget or int(config.get("whole_budget_s", 3600)),
                                args.cap_s, args.cap_tests, sys.executable, equivalent,
                                report_only=args.report_only, diffs=not args.no_diffs, refresh=args.refresh_coverage)
        path = REPORT.with_name("whole-report.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        print(text)
        print(f"\n(report written to {path.relative_to(ROOT)})")
        return 0
    if args.modules:
        unknown = sorted(set(args.modules) - {m.name for m in modules})
        if unknown:
            print(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(m.name for m in modules)}",
                  file=sys.stderr)
            return 2
        modules = [m for m in modules if m.name in args.modules]
    try:  # mutmut reads pyproject.toml with the older `toml` package: what it cannot parse, no module runs
        import toml

        toml.load(ROOT / "pyproject.toml")
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001 - any parse error, named in one line
        print(f"pyproject.toml: mutmut cannot read it ({exc}); keep [tool.modelway.mutate] in plain tables",
              file=sys.stderr)
        return 2
    budget = args.budget or int(config.get("budget_s", 600))
    python = sys.executable
    if not args.report_only:
        for module in modules:
            sync_copy()
            print(f"mutating {module.path} (budget {budget}s) against {' '.join(module.tests)}", flush=True)
            started = time.monotonic()
            run_module(module, budget, python)
            print(f"  done in {time.monotonic() - started:.0f}s", flush=True)
    for module in modules:
        read_results(module, equivalent)
    text = render(modules, python, diffs=not args.no_diffs)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n")
    print(text)
    print(f"\n(report written to {REPORT.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
