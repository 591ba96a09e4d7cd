"""A pipeline whose middle step asks for a spot GPU: on a stack with a cluster it runs as a Kubernetes Job."""
from __future__ import annotations

import os

from modelway import pipeline, step


@step
def make(n: int) -> list:
    return list(range(n))


@step(gpus=1, spot=True, max_runtime="1h", retries=2, retry_delay="0")
def train(xs: list) -> dict:
    return {"total": sum(xs), "where": os.environ.get("MODELWAY_INSTANCE_TYPE"), "pid": os.getpid()}


@step
def report(result: dict) -> int:
    return result["total"]


@pipeline
def gpu_demo(n: int = 10) -> dict:
    result = train(make(n))
    return {"total": report(result), "train": result}
