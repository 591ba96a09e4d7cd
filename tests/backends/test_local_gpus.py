"""Local GPU assignment: each gpus=N step gets N devices of its own, never shared, and too few is one line.

The scheduling tests hand the executor a device list, so they run everywhere; the
discovery test needs ``nvidia-smi`` and a GPU, and is skipped (with the reason) without them.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from modelway import pipeline, step
from modelway.runtime.executors import ProcessExecutor, Task
from modelway.runtime.gpus import GpuScheduling, discover_gpus
from modelway.runtime.runner import run_pipeline


@step(gpus=1)
def one_gpu(i: int) -> list:
    start = time.time()
    time.sleep(0.3)  # overlap with the other steps, so sharing would show
    return [os.environ.get("CUDA_VISIBLE_DEVICES", ""), start, time.time()]


@step(gpus=2)
def two_gpus(i: int) -> str:
    return os.environ.get("CUDA_VISIBLE_DEVICES", "") + "|" + os.environ.get("CUDA_DEVICE_ORDER", "")


@pipeline
def gpu_fanout() -> list:
    return [one_gpu(i) for i in range(3)] + [two_gpus(9)]


def _drain(executor: GpuScheduling, tasks: list[Task]) -> dict[str, tuple[bool, str]]:
    from modelway.runtime.context import artifact_store

    for task in tasks:
        executor.submit(task)
    done: dict[str, tuple[bool, str]] = {}
    while executor.running():
        for task, outcome in executor.wait(5):
            value = artifact_store(task.home).get(outcome.output.hash) if outcome.ok else outcome.error
            done[task.name] = (outcome.ok, value)
    return done


def _tasks(tmp_path: Path) -> list[Task]:
    graph = gpu_fanout.build()
    return [Task(name=n, node=graph.nodes[n], attempt=1, input_hashes={}, run_id="r", pipeline_name="gpu_fanout",
                 home=tmp_path, params={}, timeout_s=30) for n in graph.order]


def test_parallel_steps_never_share_a_device(tmp_path):
    done = _drain(GpuScheduling(ProcessExecutor(), devices=["0", "1"]), _tasks(tmp_path))
    assert all(ok for ok, _ in done.values()), done
    singles = [done[name][1] for name in ("one_gpu", "one_gpu_2", "one_gpu_3")]
    assert {device for device, _, _ in singles} == {"0", "1"}
    for i, (dev_a, start_a, end_a) in enumerate(singles):  # steps that overlapped in time had different devices
        for dev_b, start_b, end_b in singles[i + 1:]:
            if start_a < end_b and start_b < end_a:
                assert dev_a != dev_b
    assert done["two_gpus"][1] == "0,1|PCI_BUS_ID"  # nvidia-smi's numbering, also for the step's framework
    assert "CUDA_DEVICE_ORDER" not in os.environ  # the runner's own environment is left as it was


def test_too_few_gpus_is_one_line_and_not_retried(tmp_path):
    done = _drain(GpuScheduling(ProcessExecutor(), devices=["0"]), _tasks(tmp_path))
    ok, error = done["two_gpus"]
    assert not ok and error.startswith("needs 2 GPU(s) but this machine has 1 GPU(s) (0)")
    assert done["one_gpu"][1][0] == "0"


@pytest.mark.skipif(bool(discover_gpus()), reason="this machine has GPUs: the refusal below cannot happen here")
def test_on_a_machine_without_gpus_the_run_fails_with_one_line(tmp_path):
    @pipeline
    def needs_gpu() -> str:
        return one_gpu(1)

    result = run_pipeline(needs_gpu, {}, executor="process", display="none", home=tmp_path)
    assert result.status == "failed"
    assert "needs 1 GPU(s) but this machine has no NVIDIA GPU" in result.error
    assert next(s for s in result.steps if s.name == "one_gpu").attempts == 1


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no nvidia-smi: no NVIDIA GPU on this machine")
def test_discovery_matches_nvidia_smi(tmp_path):
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip().splitlines()
    devices = discover_gpus()
    if not os.environ.get("CUDA_VISIBLE_DEVICES"):
        assert len(devices) == len(listed) >= 1
    result = run_pipeline(gpu_fanout, {}, executor="process", display="none", home=tmp_path)
    if len(devices) >= 2:
        assert result.status == "succeeded", result.error
        assert {device for device, _, _ in result.output_values()[:3]} <= set(devices)
    else:
        assert result.status == "failed"
        assert f"needs 2 GPU(s) but this machine has 1 GPU(s) ({devices[0]})" in result.error


def test_visible_devices_by_index_uuid_or_none():
    from modelway.runtime.gpus import visible_devices

    listing = "0, GPU-aaa\n1, GPU-bbb\n2, GPU-ccc\n"
    assert visible_devices(listing, None) == ["0", "1", "2"]
    assert visible_devices(listing, "2,0") == ["2", "0"]
    assert visible_devices(listing, "GPU-ccc, 1") == ["2", "1"]
    assert visible_devices(listing, "1,7,2") == ["1"]  # CUDA ignores everything from the first unknown entry on
    assert visible_devices(listing, "1,1") == ["1"]
    assert visible_devices(listing, "") == [] and visible_devices(listing, "-1") == []


@step(gpus=1)
def matmul_on_gpu(n: int) -> dict:
    import torch  # imported in the step's own process only: the runner never initialises CUDA before forking

    x = torch.randn(n, n, device="cuda")
    gram = x @ x.T
    props = torch.cuda.get_device_properties(0)
    return {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "order": os.environ.get("CUDA_DEVICE_ORDER"),
            "count": torch.cuda.device_count(), "name": props.name, "uuid": str(getattr(props, "uuid", "")),
            "psd": bool(torch.linalg.eigvalsh(gram.double()).min().item() > -1e-6 * n)}


@pipeline
def gpu_matmuls() -> list:
    return [matmul_on_gpu(256) for _ in range(2)]


@pytest.mark.skipif(shutil.which("nvidia-smi") is None or importlib.util.find_spec("torch") is None,
                    reason="needs nvidia-smi, a GPU and PyTorch")
def test_a_gpu_step_computes_on_exactly_its_own_device(tmp_path):
    devices = discover_gpus()
    listing = subprocess.run(["nvidia-smi", "--query-gpu=index,name,uuid", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout
    by_index = {row[0]: row[1:] for row in ([c.strip() for c in line.split(",")] for line in listing.splitlines())}
    result = run_pipeline(gpu_matmuls, {}, executor="process", display="none", home=tmp_path)
    assert result.status == "succeeded", result.error
    for seen in result.output_values():
        assert seen["visible"] in devices and seen["order"] == "PCI_BUS_ID"
        assert seen["count"] == 1  # the step sees its own device and no other
        name, uuid = by_index[seen["visible"]]
        assert seen["name"] == name and seen["uuid"].removeprefix("GPU-") in uuid
        assert seen["psd"]  # the Gram matrix computed on the GPU is positive semi-definite
