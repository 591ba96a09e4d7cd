"""Compute rules: launch templates, instances, EBS, GPU pools (stack view), EKS clusters."""
from __future__ import annotations

import base64

import pytest
from policy_helpers import (
    assert_passes,
    assert_stack_passes,
    assert_stack_violates,
    assert_violates,
    evaluate,
    evaluate_stack,
)

from policies.values import UNKNOWN

LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
ASG = "aws:autoscaling/group:Group"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS = "aws:eks/cluster:Cluster"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111"


def test_imdsv2_required():
    assert_passes("ec2-imdsv2-required", LT, {"metadataOptions": {"httpTokens": "required"}})
    assert_violates("ec2-imdsv2-required", LT, {"metadataOptions": {"httpTokens": "optional"}}, contains="optional")
    assert_violates("ec2-imdsv2-required", INSTANCE, {}, contains="unset")


def test_imds_hop_limit():
    assert_passes("ec2-imds-hop-limit", LT, {"metadataOptions": {"httpPutResponseHopLimit": 2}})
    assert_violates("ec2-imds-hop-limit", LT, {"metadataOptions": {"httpPutResponseHopLimit": 3}}, contains="3")
    assert_violates("ec2-imds-hop-limit", LT, {"metadataOptions": {"httpPutResponseHopLimit": 2}},
                    config={"maxHopLimit": 1})


def test_imds_hop_limit_is_1_on_hosts_without_containers():
    eks_node = base64.b64encode(b"#!/bin/bash\n/etc/eks/bootstrap.sh ml-cluster\n").decode()
    plain_host = base64.b64encode(b"#!/bin/bash\nyum install -y nginx\n").decode()
    two_hops = {"metadataOptions": {"httpPutResponseHopLimit": 2}}
    assert_passes("ec2-imds-hop-limit", LT, {**two_hops, "userData": eks_node})
    assert_violates("ec2-imds-hop-limit", LT, {**two_hops, "userData": plain_host}, contains="without containers")
    assert_passes("ec2-imds-hop-limit", INSTANCE, {"metadataOptions": {"httpPutResponseHopLimit": 1},
                                                   "userData": "#!/bin/bash\nyum install -y nginx\n"})


def test_ebs_encrypted_every_device_with_cmk():
    good = {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY}},
                                    {"deviceName": "/dev/xvdb", "ebs": {"encrypted": "true", "kmsKeyId": KEY}}]}
    assert_passes("ec2-ebs-encrypted", LT, good)
    second_plain = {"blockDeviceMappings": [good["blockDeviceMappings"][0],
                                            {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 100}}]}
    assert_violates("ec2-ebs-encrypted", LT, second_plain, contains="/dev/xvdb")
    no_cmk = {"rootBlockDevice": {"encrypted": True}}
    assert_violates("ec2-ebs-encrypted", INSTANCE, no_cmk, contains="AWS-managed")
    assert_passes("ec2-ebs-encrypted", INSTANCE, no_cmk, config={"requireCmk": False})
    assert_violates("ec2-ebs-encrypted", LT, {}, contains="no block device")


def test_no_public_ip():
    assert_passes("ec2-no-public-ip", LT, {"networkInterfaces": [{"associatePublicIpAddress": "false"}]})
    assert_violates("ec2-no-public-ip", LT, {"networkInterfaces": [{"deviceIndex": 0},
                                                                   {"associatePublicIpAddress": "true"}]},
                    contains="network interface 2")
    assert_violates("ec2-no-public-ip", INSTANCE, {"associatePublicIpAddress": True})


def test_no_secrets_in_user_data_base64_and_plain():
    clean = base64.b64encode(b"#!/bin/bash\n/etc/eks/bootstrap.sh ml\n").decode()
    assert_passes("ec2-no-secrets-in-user-data", LT, {"userData": clean})
    leaked = base64.b64encode(b"export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n").decode()
    assert_violates("ec2-no-secrets-in-user-data", LT, {"userData": leaked}, contains="access key")
    assert_violates("ec2-no-secrets-in-user-data", INSTANCE,
                    {"userData": "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."}, contains="private key")


def gpu_template(**extra) -> tuple:
    return (LT, {"name": "gpu-lt", "instanceType": "g5.xlarge", **extra}, "gpu-lt")


def mixed_asg(on_demand_above_base: int = 0, min_size: int = 0) -> tuple:
    return (ASG, {"minSize": min_size, "maxSize": 4, "mixedInstancesPolicy": {
        "instancesDistribution": {"onDemandBaseCapacity": 0,
                                  "onDemandPercentageAboveBaseCapacity": on_demand_above_base,
                                  "spotAllocationStrategy": "price-capacity-optimized"},
        "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-0abc", "version": "$Latest"},
                           "overrides": [{"instanceType": "g5.xlarge"}, {"instanceType": "g6.xlarge"}]}}}, "gpu")


def test_gpu_pool_spot():
    assert_stack_passes("gpu-pool-spot", [gpu_template(), mixed_asg(0)])
    assert_stack_violates("gpu-pool-spot", [gpu_template(), mixed_asg(100)], contains="on-demand")
    assert_stack_violates("gpu-pool-spot", [gpu_template(), mixed_asg(50)], contains="<= 0")
    assert_stack_passes("gpu-pool-spot", [gpu_template(), mixed_asg(50)],
                        config={"maxOnDemandPercentageAboveBase": 50})
    # instance type only on the launch template: the stack view follows the reference
    plain = (ASG, {"minSize": 0, "launchTemplate": {"name": "gpu-lt"}}, "gpu")
    assert_stack_violates("gpu-pool-spot", [gpu_template(), plain], contains="g5.xlarge")
    spot_lt = gpu_template(instanceMarketOptions={"marketType": "spot"})
    assert_stack_passes("gpu-pool-spot", [spot_lt, plain])
    # CPU pools are not this rule's business
    assert_stack_passes("gpu-pool-spot", [(LT, {"name": "cpu", "instanceType": "m6i.large"}, "cpu"),
                                          (ASG, {"minSize": 1, "launchTemplate": {"name": "cpu"}}, "cpu-asg")])


def test_gpu_pool_scale_to_zero():
    assert_stack_passes("gpu-pool-scale-to-zero", [gpu_template(), mixed_asg(min_size=0)])
    assert_stack_violates("gpu-pool-scale-to-zero", [gpu_template(), mixed_asg(min_size=2)], contains="minSize 2")
    assert_stack_violates("gpu-pool-scale-to-zero", [(NODE_GROUP, {"instanceTypes": ["p4d.24xlarge"],
                                                                   "capacityType": "SPOT",
                                                                   "scalingConfig": {"minSize": 1}}, "ng")])


def test_eks_secrets_encryption():
    assert_passes("eks-secrets-encryption", EKS,
                  {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY}}})
    assert_passes("eks-secrets-encryption", EKS,  # older providers: a one-element list
                  {"encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": KEY}}]})
    assert_violates("eks-secrets-encryption", EKS, {}, contains="secrets")


def test_eks_public_endpoint():
    assert_passes("eks-no-open-public-endpoint", EKS, {"vpcConfig": {"endpointPublicAccess": False}})
    assert_passes("eks-no-open-public-endpoint", EKS, {"vpcConfig": {"publicAccessCidrs": ["203.0.113.0/24"]}})
    assert_violates("eks-no-open-public-endpoint", EKS, {"vpcConfig": {"subnetIds": ["subnet-1"]}})
    assert_violates("eks-no-open-public-endpoint", EKS,
                    {"vpcConfig": {"publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0"]}})


def test_eks_control_plane_logging():
    assert_passes("eks-control-plane-logging", EKS,
                  {"enabledClusterLogTypes": ["api", "audit", "authenticator", "scheduler"]})
    assert_violates("eks-control-plane-logging", EKS, {"enabledClusterLogTypes": ["api"]},
                    contains="audit, authenticator")


def test_unknown_metadata_options_is_a_note():
    outcome = evaluate("ec2-imdsv2-required", LT, {"metadataOptions": "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"})
    assert outcome.notes and not outcome.violations


# --- GPU instance types resolved through launch templates and instance requirements ------------
def cpu_asg_on(reference: dict) -> tuple:
    """An ASG with no instance type of its own: what it runs comes from the referenced template."""
    return (ASG, {"minSize": 2, "maxSize": 4, "launchTemplate": reference}, "pool")


@pytest.mark.parametrize("reference", [{"id": "lt-0123456789abcdef0"}, {"name": "gpu-nodes"}],
                         ids=["by-id", "by-name"])
def test_gpu_type_comes_from_the_launch_template_by_id_or_name(reference):
    template = (LT, {"id": "lt-0123456789abcdef0", "name": "gpu-nodes", "instanceType": "p4d.24xlarge"}, "gpu-nodes")
    assert_stack_violates("gpu-pool-scale-to-zero", [template, cpu_asg_on(reference)],
                          contains='"pool" (p4d.24xlarge) has minSize 2')


def test_gpu_type_from_an_override_launch_template_and_instance_requirements():
    own = (LT, {"id": "lt-0aaaaaaaaaaaaaaaa", "name": "gpu-a", "instanceType": "g6.xlarge"}, "gpu-a")
    asg = (ASG, {"minSize": 1, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateName": "cpu-base"},
        "overrides": [{"instanceType": "m6i.large"},
                      {"launchTemplateSpecification": {"launchTemplateId": "lt-0aaaaaaaaaaaaaaaa"}}]}}}, "mixed")
    assert_stack_violates("gpu-pool-scale-to-zero", [own, asg], contains="g6.xlarge")
    # attribute-based selection that asks for accelerators is a GPU pool too
    by_attributes = (LT, {"name": "abs", "instanceRequirements": {
        "vcpuCount": {"min": 4, "max": 8}, "memoryMib": {"min": 16384}, "acceleratorTypes": ["gpu"],
        "acceleratorCount": {"min": 1, "max": 1}}}, "abs")
    assert_stack_violates("gpu-pool-scale-to-zero", [by_attributes, cpu_asg_on({"name": "abs"})],
                          contains="GPUs by instance requirements")
    cpu_only = (LT, {"name": "cpu", "instanceRequirements": {"vcpuCount": {"min": 2}, "memoryMib": {"min": 4096}}},
                "cpu")
    assert_stack_passes("gpu-pool-scale-to-zero", [cpu_only, cpu_asg_on({"name": "cpu"})])


def test_unknown_launch_template_reference_is_not_evaluated():
    outcome = evaluate_stack("gpu-pool-scale-to-zero", [cpu_asg_on({"id": UNKNOWN})])
    assert outcome.violations == [] and "not known yet" in outcome.notes[0].message


UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # pulumi_policy's "unknown object" during preview


@pytest.mark.parametrize("policy", ["gpu-pool-spot", "gpu-pool-scale-to-zero", "gpu-pool-homogeneous"])
@pytest.mark.parametrize("mixed", [{"launchTemplate": {"launchTemplateSpecification": UNKNOWN_OBJECT}},
                                   UNKNOWN_OBJECT], ids=["specification", "whole-policy"])
def test_a_mixed_instances_launch_template_not_known_yet_is_a_note(policy, mixed):
    # it may name a GPU template: never dropped as a CPU pool (the unknown was read as absent)
    outcome = evaluate_stack(policy, [(ASG, {"minSize": 2, "maxSize": 4, "mixedInstancesPolicy": mixed}, "pool")])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ['pool "pool": its launch template is not known yet, so whether it runs GPUs cannot be told'])


def test_a_mixed_instances_launch_template_is_followed_and_a_cpu_one_passes():
    gpu = (LT, {"name": "gpu-nodes", "instanceType": "p4d.24xlarge"}, "gpu-nodes")
    cpu = (LT, {"name": "cpu-nodes", "instanceType": "m6i.large"}, "cpu-nodes")
    asg = (ASG, {"minSize": 2, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateName": "gpu-nodes"}}}}, "pool")
    assert assert_stack_violates("gpu-pool-scale-to-zero", [gpu, asg], contains="minSize 2")[0].message == (
        'GPU pool "pool" (p4d.24xlarge) has minSize 2; set 0 so idle GPUs cost nothing')
    asg[1]["mixedInstancesPolicy"]["launchTemplate"]["launchTemplateSpecification"] = {"launchTemplateName": "cpu-nodes"}
    assert_stack_passes("gpu-pool-scale-to-zero", [cpu, asg])


UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
CPU_LT = (LT, {"name": "cpu-nodes", "instanceType": "m6i.large"}, "cpu-nodes")


def on_cpu_template(*overrides: dict) -> tuple:
    return (ASG, {"minSize": 2, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateName": "cpu-nodes"}, "overrides": list(overrides)}}}, "pool")


@pytest.mark.parametrize("policy", ["gpu-pool-spot", "gpu-pool-scale-to-zero", "gpu-pool-homogeneous"])
@pytest.mark.parametrize("pool", [
    on_cpu_template({"instanceType": "m6i.xlarge"}, {"instanceType": UNKNOWN_STRING}),
    (NODE_GROUP, {"instanceTypes": UNKNOWN_ARRAY, "scalingConfig": {"minSize": 2}}, "pool"),
    (NODE_GROUP, {"instanceTypes": ["m6i.large", UNKNOWN_STRING], "scalingConfig": {"minSize": 2}}, "pool"),
], ids=["override", "node-group-list", "node-group-element"])
def test_a_pool_instance_type_not_known_yet_is_a_note(policy, pool):
    # an instance type not known yet was dropped, so the pool counted as CPU-only and passed
    outcome = evaluate_stack(policy, [CPU_LT, pool])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ['pool "pool": one of its instance types is not known yet, so whether it runs GPUs cannot be told'])
    known = (CPU_LT, on_cpu_template({"instanceType": "m6i.xlarge"}))
    assert evaluate_stack(policy, known).notes == [] and evaluate_stack(policy, known).violations == []


@pytest.mark.parametrize("policy", ["gpu-pool-spot", "gpu-pool-scale-to-zero", "gpu-pool-homogeneous"])
@pytest.mark.parametrize("template", [
    {"name": "t", "instanceType": UNKNOWN_STRING},
    {"name": "t", "instanceRequirements": UNKNOWN_OBJECT},
    {"name": "t", "instanceRequirements": {"vcpuCount": {"min": 4}, "acceleratorCount": {"min": UNKNOWN_STRING}}},
    {"name": "t", "instanceRequirements": {"vcpuCount": {"min": 4}, "acceleratorTypes": UNKNOWN_ARRAY}},
    {"name": "t", "instanceRequirements": {"vcpuCount": {"min": 4}, "acceleratorManufacturers": [UNKNOWN_STRING]}},
], ids=["template-type", "requirements", "accelerator-count", "accelerator-types", "manufacturer"])
def test_a_template_type_or_accelerator_not_known_yet_is_a_note(policy, template):
    # read as "no GPU", these pools counted as CPU-only and passed silently
    outcome = evaluate_stack(policy, [(LT, template, "t"), cpu_asg_on({"name": "t"})])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ['pool "pool": one of its instance types is not known yet, so whether it runs GPUs cannot be told'])


def test_known_accelerators_still_decide_beside_an_unknown_field():
    gpu = (LT, {"name": "t", "instanceRequirements": {"acceleratorCount": {"min": 1, "max": UNKNOWN_STRING},
                                                      "acceleratorManufacturers": [UNKNOWN_STRING]}}, "t")
    assert assert_stack_violates("gpu-pool-scale-to-zero", [gpu, cpu_asg_on({"name": "t"})],
                                 contains="minSize 2")


def test_a_gpu_pool_with_an_instance_type_not_known_yet():
    pool = on_cpu_template({"instanceType": "g5.2xlarge"}, {"instanceType": UNKNOWN_STRING})
    # what is known already decides the minimum size ...
    assert assert_stack_violates("gpu-pool-scale-to-zero", [CPU_LT, pool], contains="minSize 2")
    # ... but not whether every type has the same shape
    outcome = evaluate_stack("gpu-pool-homogeneous", [CPU_LT, pool])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (
        [], ['GPU pool "pool" (g5.2xlarge): one of its instance types is not known yet, homogeneity not checked'])


# --- gpu-pool-homogeneous ---------------------------------------------------------------------
def pool_of(*types: str) -> tuple:
    return (ASG, {"minSize": 0, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateName": "gpu-lt"},
        "overrides": [{"instanceType": t} for t in types]}}}, "gpu")


def test_gpu_pool_homogeneous_same_gpus_vcpus_and_memory():
    assert_stack_passes("gpu-pool-homogeneous", [pool_of("g5.2xlarge", "g6.2xlarge", "g4dn.2xlarge")])
    assert_stack_passes("gpu-pool-homogeneous", [pool_of("p4d.24xlarge")])
    assert_stack_violates("gpu-pool-homogeneous", [pool_of("g5.2xlarge", "g5.12xlarge")],
                          contains="g5.12xlarge: 4 GPU, 48 vCPU, 192 GiB")
    # same GPU count and vCPUs, different memory: still not one shape
    assert_stack_violates("gpu-pool-homogeneous", [pool_of("g6.2xlarge", "g6e.2xlarge")], contains="64 GiB")
    # the overrides replace the launch template's own type (AWS LaunchTemplateOverrides): p3 never runs
    template = (LT, {"name": "gpu-lt", "instanceType": "p3.2xlarge"}, "gpu-lt")
    assert_stack_passes("gpu-pool-homogeneous", [template, pool_of("g5.2xlarge")])
    # CPU groups are not this rule's business
    assert_stack_passes("gpu-pool-homogeneous", [pool_of("m6i.large", "m6i.2xlarge")])


def test_gpu_pool_homogeneous_instance_requirements_must_pin_the_shape():
    loose = (LT, {"name": "abs", "instanceRequirements": {"vcpuCount": {"min": 4, "max": 16}, "memoryMib": {"min": 16384},
                                                          "acceleratorCount": {"min": 1, "max": 1}}}, "abs")
    assert_stack_violates("gpu-pool-homogeneous", [loose, cpu_asg_on({"name": "abs"})],
                          contains="vcpuCount, memoryMib not pinned")
    pinned = (LT, {"name": "abs", "instanceRequirements": {"vcpuCount": {"min": 8, "max": 8},
                                                           "memoryMib": {"min": 32768, "max": 32768},
                                                           "acceleratorCount": {"min": 1, "max": 1}}}, "abs")
    assert_stack_passes("gpu-pool-homogeneous", [pinned, cpu_asg_on({"name": "abs"})])


def test_gpu_pool_homogeneous_unknown_type_is_not_evaluated():
    outcome = evaluate_stack("gpu-pool-homogeneous", [pool_of("g5.2xlarge", "g7.2xlarge")])
    assert outcome.violations == [] and "g7.2xlarge unknown to the pack" in outcome.notes[0].message


def test_gpu_pool_homogeneous_eks_managed_node_group():
    assert_stack_passes("gpu-pool-homogeneous", [(NODE_GROUP, {"instanceTypes": ["g5.xlarge", "g6.xlarge"],
                                                               "scalingConfig": {"minSize": 0}}, "ng")])
    assert_stack_violates("gpu-pool-homogeneous", [(NODE_GROUP, {"instanceTypes": ["g5.xlarge", "g5.4xlarge"],
                                                                 "scalingConfig": {"minSize": 0}}, "ng")],
                          contains="g5.4xlarge: 1 GPU, 16 vCPU, 64 GiB")
