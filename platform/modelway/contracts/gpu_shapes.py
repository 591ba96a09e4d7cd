"""GPU instance shapes (GPUs, vCPUs, memory) the GPU node pool may use, from the EC2 instance type pages.

The cluster autoscaler scales a mixed-instances group from zero by reading ONE instance
type's shape for the whole group, so every type in one node group must have the same GPU
count, vCPUs and memory (its AWS README, "Using Mixed Instances Policies and Spot Instances").
:func:`shape_of` is what :class:`~modelway.contracts.platform_config.GpuNodeGroup` validates
with and what the infra program writes into the scale-from-zero tags.

Example:
    >>> shape_of("g5.12xlarge")
    GpuShape(gpus=4, vcpus=48, memory_gib=192)
"""
from __future__ import annotations

from typing import NamedTuple


class GpuShape(NamedTuple):
    """What the scheduler and the autoscaler see of one instance type."""

    gpus: int
    vcpus: int
    memory_gib: int

    def describe(self) -> str:
        return f"{self.gpus} GPU, {self.vcpus} vCPU, {self.memory_gib} GiB"


def _family(sizes: dict[str, tuple[int, int, int]], family: str) -> dict[str, GpuShape]:
    return {f"{family}.{size}": GpuShape(*shape) for size, shape in sizes.items()}


_G_SMALL = {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (1, 32, 128),
            "16xlarge": (1, 64, 256), "12xlarge": (4, 48, 192), "24xlarge": (4, 96, 384),
            "48xlarge": (8, 192, 768)}

GPU_SHAPES: dict[str, GpuShape] = {
    **_family({k: v for k, v in _G_SMALL.items() if k not in ("24xlarge", "48xlarge")} | {"metal": (8, 96, 384)},
              "g4dn"),
    **_family(_G_SMALL, "g5"),
    **_family(_G_SMALL, "g6"),
    # g6e: L40S, twice the memory per vCPU of g5/g6.
    **_family({"xlarge": (1, 4, 32), "2xlarge": (1, 8, 64), "4xlarge": (1, 16, 128), "8xlarge": (1, 32, 256),
               "16xlarge": (1, 64, 512), "12xlarge": (4, 48, 384), "24xlarge": (4, 96, 768),
               "48xlarge": (8, 192, 1536)}, "g6e"),
    **_family({"4xlarge": (1, 16, 128), "8xlarge": (1, 32, 256)}, "gr6"),
    **_family({"2xlarge": (1, 8, 61), "8xlarge": (4, 32, 244), "16xlarge": (8, 64, 488)}, "p3"),
    **_family({"24xlarge": (8, 96, 768)}, "p3dn"),
    **_family({"24xlarge": (8, 96, 1152)}, "p4d"),
    **_family({"24xlarge": (8, 96, 1152)}, "p4de"),
    **_family({"48xlarge": (8, 192, 2048)}, "p5"),
    **_family({"48xlarge": (8, 192, 2048)}, "p5e"),
    **_family({"48xlarge": (8, 192, 2048)}, "p5en"),
}

GPU_INSTANCE_FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(t.split(".")[0] for t in GPU_SHAPES))


def shape_of(instance_type: str) -> GpuShape | None:
    """The shape of a GPU instance type, or None when it is not one the pool supports."""
    return GPU_SHAPES.get(instance_type)
