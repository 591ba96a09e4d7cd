"""Identity rules: every statement of every IAM document, JSON strings and dicts, attachments, trust."""
from __future__ import annotations

import json

import pytest
from policy_helpers import assert_passes, assert_violates, evaluate

POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SCOPED = {"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_admin_wildcard_dict_document_second_statement():
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    messages = assert_violates("iam-no-admin-wildcard", POLICY, {"policy": doc(SCOPED, admin)},
                               contains="statement 2")
    assert len(messages) == 1


def test_admin_wildcard_passes_on_scoped_or_deny():
    deny_all = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    assert_passes("iam-no-admin-wildcard", POLICY, {"policy": json.dumps(doc(SCOPED, deny_all))})


def test_admin_wildcard_in_role_inline_policy_and_single_statement_object():
    inline = [{"name": "ok", "policy": json.dumps(doc(SCOPED))},
              {"name": "too-broad", "policy": json.dumps({"Statement": {"Effect": "Allow", "Action": ["*"],
                                                                      "Resource": ["*"]}})}]
    assert_violates("iam-no-admin-wildcard", ROLE, {"inlinePolicies": inline}, contains="too-broad")


def test_unparseable_document_is_a_note_not_a_pass():
    outcome = evaluate("iam-no-admin-wildcard", ROLE_POLICY, {"policy": "{oops"})
    assert not outcome.violations and outcome.notes


def test_service_wildcard_on_all_resources():
    assert_violates("iam-no-service-wildcard-on-all", ROLE_POLICY,
                    {"policy": doc(SCOPED, {"Effect": "Allow", "Action": ["s3:GetObject", "sagemaker:*"],
                                            "Resource": "*"})}, contains="sagemaker:*")
    assert_passes("iam-no-service-wildcard-on-all", ROLE_POLICY,
                  {"policy": doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*"},
                                 {"Effect": "Allow", "Action": "sagemaker:ListModelPackages", "Resource": "*"})})


@pytest.mark.parametrize("arn", ["arn:aws:iam::aws:policy/AdministratorAccess",
                                 "arn:aws:iam::aws:policy/PowerUserAccess"])
def test_admin_managed_policy_attachment(arn):
    assert_violates("iam-no-admin-managed-policy", ATTACHMENT, {"role": "r", "policyArn": arn})


def test_admin_managed_policy_passes_and_checks_every_exclusive_arn():
    assert_passes("iam-no-admin-managed-policy", ATTACHMENT,
                  {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"})
    assert_violates("iam-no-admin-managed-policy",
                    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                    {"roleName": "r", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess",
                                                     "arn:aws:iam::aws:policy/AdministratorAccess"]})


def test_trust_not_public():
    service = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert_passes("iam-trust-not-public", ROLE, {"assumeRolePolicy": json.dumps(doc(service))})
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    assert_violates("iam-trust-not-public", ROLE, {"assumeRolePolicy": json.dumps(doc(service, anyone))},
                    contains="statement 2")
    assert_violates("iam-trust-not-public", ROLE, {"assumeRolePolicy": doc({**anyone, "Principal": "*"})})


def test_passrole_scoped():
    scoped = {"Effect": "Allow", "Action": "iam:PassRole",
              "Resource": "arn:aws:iam::123456789012:role/modelway-prod-sagemaker-execution",
              "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}
    assert_passes("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(SCOPED, scoped)})
    for resource in ("*", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::*:role/execution"):
        assert_violates("iam-passrole-scoped", ROLE_POLICY,
                        {"policy": doc(SCOPED, {**scoped, "Resource": resource})}, contains="iam:PassRole")
    # iam:Pass* also grants PassRole
    assert_violates("iam-passrole-scoped", POLICY,
                    {"policy": doc({"Effect": "Allow", "Action": ["iam:Pass*"], "Resource": "*"})})


def test_admin_wildcard_in_resource_policies_too():
    everything = {"Sid": "Everything", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                  "Action": "*", "Resource": "*"}
    assert_violates("iam-no-admin-wildcard", "aws:s3/bucketPolicy:BucketPolicy",
                    {"bucket": "b", "policy": json.dumps(doc(everything))}, contains="Everything")
    default_key_policy = {**everything, "Sid": "EnableRoot", "Action": "kms:*"}
    assert_passes("iam-no-admin-wildcard", "aws:kms/key:Key", {"policy": doc(default_key_policy)})
