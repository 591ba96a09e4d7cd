"""The infra assertions themselves must catch what they claim to (a check that cannot fail is a defect)."""
from __future__ import annotations

import json

import pytest
from infra_helpers import assert_identity_statement_scoped, assert_trust_not_public

from infra.identity import _human_trust_policy, _Scope, _data_scientist_policy, _deployer_policy
from infra.storage import _data_bucket_policy

SCOPE = _Scope(partition="aws", region="eu-west-1", account_id="123456789012", prefix="modelway-dev",
               key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
               buckets={t: f"arn:aws:s3:::b-{t}" for t in ("raw-data", "features", "artifacts", "models",
                                                           "access-logs")},
               repositories={"training": "arn:aws:ecr:eu-west-1:123456789012:repository/t",
                             "serving": "arn:aws:ecr:eu-west-1:123456789012:repository/s"},
               model_families=["credit-risk"], log_groups={"pipelines": "arn:aws:logs:eu-west-1:1:log-group:/p"},
               experiments_prefix="experiments", metrics_namespace="Modelway",
               sagemaker_role_arn="arn:aws:iam::123456789012:role/modelway-dev-sagemaker-execution")


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:PutImage"], "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/*"},
    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"},
])
def test_scope_assertion_rejects_wildcards(statement):
    with pytest.raises(AssertionError):
        assert_identity_statement_scoped(statement)


def test_scope_assertion_accepts_specific_arns_and_documented_exceptions():
    assert_identity_statement_scoped({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert_identity_statement_scoped({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})
    assert_identity_statement_scoped({"Effect": "Deny", "Action": "*", "Resource": "*"})


def test_trust_assertion_rejects_public_principals():
    for principal in ("*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}):
        with pytest.raises(AssertionError):
            assert_trust_not_public(json.dumps({"Statement": [{"Effect": "Allow", "Principal": principal}]}))


def test_policy_builders_are_scoped_without_rendering():
    for build in (_data_scientist_policy, _deployer_policy):
        for statement in build(SCOPE)["Statement"]:
            assert_identity_statement_scoped(statement)
    deployer = str(_deployer_policy(SCOPE))
    assert SCOPE.buckets["raw-data"] not in deployer
    trust = _human_trust_policy(["arn:aws:iam::123456789012:root"], require_mfa=True)
    assert trust["Statement"][0]["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    bucket = _data_bucket_policy("arn:aws:s3:::b", SCOPE.key_arn)
    assert bucket["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
