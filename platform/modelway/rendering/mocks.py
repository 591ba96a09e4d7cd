"""Pulumi mocks that behave like AWS/Kubernetes enough to render a program offline.

Resources echo their inputs and gain realistic, deterministic ids and ARNs (same program,
same output). Invokes the platform uses are answered (caller identity, region, partition,
AZs, SSM parameters, AMIs, and ``aws.iam.get_policy_document`` built into real JSON).
An unknown invoke raises in strict mode (our own tests: a silent empty answer hides bugs)
and is recorded as a warning in checker mode (rendering someone else's program).
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

import pulumi

from modelway.rendering.policy_documents import get_policy_document_result

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


class UnknownInvokeError(Exception):
    """Raised (strict mode) when the program calls an invoke the mocks cannot answer."""


def _digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _physical_name(logical: str, inputs: dict[str, Any], key: str = "name") -> str:
    # Mirrors Pulumi auto-naming: logical name plus a random-looking (here: stable) suffix.
    if inputs.get(key):
        return str(inputs[key])
    if inputs.get("namePrefix"):
        return f"{inputs['namePrefix']}{_digest(logical, length=7)}"
    return f"{logical}-{_digest(logical, length=7)}"


class PlatformMocks(pulumi.runtime.Mocks):
    """Mocks for AWS + Kubernetes programs.

    Example:
        >>> mocks = PlatformMocks(strict_invokes=True, region="eu-west-1")
        >>> pulumi.runtime.set_mocks(mocks, project="modelway", stack="dev", preview=False)  # doctest: +SKIP
    """

    def __init__(self, *, strict_invokes: bool, region: str | None = None, account_id: str = ACCOUNT_ID,
                 preview: bool = False) -> None:
        self.strict_invokes = strict_invokes
        # In a preview, what the provider computes on create (a cluster's endpoint and CA) is unknown.
        self.preview = preview
        self.region = region or DEFAULT_REGION
        self.account_id = account_id
        self.warnings: list[str] = []
        self._provider_regions: dict[str, str] = {}
        # Invokes run on executor threads: the region of the one being answered is per thread.
        self._invoke = threading.local()
        self._invokes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getRegion:getRegion": self._region_info,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._availability_zones,
            "aws:ssm/getParameter:getParameter": self._ssm_parameter,
            "aws:ec2/getAmi:getAmi": self._ami,
            "aws:ec2/getAmiIds:getAmiIds": lambda args: {"id": self._invoke_region, "ids": [self._ami_id("ids")]},
            "aws:iam/getPolicyDocument:getPolicyDocument": get_policy_document_result,
            "aws:eks/getCluster:getCluster": self._eks_cluster,
            "aws:ec2/getVpc:getVpc": self._vpc,
            "aws:ec2/getManagedPrefixList:getManagedPrefixList": self._managed_prefix_list,
            "aws:iam/getRole:getRole": self._iam_role,
            "aws:ecr/getImage:getImage": self._ecr_image,
        }

    # ---- invokes -------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        handler = self._invokes.get(args.token)
        if handler is None:
            message = f"unknown invoke {args.token} (the mocks do not know how to answer it)"
            if self.strict_invokes:
                raise UnknownInvokeError(message)
            self.warnings.append(message + "; answered with an empty result")
            return {}
        self._invoke.region = self._region_for(args.provider)
        return handler(dict(args.args or {}))

    @property
    def _invoke_region(self) -> str:
        return getattr(self._invoke, "region", self.region)

    def _caller_identity(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "arn": f"arn:aws:iam::{self.account_id}:user/modelway-render",
            "userId": "AIDAMODELWAYRENDER0001",
            "id": self.account_id,
        }

    def _region_info(self, args: dict[str, Any]) -> dict[str, Any]:
        region = args.get("region") or args.get("name") or self._invoke_region
        return {"id": region, "name": region, "region": region,
                "description": region, "endpoint": f"ec2.{region}.amazonaws.com"}

    def _partition(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws"}

    def _availability_zones(self, _args: dict[str, Any]) -> dict[str, Any]:
        names = [f"{self._invoke_region}{suffix}" for suffix in "abc"]
        return {"id": self._invoke_region, "names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)],
                "groupNames": [self._invoke_region], "state": "available"}

    def _eks_cluster(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", "cluster"))
        region = self._invoke_region
        ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0stQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
        return {
            "id": name, "name": name,
            "arn": f"arn:aws:eks:{region}:{self.account_id}:cluster/{name}",
            "endpoint": f"https://{_digest(name, length=32).upper()}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthorities": [{"data": ca}],
            "kubernetesNetworkConfigs": [{"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16",
                                          "serviceIpv6Cidr": "", "elasticLoadBalancings": []}],
            "version": "1.31", "status": "ACTIVE", "roleArn": f"arn:aws:iam::{self.account_id}:role/{name}-cluster",
            "vpcConfig": {"clusterSecurityGroupId": f"sg-0{_digest(name, 'sg', length=16)}",
                          "endpointPrivateAccess": True, "endpointPublicAccess": False,
                          "publicAccessCidrs": [], "securityGroupIds": [], "subnetIds": [], "vpcId": f"vpc-0{_digest(name, length=16)}"},
            "accessConfigs": [{"authenticationMode": "API_AND_CONFIG_MAP"}],
            "platformVersion": "eks.1", "createdAt": "2026-01-01T00:00:00Z", "tags": {},
        }

    def _vpc(self, args: dict[str, Any]) -> dict[str, Any]:
        vpc_id = str(args.get("id") or f"vpc-0{_digest('default-vpc', length=16)}")
        return {"id": vpc_id, "arn": f"arn:aws:ec2:{self._invoke_region}:{self.account_id}:vpc/{vpc_id}",
                "cidrBlock": "10.20.0.0/16", "default": False, "enableDnsHostnames": True,
                "enableDnsSupport": True, "state": "available", "ownerId": self.account_id,
                "cidrBlockAssociations": [{"associationId": f"vpc-cidr-assoc-{_digest(vpc_id)}",
                                           "cidrBlock": "10.20.0.0/16", "state": "associated"}],
                "instanceTenancy": "default", "mainRouteTableId": f"rtb-0{_digest(vpc_id, 'rtb', length=16)}",
                "tags": {}}

    def _ecr_image(self, args: dict[str, Any]) -> dict[str, Any]:
        # an image CI pushed: its digest is stable per repository and tag
        repository, tag = str(args.get("repositoryName")), str(args.get("imageTag") or "latest")
        digest = "sha256:" + _digest(repository, tag, length=64)
        return {"id": digest, "repositoryName": repository, "imageTag": tag, "imageTags": [tag],
                "imageDigest": digest, "imageSizeInBytes": 734003200, "imagePushedAt": 1764720000,
                "imageUri": f"{self.account_id}.dkr.ecr.{self._invoke_region}.amazonaws.com/{repository}@{digest}",
                "registryId": self.account_id, "mostRecent": None}

    def _managed_prefix_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # AWS-managed prefix lists (com.amazonaws.<region>.s3, ...): a few public CIDRs of the service.
        name = str(args.get("name") or "com.amazonaws.prefix-list")
        list_id = f"pl-{_digest(name, length=8)}"
        seed = int(_digest(name, length=4), 16)
        cidrs = [f"52.{(seed + i) % 256}.{(seed >> 3) % 256}.0/22" for i in range(3)]
        return {"id": list_id, "name": name, "addressFamily": "IPv4", "maxEntries": len(cidrs),
                "ownerId": "AWS", "version": 1, "tags": {},
                "arn": f"arn:aws:ec2:{self._invoke_region}:aws:prefix-list/{list_id}",
                "entries": [{"cidr": cidr, "description": ""} for cidr in cidrs]}

    def _iam_role(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", "role"))
        path = "/aws-service-role/autoscaling.amazonaws.com/" if name.startswith("AWSServiceRoleFor") else "/"
        return {"id": name, "name": name, "path": path, "arn": f"arn:aws:iam::{self.account_id}:role{path}{name}",
                "uniqueId": f"AROA{_digest(name, length=16).upper()}", "assumeRolePolicy": "{}",
                "createDate": "2026-01-01T00:00:00Z", "description": "", "maxSessionDuration": 3600,
                "permissionsBoundary": "", "roleLastUseds": [], "tags": {}}

    def _ami_id(self, seed: str) -> str:
        return f"ami-0{_digest(seed, length=16)}"

    def _ssm_parameter(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        # AMI parameters (e.g. /aws/service/eks/optimized-ami/.../image_id) must look like AMI ids.
        value = self._ami_id(name) if "ami" in name.lower() else f"mock-value-of-{name.strip('/').replace('/', '-')}"
        return {"id": name, "name": name, "value": value, "insecureValue": value, "type": "String",
                "version": 1, "arn": f"arn:aws:ssm:{self._invoke_region}:{self.account_id}:parameter/{name.lstrip('/')}",
                "withDecryption": bool(args.get("withDecryption", True))}

    def _ami(self, args: dict[str, Any]) -> dict[str, Any]:
        ami = self._ami_id(repr(sorted(str(f) for f in args.get("filters") or [])))
        return {"id": ami, "imageId": ami, "arn": f"arn:aws:ec2:{self._invoke_region}::image/{ami}",
                "name": "mock-gpu-ami", "architecture": "x86_64", "rootDeviceName": "/dev/xvda",
                "ownerId": "amazon", "state": "available", "mostRecent": bool(args.get("mostRecent"))}

    # ---- resources -----------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs or {})
        token, logical = args.typ, args.name
        if token.startswith("pulumi:providers:"):
            if inputs.get("region"):
                self._provider_regions[logical] = str(inputs["region"])
            return f"{logical}-{_digest(token, logical)}", inputs
        region = self._region_for(args.provider)
        if token.startswith("kubernetes:"):
            return self._kubernetes(token, logical, inputs)
        if token.startswith("aws:"):
            return self._aws(token, logical, inputs, region)
        return f"{logical}-{_digest(token, logical)}", inputs

    def _region_for(self, provider_ref: str | None) -> str:
        # A provider reference is "<urn>::<id>"; the URN ends with the provider's logical name.
        if provider_ref:
            urn = provider_ref.rsplit("::", 1)[0]
            logical = urn.rsplit("::", 1)[-1]
            if logical in self._provider_regions:
                return self._provider_regions[logical]
        return self.region

    def _kubernetes(self, token: str, logical: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if token == "kubernetes:helm.sh/v3:Release":
            name = str(inputs.get("name") or logical)
            namespace = str(inputs.get("namespace") or "default")
            status = {"name": name, "namespace": namespace, "chart": inputs.get("chart"),
                      "version": inputs.get("version"), "status": "deployed", "revision": 1}
            return f"{namespace}/{name}", {**inputs, "status": status}
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{logical}-{_digest(logical, length=8)}")
        metadata.setdefault("uid", _digest(token, logical, length=32))
        state = {**inputs, "metadata": metadata}
        namespace = metadata.get("namespace")
        resource_id = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
        return resource_id, state

    def _aws(self, token: str, logical: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
        account = self.account_id
        service = token.split(":")[1].split("/")[0]
        kind = token.rsplit(":", 1)[-1]
        state: dict[str, Any] = dict(inputs)
        if isinstance(inputs.get("tags"), dict):
            state.setdefault("tagsAll", dict(inputs["tags"]))
        name = _physical_name(logical, inputs)
        resource_id = name
        arn = f"arn:aws:{service}:{region}:{account}:{kind[0].lower() + kind[1:]}/{name}"

        if token == "aws:s3/bucket:Bucket":
            name = _physical_name(logical, inputs, "bucket")
            resource_id, arn = name, f"arn:aws:s3:::{name}"
            state.update(bucket=name, bucketDomainName=f"{name}.s3.amazonaws.com",
                         bucketRegionalDomainName=f"{name}.s3.{region}.amazonaws.com", region=region)
        elif token == "aws:kms/key:Key":
            key_id = "-".join(_digest(logical, str(i), length=n) for i, n in enumerate((8, 4, 4, 4, 12)))
            resource_id, arn = key_id, f"arn:aws:kms:{region}:{account}:key/{key_id}"
            state.update(keyId=key_id)
        elif token == "aws:kms/alias:Alias":
            arn = f"arn:aws:kms:{region}:{account}:{name}"
            state.update(targetKeyArn=inputs.get("targetKeyId"))
        elif service == "iam" and kind != "ServiceLinkedRole":
            iam_kind = {"Role": "role", "Policy": "policy", "InstanceProfile": "instance-profile",
                        "User": "user", "Group": "group"}.get(kind)
            path = str(inputs.get("path") or "/")
            if iam_kind:
                arn = f"arn:aws:iam::{account}:{iam_kind}{path}{name}"
                state.update(name=name, uniqueId=f"AROA{_digest(logical, length=16).upper()}")
                if kind == "Policy":
                    resource_id = arn
            elif kind == "RolePolicy":
                resource_id = f"{inputs.get('role')}:{name}"
            elif kind == "RolePolicyAttachment":
                resource_id = f"{inputs.get('role')}-{_digest(logical)}"
        elif token == "aws:ecr/repository:Repository":
            arn = f"arn:aws:ecr:{region}:{account}:repository/{name}"
            state.update(name=name, registryId=account,
                         repositoryUrl=f"{account}.dkr.ecr.{region}.amazonaws.com/{name}")
        elif token == "aws:sns/topic:Topic":
            arn = resource_id = f"arn:aws:sns:{region}:{account}:{name}"
            state.update(name=name)
        elif token == "aws:cloudwatch/logGroup:LogGroup":
            arn = f"arn:aws:logs:{region}:{account}:log-group:{name}"
            state.update(name=name)
        elif token == "aws:cloudwatch/metricAlarm:MetricAlarm":
            arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
            state.update(name=name)
        elif token == "aws:cloudwatch/eventRule:EventRule":
            arn = f"arn:aws:events:{region}:{account}:rule/{name}"
            state.update(name=name)
        elif token == "aws:ec2/launchTemplate:LaunchTemplate":
            resource_id = f"lt-0{_digest(logical, length=16)}"
            arn = f"arn:aws:ec2:{region}:{account}:launch-template/{resource_id}"
            state.update(name=name, latestVersion=1, defaultVersion=1)
        elif token == "aws:autoscaling/group:Group":
            arn = (f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:"
                   f"{_digest(logical, length=8)}:autoScalingGroupName/{name}")
            state.update(name=name)
        elif service == "sagemaker":
            name_key = next((k for k in inputs if k.endswith("Name") and k[0].islower()
                             and k[: -len("Name")].lower() in kind.lower()), "name")
            name = _physical_name(logical, inputs, name_key)
            resource_id = name
            resource_kind = "".join("-" + c.lower() if c.isupper() else c for c in kind).lstrip("-")
            arn = f"arn:aws:sagemaker:{region}:{account}:{resource_kind}/{name.lower()}"
            state[name_key] = name
            if kind == "MlflowTrackingServer":
                state.update(trackingServerUrl=f"https://t-{_digest(logical, length=12)}.{region}.experiments.sagemaker.aws")
        elif token == "aws:iam/serviceLinkedRole:ServiceLinkedRole":
            service = str(inputs.get("awsServiceName", "service.amazonaws.com"))
            role = "AWSServiceRoleFor" + "".join(p.capitalize() for p in service.split(".")[0].split("-"))
            if service == "autoscaling.amazonaws.com":
                role = "AWSServiceRoleForAutoScaling"
            arn = f"arn:aws:iam::{account}:role/aws-service-role/{service}/{role}"
            resource_id = arn
            state.update(name=role, path=f"/aws-service-role/{service}/", uniqueId=f"AROA{_digest(logical, length=16).upper()}")
        elif token == "aws:eks/cluster:Cluster":
            ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0stQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
            arn = f"arn:aws:eks:{region}:{account}:cluster/{name}"
            vpc = dict(inputs.get("vpcConfig") or {})
            vpc.setdefault("clusterSecurityGroupId", f"sg-0{_digest(name, 'sg', length=16)}")
            vpc.setdefault("vpcId", f"vpc-0{_digest(name, length=16)}")
            state.update(name=name, vpcConfig=vpc, version=inputs.get("version") or "1.31")
            if not self.preview:  # computed by EKS on create: unknown to `pulumi preview`
                state.update(endpoint=f"https://{_digest(name, length=32).upper()}.gr7.{region}.eks.amazonaws.com",
                             certificateAuthority={"data": ca}, status="ACTIVE", platformVersion="eks.1",
                             kubernetesNetworkConfig={"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
                             identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/"
                                                               f"{_digest(name, length=32).upper()}"}]}])
        elif token in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup",
                       "aws:ec2/routeTable:RouteTable", "aws:ec2/internetGateway:InternetGateway",
                       "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/vpcEndpoint:VpcEndpoint"):
            id_prefix = {"Vpc": "vpc", "Subnet": "subnet", "SecurityGroup": "sg", "RouteTable": "rtb",
                         "InternetGateway": "igw", "NatGateway": "nat", "Eip": "eipalloc", "VpcEndpoint": "vpce"}[kind]
            resource_id = f"{id_prefix}-0{_digest(logical, length=16)}"
            arn = f"arn:aws:ec2:{region}:{account}:{id_prefix}/{resource_id}"
            if kind == "Eip":
                state.update(allocationId=resource_id, publicIp=f"203.0.113.{int(_digest(logical, length=2), 16) % 250}")
            if kind == "SecurityGroup":
                state.setdefault("name", _physical_name(logical, inputs))
        elif token == "aws:sqs/queue:Queue":
            name = _physical_name(logical, inputs)
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            resource_id = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            state.update(name=name, url=resource_id)
        elif token == "aws:cloudtrail/trail:Trail":
            arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
            state.update(name=name, homeRegion=region)
        elif token == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            resource_id = f"a-{_digest(logical, length=17)}"
            arn = f"arn:aws:eks:{region}:{account}:podidentityassociation/{inputs.get('clusterName')}/{resource_id}"
            state.update(associationId=resource_id, associationArn=arn)
        elif token == "aws:budgets/budget:Budget":
            resource_id = f"{account}:{name}"
            arn = f"arn:aws:budgets::{account}:budget/{name}"
            state.update(name=name, accountId=account)
        state.setdefault("arn", arn)
        state.setdefault("id", resource_id)
        return resource_id, state
