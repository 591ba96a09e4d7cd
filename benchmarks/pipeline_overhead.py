"""Orchestration overhead of `modelway run`: chain10 and fan10 as whole processes, median of 5.

Baseline (same run): a plain `python` process calling the same functions without Modelway.
Per-step overhead is the marginal cost of one more step, which separates it from the fixed
start-up cost (interpreter, CLI, pipeline import, run store); measured on a 50-step chain
so that it stands out of the noise of a shared machine:

    per_step = ((T(chain50) - T(chain1)) - (B(chain50) - B(chain1))) / 49

The runner's own view is printed too (run wall time minus time inside step functions);
the per-step targets are judged on the larger of the two estimates. Whole-run wall times
are printed as measured. Targets (issue 3, on a 2-core machine): <= 5 ms/step in-process, <= 50 ms/step
process-per-step, chain10 run <= 1.0 s, fully cached chain10 re-run <= 0.6 s.

Start-up (issue 8), each printed beside `python -c pass` of the same rounds: `modelway run` of a
one-step pipeline <= 0.2 s, chain10 <= 0.3 s, its fully cached re-run <= 0.25 s, `modelway --help`
<= 0.15 s (process-per-step, the default executor).

Run: .venv/bin/python benchmarks/pipeline_overhead.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FUNCTIONS = """
def add_one(x: int) -> int:
    return x + 1

def source(n: int) -> list[int]:
    return list(range(n))

def square_at(values: list[int], i: int) -> int:
    return values[i] ** 2

def total(parts: list[int]) -> int:
    return sum(parts)
"""

PIPELINES = """
from modelway import pipeline, step
""" + FUNCTIONS.replace("def ", "@step\ndef ") + """

@pipeline
def chain1(start: int = 0) -> int:
    return add_one(start)

@pipeline
def chain10(start: int = 0) -> int:
    x = start
    for _ in range(10):
        x = add_one(x)
    return x

@pipeline
def chain50(start: int = 0) -> int:
    x = start
    for _ in range(50):
        x = add_one(x)
    return x

@pipeline
def fan10(n: int = 10) -> int:
    values = source(n)
    return total([square_at(values, i) for i in range(n)])
"""

BASELINES = {
    "chain1": FUNCTIONS + "\nprint(add_one(0))\n",
    "chain10": FUNCTIONS + "\nx = 0\nfor _ in range(10):\n    x = add_one(x)\nprint(x)\n",
    "chain50": FUNCTIONS + "\nx = 0\nfor _ in range(50):\n    x = add_one(x)\nprint(x)\n",
    "fan10": FUNCTIONS + "\nv = source(10)\nprint(total([square_at(v, i) for i in range(10)]))\n",
}


CPU: dict[tuple[str, str], list[float]] = {}  # CPU seconds (user + system, the process and its step children)


def _run(cmd: list[str], env: dict[str, str], key: tuple[str, str] | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    if key is not None:
        CPU.setdefault(key, []).append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return elapsed


def _internal_overhead(home: Path, pipeline: str) -> float:
    """Runner wall time minus time spent inside step functions, per step, from the run store."""
    import sqlite3

    conn = sqlite3.connect(home / "modelway.db")
    rows = conn.execute(
        "SELECT r.ended_at - r.started_at, SUM(s.duration_s), COUNT(*) FROM runs r JOIN steps s USING (run_id)"
        " WHERE r.pipeline=? AND r.status='succeeded' GROUP BY r.run_id HAVING SUM(s.cached)=0", (pipeline,)).fetchall()
    conn.close()
    return statistics.median((wall - inside) / n for wall, inside, n in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mw-bench-"))
    pipe = work / "bench_pipelines.py"
    pipe.write_text(textwrap.dedent(PIPELINES))
    env = {**os.environ, "PYTHONPATH": str(REPO / "platform")}
    # Measure what a user's installation does: Python caches compiled modules (pip writes them at
    # install). A sandbox that sets PYTHONDONTWRITEBYTECODE would recompile Modelway's ~40 modules
    # on every start (about 0.1 s) and measure that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cli = [sys.executable, "-m", "modelway.cli.main"]
    modelway = [*cli, "run", str(pipe), "--plain"]
    modes = {"in-process": ["--in-process"], "process-per-step": []}

    # Every configuration is timed once per round, rounds interleaved, so load changes on a
    # shared machine hit all configurations alike; medians over the rounds.
    configs: dict[tuple[str, str], tuple[list[str], dict[str, str]]] = {}
    for name, code in BASELINES.items():
        configs[("baseline", name)] = ([sys.executable, "-c", code], env)
    configs[("baseline", "python -c pass")] = ([sys.executable, "-c", "pass"], env)
    configs[("cli", "--help")] = ([*cli, "--help"], env)
    for mode, flags in modes.items():
        env_mode = {**env, "MODELWAY_HOME": str(work / f"home-{mode}")}
        for name in ("chain1", "chain10", "chain50", "fan10"):
            configs[(mode, name)] = ([*modelway, "--pipeline", name, "--no-cache", *flags], env_mode)
        _run([*modelway, "--pipeline", "chain10", *flags], env_mode)  # fill the cache
        configs[(mode, "chain10 cached")] = ([*modelway, "--pipeline", "chain10", *flags], env_mode)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in configs}
    for _ in range(args.repeat):
        for key, (cmd, env_cfg) in configs.items():
            samples[key].append(_run(cmd, env_cfg, key))
    t = {key: statistics.median(values) for key, values in samples.items()}
    base = {name: t[("baseline", name)] for name in BASELINES}

    print(f"median of {args.repeat} interleaved rounds, whole processes, {os.cpu_count()} cores")
    print("baseline (plain python):  " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in base.items()))
    per_step: dict[str, float] = {}
    for mode in modes:
        marginal = ((t[(mode, "chain50")] - t[(mode, "chain1")]) - (base["chain50"] - base["chain1"])) / 49
        internal = _internal_overhead(work / f"home-{mode}", "chain10")
        # Whole-process timings on a shared machine are noisy: judge the target on the larger
        # (more pessimistic) of the two estimates.
        per_step[mode] = max(marginal, internal)
        print(f"\n{mode}:")
        for name in ("chain1", "chain10", "chain50", "fan10", "chain10 cached"):
            print(f"  {name:<15} {t[(mode, name)] * 1000:7.0f} ms wall   (baseline {base.get(name, base['chain10']) * 1000:.0f} ms)")
        per_fan = ((t[(mode, "fan10")] - t[(mode, "chain1")]) - (base["fan10"] - base["chain1"])) / 11
        print(f"  overhead per step (marginal, chain1 -> chain50, vs baseline): {marginal * 1000:.1f} ms")
        print(f"  overhead per step (marginal, chain1 -> fan10, 12 steps, parallel): {per_fan * 1000:.1f} ms")
        print(f"  overhead per step (runner wall - step time, chain10): {internal * 1000:.1f} ms")
        print(f"  whole-run overhead / steps incl. start-up: chain10 {(t[(mode, 'chain10')] - base['chain10']) / 10 * 1000:.1f} ms")

    print("\ntargets:")
    checks = [
        ("in-process overhead <= 5 ms/step (max of both estimates)", per_step["in-process"], 0.005),
        ("process-per-step overhead <= 50 ms/step (max of both estimates)", per_step["process-per-step"], 0.050),
        ("chain10 `modelway run` (process-per-step) <= 1.0 s", t[("process-per-step", "chain10")], 1.0),
        ("cached chain10 re-run <= 0.6 s", t[("process-per-step", "chain10 cached")], 0.6),
    ]
    for label, value, limit in checks:
        print(f"  {'PASS' if value <= limit else 'MISS'}  {label}: {value * 1000:.1f} ms")

    python = t[("baseline", "python -c pass")]
    print(f"\nstart-up targets (issue 8), beside `python -c pass` = {python * 1000:.0f} ms in the same rounds:")
    startup = [
        ("one-step `modelway run` <= 0.2 s", t[("process-per-step", "chain1")], 0.2),
        ("chain10 `modelway run` <= 0.3 s", t[("process-per-step", "chain10")], 0.3),
        ("cached chain10 re-run <= 0.25 s", t[("process-per-step", "chain10 cached")], 0.25),
        ("`modelway --help` <= 0.15 s", t[("cli", "--help")], 0.15),
    ]
    cpu = {key: statistics.median(values) for key, values in CPU.items()}
    keys = [("process-per-step", "chain1"), ("process-per-step", "chain10"), ("process-per-step", "chain10 cached"),
            ("cli", "--help")]
    for (label, value, limit), key in zip(startup, keys):
        print(f"  {'PASS' if value <= limit else 'MISS'}  {label}: {value * 1000:.0f} ms "
              f"(python -c pass {python * 1000:.0f} ms, difference {(value - python) * 1000:.0f} ms; "
              f"CPU {cpu[key] * 1000:.0f} ms vs {cpu[('baseline', 'python -c pass')] * 1000:.0f} ms)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"  note: load average {load:.1f} on {os.cpu_count()} cores while measuring; wall times are inflated")


if __name__ == "__main__":
    main()
