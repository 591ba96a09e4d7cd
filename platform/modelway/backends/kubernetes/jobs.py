"""A heavy step as a Kubernetes Job on the stack's spot GPU pool, built with the official ``kubernetes`` client models.

The Job runs the same image and entry point as a SageMaker job (``python -m
modelway.backends.remote``; the spec and stack outputs come in as ``SM_HPS``), scheduled
onto the GPU pool that ``infra/compute.py`` provisions: its node labels as the node
selector, a toleration for its taint, ``nvidia.com/gpu`` limits, the preemptible
PriorityClass from ``infra/tenancy.py``, ``activeDeadlineSeconds`` from the step's
``max_runtime``, ``backoffLimit`` from its ``retries``, a restricted (non-root, read-only,
no privilege escalation, all capabilities dropped) security context, and the image by digest.

Submitting needs a cluster (``kubernetes.client.BatchV1Api().create_namespaced_job``);
:func:`validate_manifest` checks a manifest offline against the Kubernetes JSON schemas.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modelway.errors import ConfigError

# Kept in step with infra/compute.py (NODE_LABELS, NODE_TAINT) and infra/tenancy.py (PriorityClass name).
GPU_POOL_LABELS = {"modelway.io/pool": "gpu-spot", "nvidia.com/gpu.present": "true"}
GPU_TAINT = ("nvidia.com/gpu", "true", "NoSchedule")
KUBERNETES_VERSION = "1.31"  # the EKS version the schemas are checked against


@dataclass(frozen=True)
class JobTarget:
    """Where Jobs go on a stack."""

    namespace: str
    priority_class: str
    service_account: str = "default"
    labels: dict[str, str] = field(default_factory=dict)


def target_for(outputs: Any, team: str | None = None) -> JobTarget:
    """The team namespace and the preemptible PriorityClass of a stack (one line if it has no cluster)."""
    namespaces = outputs.kubernetes_namespaces or []
    if not namespaces:
        raise ConfigError(f"stack {outputs.environment}: no Kubernetes namespaces in the outputs "
                          "(kubernetes.enabled is false in Pulumi.<env>.yaml); Kubernetes steps need one")
    if team is not None and team not in namespaces:
        raise ConfigError(f"stack {outputs.environment}: no namespace {team!r}; the stack has {namespaces}")
    return JobTarget(namespace=team or namespaces[0],
                     priority_class=f"modelway-{outputs.environment}-spot-preemptible")


def job_manifest(*, name: str, image: str, target: JobTarget, resources: Any, retries: int,
                 hyperparameters: dict[str, str], environment: dict[str, str] | None = None) -> dict[str, Any]:
    """The Job manifest (a plain dict, as ``kubectl apply`` takes it) for one step.

    ``resources`` is the step's :class:`~modelway.contracts.resource_settings.ResourceSettings`.
    """
    from kubernetes import client

    if "@sha256:" not in image:
        raise ConfigError(f"image {image!r} is not pinned by digest (<repository>@sha256:...); a tag can move")
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if resources.gpus:
        limits["nvidia.com/gpu"] = str(resources.gpus)
        requests["nvidia.com/gpu"] = str(resources.gpus)
    if resources.cpu:
        requests["cpu"] = limits["cpu"] = str(resources.cpu)
    if resources.memory:
        requests["memory"] = limits["memory"] = str(resources.memory)
    env = {"SM_HPS": json.dumps(hyperparameters, sort_keys=True), "MODELWAY_SM_ROOT": "/opt/ml",
           "MODELWAY_IMAGE_URI": image, **(environment or {})}
    labels = {"app.kubernetes.io/managed-by": "modelway", **target.labels}
    on_gpu_pool = bool(resources.gpus) or resources.spot
    container = client.V1Container(
        name="step", image=image, command=["python", "-m", "modelway.backends.remote"],
        env=[client.V1EnvVar(name=k, value=v) for k, v in sorted(env.items())],
        resources=client.V1ResourceRequirements(limits=limits or None, requests=requests or None),
        security_context=client.V1SecurityContext(
            run_as_non_root=True, allow_privilege_escalation=False, read_only_root_filesystem=True,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
        volume_mounts=[client.V1VolumeMount(name="opt-ml", mount_path="/opt/ml"),
                       client.V1VolumeMount(name="tmp", mount_path="/tmp")],
    )
    pod = client.V1PodSpec(
        restart_policy="Never", containers=[container], service_account_name=target.service_account,
        automount_service_account_token=False,
        priority_class_name=target.priority_class if on_gpu_pool else None,
        node_selector=dict(GPU_POOL_LABELS) if on_gpu_pool else None,
        tolerations=[client.V1Toleration(key=GPU_TAINT[0], operator="Equal", value=GPU_TAINT[1],
                                         effect=GPU_TAINT[2])] if on_gpu_pool else None,
        security_context=client.V1PodSecurityContext(run_as_non_root=True, run_as_user=10001, run_as_group=10001,
                                                     fs_group=10001),
        volumes=[client.V1Volume(name="opt-ml", empty_dir=client.V1EmptyDirVolumeSource()),
                 client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource())],
    )
    job = client.V1Job(
        api_version="batch/v1", kind="Job",
        metadata=client.V1ObjectMeta(name=name, namespace=target.namespace, labels=labels),
        spec=client.V1JobSpec(
            backoff_limit=int(retries), ttl_seconds_after_finished=86400,
            active_deadline_seconds=int(resources.max_runtime_s) if resources.max_runtime_s else None,
            # a spot node going away is a disruption, not a failure of the step: retry without using up backoff
            pod_failure_policy=client.V1PodFailurePolicy(rules=[client.V1PodFailurePolicyRule(
                action="Ignore", on_pod_conditions=[client.V1PodFailurePolicyOnPodConditionsPattern(
                    type="DisruptionTarget", status="True")])]),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod),
        ),
    )
    return client.ApiClient().sanitize_for_serialization(job)


def validate_manifest(manifest: dict[str, Any], version: str = KUBERNETES_VERSION) -> None:
    """Check a manifest against the Kubernetes JSON schemas (strict: unknown fields fail); raises ConfigError."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ConfigError(f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name')}: {where}: "
                          f"{exc.message}") from None
