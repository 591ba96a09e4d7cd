"""Pins on the identity rules' decisions that mutation testing found loose (``make mutate``).

Each test asserts what a user reads, word for word (every violation and every note), on both
sides of each boundary and for every element (document, statement, action, resource, ARN), so a
one-point change of a rule (a flipped comparison, a dropped condition, a skipped element, an
unknown value read as absent) fails one of them.
"""
from __future__ import annotations

import json

import pytest
from policy_helpers import evaluate

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "string not known yet"
UNKNOWN_LIST = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"    # "array not known yet"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # "object not known yet"

POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
SCOPED = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::data/*"}


def messages(policy: str, resource_type: str, props: dict, **kwargs) -> tuple[list[str], list[str]]:
    """(violations, notes) of a rule, as the user reads them."""
    outcome = evaluate(policy, resource_type, props, **kwargs)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def doc(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --- statements not known yet: never a clean pass ---------------------------------------------------
def test_a_statement_not_known_yet_is_a_note_and_the_others_are_still_checked():
    # statements() skips what is not a dict, UNKNOWN included: an unknown statement passed silently
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc(SCOPED, UNKNOWN_OBJECT, ALL)}) == (
        ['statement 3 allows Action "*" on Resource "*"'], ["policy statement 2 is not known yet"])


def test_a_statement_list_not_known_yet_is_a_note():
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": {"Statement": UNKNOWN_LIST}}) == (
        [], ["policy statements are not known yet"])
    # and the next document is still checked
    inline = [{"name": "mixed", "policy": {"Statement": UNKNOWN_LIST}}, {"name": "admin", "policy": doc(ALL)}]
    assert messages("iam-no-admin-wildcard", ROLE, {"inlinePolicies": inline}) == (
        ['inline policy admin statement 1 allows Action "*" on Resource "*"'],
        ["inline policy mixed statements are not known yet"])


def test_a_trust_statement_not_known_yet_is_a_note():
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": doc(UNKNOWN_OBJECT, anyone)}) == (
        ['trust policy statement 2 lets any principal ("*") assume the role'],
        ["assumeRolePolicy statement 1 is not known yet"])
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": {"Statement": UNKNOWN_LIST}}) == (
        [], ["assumeRolePolicy statements are not known yet"])


def test_an_attached_policy_arn_not_known_yet_in_a_list_is_a_note():
    # str_list() drops UNKNOWN: a list of one known harmless ARN and one not known yet passed
    props = {"roleName": "r", "policyArns": [READ_ONLY, UNKNOWN_STRING]}
    exclusive = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
    assert messages("iam-no-admin-managed-policy", exclusive, props) == (
        [], ["an attached policy ARN is not known yet"])
    props["policyArns"].append(ADMIN)
    assert messages("iam-no-admin-managed-policy", exclusive, props) == (
        [f"attaches AdministratorAccess ({ADMIN}); grant least-privilege policies instead"],
        ["an attached policy ARN is not known yet"])


# --- iam-passrole-scoped: a wildcard before ":iam::" ---------------------------------------------
PASS_ROLE = "allows iam:PassRole on {}; name specific role ARNs"


@pytest.mark.parametrize("resource", ["arn:aws:*", "arn:*", "arn:aws:iam:*", "arn:aws-cn:*", "a*", "arn:aws:i?m::*"])
def test_passrole_on_a_pattern_that_matches_every_role_arn_is_loose(resource):
    # only "*" and resources containing ":iam::" counted: "arn:aws:*" (every ARN, every role) passed
    statement = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [resource]}
    assert messages("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(statement)}) == (
        [f"statement 1 {PASS_ROLE.format(resource)}"], [])


# --- documents: every resource type, field and label ----------------------------------------------
IDENTITY_TYPES = ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy",
                  "aws:iam/groupPolicy:GroupPolicy"]
RESOURCE_POLICY_TYPES = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy", "aws:kms/key:Key": "policy", "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy", "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy", "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": "resourcePolicy",
}


@pytest.mark.parametrize("resource_type, field", [*((t, "policy") for t in IDENTITY_TYPES),
                                                  *RESOURCE_POLICY_TYPES.items()])
def test_admin_wildcard_reads_each_types_document_field(resource_type, field):
    assert messages("iam-no-admin-wildcard", resource_type, {field: json.dumps(doc(SCOPED, ALL))}) == (
        ['statement 2 allows Action "*" on Resource "*"'], [])
    other = "resourcePolicy" if field == "policy" else "policy"
    assert messages("iam-no-admin-wildcard", resource_type, {other: doc(ALL)}) == ([], [])


@pytest.mark.parametrize("resource_type", IDENTITY_TYPES)
def test_the_identity_only_rules_read_each_identity_type(resource_type):
    statement = {"Effect": "Allow", "Action": ["s3:*", "iam:PassRole"], "Resource": "*"}
    assert messages("iam-no-service-wildcard-on-all", resource_type, {"policy": doc(statement)}) == (
        ['statement 1 allows s3:* on Resource "*"'], [])
    assert messages("iam-passrole-scoped", resource_type, {"policy": doc(statement)}) == (
        [f"statement 1 {PASS_ROLE.format('*')}"], [])


def test_every_inline_policy_of_a_role_is_read_and_labelled_by_name_or_position():
    inline = [{"name": "ok", "policy": json.dumps(doc(SCOPED))}, {"policy": doc(ALL)},
              {"name": "broad", "policy": doc({**ALL, "Sid": "Everything"}, ALL)}]
    assert messages("iam-no-admin-wildcard", ROLE, {"inlinePolicies": inline}) == ([
        'inline policy 2 statement 1 allows Action "*" on Resource "*"',
        'inline policy broad statement Everything allows Action "*" on Resource "*"',
        'inline policy broad statement 2 allows Action "*" on Resource "*"'], [])
    # a role's own "policy" field is no identity document of the role
    assert messages("iam-no-admin-wildcard", ROLE, {"policy": doc(ALL)}) == ([], [])


def test_unreadable_documents_are_notes_labelled_by_where_they_are():
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": "{oops"}) == (
        [], ["policy: policy document is not valid JSON (Expecting property name enclosed in double quotes at char 1)"])
    inline = [{"name": "broken", "policy": "[1]"}, {"name": "later", "policy": UNKNOWN_STRING}, {"name": "fine",
                                                                                            "policy": doc(ALL)}]
    assert messages("iam-no-admin-wildcard", ROLE, {"inlinePolicies": inline}) == (
        ['inline policy fine statement 1 allows Action "*" on Resource "*"'],
        ["inline policy broken: policy document is not a JSON object", "inline policy later is not known yet"])
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": UNKNOWN_STRING}) == ([], ["policy is not known yet"])


# --- statements: Effect, Sid, unknown parts ---------------------------------------------------------
@pytest.mark.parametrize("effect, violates", [("Allow", True), ("allow", True), (None, True), ("Deny", False),
                                              ("deny", False)])
def test_only_allow_statements_count_and_a_missing_effect_is_allow(effect, violates):
    statement = dict(ALL) if effect is None else {**ALL, "Effect": effect}
    if effect is None:
        del statement["Effect"]
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc(statement)}) == (
        ['statement 1 allows Action "*" on Resource "*"'] if violates else [], [])


def test_an_effect_not_known_yet_is_a_note_and_the_next_statement_is_still_checked():
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc({**ALL, "Effect": UNKNOWN_STRING}, ALL)}) == (
        ['statement 2 allows Action "*" on Resource "*"'], ["statement 1: Effect is not known yet"])


@pytest.mark.parametrize("unknown, note", [
    ({"Action": UNKNOWN_STRING}, "Action"), ({"Resource": [UNKNOWN_STRING]}, "Resource"),
    ({"NotAction": UNKNOWN_LIST}, "NotAction"), ({"NotResource": {"x": UNKNOWN_STRING}}, "NotResource"),
    ({"Action": [UNKNOWN_STRING], "Resource": UNKNOWN_STRING, "NotAction": UNKNOWN_STRING,
      "NotResource": UNKNOWN_STRING}, "Action and NotAction and Resource and NotResource"),
])
def test_parts_not_known_yet_are_named_in_a_note(unknown, note):
    statement = {**ALL, "Sid": "Maybe", **unknown}
    violations, notes = messages("iam-no-admin-wildcard", POLICY, {"policy": doc(statement)})
    assert notes == [f"statement Maybe: {note} not known yet"]
    # what is known is still checked: "*" on "*" is reported when both are known
    assert violations == (['statement Maybe allows Action "*" on Resource "*"'] if note in ("NotAction", "NotResource")
                          else [])


def test_a_deny_with_unknown_parts_is_no_note():
    deny = {"Effect": "Deny", "Action": UNKNOWN_STRING, "Resource": "*"}
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc(deny)}) == ([], [])


def test_a_statement_that_is_no_object_is_skipped_but_keeps_its_position():
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc("junk", None, ALL)}) == (
        ['statement 3 allows Action "*" on Resource "*"'], [])
    # one statement given alone (not in a list) is statement 1
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": {"Statement": ALL}}) == (
        ['statement 1 allows Action "*" on Resource "*"'], [])
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": {"Version": "2012-10-17"}}) == ([], [])


# --- iam-no-admin-wildcard ------------------------------------------------------------------------
@pytest.mark.parametrize("action, resource, violates", [
    ("*", "*", True), (["s3:GetObject", "*"], ["arn:aws:s3:::data", "*"], True),
    ("*", "arn:aws:s3:::data/*", False), ("s3:*", "*", False), ("*:*", "*", False), (["*"], [], False),
])
def test_admin_wildcard_needs_star_action_and_star_resource(action, resource, violates):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    assert messages("iam-no-admin-wildcard", POLICY, {"policy": doc(statement)}) == (
        ['statement 1 allows Action "*" on Resource "*"'] if violates else [], [])


# --- iam-no-service-wildcard-on-all ---------------------------------------------------------------
@pytest.mark.parametrize("actions, wild", [
    (["s3:*"], ["s3:*"]), (["S3:*", "sagemaker:*", "s3:GetObject"], ["S3:*", "sagemaker:*"]),
    (["resource-groups:*", "ec2:*"], ["resource-groups:*", "ec2:*"]), (["s3:Get*"], []), (["*"], []),
    ([":*"], []), (["s3:**"], []), (["s3:*x"], []), (["s3*"], []), (["s_3:*"], []), (["s3:Get*", "s3:*:"], []),
])
def test_service_wildcards_on_every_resource(actions, wild):
    statement = {"Effect": "Allow", "Action": actions, "Resource": ["arn:aws:s3:::data", "*"]}
    assert messages("iam-no-service-wildcard-on-all", ROLE_POLICY, {"policy": doc(SCOPED, statement)}) == (
        [f'statement 2 allows {", ".join(wild)} on Resource "*"'] if wild else [], [])


def test_service_wildcards_on_specific_resources_pass():
    statement = {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}
    assert messages("iam-no-service-wildcard-on-all", ROLE_POLICY, {"policy": doc(statement, SCOPED)}) == ([], [])
    assert messages("iam-no-service-wildcard-on-all", ROLE_POLICY, {"policy": doc({**statement, "Resource": []})}) == (
        [], [])


# --- iam-passrole-scoped --------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["iam:PassRole", "iam:passrole", "IAM:PASSROLE", "iam:*", "*", "iam:Pass*",
                                    "iam:?assRole", "i*"])
def test_every_action_that_grants_passrole_is_checked(action):
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", action], "Resource": "*"}
    assert messages("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(SCOPED, statement)}) == (
        [f"statement 2 {PASS_ROLE.format('*')}"], [])


@pytest.mark.parametrize("action", ["iam:PassRoles", "iam:GetRole", "s3:*", "xiam:PassRole", "iam:PassRol"])
def test_actions_that_do_not_grant_passrole_are_not_checked(action):
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    assert messages("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(statement)}) == ([], [])


@pytest.mark.parametrize("resource, loose", [
    ("*", True), ("arn:aws:iam::123456789012:role/*", True), ("arn:aws:iam::*:role/execution", True),
    ("arn:aws:iam::123456789012:role/team-?", True), ("arn:aws:iam::123456789012:role/", True),
    ("arn:aws:iam::12345678901:role/execution", True),             # 11 digits: no account
    ("arn:aws:iam::1234567890123:role/execution", True),
    ("arn:aws:iam::123456789012:user/execution", True), ("arn:aws:iam::123456789012:role/team/*", True),
    ("arn:aws:iam::${AWS::AccountId}:role/*", True),
    ("arn:aws:iam::123456789012:role/execution", False), ("arn:aws-cn:iam::123456789012:role/execution", False),
    ("arn:aws-us-gov:iam::123456789012:role/team/execution", False),
    ("arn:aws:iam::${AWS::AccountId}:role/execution", False), ("arn:aws:iam::123456789012:role/a", False),
    ("arn:aws:s3:::data/*", False), ("arn:aws:lambda:*", False), ("arn:aws:s3:::*", False), ("b*", False),
    ("arn:gcp:*", False), ("role/*", False), ("arn:aws:s3:::data", False), ("execution", False),
])
def test_passrole_resources_that_can_name_other_roles_are_loose(resource, loose):
    statement = {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": [resource, "arn:aws:iam::123456789012:role/execution"]}
    assert messages("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(statement)}) == (
        [f"statement Pass {PASS_ROLE.format(resource)}"] if loose else [], [])


def test_every_loose_passrole_resource_is_named_in_order():
    statement = {"Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": ["arn:aws:iam::*:role/a", "arn:aws:iam::123456789012:role/b", "*"]}
    assert messages("iam-passrole-scoped", ROLE_POLICY, {"policy": doc(statement)}) == (
        [f"statement 1 {PASS_ROLE.format('arn:aws:iam::*:role/a, *')}"], [])


# --- iam-no-admin-managed-policy ------------------------------------------------------------------
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/role:Role": "managedPolicyArns",
}


def attaches(arn: str) -> str:
    return f"attaches {arn.rsplit('/', 1)[-1]} ({arn}); grant least-privilege policies instead"


@pytest.mark.parametrize("resource_type, field", ATTACHMENTS.items())
def test_admin_managed_policy_reads_each_types_field(resource_type, field):
    power = "arn:aws:iam::aws:policy/PowerUserAccess"
    assert messages("iam-no-admin-managed-policy", resource_type, {field: [READ_ONLY, ADMIN, power]}) == (
        [attaches(ADMIN), attaches(power)], [])
    assert messages("iam-no-admin-managed-policy", resource_type, {field: ADMIN}) == ([attaches(ADMIN)], [])
    assert messages("iam-no-admin-managed-policy", resource_type, {field: UNKNOWN_STRING}) == (
        [], ["attached policy ARN is not known yet"])
    assert messages("iam-no-admin-managed-policy", resource_type, {}) == ([], [])


@pytest.mark.parametrize("arn, admin", [
    ("arn:aws:iam::aws:policy/AdministratorAccess", True), ("arn:aws-cn:iam::aws:policy/PowerUserAccess", True),
    ("arn:aws:iam::123456789012:policy/AdministratorAccess", True),
    ("arn:aws:iam::aws:policy/AdministratorAccess-Amplify", False),
    ("arn:aws:iam::aws:policy/job-function/AdministratorAccessX", False),
    ("arn:aws:iam::aws:policy/MyAdministratorAccess", False),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", False), ("AdministratorAccess", False),
])
def test_only_the_admin_managed_policies_are_refused(arn, admin):
    assert messages("iam-no-admin-managed-policy", ATTACHMENT, {"role": "r", "policyArn": arn}) == (
        [attaches(arn)] if admin else [], [])


# --- iam-trust-not-public -------------------------------------------------------------------------
def test_every_public_trust_statement_is_named_and_a_note_passed_on():
    anyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    service = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    maybe = {"Effect": "Allow", "Principal": {"AWS": UNKNOWN_STRING}, "Action": "sts:AssumeRole"}
    trust = doc({**anyone, "Sid": "Anyone"}, service, maybe, {**anyone, "Principal": "*"})
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": trust}) == (
        ['trust policy statement Anyone lets any principal ("*") assume the role',
         'trust policy statement 4 lets any principal ("*") assume the role'],
        ["assumeRolePolicy statement 3: Effect or Principal is not known yet"])
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": UNKNOWN_STRING}) == (
        [], ["assumeRolePolicy is not known yet"])
    assert messages("iam-trust-not-public", ROLE, {"assumeRolePolicy": json.dumps(doc(service))}) == ([], [])


@pytest.mark.parametrize("policy, statement, violation", [
    ("iam-no-service-wildcard-on-all", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
     'statement 2 allows s3:* on Resource "*"'),
    ("iam-passrole-scoped", {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
     f"statement 2 {PASS_ROLE.format('*')}"),
    ("iam-no-admin-wildcard", ALL, 'statement 2 allows Action "*" on Resource "*"'),
])
def test_statements_after_a_note_are_still_checked(policy, statement, violation):
    maybe = {**statement, "Effect": UNKNOWN_STRING}
    assert messages(policy, ROLE_POLICY, {"policy": doc(maybe, statement)}) == (
        [violation], ["statement 1: Effect is not known yet"])
