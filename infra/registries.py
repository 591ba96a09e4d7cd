"""Registries: ECR repositories for images, one SageMaker model package group per model family, optional MLflow."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import RegistriesConfig

MLFLOW_PREFIX = "mlflow"


@dataclass
class RegistriesArgs:
    """Inputs of :class:`Registries`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    account_id: pulumi.Input[str]
    """Account of the MLflow role's trust condition."""
    partition: pulumi.Input[str]
    """AWS partition (``aws``)."""
    key_arn: pulumi.Input[str]
    """CMK for image encryption and the MLflow artifact store."""
    region: pulumi.Input[str]
    """Region of the S3 endpoint the MLflow role's KMS use goes through."""
    artifacts_bucket: pulumi.Input[str]
    """Bucket name of the artifacts tier (MLflow artifact store lives under ``mlflow/``)."""
    config: RegistriesConfig
    """Repositories, model families, MLflow switch."""


def _lifecycle_policy(keep_images: int) -> dict[str, Any]:
    """Expire untagged images after a week; keep the newest ``keep_images`` images."""
    return {"rules": [
        {"rulePriority": 1, "description": "expire untagged images",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the {keep_images} most recent images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images},
         "action": {"type": "expire"}},
    ]}


def _mlflow_trust_policy(account_id: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]}


def _mlflow_access_policy(partition: str, bucket: str, key_arn: str, region: str) -> dict[str, Any]:
    """The tracking server reads/writes its artifact prefix only."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ArtifactStoreObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"{bucket_arn}/{MLFLOW_PREFIX}/*"},
        {"Sid": "ArtifactStoreListing", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": bucket_arn, "Condition": {"StringLike": {"s3:prefix": [f"{MLFLOW_PREFIX}/*"]}}},
        # GetBucketLocation never carries s3:prefix: under that condition it would always be denied.
        {"Sid": "ArtifactStoreLocation", "Effect": "Allow", "Action": ["s3:GetBucketLocation"],
         "Resource": bucket_arn},
        {"Sid": "ArtifactStoreKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": key_arn, "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
    ]}


class Registries(pulumi.ComponentResource):
    """Immutable, scanned, KMS-encrypted ECR repositories; model package groups; optional MLflow tracking server.

    Example:
        >>> registries = Registries("modelway-dev", RegistriesArgs(
        ...     prefix="modelway-dev", account_id=acct, partition="aws", key_arn=key_arn,
        ...     artifacts_bucket=bucket, config=cfg.registries))        # doctest: +SKIP
        >>> registries.model_package_group_names["credit-risk"]          # doctest: +SKIP
    """

    repository_urls: dict[str, pulumi.Output[str]]
    repository_arns: dict[str, pulumi.Output[str]]
    model_package_group_names: dict[str, pulumi.Output[str]]
    tracking_server_uri: pulumi.Output[str] | None
    tracking_server_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: RegistriesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:registries:Registries", name, None, opts)
        self._name, self._args = name, args
        self._create_repositories()
        self._create_model_package_groups()
        self.tracking_server_uri = self.tracking_server_arn = None
        if args.config.mlflow_tracking_server:
            self._create_tracking_server()
        self.register_outputs({
            "repository_urls": self.repository_urls,
            "model_package_group_names": self.model_package_group_names,
            "tracking_server_uri": self.tracking_server_uri,
        })

    def _create_repositories(self) -> None:
        args = self._args
        self.repository_urls, self.repository_arns = {}, {}
        for repo in args.config.ecr_repositories:
            repository = aws.ecr.Repository(
                f"{self._name}-{repo}-repo",
                name=f"{args.prefix}/{repo}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.key_arn}],
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            aws.ecr.LifecyclePolicy(f"{self._name}-{repo}-repo-lifecycle", repository=repository.name,
                                    policy=json.dumps(_lifecycle_policy(args.config.keep_images)),
                                    opts=pulumi.ResourceOptions(parent=self))
            self.repository_urls[repo] = repository.repository_url
            self.repository_arns[repo] = repository.arn

    def _create_model_package_groups(self) -> None:
        args = self._args
        self.model_package_groups = {
            family: aws.sagemaker.ModelPackageGroup(
                f"{self._name}-{family}-models",
                model_package_group_name=f"{args.prefix}-{family}",
                model_package_group_description=f"Versions of the {family} model ({args.prefix})",
                # names the family explicitly for the model-registry-per-model policy
                tags={"model-family": family},
                # A fixed name the runtime registers into: a replacement deletes the old group first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for family in args.config.model_families
        }
        self.model_package_group_names = {
            family: group.model_package_group_name for family, group in self.model_package_groups.items()
        }

    def _create_tracking_server(self) -> None:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        fixed = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        role = aws.iam.Role(
            f"{self._name}-mlflow-role", name=f"{args.prefix}-mlflow",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: json.dumps(_mlflow_trust_policy(account))),
            opts=fixed,
        )
        aws.iam.RolePolicy(
            f"{self._name}-mlflow-policy", role=role.id,
            policy=pulumi.Output.all(args.partition, args.artifacts_bucket, args.key_arn, args.region).apply(
                lambda v: json.dumps(_mlflow_access_policy(*v))),
            opts=child,
        )
        server = aws.sagemaker.MlflowTrackingServer(
            f"{self._name}-mlflow",
            tracking_server_name=tracking_server_name(args.prefix),
            artifact_store_uri=pulumi.Output.concat("s3://", args.artifacts_bucket, f"/{MLFLOW_PREFIX}"),
            role_arn=role.arn,
            tracking_server_size=args.config.tracking_server_size,
            mlflow_version=args.config.mlflow_version,
            automatic_model_registration=False,
            opts=fixed,
        )
        # Clients use the ARN as tracking URI (mlflow + the sagemaker-mlflow plugin); the URL is for people.
        self.tracking_server_uri = server.tracking_server_url
        self.tracking_server_arn = server.arn


def tracking_server_name(prefix: str) -> str:
    """Physical name of the MLflow tracking server (IAM policies scope to its ARN)."""
    return f"{prefix}-mlflow"
