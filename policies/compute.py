"""Compute rules: EC2 launch templates and instances, GPU node pools, EKS clusters.

Example:
    >>> list(check_ec2_imdsv2_required(LAUNCH_TEMPLATE, {"metadataOptions": {"httpTokens": "required"}}, None))
    []
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Iterator, Mapping, Sequence

from .core import Context, Note, ResourceRule, Severity, StackResource, StackRule, Violation
from .gpu_instances import SHAPES
from .values import UNKNOWN, as_list, falsy, first_set, get, to_int, truthy

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
ASG = "aws:autoscaling/group:Group"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"

GPU_INSTANCE = re.compile(r"^(p\d|g\d|gr\d|trn\d|inf\d|dl\d)[a-z0-9-]*\.", re.IGNORECASE)


# --- instance metadata ------------------------------------------------------------------------
def check_ec2_imdsv2_required(resource_type: str, props: Mapping[str, Any], ctx: Context | None) -> Iterator[Any]:
    options = props.get("metadataOptions")
    if options is UNKNOWN:
        yield Note("metadataOptions is not known yet")
        return
    endpoint = get(options, "httpEndpoint")
    if endpoint == "disabled":
        return  # no metadata service at all
    tokens = get(options, "httpTokens")
    if tokens is UNKNOWN:
        yield Note("metadataOptions.httpTokens is not known yet")
    elif tokens != "required" and endpoint is UNKNOWN:
        # the endpoint may turn out disabled, and then no token setting matters
        yield Note("metadataOptions.httpEndpoint is not known yet")
    elif tokens != "required":
        yield f"metadataOptions.httpTokens is {tokens or 'unset (defaults to optional)'!s}; set it to \"required\" (IMDSv2)"


# User data of a host that runs containers (EKS/ECS nodes, Docker): its pods need one more IMDS hop.
CONTAINER_HOST = re.compile(r"node\.eks\.aws|/etc/eks/bootstrap\.sh|nodeadm|kubelet|containerd|docker|"
                            r"ECS_CLUSTER|k3s", re.IGNORECASE)


def check_ec2_imds_hop_limit(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    limit = get(props, "metadataOptions", "httpPutResponseHopLimit")
    if limit is UNKNOWN:
        yield Note("httpPutResponseHopLimit is not known yet")
        return
    if limit is None:
        return  # AWS default: 1
    if to_int(limit) is None:
        yield Note(f"httpPutResponseHopLimit {limit!r} is not a number")
        return
    maximum, host = int(ctx.config["maxHopLimit"]), "container host"
    strict = int(ctx.config["maxHopLimitWithoutContainers"])
    user_data = _user_data(resource_type, props)
    if user_data is UNKNOWN and strict < to_int(limit) <= maximum:
        # allowed on a container host, not on one without containers: the user data would tell
        yield Note(f"userData is not known yet, so whether hop limit {limit} is allowed (≤ {maximum} on a container "
                   f"host, ≤ {strict} without containers) cannot be told")
        return
    # Only user data that plainly shows no container runtime earns the stricter limit (no user
    # data: e.g. EKS managed node groups inject their own, so nothing can be told).
    if isinstance(user_data, str) and user_data.strip() and not CONTAINER_HOST.search(user_data):
        maximum, host = strict, "host without containers"
    if to_int(limit) > maximum:
        yield f"metadataOptions.httpPutResponseHopLimit is {limit}; keep it ≤ {maximum} on a {host}"


# --- EBS --------------------------------------------------------------------------------------
def _block_devices(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if resource_type == LAUNCH_TEMPLATE:
        devices = []
        for i, m in enumerate(as_list(props.get("blockDeviceMappings"))):
            kind = (get(m, "virtualName"), get(m, "noDevice"))
            if any(k is not None and k is not UNKNOWN for k in kind):
                continue  # an instance store volume, or a suppressed device: no EBS
            ebs = get(m, "ebs")
            # a mapping (or its kind) not known yet may be an EBS volume: never dropped unchecked
            name = get(m, "deviceName")
            devices.append((name if isinstance(name, str) and name else f"mapping {i + 1}",
                            UNKNOWN if ebs is None and UNKNOWN in kind else ebs))
        return devices
    if resource_type == INSTANCE:
        devices = [("root volume", props.get("rootBlockDevice"))] if props.get("rootBlockDevice") is not None else []
        devices += [(str(get(d, "deviceName") or "ebs volume"), d) for d in as_list(props.get("ebsBlockDevices"))]
        return devices
    return [("volume", props)]


def check_ec2_ebs_encrypted(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    devices = _block_devices(resource_type, props)
    if resource_type == LAUNCH_TEMPLATE and props.get("blockDeviceMappings") is UNKNOWN:
        yield Note("blockDeviceMappings is not known yet")
        return
    if not devices and resource_type != EBS_VOLUME:
        yield "no block device is declared, so the root volume inherits the AMI's (possibly unencrypted) setting; " \
              "declare it with encrypted=true"
        return
    require_cmk = bool(ctx.config["requireCmk"])
    for device, ebs in devices:
        encrypted = get(ebs, "encrypted")
        if encrypted is UNKNOWN:
            yield Note(f"{device}: encrypted is not known yet")
        elif not truthy(encrypted):
            yield f"{device} is not encrypted; set encrypted=true"
        elif require_cmk:
            key = get(ebs, "kmsKeyId")
            if key is UNKNOWN:
                yield Note(f"{device}: kmsKeyId is not known yet")
            elif not key:
                yield f"{device} is encrypted with the AWS-managed key; set kmsKeyId to a customer-managed key"


def check_ec2_no_public_ip(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    values = [("instance", props.get("associatePublicIpAddress"))]
    values += [(f"network interface {i + 1}", get(n, "associatePublicIpAddress"))
               for i, n in enumerate(as_list(props.get("networkInterfaces")))]
    for where, value in values:
        if value is UNKNOWN:
            yield Note(f"{where}: associatePublicIpAddress is not known yet")
        elif truthy(value):
            yield f"{where} has associatePublicIpAddress=true; keep nodes in private subnets"


SECRET_PATTERNS = [
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an AWS secret access key", re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}", re.I)),
]


def _user_data(resource_type: str, props: Mapping[str, Any]) -> Any:
    raw = props.get("userData")
    encoded = resource_type == LAUNCH_TEMPLATE  # launch templates take base64 user data
    if raw is None:  # an instance's base64 user data (None too when neither is set)
        raw, encoded = props.get("userDataBase64"), True
    if raw is UNKNOWN or not isinstance(raw, str):
        return raw
    if encoded:
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return raw  # not base64 after all: scan the text as is
    return raw


def check_ec2_no_secrets_in_user_data(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    text = _user_data(resource_type, props)
    if text is UNKNOWN:
        yield Note("userData is not known yet")
        return
    if not isinstance(text, str):
        return
    for label, pattern in SECRET_PATTERNS:
        if pattern.search(text):
            yield f"user data contains {label}; read secrets from Secrets Manager/SSM at boot instead"


# --- GPU pools (stack: an ASG's instance types may live on its launch template) --------------
def _lookup(resources: Sequence[StackResource]) -> dict[str, StackResource]:
    table: dict[str, StackResource] = {}
    for r in resources:
        if r.type == LAUNCH_TEMPLATE:
            for key in (r.props.get("id"), r.props.get("name"), r.name, r.urn):
                if isinstance(key, str) and key:
                    table[key] = r
    return table


def _template_of(ref: Any, templates: dict[str, StackResource]) -> StackResource | None:
    for key in (get(ref, "id"), get(ref, "name"), get(ref, "launchTemplateId"), get(ref, "launchTemplateName")):
        if isinstance(key, str) and key in templates:
            return templates[key]
    # An auto-named template rendered from inputs only: "<logical>-<hex>".
    for key in (get(ref, "id"), get(ref, "name")):
        if isinstance(key, str):
            for t in templates.values():
                if re.fullmatch(re.escape(t.name) + r"-[0-9a-f]{7,8}", key):
                    return t
    return None


def _requirements_have_gpus(requirements: dict[str, Any]) -> bool:
    """Whether attribute-based instance selection (``instanceRequirements``) asks for GPUs."""
    minimum = to_int(get(requirements, "acceleratorCount", "min"))
    types = [str(t).lower() for t in as_list(get(requirements, "acceleratorTypes")) if isinstance(t, str)]
    makers = [str(m).lower() for m in as_list(get(requirements, "acceleratorManufacturers")) if isinstance(m, str)]
    return (minimum or 0) >= 1 or "gpu" in types or "nvidia" in makers


def _requirements_unknown(requirements: dict[str, Any]) -> bool:
    """Whether an accelerator field of attribute-based selection is not known yet."""
    # only the minimum count decides (see _requirements_have_gpus); `get` answers UNKNOWN for a path
    # through an unknown block, and as_list turns an unknown list into [UNKNOWN]
    return get(requirements, "acceleratorCount", "min") is UNKNOWN or any(
        UNKNOWN in as_list(get(requirements, k)) for k in ("acceleratorTypes", "acceleratorManufacturers"))


class GpuPool:
    """An ASG or EKS node group with what is known of its instance types and purchase options.

    Instance types come from the group itself (mixed-instances overrides, node group
    ``instanceTypes``) and from its launch template (found by id or name, the group's own or an
    override's); as at launch, an override that names an instance type or requirements replaces
    the template's. Attribute-based selection counts as GPU when it asks for accelerators.
    """

    def __init__(self, resource: StackResource, templates: dict[str, StackResource]) -> None:
        self.resource = resource
        props = resource.props
        self.instance_types: list[str] = []
        self.requirements: list[dict[str, Any]] = []
        self.unknown_template = False
        self.unknown_types = False  # an instance type (or requirements) not known yet: not read as "no GPU"
        used: list[StackResource] = []
        overridden = False
        if resource.type == EKS_NODE_GROUP:
            listed = props.get("instanceTypes")
            self.instance_types = [t for t in as_list(listed) if isinstance(t, str)]
            self.unknown_types = listed is UNKNOWN or UNKNOWN in as_list(listed)
            self.template = self._resolve(props.get("launchTemplate"), templates)
        else:
            mixed = props.get("mixedInstancesPolicy")
            # first_set, not `or`: a specification not known yet must not fall through to the (absent)
            # plain launchTemplate, which would drop the pool as "no GPUs" instead of a note
            ref = first_set(get(mixed, "launchTemplate", "launchTemplateSpecification"), props.get("launchTemplate"))
            self.template = self._resolve(ref, templates)
            overrides = get(mixed, "launchTemplate", "overrides")
            for override in as_list(overrides):
                instance_type, requirements = get(override, "instanceType"), get(override, "instanceRequirements")
                if UNKNOWN in (instance_type, requirements):
                    self.unknown_types = True
                if isinstance(instance_type, str):
                    self.instance_types.append(instance_type)
                if isinstance(requirements, dict):
                    self.requirements.append(requirements)
                own = self._resolve(get(override, "launchTemplateSpecification"), templates)
                if instance_type is None and requirements is None:
                    if own is not None:
                        used.append(own)
                else:
                    overridden = True
        # AWS: an override's instance type (or requirements) replaces the launch template's, the
        # group's and the override's own; an EKS node group takes its types from one or the other
        if self.template is not None and not overridden:
            used.insert(0, self.template)
        for template in used:
            if UNKNOWN in (template.props.get("instanceType"), template.props.get("instanceRequirements")):
                self.unknown_types = True
            if isinstance(template.props.get("instanceType"), str):
                self.instance_types.append(template.props["instanceType"])
            if isinstance(template.props.get("instanceRequirements"), dict):
                self.requirements.append(template.props["instanceRequirements"])
        self.instance_types = list(dict.fromkeys(self.instance_types))
        # attribute-based selection whose accelerator fields are not known yet may ask for GPUs
        if any(_requirements_unknown(r) for r in self.requirements):
            self.unknown_types = True

    def _resolve(self, ref: Any, templates: dict[str, StackResource]) -> StackResource | None:
        if ref is UNKNOWN or any(get(ref, k) is UNKNOWN for k in ("id", "name", "launchTemplateId",
                                                                  "launchTemplateName")):
            self.unknown_template = True
            return None
        return _template_of(ref, templates)

    @property
    def gpu_types(self) -> list[str]:
        return [t for t in self.instance_types if GPU_INSTANCE.match(t)]

    @property
    def is_gpu(self) -> bool:
        return bool(self.gpu_types) or any(_requirements_have_gpus(r) for r in self.requirements)

    @property
    def label(self) -> str:
        gpu = sorted(set(self.gpu_types)) or ["GPUs by instance requirements"]
        return f'"{self.resource.name}" ({", ".join(gpu)})'

    def min_size(self) -> Any:
        if self.resource.type == EKS_NODE_GROUP:
            return get(self.resource.props, "scalingConfig", "minSize")
        return self.resource.props.get("minSize")

    def uses_spot(self, max_on_demand_above_base: int) -> Any:
        props = self.resource.props
        if self.resource.type == EKS_NODE_GROUP:
            capacity = props.get("capacityType")
            return UNKNOWN if capacity is UNKNOWN else capacity == "SPOT"
        distribution = get(props, "mixedInstancesPolicy", "instancesDistribution")
        if distribution is not None:
            above_base = get(distribution, "onDemandPercentageAboveBaseCapacity")
            if above_base is UNKNOWN:
                return UNKNOWN
            # AWS defaults onDemandPercentageAboveBaseCapacity to 100 (all on-demand).
            percentage = 100 if above_base is None else to_int(above_base)
            return percentage is not None and percentage <= max_on_demand_above_base
        if self.template is not None:
            market = get(self.template.props, "instanceMarketOptions", "marketType")
            return UNKNOWN if market is UNKNOWN else market == "spot"
        return False


def _gpu_pools(resources: Sequence[StackResource]) -> tuple[list[GpuPool], list[GpuPool]]:
    """GPU pools, and the pools whose launch template or an instance type is not known yet (cannot tell)."""
    templates = _lookup(resources)
    pools = [GpuPool(r, templates) for r in resources if r.type in (ASG, EKS_NODE_GROUP)]
    return [p for p in pools if p.is_gpu], [p for p in pools if not p.is_gpu and (p.unknown_template or
                                                                                 p.unknown_types)]


def _undecided(pools: list[GpuPool]) -> Iterator[Note]:
    for pool in pools:
        what = "its launch template is" if pool.unknown_template else "one of its instance types is"
        yield Note(f'pool "{pool.resource.name}": {what} not known yet, so whether it runs GPUs cannot be told',
                   pool.resource.urn)


def check_gpu_pool_spot(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    pools, undecided = _gpu_pools(resources)
    yield from _undecided(undecided)
    for pool in pools:
        limit = int(ctx.config["maxOnDemandPercentageAboveBase"])
        spot = pool.uses_spot(limit)
        if spot is UNKNOWN:
            yield Note(f"GPU pool {pool.label}: purchase options are not known yet", pool.resource.urn)
        elif not spot:
            yield Violation(f"GPU pool {pool.label} buys on-demand capacity above its base; use spot there "
                            f"(onDemandPercentageAboveBaseCapacity <= {limit}, or capacityType SPOT)",
                            pool.resource.urn)


def check_gpu_pool_scale_to_zero(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    pools, undecided = _gpu_pools(resources)
    yield from _undecided(undecided)
    for pool in pools:
        minimum = pool.min_size()
        if minimum is UNKNOWN:
            yield Note(f"GPU pool {pool.label}: minSize is not known yet", pool.resource.urn)
        elif to_int(minimum) != 0:
            yield Violation(f"GPU pool {pool.label} has minSize {minimum}; set 0 so idle GPUs cost nothing",
                            pool.resource.urn)


def _exact(requirements: dict[str, Any], key: str) -> Any:
    """Whether a range of attribute-based selection is pinned to one value; UNKNOWN when a bound is not known yet."""
    low, high = get(requirements, key, "min"), get(requirements, key, "max")
    if low is UNKNOWN or high is UNKNOWN:
        return UNKNOWN
    low, high = to_int(low), to_int(high)
    return low is not None and low == high


def check_gpu_pool_homogeneous(resources: Sequence[StackResource], ctx: Context) -> Iterator[Any]:
    """The cluster autoscaler sizes a group from one instance type: every type must have the same shape."""
    pools, undecided = _gpu_pools(resources)
    yield from _undecided(undecided)
    for pool in pools:
        for requirements in pool.requirements:
            if not _requirements_have_gpus(requirements):
                continue
            pinned = {key: _exact(requirements, key) for key in ("vcpuCount", "memoryMib", "acceleratorCount")}
            loose = [key for key, exact in pinned.items() if exact is False]
            unknown = [key for key, exact in pinned.items() if exact is UNKNOWN]
            if loose:
                yield Violation(f"GPU pool {pool.label}: instance requirements allow types of different shapes "
                                f"({', '.join(loose)} not pinned to one value); list instance types of one "
                                "shape instead", pool.resource.urn)
            elif unknown:
                # an unknown bound is not an open one: it may well pin the value
                yield Note(f"GPU pool {pool.label}: instance requirements {', '.join(unknown)} not known yet, "
                           "homogeneity not checked", pool.resource.urn)
        if pool.unknown_types:
            yield Note(f"GPU pool {pool.label}: one of its instance types is not known yet, homogeneity not checked",
                       pool.resource.urn)
            continue
        unknown = [t for t in pool.instance_types if t not in SHAPES]
        if unknown:
            yield Note(f"GPU pool {pool.label}: shape of {', '.join(unknown)} unknown to the pack, "
                       "homogeneity not checked", pool.resource.urn)
            continue
        shapes: dict[Any, list[str]] = {}
        for instance_type in pool.instance_types:
            shapes.setdefault(SHAPES[instance_type], []).append(instance_type)
        if len(shapes) > 1:
            described = "; ".join(f"{', '.join(types)}: {shape}" for shape, types in shapes.items())
            yield Violation(f"GPU pool {pool.label} mixes instance shapes ({described}); the cluster autoscaler "
                            "needs one GPU count, vCPU count and memory size per group", pool.resource.urn)


# --- EKS --------------------------------------------------------------------------------------
def check_eks_secrets_encryption(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    configs = props.get("encryptionConfig")
    if configs is UNKNOWN:
        yield Note("encryptionConfig is not known yet")
        return
    unknown = False
    for config in as_list(configs):
        resources, key = as_list(get(config, "resources")), get(config, "provider", "keyArn")
        if "secrets" in resources and key and key is not UNKNOWN:
            return
        unknown = unknown or UNKNOWN in resources or key is UNKNOWN or config is UNKNOWN
    if unknown:
        yield Note("encryptionConfig resources or provider.keyArn is not known yet")
    else:
        yield "encryptionConfig does not encrypt \"secrets\" with a KMS key (provider.keyArn)"


def check_eks_no_open_public_endpoint(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    vpc = props.get("vpcConfig")
    public = get(vpc, "endpointPublicAccess")
    if public is UNKNOWN:
        yield Note("vpcConfig.endpointPublicAccess is not known yet")
        return
    if falsy(public):
        return
    cidrs = get(vpc, "publicAccessCidrs")
    if "0.0.0.0/0" in as_list(cidrs) or (not cidrs and cidrs is not UNKNOWN):
        yield "the public API endpoint is open to 0.0.0.0/0; set endpointPublicAccess=false or restrict publicAccessCidrs"
    elif cidrs is UNKNOWN or UNKNOWN in as_list(cidrs):
        yield Note("vpcConfig.publicAccessCidrs is not known yet")


REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")


def check_eks_control_plane_logging(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Any]:
    enabled = props.get("enabledClusterLogTypes")
    if enabled is UNKNOWN:
        yield Note("enabledClusterLogTypes is not known yet")
        return
    missing = [t for t in REQUIRED_LOG_TYPES if t not in as_list(enabled)]
    if missing and UNKNOWN in as_list(enabled):
        # the element not known yet may be one of the missing types
        yield Note(f"enabledClusterLogTypes holds a value not known yet, so whether it enables {', '.join(missing)} "
                   "cannot be told")
    elif missing:
        yield f"control plane log types {', '.join(missing)} are not enabled"


EC2_TYPES = [LAUNCH_TEMPLATE, INSTANCE]

POLICIES = [
    ResourceRule(
        "ec2-imdsv2-required",
        "Launch templates and instances require IMDSv2 (session tokens).",
        check=check_ec2_imdsv2_required, resource_types=EC2_TYPES, concern="compute", severity=Severity.HIGH,
        mirrors=["CKV_AWS_79", "AWS-0130"],
        remediation="Set metadataOptions={'httpTokens': 'required', 'httpEndpoint': 'enabled'}.",
    ),
    ResourceRule(
        "ec2-imds-hop-limit",
        "The instance metadata hop limit stays small (≤ 2, 1 for hosts without containers).",
        check=check_ec2_imds_hop_limit, resource_types=EC2_TYPES, concern="compute", severity=Severity.LOW,
        mirrors=["CKV_AWS_341"],
        params={"maxHopLimit": {"type": "integer", "minimum": 1, "default": 2,
                                "description": "Largest hop limit on container hosts (EKS/ECS nodes)."},
                "maxHopLimitWithoutContainers": {"type": "integer", "minimum": 1, "default": 1,
                                                 "description": "Largest hop limit when user data shows no "
                                                                "container runtime."}},
        remediation="Set metadataOptions.httpPutResponseHopLimit to 2 (container hosts) or 1.",
    ),
    ResourceRule(
        "ec2-ebs-encrypted",
        "Every EBS block device is encrypted (with a customer-managed key where required).",
        check=check_ec2_ebs_encrypted, resource_types=[*EC2_TYPES, EBS_VOLUME], concern="compute",
        severity=Severity.HIGH, mirrors=["CKV_AWS_8", "CKV_AWS_3"],
        params={"requireCmk": {"type": "boolean", "default": True,
                               "description": "Require kmsKeyId (a customer-managed key) on every volume."}},
        remediation="Declare blockDeviceMappings with ebs={'encrypted': 'true', 'kmsKeyId': <key arn>}.",
    ),
    ResourceRule(
        "ec2-no-public-ip",
        "Launch templates and instances do not associate public IP addresses.",
        check=check_ec2_no_public_ip, resource_types=EC2_TYPES, concern="compute", severity=Severity.HIGH,
        mirrors=["CKV_AWS_88"], remediation="Remove associatePublicIpAddress; use private subnets and NAT/endpoints.",
    ),
    ResourceRule(
        "ec2-no-secrets-in-user-data",
        "User data carries no AWS access keys or private keys.",
        check=check_ec2_no_secrets_in_user_data, resource_types=EC2_TYPES, concern="compute",
        severity=Severity.CRITICAL, mirrors=["CKV_AWS_46"],
        remediation="Give the instance an IAM role and fetch secrets from Secrets Manager or SSM at boot.",
    ),
    StackRule(
        "gpu-pool-spot",
        "GPU node pools use spot capacity above their base capacity.",
        check=check_gpu_pool_spot, concern="compute", severity=Severity.LOW, mirrors=["cost"],
        params={"maxOnDemandPercentageAboveBase": {
            "type": "integer", "minimum": 0, "maximum": 100, "default": 0,
            "description": "Largest on-demand share (%) allowed above the on-demand base capacity."}},
        remediation="Use a mixedInstancesPolicy with onDemandPercentageAboveBaseCapacity=0 and a capacity-optimized "
                    "spot allocation strategy (or an EKS node group with capacityType SPOT).",
    ),
    StackRule(
        "gpu-pool-scale-to-zero",
        "GPU node pools scale to zero when idle (minSize 0).",
        check=check_gpu_pool_scale_to_zero, concern="compute", severity=Severity.LOW, mirrors=["cost"],
        remediation="Set minSize=0 and let the cluster autoscaler add GPU nodes on demand.",
    ),
    StackRule(
        "gpu-pool-homogeneous",
        "Every instance type of a GPU node group has the same GPU count, vCPUs and memory.",
        check=check_gpu_pool_homogeneous, concern="compute", severity=Severity.HIGH, mirrors=["cluster-autoscaler"],
        remediation="Give each node group instance types of one shape (e.g. g5.2xlarge, g6.2xlarge); put other "
                    "shapes in their own group.",
    ),
    ResourceRule(
        "eks-secrets-encryption",
        "EKS clusters encrypt Kubernetes secrets with a KMS key.",
        check=check_eks_secrets_encryption, resource_types=[EKS_CLUSTER], concern="compute", severity=Severity.HIGH,
        mirrors=["CKV_AWS_58", "AWS-0039"],
        remediation="Set encryptionConfig={'resources': ['secrets'], 'provider': {'keyArn': <kms key arn>}}.",
    ),
    ResourceRule(
        "eks-no-open-public-endpoint",
        "EKS API endpoints are private, or public only to listed CIDRs (never 0.0.0.0/0).",
        check=check_eks_no_open_public_endpoint, resource_types=[EKS_CLUSTER], concern="compute",
        severity=Severity.HIGH, mirrors=["CKV_AWS_38", "CKV_AWS_39"],
        remediation="Set vpcConfig.endpointPublicAccess=false (endpointPrivateAccess=true) or publicAccessCidrs.",
    ),
    ResourceRule(
        "eks-control-plane-logging",
        "EKS clusters send api, audit and authenticator logs to CloudWatch.",
        check=check_eks_control_plane_logging, resource_types=[EKS_CLUSTER], concern="compute",
        severity=Severity.MEDIUM, mirrors=["CKV_AWS_37"],
        remediation="Set enabledClusterLogTypes=['api', 'audit', 'authenticator'] (plus others as needed).",
    ),
]
