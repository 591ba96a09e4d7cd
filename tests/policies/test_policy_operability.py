"""Operability rules (issue 12): each with passing and failing fixtures (the repo's stacks: test_policy_cli)."""
from __future__ import annotations

import base64
import json

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

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
SLR_ARN = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
           "AWSServiceRoleForAutoScaling")
KEY = "aws:kms/key:Key"
SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
ROLE = "aws:iam/role:Role"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG = "aws:autoscaling/group:Group"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"


def key_policy(*principals: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Principal": {"AWS": p}, "Action": "kms:Decrypt", "Resource": "*"}
        for i, p in enumerate(principals)]})


# ---- kms-key-policy-principals-exist ------------------------------------------------------------
def test_key_policy_naming_an_undeclared_service_linked_role_fails():
    # the defect: an account that never had an ASG has no AWSServiceRoleForAutoScaling yet
    assert_stack_violates("kms-key-policy-principals-exist", [(KEY, {"policy": key_policy(ROOT, SLR_ARN)})],
                          contains="MalformedPolicyDocumentException")


def test_key_policy_naming_a_declared_service_linked_role_or_the_root_passes():
    assert_stack_passes("kms-key-policy-principals-exist", [
        (SLR, {"awsServiceName": "autoscaling.amazonaws.com", "arn": SLR_ARN}),
        (KEY, {"policy": key_policy(ROOT, SLR_ARN)})])
    # during preview the SLR's ARN is unknown: the service name still ties it to the principal
    assert_stack_passes("kms-key-policy-principals-exist", [
        (SLR, {"awsServiceName": "autoscaling.amazonaws.com"}), (KEY, {"policy": key_policy(SLR_ARN)})])
    assert_stack_passes("kms-key-policy-principals-exist", [(KEY, {"policy": key_policy(ROOT)})])


def test_key_policy_roles_must_be_declared_or_listed_as_existing():
    app_role = f"arn:aws:iam::{ACCOUNT}:role/app"
    assert_stack_violates("kms-key-policy-principals-exist", [(KEY, {"policy": key_policy(app_role)})],
                          contains="role/app")
    assert_stack_passes("kms-key-policy-principals-exist", [(ROLE, {"name": "app"}),
                                                            (KEY, {"policy": key_policy(app_role)})])
    assert_stack_passes("kms-key-policy-principals-exist", [(KEY, {"policy": key_policy(SLR_ARN, app_role)})],
                        config={"existingPrincipals": ["arn:aws:iam::*:role/aws-service-role/*", "*:role/app"]})


def test_key_policy_not_known_yet_is_a_note_not_a_pass():
    outcome = evaluate_stack("kms-key-policy-principals-exist", [(KEY, {"policy": UNKNOWN})])
    assert not outcome.violations and outcome.notes


# ---- s3-lifecycle-transitions-valid -------------------------------------------------------------
def lifecycle(ia: int, glacier: int, storage_class: str = "GLACIER_IR") -> dict:
    return {"rules": [{"id": "tiering", "status": "Enabled", "transitions": [
        {"days": ia, "storageClass": "STANDARD_IA"}, {"days": glacier, "storageClass": storage_class}]}]}


def test_glacier_less_than_30_days_after_ia_fails():
    assert_violates("s3-lifecycle-transitions-valid", LIFECYCLE, lifecycle(30, 45), contains="at least 60")
    assert_violates("s3-lifecycle-transitions-valid", LIFECYCLE, lifecycle(60, 80, "DEEP_ARCHIVE"),
                    contains="DEEP_ARCHIVE")
    assert_violates("s3-lifecycle-transitions-valid", LIFECYCLE, lifecycle(10, 90), contains="at least 30")


def test_valid_transitions_pass():
    assert_passes("s3-lifecycle-transitions-valid", LIFECYCLE, lifecycle(30, 60))
    assert_passes("s3-lifecycle-transitions-valid", LIFECYCLE, lifecycle(30, 180, "GLACIER"))
    assert_passes("s3-lifecycle-transitions-valid", LIFECYCLE,
                  {"rules": [{"id": "glacier-only", "transitions": [{"days": 1, "storageClass": "GLACIER"}]}]})


# ---- k8s-provider-explicit-kubeconfig -----------------------------------------------------------
NAMESPACE = ("kubernetes:core/v1:Namespace", {"metadata": {"name": "ml"}})


def test_kubernetes_resources_on_the_ambient_kubeconfig_fail():
    outcome = evaluate_stack("k8s-provider-explicit-kubeconfig", [NAMESPACE])  # no provider props: default provider
    assert [v.message for v in outcome.violations if "ambient kubeconfig" in v.message]


def test_kubernetes_provider_without_kubeconfig_fails_and_with_one_passes():
    from policies.catalog import by_name
    from policies.core import StackResource

    rule = by_name("k8s-provider-explicit-kubeconfig")
    ns = StackResource("kubernetes:core/v1:Namespace", {"metadata": {"name": "ml"}}, "urn:ns", "ml",
                       provider_props={"context": "prod"})
    assert [str(v) for v in rule.check([ns], None)]
    ok = StackResource("kubernetes:core/v1:Namespace", {}, "urn:ns", "ml", provider_props={"kubeconfig": "{...}"})
    unknown = StackResource("kubernetes:core/v1:Namespace", {}, "urn:ns2", "ml2", provider_props={"kubeconfig": UNKNOWN})
    assert list(rule.check([ok, unknown], None)) == []


# ---- eks-pods-no-node-role ----------------------------------------------------------------------
EKS_USER_DATA = base64.b64encode(b"MIME-Version: 1.0\n--X\nContent-Type: application/node.eks.aws\n\n"
                                 b"apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n").decode()


def test_eks_node_with_two_hops_or_unset_fails():
    assert_violates("eks-pods-no-node-role", LT, {"userData": EKS_USER_DATA,
                                                  "metadataOptions": {"httpPutResponseHopLimit": 2}}, contains="2")
    assert_violates("eks-pods-no-node-role", LT, {"userData": EKS_USER_DATA}, contains="unset")
    assert_violates("eks-pods-no-node-role", NODE_GROUP, {"clusterName": "c"}, contains="hop limit to 2")


def test_eks_node_with_one_hop_and_non_eks_hosts_pass():
    assert_passes("eks-pods-no-node-role", LT, {"userData": EKS_USER_DATA,
                                                "metadataOptions": {"httpPutResponseHopLimit": 1}})
    assert_passes("eks-pods-no-node-role", LT, {"userData": base64.b64encode(b"#!/bin/bash\necho hi\n").decode(),
                                                "metadataOptions": {"httpPutResponseHopLimit": 2}})
    assert_passes("eks-pods-no-node-role", NODE_GROUP, {"launchTemplate": {"id": "lt-1", "version": "1"}})


def test_eks_node_user_data_not_known_yet_is_a_note():
    outcome = evaluate("eks-pods-no-node-role", LT, {"userData": UNKNOWN})
    assert not outcome.violations and outcome.notes


# ---- k8s-namespace-egress-data-plane ------------------------------------------------------------
DENY = (NETPOL, {"metadata": {"name": "default-deny", "namespace": "ml"},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
DNS_ONLY = (NETPOL, {"metadata": {"name": "allow-dns", "namespace": "ml"},
                     "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
                         {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}]}})
HTTPS = (NETPOL, {"metadata": {"name": "allow-data-plane", "namespace": "ml"},
                  "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
                      {"to": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}]}})


def test_namespace_with_dns_only_egress_fails():
    assert_stack_violates("k8s-namespace-egress-data-plane", [DENY, DNS_ONLY], contains="namespace ml")
    assert_stack_violates("k8s-namespace-egress-data-plane", [DENY], contains="TCP 443")


def test_namespace_with_https_to_the_data_plane_passes():
    assert_stack_passes("k8s-namespace-egress-data-plane", [DENY, DNS_ONLY, HTTPS])
    assert_stack_passes("k8s-namespace-egress-data-plane", [DNS_ONLY])  # nothing denied: nothing to check


def netpol(name: str, spec) -> tuple:
    return (NETPOL, {"metadata": {"name": name, "namespace": "ml"}, "spec": spec}, name)


UNKNOWN_OBJECT, UNKNOWN_LIST = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
MAY_ALLOW = {  # beside a policy that denies all egress: each may allow the data plane
    "spec": UNKNOWN_OBJECT,
    "egress": {"podSelector": {}, "policyTypes": ["Egress"], "egress": UNKNOWN_LIST},
    "port": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"ports": [{"protocol": "TCP", "port": "3eeb2bf0-c639-47a8-9e75-3b44932eb421"}]}]},
}
MAY_DENY = {  # with no policy known to deny all egress: each may deny it
    "spec": UNKNOWN_OBJECT,
    "policy-types": {"podSelector": {}, "policyTypes": UNKNOWN_LIST},
    "egress": {"podSelector": {}, "policyTypes": ["Egress"], "egress": UNKNOWN_LIST},
}
NOTE = ([], ["namespace ml: the egress rules of other are not known yet"])


@pytest.mark.parametrize("part", sorted(MAY_ALLOW))
def test_egress_rules_that_may_allow_the_data_plane_are_a_note(part):
    # an unknown spec read as {} (`spec or {}`) made up a violation; an unknown egress list or port read as
    # "allows everything" passed a namespace that may allow only DNS
    other = netpol("other", MAY_ALLOW[part])
    outcome = evaluate_stack("k8s-namespace-egress-data-plane", [DENY, DNS_ONLY, other])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == NOTE
    # a known rule to the data plane settles it, whatever else is unknown
    assert_stack_passes("k8s-namespace-egress-data-plane", [DENY, DNS_ONLY, other, HTTPS])


@pytest.mark.parametrize("part", sorted(MAY_DENY))
def test_egress_rules_that_may_deny_all_egress_are_a_note(part):
    # an unknown policyTypes/egress read as none passed a namespace whose pods may reach nothing but DNS
    outcome = evaluate_stack("k8s-namespace-egress-data-plane", [DNS_ONLY, netpol("other", MAY_DENY[part])])
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == NOTE


def test_egress_an_unknown_that_changes_nothing_is_no_note():
    # policyTypes not known yet without egress rules cannot allow anything: the known deny-all decides
    no_rules = netpol("other", MAY_DENY["policy-types"])
    assert assert_stack_violates("k8s-namespace-egress-data-plane", [DENY, no_rules])[0].message.startswith(
        "namespace ml: egress is denied except DNS")
    https = netpol("other", {"podSelector": {}, "policyTypes": UNKNOWN_LIST, "egress": HTTPS[1]["spec"]["egress"]})
    assert_stack_passes("k8s-namespace-egress-data-plane", [DENY, https])


def test_egress_a_known_https_port_beside_an_unknown_one_allows_the_data_plane():
    mixed = netpol("mixed", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [
        {"port": "3eeb2bf0-c639-47a8-9e75-3b44932eb421"}, {"protocol": "TCP", "port": 443}]}]})
    assert_stack_passes("k8s-namespace-egress-data-plane", [DENY, mixed])
    dns = netpol("dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]})
    assert assert_stack_violates("k8s-namespace-egress-data-plane", [DENY, dns])[0].message.startswith(
        "namespace ml: egress is denied except DNS")


# ---- gpu-pool-cluster-addons --------------------------------------------------------------------
GPU_ASG = (ASG, {"minSize": 0, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
    "launchTemplateSpecification": {"launchTemplateId": "lt-1"}, "overrides": [{"instanceType": "g5.xlarge"},
                                                                               {"instanceType": "g6.xlarge"}]}}})
PLUGIN = (RELEASE, {"name": "nvidia-device-plugin", "chart": "nvidia-device-plugin", "version": "0.17.0"})
AUTOSCALER = (RELEASE, {"name": "cluster-autoscaler", "chart": "cluster-autoscaler", "version": "9.43.2"})


def test_gpu_pool_without_device_plugin_or_autoscaler_fails():
    assert_stack_violates("gpu-pool-cluster-addons", [GPU_ASG, AUTOSCALER], contains="device plugin")
    assert_stack_violates("gpu-pool-cluster-addons", [GPU_ASG, PLUGIN], contains="cluster-autoscaler")


def test_gpu_pool_with_both_add_ons_passes():
    assert_stack_passes("gpu-pool-cluster-addons", [GPU_ASG, PLUGIN, AUTOSCALER])
    karpenter = (RELEASE, {"name": "karpenter", "chart": "oci://public.ecr.aws/karpenter/karpenter"})
    assert_stack_passes("gpu-pool-cluster-addons", [GPU_ASG, PLUGIN, karpenter])
    fixed = (ASG, {**GPU_ASG[1], "minSize": 2, "maxSize": 2})
    assert_stack_passes("gpu-pool-cluster-addons", [fixed, PLUGIN])  # a fixed size needs no autoscaler
    cpu_only = (ASG, {"minSize": 0, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
        "overrides": [{"instanceType": "m6i.large"}]}}})
    assert_stack_passes("gpu-pool-cluster-addons", [cpu_only])


# a pool's launch template, instance types or sizes not known yet: a note, never a pass or a made-up violation
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi_policy's wire sentinels during preview
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
GPU_LT = (LT, {"id": "lt-1", "instanceType": "p4d.24xlarge"}, "gpu-lt")


def outcome_of(*resources) -> tuple[list[str], list[str]]:
    outcome = evaluate_stack("gpu-pool-cluster-addons", resources)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def test_a_pool_whose_launch_template_is_not_known_yet_is_a_note():
    # the id was read as absent (`a or b`), so a pool that may run GPUs passed without a device plugin
    by_id = (ASG, {"minSize": 0, "maxSize": 4, "launchTemplate": {"id": UNKNOWN_STRING}}, "pool")
    by_mixed = (ASG, {"minSize": 0, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
        "launchTemplateSpecification": {"launchTemplateId": UNKNOWN_STRING}}}}, "pool")
    note = "pool: the launch template is not known yet, so whether it is a GPU pool cannot be told"
    assert outcome_of(GPU_LT, by_id, AUTOSCALER) == ([], [note])
    assert outcome_of(GPU_LT, by_mixed) == ([], [note])
    assert outcome_of(by_id, PLUGIN, AUTOSCALER) == ([], [])  # with both add-ons any pool passes
    fixed = (ASG, {**by_id[1], "minSize": 2, "maxSize": 2}, "pool")
    assert outcome_of(GPU_LT, fixed, PLUGIN) == ([], [])  # nor does a fixed-size pool beside the plugin
    assert outcome_of(GPU_LT, fixed, AUTOSCALER) == ([], [note])
    # known: the template is followed by id
    known = (ASG, {"minSize": 0, "maxSize": 4, "launchTemplate": {"id": "lt-1"}}, "pool")
    assert outcome_of(GPU_LT, known, AUTOSCALER) == ([
        "pool: a GPU node pool but no NVIDIA device plugin (Helm release or DaemonSet): the nodes never advertise "
        "nvidia.com/gpu and GPU pods never schedule"], [])


def test_a_pool_whose_instance_types_are_not_known_yet_is_a_note():
    node_group = (NODE_GROUP, {"instanceTypes": UNKNOWN_ARRAY, "scalingConfig": {"minSize": 0, "maxSize": 2}}, "ng")
    assert outcome_of(node_group, PLUGIN) == (
        [], ["ng: instanceTypes is not known yet, so whether it is a GPU pool cannot be told"])
    mixed = (ASG, {"minSize": 0, "maxSize": 4, "mixedInstancesPolicy": {"launchTemplate": {
        "overrides": [{"instanceType": "m6i.large"}, {"instanceType": UNKNOWN_STRING}]}}}, "asg")
    assert outcome_of(mixed, AUTOSCALER) == (
        [], ["asg: an override's instanceType is not known yet, so whether it is a GPU pool cannot be told"])
    whole = (ASG, {**mixed[1], "mixedInstancesPolicy": {"launchTemplate": {"overrides": UNKNOWN_ARRAY}}}, "asg")
    assert outcome_of(whole, AUTOSCALER) == (
        [], ["asg: the mixed-instances overrides list is not known yet, so whether it is a GPU pool cannot be told"])
    # one known GPU type is enough to tell
    gpu_mixed = (ASG, {**mixed[1], "mixedInstancesPolicy": {"launchTemplate": {
        "overrides": [{"instanceType": "g5.xlarge"}, {"instanceType": UNKNOWN_STRING}]}}}, "asg")
    assert outcome_of(gpu_mixed, PLUGIN, AUTOSCALER) == ([], [])
    assert outcome_of(gpu_mixed, AUTOSCALER)[0][0].startswith("asg: a GPU node pool but no NVIDIA device plugin")


def test_a_gpu_pools_size_not_known_yet_is_a_note():
    # an unknown minSize was read as absent: min None != max 4 made up "may scale"; both unknown passed
    asg = GPU_ASG[1]
    assert outcome_of((ASG, {**asg, "minSize": UNKNOWN_NUMBER}, "gpu"), PLUGIN) == (
        [], ["gpu: minSize is not known yet, so whether the GPU pool may scale cannot be told"])
    assert outcome_of((ASG, {**asg, "minSize": UNKNOWN_NUMBER, "maxSize": UNKNOWN_NUMBER}, "gpu"), PLUGIN) == (
        [], ["gpu: minSize, maxSize are not known yet, so whether the GPU pool may scale cannot be told"])
    assert outcome_of((ASG, {**asg, "maxSize": UNKNOWN_NUMBER}, "gpu"), PLUGIN, AUTOSCALER) == ([], [])


def test_a_node_groups_size_is_its_scaling_config():
    def node_group(minimum: int, maximum: int) -> tuple:
        return (NODE_GROUP, {"instanceTypes": ["g5.xlarge"],
                             "scalingConfig": {"minSize": minimum, "maxSize": maximum}}, "ng")

    assert outcome_of(node_group(0, 0), PLUGIN) == ([], [])
    assert outcome_of(node_group(2, 2), PLUGIN) == ([], [])
    assert outcome_of(node_group(0, 3), PLUGIN) == ([
        "ng: a GPU pool that may scale (min != max) but no cluster-autoscaler or Karpenter: nothing ever changes its "
        "size, pending GPU pods wait forever"], [])
    unknown = (NODE_GROUP, {"instanceTypes": ["g5.xlarge"], "scalingConfig": {"minSize": 0, "maxSize": UNKNOWN_NUMBER}},
               "ng")
    assert outcome_of(unknown, PLUGIN) == (
        [], ["ng: maxSize is not known yet, so whether the GPU pool may scale cannot be told"])


def test_add_ons_not_known_yet_are_a_note_not_missing():
    # a chart, release name or image not known yet read as "" (`or ''`): "no NVIDIA device plugin"
    unknown_release = (RELEASE, {"name": UNKNOWN_STRING, "chart": UNKNOWN_STRING}, "addon")
    plugin_note = ("r0: whether the NVIDIA device plugin is installed cannot be told (a chart, release name, image or "
                   "add-on name is not known yet)")
    autoscaler_note = ("r0: whether a cluster-autoscaler or Karpenter is installed cannot be told (a chart, release "
                       "name, image or add-on name is not known yet)")
    assert outcome_of(GPU_ASG, unknown_release) == ([], [plugin_note, autoscaler_note])
    assert outcome_of(GPU_ASG, unknown_release, PLUGIN) == ([], [autoscaler_note])
    assert outcome_of(GPU_ASG, unknown_release, PLUGIN, AUTOSCALER) == ([], [])
    unknown_image = ("kubernetes:apps/v1:DaemonSet", {"spec": {"template": {"spec": {"containers": [
        {"name": "plugin", "image": UNKNOWN_STRING}]}}}}, "ds")
    assert outcome_of(GPU_ASG, unknown_image, AUTOSCALER) == ([], [plugin_note])
    known_image = ("kubernetes:apps/v1:DaemonSet", {"spec": {"template": {"spec": {"containers": [
        {"name": "plugin", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}]}}}}, "ds")
    assert outcome_of(GPU_ASG, known_image, AUTOSCALER) == ([], [])
    assert outcome_of(GPU_ASG, (RELEASE, {"name": "cert-manager", "chart": "cert-manager"}), AUTOSCALER)[0][0] == (
        "r0: a GPU node pool but no NVIDIA device plugin (Helm release or DaemonSet): the nodes never advertise "
        "nvidia.com/gpu and GPU pods never schedule")
