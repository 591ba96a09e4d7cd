"""Pins on the operability rules (policies/operability.py) that mutation testing found loose.

Each test fails on a plausible one-point change of a rule (a flipped comparison, a dropped
condition, a skipped element, a changed word of a message), at both sides of each boundary,
and on the values not known yet during preview (``UNKNOWN`` is falsy: read through a truth
test or ``str_list`` it looks absent). See ``make mutate``.
"""
from __future__ import annotations

import base64
import json

import pytest
from policy_helpers import evaluate, evaluate_stack

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SLR_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
ROLE = "aws:iam/role:Role"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LIFECYCLE_V2 = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG = "aws:autoscaling/group:Group"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
# pulumi_policy's wire sentinels for values not known during preview (the harness unwraps them to UNKNOWN)
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"


def messages(outcome) -> tuple[list[str], list[str]]:
    """(violations, notes) of an outcome, word for word."""
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def stack(policy: str, *resources, config=None) -> tuple[list[str], list[str]]:
    return messages(evaluate_stack(policy, resources, config=config))


# ---- kms-key-policy-principals-exist ------------------------------------------------------------
def key(*statements, name: str = "key", resource_type: str = KEY) -> tuple:
    return (resource_type, {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}, name)


def allow(principal, sid: str | None = "S") -> dict:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}
    return statement if sid is None else {"Sid": sid, **statement}


def missing(arn: str, sid: str = "S", name: str = "key", slr: bool = False) -> str:
    why = ("a service-linked role exists only once something created it; declare aws.iam.ServiceLinkedRole and "
           "take the ARN from it" if slr else
           "declare the principal in this stack (and take its ARN from the resource)")
    return (f"key policy of {name} statement {sid} names {arn}, which the stack does not create: KMS rejects a "
            f"policy naming a principal that does not exist (MalformedPolicyDocumentException); {why}, or list it "
            "in existingPrincipals")


def test_key_policy_every_undeclared_principal_of_every_statement_is_reported_word_for_word():
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    got = stack("kms-key-policy-principals-exist", key(allow({"AWS": [ROOT, APP_ROLE, other]}, sid="Both"),
                                                       allow({"AWS": SLR_ARN}, sid=None)))
    assert got == ([missing(APP_ROLE, "Both"), missing(other, "Both"), missing(SLR_ARN, "2", slr=True)], [])
    # the standalone KeyPolicy resource is read the same way
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": APP_ROLE}), resource_type=KEY_POLICY,
                                                        name="kp")) == ([missing(APP_ROLE, name="kp")], [])


@pytest.mark.parametrize("principal", ["*", {"Service": "logs.amazonaws.com"}, ["arn:aws:iam::1:role/x"]])
def test_key_policy_non_aws_principals_are_not_this_rules_business(principal):
    assert stack("kms-key-policy-principals-exist", key(allow(principal))) == ([], [])


@pytest.mark.parametrize("root", [ROOT, f"arn:aws-cn:iam::{ACCOUNT}:root", f"arn:aws-us-gov:iam::{ACCOUNT}:root"])
def test_key_policy_the_account_root_of_any_partition_exists(root):
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": root}))) == ([], [])


@pytest.mark.parametrize("arn", [
    f"arn:aws:iam::{ACCOUNT}:root/x",           # anchored at the end
    f"x-arn:aws:iam::{ACCOUNT}:root",           # and at the start
    "arn:aws:iam::12345678901:root",            # twelve digits
    f"arn:aws:iam::{ACCOUNT}:user/root",
])
def test_key_policy_only_a_real_root_arn_counts_as_the_root(arn):
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": arn}))) == ([missing(arn)], [])


def test_key_policy_a_declared_roles_arn_or_name_and_a_declared_service_linked_role_count():
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/ml/app"  # a role with a path: the name is the last part
    assert stack("kms-key-policy-principals-exist", (ROLE, {"name": "app"}, "r"), key(allow({"AWS": role_arn}))) \
        == ([], [])
    assert stack("kms-key-policy-principals-exist", (ROLE, {"arn": APP_ROLE, "name": 7}, "r"),
                 key(allow({"AWS": APP_ROLE}))) == ([], [])
    assert stack("kms-key-policy-principals-exist", (SLR, {"arn": SLR_ARN}, "slr"), key(allow({"AWS": SLR_ARN}))) \
        == ([], [])
    # a role's name does not make a service-linked role of the same name exist, nor another type's name count
    named_like_slr = (ROLE, {"name": "AWSServiceRoleForAutoScaling"}, "r")
    assert stack("kms-key-policy-principals-exist", named_like_slr, key(allow({"AWS": SLR_ARN}))) == (
        [missing(SLR_ARN, slr=True)], [])
    assert stack("kms-key-policy-principals-exist", (SLR, {"awsServiceName": "ec2.amazonaws.com"}, "s"),
                 key(allow({"AWS": SLR_ARN}))) == ([missing(SLR_ARN, slr=True)], [])
    assert stack("kms-key-policy-principals-exist", ("aws:iam/user:User", {"name": "app", "arn": APP_ROLE}, "u"),
                 key(allow({"AWS": APP_ROLE}))) == ([missing(APP_ROLE)], [])
    assert stack("kms-key-policy-principals-exist", ("aws:iam/user:User", {"awsServiceName": "autoscaling.amazonaws.com"},
                                                     "u"), key(allow({"AWS": SLR_ARN}))) == (
        [missing(SLR_ARN, slr=True)], [])
    # a service-linked role's own ARN declared counts too, and a role name never matches a user ARN
    user = f"arn:aws:iam::{ACCOUNT}:user/app"
    assert stack("kms-key-policy-principals-exist", (ROLE, {"name": "app"}, "r"), key(allow({"AWS": user}))) == (
        [missing(user)], [])


def test_key_policy_existing_principals_are_globs_over_the_whole_arn():
    config = {"existingPrincipals": [f"arn:aws:iam::{ACCOUNT}:role/ap?"]}
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": APP_ROLE})), config=config) == ([], [])
    other = f"arn:aws:iam::{ACCOUNT}:role/apps"
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": other})), config=config) == (
        [missing(other)], [])
    # case matters in an ARN glob
    upper = {"existingPrincipals": [f"ARN:AWS:IAM::{ACCOUNT}:ROLE/APP"]}
    assert stack("kms-key-policy-principals-exist", key(allow({"AWS": APP_ROLE})), config=upper) == (
        [missing(APP_ROLE)], [])


def test_key_policy_that_does_not_parse_or_is_not_known_is_a_note_on_the_key():
    outcome = evaluate_stack("kms-key-policy-principals-exist", [(KEY, {"policy": "{not json"}, "key")])
    assert messages(outcome) == ([], ["key policy of key: policy document is not valid JSON (Expecting property "
                                      "name enclosed in double quotes at char 1)"])
    assert outcome.notes[0].urn.endswith("::key")
    assert stack("kms-key-policy-principals-exist", (KEY, {"policy": UNKNOWN_STRING}, "key")) == (
        [], ["key policy of key is not known yet"])
    assert stack("kms-key-policy-principals-exist", (KEY, {}, "key")) == ([], [])


@pytest.mark.parametrize("principal", [
    UNKNOWN_OBJECT,                          # the whole Principal
    {"AWS": UNKNOWN_STRING},                 # its AWS part
    {"AWS": [ROOT, UNKNOWN_STRING]},         # one ARN of the list
])
def test_key_policy_principal_not_known_yet_is_a_note_not_a_pass(principal):
    # str_list drops UNKNOWN and a non-dict Principal was skipped: a principal not known yet passed silently
    document = {"Statement": [allow(principal)]}
    outcome = evaluate_stack("kms-key-policy-principals-exist", [(KEY, {"policy": document}, "key")])
    assert messages(outcome) == ([], ["key policy of key statement S: a principal is not known yet"])
    assert outcome.notes[0].urn.endswith("::key")


def test_key_policy_a_role_whose_name_is_not_known_yet_may_be_the_principal():
    # the role's name not known yet was read as no role: a made-up "the stack does not create" violation
    unnamed = (ROLE, {"name": UNKNOWN_STRING}, "app-role")
    note = (f"key policy of key statement S names {APP_ROLE}: whether the stack creates it cannot be told (the name "
            "of app-role is not known yet)")
    assert stack("kms-key-policy-principals-exist", unnamed, key(allow({"AWS": APP_ROLE}))) == ([], [note])
    # ... but it cannot be a user, nor a service-linked role, and a known match still settles it
    user = f"arn:aws:iam::{ACCOUNT}:user/app"
    assert stack("kms-key-policy-principals-exist", unnamed, key(allow({"AWS": user}))) == ([missing(user)], [])
    assert stack("kms-key-policy-principals-exist", unnamed, key(allow({"AWS": SLR_ARN}))) == (
        [missing(SLR_ARN, slr=True)], [])
    assert stack("kms-key-policy-principals-exist", unnamed, (ROLE, {"name": "app"}, "r"),
                 key(allow({"AWS": APP_ROLE}))) == ([], [])
    unnamed_slr = (SLR, {"awsServiceName": UNKNOWN_STRING}, "slr")
    assert stack("kms-key-policy-principals-exist", unnamed_slr, key(allow({"AWS": SLR_ARN}))) == ([], [
        f"key policy of key statement S names {SLR_ARN}: whether the stack creates it cannot be told (the name of "
        "slr is not known yet)"])
    assert stack("kms-key-policy-principals-exist", unnamed_slr, key(allow({"AWS": APP_ROLE}))) == (
        [missing(APP_ROLE)], [])


def test_key_policy_every_principal_after_a_settled_one_is_still_checked():
    # each settled principal (root, declared ARN or name, service-linked role, not known yet) moves on to the
    # next one of the statement: stopping there passed the undeclared principals after it
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    declared = [(SLR, {"awsServiceName": "autoscaling.amazonaws.com"}, "slr"), (ROLE, {"name": "app"}, "r")]
    for first in (ROOT, SLR_ARN, APP_ROLE):
        assert stack("kms-key-policy-principals-exist", *declared, key(allow({"AWS": [first, other]}))) == (
            [missing(other)], [])
    unknown_first = {"Statement": [allow({"AWS": [UNKNOWN_STRING, other]})]}
    assert stack("kms-key-policy-principals-exist", (KEY, {"policy": unknown_first}, "key")) == (
        [missing(other)], ["key policy of key statement S: a principal is not known yet"])
    # a Statement list with a statement not known yet: the known statements are still read
    partly = {"Statement": [UNKNOWN_OBJECT, allow({"AWS": other})]}
    assert stack("kms-key-policy-principals-exist", (KEY, {"policy": partly}, "key")) == (
        [missing(other)], ["key policy of key statement 1 is not known yet"])
    # a role whose name is not known yet may be one principal; the next one is still checked
    unnamed = [(ROLE, {"name": UNKNOWN_STRING}, "r1"), (ROLE, {"name": UNKNOWN_STRING}, "r2")]
    user = f"arn:aws:iam::{ACCOUNT}:user/u"
    assert stack("kms-key-policy-principals-exist", *unnamed, key(allow({"AWS": [APP_ROLE, user]}))) == (
        [missing(user)], [f"key policy of key statement S names {APP_ROLE}: whether the stack creates it cannot be "
                          "told (the name of r1, r2 is not known yet)"])


# ---- s3-lifecycle-transitions-valid -------------------------------------------------------------
def lifecycle(*transitions, kind: str = "transitions", rule_id: str | None = "tier") -> dict:
    rule = {"status": "Enabled", kind: [dict(t) for t in transitions]}
    return {"rules": [rule if rule_id is None else {"id": rule_id, **rule}]}


def ia(days, kind: str = "transitions") -> dict:
    return {"noncurrentDays" if kind == "noncurrentVersionTransitions" else "days": days, "storageClass": "STANDARD_IA"}


def cold(days, storage_class: str = "GLACIER", kind: str = "transitions") -> dict:
    return {"noncurrentDays" if kind == "noncurrentVersionTransitions" else "days": days, "storageClass": storage_class}


def lifecycle_messages(props: dict, resource_type: str = LIFECYCLE) -> tuple[list[str], list[str]]:
    return messages(evaluate("s3-lifecycle-transitions-valid", resource_type, props))


@pytest.mark.parametrize("kind", ["transitions", "noncurrentVersionTransitions"])
def test_lifecycle_standard_ia_boundary_is_30_days(kind):
    assert lifecycle_messages(lifecycle(ia(29, kind), kind=kind)) == (
        [f"rule tier: {kind} to STANDARD_IA after 29 days; S3 requires at least 30"], [])
    assert lifecycle_messages(lifecycle(ia(30, kind), kind=kind)) == ([], [])
    assert lifecycle_messages(lifecycle(ia("30", kind), kind=kind, rule_id=None)) == ([], [])
    assert lifecycle_messages(lifecycle(ia("12", kind), kind=kind, rule_id=None), LIFECYCLE_V2) == (
        [f"rule 1: {kind} to STANDARD_IA after 12 days; S3 requires at least 30"], [])


@pytest.mark.parametrize("storage_class", ["GLACIER", "GLACIER_IR", "DEEP_ARCHIVE", "ONEZONE_IA"])
@pytest.mark.parametrize("kind", ["transitions", "noncurrentVersionTransitions"])
def test_lifecycle_every_colder_class_stays_30_days_after_standard_ia(storage_class, kind):
    assert lifecycle_messages(lifecycle(ia(40, kind), cold(69, storage_class, kind), kind=kind)) == (
        [f"rule tier: {kind} to {storage_class} after 69 days, 29 after STANDARD_IA; S3 requires objects to stay "
         "30 days in STANDARD_IA (at least 70)"], [])
    assert lifecycle_messages(lifecycle(ia(40, kind), cold(70, storage_class, kind), kind=kind)) == ([], [])


def test_lifecycle_reports_each_colder_class_and_each_rule():
    props = {"rules": [
        {"id": "a", "transitions": [ia(10), cold(20, "GLACIER"), cold(30, "DEEP_ARCHIVE"), cold(400, "GLACIER_IR")]},
        {"transitions": [ia(40), cold(50, "ONEZONE_IA"), cold(50, "INTELLIGENT_TIERING")]},
    ]}
    assert lifecycle_messages(props) == ([
        "rule a: transitions to STANDARD_IA after 10 days; S3 requires at least 30",
        "rule a: transitions to GLACIER after 20 days, 10 after STANDARD_IA; S3 requires objects to stay 30 days in "
        "STANDARD_IA (at least 40)",
        "rule a: transitions to DEEP_ARCHIVE after 30 days, 20 after STANDARD_IA; S3 requires objects to stay 30 days "
        "in STANDARD_IA (at least 40)",
        "rule 2: transitions to ONEZONE_IA after 50 days, 10 after STANDARD_IA; S3 requires objects to stay 30 days "
        "in STANDARD_IA (at least 70)",
    ], [])


def test_lifecycle_the_days_key_belongs_to_the_transition_kind():
    # current versions count `days`, noncurrent ones `noncurrentDays`: the other key is not read
    assert lifecycle_messages({"rules": [{"id": "x", "transitions": [{"noncurrentDays": 1, "storageClass":
                                                                      "STANDARD_IA"}]}]}) == ([], [])
    assert lifecycle_messages({"rules": [{"id": "x", "noncurrentVersionTransitions": [
        {"days": 1, "storageClass": "STANDARD_IA"}]}]}) == ([], [])
    # days that are no number are not checked
    assert lifecycle_messages(lifecycle(ia("soon"))) == ([], [])


def test_lifecycle_days_not_known_yet_is_a_note_and_the_rest_is_still_checked():
    props = lifecycle(cold(UNKNOWN_NUMBER), ia(5))
    assert lifecycle_messages(props) == (["rule tier: transitions to STANDARD_IA after 5 days; S3 requires at least "
                                          "30"], ["rule tier: transition days are not known yet"])


def test_lifecycle_the_transitions_after_one_not_known_yet_are_still_checked():
    assert lifecycle_messages(lifecycle({"days": 10, "storageClass": UNKNOWN_STRING}, ia(5))) == (
        ["rule tier: transitions to STANDARD_IA after 5 days; S3 requires at least 30"],
        ["rule tier: a transition's storage class is not known yet"])
    assert lifecycle_messages(lifecycle(ia(UNKNOWN_NUMBER), ia(5))) == (
        ["rule tier: transitions to STANDARD_IA after 5 days; S3 requires at least 30"],
        ["rule tier: transition days are not known yet"])


def test_lifecycle_storage_class_not_known_yet_is_a_note_not_a_pass():
    # str(UNKNOWN) filed the transition under "<unknown>", checked against nothing: 10 days passed silently
    props = lifecycle({"days": 10, "storageClass": UNKNOWN_STRING})
    assert lifecycle_messages(props) == ([], ["rule tier: a transition's storage class is not known yet"])
    both = lifecycle(ia(30), {"days": 45, "storageClass": UNKNOWN_STRING})
    assert lifecycle_messages(both) == ([], ["rule tier: a transition's storage class is not known yet"])


# ---- k8s-provider-explicit-kubeconfig -----------------------------------------------------------
DEFAULT_PROVIDER = ("{} (and any other resource without an explicit provider) uses the default Kubernetes provider, "
                    "i.e. the operator's ambient kubeconfig: `pulumi up` applies to whatever cluster that context "
                    "points at; pass a k8s.Provider built from the cluster's endpoint and CA")
NO_KUBECONFIG = ("{}: its Kubernetes provider sets no kubeconfig, so it falls back to the ambient one (KUBECONFIG / "
                 "~/.kube/config); build it from the cluster's outputs")


def kubeconfig_check(*resources):
    from policies.catalog import by_name

    return [(type(item).__name__, item.message, item.urn) for item in
            by_name("k8s-provider-explicit-kubeconfig").check(list(resources), None)]


def k8s(name: str, provider_props=None, resource_type: str = "kubernetes:core/v1:Namespace"):
    from policies.core import StackResource

    return StackResource(resource_type, {}, f"urn:{name}", name, provider_props=provider_props)


def test_kubeconfig_default_provider_is_reported_once_for_the_first_resource():
    got = kubeconfig_check(k8s("aws", resource_type="aws:s3/bucket:Bucket"), k8s("ns"), k8s("sa"),
                           k8s("bad", {"context": "prod"}), k8s("worse", {"kubeconfig": ""}))
    assert got == [("Violation", DEFAULT_PROVIDER.format("ns"), "urn:ns"),
                   ("Violation", NO_KUBECONFIG.format("bad"), "urn:bad"),
                   ("Violation", NO_KUBECONFIG.format("worse"), "urn:worse")]


@pytest.mark.parametrize("kubeconfig", ["apiVersion: v1", {"apiVersion": "v1"}])
def test_kubeconfig_set_as_text_or_object_passes(kubeconfig):
    assert kubeconfig_check(k8s("ns", {"kubeconfig": kubeconfig})) == []
    # ... and the resources after it are still checked
    assert kubeconfig_check(k8s("ok", {"kubeconfig": kubeconfig}), k8s("bad", {"context": "x"})) == [
        ("Violation", NO_KUBECONFIG.format("bad"), "urn:bad")]


@pytest.mark.parametrize("kubeconfig", [{}, 1, ["x"]])
def test_kubeconfig_empty_or_of_the_wrong_shape_is_not_one(kubeconfig):
    assert kubeconfig_check(k8s("ns", {"kubeconfig": kubeconfig})) == [
        ("Violation", NO_KUBECONFIG.format("ns"), "urn:ns")]


def test_kubeconfig_through_the_policy_harness_names_the_default_provider():
    assert stack("k8s-provider-explicit-kubeconfig", ("kubernetes:core/v1:Namespace", {}, "ml"),
                 ("kubernetes:core/v1:Secret", {}, "s")) == ([DEFAULT_PROVIDER.format("ml")], [])


# ---- eks-pods-no-node-role ----------------------------------------------------------------------
HOP_VIOLATION = ("EKS node launch template with IMDS hop limit {}: pods reach the node role's credentials; set "
                 "httpPutResponseHopLimit 1 and give workloads their own roles (Pod Identity/IRSA)")


def eks(user_data, hops=None) -> tuple[list[str], list[str]]:
    props = {"userData": user_data}
    if hops is not None:
        props["metadataOptions"] = {"httpPutResponseHopLimit": hops}
    return messages(evaluate("eks-pods-no-node-role", LT, props))


@pytest.mark.parametrize("marker", ["node.eks.aws", "/etc/eks/bootstrap.sh my-cluster", "nodeadm init"])
def test_eks_node_markers_in_plain_or_base64_user_data(marker):
    encoded = base64.b64encode(f"#!/bin/bash\n{marker}\n".encode()).decode()
    for user_data in (encoded, f"#!/bin/bash\n{marker}\n"):
        assert eks(user_data, 2) == ([HOP_VIOLATION.format(2)], [])
        assert eks(user_data, "3") == ([HOP_VIOLATION.format(3)], [])
        assert eks(user_data, 1) == ([], [])
        assert eks(user_data, "1") == ([], [])
    assert eks(encoded) == ([HOP_VIOLATION.format("unset (the EKS AL2023 AMIs default to 2)")], [])
    assert eks(encoded, "many") == ([HOP_VIOLATION.format("many")], [])


def test_eks_not_a_node_or_no_user_data_passes():
    assert eks("#!/bin/bash\necho node-eks-aws\n", 2) == ([], [])  # the dots are literal
    assert messages(evaluate("eks-pods-no-node-role", LT, {"metadataOptions": {"httpPutResponseHopLimit": 2}})) == (
        [], [])
    # user data that decodes to bytes no UTF-8 text is read with replacement characters, not skipped
    assert eks(base64.b64encode(b"\xff\xfe nodeadm").decode(), 2) == ([HOP_VIOLATION.format(2)], [])


def test_eks_unknowns_are_notes():
    assert eks(UNKNOWN_STRING, 2) == ([], ["user data is not known yet: cannot tell whether this is an EKS node"])
    assert eks("nodeadm", UNKNOWN_NUMBER) == ([], ["httpPutResponseHopLimit is not known yet"])


def test_eks_managed_node_group_needs_a_launch_template():
    bare = messages(evaluate("eks-pods-no-node-role", NODE_GROUP, {"clusterName": "c", "userData": "nodeadm"}))
    assert bare == (["managed node group without a launch template: EKS sets the IMDS hop limit to 2, so every pod "
                     "can act as the node role; attach a launch template with httpPutResponseHopLimit 1"], [])
    # a node group's own user data and metadata are not read: the template's are
    assert messages(evaluate("eks-pods-no-node-role", NODE_GROUP, {"launchTemplate": {"name": "lt"},
                                                                   "userData": UNKNOWN_STRING})) == ([], [])


# ---- k8s-namespace-egress-data-plane ------------------------------------------------------------
EGRESS_VIOLATION = ("namespace {}: egress is denied except DNS, so pods cannot reach S3, STS, ECR or the tracking "
                    "server; add a NetworkPolicy allowing TCP 443 to the VPC endpoints and the services the "
                    "workloads use")


def netpol(name: str, spec, namespace=None) -> tuple:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return (NETPOL, {"metadata": metadata, "spec": spec}, name)


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def egress(*rules) -> dict:
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": list(rules)}


def egress_outcome(*resources):
    return evaluate_stack("k8s-namespace-egress-data-plane", resources)


def test_egress_every_denying_namespace_is_reported_in_order_on_its_first_denying_policy():
    outcome = egress_outcome(netpol("z-deny", DENY_ALL, "zeta"), netpol("a-deny", DENY_ALL, "alpha"),
                             netpol("a-deny-2", DENY_ALL, "alpha"), netpol("d-deny", DENY_ALL))
    assert messages(outcome) == ([EGRESS_VIOLATION.format(n) for n in ("alpha", "default", "zeta")], [])
    assert [v.urn.rsplit("::", 1)[1] for v in outcome.violations] == ["a-deny", "d-deny", "z-deny"]


@pytest.mark.parametrize("rule", [
    {"ports": [{"port": 443}]},
    {"ports": [{"port": 53}, {"port": "8080"}]},
    {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},      # no ports: every port
    {"ports": [{"protocol": "TCP"}]},                   # a port entry without a port: every port
])
def test_egress_a_rule_beyond_dns_in_any_policy_of_the_namespace_allows_the_data_plane(rule):
    assert messages(egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("allow", egress(rule), "ml"))) == ([], [])


@pytest.mark.parametrize("ports", [[{"port": 53}], [{"port": "53", "protocol": "UDP"}, {"port": 53.0}]])
def test_egress_dns_only_rules_leave_the_namespace_denied(ports):
    assert messages(egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("dns", egress({"ports": ports}), "ml"))) \
        == ([EGRESS_VIOLATION.format("ml")], [])


def test_egress_a_namespace_that_allows_the_data_plane_does_not_end_the_check():
    outcome = egress_outcome(netpol("allow", egress({}), "a"), netpol("deny-a", DENY_ALL, "a"),
                             netpol("deny-b", DENY_ALL, "b"))
    assert messages(outcome) == ([EGRESS_VIOLATION.format("b")], [])


def test_egress_a_rule_not_known_yet_does_not_hide_a_known_https_rule_after_it():
    for unknown_rule in (UNKNOWN_OBJECT, {"ports": UNKNOWN_ARRAY}, {"ports": [{"port": UNKNOWN_NUMBER}]}):
        spec = egress(unknown_rule, {"ports": [{"port": 443}]})
        assert messages(egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("mixed", spec, "ml"))) == ([], [])


def test_egress_a_rule_in_another_namespace_does_not_help():
    assert messages(egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("allow", egress({}), "other"))) == (
        [EGRESS_VIOLATION.format("ml")], [])


@pytest.mark.parametrize("spec", [
    {"podSelector": {}, "policyTypes": ["Ingress"]},       # egress not restricted at all
    {"podSelector": {}},
    {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]},
])
def test_egress_nothing_denied_is_nothing_to_report(spec):
    assert messages(egress_outcome(netpol("p", spec, "ml"))) == ([], [])


def test_egress_a_namespace_not_known_yet_is_a_note_and_the_rest_is_checked():
    outcome = egress_outcome(netpol("p", DENY_ALL, UNKNOWN_STRING), netpol("deny", DENY_ALL, "ml"))
    assert messages(outcome) == ([EGRESS_VIOLATION.format("ml")], ["p: namespace is not known yet"])
    assert outcome.notes[0].urn.endswith("::p")


def test_egress_a_note_names_every_policy_not_known_yet_on_the_first():
    outcome = egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("u1", UNKNOWN_OBJECT, "ml"),
                             netpol("u2", egress(UNKNOWN_OBJECT), "ml"))
    assert messages(outcome) == ([], ["namespace ml: the egress rules of u1, u2 are not known yet"])
    assert outcome.notes[0].urn.endswith("::u1")


@pytest.mark.parametrize("spec", [
    egress({"ports": UNKNOWN_ARRAY}),                                   # a rule's ports
    egress({"ports": [{"port": 53}, {"port": UNKNOWN_NUMBER}]}),        # one port
    egress(UNKNOWN_OBJECT),                                             # a rule
])
def test_egress_an_unknown_rule_part_beside_a_deny_all_is_a_note(spec):
    assert messages(egress_outcome(netpol("deny", DENY_ALL, "ml"), netpol("u", spec, "ml"))) == (
        [], ["namespace ml: the egress rules of u are not known yet"])


@pytest.mark.parametrize("spec", [
    {"podSelector": {}, "policyTypes": ["Egress"], "egress": UNKNOWN_ARRAY},
    {"podSelector": {}, "policyTypes": [UNKNOWN_STRING]},                       # one type not known yet
    {"podSelector": {}, "policyTypes": UNKNOWN_ARRAY, "egress": []},
])
def test_egress_an_unknown_that_may_deny_all_is_a_note(spec):
    assert messages(egress_outcome(netpol("u", spec, "ml"))) == (
        [], ["namespace ml: the egress rules of u are not known yet"])


@pytest.mark.parametrize("spec", [
    {"podSelector": {}, "policyTypes": ["Ingress"], "egress": UNKNOWN_ARRAY},    # egress not restricted
    {"podSelector": {}, "policyTypes": UNKNOWN_ARRAY, "egress": [{"ports": [{"port": 53}]}]},  # has a rule
    egress({"ports": [{"port": UNKNOWN_NUMBER}]}),                            # no deny-all to rescue
])
def test_egress_an_unknown_that_cannot_deny_all_is_no_note(spec):
    assert messages(egress_outcome(netpol("u", spec, "ml"))) == ([], [])


# ---- gpu-pool-cluster-addons --------------------------------------------------------------------
PLUGIN = (RELEASE, {"name": "nvidia-device-plugin", "chart": "nvidia-device-plugin"}, "plugin")
AUTOSCALER = (RELEASE, {"name": "cluster-autoscaler", "chart": "cluster-autoscaler"}, "autoscaler")
NO_PLUGIN = ("{}: a GPU node pool but no NVIDIA device plugin (Helm release or DaemonSet): the nodes never advertise "
             "nvidia.com/gpu and GPU pods never schedule")
NO_AUTOSCALER = ("{}: a GPU pool that may scale (min != max) but no cluster-autoscaler or Karpenter: nothing ever "
                 "changes its size, pending GPU pods wait forever")
PLUGIN_UNKNOWN = ("{}: whether the NVIDIA device plugin is installed cannot be told (a chart, release name, image or "
                  "add-on name is not known yet)")
AUTOSCALER_UNKNOWN = ("{}: whether a cluster-autoscaler or Karpenter is installed cannot be told (a chart, release "
                      "name, image or add-on name is not known yet)")


def gpu(*resources) -> tuple[list[str], list[str]]:
    return stack("gpu-pool-cluster-addons", *resources)


def group(name: str, *types, minimum=0, maximum=2) -> tuple:
    return (NODE_GROUP, {"instanceTypes": list(types), "scalingConfig": {"minSize": minimum, "maxSize": maximum}},
            name)


@pytest.mark.parametrize("instance_type", ["g5.xlarge", "g4dn.xlarge", "gr6.4xlarge", "p4d.24xlarge", "p5.48xlarge",
                                           "g6e.2xlarge"])
def test_gpu_instance_families_make_a_gpu_pool(instance_type):
    assert gpu(group("ng", "m6i.large", instance_type)) == ([NO_PLUGIN.format("ng"), NO_AUTOSCALER.format("ng")], [])


@pytest.mark.parametrize("instance_type", ["m6g.large", "c6gn.large", "x2gd.xlarge", "inf2.xlarge", "g5", "pg5.large",
                                           "grx.large"])
def test_other_instance_families_are_no_gpu_pool(instance_type):
    assert gpu(group("ng", instance_type)) == ([], [])


def test_gpu_pool_is_reported_on_the_first_pool_and_every_scalable_one_is_checked():
    pools = [group("fixed", "g5.xlarge", minimum=1, maximum=1), group("second", "g5.xlarge", minimum=0, maximum=3)]
    assert gpu(*pools) == ([NO_PLUGIN.format("fixed"), NO_AUTOSCALER.format("second")], [])
    assert gpu(*pools, PLUGIN) == ([NO_AUTOSCALER.format("second")], [])
    assert gpu(group("s", "g5.xlarge", minimum="1", maximum=1.0), PLUGIN) == ([], [])


def test_gpu_asg_sizes_are_its_own_and_a_node_groups_its_scaling_config():
    asg = (ASG, {"minSize": 1, "maxSize": 3, "scalingConfig": {"minSize": 1, "maxSize": 1},
                 "mixedInstancesPolicy": {"launchTemplate": {"overrides": [{"instanceType": "p5.48xlarge"}]}}}, "asg")
    assert gpu(asg, PLUGIN) == ([NO_AUTOSCALER.format("asg")], [])
    ng = (NODE_GROUP, {"instanceTypes": ["g5.xlarge"], "minSize": 1, "maxSize": 3,
                       "scalingConfig": {"minSize": 2, "maxSize": 2}}, "ng")
    assert gpu(ng, PLUGIN) == ([], [])


@pytest.mark.parametrize("template_ref", [
    {"launchTemplate": {"id": "lt-1"}},
    {"mixedInstancesPolicy": {"launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1"}}}},
])
def test_gpu_a_pool_takes_its_instance_type_from_its_launch_template(template_ref):
    template = (LT, {"id": "lt-1", "instanceType": "g5.xlarge"}, "lt")
    pool = (ASG, {"minSize": 0, "maxSize": 2, **template_ref}, "pool")
    assert gpu(template, pool, AUTOSCALER) == ([NO_PLUGIN.format("pool")], [])
    other = (LT, {"id": "lt-2", "instanceType": "g5.xlarge"}, "lt2")
    assert gpu(other, pool, AUTOSCALER) == ([], [])
    cpu = (LT, {"id": "lt-1", "instanceType": "m6i.large"}, "lt")
    assert gpu(cpu, pool, AUTOSCALER) == ([], [])
    not_a_template = ("aws:ec2/instance:Instance", {"id": "lt-1", "instanceType": "g5.xlarge"}, "i")
    assert gpu(not_a_template, pool, AUTOSCALER) == ([], [])


def test_gpu_a_launch_templates_instance_type_not_known_yet_is_a_note_not_a_pass():
    # the template's instanceType not known yet was skipped (not a str): the pool passed without a device plugin
    template = (LT, {"id": "lt-1", "instanceType": UNKNOWN_STRING}, "lt")
    pool = (ASG, {"minSize": 0, "maxSize": 2, "launchTemplate": {"id": "lt-1"}}, "pool")
    assert gpu(template, pool, AUTOSCALER) == ([], [
        "pool: the launch template's instanceType is not known yet, so whether it is a GPU pool cannot be told"])
    assert gpu(template, pool, AUTOSCALER, PLUGIN) == ([], [])


def test_gpu_several_unknowns_of_a_pool_are_named_together():
    ng = (NODE_GROUP, {"instanceTypes": UNKNOWN_ARRAY, "launchTemplate": {"id": UNKNOWN_STRING},
                       "scalingConfig": {"minSize": 0, "maxSize": 2}}, "ng")
    assert gpu(ng) == ([], ["ng: instanceTypes, the launch template are not known yet, so whether it is a GPU pool "
                            "cannot be told"])
    one_type = (NODE_GROUP, {"instanceTypes": ["m6i.large", UNKNOWN_STRING], "scalingConfig": {"minSize": 0,
                                                                                               "maxSize": 2}}, "ng")
    assert gpu(one_type) == ([], ["ng: instanceTypes is not known yet, so whether it is a GPU pool cannot be told"])


@pytest.mark.parametrize("sizes, addons, noted", [
    ((0, 2), (PLUGIN,), True),                     # may scale, no autoscaler
    ((0, 2), (AUTOSCALER,), True),                 # no plugin
    ((0, 2), (PLUGIN, AUTOSCALER), False),
    ((2, 2), (PLUGIN,), False),                    # fixed size: the plugin is enough
    ((2, 2), (), True),
    ((UNKNOWN_NUMBER, 2), (PLUGIN,), True),        # a size not known yet may scale
    ((2, UNKNOWN_NUMBER), (PLUGIN,), True),
])
def test_gpu_an_undecided_pool_is_noted_only_where_a_gpu_pool_would_fail(sizes, addons, noted):
    pool = (NODE_GROUP, {"instanceTypes": UNKNOWN_ARRAY, "scalingConfig": {"minSize": sizes[0], "maxSize": sizes[1]}},
            "ng")
    note = "ng: instanceTypes is not known yet, so whether it is a GPU pool cannot be told"
    assert gpu(pool, *addons) == ([], [note] if noted else [])


@pytest.mark.parametrize("addon", [
    (RELEASE, {"name": "x", "chart": "oci://ghcr.io/nvidia/k8s-device-plugin"}, "a"),
    ("kubernetes:helm.sh/v3:Chart", {"chart": "gpu-operator"}, "a"),
    ("kubernetes:helm.sh/v4:Chart", {"name": "nvidia-device-plugin", "chart": "other"}, "a"),
    ("kubernetes:apps/v1:DaemonSet", {"spec": {"template": {"spec": {"containers": [
        {"image": "busybox"}, {"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17"}]}}}}, "a"),
    ("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": {"containers": [
        {"image": "nvcr.io/nvidia/gpu-operator:v24"}]}}}}, "a"),
])
def test_gpu_device_plugin_found_in_any_release_chart_or_workload(addon):
    assert gpu(group("ng", "g5.xlarge"), addon, AUTOSCALER) == ([], [])


@pytest.mark.parametrize("addon", [
    ("aws:eks/addon:Addon", {"addonName": "karpenter"}, "a"),
    ("kubernetes:helm.sh/v4:Chart", {"chart": "oci://registry.k8s.io/autoscaling/cluster-autoscaler"}, "a"),
    ("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": {"containers": [
        {"image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.0"}]}}}}, "a"),
])
def test_gpu_autoscaler_found_in_any_release_chart_workload_or_add_on(addon):
    assert gpu(group("ng", "g5.xlarge"), addon, PLUGIN) == ([], [])


def test_gpu_an_add_on_name_in_a_resource_of_another_type_counts_for_nothing():
    elsewhere = ("kubernetes:core/v1:ConfigMap", {"name": "nvidia-device-plugin", "chart": "cluster-autoscaler",
                                                  "addonName": "karpenter"}, "cm")
    assert gpu(group("ng", "g5.xlarge"), elsewhere) == ([NO_PLUGIN.format("ng"), NO_AUTOSCALER.format("ng")], [])
    release_addon = (RELEASE, {"addonName": "karpenter", "chart": "other"}, "r")
    assert gpu(group("ng", "g5.xlarge"), release_addon, PLUGIN) == ([NO_AUTOSCALER.format("ng")], [])


def test_gpu_add_ons_not_known_yet_are_notes_on_the_right_pool():
    containers_unknown = ("kubernetes:apps/v1:DaemonSet", {"spec": {"template": {"spec": {"containers":
                                                                                          UNKNOWN_ARRAY}}}}, "ds")
    pools = [group("fixed", "g5.xlarge", minimum=1, maximum=1), group("scaling", "g5.xlarge", minimum=0, maximum=3)]
    outcome = evaluate_stack("gpu-pool-cluster-addons", [*pools, containers_unknown])
    assert messages(outcome) == ([], [PLUGIN_UNKNOWN.format("fixed"), AUTOSCALER_UNKNOWN.format("scaling")])
    assert [n.urn.rsplit("::", 1)[1] for n in outcome.notes] == ["fixed", "scaling"]
    addon_unknown = ("aws:eks/addon:Addon", {"addonName": UNKNOWN_STRING}, "addon")
    assert gpu(*pools, addon_unknown, PLUGIN) == ([], [AUTOSCALER_UNKNOWN.format("scaling")])
    # a known add-on settles it whatever else is not known yet, and a fixed pool needs no autoscaler
    assert gpu(*pools, addon_unknown, PLUGIN, AUTOSCALER) == ([], [])
    assert gpu(pools[0], addon_unknown, PLUGIN) == ([], [])


def test_gpu_violations_name_the_offending_pool():
    outcome = evaluate_stack("gpu-pool-cluster-addons", [group("fixed", "g5.xlarge", minimum=1, maximum=1),
                                                         group("scaling", "g5.xlarge", minimum=0, maximum=3)])
    assert [v.urn.rsplit("::", 1)[1] for v in outcome.violations] == ["fixed", "scaling"]
    undecided = (NODE_GROUP, {"instanceTypes": UNKNOWN_ARRAY}, "u")
    assert evaluate_stack("gpu-pool-cluster-addons", [undecided]).notes[0].urn.endswith("::u")
