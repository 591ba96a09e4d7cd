"""A Modelway stack's AWS resources created in a moto server, and the outputs file ``pulumi stack output --json`` would give.

Real boto3 calls over HTTP to ``moto.server.ThreadedMotoServer`` on 127.0.0.1 (random port):
one KMS key, the five buckets with default SSE-KMS, the six roles, the ECR repositories, one
model package group per model family and the alerts topic, shaped exactly like
``StackOutputs``. Used by the tests and by ``benchmarks/stack_run.py``.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


@dataclass
class MotoStack:
    """A stack in moto: its outputs (dict and file) and the environment that points boto3 at the server."""

    endpoint: str
    outputs: dict[str, Any]
    outputs_file: Path
    env: dict[str, str]

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 (random port); yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def server_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point boto3 (this process and subprocesses) at the server."""
    return {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}


def create_stack(endpoint: str, folder: Path, *, environment: str = "dev", families: tuple[str, ...] = ("credit-risk",),
                 approval: str = "Approved") -> MotoStack:
    """Create one stack's resources (unique names) and write ``<folder>/<environment>-outputs.json``."""
    env = server_env(endpoint)
    stack = MotoStack(endpoint, {}, folder / f"{environment}-outputs.json", env)
    with _environ(env):
        prefix = f"modelway-{environment}-{secrets.token_hex(3)}"
        kms = stack.client("kms")
        key_arn = kms.create_key(Description=f"{prefix} data key")["KeyMetadata"]["Arn"]
        s3 = stack.client("s3")
        buckets = {}
        for tier in ("raw_data", "features", "artifacts", "models", "access_logs"):
            name = f"{prefix}-{tier.replace('_', '-')}"
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                "BucketKeyEnabled": True}]})
            buckets[tier] = name
        iam = stack.client("iam")
        roles = {}
        for persona, service in (("data_scientist", "ec2"), ("ml_engineer", "ec2"), ("deployer", "ec2"),
                                 ("auditor", "ec2"), ("sagemaker_execution", "sagemaker"), ("gpu_node", "ec2")):
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": f"{service}.amazonaws.com"}}]}
            roles[persona] = iam.create_role(RoleName=f"{prefix}-{persona.replace('_', '-')}",
                                             AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        ecr = stack.client("ecr")
        repos = {repo: ecr.create_repository(repositoryName=f"{prefix}-{repo}")["repository"]["repositoryUri"]
                 for repo in ("training", "serving")}
        sagemaker = stack.client("sagemaker")
        groups = {}
        for family in families:
            groups[family] = f"{prefix}-{family}"
            sagemaker.create_model_package_group(ModelPackageGroupName=groups[family],
                                                 ModelPackageGroupDescription=f"Versions of the {family} model")
        topic = stack.client("sns").create_topic(Name=f"{prefix}-alerts")["TopicArn"]
    stack.outputs = {
        "environment": environment, "region": REGION, "account_id": ACCOUNT, "kms_key_arn": key_arn,
        "buckets": buckets, "roles": roles, "ecr_repository_urls": repos, "model_package_groups": groups,
        "model_approval_status": approval, "alerts_topic_arn": topic, "tracking_server_uri": None,
        "gpu_pool_asg_name": None, "kubernetes_namespaces": None,
    }
    stack.outputs_file.write_text(json.dumps(stack.outputs, indent=2))
    return stack


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
