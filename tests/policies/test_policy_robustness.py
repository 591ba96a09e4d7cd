"""No rule crashes on malformed, missing or unknown values: each one answers with violations
or notes. Every key any rule reads is filled with odd values of every shape."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policies.catalog import RESOURCE_POLICIES, STACK_POLICIES
from policies.core import INTERNAL_ERROR
from policies.harness import policy_resource, resource_args, stack_args

SOURCES = Path(__file__).resolve().parents[2] / "policies"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
ODD_VALUES = [None, "", "0", "not json {", 0, -3, 2.5, True, False, [], [None], [1, "x"], {}, {"a": None},
              UNKNOWN_STRING, UNKNOWN_OBJECT, [UNKNOWN_OBJECT], {"rule": UNKNOWN_OBJECT},
              [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}], "*"]


# Structured documents whose inner fields have odd shapes (policy documents, pipeline definitions).
def _documents(value: object) -> list[object]:
    statement = {"Sid": value, "Effect": value, "Action": value, "Resource": value, "Principal": value,
                 "Condition": value}
    step = {"Name": "s", "Type": "Training", "DependsOn": value, "Arguments": value, "CheckType": value}
    register = {"Name": "r", "Type": "RegisterModel", "Arguments": {"ModelPackageGroupName": value,
                                                                      "ModelApprovalStatus": value}}
    return [
        json.dumps({"Statement": value}, default=str), json.dumps({"Statement": [statement]}, default=str),
        {"Statement": [statement, {"Effect": "Deny", "Condition": {"Bool": value}}]},
        json.dumps({"Steps": value, "Parameters": value}, default=str),
        json.dumps({"Steps": [step, register, {"Name": "c", "Type": "Condition",
                                               "Arguments": {"IfSteps": value, "ElseSteps": [register]}}]},
                   default=str),
    ]


def _keys_read_by_rules() -> list[str]:
    text = "\n".join(path.read_text() for path in SOURCES.glob("*.py"))
    keys = set(re.findall(r'(?:props|\.props)\.get\("(\w+)"', text))
    keys |= set(re.findall(r'get\((?:props|[\w.]*props), "(\w+)"', text))
    return sorted(keys)


KEYS = _keys_read_by_rules()
STACK_TYPES = sorted({t for p in RESOURCE_POLICIES if len(p.resource_types) < 50 for t in p.resource_types} | {
    "aws:s3/bucket:Bucket", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:autoscaling/group:Group",
    "aws:eks/nodeGroup:NodeGroup", "aws:budgets/budget:Budget", "aws:sagemaker/pipeline:Pipeline",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:ssm/parameter:Parameter",
    "kubernetes:core/v1:ResourceQuota", "kubernetes:batch/v1:Job"})


def test_an_unanticipated_value_is_a_visible_note_not_a_crash(monkeypatch):
    from policies.catalog import by_name

    policy = by_name("kms-key-rotation")
    monkeypatch.setattr(policy, "check", lambda *args: iter([1 / 0]))
    [note] = policy.evaluate(resource_args("aws:kms/key:Key", {})).notes
    assert note.message.startswith("could not evaluate (ZeroDivisionError")


def test_the_key_scan_found_the_rules_inputs():
    assert {"policy", "rules", "bucket", "metadataOptions", "enableKeyRotation", "pipelineDefinition"} <= set(KEYS)


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_resource_rules_never_crash(value):
    props = {key: value for key in KEYS}
    crashes = []
    for policy in RESOURCE_POLICIES:
        for resource_type in sorted(policy.resource_types)[:3]:
            outcome = policy.evaluate(resource_args(resource_type, props, provider_props={"defaultTags": value}))
            crashes += [f"{policy.name} on {resource_type}: {n.message}" for n in outcome.notes
                        if n.message.startswith(INTERNAL_ERROR)]
    assert crashes == []


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_rules_never_crash_on_odd_documents(value):
    crashes = []
    for document in _documents(value):
        props = {"policy": document, "assumeRolePolicy": document, "pipelineDefinition": document,
                 "inlinePolicies": [{"name": "x", "policy": document}], "bucket": "b"}
        for policy in RESOURCE_POLICIES:
            for resource_type in sorted(policy.resource_types)[:3]:
                outcome = policy.evaluate(resource_args(resource_type, props))
                crashes += [f"{policy.name}: {n.message}" for n in outcome.notes if n.message.startswith(INTERNAL_ERROR)]
        resources = [policy_resource(t, props, name=f"r{i}") for i, t in enumerate(STACK_TYPES)]
        for policy in STACK_POLICIES:
            outcome = policy.evaluate(stack_args(resources))
            crashes += [f"{policy.name}: {n.message}" for n in outcome.notes if n.message.startswith(INTERNAL_ERROR)]
    assert crashes == []


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_stack_rules_never_crash(value):
    props = {key: value for key in KEYS}
    resources = [policy_resource(t, props, name=f"r{i}") for i, t in enumerate(STACK_TYPES)]
    crashes = []
    for policy in STACK_POLICIES:
        outcome = policy.evaluate(stack_args(resources))
        crashes += [f"{policy.name}: {n.message}" for n in outcome.notes if n.message.startswith(INTERNAL_ERROR)]
    assert crashes == []


# A value not known yet (e.g. during `pulumi preview`) inside a document or an RBAC rule could be
# the very "*" a rule looks for: it must be a note, never a clean pass.
UNKNOWN_PARTS = [
    ("iam-passrole-scoped", "aws:iam/policy:Policy", {"policy": {"Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": UNKNOWN_STRING}]}}),
    ("iam-no-admin-wildcard", "aws:iam/policy:Policy", {"policy": {"Statement": [
        {"Effect": "Allow", "Action": [UNKNOWN_STRING], "Resource": "*"}]}}),
    ("iam-no-admin-wildcard", "aws:iam/policy:Policy", {"policy": {"Statement": [
        {"Effect": UNKNOWN_STRING, "Action": "*", "Resource": "*"}]}}),
    ("iam-trust-not-public", "aws:iam/role:Role", {"assumeRolePolicy": {"Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": UNKNOWN_STRING}}]}}),
    ("kms-no-public-principal", "aws:kms/key:Key", {"policy": {"Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Principal": UNKNOWN_STRING}]}}),
    ("ecr-no-public-policy", "aws:ecr/repositoryPolicy:RepositoryPolicy", {"policy": {"Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Principal": [UNKNOWN_STRING]}]}}),
    ("k8s-rbac-no-wildcards", "kubernetes:rbac.authorization.k8s.io/v1:Role", {"rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": [UNKNOWN_STRING], "verbs": ["get"]}]}),
    ("k8s-rbac-no-escalation-verbs", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", {"rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": UNKNOWN_STRING}]}),
    ("eks-secrets-encryption", "aws:eks/cluster:Cluster", {"encryptionConfig": {
        "resources": ["secrets"], "provider": {"keyArn": UNKNOWN_STRING}}}),
    ("eks-no-open-public-endpoint", "aws:eks/cluster:Cluster", {"vpcConfig": {
        "endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8", UNKNOWN_STRING]}}),
]


@pytest.mark.parametrize(("policy", "resource_type", "props"), UNKNOWN_PARTS, ids=lambda v: v if isinstance(v, str) else "")
def test_unknown_parts_of_documents_and_rules_are_notes_not_passes(policy, resource_type, props):
    from policies.catalog import by_name

    outcome = by_name(policy).evaluate(resource_args(resource_type, props))
    assert outcome.notes and not outcome.violations, (policy, outcome)


def test_a_known_public_principal_still_violates_beside_an_unknown_one():
    from policies.catalog import by_name

    props = {"assumeRolePolicy": {"Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": [UNKNOWN_STRING, "*"]}}]}}
    outcome = by_name("iam-trust-not-public").evaluate(resource_args("aws:iam/role:Role", props))
    assert [v.message for v in outcome.violations] == ['trust policy statement 1 lets any principal ("*") assume the role']
