"""Pins on the compute rules' decisions (policies/compute.py) that mutation testing found loose.

Each test fails on a plausible one-point change of a rule (a flipped comparison, a dropped
condition, a skipped element), at both sides of each boundary, and asserts the whole message a
user reads: see ``make mutate``. Values not known yet (``pulumi preview``) are given as the
sentinels pulumi_policy sends on the wire, so they reach the rules as in a real preview.
"""
from __future__ import annotations

import base64

import pytest
from policy_helpers import evaluate, evaluate_stack

LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
ASG = "aws:autoscaling/group:Group"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS = "aws:eks/cluster:Cluster"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"


def said(outcome) -> tuple[list[str], list[str]]:
    """What a user reads: the violations' and the notes' messages, in order."""
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def resource(policy: str, resource_type: str, props: dict, **kwargs) -> tuple[list[str], list[str]]:
    return said(evaluate(policy, resource_type, props, **kwargs))


def stack(policy: str, resources: list, **kwargs) -> tuple[list[str], list[str]]:
    return said(evaluate_stack(policy, resources, **kwargs))


NOTHING: tuple[list[str], list[str]] = ([], [])


def note(message: str) -> tuple[list[str], list[str]]:
    return [], [message]


def violation(*messages: str) -> tuple[list[str], list[str]]:
    return list(messages), []


# --- values not known yet: a note, never a made-up violation or a silent pass -------------------
def test_imdsv2_with_an_endpoint_not_known_yet_is_a_note_not_a_violation():
    # the endpoint may be disabled, and then optional tokens expose nothing (was: a violation)
    options = {"httpEndpoint": UNKNOWN_STRING, "httpTokens": "optional"}
    assert resource("ec2-imdsv2-required", LT, {"metadataOptions": options}) == note(
        "metadataOptions.httpEndpoint is not known yet")
    # required tokens are sound whatever the endpoint turns out to be
    assert resource("ec2-imdsv2-required", LT, {"metadataOptions": {**options, "httpTokens": "required"}}) == NOTHING


@pytest.mark.parametrize("props", [{"userData": UNKNOWN_STRING}, {"userDataBase64": UNKNOWN_STRING}])
def test_a_hop_limit_only_a_container_host_may_have_with_user_data_not_known_yet_is_a_note(props):
    # the user data would tell whether the host runs containers (was: passed as a container host)
    two = {"metadataOptions": {"httpPutResponseHopLimit": 2}, **props}
    assert resource("ec2-imds-hop-limit", INSTANCE, two) == note(
        "userData is not known yet, so whether hop limit 2 is allowed (≤ 2 on a container host, ≤ 1 without "
        "containers) cannot be told")
    # within the strict limit, or over the lenient one, the answer does not depend on the user data
    one = {"metadataOptions": {"httpPutResponseHopLimit": 1}, **props}
    assert resource("ec2-imds-hop-limit", INSTANCE, one) == NOTHING
    three = {"metadataOptions": {"httpPutResponseHopLimit": 3}, **props}
    assert resource("ec2-imds-hop-limit", INSTANCE, three) == violation(
        "metadataOptions.httpPutResponseHopLimit is 3; keep it ≤ 2 on a container host")


@pytest.mark.parametrize("mapping, second, alone", [
    (UNKNOWN_OBJECT, "mapping 2", "mapping 1"),            # unnamed: named by its place in the list
    ({"deviceName": "/dev/sdb", "virtualName": UNKNOWN_STRING}, "/dev/sdb", "/dev/sdb"),
    ({"deviceName": "/dev/sdb", "noDevice": UNKNOWN_STRING}, "/dev/sdb", "/dev/sdb"),
], ids=["mapping", "virtual-name", "no-device"])
def test_a_block_device_mapping_not_known_yet_is_a_note_not_a_missing_device(mapping, second, alone):
    # it was dropped as an instance store volume: the template read as declaring no (other) device
    root = {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY}}
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [root, mapping]}) == note(
        f"{second}: encrypted is not known yet")
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [mapping]}) == note(
        f"{alone}: encrypted is not known yet")


def test_a_mapping_whose_kind_is_not_known_yet_but_declares_ebs_is_checked():
    mapping = {"deviceName": "/dev/sdb", "virtualName": UNKNOWN_STRING, "ebs": {"encrypted": "false"}}
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [mapping]}) == violation(
        "/dev/sdb is not encrypted; set encrypted=true")


def gpu_template(**props) -> tuple:
    return (LT, {"name": "gpu-lt", "instanceType": "g5.xlarge", **props}, "gpu-lt")


ASG_ON_TEMPLATE = (ASG, {"minSize": 0, "launchTemplate": {"name": "gpu-lt"}}, "pool")


@pytest.mark.parametrize("resources", [
    [(NODE_GROUP, {"instanceTypes": ["g5.xlarge"], "capacityType": UNKNOWN_STRING,
                   "scalingConfig": {"minSize": 0}}, "pool")],
    [gpu_template(instanceMarketOptions={"marketType": UNKNOWN_STRING}), ASG_ON_TEMPLATE],
    [gpu_template(instanceMarketOptions=UNKNOWN_OBJECT), ASG_ON_TEMPLATE],
], ids=["capacity-type", "market-type", "market-options"])
def test_purchase_options_not_known_yet_are_a_note_not_on_demand(resources):
    # read as "not spot", these pools were reported as buying on-demand capacity
    assert stack("gpu-pool-spot", resources) == note('GPU pool "pool" (g5.xlarge): purchase options are not known yet')


def requirements_template(**requirements) -> tuple:
    return (LT, {"name": "abs", "instanceRequirements": {"acceleratorTypes": ["gpu"], **requirements}}, "abs")


ASG_ON_REQUIREMENTS = (ASG, {"minSize": 0, "launchTemplate": {"name": "abs"}}, "pool")
PINNED = {"vcpuCount": {"min": 8, "max": 8}, "memoryMib": {"min": 32768, "max": 32768},
          "acceleratorCount": {"min": 1, "max": 1}}


@pytest.mark.parametrize("key, bounds, named", [
    ("vcpuCount", {"min": UNKNOWN_NUMBER, "max": UNKNOWN_NUMBER}, "vcpuCount"),
    ("memoryMib", {"min": 32768, "max": UNKNOWN_NUMBER}, "memoryMib"),
    ("memoryMib", UNKNOWN_OBJECT, "memoryMib"),
])
def test_instance_requirements_not_known_yet_are_a_note_not_loose(key, bounds, named):
    # an unknown bound was read as an absent one: "not pinned to one value", a made-up violation
    assert stack("gpu-pool-homogeneous", [requirements_template(**{**PINNED, key: bounds}), ASG_ON_REQUIREMENTS]) == \
        note(f'GPU pool "pool" (GPUs by instance requirements): instance requirements {named} not known yet, '
             "homogeneity not checked")


def test_a_loose_range_is_reported_beside_one_not_known_yet():
    requirements = {**PINNED, "vcpuCount": {"min": 4, "max": 16}, "memoryMib": {"min": UNKNOWN_NUMBER}}
    assert stack("gpu-pool-homogeneous", [requirements_template(**requirements), ASG_ON_REQUIREMENTS]) == violation(
        'GPU pool "pool" (GPUs by instance requirements): instance requirements allow types of different shapes '
        "(vcpuCount not pinned to one value); list instance types of one shape instead")


def test_control_plane_log_types_not_known_yet_are_a_note():
    # the value not known yet may be "audit" (was: reported as not enabled)
    assert resource("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": ["api", "authenticator",
                                                                                 UNKNOWN_STRING]}) == note(
        "enabledClusterLogTypes holds a value not known yet, so whether it enables audit cannot be told")
    assert resource("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": UNKNOWN_ARRAY}) == note(
        "enabledClusterLogTypes is not known yet")
    # every required type known: the unknown one cannot matter
    assert resource("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": [
        "api", "audit", "authenticator", UNKNOWN_STRING]}) == NOTHING
