"""Pins on the Kubernetes rules' decisions that mutation testing found loose (``make mutate``).

Each test asserts what a user reads, word for word (every violation and every note), on both
sides of each boundary and for every element (rule, container, volume, workload), so a
one-point change of a rule (a flipped comparison, a dropped condition, a skipped element, an
unknown value read as absent) fails one of them.
"""
from __future__ import annotations

import pytest
from policy_helpers import evaluate, evaluate_stack

from policies.kubernetes import POD_SPEC_PATHS, image_tag

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "string not known yet"
UNKNOWN_LIST = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"    # "array not known yet"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # "object not known yet"
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"    # "boolean not known yet"

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE, CLUSTER_ROLE = f"{RBAC}:Role", f"{RBAC}:ClusterRole"
BINDING, CLUSTER_BINDING = f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
QUOTA = "kubernetes:core/v1:ResourceQuota"
NAMESPACE = "kubernetes:core/v1:Namespace"
GPU_QUOTA = {"requests.nvidia.com/gpu": "4"}
RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
DIGEST = "sha256:" + "4f" * 32


def messages(policy: str, resource_type: str, props: dict, **kwargs) -> tuple[list[str], list[str]]:
    """(violations, notes) of a resource rule, as the user reads them."""
    outcome = evaluate(policy, resource_type, props, **kwargs)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def stack_messages(policy: str, *resources: tuple) -> tuple[list[str], list[str]]:
    """(violations, notes) of a stack rule over ``(type, props, name)`` resources."""
    outcome = evaluate_stack(policy, resources)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def container(name: str | None = "app", **extra) -> dict:
    c = {"image": f"repo/serving@{DIGEST}", "resources": RESOURCES,
         "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True}, **extra}
    return c if name is None else {"name": name, **c}


def workload(*containers: dict, namespace: str | None = "ml", **spec) -> dict:
    """A Deployment's props with these containers in its pod template."""
    metadata = {} if namespace is None else {"namespace": namespace}
    return {"metadata": metadata, "spec": {"template": {"spec": {"containers": list(containers), **spec}}}}


# --- k8s-gpu-quota: a workload whose pod spec or containers are not known yet -----------------------
def gpu_container(count=1) -> dict:
    return container("trainer", resources={"limits": {"nvidia.com/gpu": count, "cpu": "4", "memory": "16Gi"}})


NO_QUOTA = '(namespace "research" has no ResourceQuota on requests.nvidia.com/gpu)'


@pytest.mark.parametrize("props, unknown", [
    ({"metadata": {"namespace": "research"}, "spec": UNKNOWN_OBJECT}, "the pod spec is not known yet"),
    ({"metadata": {"namespace": "research"}, "spec": {"template": UNKNOWN_OBJECT}}, "the pod spec is not known yet"),
    (workload(namespace="research", initContainers=UNKNOWN_LIST), "initContainers are not known yet"),
    ({"metadata": {"namespace": "research"}, "spec": {"template": {"spec": {"containers": UNKNOWN_LIST}}}},
     "containers are not known yet"),
    (workload(container(), UNKNOWN_OBJECT, namespace="research"), "containers are not known yet"),
], ids=["spec", "template", "init-list", "list", "one-container"])
def test_gpu_quota_a_pod_spec_not_known_yet_is_a_note_not_a_silent_pass(props, unknown):
    # the rule skipped a workload whose pod spec (or container list) was not known yet: it may ask
    # for GPUs in a namespace without a GPU quota, and nothing said it was not checked
    job = (JOB, props, "train")
    assert stack_messages("k8s-gpu-quota", job) == ([], [f"train: {unknown} {NO_QUOTA}"])
    # a namespace with a GPU quota is covered whatever the pod asks for
    assert stack_messages("k8s-gpu-quota", (QUOTA, {"metadata": {"namespace": "research"},
                                                    "spec": {"hard": GPU_QUOTA}}, "q"), job) == ([], [])


def test_gpu_quota_a_known_gpu_container_decides_beside_an_unknown_one():
    job = (JOB, workload(gpu_container(), UNKNOWN_OBJECT, namespace="research"), "train")
    assert stack_messages("k8s-gpu-quota", job) == ([
        'train requests nvidia.com/gpu in namespace "research", which has no ResourceQuota on requests.nvidia.com/gpu'],
        [])


def test_gpu_quota_names_every_part_not_known_yet_in_one_note():
    maybe = container("trainer", resources={"limits": {"nvidia.com/gpu": UNKNOWN_STRING}})
    job = (JOB, workload(maybe, namespace="research", initContainers=UNKNOWN_LIST), "train")
    assert stack_messages("k8s-gpu-quota", job) == ([], [
        f"train: initContainers are not known yet; its nvidia.com/gpu count is not known yet {NO_QUOTA}"])


# --- k8s-no-privileged: a flag not known yet ---------------------------------------------------------
@pytest.mark.parametrize("security, notes", [
    ({"privileged": UNKNOWN_BOOL}, ["container app: securityContext.privileged is not known yet"]),
    ({"allowPrivilegeEscalation": UNKNOWN_BOOL},
     ["container app: securityContext.allowPrivilegeEscalation is not known yet"]),
    (UNKNOWN_OBJECT,
     ["container app: securityContext.privileged, securityContext.allowPrivilegeEscalation are not known yet"]),
], ids=["privileged", "escalation", "securityContext"])
def test_no_privileged_a_flag_not_known_yet_is_a_note_not_a_pass(security, notes):
    # UNKNOWN is falsy, and truthy() read it as false: a container that may be privileged passed
    assert messages("k8s-no-privileged", DEPLOYMENT, workload(container(securityContext=security))) == ([], notes)


def test_no_privileged_a_known_flag_still_violates_beside_an_unknown_one():
    props = workload(container(securityContext={"privileged": True, "allowPrivilegeEscalation": UNKNOWN_BOOL}))
    assert messages("k8s-no-privileged", DEPLOYMENT, props) == (
        ["container app is privileged"], ["container app: securityContext.allowPrivilegeEscalation is not known yet"])


# --- k8s-run-as-non-root: a container list not known yet --------------------------------------------
@pytest.mark.parametrize("kind", ["initContainers", "containers", "ephemeralContainers"])
def test_run_as_non_root_a_container_list_not_known_yet_is_a_note(kind):
    # the rule read containers() directly: a list not known yet was "no containers", a clean pass
    spec = {"securityContext": {"runAsNonRoot": False}, "containers": [], kind: UNKNOWN_LIST}
    props = {"spec": {"template": {"spec": spec}}}
    assert messages("k8s-run-as-non-root", DEPLOYMENT, props) == ([], [f"{kind} are not known yet"])


# --- k8s-rbac-no-escalation-verbs: resourceNames not known yet ----------------------------------------
def test_secret_reads_with_resource_names_not_known_yet_are_a_note_not_all_secrets():
    # UNKNOWN is falsy: `not rule.get("resourceNames")` reported names not known yet as none at all
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": UNKNOWN_LIST}
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": [rule]}) == (
        [], ["rule 1: resourceNames not known yet"])


# --- k8s-no-host-path: a volume not known yet ----------------------------------------------------------
def test_host_path_a_volume_not_known_yet_is_a_note_not_a_made_up_mount():
    # `get(volume, "hostPath") is not None` is true for UNKNOWN: "volume <unknown> mounts hostPath <unknown>"
    volumes = [{"name": "scratch", "emptyDir": {}}, UNKNOWN_OBJECT, {"name": "maybe", "hostPath": UNKNOWN_OBJECT},
               {"name": "docker", "hostPath": {"path": "/var/run"}}]
    assert messages("k8s-no-host-path", DEPLOYMENT, workload(container(), volumes=volumes)) == (
        ["volume docker mounts hostPath /var/run"],
        ["volume 2 is not known yet", "volume maybe: hostPath is not known yet"])
