"""The credit-risk pipeline against a stack (moto) versus the embedded default, and a cached rerun through S3.

Starts moto's server on 127.0.0.1, creates a stack's resources in it (tests/aws/moto_stack.py)
and measures whole ``modelway run pipelines/credit_risk.py`` processes, interleaved:

* **embedded**: a fresh ``$MODELWAY_HOME`` per repetition, no stack (the baseline);
* **stack**: a fresh home and a fresh stack per repetition, ``--outputs FILE``: every
  artifact goes to S3 under the stack's KMS key, the step cache to S3, the model to the
  SageMaker model package group; target <= 2x embedded;
* **cached via S3**: a *fresh* home against the stack of the previous stack run (another
  machine): every step a cache hit through S3, ``register`` finds the version in
  SageMaker; target <= 10% of the stack run.

Prints medians. Keep runs short on shared machines: ``--rows`` sets the data size.

    .venv/bin/python benchmarks/stack_run.py [--repeat 3] [--rows 5000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.aws.moto_stack import create_stack, moto_server  # noqa: E402  (the same stack the tests use)

MODELWAY = [sys.executable, "-m", "modelway.cli.main"]


def timed(args: list[str], home: Path, env_extra: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELWAY_")}
    env.update(env_extra, MODELWAY_HOME=str(home), MODELWAY_USER="bench")
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"benchmark run failed ({' '.join(args)}):\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    run = [*MODELWAY, "run", "pipelines/credit_risk.py", "--json", "--param", f"n_rows={args.rows}"]
    root = Path(tempfile.mkdtemp(prefix="modelway-bench-stack-"))
    embedded, stack, cached = [], [], []
    with moto_server() as endpoint:
        for i in range(args.repeat):
            embedded.append(timed(run, root / f"embedded-{i}", {}))
            folder = root / f"stack-{i}"
            folder.mkdir()
            moto = create_stack(endpoint, folder)
            outputs = ["--outputs", str(moto.outputs_file)]
            stack.append(timed(run + outputs, root / f"stack-home-{i}", moto.env))
            cached.append(timed(run + outputs, root / f"fresh-home-{i}", moto.env))
    e, s, c = (statistics.median(x) for x in (embedded, stack, cached))
    print(f"credit_risk, n_rows={args.rows}, {args.repeat} runs each (medians; moto on 127.0.0.1)")
    print(f"  embedded default (baseline) {e:7.2f} s")
    print(f"  stack via --outputs         {s:7.2f} s   {s / e:4.2f}x embedded   (target <= 2x)")
    print(f"  cached rerun via S3, fresh home {c:5.2f} s   {c / s:5.1%} of the stack run   (target <= 10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
