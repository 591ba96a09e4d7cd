"""Identity rules: IAM policy documents, managed-policy attachments and role trust policies.

Every statement of every document is inspected; documents may arrive as JSON strings (as
``aws.iam.get_policy_document(...).json`` or ``json.dumps``) or as dicts.

Example:
    >>> doc = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    >>> list(check_iam_no_admin_wildcard("aws:iam/policy:Policy", {"policy": doc}, None))
    ['statement 1 allows Action "*" on Resource "*"']
"""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterator, Mapping

from .core import Context, Note, ResourceRule, Severity
from .documents import has_unknown, public_allows, read_document
from .values import UNKNOWN, as_list, get, is_allow, str_list

# Identity-policy documents: where they sit on each resource type.
DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies",),
}
# Resource-based policies: "any policy document" for the admin-wildcard rule.
RESOURCE_DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "aws:s3/bucketPolicy:BucketPolicy": ("policy",),
    "aws:kms/key:Key": ("policy",),
    "aws:kms/keyPolicy:KeyPolicy": ("policy",),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy",),
    "aws:ecr/registryPolicy:RegistryPolicy": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("resourcePolicy",),
}
ATTACHMENT_TYPES: dict[str, str] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": "policyArns",
    "aws:iam/role:Role": "managedPolicyArns",
}
ADMIN_MANAGED_POLICIES = re.compile(r":policy/(AdministratorAccess|PowerUserAccess)$")
SERVICE_WILDCARD = re.compile(r"^[a-z0-9-]+:\*$", re.IGNORECASE)
SCOPED_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\$\{[^}]+\}):role/[^*?]*[^*?/][^*?]*$")
# A Resource pattern's text before its first wildcard that may still continue as "arn:<partition>:iam::"
# (shorter than "arn:aws" it only has to be the start of that): "arn:aws:*" matches every role ARN.
IAM_ARN_START = re.compile(r"arn:aws[a-z-]*(:|:i|:ia|:iam|:iam:)?")


def documents(resource_type: str, props: Mapping[str, Any]) -> Iterator[Any]:
    """Yield ``(label, document)`` for each identity-policy document, or a Note when unreadable."""
    for field in DOCUMENT_FIELDS.get(resource_type) or RESOURCE_DOCUMENT_FIELDS.get(resource_type, ()):
        if field == "inlinePolicies":
            entries = [(f"inline policy {get(p, 'name') or i + 1}", get(p, "policy"))
                       for i, p in enumerate(as_list(props.get(field)))]
        else:
            entries = [("policy", props.get(field))]
        for label, value in entries:
            for document in read_document(value, label):
                yield document if isinstance(document, Note) else (label, document)


def _statements(resource_type: str, props: Mapping[str, Any]) -> Iterator[Any]:
    """Yield ``(where, statement)`` for every Allow statement of every document, or Notes."""
    for item in documents(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        label, document = item
        for i, statement in enumerate(as_list(document.get("Statement")), start=1):
            if not isinstance(statement, dict):  # read_document has noted one not known yet
                continue
            where = f"statement {statement.get('Sid') or i}"
            where = where if label == "policy" else f"{label} {where}"
            if statement.get("Effect") is UNKNOWN:
                yield Note(f"{where}: Effect is not known yet")
            elif is_allow(statement):
                # Still checked on what is known, but never a clean pass with parts unknown.
                unknown = [key for key in ("Action", "NotAction", "Resource", "NotResource")
                           if has_unknown(statement.get(key))]
                if unknown:
                    yield Note(f"{where}: {' and '.join(unknown)} not known yet")
                yield where, statement


def check_iam_no_admin_wildcard(resource_type: str, props: Mapping[str, Any], ctx: Context | None) -> Iterator[Any]:
    for item in _statements(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        where, statement = item
        if "*" in str_list(statement.get("Action")) and "*" in str_list(statement.get("Resource")):
            yield f'{where} allows Action "*" on Resource "*"'


def check_iam_no_service_wildcard_on_all(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _statements(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        where, statement = item
        if "*" not in str_list(statement.get("Resource")):
            continue
        wild = [a for a in str_list(statement.get("Action")) if SERVICE_WILDCARD.match(a)]
        if wild:
            yield f'{where} allows {", ".join(wild)} on Resource "*"'


def _may_name_any_role(resource: str) -> bool:
    """Whether a Resource can name roles beyond one specific role: "*", an IAM ARN that is not one
    role's, or a pattern whose wildcard can stand for a role ARN's account, name or more."""
    if SCOPED_ROLE_ARN.match(resource):
        return False
    if resource.startswith("arn:") and ":iam::" in resource:
        return True
    # "arn:aws:*" has no ":iam::", yet matches every role ARN; "arn:aws:s3:::*" matches none
    wildcard = re.search(r"[*?]", resource)
    if wildcard is None:
        return False
    before = resource[:wildcard.start()]
    return "arn:aws".startswith(before) or IAM_ARN_START.fullmatch(before) is not None


def check_iam_passrole_scoped(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _statements(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        where, statement = item
        actions = str_list(statement.get("Action"))
        if not any(fnmatch.fnmatchcase("iam:passrole", a.lower()) for a in actions):
            continue
        loose = [r for r in str_list(statement.get("Resource")) if _may_name_any_role(r)]
        if loose:
            yield f"{where} allows iam:PassRole on {', '.join(loose)}; name specific role ARNs"


def check_iam_no_admin_managed_policy(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    value = props.get(ATTACHMENT_TYPES[resource_type])
    if value is UNKNOWN:
        yield Note("attached policy ARN is not known yet")
        return
    if UNKNOWN in as_list(value):  # str_list drops it: it may be an admin policy
        yield Note("an attached policy ARN is not known yet")
    for arn in str_list(value):
        if ADMIN_MANAGED_POLICIES.search(arn):
            yield f"attaches {arn.rpartition('/')[2]} ({arn}); grant least-privilege policies instead"


def check_iam_trust_not_public(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in public_allows(props.get("assumeRolePolicy"), "assumeRolePolicy"):
        yield item if isinstance(item, Note) else \
            f"trust policy statement {item[0]} lets any principal (\"*\") assume the role"


POLICIES = [
    ResourceRule(
        "iam-no-admin-wildcard",
        "No policy document (identity or resource policy) allows Action \"*\" on Resource \"*\".",
        check=check_iam_no_admin_wildcard, resource_types=[*DOCUMENT_FIELDS, *RESOURCE_DOCUMENT_FIELDS],
        concern="identity",
        severity=Severity.CRITICAL, mirrors=["CKV_AWS_62", "CKV_AWS_63", "AWS-0057"],
        remediation="List the actions the workload needs and scope Resource to the ARNs it uses.",
    ),
    ResourceRule(
        "iam-no-service-wildcard-on-all",
        "No IAM policy statement allows a whole service (\"<service>:*\") on Resource \"*\".",
        check=check_iam_no_service_wildcard_on_all, resource_types=DOCUMENT_FIELDS, concern="identity",
        severity=Severity.HIGH, mirrors=["CKV_AWS_290", "CKV_AWS_355"],
        remediation="Replace \"<service>:*\" with the specific actions, or scope Resource to specific ARNs.",
    ),
    ResourceRule(
        "iam-no-admin-managed-policy",
        "No role, user or group gets AdministratorAccess or PowerUserAccess.",
        check=check_iam_no_admin_managed_policy, resource_types=ATTACHMENT_TYPES, concern="identity",
        severity=Severity.CRITICAL, mirrors=["CKV_AWS_274", "CKV_AWS_275"],
        remediation="Attach a least-privilege customer-managed policy instead of the AWS admin policies.",
    ),
    ResourceRule(
        "iam-trust-not-public",
        "No role trust policy lets any principal (\"*\") assume the role.",
        check=check_iam_trust_not_public, resource_types=["aws:iam/role:Role"], concern="identity",
        severity=Severity.CRITICAL, mirrors=["CKV_AWS_60", "CKV_AWS_61"],
        remediation="Name the service (e.g. sagemaker.amazonaws.com) or account/role ARNs allowed to assume it.",
    ),
    ResourceRule(
        "iam-passrole-scoped",
        "iam:PassRole is granted only on specific role ARNs.",
        check=check_iam_passrole_scoped, resource_types=DOCUMENT_FIELDS, concern="identity",
        severity=Severity.HIGH, mirrors=["CKV_AWS_286"],
        remediation="Set Resource of the iam:PassRole statement to the execution role ARNs it passes "
                    "(optionally with an iam:PassedToService condition).",
    ),
]
