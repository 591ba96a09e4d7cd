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

from policies.harness import make_urn

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
UNKNOWN_BOOLEAN = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


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


# --- ec2-imdsv2-required ----------------------------------------------------------------------
@pytest.mark.parametrize("options, expected", [
    ({"httpEndpoint": "disabled", "httpTokens": "optional"}, NOTHING),  # no metadata service at all
    ({"httpEndpoint": "enabled", "httpTokens": "required"}, NOTHING),
    ({"httpEndpoint": "enabled", "httpTokens": "optional"},
     violation('metadataOptions.httpTokens is optional; set it to "required" (IMDSv2)')),
    ({"httpEndpoint": "enabled"},
     violation('metadataOptions.httpTokens is unset (defaults to optional); set it to "required" (IMDSv2)')),
    ({"httpTokens": ""},
     violation('metadataOptions.httpTokens is unset (defaults to optional); set it to "required" (IMDSv2)')),
    ({"httpTokens": UNKNOWN_STRING}, note("metadataOptions.httpTokens is not known yet")),
    (UNKNOWN_OBJECT, note("metadataOptions is not known yet")),
])
def test_imdsv2_decision_and_messages(options, expected):
    assert resource("ec2-imdsv2-required", INSTANCE, {"metadataOptions": options}) == expected


# --- ec2-imds-hop-limit -----------------------------------------------------------------------
def hops(limit, user_data=None) -> dict:
    props: dict = {"metadataOptions": {"httpPutResponseHopLimit": limit}}
    if user_data is not None:
        props["userData"] = user_data
    return props


@pytest.mark.parametrize("user_data", [
    "[settings.kubernetes]\napi-server = 'https://node.eks.aws'",   # Bottlerocket / nodeadm config
    "#!/bin/bash\n/etc/eks/bootstrap.sh ml",
    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig",
    "#!/bin/bash\nnodeadm init",
    "#!/bin/bash\nsystemctl start kubelet",
    "#!/bin/bash\nsystemctl start containerd",
    "#!/bin/bash\nDOCKER run -d app",                                  # any case
    "#!/bin/bash\necho ECS_CLUSTER=ml >> /etc/ecs/ecs.config",
    "#!/bin/bash\ncurl -sfL https://get.k3s.io | sh -",
])
def test_every_container_runtime_marker_earns_the_container_host_limit(user_data):
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(2, user_data)) == NOTHING
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(3, user_data)) == violation(
        "metadataOptions.httpPutResponseHopLimit is 3; keep it ≤ 2 on a container host")


@pytest.mark.parametrize("user_data", [None, "", "  \n "], ids=["none", "empty", "blank"])
def test_without_user_data_to_read_the_host_may_run_containers(user_data):
    # e.g. EKS managed node groups inject their own user data: the lenient limit applies
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(2, user_data)) == NOTHING


def test_plain_user_data_without_containers_gets_the_strict_limit_on_both_sides():
    plain = "#!/bin/bash\nyum install -y nginx\n"
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(1, plain)) == NOTHING
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(2, plain)) == violation(
        "metadataOptions.httpPutResponseHopLimit is 2; keep it ≤ 1 on a host without containers")
    assert resource("ec2-imds-hop-limit", INSTANCE, hops(3, plain),
                    config={"maxHopLimitWithoutContainers": 3}) == NOTHING


@pytest.mark.parametrize("limit, expected", [
    (None, NOTHING),                                                     # AWS default: 1
    ("2", NOTHING),
    ("3", violation("metadataOptions.httpPutResponseHopLimit is 3; keep it ≤ 2 on a container host")),
    ("many", note("httpPutResponseHopLimit 'many' is not a number")),
    (UNKNOWN_NUMBER, note("httpPutResponseHopLimit is not known yet")),
])
def test_hop_limit_values(limit, expected):
    props = {"metadataOptions": {} if limit is None else {"httpPutResponseHopLimit": limit}}
    assert resource("ec2-imds-hop-limit", LT, props) == expected


def test_the_container_host_limit_is_configurable_on_both_sides():
    assert resource("ec2-imds-hop-limit", LT, hops(3), config={"maxHopLimit": 3}) == NOTHING
    assert resource("ec2-imds-hop-limit", LT, hops(4), config={"maxHopLimit": 3}) == violation(
        "metadataOptions.httpPutResponseHopLimit is 4; keep it ≤ 3 on a container host")


# --- ec2-ebs-encrypted ------------------------------------------------------------------------
ENCRYPTED = {"encrypted": "true", "kmsKeyId": KEY}


def test_every_template_mapping_is_checked_and_unnamed_ones_are_numbered():
    mappings = [{"deviceName": "/dev/xvda", "ebs": ENCRYPTED}, {"ebs": {"volumeSize": 100}},
                {"deviceName": "/dev/xvdc", "ebs": {"encrypted": "false"}}, {"ebs": {"encrypted": True}}]
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": mappings}) == violation(
        "mapping 2 is not encrypted; set encrypted=true", "/dev/xvdc is not encrypted; set encrypted=true",
        "mapping 4 is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key")


def test_instance_store_and_suppressed_mappings_have_no_ebs_to_encrypt():
    root = {"deviceName": "/dev/xvda", "ebs": ENCRYPTED}
    others = [{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}, {"deviceName": "/dev/sdc", "noDevice": ""}]
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [root, *others]}) == NOTHING
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": others}) == violation(
        "no block device is declared, so the root volume inherits the AMI's (possibly unencrypted) setting; "
        "declare it with encrypted=true")
    # the mappings after an instance store one are checked too
    plain = {"deviceName": "/dev/xvdd", "ebs": {"encrypted": "false"}}
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [*others, plain]}) == violation(
        "/dev/xvdd is not encrypted; set encrypted=true")
    # an empty device name names nothing: the mapping is numbered
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": [{"deviceName": "", "ebs": {}}]}) == violation(
        "mapping 1 is not encrypted; set encrypted=true")


def test_every_instance_volume_is_checked_root_first():
    props = {"rootBlockDevice": {"encrypted": False},
             "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True, "kmsKeyId": KEY},
                                 {"encrypted": True}, {"deviceName": "/dev/sdh", "encrypted": UNKNOWN_STRING}]}
    assert resource("ec2-ebs-encrypted", INSTANCE, props) == (
        ["root volume is not encrypted; set encrypted=true",
         "ebs volume is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"],
        ["/dev/sdh: encrypted is not known yet"])
    only_data = {"ebsBlockDevices": [{"deviceName": "/dev/sdf", **ENCRYPTED}]}
    assert resource("ec2-ebs-encrypted", INSTANCE, only_data) == NOTHING
    assert resource("ec2-ebs-encrypted", INSTANCE, {}) == violation(
        "no block device is declared, so the root volume inherits the AMI's (possibly unencrypted) setting; "
        "declare it with encrypted=true")


@pytest.mark.parametrize("props, expected", [
    (ENCRYPTED, NOTHING),
    ({}, violation("volume is not encrypted; set encrypted=true")),     # a volume is its own device
    ({"encrypted": False}, violation("volume is not encrypted; set encrypted=true")),
    ({"encrypted": True}, violation("volume is encrypted with the AWS-managed key; set kmsKeyId to a "
                                    "customer-managed key")),
    ({"encrypted": True, "kmsKeyId": ""}, violation("volume is encrypted with the AWS-managed key; set kmsKeyId to "
                                                    "a customer-managed key")),
    ({"encrypted": True, "kmsKeyId": UNKNOWN_STRING}, note("volume: kmsKeyId is not known yet")),
    ({"encrypted": UNKNOWN_BOOLEAN},
     note("volume: encrypted is not known yet")),
])
def test_an_ebs_volume(props, expected):
    assert resource("ec2-ebs-encrypted", VOLUME, props) == expected


def test_without_the_cmk_requirement_any_encryption_passes():
    assert resource("ec2-ebs-encrypted", VOLUME, {"encrypted": True}, config={"requireCmk": False}) == NOTHING
    assert resource("ec2-ebs-encrypted", VOLUME, {"encrypted": True, "kmsKeyId": UNKNOWN_STRING},
                    config={"requireCmk": False}) == NOTHING
    assert resource("ec2-ebs-encrypted", VOLUME, {"encrypted": False}, config={"requireCmk": False}) == violation(
        "volume is not encrypted; set encrypted=true")


def test_template_mappings_not_known_yet_are_one_note():
    assert resource("ec2-ebs-encrypted", LT, {"blockDeviceMappings": UNKNOWN_ARRAY}) == note(
        "blockDeviceMappings is not known yet")


# --- ec2-no-public-ip -------------------------------------------------------------------------
def test_public_ip_on_the_instance_and_on_every_interface():
    props = {"associatePublicIpAddress": "true", "networkInterfaces": [
        {"associatePublicIpAddress": False}, {"associatePublicIpAddress": UNKNOWN_BOOLEAN},
        {"associatePublicIpAddress": True}]}
    assert resource("ec2-no-public-ip", LT, props) == (
        ["instance has associatePublicIpAddress=true; keep nodes in private subnets",
         "network interface 3 has associatePublicIpAddress=true; keep nodes in private subnets"],
        ["network interface 2: associatePublicIpAddress is not known yet"])
    assert resource("ec2-no-public-ip", INSTANCE, {"associatePublicIpAddress": UNKNOWN_BOOLEAN}) == note(
        "instance: associatePublicIpAddress is not known yet")
    assert resource("ec2-no-public-ip", INSTANCE, {"associatePublicIpAddress": False}) == NOTHING


# --- ec2-no-secrets-in-user-data --------------------------------------------------------------
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # 40 characters, AWS's documentation example
ACCESS_KEY = "user data contains an AWS access key id; read secrets from Secrets Manager/SSM at boot instead"
PRIVATE_KEY = "user data contains a private key; read secrets from Secrets Manager/SSM at boot instead"
SECRET_ACCESS_KEY = ("user data contains an AWS secret access key; read secrets from Secrets Manager/SSM at boot "
                     "instead")


@pytest.mark.parametrize("text, expected", [
    ("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP", [ACCESS_KEY]),
    ("export AWS_ACCESS_KEY_ID=ASIAABCDEFGHIJKLMNOP", [ACCESS_KEY]),           # temporary credentials too
    ("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNO", []),                      # 15 characters: no key id
    ("export ID=XAKIAABCDEFGHIJKLMNOP", []),                                   # inside a longer word
    ("export ID=AKIAABCDEFGHIJKLMNOPQ", []),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", [PRIVATE_KEY]),
    ("-----BEGIN PRIVATE KEY-----\nMIIE...", [PRIVATE_KEY]),
    ("-----BEGIN PUBLIC KEY-----\nMIIB...", []),
    (f"aws_secret_access_key = '{SECRET_KEY}'", [SECRET_ACCESS_KEY]),
    (f"AWS_SECRET_ACCESS_KEY:{SECRET_KEY}", [SECRET_ACCESS_KEY]),               # any case, either separator
    (f'aws_secret_access_key="{SECRET_KEY}"', [SECRET_ACCESS_KEY]),
    (f"aws_secret_access_key = {SECRET_KEY[:39]}", []),                        # too short to be one
    (f"AKIAABCDEFGHIJKLMNOP\naws_secret_access_key={SECRET_KEY}\n-----BEGIN RSA PRIVATE KEY-----",
     [ACCESS_KEY, PRIVATE_KEY, SECRET_ACCESS_KEY]),                            # each kind reported
])
def test_secret_patterns_on_both_sides(text, expected):
    assert resource("ec2-no-secrets-in-user-data", INSTANCE, {"userData": text}) == violation(*expected)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def test_user_data_is_decoded_where_it_is_base64():
    leaked = "export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n"
    # a launch template's userData and an instance's userDataBase64 are base64
    assert resource("ec2-no-secrets-in-user-data", LT, {"userData": b64(leaked)}) == violation(ACCESS_KEY)
    assert resource("ec2-no-secrets-in-user-data", INSTANCE, {"userDataBase64": b64(leaked)}) == violation(ACCESS_KEY)
    # bytes that are not UTF-8 do not hide the rest of the script
    assert resource("ec2-no-secrets-in-user-data", LT, {"userData": b64(b"\xff\xfe" + leaked.encode())}) == \
        violation(ACCESS_KEY)
    # text a template carries that is not base64 after all is scanned as it is
    assert resource("ec2-no-secrets-in-user-data", LT, {"userData": "-----BEGIN RSA PRIVATE KEY-----\nMIIE"}) == \
        violation(PRIVATE_KEY)
    # ... even where its base64 letters alone would decode (to garbage that hides the key)
    script = "#!/bin/sh\nexport KEY AKIAABCDEFGHIJKLMNOP"
    assert len([c for c in script if c.isalnum() or c in "+/"]) % 4 == 0
    assert resource("ec2-no-secrets-in-user-data", LT, {"userData": script}) == violation(ACCESS_KEY)


def test_an_instance_user_data_is_the_script_itself():
    # its plain userData is what the instance runs: text that happens to be base64 is not decoded
    assert resource("ec2-no-secrets-in-user-data", INSTANCE,
                    {"userData": b64("export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP")}) == NOTHING
    assert resource("ec2-no-secrets-in-user-data", INSTANCE, {"userData": "#!/bin/bash\necho hello\n"}) == NOTHING


@pytest.mark.parametrize("props, expected", [
    ({}, NOTHING),
    ({"userData": {"not": "text"}}, NOTHING),
    ({"userData": UNKNOWN_STRING}, note("userData is not known yet")),
    ({"userDataBase64": UNKNOWN_STRING}, note("userData is not known yet")),
])
def test_user_data_absent_not_text_or_not_known_yet(props, expected):
    assert resource("ec2-no-secrets-in-user-data", INSTANCE, props) == expected


# --- GPU pools: which pools run GPUs, and through which template -------------------------------
SCALE = "gpu-pool-scale-to-zero"


def minsize_violation(label: str, minimum: object = 2) -> tuple[list[str], list[str]]:
    return violation(f'GPU pool {label} has minSize {minimum}; set 0 so idle GPUs cost nothing')


def asg_on(reference: dict, min_size: object = 2, name: str = "pool") -> tuple:
    return (ASG, {"minSize": min_size, "launchTemplate": reference}, name)




GPU_NODES = (LT, {"id": "lt-0abc", "name": "gpu-nodes", "instanceType": "g5.xlarge"}, "gpu-logical")


@pytest.mark.parametrize("reference", [
    {"launchTemplateId": "lt-0abc"}, {"launchTemplateName": "gpu-nodes"}, {"id": "lt-0abc"}, {"name": "gpu-nodes"},
    {"name": "gpu-logical"},                                               # the program's logical name
    {"id": make_urn(LT, "gpu-logical")},
], ids=["launchTemplateId", "launchTemplateName", "id", "name", "logical-name", "urn"])
def test_a_template_is_found_by_any_of_its_names(reference):
    assert stack(SCALE, [GPU_NODES, asg_on(reference)]) == minsize_violation('"pool" (g5.xlarge)')


@pytest.mark.parametrize("key", ["id", "name"])
@pytest.mark.parametrize("suffix, found", [("1a2b3c4", True), ("1a2b3c4d", True), ("1a2b3c", False),
                                           ("1a2b3c4d5", False), ("1A2B3C4", False)])
def test_an_auto_named_template_is_found_by_its_logical_name_and_random_suffix(key, suffix, found):
    # rendered from inputs only, a template's name is "<logical name>-<7 or 8 hex digits>"
    template = (LT, {"instanceType": "g5.xlarge"}, "gpu-nodes")
    assert stack(SCALE, [template, asg_on({key: f"gpu-nodes-{suffix}"})]) == (
        minsize_violation('"pool" (g5.xlarge)') if found else NOTHING)


def test_an_empty_template_name_refers_to_no_template():
    template = (LT, {"name": "", "instanceType": "g5.xlarge"}, "gpu-nodes")
    assert stack(SCALE, [template, asg_on({"name": ""})]) == NOTHING
    assert stack(SCALE, [template, asg_on({"name": "gpu-nodes"})]) == minsize_violation('"pool" (g5.xlarge)')


@pytest.mark.parametrize("key", ["id", "name", "launchTemplateId", "launchTemplateName"])
def test_a_template_reference_not_known_yet_leaves_the_pool_undecided(key):
    assert stack(SCALE, [GPU_NODES, asg_on({key: UNKNOWN_STRING})]) == note(
        'pool "pool": its launch template is not known yet, so whether it runs GPUs cannot be told')


def test_an_eks_node_group_takes_its_types_from_its_launch_template_too():
    group = (NODE_GROUP, {"launchTemplate": {"id": "lt-0abc", "version": "1"}, "capacityType": "SPOT",
                          "scalingConfig": {"minSize": 1}}, "ng")
    assert stack(SCALE, [GPU_NODES, group]) == minsize_violation('"ng" (g5.xlarge)', 1)
    assert stack("gpu-pool-spot", [GPU_NODES, group]) == NOTHING
    unknown = (NODE_GROUP, {"launchTemplate": {"id": UNKNOWN_STRING}, "scalingConfig": {"minSize": 1}}, "ng")
    assert stack(SCALE, [GPU_NODES, unknown]) == note(
        'pool "ng": its launch template is not known yet, so whether it runs GPUs cannot be told')


def mixed(*overrides: dict, template: dict | None = None, min_size: object = 2, distribution: dict | None = None):
    policy: dict = {"launchTemplate": {"launchTemplateSpecification": template or {"launchTemplateName": "cpu"},
                                       "overrides": list(overrides)}}
    if distribution is not None:
        policy["instancesDistribution"] = distribution
    return (ASG, {"minSize": min_size, "mixedInstancesPolicy": policy}, "pool")


CPU_TEMPLATE = (LT, {"name": "cpu", "instanceType": "m6i.large"}, "cpu")


def test_override_requirements_decide_and_may_be_not_known_yet():
    gpus = {"instanceRequirements": {"acceleratorCount": {"min": 1}}}
    assert stack(SCALE, [CPU_TEMPLATE, mixed({"instanceType": "m6i.xlarge"}, gpus)]) == minsize_violation(
        '"pool" (GPUs by instance requirements)')
    assert stack(SCALE, [CPU_TEMPLATE, mixed({"instanceRequirements": UNKNOWN_OBJECT})]) == note(
        'pool "pool": one of its instance types is not known yet, so whether it runs GPUs cannot be told')


@pytest.mark.parametrize("requirements, gpu", [
    ({"acceleratorCount": {"min": 1}}, True),
    ({"acceleratorCount": {"min": "2"}}, True),
    ({"acceleratorCount": {"min": 0, "max": 0}}, False),
    ({"acceleratorTypes": ["GPU"]}, True),                                  # any case
    ({"acceleratorTypes": ["fpga", "inference"]}, False),
    ({"acceleratorManufacturers": ["NVIDIA"]}, True),
    ({"acceleratorManufacturers": ["xilinx"]}, False),
    ({"acceleratorTypes": [7], "acceleratorManufacturers": [None]}, False),
    ({"vcpuCount": {"min": 4}}, False),
])
def test_which_instance_requirements_ask_for_gpus(requirements, gpu):
    template = (LT, {"name": "abs", "instanceRequirements": requirements}, "abs")
    assert stack(SCALE, [template, asg_on({"name": "abs"})]) == (
        minsize_violation('"pool" (GPUs by instance requirements)') if gpu else NOTHING)


def test_the_label_names_each_gpu_type_once_and_no_cpu_type():
    pool = mixed({"instanceType": "g6.xlarge"}, {"instanceType": "m6i.large"}, {"instanceType": "g5.xlarge"},
                 {"instanceType": "g6.xlarge"})
    assert stack(SCALE, [CPU_TEMPLATE, pool]) == minsize_violation('"pool" (g5.xlarge, g6.xlarge)')


def test_a_launch_template_alone_is_no_pool():
    assert stack(SCALE, [GPU_NODES]) == NOTHING


# --- gpu-pool-spot ----------------------------------------------------------------------------
def on_demand(label: str = '"pool" (g5.xlarge)', limit: int = 0) -> tuple[list[str], list[str]]:
    return violation(f"GPU pool {label} buys on-demand capacity above its base; use spot there "
                     f"(onDemandPercentageAboveBaseCapacity <= {limit}, or capacityType SPOT)")


@pytest.mark.parametrize("capacity, expected", [("SPOT", NOTHING), ("ON_DEMAND", on_demand('"ng" (g5.xlarge)')),
                                                (None, on_demand('"ng" (g5.xlarge)'))])
def test_an_eks_node_group_is_spot_by_capacity_type(capacity, expected):
    group = {"instanceTypes": ["g5.xlarge"], "scalingConfig": {"minSize": 0}}
    if capacity:
        group["capacityType"] = capacity
    assert stack("gpu-pool-spot", [(NODE_GROUP, group, "ng")]) == expected


@pytest.mark.parametrize("above_base, limit, expected", [
    (0, 0, NOTHING), ("0", 0, NOTHING), (1, 0, on_demand()),
    (20, 20, NOTHING), (21, 20, on_demand(limit=20)),
    (None, 0, on_demand()), (None, 100, NOTHING),                          # AWS's default: 100% on-demand
    ("most", 100, on_demand(limit=100)),
    (UNKNOWN_NUMBER, 0, note('GPU pool "pool" (g5.xlarge): purchase options are not known yet')),
])
def test_a_mixed_instances_group_is_spot_by_its_on_demand_share(above_base, limit, expected):
    distribution = {"onDemandBaseCapacity": 1}
    if above_base is not None:
        distribution["onDemandPercentageAboveBaseCapacity"] = above_base
    # the distribution decides, whatever the template's market options say
    template = (LT, {"name": "cpu", "instanceType": "m6i.large", "instanceMarketOptions": {"marketType": "spot"}},
                "cpu")
    pool = mixed({"instanceType": "g5.xlarge"}, distribution=distribution)
    assert stack("gpu-pool-spot", [template, pool], config={"maxOnDemandPercentageAboveBase": limit}) == expected


def test_without_a_distribution_the_template_market_options_decide():
    def template(market: dict) -> tuple:
        return (LT, {"name": "gpu", "instanceType": "g5.xlarge", "instanceMarketOptions": market}, "gpu")
    assert stack("gpu-pool-spot", [template({"marketType": "spot"}), asg_on({"name": "gpu"})]) == NOTHING
    assert stack("gpu-pool-spot", [template({"marketType": "capacity-block"}), asg_on({"name": "gpu"})]) == \
        on_demand()
    # no market options, or no template found in the stack: on-demand
    assert stack("gpu-pool-spot", [CPU_TEMPLATE, mixed({"instanceType": "g5.xlarge"})]) == on_demand()
    assert stack("gpu-pool-spot", [mixed({"instanceType": "g5.xlarge"}, template={"launchTemplateId": "lt-9"})]) == \
        on_demand()


# --- gpu-pool-scale-to-zero -------------------------------------------------------------------
@pytest.mark.parametrize("minimum, expected", [
    (0, NOTHING), ("0", NOTHING), (1, minsize_violation('"ng" (p4d.24xlarge)', 1)),
    ("2", minsize_violation('"ng" (p4d.24xlarge)', 2)),
    (UNKNOWN_NUMBER, note('GPU pool "ng" (p4d.24xlarge): minSize is not known yet')),
])
def test_an_eks_node_group_scales_to_zero_by_its_scaling_config(minimum, expected):
    group = {"instanceTypes": ["p4d.24xlarge"], "scalingConfig": {"minSize": minimum}, "minSize": 0}
    assert stack(SCALE, [(NODE_GROUP, group, "ng")]) == expected


def test_an_asg_scales_to_zero_by_its_own_min_size():
    assert stack(SCALE, [GPU_NODES, asg_on({"name": "gpu-nodes"}, min_size=0)]) == NOTHING
    assert stack(SCALE, [GPU_NODES, asg_on({"name": "gpu-nodes"}, min_size=UNKNOWN_NUMBER)]) == note(
        'GPU pool "pool" (g5.xlarge): minSize is not known yet')


# --- pools that cannot be told ----------------------------------------------------------------
@pytest.mark.parametrize("policy", ["gpu-pool-spot", SCALE, "gpu-pool-homogeneous"])
def test_each_undecided_pool_gets_its_own_note_naming_what_is_not_known(policy):
    pools = [asg_on({"name": UNKNOWN_STRING}, name="a"),
             mixed({"instanceType": UNKNOWN_STRING}, template={"launchTemplateName": UNKNOWN_STRING}),
             (NODE_GROUP, {"instanceTypes": [UNKNOWN_STRING], "scalingConfig": {"minSize": 0}}, "b")]
    outcome = evaluate_stack(policy, pools)
    assert said(outcome) == ([], [
        'pool "a": its launch template is not known yet, so whether it runs GPUs cannot be told',
        'pool "pool": its launch template is not known yet, so whether it runs GPUs cannot be told',
        'pool "b": one of its instance types is not known yet, so whether it runs GPUs cannot be told'])
    assert [n.urn for n in outcome.notes] == [make_urn(ASG, "a"), make_urn(ASG, "pool"), make_urn(NODE_GROUP, "b")]


# --- gpu-pool-homogeneous ---------------------------------------------------------------------
HOMOGENEOUS = "gpu-pool-homogeneous"


@pytest.mark.parametrize("loose, named", [
    ({"vcpuCount": {"min": 8}}, "vcpuCount"),
    ({"memoryMib": {"min": 32768, "max": 65536}}, "memoryMib"),
    ({"acceleratorCount": {"min": 1}}, "acceleratorCount"),
    ({"vcpuCount": {"max": 8}, "acceleratorCount": {"min": 1, "max": 2}}, "vcpuCount, acceleratorCount"),
    ({"memoryMib": {}}, "memoryMib"),
])
def test_every_loose_range_of_gpu_requirements_is_named(loose, named):
    assert stack(HOMOGENEOUS, [requirements_template(**{**PINNED, **loose}), ASG_ON_REQUIREMENTS]) == violation(
        'GPU pool "pool" (GPUs by instance requirements): instance requirements allow types of different shapes '
        f"({named} not pinned to one value); list instance types of one shape instead")


def test_pinned_gpu_requirements_and_loose_cpu_ones_pass():
    assert stack(HOMOGENEOUS, [requirements_template(**PINNED), ASG_ON_REQUIREMENTS]) == NOTHING
    pinned_as_text = {key: {"min": str(v["min"]), "max": str(v["max"])} for key, v in PINNED.items()}
    assert stack(HOMOGENEOUS, [requirements_template(**pinned_as_text), ASG_ON_REQUIREMENTS]) == NOTHING
    # loose CPU requirements beside GPU instance types: the CPU ones are not this rule's business
    cpu = {"instanceRequirements": {"vcpuCount": {"min": 2}}}
    template = (LT, {"name": "gpu", "instanceType": "g6.xlarge"}, "gpu")
    assert stack(HOMOGENEOUS, [template, mixed({"instanceType": "g5.xlarge"}, cpu,
                                               template={"launchTemplateName": "gpu"})]) == NOTHING


def test_types_unknown_to_the_pack_are_each_named_once():
    pool = mixed({"instanceType": "g7.xlarge"}, {"instanceType": "g5.xlarge"}, {"instanceType": "p9.large"},
                 {"instanceType": "g7.xlarge"}, template={"launchTemplateName": "gpu"})
    template = (LT, {"name": "gpu", "instanceType": "g5.xlarge"}, "gpu")
    assert stack(HOMOGENEOUS, [template, pool]) == note(
        'GPU pool "pool" (g5.xlarge, g7.xlarge, p9.large): shape of g7.xlarge, p9.large unknown to the pack, '
        "homogeneity not checked")


def test_mixed_shapes_are_grouped_in_the_order_the_types_are_listed():
    # every type named under its shape, the shapes in the order their first type is listed
    pool = mixed({"instanceType": "g5.2xlarge"}, {"instanceType": "g5.12xlarge"}, {"instanceType": "g6.2xlarge"},
                 {"instanceType": "g6.12xlarge"})
    assert stack(HOMOGENEOUS, [CPU_TEMPLATE, pool]) == violation(
        'GPU pool "pool" (g5.12xlarge, g5.2xlarge, g6.12xlarge, g6.2xlarge) mixes instance shapes (g5.2xlarge, '
        "g6.2xlarge: 1 GPU, 8 vCPU, 32 GiB; g5.12xlarge, g6.12xlarge: 4 GPU, 48 vCPU, 192 GiB); the cluster "
        "autoscaler needs one GPU count, vCPU count and memory size per group")


def test_override_types_replace_the_launch_template_type():
    # AWS LaunchTemplateOverrides: the overrides' instance types (or requirements) replace the template's.
    # A CPU placeholder type on the template was counted: the group's GPU shapes were never compared ...
    pool = mixed({"instanceType": "g5.2xlarge"}, {"instanceType": "g5.12xlarge"})
    assert stack(HOMOGENEOUS, [CPU_TEMPLATE, pool]) == violation(
        'GPU pool "pool" (g5.12xlarge, g5.2xlarge) mixes instance shapes (g5.2xlarge: 1 GPU, 8 vCPU, 32 GiB; '
        "g5.12xlarge: 4 GPU, 48 vCPU, 192 GiB); the cluster autoscaler needs one GPU count, vCPU count and memory "
        "size per group")
    # ... and a GPU type on the template made a CPU group a GPU pool
    gpu_template = (LT, {"name": "cpu", "instanceType": "g5.xlarge"}, "cpu")
    for overrides in ([{"instanceType": "m6i.large"}], [{"instanceRequirements": {"vcpuCount": {"min": 2}}}],
                      [{"instanceType": "m6i.large", "launchTemplateSpecification": {"launchTemplateName": "own"}}]):
        own = (LT, {"name": "own", "instanceType": "p4d.24xlarge"}, "own")
        assert stack(SCALE, [gpu_template, own, mixed(*overrides)]) == NOTHING
    # an override naming no type runs its own template's type, and leaves the group's in place
    only_template = mixed({"launchTemplateSpecification": {"launchTemplateName": "own"}})
    assert stack(SCALE, [gpu_template, own, only_template]) == minsize_violation('"pool" (g5.xlarge, p4d.24xlarge)')
    # an override type not known yet replaces the template's as well: the pool cannot be told
    assert stack(SCALE, [gpu_template, mixed({"instanceType": UNKNOWN_STRING})]) == note(
        'pool "pool": one of its instance types is not known yet, so whether it runs GPUs cannot be told')


def test_an_override_template_adds_its_type_after_the_group_template():
    own = (LT, {"name": "own", "instanceType": "g5.12xlarge"}, "own")
    template = (LT, {"name": "gpu", "instanceType": "g6.2xlarge"}, "gpu")
    pool = mixed({"launchTemplateSpecification": {"launchTemplateName": "own"}},
                 template={"launchTemplateName": "gpu"})
    assert stack(HOMOGENEOUS, [own, template, pool]) == violation(
        'GPU pool "pool" (g5.12xlarge, g6.2xlarge) mixes instance shapes (g6.2xlarge: 1 GPU, 8 vCPU, 32 GiB; '
        "g5.12xlarge: 4 GPU, 48 vCPU, 192 GiB); the cluster autoscaler needs one GPU count, vCPU count and memory "
        "size per group")


# --- eks-secrets-encryption -------------------------------------------------------------------
NOT_ENCRYPTED = violation('encryptionConfig does not encrypt "secrets" with a KMS key (provider.keyArn)')
ENCRYPTION_UNKNOWN = note("encryptionConfig resources or provider.keyArn is not known yet")


def encryption(resources: object = ("secrets",), key: object = KEY) -> dict:
    return {"resources": list(resources) if isinstance(resources, tuple) else resources, "provider": {"keyArn": key}}


@pytest.mark.parametrize("configs, expected", [
    ([encryption(("configmaps",)), encryption()], NOTHING),                     # any config may do it
    ([encryption(("configmaps",))], NOT_ENCRYPTED),
    ([encryption(key="")], NOT_ENCRYPTED),
    ([{"resources": ["secrets"]}], NOT_ENCRYPTED),
    ([], NOT_ENCRYPTED),
    ([encryption(key=UNKNOWN_STRING)], ENCRYPTION_UNKNOWN),
    ([encryption((UNKNOWN_STRING,))], ENCRYPTION_UNKNOWN),
    ([encryption(UNKNOWN_ARRAY)], ENCRYPTION_UNKNOWN),
    ([UNKNOWN_OBJECT], ENCRYPTION_UNKNOWN),
    ([encryption(key=UNKNOWN_STRING), encryption(("configmaps",))], ENCRYPTION_UNKNOWN),  # the unknown one stays
    ([encryption(("configmaps",)), encryption(key=UNKNOWN_STRING)], ENCRYPTION_UNKNOWN),
    ([encryption(key=UNKNOWN_STRING), encryption()], NOTHING),
    (UNKNOWN_ARRAY, note("encryptionConfig is not known yet")),
])
def test_eks_secrets_encryption_over_every_config(configs, expected):
    assert resource("eks-secrets-encryption", EKS, {"encryptionConfig": configs}) == expected


# --- eks-no-open-public-endpoint --------------------------------------------------------------
OPEN = violation("the public API endpoint is open to 0.0.0.0/0; set endpointPublicAccess=false or restrict "
                 "publicAccessCidrs")


@pytest.mark.parametrize("vpc, expected", [
    ({"endpointPublicAccess": False}, NOTHING),
    ({"endpointPublicAccess": "false", "publicAccessCidrs": ["0.0.0.0/0"]}, NOTHING),
    ({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}, NOTHING),
    ({"endpointPublicAccess": True}, OPEN),                                       # AWS's default: 0.0.0.0/0
    ({"publicAccessCidrs": []}, OPEN),
    ({"publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0", UNKNOWN_STRING]}, OPEN),
    ({"publicAccessCidrs": ["203.0.113.0/24", UNKNOWN_STRING]}, note("vpcConfig.publicAccessCidrs is not known yet")),
    ({"publicAccessCidrs": UNKNOWN_ARRAY}, note("vpcConfig.publicAccessCidrs is not known yet")),
    ({"endpointPublicAccess": UNKNOWN_BOOLEAN}, note("vpcConfig.endpointPublicAccess is not known yet")),
    (UNKNOWN_OBJECT, note("vpcConfig.endpointPublicAccess is not known yet")),
])
def test_eks_public_endpoint_decisions(vpc, expected):
    assert resource("eks-no-open-public-endpoint", EKS, {"vpcConfig": vpc}) == expected


# --- eks-control-plane-logging ----------------------------------------------------------------
@pytest.mark.parametrize("enabled, expected", [
    (["authenticator", "audit", "api"], NOTHING),
    (["audit"], violation("control plane log types api, authenticator are not enabled")),
    ([], violation("control plane log types api, audit, authenticator are not enabled")),
    (None, violation("control plane log types api, audit, authenticator are not enabled")),
])
def test_eks_control_plane_log_types(enabled, expected):
    props = {} if enabled is None else {"enabledClusterLogTypes": enabled}
    assert resource("eks-control-plane-logging", EKS, props) == expected


def test_every_requirement_set_and_every_pool_is_checked():
    # a CPU requirement set first does not end the check of the GPU one after it
    pool = mixed({"instanceRequirements": {"vcpuCount": {"min": 2}}},
                 {"instanceRequirements": {**PINNED, "vcpuCount": {"min": 8, "max": 16}}})
    assert stack(HOMOGENEOUS, [CPU_TEMPLATE, pool]) == violation(
        'GPU pool "pool" (GPUs by instance requirements): instance requirements allow types of different shapes '
        "(vcpuCount not pinned to one value); list instance types of one shape instead")
    # a pool that cannot be checked does not end the check of the pools after it
    mixed_shapes = (NODE_GROUP, {"instanceTypes": ["g5.xlarge", "g5.12xlarge"], "scalingConfig": {"minSize": 0}},
                    "mixed")
    for first in ((NODE_GROUP, {"instanceTypes": ["g5.xlarge", UNKNOWN_STRING]}, "first"),
                  (NODE_GROUP, {"instanceTypes": ["g7.xlarge"]}, "first")):
        violations, notes = stack(HOMOGENEOUS, [first, mixed_shapes])
        assert len(notes) == 1 and violations == [
            'GPU pool "mixed" (g5.12xlarge, g5.xlarge) mixes instance shapes (g5.xlarge: 1 GPU, 4 vCPU, 16 GiB; '
            "g5.12xlarge: 4 GPU, 48 vCPU, 192 GiB); the cluster autoscaler needs one GPU count, vCPU count and "
            "memory size per group"]


def test_every_requirement_not_known_yet_is_named():
    requirements = {**PINNED, "vcpuCount": {"min": UNKNOWN_NUMBER, "max": 8}, "memoryMib": UNKNOWN_OBJECT}
    assert stack(HOMOGENEOUS, [requirements_template(**requirements), ASG_ON_REQUIREMENTS]) == note(
        'GPU pool "pool" (GPUs by instance requirements): instance requirements vcpuCount, memoryMib not known yet, '
        "homogeneity not checked")


def test_every_log_type_a_value_not_known_yet_may_be_is_named():
    assert resource("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": ["authenticator",
                                                                                 UNKNOWN_STRING]}) == note(
        "enabledClusterLogTypes holds a value not known yet, so whether it enables api, audit cannot be told")
