"""Mutation pins for ``modelway.backends.kubernetes.jobs``: the whole Job manifest of a GPU spot step and of a
plain one, which settings put a pod on the GPU pool, the stack's target, and the schema check's messages."""
from __future__ import annotations

import json

import pytest

from modelway.backends.kubernetes.jobs import (
    GPU_POOL_LABELS,
    GPU_TAINT,
    KUBERNETES_VERSION,
    JobTarget,
    job_manifest,
    target_for,
    validate_manifest,
)
from modelway.contracts.resource_settings import ResourceSettings
from modelway.errors import ConfigError

IMAGE = "repo@sha256:" + "a" * 64
POD_SECURITY = {"fsGroup": 10001, "runAsGroup": 10001, "runAsNonRoot": True, "runAsUser": 10001}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                      "readOnlyRootFilesystem": True, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
MOUNTS = [{"mountPath": "/opt/ml", "name": "opt-ml"}, {"mountPath": "/tmp", "name": "tmp"}]
VOLUMES = [{"emptyDir": {}, "name": "opt-ml"}, {"emptyDir": {}, "name": "tmp"}]
FAILURE_POLICY = {"rules": [{"action": "Ignore", "onPodConditions": [{"status": "True", "type": "DisruptionTarget"}]}]}


def test_constants_match_the_infra_pool():
    assert GPU_POOL_LABELS == {"modelway.io/pool": "gpu-spot", "nvidia.com/gpu.present": "true"}
    assert GPU_TAINT == ("nvidia.com/gpu", "true", "NoSchedule")
    assert KUBERNETES_VERSION == "1.31"


def test_a_gpu_spot_job_is_exactly_this():
    target = JobTarget("ns", "pc", service_account="sa", labels={"team": "t"})
    manifest = job_manifest(name="mw-x", image=IMAGE, target=target,
                            resources=ResourceSettings(gpus=1, spot=True, cpu=2, memory="4Gi", max_runtime="1h"),
                            retries=2, hyperparameters={"b": "2", "a": "1"}, environment={"MODELWAY_STACK": "dev"})
    labels = {"app.kubernetes.io/managed-by": "modelway", "team": "t"}
    assert manifest == {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"labels": labels, "name": "mw-x", "namespace": "ns"},
        "spec": {
            "activeDeadlineSeconds": 3600, "backoffLimit": 2, "podFailurePolicy": FAILURE_POLICY,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": labels}, "spec": {
                "automountServiceAccountToken": False,
                "containers": [{
                    "command": ["python", "-m", "modelway.backends.remote"],
                    "env": [{"name": "MODELWAY_IMAGE_URI", "value": IMAGE}, {"name": "MODELWAY_SM_ROOT", "value": "/opt/ml"},
                            {"name": "MODELWAY_STACK", "value": "dev"}, {"name": "SM_HPS", "value": '{"a": "1", "b": "2"}'}],
                    "image": IMAGE, "name": "step",
                    "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "2.0", "memory": "4Gi"},
                                  "requests": {"nvidia.com/gpu": "1", "cpu": "2.0", "memory": "4Gi"}},
                    "securityContext": CONTAINER_SECURITY, "volumeMounts": MOUNTS}],
                "nodeSelector": GPU_POOL_LABELS, "priorityClassName": "pc", "restartPolicy": "Never",
                "securityContext": POD_SECURITY, "serviceAccountName": "sa",
                "tolerations": [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Equal", "value": "true"}],
                "volumes": VOLUMES}},
        },
    }
    validate_manifest(manifest)


def test_a_plain_job_has_no_pool_no_limits_and_no_deadline():
    manifest = job_manifest(name="mw-y", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(),
                            retries=0, hyperparameters={})
    assert manifest["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "modelway"}
    spec = manifest["spec"]
    assert "activeDeadlineSeconds" not in spec and spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert set(pod) == {"automountServiceAccountToken", "containers", "restartPolicy", "securityContext",
                        "serviceAccountName", "volumes"}
    assert pod["serviceAccountName"] == "default"
    [container] = pod["containers"]
    assert container["resources"] == {}
    assert container["env"] == [{"name": "MODELWAY_IMAGE_URI", "value": IMAGE},
                                {"name": "MODELWAY_SM_ROOT", "value": "/opt/ml"}, {"name": "SM_HPS", "value": "{}"}]
    validate_manifest(manifest)


@pytest.mark.parametrize("resources", [{"spot": True}, {"gpus": 1}])
def test_spot_or_gpus_alone_put_the_pod_on_the_gpu_pool(resources):
    pod = job_manifest(name="z", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(**resources),
                       retries=0, hyperparameters={})["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == GPU_POOL_LABELS and pod["priorityClassName"] == "pc"
    assert pod["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Equal", "value": "true"}]
    limits = pod["containers"][0]["resources"].get("limits")
    assert limits == ({"nvidia.com/gpu": "1"} if resources.get("gpus") else None)


def test_cpu_or_memory_alone_are_both_request_and_limit():
    cpu = job_manifest(name="z", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(cpu=1),
                       retries=0, hyperparameters={})["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert cpu == {"limits": {"cpu": "1.0"}, "requests": {"cpu": "1.0"}}
    memory = job_manifest(name="z", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(memory="1Gi"),
                          retries=0, hyperparameters={})["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert memory == {"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}}


def test_the_caller_environment_can_override_the_defaults():
    env = job_manifest(name="z", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(), retries=0,
                       hyperparameters={}, environment={"MODELWAY_SM_ROOT": "/elsewhere"})["spec"]["template"]["spec"][
        "containers"][0]["env"]
    assert {"name": "MODELWAY_SM_ROOT", "value": "/elsewhere"} in env and len(env) == 3


def test_an_image_by_tag_is_refused():
    with pytest.raises(ConfigError) as err:
        job_manifest(name="x", image="repo:latest", target=JobTarget("ns", "pc"), resources=ResourceSettings(),
                     retries=0, hyperparameters={})
    assert str(err.value) == "image 'repo:latest' is not pinned by digest (<repository>@sha256:...); a tag can move"


class _Outputs:
    def __init__(self, namespaces, environment="prod"):
        self.kubernetes_namespaces = namespaces
        self.environment = environment


def test_a_target_is_a_frozen_value():
    target = JobTarget("ns", "pc")
    with pytest.raises(AttributeError):
        target.namespace = "other"


def test_target_messages_and_defaults():
    target = target_for(_Outputs(["risk", "fraud"]))
    assert target == JobTarget("risk", "modelway-prod-spot-preemptible", "default", {})
    assert target_for(_Outputs(["risk", "fraud"], "dev"), "fraud") == JobTarget("fraud", "modelway-dev-spot-preemptible")
    with pytest.raises(ConfigError) as err:
        target_for(_Outputs(["risk", "fraud"]), "growth")
    assert str(err.value) == "stack prod: no namespace 'growth'; the stack has ['risk', 'fraud']"
    for empty in (None, []):
        with pytest.raises(ConfigError) as err:
            target_for(_Outputs(empty), None)
        assert str(err.value) == ("stack prod: no Kubernetes namespaces in the outputs (kubernetes.enabled is false "
                                  "in Pulumi.<env>.yaml); Kubernetes steps need one")


def test_validation_messages_name_the_kind_the_job_and_the_field():
    manifest = job_manifest(name="mw-v", image=IMAGE, target=JobTarget("ns", "pc"), resources=ResourceSettings(),
                            retries=0, hyperparameters={})
    broken = json.loads(json.dumps(manifest))
    del broken["spec"]["template"]
    with pytest.raises(ConfigError) as err:
        validate_manifest(broken)
    assert str(err.value) == "Job mw-v: spec: 'template' is a required property"
    deep = json.loads(json.dumps(manifest))
    deep["spec"]["backoffLimit"] = "three"
    with pytest.raises(ConfigError) as err:
        validate_manifest(deep)
    assert str(err.value) == "Job mw-v: spec.backoffLimit: 'three' is not of type 'integer', 'null'"
    rootless = json.loads(json.dumps(manifest))
    rootless["bogus"] = 1
    with pytest.raises(ConfigError) as err:
        validate_manifest(rootless)
    assert str(err.value).startswith("Job mw-v: (root): Additional properties are not allowed ('bogus'")
    nameless = {"apiVersion": "batch/v1", "kind": "Job", "spec": "x"}
    with pytest.raises(ConfigError) as err:
        validate_manifest(nameless)
    assert str(err.value).startswith("Job None: spec: ")
