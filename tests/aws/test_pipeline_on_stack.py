"""The credit-risk pipeline with `--outputs` against a stack in moto: artifacts in S3 under the stack's KMS key,
a fully cached rerun on a fresh home through S3, the model in the SageMaker model package group.

Not exercised here: real KMS encryption (moto records the SSE-KMS headers and key id; it
does not encrypt), bucket policies denying unencrypted puts, and IAM enforcement.
"""
from __future__ import annotations

import pytest

from tests.aws.moto_stack import create_stack
from tests.modelway_cli import ModelwayCli

PARAMS = ("n_rows=2000", "n_trials=2", "cv_folds=2")


@pytest.fixture(scope="module")
def stack(moto_endpoint, tmp_path_factory):
    return create_stack(moto_endpoint, tmp_path_factory.mktemp("stack"))


def _cli(stack, home) -> ModelwayCli:
    cli = ModelwayCli(home)
    cli.env.update(stack.env)
    return cli


@pytest.fixture(scope="module")
def first_run(stack, tmp_path_factory):
    cli = _cli(stack, tmp_path_factory.mktemp("home-a"))
    done = cli.run_file("pipelines/credit_risk.py", *PARAMS, extra=("--outputs", str(stack.outputs_file)))
    assert done.code == 0, done.stderr
    return cli, done.json()


def test_every_artifact_lands_in_s3_with_the_stack_kms_key(stack, first_run):
    _, result = first_run
    s3 = stack.client("s3")
    bucket = stack.outputs["buckets"]["artifacts"]
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    outputs = {s["output"] for s in result["steps"]}
    for digest in outputs:  # every step's output, complete (meta.json is written last)
        assert f"artifacts/{digest[:2]}/{digest}/meta.json" in keys
    assert any(k.startswith("step-cache/") for k in keys)
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"] == stack.outputs["kms_key_arn"], key


def test_lineage_records_the_stack(first_run):
    cli, result = first_run
    shown = cli("runs", "show", result["run_id"], "--json").json()
    lineage = shown["lineage"]["stack"]
    assert lineage["name"] == "dev" and len(lineage["outputs_sha256"]) == 64


def test_rerun_on_a_fresh_home_is_fully_cached_through_s3(stack, first_run, tmp_path):
    _, first = first_run
    cli = _cli(stack, tmp_path / "fresh-home")
    done = cli.run_file("pipelines/credit_risk.py", *PARAMS, extra=("--outputs", str(stack.outputs_file)))
    assert done.code == 0, done.stderr
    steps = {s["name"]: s for s in done.json()["steps"]}
    assert all(s["status"] == "cached" for name, s in steps.items() if name != "register"), steps
    assert [s["output"] for s in done.json()["steps"][:-1]] == [s["output"] for s in first["steps"][:-1]]
    # same artifact already in the model package group: nothing registered twice
    assert done.json()["outputs"]["result"]["already_registered"] is True
    assert done.json()["outputs"]["result"]["version"] == first["outputs"]["result"]["version"]


def test_model_is_a_package_in_the_group_with_our_metadata(stack, first_run):
    _, result = first_run
    sagemaker = stack.client("sagemaker")
    group = stack.outputs["model_package_groups"]["credit-risk"]
    packages = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert len(packages) == 1
    package = sagemaker.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    meta = package["CustomerMetadataProperties"]
    assert package["ModelApprovalStatus"] == "Approved"  # dev approves automatically when every gate passes
    assert meta["modelway_version"] == result["outputs"]["result"]["version"] == "1.0.0"
    assert meta["artifact_sha256"] == result["outputs"]["result"]["artifact_sha256"]
    assert meta["run_id"] == result["run_id"] and float(meta["metric_roc_auc"]) > 0.6
    metrics_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri.startswith(f"s3://{stack.outputs['buckets']['models']}/credit-risk/1.0.0/")
    model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, key = model_uri.removeprefix("s3://").split("/", 1)
    head = stack.client("s3").head_object(Bucket=bucket, Key=key)
    assert head["SSEKMSKeyId"] == stack.outputs["kms_key_arn"]
