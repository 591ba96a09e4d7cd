"""Local GPUs for steps with ``gpus=N``: each such step gets N devices of its own through ``CUDA_VISIBLE_DEVICES``.

Devices are discovered with ``nvidia-smi`` (the NVML command-line front end; honouring a
``CUDA_VISIBLE_DEVICES`` already set for the runner, by index or by ``GPU-`` UUID). nvidia-smi
numbers devices in PCI bus order while CUDA numbers them fastest first unless told otherwise,
so a step also gets ``CUDA_DEVICE_ORDER=PCI_BUS_ID``: on a machine with mixed GPUs, index 0 then
means the same device to the step's framework as to nvidia-smi. :class:`GpuScheduling` wraps the local
executor: a step starts only when N devices are free (never two steps on one device), waits
in a queue otherwise, and fails at once with one line when the machine has fewer than N.
Step processes are forked, so the device list is put in the environment for the fork.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from typing import Any

from modelway.runtime.executors import Executor, Outcome, Task

_ENV_LOCK = threading.Lock()


def discover_gpus() -> list[str]:
    """Indices of the GPUs this process may use (``[]`` without NVIDIA GPUs or ``nvidia-smi``)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return visible_devices(out.stdout, os.environ.get("CUDA_VISIBLE_DEVICES"))


def visible_devices(nvidia_smi_csv: str, visible: str | None) -> list[str]:
    """The indices in ``nvidia-smi --query-gpu=index,uuid`` output that ``CUDA_VISIBLE_DEVICES``
    (None: not set) lets this process use, in the order it names them.

    >>> csv = "0, GPU-aaa\\n1, GPU-bbb\\n"
    >>> visible_devices(csv, None), visible_devices(csv, "1"), visible_devices(csv, "GPU-bbb,0")
    (['0', '1'], ['1'], ['1', '0'])
    >>> visible_devices(csv, ""), visible_devices(csv, "-1")
    ([], [])
    """
    rows = [[cell.strip() for cell in line.split(",")] for line in nvidia_smi_csv.splitlines() if line.strip()]
    indices = [row[0] for row in rows]
    if visible is None:
        return indices
    by_name = {name: row[0] for row in rows for name in row}  # an index or a UUID names its device
    named = [by_name.get(v.strip()) for v in visible.split(",") if v.strip()]
    # CUDA stops at the first entry that names no device ("-1" is the usual way to hide them all).
    usable = named[:named.index(None)] if None in named else named
    return list(dict.fromkeys(usable))


class GpuScheduling:
    """An :class:`~modelway.runtime.executors.Executor` that gives GPU steps devices of their own (see module doc).

    Example:
        >>> sched = GpuScheduling(inner, devices=["0", "1"])   # doctest: +SKIP
    """

    def __init__(self, inner: Executor, devices: list[str] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.devices = list(discover_gpus() if devices is None else devices)
        self.free = list(self.devices)
        self.assigned: dict[str, list[str]] = {}
        self.queue: list[Task] = []
        self.refused: list[tuple[Task, Outcome]] = []

    def running(self) -> int:
        return self.inner.running() + len(self.queue) + len(self.refused)

    def submit(self, task: Task) -> None:
        wanted = task.node.settings.resources.gpus
        if not wanted:
            self.inner.submit(task)
        elif wanted > len(self.devices):
            have = f"{len(self.devices)} GPU(s) ({', '.join(self.devices)})" if self.devices else "no NVIDIA GPU"
            self.refused.append((task, Outcome(False, error=f"needs {wanted} GPU(s) but this machine has {have}; "
                                                             "run it on a stack (instance_type=...) or lower gpus=",
                                               retryable=False)))
        else:
            self.queue.append(task)
            self._start_queued()

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        refused, self.refused = self.refused, []
        if refused:
            return refused
        finished = self.inner.wait(timeout) if self.inner.running() else []
        for task, _ in finished:
            self.free.extend(self.assigned.pop(task.name, []))
            self.free.sort(key=self.devices.index)
        self._start_queued()
        return finished

    def cancel_all(self) -> list[Task]:
        tasks = self.inner.cancel_all() + self.queue + [t for t, _ in self.refused]
        self.queue, self.refused = [], []
        self.free = list(self.devices)
        self.assigned.clear()
        return tasks

    def _start_queued(self) -> None:
        for task in list(self.queue):
            wanted = task.node.settings.resources.gpus
            if wanted > len(self.free):
                continue  # first come first served among those that fit; the others wait for a release
            ids, self.free = self.free[:wanted], self.free[wanted:]
            self.assigned[task.name] = ids
            self.queue.remove(task)
            self._submit_with_devices(task, ids)

    def _submit_with_devices(self, task: Task, ids: list[str]) -> None:
        # The forked step process inherits the environment at fork time (inside submit).
        with _ENV_LOCK:
            before = {name: os.environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")}
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
            os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # nvidia-smi's numbering (see the module doc)
            try:
                self.inner.submit(task)
            finally:
                for name, value in before.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value


def needs_gpus(nodes: Any) -> bool:
    """Whether any step of a graph asks for GPUs."""
    return any(node.settings.resources.gpus for node in nodes)
