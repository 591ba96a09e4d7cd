"""Kubernetes rules: RBAC on every rule (a wildcard in the SECOND rule), pod security on every container."""
from __future__ import annotations

import pytest
from policy_helpers import (
    assert_passes,
    assert_stack_passes,
    assert_stack_violates,
    assert_violates,
    evaluate,
    evaluate_stack,
)

from policies.values import UNKNOWN

UNKNOWN_LIST = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"  # the engine's "array not known yet"

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE, CLUSTER_ROLE = f"{RBAC}:Role", f"{RBAC}:ClusterRole"
BINDING, CLUSTER_BINDING = f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
QUOTA = "kubernetes:core/v1:ResourceQuota"

READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}


def container(name: str = "app", **extra) -> dict:
    return {"name": name, "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving:1.4.2",
            "resources": RESOURCES, "securityContext": {"allowPrivilegeEscalation": False}, **extra}


def deployment(*containers: dict, pod_security: dict | None = None, volumes: list | None = None) -> dict:
    spec = {"containers": list(containers), "securityContext": pod_security or {"runAsNonRoot": True}}
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"namespace": "ml"}, "spec": {"template": {"spec": spec}}}


@pytest.mark.parametrize("kind", [ROLE, CLUSTER_ROLE])
def test_rbac_wildcard_in_second_rule_is_found(kind):
    second = {"apiGroups": ["batch"], "resources": ["*"], "verbs": ["get"]}
    messages = assert_violates("k8s-rbac-no-wildcards", kind, {"rules": [READ_PODS, second]}, contains="rule 2")
    assert messages == ['rule 2 has "*" in resources']


def test_rbac_no_wildcards_passes_and_flags_verbs_and_api_groups():
    assert_passes("k8s-rbac-no-wildcards", ROLE, {"rules": [READ_PODS, {**READ_PODS, "apiGroups": ["batch"]}]})
    messages = assert_violates("k8s-rbac-no-wildcards", ROLE,
                               {"rules": [READ_PODS, {"apiGroups": ["*"], "resources": ["jobs"], "verbs": ["*"]}]})
    assert set(messages) == {'rule 2 has "*" in verbs', 'rule 2 has "*" in apiGroups'}


def test_rbac_escalation_verbs_and_secret_reads():
    assert_passes("k8s-rbac-no-escalation-verbs", ROLE,
                  {"rules": [READ_PODS, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                                         "resourceNames": ["model-registry-token"]}]})
    assert_violates("k8s-rbac-no-escalation-verbs", CLUSTER_ROLE,
                    {"rules": [READ_PODS, {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
                                           "verbs": ["bind", "escalate"]}]}, contains="rule 2 grants bind, escalate")
    assert_violates("k8s-rbac-no-escalation-verbs", ROLE,
                    {"rules": [READ_PODS, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]},
                    contains="read all secrets")


def test_cluster_admin_binding():
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
    assert_passes("k8s-no-cluster-admin-binding", CLUSTER_BINDING,
                  {"roleRef": ref, "subjects": [{"kind": "Group", "name": "system:masters"}]})
    assert_passes("k8s-no-cluster-admin-binding", BINDING,
                  {"roleRef": {**ref, "name": "view"}, "subjects": [{"kind": "Group", "name": "data-scientists"}]})
    assert_violates("k8s-no-cluster-admin-binding", CLUSTER_BINDING,
                    {"roleRef": ref, "subjects": [{"kind": "Group", "name": "system:masters"},
                                                  {"kind": "User", "name": "alice"}]}, contains="alice")


def test_no_privileged_checks_every_container_including_init():
    assert_passes("k8s-no-privileged", DEPLOYMENT, deployment(container(), container("sidecar")))
    sidecar = container("sidecar", securityContext={"privileged": True})
    assert_violates("k8s-no-privileged", DEPLOYMENT, deployment(container(), sidecar), contains="sidecar")
    job = {"spec": {"template": {"spec": {"initContainers": [container("init", securityContext={
        "allowPrivilegeEscalation": True})], "containers": [container()]}}}}
    assert_violates("k8s-no-privileged", JOB, job, contains="init")


def test_run_as_non_root_pod_level_or_container_override():
    assert_passes("k8s-run-as-non-root", DEPLOYMENT, deployment(container(), container("b")))
    override = container("b", securityContext={"runAsNonRoot": False})
    assert_violates("k8s-run-as-non-root", DEPLOYMENT, deployment(container(), override), contains="container b")
    assert_violates("k8s-run-as-non-root", POD, {"spec": {"containers": [container()]}})


def test_resource_limits():
    assert_passes("k8s-resource-limits", DEPLOYMENT, deployment(container()))
    missing = container("b", resources={"requests": {"cpu": "1"}})
    assert_violates("k8s-resource-limits", DEPLOYMENT, deployment(container(), missing),
                    contains="requests.memory")


@pytest.mark.parametrize("image, ok", [("repo/serving:1.4.2", True), ("repo/serving@sha256:abc", True),
                                       ("localhost:5000/serving:2", True), ("repo/serving:latest", False),
                                       ("repo/serving", False), ("localhost:5000/serving", False)])
def test_no_latest_tag(image, ok):
    # outside prod (requireDigest false) a version tag is enough
    props = deployment(container(), container("b", image=image))
    if ok:
        assert_passes("k8s-no-latest-tag", DEPLOYMENT, props, config={"requireDigest": False})
    else:
        assert_violates("k8s-no-latest-tag", DEPLOYMENT, props, contains="container b", config={"requireDigest": False})


DIGEST = "sha256:" + "4f" * 32


# CKV_K8S_43 ("image should use digest"): its passing cases name the image by @sha256 digest,
# its failing ones by tag (even a version tag) or by nothing.
@pytest.mark.parametrize("image, ok", [
    (f"repo/serving@{DIGEST}", True), (f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving:1.4@{DIGEST}", True),
    ("repo/serving:1.4.2", False), ("repo/serving@sha256:abc", False), ("nginx", False)])
def test_prod_requires_images_pinned_by_digest(image, ok):
    props = deployment(container("a", image=f"repo/a@{DIGEST}"), container("b", image=image))
    if ok:
        assert_passes("k8s-no-latest-tag", DEPLOYMENT, props)
    else:
        assert_violates("k8s-no-latest-tag", DEPLOYMENT, props, contains="container b")


def test_unknown_container_list_is_not_evaluated_not_a_pass():
    props = {"spec": {"template": {"spec": {"containers": UNKNOWN_LIST}}}}
    outcome = evaluate("k8s-no-latest-tag", DEPLOYMENT, props)
    assert outcome.violations == [] and [n.message for n in outcome.notes] == ["containers are not known yet"]


def test_no_host_path_cronjob():
    def cronjob(volumes):
        return {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [container()],
                                                                        "volumes": volumes}}}}}}
    assert_passes("k8s-no-host-path", CRONJOB, cronjob([{"name": "scratch", "emptyDir": {}}]))
    assert_violates("k8s-no-host-path", CRONJOB, cronjob([{"name": "scratch", "emptyDir": {}},
                                                          {"name": "docker", "hostPath": {"path": "/var/run"}}]),
                    contains="docker")


UNKNOWN_RESOURCES = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # the engine's "object not known yet"


@pytest.mark.parametrize(("resources", "violations", "notes"), [
    ({"requests": {"cpu": "1", "memory": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, "limits": RESOURCES["limits"]},
     [], ["container b: requests.memory is not known yet"]),
    ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": UNKNOWN_RESOURCES},
     [], ["container b: limits.cpu, limits.memory are not known yet"]),
    (UNKNOWN_RESOURCES, [],
     ["container b: requests.cpu, requests.memory, limits.cpu, limits.memory are not known yet"]),
    ({"requests": {"memory": "1Gi"}, "limits": UNKNOWN_RESOURCES},
     ["container b has no requests.cpu"], ["container b: limits.cpu, limits.memory are not known yet"]),
], ids=["value", "section", "resources", "with-a-missing-one"])
def test_resource_limits_not_known_yet_are_a_note_not_missing(resources, violations, notes):
    # UNKNOWN is falsy: a request or limit not known yet was reported as missing
    outcome = evaluate("k8s-resource-limits", DEPLOYMENT, deployment(container("b", resources=resources)))
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (violations, notes)


def gpu_job(namespace: str) -> tuple:
    trainer = container("trainer", resources={"limits": {"nvidia.com/gpu": 1, "cpu": "4", "memory": "16Gi"}})
    return (JOB, {"metadata": {"namespace": namespace}, "spec": {"template": {"spec": {"containers": [trainer]}}}},
            f"train-{namespace}")


def test_gpu_quota_stack_view():
    quota = (QUOTA, {"metadata": {"namespace": "ml"}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}, "q")
    assert_stack_passes("k8s-gpu-quota", [quota, gpu_job("ml"), (DEPLOYMENT, deployment(container()), "cpu")])
    violations = assert_stack_violates("k8s-gpu-quota", [quota, gpu_job("ml"), gpu_job("research")],
                                       contains='"research"')
    assert len(violations) == 1 and violations[0].urn.endswith("train-research")


UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # e.g. the name of an auto-named Namespace
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"


def gpu_quota_outcome(*resources) -> tuple[list[str], list[str]]:
    outcome = evaluate_stack("k8s-gpu-quota", resources)
    return [v.message for v in outcome.violations], [n.message for n in outcome.notes]


def test_gpu_quota_a_workload_namespace_not_known_yet_is_a_note_not_default():
    # `namespace or "default"` read an unknown namespace as "default" (the note below was dead code):
    # a violation when default has no GPU quota, a silent pass when it has one
    job = (JOB, {**gpu_job("x")[1], "metadata": {"namespace": UNKNOWN_STRING}}, "train")
    default_quota = (QUOTA, {"metadata": {}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}, "q")
    assert gpu_quota_outcome(job) == ([], ["train: namespace is not known yet"])
    assert gpu_quota_outcome(default_quota, job) == ([], ["train: namespace is not known yet"])
    # no namespace at all is the default namespace
    in_default = (JOB, {**gpu_job("x")[1], "metadata": {}}, "train")
    assert gpu_quota_outcome(default_quota, in_default) == ([], [])
    assert gpu_quota_outcome(in_default) == (
        ['train requests nvidia.com/gpu in namespace "default", which has no ResourceQuota on requests.nvidia.com/gpu'],
        [])


@pytest.mark.parametrize("unknown_quota", [
    {"metadata": {"namespace": UNKNOWN_STRING}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}},
    {"metadata": {"namespace": "research"}, "spec": {"hard": UNKNOWN_OBJECT}},
], ids=["namespace", "limits"])
def test_gpu_quota_a_quota_not_known_yet_is_a_note(unknown_quota):
    # a quota in a namespace not known yet counted for "default"; it may be the workload's
    quota = (QUOTA, unknown_quota, "q")
    assert gpu_quota_outcome(quota, gpu_job("research")) == (
        [], ["train-research: a ResourceQuota's namespace or limits are not known yet"])
    known = (QUOTA, {"metadata": {"namespace": "research"}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}, "k")
    assert gpu_quota_outcome(quota, known, gpu_job("research")) == ([], [])  # a known quota covers it


@pytest.mark.parametrize("section", ["limits", "requests"])
def test_gpu_quota_a_gpu_count_not_known_yet_is_a_note_not_zero(section):
    # an unknown nvidia.com/gpu count was read as 0: a workload that may use GPUs passed silently
    maybe = container("trainer", resources={section: {"nvidia.com/gpu": UNKNOWN_STRING, "cpu": "4"}})
    job = (JOB, {"metadata": {"namespace": "research"}, "spec": {"template": {"spec": {"containers": [maybe]}}}},
           "train")
    assert gpu_quota_outcome(job) == ([], [
        'train: its nvidia.com/gpu count is not known yet (namespace "research" has no ResourceQuota on '
        "requests.nvidia.com/gpu)"])
    quota = (QUOTA, {"metadata": {"namespace": "research"}, "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}, "q")
    assert gpu_quota_outcome(quota, job) == ([], [])  # covered whatever the count
    # a known positive count in the other section decides: a violation, as before
    both = container("trainer", resources={section: {"nvidia.com/gpu": UNKNOWN_STRING},
                                           ("requests" if section == "limits" else "limits"): {"nvidia.com/gpu": 1}})
    known = (JOB, {"metadata": {"namespace": "research"}, "spec": {"template": {"spec": {"containers": [both]}}}},
             "train")
    assert gpu_quota_outcome(known) == (
        ['train requests nvidia.com/gpu in namespace "research", which has no ResourceQuota on requests.nvidia.com/gpu'],
        [])


NAMESPACE = "kubernetes:core/v1:Namespace"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"


def namespace(name: str) -> tuple:
    return (NAMESPACE, {"metadata": {"name": name}}, f"ns-{name}")


def quota(namespace_name, hard: dict) -> tuple:
    return (QUOTA, {"metadata": {"namespace": namespace_name}, "spec": {"hard": hard}}, f"quota-{namespace_name}")


CPU_MEMORY = {"requests.cpu": "8", "requests.memory": "32Gi", "limits.cpu": "16", "limits.memory": "64Gi"}


def test_namespace_quota_every_namespace_needs_cpu_and_memory_quota():
    # KSV-0040's cases: a quota with cpu and memory passes; none, or a LimitRange alone, fails.
    assert_stack_passes("k8s-namespace-quota", [namespace("serving"), quota("serving", CPU_MEMORY)])
    limit_range = (LIMIT_RANGE, {"metadata": {"namespace": "research"},
                                 "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}}, "lr")
    violations = assert_stack_violates(
        "k8s-namespace-quota", [namespace("serving"), quota("serving", CPU_MEMORY), namespace("research"), limit_range],
        contains='namespace "research" has no ResourceQuota on cpu and memory')
    assert len(violations) == 1 and violations[0].urn.endswith("ns-research")
    assert_stack_violates("k8s-namespace-quota", [namespace("gpu"), quota("gpu", {"requests.nvidia.com/gpu": "4",
                                                                                  "requests.cpu": "8"})],
                          contains="no ResourceQuota on memory")


def test_namespace_quota_unknown_is_not_evaluated():
    outcome = evaluate_stack("k8s-namespace-quota", [namespace("serving"), quota(UNKNOWN, CPU_MEMORY)])
    assert outcome.violations == [] and "not known yet" in outcome.notes[0].message
