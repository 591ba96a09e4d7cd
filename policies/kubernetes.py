"""Kubernetes rules: RBAC (wildcards, escalation, cluster-admin), pod security, images, GPU quotas.

Every rule of a Role and every container (init and ephemeral too) of every pod template is
inspected, not only the first one.

Example:
    >>> rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    ...          {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]
    >>> list(check_k8s_rbac_no_wildcards(ROLE, {"rules": rules}, None))
    ['rule 2 has "*" in resources']
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, ResourceRule, Severity, StackResource, StackRule, Violation
from .values import UNKNOWN, as_list, first_set, get, truthy

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE, CLUSTER_ROLE = f"{RBAC}:Role", f"{RBAC}:ClusterRole"
ROLE_TYPES = [ROLE, CLUSTER_ROLE, f"{RBAC}:RolePatch", f"{RBAC}:ClusterRolePatch"]
BINDING_TYPES = [f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding", f"{RBAC}:RoleBindingPatch",
                 f"{RBAC}:ClusterRoleBindingPatch"]
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
GPU_RESOURCE = "nvidia.com/gpu"

_TEMPLATE = ("spec", "template", "spec")
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:core/v1:PodTemplate": ("template", "spec"),
    "kubernetes:core/v1:ReplicationController": _TEMPLATE,
    "kubernetes:apps/v1:Deployment": _TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": _TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": _TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": _TEMPLATE,
    "kubernetes:batch/v1:Job": _TEMPLATE,
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")


# --- RBAC -------------------------------------------------------------------------------------
def _rules(props: Mapping[str, Any]) -> Iterator[Any]:
    rules = props.get("rules")
    if rules is UNKNOWN:
        yield Note("rules are not known yet")
        return
    for i, rule in enumerate(as_list(rules), start=1):
        if rule is UNKNOWN:
            yield Note(f"rule {i} is not known yet")
        elif isinstance(rule, dict):
            # An unknown verb or resource could be "*": say so, and still check what is known.
            unknown = [f for f in ("verbs", "resources", "apiGroups") if UNKNOWN in as_list(rule.get(f))]
            if unknown:
                yield Note(f"rule {i}: {', '.join(unknown)} not known yet")
            yield i, rule


def check_k8s_rbac_no_wildcards(resource_type: str, props: Mapping[str, Any], ctx: Context | None) -> Iterator[Any]:
    for item in _rules(props):
        if isinstance(item, Note):
            yield item
            continue
        i, rule = item
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in as_list(rule.get(field)):
                yield f'rule {i} has "*" in {field}'


ESCALATION_VERBS = ("bind", "escalate", "impersonate")
READ_VERBS = ("get", "list", "watch", "*")


def check_k8s_rbac_no_escalation_verbs(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _rules(props):
        if isinstance(item, Note):
            yield item
            continue
        i, rule = item
        verbs = [str(v) for v in as_list(rule.get("verbs"))]
        found = [v for v in verbs if v in ESCALATION_VERBS]
        if found:
            yield f"rule {i} grants {', '.join(found)}"
        resources = [str(r) for r in as_list(rule.get("resources"))]
        if ({"secrets", "*"} & set(resources)) and set(READ_VERBS) & set(verbs):
            names = rule.get("resourceNames")
            if names is UNKNOWN:  # falsy, but it may name the secrets: not "without resourceNames"
                yield Note(f"rule {i}: resourceNames not known yet")
            elif not names:
                yield f"rule {i} can read all secrets ({', '.join(v for v in verbs if v in READ_VERBS)} without resourceNames)"


def check_k8s_no_cluster_admin_binding(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    role = get(props, "roleRef", "name")
    if role is UNKNOWN:
        yield Note("roleRef.name is not known yet")
        return
    if role != "cluster-admin":
        return
    for subject in as_list(props.get("subjects")):
        name = get(subject, "name")
        if name is UNKNOWN:
            yield Note("a subject name is not known yet")
        elif not str(name).startswith("system:"):
            yield f"binds cluster-admin to {get(subject, 'kind') or 'subject'} {name!s}"


# --- pod templates ----------------------------------------------------------------------------
def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Any:
    """The pod spec inside a workload (Deployment, Job, CronJob...), or None."""
    path = POD_SPEC_PATHS.get(resource_type)
    return get(props, *path) if path else None


def containers(spec: Any) -> Iterator[tuple[str, Any]]:
    """``(label, container)`` for every init, regular and ephemeral container of a pod spec."""
    for kind in CONTAINER_KINDS:
        for i, container in enumerate(as_list(get(spec, kind))):
            if isinstance(container, dict):
                label = container.get("name") or f"{kind}[{i}]"
                yield f"container {label!s}", container


def _pod_items(resource_type: str, props: Mapping[str, Any]) -> Iterator[Any]:
    spec = pod_spec(resource_type, props)
    if spec is UNKNOWN:
        yield Note("the pod spec is not known yet")
        return
    for kind in CONTAINER_KINDS:  # a list that is not known yet must not read as "no containers"
        listed = get(spec, kind)
        if listed is UNKNOWN or UNKNOWN in as_list(listed):
            yield Note(f"{kind} are not known yet")
    yield from containers(spec)


def check_k8s_no_privileged(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _pod_items(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        label, container = item
        security = container.get("securityContext")
        privileged, escalation = get(security, "privileged"), get(security, "allowPrivilegeEscalation")
        # UNKNOWN is falsy: a flag not known yet may be true, so it is named, never a clean pass
        unknown = [f"securityContext.{key}" for key, value in (("privileged", privileged),
                                                               ("allowPrivilegeEscalation", escalation))
                   if value is UNKNOWN]
        if unknown:
            yield Note(f"{label}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not known yet")
        if truthy(privileged):
            yield f"{label} is privileged"
        if truthy(escalation):
            yield f"{label} sets allowPrivilegeEscalation=true"


def check_k8s_run_as_non_root(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    # _pod_items, not containers(): a container list not known yet is a note, not "no containers"
    pod_level = get(pod_spec(resource_type, props), "securityContext", "runAsNonRoot")
    for item in _pod_items(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        label, container = item
        own = get(container, "securityContext", "runAsNonRoot")
        effective = own if own is not None else pod_level
        if effective is UNKNOWN:
            yield Note(f"{label}: runAsNonRoot is not known yet")
        elif not truthy(effective):
            yield f"{label} may run as root; set securityContext.runAsNonRoot=true"


def check_k8s_resource_limits(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _pod_items(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        label, container = item
        values = {f"{section}.{res}": get(container, "resources", section, res)
                  for section in ("requests", "limits") for res in ("cpu", "memory")}
        # UNKNOWN is falsy: one not known yet is named as such, never reported as missing
        unknown = [key for key, value in values.items() if value is UNKNOWN]
        missing = [key for key, value in values.items() if not value and value is not UNKNOWN]
        if unknown:
            yield Note(f"{label}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not known yet")
        if missing:
            yield f"{label} has no {', '.join(missing)}"


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when untagged); digests count as pinned."""
    if "@" in image:
        return "@digest"
    # the tag follows the first ":" of the last path segment (a registry's ":port" comes before it);
    # "repo/serving:" has an empty tag, which pins nothing
    return image.rpartition("/")[2].partition(":")[2] or None


def check_k8s_no_latest_tag(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    for item in _pod_items(resource_type, props):
        if isinstance(item, Note):
            yield item
            continue
        label, container = item
        image = container.get("image")
        if image is UNKNOWN:
            yield Note(f"{label}: image is not known yet")
        elif isinstance(image, str):
            tag = image_tag(image)
            if tag is None or tag == "latest":
                yield f"{label} image {image} is not pinned (use a version tag or digest)"
            elif ctx.config["requireDigest"] and not DIGEST.search(image):
                # A tag can be moved to other content; only a digest names the image that was tested.
                yield f"{label} image {image} is pinned by tag, not digest (use image@sha256:...)"


def check_k8s_no_host_path(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    spec = pod_spec(resource_type, props)
    volumes = get(spec, "volumes")
    if spec is UNKNOWN or volumes is UNKNOWN:
        yield Note("the pod volumes are not known yet")
        return
    for i, volume in enumerate(as_list(volumes), start=1):
        # UNKNOWN is not None, but a volume (or its hostPath) not known yet may be no hostPath mount at all
        if volume is UNKNOWN:
            yield Note(f"volume {i} is not known yet")
        elif (host_path := get(volume, "hostPath")) is UNKNOWN:
            yield Note(f"volume {get(volume, 'name')!s}: hostPath is not known yet")
        elif host_path is not None:
            yield f"volume {get(volume, 'name')!s} mounts hostPath {get(volume, 'hostPath', 'path')!s}"


# --- GPU quotas (stack) -----------------------------------------------------------------------
def _gpu_count(container: Any) -> Any:
    """The GPUs a container asks for (the larger of request and limit), or ``UNKNOWN`` when no
    known count is positive and one is not known yet (it may ask for GPUs)."""
    total, unknown = 0.0, False
    for section in ("requests", "limits"):
        value = get(container, "resources", section, GPU_RESOURCE)
        if value is UNKNOWN:
            unknown = True
            continue
        try:
            total = max(total, float(value)) if value is not None else total
        except (TypeError, ValueError):
            total = max(total, 1.0)
    return UNKNOWN if unknown and total == 0 else total


def check_k8s_gpu_quota(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    quota_namespaces: set[str] = set()
    unknown_quota = False
    for r in resources:
        if r.type == RESOURCE_QUOTA:
            # first_set, not `or "default"`: a namespace not known yet (e.g. an auto-named Namespace's
            # name) is not the default namespace
            namespace = first_set(get(r.props, "metadata", "namespace"), "default")
            hard = get(r.props, "spec", "hard")
            if namespace is UNKNOWN or hard is UNKNOWN:
                unknown_quota = True
            elif isinstance(hard, dict) and f"requests.{GPU_RESOURCE}" in hard:
                quota_namespaces.add(str(namespace))
    for r in resources:
        # a pod spec, container list or GPU count not known yet may ask for GPUs: never read as none
        # (a silent pass); each is named in the note when the namespace has no GPU quota
        unknown: list[str] = []
        counts = []
        for item in _pod_items(r.type, r.props):
            if isinstance(item, Note):
                unknown.append(item.message)
            else:
                counts.append(_gpu_count(item[1]))
        uses_gpus = any(n is not UNKNOWN and n > 0 for n in counts)
        if any(n is UNKNOWN for n in counts):
            unknown.append(f"its {GPU_RESOURCE} count is not known yet")
        may_use_gpus = not uses_gpus and bool(unknown)
        if uses_gpus or may_use_gpus:
            namespace = first_set(get(r.props, "metadata", "namespace"), "default")
            if namespace is UNKNOWN:
                yield Note(f"{r.name}: namespace is not known yet", r.urn)
            elif str(namespace) not in quota_namespaces and unknown_quota:
                yield Note(f"{r.name}: a ResourceQuota's namespace or limits are not known yet", r.urn)
            elif str(namespace) not in quota_namespaces and may_use_gpus:
                yield Note(f'{r.name}: {"; ".join(unknown)} (namespace "{namespace}" has no '
                           f"ResourceQuota on requests.{GPU_RESOURCE})", r.urn)
            elif str(namespace) not in quota_namespaces:
                yield Violation(f'{r.name} requests {GPU_RESOURCE} in namespace "{namespace}", which has no '
                                f"ResourceQuota on requests.{GPU_RESOURCE}", r.urn)


NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA_KEYS = {"cpu": ("requests.cpu", "limits.cpu", "cpu"), "memory": ("requests.memory", "limits.memory", "memory")}


def _namespace_name(resource: StackResource) -> Any:
    """A Namespace's name: ``metadata.name``, else the id the engine gave it (auto-named)."""
    name = get(resource.props, "metadata", "name")
    return name if name is not None else resource.id


def check_k8s_namespace_quota(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """Every namespace the stack creates has a ResourceQuota on CPU and memory (a LimitRange is no quota)."""
    covered: dict[str, set[str]] = {}
    unknown_quota = False
    for r in resources:
        if r.type != RESOURCE_QUOTA:
            continue
        namespace, hard = get(r.props, "metadata", "namespace"), get(r.props, "spec", "hard")
        if namespace is UNKNOWN or hard is UNKNOWN:
            unknown_quota = True
            continue
        if isinstance(hard, dict):
            found = {kind for kind, keys in QUOTA_KEYS.items() if any(k in hard for k in keys)}
            covered.setdefault(str(namespace or "default"), set()).update(found)
    for r in resources:
        if r.type != NAMESPACE:
            continue
        name = _namespace_name(r)
        if name is UNKNOWN or name is None:
            yield Note(f"namespace {r.name}: its name is not known yet", r.urn)
            continue
        missing = sorted(set(QUOTA_KEYS) - covered.get(str(name), set()))
        if missing and unknown_quota:
            yield Note(f'namespace "{name}": a ResourceQuota\'s namespace or limits are not known yet', r.urn)
        elif missing:
            yield Violation(f'namespace "{name}" has no ResourceQuota on {" and ".join(missing)} '
                            "(a LimitRange sets defaults, not a ceiling)", r.urn)


WORKLOAD_TYPES = sorted(POD_SPEC_PATHS)

POLICIES = [
    ResourceRule(
        "k8s-rbac-no-wildcards",
        "Roles and ClusterRoles have no \"*\" in verbs, resources or apiGroups, in any rule.",
        check=check_k8s_rbac_no_wildcards, resource_types=ROLE_TYPES, concern="kubernetes",
        severity=Severity.HIGH, mirrors=["CKV_K8S_49", "KSV-0044", "KSV-0045"],
        remediation="List the exact apiGroups, resources and verbs each rule needs.",
    ),
    ResourceRule(
        "k8s-no-cluster-admin-binding",
        "No (Cluster)RoleBinding grants cluster-admin to a non-system subject.",
        check=check_k8s_no_cluster_admin_binding, resource_types=BINDING_TYPES, concern="kubernetes",
        severity=Severity.CRITICAL, mirrors=["KSV-0111"],
        remediation="Bind a namespaced Role with the permissions the subject needs instead of cluster-admin.",
    ),
    ResourceRule(
        "k8s-rbac-no-escalation-verbs",
        "Roles grant no bind, escalate or impersonate, and cannot read all secrets.",
        check=check_k8s_rbac_no_escalation_verbs, resource_types=ROLE_TYPES, concern="kubernetes",
        severity=Severity.HIGH,
        mirrors=["CKV_K8S_155", "CKV_K8S_156", "CKV_K8S_157", "CKV_K8S_158", "KSV-0041", "KSV-0050"],
        remediation="Drop bind/escalate/impersonate; restrict secret access with resourceNames.",
    ),
    ResourceRule(
        "k8s-no-privileged",
        "No container is privileged or allows privilege escalation.",
        check=check_k8s_no_privileged, resource_types=WORKLOAD_TYPES, concern="kubernetes",
        severity=Severity.CRITICAL, mirrors=["CKV_K8S_16", "CKV_K8S_20", "KSV-0017"],
        remediation="Set securityContext.privileged=false and allowPrivilegeEscalation=false on every container.",
    ),
    ResourceRule(
        "k8s-run-as-non-root",
        "Containers run as non-root (runAsNonRoot=true).",
        check=check_k8s_run_as_non_root, resource_types=WORKLOAD_TYPES, concern="kubernetes",
        severity=Severity.MEDIUM, mirrors=["CKV_K8S_23"],
        remediation="Set securityContext.runAsNonRoot=true on the pod (or on every container).",
    ),
    ResourceRule(
        "k8s-resource-limits",
        "Every container declares CPU and memory requests and limits.",
        check=check_k8s_resource_limits, resource_types=WORKLOAD_TYPES, concern="kubernetes",
        severity=Severity.LOW, mirrors=["CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"],
        remediation="Set resources.requests and resources.limits for cpu and memory on every container.",
    ),
    ResourceRule(
        "k8s-no-latest-tag",
        "Container images are pinned: no :latest, no missing tag; by digest where requireDigest (prod).",
        check=check_k8s_no_latest_tag, resource_types=WORKLOAD_TYPES, concern="kubernetes",
        params={"requireDigest": {"type": "boolean", "default": True,
                                  "description": "Require image@sha256:... (prod); false accepts version tags."}},
        severity=Severity.MEDIUM, mirrors=["CKV_K8S_14", "CKV_K8S_43"],
        remediation="Reference images by digest (image@sha256:...); outside prod a version tag is enough.",
    ),
    ResourceRule(
        "k8s-no-host-path",
        "Pods mount no hostPath volumes.",
        check=check_k8s_no_host_path, resource_types=WORKLOAD_TYPES, concern="kubernetes",
        severity=Severity.HIGH, mirrors=["KSV-0023"],
        remediation="Use emptyDir, a PersistentVolumeClaim or a CSI volume instead of hostPath.",
    ),
    StackRule(
        "k8s-gpu-quota",
        "Every namespace that runs GPU workloads has a ResourceQuota on requests.nvidia.com/gpu.",
        check=check_k8s_gpu_quota, concern="kubernetes", severity=Severity.MEDIUM, mirrors=["KSV-0040"],
        remediation="Add a ResourceQuota in the namespace with spec.hard['requests.nvidia.com/gpu'].",
    ),
    StackRule(
        "k8s-namespace-quota",
        "Every namespace the stack creates has a ResourceQuota on CPU and memory (a LimitRange alone does not count).",
        check=check_k8s_namespace_quota, concern="kubernetes", severity=Severity.MEDIUM, mirrors=["KSV-0040"],
        remediation="Add a ResourceQuota in the namespace with spec.hard requests.cpu/limits.cpu and "
                    "requests.memory/limits.memory.",
    ),
]
