"""What each persona and service role may and may not do, evaluated over the rendered policies (prod).

One row per (role, action, resource, request context, expected). The evaluator
(:mod:`iam_eval`) applies the policies as IAM would: explicit deny wins, every condition
must hold, a context key the request does not carry fails a positive condition.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from iam_eval import allowed

ENV = "prod"
P = f"modelway-{ENV}"


@dataclass(frozen=True)
class Row:
    role: str
    action: str
    resource: str
    """Template: {raw}, {features}, {artifacts}, {models}, {logs} (bucket ARNs), {key}, {sm}, {cluster},
    {mlflow}, {trail}, {ecr}, {queue}, {asg}, {role_arn}."""
    allow: bool
    context: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.role} {'may' if self.allow else 'may not'} {self.action} on {self.resource}"


S3 = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
SM = {"kms:ViaService": "sagemaker.eu-west-1.amazonaws.com"}
GRANT = {"kms:GrantIsForAWSResource": "true", **SM}
PASS_TO_SM = {"iam:PassedToService": "sagemaker.amazonaws.com"}
PKG = "{sm}:model-package/" + P + "-credit-risk/3"
GROUP = "{sm}:model-package-group/" + P + "-credit-risk"
ENDPOINT = "{sm}:endpoint/" + P + "-credit-risk"
JOB = "{sm}:training-job/" + P + "-train-1"
ASG = "{asg}:autoScalingGroupName/" + P + "-gpu-1gpu"

TABLE: list[Row] = [
    # data scientist: explore and experiment, never train in SageMaker, register, approve or deploy
    Row("data-scientist", "s3:GetObject", "{raw}/x.csv", True),
    Row("data-scientist", "s3:PutObject", "{artifacts}/experiments/run/x", True),
    Row("data-scientist", "s3:PutObject", "{artifacts}/mlflow/1/x", True),
    Row("data-scientist", "s3:PutObject", "{artifacts}/pipelines/x", False),
    Row("data-scientist", "s3:PutObject", "{models}/x", False),
    Row("data-scientist", "kms:GenerateDataKey", "{key}", True, S3),
    Row("data-scientist", "kms:Decrypt", "{key}", False),  # straight to KMS: not via S3
    Row("data-scientist", "sagemaker-mlflow:CreateRun", "{mlflow}", True),
    Row("data-scientist", "sagemaker:CreatePresignedMlflowTrackingServerUrl", "{mlflow}", True),
    Row("data-scientist", "eks:DescribeCluster", "{cluster}", True),
    Row("data-scientist", "sagemaker:CreateTrainingJob", JOB, False),
    Row("data-scientist", "sagemaker:UpdateModelPackage", PKG, False),
    Row("data-scientist", "iam:PassRole", "{role_arn}sagemaker-execution", False, PASS_TO_SM),
    # ML engineer: train, register, push images; never approve (separation of duties) nor delete models
    Row("ml-engineer", "sagemaker:CreateTrainingJob", JOB, True),
    Row("ml-engineer", "sagemaker:CreateModelPackage", GROUP, True),
    Row("ml-engineer", "sagemaker:UpdateModelPackage", PKG, False),
    Row("ml-engineer", "iam:PassRole", "{role_arn}sagemaker-execution", True, PASS_TO_SM),
    Row("ml-engineer", "iam:PassRole", "{role_arn}sagemaker-execution", False, {"iam:PassedToService": "ec2.amazonaws.com"}),
    Row("ml-engineer", "iam:PassRole", "{role_arn}auditor", False, PASS_TO_SM),
    Row("ml-engineer", "kms:CreateGrant", "{key}", True, GRANT),
    Row("ml-engineer", "kms:CreateGrant", "{key}", False, SM),  # a grant for a person, not an AWS resource
    Row("ml-engineer", "ecr:PutImage", "{ecr}training", True),
    Row("ml-engineer", "s3:PutObject", "{models}/credit-risk/3/model.tar.gz", True),
    Row("ml-engineer", "s3:DeleteObject", "{models}/credit-risk/3/model.tar.gz", False),
    Row("ml-engineer", "s3:DeleteObjectVersion", "{models}/credit-risk/3/model.tar.gz", False),
    Row("ml-engineer", "sagemaker-mlflow:LogMetric", "{mlflow}", True),
    Row("ml-engineer", "eks:DescribeCluster", "{cluster}", True),
    # approver: review and approve, nothing else
    Row("approver", "sagemaker:UpdateModelPackage", PKG, True),
    Row("approver", "sagemaker:DescribeModelPackage", PKG, True),
    Row("approver", "s3:GetObject", "{models}/credit-risk/3/card.html", True),
    Row("approver", "sagemaker-mlflow:GetRun", "{mlflow}", True),
    Row("approver", "sagemaker-mlflow:CreateRun", "{mlflow}", False),
    Row("approver", "sagemaker:CreateModelPackage", GROUP, False),
    Row("approver", "s3:PutObject", "{models}/x", False),
    Row("approver", "sagemaker:CreateEndpoint", ENDPOINT, False),
    # deployer: endpoints from registered models
    Row("deployer", "sagemaker:CreateEndpoint", ENDPOINT, True),
    Row("deployer", "sagemaker:UpdateEndpoint", ENDPOINT, True),
    Row("deployer", "s3:GetObject", "{models}/credit-risk/3/model.tar.gz", True),
    Row("deployer", "kms:CreateGrant", "{key}", True, GRANT),
    Row("deployer", "ecr:BatchGetImage", "{ecr}serving", True),
    Row("deployer", "eks:DescribeCluster", "{cluster}", True),
    Row("deployer", "s3:GetObject", "{raw}/x.csv", False),
    Row("deployer", "sagemaker:UpdateModelPackage", PKG, False),
    Row("deployer", "ecr:PutImage", "{ecr}serving", False),
    # auditor: read everything that is evidence, change nothing
    Row("auditor", "cloudtrail:LookupEvents", "*", True),
    Row("auditor", "cloudtrail:GetTrailStatus", "{trail}", True),
    Row("auditor", "s3:GetObject", "{logs}/cloudtrail/AWSLogs/123456789012/x.json.gz", True),
    Row("auditor", "kms:Decrypt", "{key}", True, S3),
    Row("auditor", "kms:GetKeyPolicy", "{key}", True),
    Row("auditor", "iam:GetRole", "{role_arn}ml-engineer", True),
    Row("auditor", "s3:GetObject", "{raw}/x.csv", False),
    Row("auditor", "s3:PutObject", "{logs}/x", False),
    Row("auditor", "kms:Decrypt", "{key}", False),
    Row("auditor", "iam:PutRolePolicy", "{role_arn}auditor", False),
    # services
    Row("sagemaker-execution", "s3:PutObject", "{models}/x", True),
    Row("sagemaker-execution", "kms:CreateGrant", "{key}", True, GRANT),
    Row("sagemaker-execution", "cloudwatch:PutMetricData", "*", True, {"cloudwatch:namespace": "Modelway"}),
    Row("sagemaker-execution", "cloudwatch:PutMetricData", "*", False, {"cloudwatch:namespace": "Other"}),
    Row("sagemaker-execution", "s3:DeleteObject", "{models}/x", False),
    # the node role carries no data access: pods cannot borrow it
    Row("gpu-node", "s3:GetObject", "{raw}/x.csv", False),
    Row("gpu-node", "s3:PutObject", "{artifacts}/checkpoints/x", False),
    Row("gpu-node", "kms:Decrypt", "{key}", False, S3),
    # a team's pods (Pod Identity): data in, artifacts and checkpoints out, MLflow; no registry writes
    Row("team-ml", "s3:GetObject", "{raw}/x.csv", True),
    Row("team-ml", "s3:PutObject", "{artifacts}/checkpoints/job-1/step-100.pt", True),
    Row("team-ml", "kms:GenerateDataKey", "{key}", True, S3),
    Row("team-ml", "sagemaker-mlflow:LogMetric", "{mlflow}", True),
    Row("team-ml", "ecr:BatchGetImage", "{ecr}training", True),
    Row("team-ml", "s3:PutObject", "{models}/x", False),
    Row("team-ml", "sagemaker:UpdateModelPackage", PKG, False),
    # add-ons act on the pool only
    Row("cluster-autoscaler", "autoscaling:SetDesiredCapacity", ASG, True),
    Row("cluster-autoscaler", "autoscaling:SetDesiredCapacity",
        "{asg}:autoScalingGroupName/someone-elses-group", False),
    Row("cluster-autoscaler", "ec2:DescribeInstanceTypes", "*", True),
    Row("node-termination-handler", "sqs:ReceiveMessage", "{queue}", True),
    Row("node-termination-handler", "sqs:ReceiveMessage", "{queue}-other", False),
    Row("node-termination-handler", "autoscaling:CompleteLifecycleAction", ASG, True),
    Row("node-termination-handler", "kms:Decrypt", "{key}", True, {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}),
    Row("node-termination-handler", "kms:Decrypt", "{key}", False, S3),
    # the MLflow server's own role (defect 13: GetBucketLocation carries no s3:prefix)
    Row("mlflow", "s3:GetBucketLocation", "{artifacts}", True),
    Row("mlflow", "s3:ListBucket", "{artifacts}", True, {"s3:prefix": "mlflow/1/"}),
    Row("mlflow", "s3:ListBucket", "{artifacts}", False, {"s3:prefix": "experiments/"}),
    Row("mlflow", "s3:GetObject", "{raw}/x.csv", False),
]


def _queue_arn(stack) -> str:
    """The interruption queue's ARN, as the event rules target it."""
    arns = {t.inputs["arn"] for t in stack.of_type("aws:cloudwatch/eventTarget:EventTarget") if ":sqs:" in t.inputs["arn"]}
    (arn,) = arns
    return arn


@pytest.fixture(scope="module")
def prod(rendered):
    stack = rendered(ENV)
    documents: dict[str, list[dict[str, Any]]] = {}
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = policy.inputs["role"].removeprefix(f"{P}-")
        documents.setdefault(role, []).append(json.loads(policy.inputs["policy"]))
    out = stack.outputs
    buckets = {tier: f"arn:aws:s3:::{name}" for tier, name in out["buckets"].items()}
    region, account = out["region"], out["account_id"]
    values = {
        "raw": buckets["raw_data"], "features": buckets["features"], "artifacts": buckets["artifacts"],
        "models": buckets["models"], "logs": buckets["access_logs"], "key": out["kms_key_arn"],
        "sm": f"arn:aws:sagemaker:{region}:{account}", "cluster": f"arn:aws:eks:{region}:{account}:cluster/{P}",
        "mlflow": out["tracking_server_arn"], "trail": out["audit_trail_arn"],
        "ecr": f"arn:aws:ecr:{region}:{account}:repository/{P}/",
        "queue": _queue_arn(stack),
        "asg": f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:0a1b2c3d-1111-2222-3333-444455556666",
        "role_arn": f"arn:aws:iam::{account}:role/{P}-",
    }
    return documents, values


@pytest.mark.parametrize("row", TABLE, ids=str)
def test_role_may_do_exactly_its_job(prod, row):
    documents, values = prod
    assert row.role in documents, f"no policy for {row.role}; roles: {sorted(documents)}"
    resource = row.resource.format(**values)
    assert allowed(documents[row.role], row.action, resource, row.context) is row.allow, str(row)


def test_every_role_of_the_stack_is_in_the_table(prod):
    documents, _ = prod
    assert set(documents) == {row.role for row in TABLE} | {"team-risk", "team-fraud"}


def test_evaluator_honours_deny_and_missing_condition_keys():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}}
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject*", "Resource": "*"}
    docs = [{"Statement": [allow, deny]}]
    assert allowed(docs, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:PrincipalTag/team": "ml"})
    assert not allowed(docs, "s3:GetObject", "arn:aws:s3:::b/k")  # key absent: the condition fails
    assert not allowed(docs, "s3:DeleteObjectVersion", "arn:aws:s3:::b/k", {"aws:PrincipalTag/team": "ml"})
    assert not allowed(docs, "s3:GetObject", "arn:aws:s3:::other/k", {"aws:PrincipalTag/team": "ml"})
