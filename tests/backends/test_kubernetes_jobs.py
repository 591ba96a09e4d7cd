"""Kubernetes Job manifests for heavy steps, validated offline against the Kubernetes JSON schemas (strict).

Not exercised (no API server can run here): admission (the namespace's ``restricted`` Pod
Security level, ResourceQuota), scheduling onto the GPU pool, the NVIDIA device plugin,
spot disruption handling by the Job controller, and submission itself.
"""
from __future__ import annotations

import pytest

from modelway.backends.kubernetes.jobs import (
    GPU_POOL_LABELS,
    GPU_TAINT,
    JobTarget,
    job_manifest,
    target_for,
    validate_manifest,
)
from modelway.contracts.resource_settings import ResourceSettings
from modelway.errors import ConfigError

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/modelway-dev-training@sha256:" + "a" * 64
TARGET = JobTarget("ml-team", "modelway-dev-spot-preemptible")


def _gpu_job(**resources):
    settings = ResourceSettings(**{"gpus": 2, "spot": True, "cpu": 4, "memory": "16Gi", "max_runtime": "2h",
                                   **resources})
    return job_manifest(name="mw-20261203-train-a1", image=IMAGE, target=TARGET, resources=settings, retries=3,
                        hyperparameters={"modelway_spec": "s3://b/jobs/spec.json", "modelway_outputs": "s3://b/o.json"})


def test_gpu_job_validates_and_lands_on_the_spot_gpu_pool():
    job = _gpu_job()
    validate_manifest(job)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == GPU_POOL_LABELS
    assert pod["tolerations"] == [{"key": GPU_TAINT[0], "operator": "Equal", "value": GPU_TAINT[1],
                                   "effect": GPU_TAINT[2]}]
    assert pod["priorityClassName"] == "modelway-dev-spot-preemptible"
    [container] = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["image"] == IMAGE and container["command"] == ["python", "-m", "modelway.backends.remote"]
    assert job["spec"]["activeDeadlineSeconds"] == 7200 and job["spec"]["backoffLimit"] == 3
    assert job["metadata"]["namespace"] == "ml-team"


def test_security_context_is_restricted():
    pod = _gpu_job()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    ctx = pod["containers"][0]["securityContext"]
    assert ctx == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                   "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_cpu_step_stays_off_the_gpu_pool():
    job = _gpu_job(gpus=0, spot=False)
    validate_manifest(job)
    pod = job["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod and "priorityClassName" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


def test_schema_validation_catches_a_broken_manifest():
    job = _gpu_job()
    job["spec"]["template"]["spec"]["containers"][0]["gpu"] = 1  # not a Container field
    with pytest.raises(ConfigError, match=r"spec.template.spec.containers.0: Additional properties"):
        validate_manifest(job)
    job = _gpu_job()
    job["spec"]["backoffLimit"] = "three"
    with pytest.raises(ConfigError, match=r"spec.backoffLimit: 'three' is not of type"):
        validate_manifest(job)


def test_image_must_be_pinned_by_digest():
    with pytest.raises(ConfigError, match="not pinned by digest"):
        job_manifest(name="x", image="repo:latest", target=TARGET, resources=ResourceSettings(), retries=0,
                     hyperparameters={})


def test_target_comes_from_the_stack_outputs():
    class Outputs:
        environment = "prod"
        kubernetes_namespaces = ["risk", "fraud"]

    assert target_for(Outputs()) == JobTarget("risk", "modelway-prod-spot-preemptible")
    assert target_for(Outputs(), "fraud").namespace == "fraud"
    with pytest.raises(ConfigError, match="no namespace 'growth'"):
        target_for(Outputs(), "growth")
    Outputs.kubernetes_namespaces = None
    with pytest.raises(ConfigError, match="no Kubernetes namespaces"):
        target_for(Outputs())
