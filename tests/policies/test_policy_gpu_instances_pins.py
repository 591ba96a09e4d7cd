"""Pins on the GPU instance shapes (policies/gpu_instances.py) that mutation testing found loose.

``gpu-pool-homogeneous`` compares node-group instance types by these shapes, so one wrong
figure either flags a sound group or lets a mixed one pass. Rather than copy the table, the
tests state what the AWS instance type pages make true of it: the vCPU count follows the size
name, memory per vCPU is fixed within a family, multi-GPU sizes are the exceptions, and the
platform's own table (``modelway.contracts.gpu_shapes``, which the infra program writes into
the scale-from-zero tags) agrees type for type.
"""
from __future__ import annotations

import re
from fractions import Fraction

import pytest
from policy_helpers import assert_stack_passes, assert_stack_violates

from modelway.contracts.gpu_shapes import GPU_SHAPES
from policies.gpu_instances import SHAPES, Shape

ASG = "aws:autoscaling/group:Group"

SIZES_G5_G6 = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")
FAMILY_SIZES = {
    "g4dn": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"),
    "g4ad": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"),
    "g5": SIZES_G5_G6, "g6": SIZES_G5_G6, "g6e": SIZES_G5_G6,
    "g5g": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "metal"),
    "gr6": ("4xlarge", "8xlarge"),
    "p3": ("2xlarge", "8xlarge", "16xlarge"),
    "p3dn": ("24xlarge",), "p4d": ("24xlarge",), "p4de": ("24xlarge",),
    "p5": ("48xlarge",), "p5e": ("48xlarge",), "p5en": ("48xlarge",),
}
# GiB of memory per vCPU, one figure per family (p3: 61 GiB per 8 vCPUs; p5: 2 TiB per 192 vCPUs).
GIB_PER_VCPU = {"g4dn": 4, "g4ad": 4, "g5": 4, "g6": 4, "g6e": 8, "g5g": 2, "gr6": 8, "p3": Fraction(61, 8),
                "p3dn": 8, "p4d": 12, "p4de": 12, "p5": Fraction(32, 3), "p5e": Fraction(32, 3),
                "p5en": Fraction(32, 3)}
# Every size not listed here has exactly one GPU.
MULTI_GPU = {"g4dn.12xlarge": 4, "g4dn.metal": 8, "g4ad.8xlarge": 2, "g4ad.16xlarge": 4,
             **{f"{f}.{s}": n for f in ("g5", "g6", "g6e") for s, n in (("12xlarge", 4), ("24xlarge", 4),
                                                                        ("48xlarge", 8))},
             "g5g.16xlarge": 2, "g5g.metal": 2, "p3.8xlarge": 4, "p3.16xlarge": 8,
             **{f"{f}.{s}": 8 for f, s in (("p3dn", "24xlarge"), ("p4d", "24xlarge"), ("p4de", "24xlarge"),
                                           ("p5", "48xlarge"), ("p5e", "48xlarge"), ("p5en", "48xlarge"))}}
METAL_VCPUS = {"g4dn.metal": 96, "g5g.metal": 64}


def test_the_pack_lists_exactly_the_types_of_its_families():
    assert set(SHAPES) == {f"{family}.{size}" for family, sizes in FAMILY_SIZES.items() for size in sizes}


@pytest.mark.parametrize("instance_type", sorted(SHAPES))
def test_vcpus_follow_the_size_name_and_memory_the_family_ratio(instance_type):
    family, size = instance_type.split(".")
    shape = SHAPES[instance_type]
    # <N>xlarge is 4N vCPUs on every EC2 family here; metal sizes are the whole host
    match = re.fullmatch(r"(\d*)xlarge", size)
    expected_vcpus = METAL_VCPUS[instance_type] if size == "metal" else 4 * int(match.group(1) or 1)
    assert (shape.vcpus, shape.memory_gib) == (expected_vcpus, GIB_PER_VCPU[family] * expected_vcpus)
    assert shape.gpus == MULTI_GPU.get(instance_type, 1)


def test_the_pack_and_the_platform_agree_on_every_gpu_type_the_platform_supports():
    # a type the node pool may use but the pack does not know would only ever get a
    # "homogeneity not checked" note; a differing figure would judge the pool by the wrong shape
    assert {t: tuple(SHAPES.get(t, ())) for t in GPU_SHAPES} == {t: tuple(s) for t, s in GPU_SHAPES.items()}


def test_a_shape_reads_as_gpus_vcpus_and_memory():
    assert str(Shape(4, 48, 192)) == "4 GPU, 48 vCPU, 192 GiB"
    assert str(SHAPES["g6e.48xlarge"]) == "8 GPU, 192 vCPU, 1536 GiB"


def pool_of(*types: str) -> tuple:
    return (ASG, {"minSize": 0, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateName": "gpu-lt"},
        "overrides": [{"instanceType": t} for t in types]}}}, "gpu")


def test_the_homogeneity_rule_reads_these_shapes():
    assert_stack_passes("gpu-pool-homogeneous", [pool_of("gr6.4xlarge")])
    assert_stack_passes("gpu-pool-homogeneous", [pool_of("p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge")])
    violations = assert_stack_violates("gpu-pool-homogeneous", [pool_of("g6e.4xlarge", "gr6.4xlarge",
                                                                        "g5.4xlarge")])
    assert [v.message for v in violations] == [
        'GPU pool "gpu" (g5.4xlarge, g6e.4xlarge, gr6.4xlarge) mixes instance shapes (g6e.4xlarge, gr6.4xlarge: '
        "1 GPU, 16 vCPU, 128 GiB; g5.4xlarge: 1 GPU, 16 vCPU, 64 GiB); the cluster autoscaler needs one GPU count, "
        "vCPU count and memory size per group"]
