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

    def __init__(self, *, strict_invokes: bool, region: str | None = None, account_id: str = ACCOUNT_ID) -> None:
        self.strict_invokes = strict_invokes
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
        elif service == "iam":
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
        elif token == "aws:budgets/budget:Budget":
            resource_id = f"{account}:{name}"
            arn = f"arn:aws:budgets::{account}:budget/{name}"
            state.update(name=name, accountId=account)
        state.setdefault("arn", arn)
        state.setdefault("id", resource_id)
        return resource_id, state
