"""A pipeline whose middle step asks for a SageMaker spot GPU instance; the others run locally."""
from __future__ import annotations

import os

from modelway import pipeline, step, step_context


@step
def make(n: int) -> list:
    return list(range(n))


@step(instance_type="ml.g5.xlarge", spot=True, max_runtime="1h", retries=2, retry_delay="0")
def heavy(xs: list) -> dict:
    ctx = step_context()
    resumed_from = ctx.load_checkpoint()  # set when SageMaker restored the checkpoint folder after an interruption
    ctx.save_checkpoint({"done": len(xs)})
    if os.environ.get("MW_TEST_SPOT_RECLAIM") and resumed_from is None:
        os._exit(137)  # the test's stand-in for SageMaker reclaiming the spot instance right after a checkpoint
    ctx.log(f"summing {len(xs)} values on {os.environ.get('MODELWAY_INSTANCE_TYPE')}")
    return {"total": sum(xs), "resumed_from": resumed_from, "instance": os.environ.get("MODELWAY_INSTANCE_TYPE"),
            "pid": os.getpid()}


@step
def report(result: dict) -> int:
    return result["total"]


@pipeline
def remote_demo(n: int = 10) -> dict:
    result = heavy(make(n))
    return {"total": report(result), "heavy": result}
