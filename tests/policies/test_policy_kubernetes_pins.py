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


# --- k8s-rbac-no-wildcards: every field of every rule --------------------------------------------------
READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


@pytest.mark.parametrize("field", ["verbs", "resources", "apiGroups"])
def test_rbac_a_wildcard_in_any_field_of_any_rule_is_named(field):
    rules = [READ_PODS, "not a rule", READ_PODS, {**READ_PODS, field: ["x", "*"]}]
    for kind in (ROLE, CLUSTER_ROLE, f"{RBAC}:RolePatch", f"{RBAC}:ClusterRolePatch"):
        assert messages("k8s-rbac-no-wildcards", kind, {"rules": rules}) == ([f'rule 4 has "*" in {field}'], [])
    # a rule given alone (not in a list) is rule 1
    assert messages("k8s-rbac-no-wildcards", ROLE, {"rules": {**READ_PODS, field: "*"}}) == (
        [f'rule 1 has "*" in {field}'], [])


def test_rbac_wildcards_in_every_field_are_each_named_in_order():
    rule = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    assert messages("k8s-rbac-no-wildcards", ROLE, {"rules": [rule, READ_PODS, rule]}) == ([
        'rule 1 has "*" in verbs', 'rule 1 has "*" in resources', 'rule 1 has "*" in apiGroups',
        'rule 3 has "*" in verbs', 'rule 3 has "*" in resources', 'rule 3 has "*" in apiGroups'], [])


def test_rbac_rules_not_known_yet_are_notes_and_the_known_ones_still_checked():
    assert messages("k8s-rbac-no-wildcards", ROLE, {"rules": UNKNOWN_LIST}) == ([], ["rules are not known yet"])
    rules = [UNKNOWN_OBJECT, {"apiGroups": [UNKNOWN_STRING], "resources": UNKNOWN_LIST, "verbs": ["*"]},
             {**READ_PODS, "verbs": [UNKNOWN_STRING]}, {**READ_PODS, "resources": ["*"]}]
    assert messages("k8s-rbac-no-wildcards", ROLE, {"rules": rules}) == (
        ['rule 2 has "*" in verbs', 'rule 4 has "*" in resources'],
        ["rule 1 is not known yet", "rule 2: resources, apiGroups not known yet", "rule 3: verbs not known yet"])
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": UNKNOWN_LIST}) == (
        [], ["rules are not known yet"])


def test_rbac_without_rules_passes():
    assert messages("k8s-rbac-no-wildcards", ROLE, {}) == ([], [])
    assert messages("k8s-rbac-no-wildcards", ROLE, {"rules": [READ_PODS]}) == ([], [])


# --- k8s-rbac-no-escalation-verbs ------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["bind", "escalate", "impersonate"])
def test_each_escalation_verb_is_named(verb):
    rules = [READ_PODS, {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
                         "verbs": ["get", verb, "list"]}]
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": rules}) == ([f"rule 2 grants {verb}"], [])


def test_every_escalation_verb_of_every_rule_is_named_in_order():
    rule = {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate", "create", "bind", "escalate"]}
    assert messages("k8s-rbac-no-escalation-verbs", CLUSTER_ROLE, {"rules": [rule, READ_PODS, rule]}) == (
        ["rule 1 grants impersonate, bind, escalate", "rule 3 grants impersonate, bind, escalate"], [])


@pytest.mark.parametrize("resources, verbs, violates", [
    (["secrets"], ["get"], True), (["secrets"], ["list"], True), (["secrets"], ["watch"], True),
    (["secrets"], ["*"], True), (["*"], ["get"], True), (["pods", "secrets"], ["create", "list"], True),
    (["secrets"], ["create", "update", "delete"], False),   # writes, no reads
    (["configmaps"], ["get", "list"], False),
    (["secret"], ["get"], False),
])
def test_reading_all_secrets_needs_a_read_verb_on_secrets_or_everything(resources, verbs, violates):
    rule = {"apiGroups": [""], "resources": resources, "verbs": verbs}
    reads = ", ".join(v for v in verbs if v in ("get", "list", "watch", "*"))
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": [READ_PODS, rule]}) == (
        [f"rule 2 can read all secrets ({reads} without resourceNames)"] if violates else [], [])


@pytest.mark.parametrize("names, violates", [(["registry-token"], False), ([], True), (None, True)])
def test_secret_reads_are_allowed_by_resource_names(names, violates):
    rule = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "watch"], "resourceNames": names}
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": [rule]}) == (
        ["rule 1 can read all secrets (get, watch without resourceNames)"] if violates else [], [])


def test_an_escalation_verb_and_a_secret_read_in_one_rule_are_both_named():
    rule = {"apiGroups": [""], "resources": ["*"], "verbs": ["*", "bind"]}
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": [rule]}) == (
        ["rule 1 grants bind", "rule 1 can read all secrets (* without resourceNames)"], [])


# --- k8s-no-cluster-admin-binding ------------------------------------------------------------------
ADMIN_REF = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}


def test_cluster_admin_bound_to_every_non_system_subject_is_named():
    subjects = [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "system:masters"},
                {"name": "bob"}, {"kind": "Group", "name": "system"}, {"kind": "User", "name": "my-system:x"}]
    expected = ["binds cluster-admin to User alice", "binds cluster-admin to subject bob",
                "binds cluster-admin to Group system", "binds cluster-admin to User my-system:x"]
    for kind in (CLUSTER_BINDING, BINDING, f"{RBAC}:RoleBindingPatch", f"{RBAC}:ClusterRoleBindingPatch"):
        assert messages("k8s-no-cluster-admin-binding", kind, {"roleRef": ADMIN_REF, "subjects": subjects}) == (
            expected, [])
    # one subject given alone, not in a list
    assert messages("k8s-no-cluster-admin-binding", CLUSTER_BINDING,
                    {"roleRef": ADMIN_REF, "subjects": {"kind": "User", "name": "alice"}}) == (expected[:1], [])


@pytest.mark.parametrize("role", ["view", "cluster-admin-lite", "Cluster-Admin", "admin"])
def test_only_the_cluster_admin_role_is_refused(role):
    props = {"roleRef": {**ADMIN_REF, "name": role}, "subjects": [{"kind": "User", "name": "alice"}]}
    assert messages("k8s-no-cluster-admin-binding", CLUSTER_BINDING, props) == ([], [])


def test_cluster_admin_role_or_subject_not_known_yet_is_a_note():
    alice = {"kind": "User", "name": "alice"}
    props = {"roleRef": {**ADMIN_REF, "name": UNKNOWN_STRING}, "subjects": [alice]}
    assert messages("k8s-no-cluster-admin-binding", CLUSTER_BINDING, props) == ([], ["roleRef.name is not known yet"])
    props = {"roleRef": ADMIN_REF, "subjects": [{"kind": "User", "name": UNKNOWN_STRING}, alice]}
    assert messages("k8s-no-cluster-admin-binding", CLUSTER_BINDING, props) == (
        ["binds cluster-admin to User alice"], ["a subject name is not known yet"])


# --- pod templates: every workload kind, every container kind ------------------------------------
# Where each workload kind keeps its pod spec (the Kubernetes API), spelled out here rather than
# read from the rule's own table, which a test must not trust.
TEMPLATE = ("spec", "template", "spec")
WORKLOAD_POD_SPECS = {
    "kubernetes:core/v1:Pod": ("spec",), "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:core/v1:ReplicationController": TEMPLATE, "kubernetes:apps/v1:Deployment": TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": TEMPLATE, "kubernetes:apps/v1:DaemonSet": TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": TEMPLATE, "kubernetes:batch/v1:Job": TEMPLATE,
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def at_path(resource_type: str, spec: dict) -> dict:
    """Props with ``spec`` at the pod spec's place in this workload kind."""
    props: dict = spec
    for key in reversed(WORKLOAD_POD_SPECS[resource_type]):
        props = {key: props}
    return props


def test_the_pod_rules_read_exactly_these_workload_kinds():
    assert sorted(POD_SPEC_PATHS) == sorted(WORKLOAD_POD_SPECS)


@pytest.mark.parametrize("resource_type", sorted(WORKLOAD_POD_SPECS))
def test_every_workload_kind_has_its_pod_spec_read(resource_type):
    spec = {"containers": [container(securityContext={"privileged": True})]}
    assert messages("k8s-no-privileged", resource_type, at_path(resource_type, spec)) == (
        ["container app is privileged"], [])


def test_every_container_kind_is_read_and_unnamed_ones_are_labelled_by_position():
    privileged = {"securityContext": {"privileged": True}}
    spec = {"initContainers": [container("init", **privileged)],
            "containers": [container(), "not a container", container(None, **privileged)],
            "ephemeralContainers": [container(None, **privileged)]}
    assert messages("k8s-no-privileged", DEPLOYMENT, at_path(DEPLOYMENT, spec)) == (
        ["container init is privileged", "container containers[2] is privileged",
         "container ephemeralContainers[0] is privileged"], [])


@pytest.mark.parametrize("kind", ["initContainers", "containers", "ephemeralContainers"])
def test_a_container_list_not_known_yet_is_a_note_and_the_others_still_checked(kind):
    spec = {"containers": [container(securityContext={"privileged": True})], kind: UNKNOWN_LIST}
    if kind == "containers":
        spec = {"initContainers": [container(securityContext={"privileged": True})], kind: UNKNOWN_LIST}
    assert messages("k8s-no-privileged", DEPLOYMENT, at_path(DEPLOYMENT, spec)) == (
        ["container app is privileged"], [f"{kind} are not known yet"])


def test_a_pod_spec_not_known_yet_is_one_note_for_every_pod_rule():
    props = {"spec": {"template": UNKNOWN_OBJECT}}
    for policy in ("k8s-no-privileged", "k8s-run-as-non-root", "k8s-resource-limits", "k8s-no-latest-tag"):
        assert messages(policy, DEPLOYMENT, props) == ([], ["the pod spec is not known yet"]), policy
    assert messages("k8s-no-host-path", DEPLOYMENT, props) == ([], ["the pod volumes are not known yet"])


# --- k8s-no-privileged -------------------------------------------------------------------------------
@pytest.mark.parametrize("security, violations", [
    ({"privileged": True}, ["container app is privileged"]),
    ({"privileged": "true"}, ["container app is privileged"]),
    ({"privileged": False, "allowPrivilegeEscalation": " True "}, ["container app sets allowPrivilegeEscalation=true"]),
    ({"privileged": True, "allowPrivilegeEscalation": True},
     ["container app is privileged", "container app sets allowPrivilegeEscalation=true"]),
    ({"privileged": "false", "allowPrivilegeEscalation": False}, []),
    ({}, []),
])
def test_privileged_and_privilege_escalation(security, violations):
    assert messages("k8s-no-privileged", DEPLOYMENT, workload(container(securityContext=security))) == (
        violations, [])


# --- k8s-run-as-non-root -----------------------------------------------------------------------------
ROOT = "container {} may run as root; set securityContext.runAsNonRoot=true"


@pytest.mark.parametrize("pod, own, violates", [
    (True, None, False), (True, False, True), (False, True, False), (False, None, True), (None, None, True),
    (None, True, False), ("true", None, False), (True, "false", True),
])
def test_run_as_non_root_the_containers_own_setting_wins_over_the_pods(pod, own, violates):
    security = {} if own is None else {"runAsNonRoot": own}
    pod_security = {} if pod is None else {"runAsNonRoot": pod}
    props = workload(container("a"), container("b", securityContext=security), securityContext=pod_security)
    props["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsNonRoot": True}
    assert messages("k8s-run-as-non-root", DEPLOYMENT, props) == ([ROOT.format("b")] if violates else [], [])


@pytest.mark.parametrize("pod, own, notes", [
    (UNKNOWN_BOOL, None, ["container b: runAsNonRoot is not known yet"]),
    (UNKNOWN_BOOL, True, []),
    (True, UNKNOWN_BOOL, ["container b: runAsNonRoot is not known yet"]),
    (UNKNOWN_OBJECT, None, ["container b: runAsNonRoot is not known yet"]),
])
def test_run_as_non_root_not_known_yet_is_a_note(pod, own, notes):
    security = {} if own is None else {"runAsNonRoot": own}
    pod_security = pod if pod == UNKNOWN_OBJECT else {"runAsNonRoot": pod}
    props = workload(container("b", securityContext=security), securityContext=pod_security)
    assert messages("k8s-run-as-non-root", DEPLOYMENT, props) == ([], notes)


# --- k8s-resource-limits -----------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"])
def test_each_missing_request_or_limit_is_named(missing):
    section, res = missing.split(".")
    resources = {s: {r: v for r, v in values.items() if (s, r) != (section, res)} for s, values in RESOURCES.items()}
    props = workload(container("a"), container("b", resources=resources))
    assert messages("k8s-resource-limits", DEPLOYMENT, props) == ([f"container b has no {missing}"], [])
    # an empty value is missing too; one not known yet is a note, named alone ("is")
    resources[section][res] = ""
    assert messages("k8s-resource-limits", DEPLOYMENT, workload(container("b", resources=resources))) == (
        [f"container b has no {missing}"], [])
    resources[section][res] = UNKNOWN_STRING
    assert messages("k8s-resource-limits", DEPLOYMENT, workload(container("b", resources=resources))) == (
        [], [f"container b: {missing} is not known yet"])


def test_a_container_without_resources_names_all_four():
    props = workload(container("b", resources=None))
    assert messages("k8s-resource-limits", DEPLOYMENT, props) == (
        ["container b has no requests.cpu, requests.memory, limits.cpu, limits.memory"], [])


# --- k8s-no-latest-tag -------------------------------------------------------------------------------
@pytest.mark.parametrize("image, tag", [
    ("repo/serving:1.4.2", "1.4.2"), ("localhost:5000/team/serving:2", "2"), ("localhost:5000/serving", None),
    ("serving", None), ("serving:latest", "latest"), (f"repo/serving@{DIGEST}", "@digest"),
    (f"repo/serving:1.4@{DIGEST}", "@digest"), ("repo/serving:", None), ("localhost:5000/serving:", None),
])
def test_image_tag(image, tag):
    assert image_tag(image) == tag


NOT_PINNED = "container b image {} is not pinned (use a version tag or digest)"
BY_TAG = "container b image {} is pinned by tag, not digest (use image@sha256:...)"


@pytest.mark.parametrize("image, outside_prod, in_prod", [
    ("repo/serving:1.4.2", None, BY_TAG),
    ("repo/serving:latest", NOT_PINNED, NOT_PINNED),
    ("repo/serving:latest-gpu", None, BY_TAG),
    ("localhost:5000/serving", NOT_PINNED, NOT_PINNED),
    ("repo/serving:", NOT_PINNED, NOT_PINNED),                        # an empty tag pins nothing
    (f"repo/serving@{DIGEST}", None, None),
    (f"repo/serving:1.4@{DIGEST}", None, None),
    ("repo/serving@sha256:" + "4f" * 31, None, BY_TAG),            # 62 hex digits: no digest
    (f"repo/serving@{DIGEST}0", None, BY_TAG),                      # 65
    ("repo/serving@sha256:" + "4F" * 32, None, BY_TAG),            # digests are lower-case hex
    (f"repo/serving@{DIGEST}:1", None, BY_TAG),                     # something after the digest
    ("repo/serving@sha512:" + "4f" * 32, None, BY_TAG),
])
def test_image_pinning_outside_prod_and_in_prod(image, outside_prod, in_prod):
    props = workload(container("a"), container("b", image=image))
    for config, expected in (({"requireDigest": False}, outside_prod), ({"requireDigest": True}, in_prod),
                             (None, in_prod)):
        assert messages("k8s-no-latest-tag", DEPLOYMENT, props, config=config) == (
            [expected.format(image)] if expected else [], []), config


def test_an_image_not_known_yet_is_a_note_and_a_missing_one_is_not_checked():
    props = workload(container("a", image=UNKNOWN_STRING), container("b", image="repo/x:latest"), container("c", image=None))
    assert messages("k8s-no-latest-tag", DEPLOYMENT, props) == (
        [NOT_PINNED.format("repo/x:latest")], ["container a: image is not known yet"])


# --- k8s-no-host-path --------------------------------------------------------------------------------
def test_every_host_path_volume_is_named():
    volumes = [{"name": "docker", "hostPath": {"path": "/var/run"}}, {"name": "scratch", "emptyDir": {}},
               {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}]
    assert messages("k8s-no-host-path", DEPLOYMENT, workload(container(), volumes=volumes)) == (
        ["volume docker mounts hostPath /var/run", "volume logs mounts hostPath /var/log"], [])
    assert messages("k8s-no-host-path", DEPLOYMENT, workload(container(), volumes=volumes[1:2])) == ([], [])
    assert messages("k8s-no-host-path", DEPLOYMENT, workload(container())) == ([], [])


def test_host_path_volumes_not_known_yet_are_a_note():
    assert messages("k8s-no-host-path", DEPLOYMENT, workload(container(), volumes=UNKNOWN_LIST)) == (
        [], ["the pod volumes are not known yet"])
    assert messages("k8s-no-host-path", DEPLOYMENT, {"spec": UNKNOWN_OBJECT}) == (
        [], ["the pod volumes are not known yet"])


# --- k8s-gpu-quota -----------------------------------------------------------------------------------
def gpu_job(namespace="research", name="train", **resources) -> tuple:
    trainer = container("trainer", resources=resources or {"limits": {"nvidia.com/gpu": 1}})
    return (JOB, workload(trainer, namespace=namespace), name)


def gpu_quota(namespace="research", hard=None, name="q") -> tuple:
    metadata = {} if namespace is None else {"namespace": namespace}
    return (QUOTA, {"metadata": metadata, "spec": {"hard": GPU_QUOTA if hard is None else hard}}, name)


def no_gpu_quota(name: str, namespace: str = "research") -> str:
    return (f'{name} requests nvidia.com/gpu in namespace "{namespace}", which has no ResourceQuota on '
            "requests.nvidia.com/gpu")


@pytest.mark.parametrize("resources, uses_gpus", [
    ({"limits": {"nvidia.com/gpu": 1}}, True), ({"requests": {"nvidia.com/gpu": 1}}, True),
    ({"requests": {"nvidia.com/gpu": "2"}}, True), ({"limits": {"nvidia.com/gpu": 0.5}}, True),
    ({"limits": {"nvidia.com/gpu": "one"}}, True),       # not a number: counted as a request, never as none
    ({"limits": {"nvidia.com/gpu": [1]}}, True),
    ({"limits": {"nvidia.com/gpu": 0}}, False), ({"requests": {"nvidia.com/gpu": "0"}, "limits": {}}, False),
    ({"limits": {"nvidia.com/gpu": -1}}, False), ({"limits": {"cpu": "4"}}, False),
    ({"requests": {"nvidia.com/gpu": 0}, "limits": {"nvidia.com/gpu": 1}}, True),
    ({"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 0}}, True),
])
def test_gpu_quota_a_positive_gpu_request_or_limit_needs_a_quota(resources, uses_gpus):
    assert stack_messages("k8s-gpu-quota", gpu_job(**resources)) == (
        [no_gpu_quota("train")] if uses_gpus else [], [])
    assert stack_messages("k8s-gpu-quota", gpu_quota(), gpu_job(**resources)) == ([], [])


def test_gpu_quota_a_zero_count_beside_one_not_known_yet_is_still_unknown():
    job = gpu_job(requests={"nvidia.com/gpu": 0}, limits={"nvidia.com/gpu": UNKNOWN_STRING})
    assert stack_messages("k8s-gpu-quota", job) == (
        [], [f"train: its nvidia.com/gpu count is not known yet {NO_QUOTA}"])


def test_gpu_quota_every_workload_is_checked_and_named():
    cpu_only = (DEPLOYMENT, workload(container()), "web")
    assert stack_messages("k8s-gpu-quota", gpu_quota("ml"), gpu_job(name="a"), cpu_only, gpu_job("ml", "b"),
                          gpu_job("serving", "c")) == ([no_gpu_quota("a"), no_gpu_quota("c", "serving")], [])
    violations = evaluate_stack("k8s-gpu-quota", [gpu_job(name="a"), gpu_job("serving", "c")]).violations
    assert [v.urn.rsplit("::", 1)[-1] for v in violations] == ["a", "c"]


@pytest.mark.parametrize("quota_namespace, covers_default", [(None, True), ("", True), ("default", True),
                                                             ("ml", False)])
def test_gpu_quota_without_a_namespace_covers_the_default_namespace(quota_namespace, covers_default):
    job = gpu_job(namespace=None)
    assert stack_messages("k8s-gpu-quota", gpu_quota(quota_namespace), job) == (
        [] if covers_default else [no_gpu_quota("train", "default")], [])


@pytest.mark.parametrize("hard", [{"requests.cpu": "8"}, {"limits.nvidia.com/gpu": "4"}, ["requests.nvidia.com/gpu"],
                                  {}])
def test_gpu_quota_only_a_quota_on_requests_nvidia_com_gpu_counts(hard):
    assert stack_messages("k8s-gpu-quota", gpu_quota(hard=hard), gpu_job()) == ([no_gpu_quota("train")], [])


UNKNOWN_QUOTA = "a ResourceQuota's namespace or limits are not known yet"


def test_gpu_quota_a_quota_not_known_yet_only_matters_where_no_known_quota_covers():
    unknown = gpu_quota(UNKNOWN_STRING, name="u")
    assert stack_messages("k8s-gpu-quota", unknown, gpu_quota("ml"), gpu_job(name="a"), gpu_job("ml", "b")) == (
        [], [f"a: {UNKNOWN_QUOTA}"])
    # a workload that uses no GPUs needs no quota, known or not
    assert stack_messages("k8s-gpu-quota", unknown, (DEPLOYMENT, workload(container()), "web")) == ([], [])
    # the same for a quota whose limits are not known yet, and for a GPU count not known yet
    maybe = gpu_job(name="m", limits={"nvidia.com/gpu": UNKNOWN_STRING})
    assert stack_messages("k8s-gpu-quota", gpu_quota(hard=UNKNOWN_OBJECT), maybe) == ([], [f"m: {UNKNOWN_QUOTA}"])


def test_gpu_quota_a_workload_namespace_not_known_yet_is_a_note_even_beside_quotas():
    job = gpu_job(UNKNOWN_STRING)
    assert stack_messages("k8s-gpu-quota", gpu_quota(), gpu_quota(None), job) == (
        [], ["train: namespace is not known yet"])
    notes = evaluate_stack("k8s-gpu-quota", [job]).notes
    assert [n.urn.rsplit("::", 1)[-1] for n in notes] == ["train"]


# --- k8s-namespace-quota -----------------------------------------------------------------------------
def namespace(name, resource_name: str | None = None, **props) -> tuple:
    metadata = {} if name is None else {"name": name}
    return (NAMESPACE, {"metadata": metadata, **props}, resource_name or f"ns-{name}")


def quota(namespace_name, hard, name: str | None = None) -> tuple:
    metadata = {} if namespace_name is None else {"namespace": namespace_name}
    return (QUOTA, {"metadata": metadata, "spec": {"hard": hard}}, name or f"quota-{namespace_name}")


def no_quota(name: str, missing: str) -> str:
    return f'namespace "{name}" has no ResourceQuota on {missing} (a LimitRange sets defaults, not a ceiling)'


@pytest.mark.parametrize("cpu_key", ["requests.cpu", "limits.cpu", "cpu"])
@pytest.mark.parametrize("memory_key", ["requests.memory", "limits.memory", "memory"])
def test_namespace_quota_any_cpu_key_and_any_memory_key_cover(cpu_key, memory_key):
    hard = {cpu_key: "8", memory_key: "32Gi"}
    assert stack_messages("k8s-namespace-quota", namespace("ml"), quota("ml", hard)) == ([], [])
    assert stack_messages("k8s-namespace-quota", namespace("ml"), quota("ml", {cpu_key: "8"})) == (
        [no_quota("ml", "memory")], [])
    assert stack_messages("k8s-namespace-quota", namespace("ml"), quota("ml", {memory_key: "8Gi"})) == (
        [no_quota("ml", "cpu")], [])


def test_namespace_quota_two_quotas_together_cover_a_namespace():
    assert stack_messages("k8s-namespace-quota", namespace("ml"), quota("ml", {"cpu": "8"}, "a"),
                          quota("ml", {"memory": "8Gi"}, "b")) == ([], [])


def test_namespace_quota_every_namespace_is_checked_and_named():
    assert stack_messages("k8s-namespace-quota", namespace("a"), quota("b", {"cpu": "1", "memory": "1Gi"}),
                          namespace("b"), namespace("c"), quota("c", {"requests.nvidia.com/gpu": "1"}),
                          quota("a", ["cpu", "memory"])) == (
        [no_quota("a", "cpu and memory"), no_quota("c", "cpu and memory")], [])
    violations = evaluate_stack("k8s-namespace-quota", [namespace("a"), namespace("c")]).violations
    assert [v.urn.rsplit("::", 1)[-1] for v in violations] == ["ns-a", "ns-c"]


@pytest.mark.parametrize("quota_namespace", [None, ""])
def test_namespace_quota_without_a_namespace_covers_default(quota_namespace):
    hard = {"cpu": "1", "memory": "1Gi"}
    assert stack_messages("k8s-namespace-quota", namespace("default"), quota(quota_namespace, hard)) == ([], [])
    assert stack_messages("k8s-namespace-quota", namespace("ml"), quota(quota_namespace, hard)) == (
        [no_quota("ml", "cpu and memory")], [])


def test_namespace_quota_an_auto_named_namespace_is_read_by_its_id():
    auto = namespace(None, "auto", id="auto-1a2b")
    assert stack_messages("k8s-namespace-quota", auto, quota("auto-1a2b", {"cpu": "1", "memory": "1Gi"})) == ([], [])
    assert stack_messages("k8s-namespace-quota", auto) == ([no_quota("auto-1a2b", "cpu and memory")], [])


def test_namespace_quota_a_name_not_known_yet_is_a_note():
    for ns in (namespace(UNKNOWN_STRING, "auto"), namespace(None, "auto")):
        assert stack_messages("k8s-namespace-quota", ns, quota("ml", {"cpu": "1", "memory": "1Gi"})) == (
            [], ["namespace auto: its name is not known yet"])
    notes = evaluate_stack("k8s-namespace-quota", [namespace(None, "auto")]).notes
    assert [n.urn.rsplit("::", 1)[-1] for n in notes] == ["auto"]
    # the namespaces after it are still checked
    assert stack_messages("k8s-namespace-quota", namespace(UNKNOWN_STRING, "auto"), namespace("ml")) == (
        [no_quota("ml", "cpu and memory")], ["namespace auto: its name is not known yet"])


@pytest.mark.parametrize("unknown", [quota(UNKNOWN_STRING, {"cpu": "1", "memory": "1Gi"}, "u"),
                                     quota("ml", UNKNOWN_OBJECT, "u")], ids=["namespace", "limits"])
def test_namespace_quota_a_quota_not_known_yet_is_a_note_where_one_is_missing(unknown):
    covered = quota("ml", {"cpu": "1", "memory": "1Gi"})
    assert stack_messages("k8s-namespace-quota", unknown, namespace("ml"), covered, namespace("research"),
                          quota("research", {"cpu": "1"})) == (
        [], ['namespace "research": a ResourceQuota\'s namespace or limits are not known yet'])


# --- a note never ends the check: what comes after it is still checked -----------------------------
BAD = container("bad", image="repo/x:latest", resources={}, securityContext={"privileged": True,
                                                                             "runAsNonRoot": False})


@pytest.mark.parametrize("policy, violations", [
    ("k8s-no-privileged", ["container bad is privileged"]),
    ("k8s-run-as-non-root", [ROOT.format("bad")]),
    ("k8s-resource-limits", ["container bad has no requests.cpu, requests.memory, limits.cpu, limits.memory"]),
    ("k8s-no-latest-tag", [NOT_PINNED.replace("container b ", "container bad ").format("repo/x:latest")]),
])
def test_pod_rules_check_the_known_containers_after_a_note(policy, violations):
    props = at_path(DEPLOYMENT, {"initContainers": UNKNOWN_LIST, "containers": [BAD]})
    assert messages(policy, DEPLOYMENT, props) == (violations, ["initContainers are not known yet"])


def test_rbac_rules_are_checked_after_a_rule_not_known_yet():
    rules = [UNKNOWN_OBJECT, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["bind", "list"]}]
    assert messages("k8s-rbac-no-escalation-verbs", ROLE, {"rules": rules}) == (
        ["rule 2 grants bind", "rule 2 can read all secrets (list without resourceNames)"],
        ["rule 1 is not known yet"])
