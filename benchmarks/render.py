"""Render cost of the infra program under Pulumi mocks: whole process for prod, and growth with size.

1. Whole-process render of the prod stack (what `modelway render` / `modelway policy check`
   pay per stack): a fresh `python -m modelway.rendering.worker . prod` process, median of
   N. Printed: wall (as measured on this shared 2-core machine) and CPU (user+sys of the
   child, less sensitive to other load), resource count. Baselines in the same run:
   - floor: a fresh interpreter that only imports pulumi + the provider SDK top levels;
   - eager: the same render with the provider sub-packages imported whole
     (MODELWAY_RENDER_EAGER_IMPORTS=1), i.e. what a plain `import pulumi_aws` program pays.
2. Linearity: in-process renders (imports already warm) of prod with 1..N model families
   and team namespaces; least-squares fit of time vs resources, R^2 and ms per resource.

Target (issue 2): <= 1.0 s median for prod; render cost linear in resources.

Run: .venv/bin/python benchmarks/render.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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
    args = parser.parse_args()
    whole_process(args.repeat)
    linearity([int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
