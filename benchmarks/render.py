"""Render cost of the infra program under Pulumi mocks: whole process for prod, and growth with size.

1. Whole-process render of the prod stack (what `modelway render` / `modelway policy check`
   pay per stack): a fresh `python -m modelway.rendering.worker . prod` process, median of
   N. Printed: wall (as measured on this shared 2-core machine) and CPU (user+sys of the
   child, less sensitive to other load), resource count. Baselines in the same run:
   - floor: a fresh interpreter that only imports pulumi + the provider SDK top levels;
   - eager: the same render with the provider sub-packages imported whole
     (MODELWAY_RENDER_EAGER_IMPORTS=1), i.e. what a plain `import pulumi_aws` program pays.
2. `modelway render --stack prod` against the program before issue 12 (network, cluster,
   add-ons, workload identity: ~1.6x the resources), both rendered in this run, interleaved:
   the baseline is commit BASELINE_COMMIT extracted with `git archive` into a temporary
   directory and run with its own `modelway` first on PYTHONPATH (same interpreter and SDKs).
   Printed: medians of wall and CPU and their ratio.
3. Linearity: in-process renders (imports already warm) of prod with 1..N model families
   and team namespaces; least-squares fit of time vs resources, R^2 and ms per resource.

Targets: issue 2: <= 1.0 s median for prod, render cost linear in resources;
issue 12: `modelway render --stack prod` within 1.3x of the program before it.

Run: .venv/bin/python benchmarks/render.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The last commit before issue 12 grew the program (network, cluster, add-ons, workload identity).
BASELINE_COMMIT = "ed5ab970bf9f33547355057a45121b58bc343966"
RENDER_TARGET_RATIO = 1.3
sys.path.insert(0, str(REPO))  # `infra` is imported by the program from the repo root


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu0, t0 = _child_cpu(), time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _child_cpu() - cpu0


def whole_process(repeat: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODELWAY_RENDER_EAGER_IMPORTS"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        render = [sys.executable, "-m", "modelway.rendering.worker", str(REPO), "prod", "strict", str(out)]
        floor = [sys.executable, "-c", "import pulumi, pulumi.runtime, pulumi_aws, pulumi_kubernetes"]
        runs: dict[str, list[tuple[float, float]]] = {"floor": [], "render": [], "eager": []}
        for _ in range(repeat):  # interleaved, so background load hits every variant alike
            runs["floor"].append(_time_process(floor, env))
            runs["render"].append(_time_process(render, env))
            runs["eager"].append(_time_process(render, {**env, "MODELWAY_RENDER_EAGER_IMPORTS": "1"}))
        payload = json.loads(out.read_text())
    assert payload["ok"], payload
    count = len(payload["result"]["resources"])
    print(f"whole-process render of prod ({count} resources), median of {repeat}:")
    for name, label in (("floor", "floor: python + pulumi imports only"),
                        ("render", "render (lazy provider sub-packages)"),
                        ("eager", "render, provider sub-packages imported whole")):
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        print(f"  {label:<46} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    render_wall = statistics.median(w for w, _ in runs["render"])
    verdict = "meets" if render_wall <= 1.0 else "misses"
    print(f"  target <= 1.00 s median wall: {verdict} ({render_wall:.2f} s)")


def _extract_baseline(into: Path) -> bool:
    """The baseline program, its stack files and its `modelway` package, from git; False without git history."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", BASELINE_COMMIT, "Pulumi.yaml", "Pulumi.prod.yaml",
                                  "infra", "platform/modelway", "policies"],
                                 cwd=REPO, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return True


def against_baseline(repeat: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODELWAY_RENDER_EAGER_IMPORTS"}
    render = [sys.executable, "-m", "modelway.cli.main", "render", "--stack", "prod"]
    with tempfile.TemporaryDirectory(prefix="modelway-baseline-") as tmp:
        base = Path(tmp)
        if not _extract_baseline(base):
            print(f"`modelway render --stack prod` vs {BASELINE_COMMIT[:7]}: skipped (no git history here)")
            return
        base_env = {**env, "PYTHONPATH": os.pathsep.join([str(base / "platform"), str(base)])}
        runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "current": []}
        for _ in range(repeat):  # interleaved, so background load hits both alike
            runs["baseline"].append(_time_in(base, render, base_env))
            runs["current"].append(_time_in(REPO, render, env))
    print(f"`modelway render --stack prod`, whole CLI process, median of {repeat}:")
    medians = {}
    for name, label in (("baseline", f"before issue 12 ({BASELINE_COMMIT[:7]})"), ("current", "this checkout")):
        medians[name] = (statistics.median(w for w, _ in runs[name]), statistics.median(c for _, c in runs[name]))
        print(f"  {label:<46} wall {medians[name][0]:6.2f} s   cpu {medians[name][1]:6.2f} s")
    wall_ratio = medians["current"][0] / medians["baseline"][0]
    cpu_ratio = medians["current"][1] / medians["baseline"][1]
    verdict = "meets" if wall_ratio <= RENDER_TARGET_RATIO else "misses"
    print(f"  ratio current/baseline: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x "
          f"(target <= {RENDER_TARGET_RATIO}x: {verdict})")


def _time_in(cwd: Path, command: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu0, t0 = _child_cpu(), time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _child_cpu() - cpu0


def linearity(sizes: list[int]) -> None:
    import dataclasses

    import numpy as np

    from modelway.rendering import fast_imports

    fast_imports.install()
    from modelway.rendering.engine import render_in_process
    from modelway.rendering.project import load_program_spec

    base = load_program_spec(REPO, "prod")
    registries = json.loads(base.config["modelway:registries"])
    kubernetes = json.loads(base.config["modelway:kubernetes"])

    def spec_for(n: int):
        config = dict(base.config)
        config["modelway:registries"] = json.dumps({**registries, "model_families": [f"model-{i}" for i in range(n)]})
        config["modelway:kubernetes"] = json.dumps({**kubernetes, "teams": [f"team-{i}" for i in range(n)]})
        return dataclasses.replace(base, config=config)

    render_in_process(spec_for(1), strict_invokes=True)  # warm imports: measure rendering, not importing
    points = []
    for n in sizes:
        walls, cpus = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            result = render_in_process(spec_for(n), strict_invokes=True)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        points.append((len(result.resources), statistics.median(walls), statistics.median(cpus)))
    counts = np.array([p[0] for p in points], dtype=float)
    print("in-process render vs size (model families = team namespaces = n), median of 3:")
    for n, (count, wall, cpu) in zip(sizes, points):
        print(f"  n={n:3d}  resources={count:5d}  wall {wall * 1000:7.0f} ms  cpu {cpu * 1000:7.0f} ms"
              f"  ({cpu / count * 1000:4.2f} ms cpu/resource)")
    for label, column in (("wall", 1), ("cpu", 2)):
        seconds = np.array([p[column] for p in points])
        slope, intercept = np.polyfit(counts, seconds, 1)
        predicted = slope * counts + intercept
        r2 = 1 - ((seconds - predicted) ** 2).sum() / ((seconds - seconds.mean()) ** 2).sum()
        print(f"  linear fit ({label}): {slope * 1000:.2f} ms/resource {intercept * 1000:+.0f} ms, R^2 = {r2:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1,4,8,16,32")
    parser.add_argument("--only", choices=["process", "baseline", "linearity"], help="run one part")
    args = parser.parse_args()
    if args.only in (None, "process"):
        whole_process(args.repeat)
    if args.only in (None, "baseline"):
        against_baseline(args.repeat)
    if args.only in (None, "linearity"):
        linearity([int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
