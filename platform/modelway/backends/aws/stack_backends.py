"""The backend set of one provisioned AWS stack, built from its validated outputs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelway.backends.aws.clients import AwsClients
from modelway.backends.stack import ResolvedStack


class AwsBackends:
    """Every concern on the stack's AWS services (see :func:`modelway.backends.mapping.backends_for`).

    Example:
        >>> backends = AwsBackends(resolve_stack("dev", Path("outputs.json")))   # doctest: +SKIP
        >>> backends.artifact_store(Path(".modelway")).bucket                      # doctest: +SKIP
        'modelway-dev-artifacts-...'
    """

    kind = "aws"

    def __init__(self, resolved: ResolvedStack) -> None:
        self.resolved = resolved
        self.outputs = resolved.outputs
        self.clients = AwsClients(self.outputs.region, stack=resolved.name)

    def check(self) -> None:
        """Fail with one line, before anything is written, when the stack's artifacts bucket is not there
        (stale outputs, wrong account or region) or may not be read."""
        bucket = self.outputs.buckets.artifacts
        with self.clients.call("s3:ListBucket", f"bucket {bucket} (buckets.artifacts)"):
            self.clients.get("s3").head_bucket(Bucket=bucket)

    # -- what the core asks for (modelway.active_backends.BackendSet) ----------------------
    def artifact_store(self, home: Path) -> Any:
        from modelway.backends.aws.artifacts import S3ArtifactStore

        return S3ArtifactStore(home, self.clients, bucket=self.outputs.buckets.artifacts,
                               kms_key_arn=self.outputs.kms_key_arn)

    def run_store(self, home: Path) -> Any:
        from modelway.backends.aws.step_cache import SharedCacheRunStore

        return SharedCacheRunStore(home, self.clients, bucket=self.outputs.buckets.artifacts,
                                   kms_key_arn=self.outputs.kms_key_arn, raw_data_bucket=self.outputs.buckets.raw_data)

    def registry(self, home: Path | None, rules: Any) -> Any:
        from modelway.backends.aws.registry import SageMakerRegistry

        return SageMakerRegistry(home, self.clients, self.outputs, rules=rules)

    def executor(self, local: Any, *, on_log: Any = None) -> Any:
        """The runner's executor: steps with a SageMaker instance type (``ml.*``) run as training jobs; on a stack
        with a cluster, steps that ask for GPUs (and no ``ml.*`` type) run as Kubernetes Jobs; the rest locally."""
        from modelway.backends.aws.sagemaker_jobs import RoutingExecutor, SageMakerExecutor, is_sagemaker_step

        routed = local
        if self.outputs.kubernetes_namespaces:
            from modelway.backends.kubernetes.executor import KubernetesExecutor, is_kubernetes_step

            routed = RoutingExecutor(local, KubernetesExecutor(self, on_log=on_log), is_kubernetes_step)
        return RoutingExecutor(routed, SageMakerExecutor(self, on_log=on_log), is_sagemaker_step)

    def lineage(self) -> dict[str, Any]:
        record = {"name": self.resolved.name, "environment": self.outputs.environment,
                  "outputs_sha256": self.resolved.digest, "region": self.outputs.region,
                  "account_id": self.outputs.account_id, "source": self.resolved.source}
        # set by the remote entry point inside a SageMaker job / Kubernetes Job
        for key, var in (("image", "MODELWAY_IMAGE_URI"), ("instance_type", "MODELWAY_INSTANCE_TYPE")):
            if os.environ.get(var):
                record[key] = os.environ[var]
        return record

    # -- the other concerns ---------------------------------------------------------------
    def tracking_uri(self) -> str | None:
        """The stack's MLflow tracking server, when it has one (else MLflow's local store)."""
        return self.outputs.tracking_server_uri

    def metrics_sink(self, home: Path) -> Any:
        """CloudWatch custom metrics in the stack's namespace (``modelway monitor``)."""
        from modelway.backends.aws.observability import CloudWatchMetrics

        return CloudWatchMetrics(self.clients, namespace=self.outputs.metrics_namespace or "Modelway",
                                 environment=self.outputs.environment)

    def alerter(self, home: Path, webhook_url: str | None = None) -> Any:
        """The stack's SNS topic (a webhook in the monitor config is for the embedded default only)."""
        from modelway.backends.aws.observability import SnsAlerter

        return SnsAlerter(self.clients, topic_arn=self.outputs.alerts_topic_arn, environment=self.outputs.environment)

    def deployer(self, home: Path, *, log: Any = None) -> Any:
        """Rollouts on the stack's SageMaker endpoints (``modelway deploy|rollback|promote``)."""
        from modelway.backends.aws.deployer import SageMakerEndpointDeployer

        return SageMakerEndpointDeployer(self, home, log=log)

    def concerns(self) -> dict[str, str]:
        """Which service serves each concern (``modelway stack show``)."""
        o = self.outputs
        groups = ", ".join(f"{family}={group}" for family, group in sorted(o.model_package_groups.items()))
        return {
            "artifacts": f"S3 s3://{o.buckets.artifacts}/artifacts/ (SSE-KMS {o.kms_key_arn}), cached in $MODELWAY_HOME",
            "step cache": f"S3 s3://{o.buckets.artifacts}/step-cache/ (shared across machines) + local SQLite",
            "datasets": f"S3 s3://{o.buckets.raw_data}/datasets/ (SSE-KMS)",
            "registry": f"SageMaker model package groups ({groups or 'none'}); new versions {o.model_approval_status}",
            "tracking": (f"MLflow tracking server {o.tracking_server_uri}" if o.tracking_server_uri
                         else "MLflow, local store (the stack has no tracking server)"),
            "metrics": f"CloudWatch custom metrics, namespace {o.metrics_namespace or 'Modelway'}",
            "alerts": f"SNS {o.alerts_topic_arn}",
            "deployer": "SageMaker endpoints: a production variant per version, canary weights judged by the guardrails",
            "executors": ("local processes; steps with instance_type= run as SageMaker training jobs "
                          f"(role {o.roles.sagemaker_execution}, image {o.ecr_repository_urls.get('training', 'n/a')})"
                          + (f"; steps with gpus= as Kubernetes Jobs in {o.kubernetes_namespaces[0]} (spot GPU pool)"
                             if o.kubernetes_namespaces else "")),
        }
