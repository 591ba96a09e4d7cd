"""GPU count, vCPUs and memory of the EC2 GPU instance types, for rules that compare instance types.

Figures from the AWS EC2 "accelerated computing" instance type pages (GiB of memory). A type
that is not listed is reported as "not evaluated" by the rules, never assumed equal.

Example:
    >>> SHAPES["g5.2xlarge"]
    Shape(gpus=1, vcpus=8, memory_gib=32)
"""
from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    """What the cluster autoscaler compares across the instance types of one group."""

    gpus: int
    vcpus: int
    memory_gib: int

    def __str__(self) -> str:
        return f"{self.gpus} GPU, {self.vcpus} vCPU, {self.memory_gib} GiB"


def _family(name: str, sizes: dict[str, tuple[int, int, int]]) -> dict[str, Shape]:
    return {f"{name}.{size}": Shape(*shape) for size, shape in sizes.items()}


# Sizes shared by the g5/g6 generations (NVIDIA A10G / L4): gpus, vcpus, memory GiB.
_G5_G6 = {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (1, 32, 128),
          "12xlarge": (4, 48, 192), "16xlarge": (1, 64, 256), "24xlarge": (4, 96, 384), "48xlarge": (8, 192, 768)}

SHAPES: dict[str, Shape] = {
    **_family("g4dn", {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (1, 32, 128),
                       "12xlarge": (4, 48, 192), "16xlarge": (1, 64, 256), "metal": (8, 96, 384)}),
    **_family("g4ad", {"xlarge": (1, 4, 16), "2xlarge": (1, 8, 32), "4xlarge": (1, 16, 64), "8xlarge": (2, 32, 128),
                       "16xlarge": (4, 64, 256)}),
    **_family("g5", _G5_G6),
    **_family("g6", _G5_G6),
    **_family("g6e", {"xlarge": (1, 4, 32), "2xlarge": (1, 8, 64), "4xlarge": (1, 16, 128), "8xlarge": (1, 32, 256),
                      "12xlarge": (4, 48, 384), "16xlarge": (1, 64, 512), "24xlarge": (4, 96, 768),
                      "48xlarge": (8, 192, 1536)}),
    **_family("g5g", {"xlarge": (1, 4, 8), "2xlarge": (1, 8, 16), "4xlarge": (1, 16, 32), "8xlarge": (1, 32, 64),
                      "16xlarge": (2, 64, 128), "metal": (2, 64, 128)}),
    **_family("gr6", {"4xlarge": (1, 16, 128), "8xlarge": (1, 32, 256)}),
    **_family("p3", {"2xlarge": (1, 8, 61), "8xlarge": (4, 32, 244), "16xlarge": (8, 64, 488)}),
    "p3dn.24xlarge": Shape(8, 96, 768),
    "p4d.24xlarge": Shape(8, 96, 1152),
    "p4de.24xlarge": Shape(8, 96, 1152),
    "p5.48xlarge": Shape(8, 192, 2048),
    "p5e.48xlarge": Shape(8, 192, 2048),
    "p5en.48xlarge": Shape(8, 192, 2048),
}
