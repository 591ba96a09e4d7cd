"""Operability rules: what a real `pulumi up` on a fresh account taught (issue 12), for any program.

Each rule is a lesson that mocks cannot catch but the rendered program shows: a key policy
naming a principal that does not exist yet (KMS rejects it), a lifecycle rule S3 rejects,
a Kubernetes provider that follows the operator's ambient kubeconfig, pods that borrow the
node role through IMDS, namespaces whose egress blocks the data plane, and a GPU pool that
nothing scales and whose GPUs nothing advertises.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import re
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, ResourceRule, Severity, StackResource, StackRule, Violation
from .documents import read_document
from .values import UNKNOWN, as_list, first_set, get, is_unknown, statements, str_list, to_int

KMS_KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
IAM_ROLE = "aws:iam/role:Role"
LIFECYCLE_TYPES = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                   "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ASG = "aws:autoscaling/group:Group"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart")
WORKLOAD_TYPES = ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment")

_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:root$")
_SERVICE_LINKED = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/aws-service-role/([^/]+)/")
_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:.*/)?([^/]+)$")
_GPU_TYPE = re.compile(r"^(g\d+[a-z]*|gr\d+|p\d+[a-z]*)\.")
_EKS_NODE = re.compile(r"node\.eks\.aws|/etc/eks/bootstrap\.sh|nodeadm")


# ---- kms-key-policy-principals-exist --------------------------------------------------------------
def _key_policy_principals(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(statement label, ARN) of every IAM principal; the ARN is UNKNOWN where the Principal, its AWS
    list or an element of it is not known yet (str_list drops UNKNOWN: that would read as no principal)."""
    for i, statement in enumerate(statements(document), start=1):
        principal, label = statement.get("Principal"), str(statement.get("Sid") or i)
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        if principal is UNKNOWN or aws is UNKNOWN or UNKNOWN in as_list(aws):
            yield label, UNKNOWN
        for arn in str_list(aws):
            yield label, arn


def _declared_principals(resources: Sequence[StackResource]) -> tuple[set[str], set[str], set[str],
                                                                      dict[str, list[str]]]:
    """(role ARNs, role names, service names of service-linked roles) the stack declares, and the roles
    whose name ("role") or service name ("service") is not known yet: any of them may be a policy's principal."""
    arns, names, services = set(), set(), set()
    undecided: dict[str, list[str]] = {"role": [], "service": []}
    for resource in resources:
        if resource.type == IAM_ROLE:
            if isinstance(resource.props.get("arn"), str):
                arns.add(resource.props["arn"])
            name = resource.props.get("name")
            if isinstance(name, str):
                names.add(name)
            elif name is UNKNOWN:
                undecided["role"].append(resource.name)
        elif resource.type == SERVICE_LINKED_ROLE:
            if isinstance(resource.props.get("arn"), str):
                arns.add(resource.props["arn"])
            service = resource.props.get("awsServiceName")
            if isinstance(service, str):
                services.add(service)
            elif service is UNKNOWN:
                undecided["service"].append(resource.name)
    return arns, names, services, undecided


def check_kms_key_policy_principals_exist(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """Every IAM principal of a key policy is the account root, declared in this stack, or listed as existing."""
    arns, names, services, undecided = _declared_principals(resources)
    existing = [str(p) for p in as_list(ctx.config.get("existingPrincipals"))]
    for resource in resources:
        if resource.type not in (KMS_KEY, KEY_POLICY):
            continue
        for document in read_document(resource.props.get("policy"), f"key policy of {resource.name}"):
            if isinstance(document, Note):
                yield Note(document.message, resource.urn)
                continue
            for sid, arn in _key_policy_principals(document):
                if arn is UNKNOWN:
                    yield Note(f"key policy of {resource.name} statement {sid}: a principal is not known yet",
                               resource.urn)
                    continue
                if _ROOT.match(arn) or arn in arns or any(fnmatch.fnmatchcase(arn, p) for p in existing):
                    continue
                linked = _SERVICE_LINKED.match(arn)
                if linked and linked.group(1) in services:
                    continue
                role = _IAM_ROLE_ARN.match(arn)
                if role and not linked and role.group(1) in names:
                    continue
                # a declared role whose name (service name) is not known yet may be this (service-linked) role
                maybe = undecided["service"] if linked else undecided["role"] if role else []
                if maybe:
                    yield Note(f"key policy of {resource.name} statement {sid} names {arn}: whether the stack "
                               f"creates it cannot be told (the name of {', '.join(maybe)} is not known yet)",
                               resource.urn)
                    continue
                why = ("a service-linked role exists only once something created it; declare "
                       "aws.iam.ServiceLinkedRole and take the ARN from it" if linked else
                       "declare the principal in this stack (and take its ARN from the resource)")
                yield Violation(f"key policy of {resource.name} statement {sid} names {arn}, which the stack does not "
                                f"create: KMS rejects a policy naming a principal that does not exist "
                                f"(MalformedPolicyDocumentException); {why}, or list it in existingPrincipals",
                                resource.urn)


# ---- s3-lifecycle-transitions-valid -------------------------------------------------------------
_COLDER_THAN_IA = ("GLACIER", "GLACIER_IR", "DEEP_ARCHIVE", "ONEZONE_IA")


def check_s3_lifecycle_transitions_valid(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    """S3 rejects STANDARD_IA before 30 days, and a later transition less than 30 days after STANDARD_IA."""
    for i, rule in enumerate(as_list(props.get("rules")), start=1):
        label = get(rule, "id") or i
        for kind in ("transitions", "noncurrentVersionTransitions"):
            days_key = "days" if kind == "transitions" else "noncurrentDays"
            days = {}
            for transition in as_list(get(rule, kind)):
                value = get(transition, days_key)
                if is_unknown(value):
                    yield Note(f"rule {label}: transition days are not known yet")
                    continue
                storage_class = get(transition, "storageClass")
                if is_unknown(storage_class):  # str() would file it under "<unknown>", checked against nothing
                    yield Note(f"rule {label}: a transition's storage class is not known yet")
                    continue
                if to_int(value) is not None:
                    days[str(storage_class)] = to_int(value)
            ia = days.get("STANDARD_IA")
            if ia is None:
                continue
            if ia < 30:
                yield f"rule {label}: {kind} to STANDARD_IA after {ia} days; S3 requires at least 30"
            for storage_class in _COLDER_THAN_IA:
                later = days.get(storage_class)
                if later is not None and later < ia + 30:
                    yield (f"rule {label}: {kind} to {storage_class} after {later} days, {later - ia} after "
                           f"STANDARD_IA; S3 requires objects to stay 30 days in STANDARD_IA (at least {ia + 30})")


# ---- k8s-provider-explicit-kubeconfig ----------------------------------------------------------
def check_k8s_provider_explicit_kubeconfig(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """Kubernetes resources go through a provider whose kubeconfig the program sets (from the cluster's outputs)."""
    seen_default = False
    for resource in resources:
        if not resource.type.startswith("kubernetes:"):
            continue
        kubeconfig = (resource.provider_props or {}).get("kubeconfig")
        if kubeconfig is UNKNOWN or (isinstance(kubeconfig, (str, dict)) and kubeconfig):
            continue
        if resource.provider_props is None:
            if not seen_default:
                seen_default = True
                yield Violation(f"{resource.name} (and any other resource without an explicit provider) uses the "
                                "default Kubernetes provider, i.e. the operator's ambient kubeconfig: `pulumi up` "
                                "applies to whatever cluster that context points at; pass a k8s.Provider built "
                                "from the cluster's endpoint and CA", resource.urn)
            continue
        yield Violation(f"{resource.name}: its Kubernetes provider sets no kubeconfig, so it falls back to the "
                        "ambient one (KUBECONFIG / ~/.kube/config); build it from the cluster's outputs",
                        resource.urn)


# ---- eks-pods-no-node-role ----------------------------------------------------------------------
def _user_data_text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def check_eks_pods_no_node_role(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    """EKS nodes keep IMDS one hop away, so pods cannot take the node role's credentials."""
    if resource_type == NODE_GROUP:
        if get(props, "launchTemplate") is None:
            yield ("managed node group without a launch template: EKS sets the IMDS hop limit to 2, so every pod "
                   "can act as the node role; attach a launch template with httpPutResponseHopLimit 1")
        return
    user_data = props.get("userData")
    if is_unknown(user_data):
        yield Note("user data is not known yet: cannot tell whether this is an EKS node")
        return
    if not _EKS_NODE.search(_user_data_text(user_data)):
        return
    hops = get(props, "metadataOptions", "httpPutResponseHopLimit")
    if is_unknown(hops):
        yield Note("httpPutResponseHopLimit is not known yet")
    elif to_int(hops) != 1:
        shown = "unset (the EKS AL2023 AMIs default to 2)" if hops is None else str(hops)
        yield (f"EKS node launch template with IMDS hop limit {shown}: pods reach the node role's credentials; "
               "set httpPutResponseHopLimit 1 and give workloads their own roles (Pod Identity/IRSA)")


# ---- k8s-namespace-egress-data-plane -----------------------------------------------------------
def _denies_all_egress(spec: Any) -> bool:
    return "Egress" in str_list(get(spec, "policyTypes")) and not as_list(get(spec, "egress"))


def _port_values(rule: Any) -> list[Any]:
    """The ports of an egress rule; ``[UNKNOWN]`` where the rule or its ports list is not known yet (get
    passes an unknown on), so the spec, the egress list, a rule, its ports or a port not known yet all
    show as an UNKNOWN port."""
    return [get(p, "port") for p in as_list(get(rule, "ports"))]


def _allows_beyond_dns(spec: Any) -> bool:
    """Whether a known egress rule allows more than DNS (a rule, or port, not known yet proves nothing)."""
    for rule in as_list(get(spec, "egress")):
        ports = _port_values(rule)
        if not ports or any(p is not UNKNOWN and to_int(p) != 53 for p in ports):
            return True
    return False


def _may_allow(spec: Any) -> bool:
    """Whether an egress rule not known yet (the spec, the list, a rule, its ports, a port) may allow more than DNS."""
    return any(UNKNOWN in _port_values(rule) for rule in as_list(get(spec, "egress")))


def _may_deny_all(spec: Any) -> bool:
    """Whether a policy not known to deny all egress may, by a policyTypes or egress list not known yet."""
    types, egress = get(spec, "policyTypes"), get(spec, "egress")
    types_unknown = types is UNKNOWN or UNKNOWN in as_list(types)
    return spec is UNKNOWN or (egress is UNKNOWN and (types_unknown or "Egress" in str_list(types))) or (
        types_unknown and not as_list(egress))


def check_k8s_namespace_egress_data_plane(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """A namespace that denies all egress also allows its pods the data plane (HTTPS), not just DNS."""
    by_namespace: dict[str, list[StackResource]] = {}
    for resource in resources:
        if resource.type == NETWORK_POLICY:
            namespace = get(resource.props, "metadata", "namespace")
            if is_unknown(namespace):
                yield Note(f"{resource.name}: namespace is not known yet", resource.urn)
                continue
            by_namespace.setdefault(str(namespace or "default"), []).append(resource)
    for namespace, policies in sorted(by_namespace.items()):
        # no `spec or {}`: a spec not known yet (falsy UNKNOWN) would read as an empty, harmless one
        if any(_allows_beyond_dns(get(p.props, "spec")) for p in policies):
            continue
        denying = [p for p in policies if _denies_all_egress(get(p.props, "spec"))]
        # what is not known yet matters where it could change the answer: a rule that may allow the data
        # plane beside a policy known to deny, else a policy that may deny all egress
        unknown = [p for p in policies if (_may_allow if denying else _may_deny_all)(get(p.props, "spec"))]
        if unknown:
            yield Note(f"namespace {namespace}: the egress rules of {', '.join(p.name for p in unknown)} are not "
                       "known yet", unknown[0].urn)
        elif denying:
            yield Violation(f"namespace {namespace}: egress is denied except DNS, so pods cannot reach S3, STS, ECR "
                            "or the tracking server; add a NetworkPolicy allowing TCP 443 to the VPC endpoints and "
                            "the services the workloads use", denying[0].urn)


# ---- gpu-pool-cluster-addons -------------------------------------------------------------------
def _gpu_types(resource: StackResource, templates: Mapping[str, StackResource]) -> tuple[list[str], list[str]]:
    """A pool's GPU instance types, and what is not known yet that may add one (named, for a note)."""
    props = resource.props
    unknown: list[str] = []
    listed = props.get("instanceTypes")
    overrides = get(props, "mixedInstancesPolicy", "launchTemplate", "overrides")
    override_types = [get(o, "instanceType") for o in as_list(overrides)]
    if listed is UNKNOWN or UNKNOWN in as_list(listed):
        unknown.append("instanceTypes")
    if overrides is UNKNOWN:
        unknown.append("the mixed-instances overrides list")
    elif UNKNOWN in override_types:
        unknown.append("an override's instanceType")
    types = [str(t) for t in str_list(listed)]
    types += [str(t) for t in override_types if t is not UNKNOWN]
    # first_set, not `or`: an id not known yet must not fall through to the other (absent) reference
    template_id = first_set(get(props, "launchTemplate", "id"), get(
        props, "mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification", "launchTemplateId"))
    if template_id is UNKNOWN:
        unknown.append("the launch template")
    template = templates.get(str(template_id)) if isinstance(template_id, str) else None
    template_type = template.props.get("instanceType") if template is not None else None
    if template_type is UNKNOWN:  # an instance type not known yet may be a GPU one
        unknown.append("the launch template's instanceType")
    elif isinstance(template_type, str):
        types.append(template_type)
    return [t for t in types if _GPU_TYPE.match(t)], unknown


def _sizes(resource: StackResource) -> tuple[Any, Any]:
    """minSize and maxSize: an ASG's own, a managed node group's scalingConfig (0 is a size, not a missing one)."""
    source = resource.props if resource.type == ASG else get(resource.props, "scalingConfig")
    return get(source, "minSize"), get(source, "maxSize")


def _installed(resources: Sequence[StackResource], needles: tuple[str, ...]) -> Any:
    """Whether a Helm release or chart, a workload's image or an EKS add-on names one of ``needles``:
    True, False, or UNKNOWN when none does but one's chart, name, image or add-on name is not known yet."""
    unknown = False
    for resource in resources:
        if resource.type in HELM_TYPES:
            values = [get(resource.props, "chart"), get(resource.props, "name")]
        elif resource.type in WORKLOAD_TYPES:
            containers = get(resource.props, "spec", "template", "spec", "containers")
            values = [containers] if containers is UNKNOWN else [get(c, "image") for c in as_list(containers)]
        elif resource.type == "aws:eks/addon:Addon":
            values = [resource.props.get("addonName")]
        else:
            continue
        if any(isinstance(v, str) and needle in v for v in values for needle in needles):
            return True
        unknown = unknown or UNKNOWN in values  # UNKNOWN is falsy: not known yet is not "not installed"
    return UNKNOWN if unknown else False


def _not_known(names: list[str]) -> str:
    return f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not known yet"


def check_gpu_pool_cluster_addons(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """A GPU node pool comes with the NVIDIA device plugin and, when it can scale, an autoscaler."""
    templates = {r.id: r for r in resources if r.type == LAUNCH_TEMPLATE and r.id}
    pools, undecided = [], []
    for r in resources:
        if r.type in (ASG, NODE_GROUP):
            gpu_types, unknown = _gpu_types(r, templates)
            if gpu_types:
                pools.append(r)
            elif unknown:
                undecided.append((r, unknown))
    plugin = _installed(resources, ("nvidia-device-plugin", "k8s-device-plugin", "gpu-operator"))
    autoscaler = _installed(resources, ("cluster-autoscaler", "karpenter"))
    for r, unknown in undecided:
        # only where a GPU pool would fail: no device plugin, or no autoscaler for a pool that may scale
        minimum, maximum = _sizes(r)
        fixed = UNKNOWN not in (minimum, maximum) and to_int(minimum) == to_int(maximum)
        if plugin is not True or not (autoscaler is True or fixed):
            yield Note(f"{r.name}: {_not_known(unknown)}, so whether it is a GPU pool cannot be told", r.urn)
    if not pools:
        return
    if plugin is UNKNOWN:
        yield Note(f"{pools[0].name}: whether the NVIDIA device plugin is installed cannot be told (a chart, release "
                   "name, image or add-on name is not known yet)", pools[0].urn)
    elif not plugin:
        yield Violation(f"{pools[0].name}: a GPU node pool but no NVIDIA device plugin (Helm release or DaemonSet): "
                        "the nodes never advertise nvidia.com/gpu and GPU pods never schedule", pools[0].urn)
    if autoscaler is True:
        return
    scalable = []
    for pool in pools:
        minimum, maximum = _sizes(pool)
        unknown = [key for key, value in (("minSize", minimum), ("maxSize", maximum)) if value is UNKNOWN]
        if unknown:
            yield Note(f"{pool.name}: {_not_known(unknown)}, so whether the GPU pool may scale cannot "
                       "be told", pool.urn)
        elif to_int(minimum) != to_int(maximum):
            scalable.append(pool)
    if scalable and autoscaler is UNKNOWN:
        yield Note(f"{scalable[0].name}: whether a cluster-autoscaler or Karpenter is installed cannot be told (a "
                   "chart, release name, image or add-on name is not known yet)", scalable[0].urn)
    elif scalable:
        yield Violation(f"{scalable[0].name}: a GPU pool that may scale (min != max) but no cluster-autoscaler or "
                        "Karpenter: nothing ever changes its size, pending GPU pods wait forever", scalable[0].urn)


POLICIES = [
    StackRule(
        "kms-key-policy-principals-exist",
        "KMS key policies name only principals that exist when the key is created: the account root, principals "
        "this stack declares (service-linked roles included), or ones listed as existing.",
        check=check_kms_key_policy_principals_exist, concern="storage", severity=Severity.HIGH,
        remediation="Declare the principal (aws.iam.ServiceLinkedRole for an AWS service's role) and build the key "
                    "policy from its ARN, so the key waits for it; list principals known to exist in "
                    "existingPrincipals (ARN globs).",
        mirrors=["(KMS MalformedPolicyDocumentException)"],
        params={"existingPrincipals": {"type": "array", "items": {"type": "string"}, "default": [],
                                       "description": "ARN globs of principals that exist outside the stack."}}),
    ResourceRule(
        "s3-lifecycle-transitions-valid",
        "S3 lifecycle transitions S3 accepts: STANDARD_IA after at least 30 days, colder classes at least 30 days "
        "after STANDARD_IA.",
        check=check_s3_lifecycle_transitions_valid, resource_types=LIFECYCLE_TYPES, concern="storage",
        severity=Severity.MEDIUM,
        remediation="Move objects to STANDARD_IA after >= 30 days and to Glacier classes >= 30 days later.",
        mirrors=["(S3 InvalidArgument)"]),
    StackRule(
        "k8s-provider-explicit-kubeconfig",
        "Kubernetes resources go through an explicit provider whose kubeconfig is built from the cluster's "
        "outputs, never the operator's ambient kubeconfig.",
        check=check_k8s_provider_explicit_kubeconfig, concern="kubernetes", severity=Severity.HIGH,
        remediation="Create k8s.Provider(kubeconfig=<from the cluster's endpoint, CA and `aws eks get-token`>) and "
                    "pass it to every Kubernetes resource.",
        mirrors=["(ambient kubeconfig)"]),
    ResourceRule(
        "eks-pods-no-node-role",
        "EKS nodes keep IMDS one hop away (httpPutResponseHopLimit 1), so pods cannot act as the node role.",
        check=check_eks_pods_no_node_role, resource_types=[LAUNCH_TEMPLATE, NODE_GROUP], concern="compute",
        severity=Severity.HIGH,
        remediation="Set metadataOptions.httpPutResponseHopLimit to 1 on EKS node launch templates and give pods "
                    "their own roles (EKS Pod Identity or IRSA).",
        mirrors=["CKV_AWS_341", "(EKS best practices: restrict IMDS)"]),
    StackRule(
        "k8s-namespace-egress-data-plane",
        "A namespace that denies egress by default still lets its pods reach the data plane (HTTPS), not only DNS.",
        check=check_k8s_namespace_egress_data_plane, concern="kubernetes", severity=Severity.MEDIUM,
        remediation="Add an egress NetworkPolicy allowing TCP 443 to the VPC endpoints / service CIDRs the "
                    "workloads use (S3, STS, ECR, CloudWatch, MLflow).",
        mirrors=["(default-deny egress)"]),
    StackRule(
        "gpu-pool-cluster-addons",
        "A GPU node pool comes with the NVIDIA device plugin and, when it can scale, a cluster autoscaler "
        "or Karpenter.",
        check=check_gpu_pool_cluster_addons, concern="compute", severity=Severity.HIGH,
        remediation="Install the nvidia-device-plugin chart (tolerating the pool's taint) and cluster-autoscaler "
                    "(or Karpenter) with IAM scoped to the pool.",
        mirrors=["(EKS GPU AMI docs)"]),
]
