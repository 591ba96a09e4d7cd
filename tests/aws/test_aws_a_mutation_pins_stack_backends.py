"""Mutation pins for :mod:`modelway.backends.aws.stack_backends`: which service serves each concern, on moto.

``modelway stack show`` prints :meth:`AwsBackends.concerns` (every line checked here, with and
without a tracking server, a metrics namespace and a cluster); each factory gives the concern
its stack resources (bucket, key, namespace, topic); lineage names the exact stack state.
"""
from __future__ import annotations

import dataclasses

import pytest

from modelway.backends.aws.clients import StackResourceMissing
from modelway.backends.aws.stack_backends import AwsBackends
from tests.aws.test_aws_a_mutation_pins_deployer import stack  # noqa: F401 - the module's moto stack


def _with(backends, **changes):
    """The same stack with some outputs changed (another provisioning of it)."""
    resolved = backends.resolved
    return AwsBackends(dataclasses.replace(resolved, outputs=resolved.outputs.model_copy(update=changes)))


def test_concerns_of_a_plain_stack_line_by_line(stack):  # noqa: F811
    moto, backends = stack
    o = moto.outputs
    b = o["buckets"]
    assert backends.kind == "aws"
    assert backends.concerns() == {
        "artifacts": f"S3 s3://{b['artifacts']}/artifacts/ (SSE-KMS {o['kms_key_arn']}), cached in $MODELWAY_HOME",
        "step cache": f"S3 s3://{b['artifacts']}/step-cache/ (shared across machines) + local SQLite",
        "datasets": f"S3 s3://{b['raw_data']}/datasets/ (SSE-KMS)",
        "registry": f"SageMaker model package groups (credit-risk={o['model_package_groups']['credit-risk']}); "
                    "new versions Approved",
        "tracking": "MLflow, local store (the stack has no tracking server)",
        "metrics": "CloudWatch custom metrics, namespace Modelway",
        "alerts": f"SNS {o['alerts_topic_arn']}",
        "deployer": "SageMaker endpoints: a production variant per version, canary weights judged by the guardrails",
        "executors": ("local processes; steps with instance_type= run as SageMaker training jobs "
                      f"(role {o['roles']['sagemaker_execution']}, image {o['ecr_repository_urls']['training']})"),
    }


def test_concerns_with_a_tracking_server_a_namespace_and_a_cluster(stack):  # noqa: F811
    _, backends = stack
    other = _with(backends, tracking_server_uri="https://mlflow.example", metrics_namespace="Team",
                  kubernetes_namespaces=["team-a", "team-b"], model_package_groups={"b": "g-b", "a": "g-a"},
                  ecr_repository_urls={}, model_approval_status="PendingManualApproval")
    concerns = other.concerns()
    assert concerns["tracking"] == "MLflow tracking server https://mlflow.example"
    assert concerns["metrics"] == "CloudWatch custom metrics, namespace Team"
    assert concerns["registry"] == "SageMaker model package groups (a=g-a, b=g-b); new versions PendingManualApproval"
    assert concerns["executors"].endswith(", image n/a); steps with gpus= as Kubernetes Jobs in team-a (spot GPU pool)")
    assert _with(backends, model_package_groups={}).concerns()["registry"] == (
        "SageMaker model package groups (none); new versions Approved")
    assert other.tracking_uri() == "https://mlflow.example"
    assert backends.tracking_uri() is None
    sink = other.metrics_sink(None)
    assert (sink.namespace, sink.environment) == ("Team", "dev")


def test_each_concern_gets_its_stack_resources(stack, tmp_path):  # noqa: F811
    moto, backends = stack
    o = moto.outputs
    store = backends.artifact_store(tmp_path)
    assert (store.bucket, store.kms_key_arn, store.clients) == (o["buckets"]["artifacts"], o["kms_key_arn"],
                                                                backends.clients)
    runs = backends.run_store(tmp_path)
    assert (runs.bucket, runs.kms_key_arn, runs.raw_data_bucket) == (o["buckets"]["artifacts"], o["kms_key_arn"],
                                                                     o["buckets"]["raw_data"])
    registry = backends.registry(tmp_path, None)
    assert registry.outputs is backends.outputs and registry.clients is backends.clients
    sink = backends.metrics_sink(tmp_path)
    assert (sink.namespace, sink.environment, sink.clients) == ("Modelway", "dev", backends.clients)
    alerter = backends.alerter(tmp_path, webhook_url="https://hooks.example")
    assert (alerter.topic_arn, alerter.environment) == (o["alerts_topic_arn"], "dev")
    deployer = backends.deployer(tmp_path)
    assert deployer.backends is backends and deployer.home == tmp_path
    lines: list[str] = []
    backends.deployer(tmp_path, log=lines.append).log("x")
    assert lines == ["x"]
    assert backends.clients.region == "eu-west-1" and backends.clients.stack == backends.resolved.name


def test_lineage_names_the_stack_state_and_the_remote_image(stack, monkeypatch):  # noqa: F811
    moto, backends = stack
    monkeypatch.delenv("MODELWAY_IMAGE_URI", raising=False)
    monkeypatch.setenv("MODELWAY_INSTANCE_TYPE", "")
    resolved = backends.resolved
    expected = {"name": resolved.name, "environment": "dev", "outputs_sha256": resolved.digest, "region": "eu-west-1",
                "account_id": "123456789012", "source": resolved.source}
    assert backends.lineage() == expected
    monkeypatch.setenv("MODELWAY_IMAGE_URI", "img:1")
    monkeypatch.setenv("MODELWAY_INSTANCE_TYPE", "ml.m5.xlarge")
    assert backends.lineage() == {**expected, "image": "img:1", "instance_type": "ml.m5.xlarge"}


def test_check_fails_in_one_line_when_the_artifacts_bucket_is_gone(stack):  # noqa: F811
    _, backends = stack
    backends.check()  # present: nothing to say
    gone = _with(backends, buckets=backends.outputs.buckets.model_copy(update={"artifacts": "modelway-gone-bucket"}))
    with pytest.raises(StackResourceMissing) as caught:
        gone.check()
    assert str(caught.value).startswith(f"stack {backends.resolved.name}: bucket modelway-gone-bucket "
                                        "(buckets.artifacts) does not exist (s3:ListBucket: ")


def test_the_executor_routes_sagemaker_and_kubernetes_steps(stack):  # noqa: F811
    from modelway.backends.aws.sagemaker_jobs import RoutingExecutor, SageMakerExecutor, is_sagemaker_step
    from modelway.backends.kubernetes.executor import KubernetesExecutor, is_kubernetes_step

    _, backends = stack
    local = object()
    plain = backends.executor(local)
    assert isinstance(plain, RoutingExecutor) and isinstance(plain.remote, SageMakerExecutor)
    assert plain.local is local and plain.choose is is_sagemaker_step  # no cluster: the rest runs locally
    clustered = _with(backends, kubernetes_namespaces=["team-a"]).executor(local)
    assert isinstance(clustered.remote, SageMakerExecutor) and clustered.choose is is_sagemaker_step
    inner = clustered.local
    assert isinstance(inner, RoutingExecutor) and isinstance(inner.remote, KubernetesExecutor)
    assert inner.local is local and inner.choose is is_kubernetes_step
