"""End-to-end figures for the demo pipeline (credit_risk at its default size).

Measures whole ``modelway run pipelines/credit_risk.py`` processes, as a user runs them:

* **uncached**: a fresh ``$MODELWAY_HOME`` per repetition (the ``make demo`` case from a
  fresh clone: data generation, validation, CV + search, MLflow tracking, model tests,
  registration); target <= 30 s on a 2-core machine;
* **uncached without preload** (``MODELWAY_PRELOAD=0``), interleaved with the uncached runs:
  the same run when every step process imports pandas/pyarrow/scikit-learn itself, to show
  what the pipeline's ``preload=[...]`` saves;
* **cached**: the identical re-run in the same home (every step a cache hit except
  ``register``, which always runs and finds the version already registered);
  target <= 5% of the uncached time;
* **first run on a new machine**: once, with an empty user cache (MLflow's SQLite store is
  migrated from scratch instead of copied from the cached empty store);
* **baseline**: ``modelway --help`` (bare CLI start-up) in the same session, for scale;
* **against an earlier version** (``--baseline-ref REF``): the same uncached and cached runs of
  the tree at git ``REF`` (exported with ``git archive``, imported through ``PYTHONPATH``),
  interleaved with this tree's, wall and CPU time (the processes' user+sys, children included:
  on a shared machine CPU time is the steadier figure); prints this tree's time as a multiple
  of REF's (the ML Test Score checks: target <= 1.5x).

Prints medians and the per-step durations of the last uncached run.

    .venv/bin/python benchmarks/e2e.py [--repeat 3] [--cached-repeat 5] [--baseline-ref 37f84bf]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELWAY = [sys.executable, "-m", "modelway.cli.main"]
TARGET_S = 30.0
CACHED_SHARE = 0.05


LAST_CPU = [0.0]  # CPU seconds (user+sys, children included) of the last timed() process


def timed(args: list[str], home: Path, cache: Path | None = None,
          extra_env: dict[str, str] | None = None, cwd: Path = REPO) -> tuple[float, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_")}
    env["MODELWAY_HOME"] = str(home)
    env.update(extra_env or {})
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, proc


def export_tree(ref: str, target: Path) -> Path:
    """``git archive REF`` unpacked into ``target`` (a plain copy of that version of the repository)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def compare_with(ref: str, root: Path, run: list[str], repeat: int, cached_repeat: int) -> int:
    """Uncached and cached runs of this tree and of REF's, interleaved; medians of wall and CPU time."""
    tree = export_tree(ref, root / "baseline-tree")
    old_env = {"PYTHONPATH": str(tree / "platform")}
    figures: dict[str, list[tuple[float, float]]] = {"new": [], "old": [], "new-cached": [], "old-cached": []}
    for i in range(repeat):
        for label, cwd, env in (("old", tree, old_env), ("new", REPO, {})):
            home = root / f"cmp-{label}-{i}"
            seconds, proc = timed(run, home, extra_env=env, cwd=cwd)
            if proc.returncode != 0:
                print(f"{label} tree run failed:", proc.stdout[-1500:], proc.stderr[-3000:], file=sys.stderr)
                return 1
            figures[label].append((seconds, LAST_CPU[0]))
            for _ in range(cached_repeat):
                seconds, proc = timed(run, home, extra_env=env, cwd=cwd)
                steps = json.loads(proc.stdout)["steps"] if proc.returncode == 0 else []
                if not steps or not all(s["cached"] for s in steps if s["name"] != "register"):
                    print(f"{label} tree: the re-run was not fully cached: {[(s['name'], s['cached']) for s in steps]}", file=sys.stderr)
                    return 1
                figures[f"{label}-cached"].append((seconds, LAST_CPU[0]))
            print(f"  {label} ({ref if label == 'old' else 'this tree'}) run {i + 1}: {figures[label][-1][0]:.2f} s wall, "
                  f"{figures[label][-1][1]:.2f} s CPU", flush=True)

    def med(label: str, k: int) -> float:
        return statistics.median(x[k] for x in figures[label])

    print()
    print(f"this tree against {ref} (same session, interleaved, medians of {repeat} uncached / {repeat * cached_repeat} cached)")
    for k, what in ((0, "wall"), (1, "CPU ")):
        ratio = med("new", k) / med("old", k)
        print(f"  uncached {what}  {med('old', k):7.2f} s -> {med('new', k):7.2f} s   x{ratio:.2f}   target <= x1.5   "
              f"{'OK' if ratio <= 1.5 else 'MISSED'}")
        share = med("new-cached", k) / med("new", k)
        print(f"  cached   {what}  {med('old-cached', k):7.2f} s -> {med('new-cached', k):7.2f} s   "
              f"{share:.1%} of this tree's uncached   target <= 5%   {'OK' if share <= CACHED_SHARE else 'MISSED'}")
    print(f"  cores: {os.cpu_count()}   load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="uncached runs (fresh home each)")
    parser.add_argument("--cached-repeat", type=int, default=5, help="fully cached re-runs")
    parser.add_argument("--baseline-ref", help="also run the tree at this git ref, interleaved, and print the ratio")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="modelway-bench-e2e-"))
    run = [*MODELWAY, "run", "pipelines/credit_risk.py", "--json"]
    if args.baseline_ref:
        try:
            return compare_with(args.baseline_ref, root, run, args.repeat, args.cached_repeat)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    try:
        baseline = []
        for _ in range(5):
            seconds, _ = timed([*MODELWAY, "--help"], root / "baseline")
            baseline.append(seconds)

        # once: a machine that never ran Modelway (empty user cache: the MLflow store is migrated from scratch)
        cold, proc = timed(run, root / "home-cold", cache=root / "empty-cache")
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        print(f"  first run on this machine (empty user cache): {cold:.2f} s", flush=True)

        uncached, no_preload, last_doc, home = [], [], None, None
        for i in range(args.repeat):
            seconds, proc = timed(run, root / f"home-nopreload-{i}", extra_env={"MODELWAY_PRELOAD": "0"})
            if proc.returncode != 0:
                print(proc.stderr[-4000:], file=sys.stderr)
                return 1
            no_preload.append(seconds)
            print(f"  uncached run without preload {i + 1}/{args.repeat}: {seconds:.2f} s", flush=True)
            home = root / f"home-{i}"
            seconds, proc = timed(run, home)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
                print(f"credit_risk run failed with exit code {proc.returncode}", file=sys.stderr)
                return 1
            uncached.append(seconds)
            last_doc = json.loads(proc.stdout)
            print(f"  uncached run {i + 1}/{args.repeat}: {seconds:.2f} s", flush=True)

        cached = []
        for _ in range(args.cached_repeat):
            seconds, proc = timed(run, home)
            doc = json.loads(proc.stdout)
            # register always runs (it writes to the registry) and must find the existing version
            if (proc.returncode != 0 or not all(s["cached"] for s in doc["steps"] if s["name"] != "register")
                    or not doc["outputs"]["result"].get("already_registered")):
                print(f"cached re-run was not fully cached: {[(s['name'], s['cached']) for s in doc['steps']]}", file=sys.stderr)
                return 1
            cached.append(seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    med_uncached, med_cached, med_base = statistics.median(uncached), statistics.median(cached), statistics.median(baseline)
    share = med_cached / med_uncached
    print()
    print("credit_risk end to end (default size, whole `modelway run` process, medians)")
    print(f"  uncached (fresh home)    {med_uncached:7.2f} s   target <= {TARGET_S:.0f} s        "
          f"{'OK' if med_uncached <= TARGET_S else 'MISSED'}   (runs: {', '.join(f'{s:.2f}' for s in uncached)})")
    med_off = statistics.median(no_preload)
    print(f"  uncached, no preload     {med_off:7.2f} s   (MODELWAY_PRELOAD=0: every step imports its libraries; "
          f"preload saves {med_off - med_uncached:.2f} s; runs: {', '.join(f'{s:.2f}' for s in no_preload)})")
    print(f"  fully cached re-run      {med_cached:7.2f} s   target <= {CACHED_SHARE:.0%} of uncached = {CACHED_SHARE * med_uncached:.2f} s   "
          f"{'OK' if share <= CACHED_SHARE else 'MISSED'}   ({share:.1%}; runs: {', '.join(f'{s:.2f}' for s in cached)})")
    print(f"  first run on a new machine {cold:5.2f} s   (once; builds the migrated empty MLflow store in the user cache)")
    print(f"  baseline `modelway --help` {med_base:5.2f} s")
    print("  steps of the last uncached run: " + ", ".join(
        f"{s['name']} {s['duration_s']:.2f}s" for s in last_doc["steps"] if s["duration_s"] is not None))
    print(f"  cores: {os.cpu_count()}   load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
