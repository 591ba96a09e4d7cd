"""Pins for the offline renderer's mocks (``modelway.rendering.mocks``): exact ids, ARNs and invoke answers.

The mocks are called directly with hand-made ``MockResourceArgs`` / ``MockCallArgs`` (no program
render: fast). What a user sees of them is the rendered state: ids and ARNs must look like AWS's
(policies link resources by ARN), be deterministic (same program, same output: a digest of the
logical name), and an invoke the mocks cannot answer must fail loudly in strict mode.
"""
from __future__ import annotations

import hashlib

import pulumi
import pytest

from modelway.rendering.mocks import ACCOUNT_ID, DEFAULT_REGION, PlatformMocks, UnknownInvokeError

ACCOUNT = "123456789012"
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0stQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def sha(*parts: str, n: int = 8) -> str:
    """The stable suffix the mocks derive from names: sha256 of the '/'-joined parts, first n hex digits."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def new(mocks: PlatformMocks, token: str, logical: str, inputs: dict | None = None,
        provider: str | None = None) -> tuple[str, dict]:
    return mocks.new_resource(pulumi.runtime.MockResourceArgs(token, logical, inputs or {}, provider))


def call(mocks: PlatformMocks, token: str, args: dict | None = None, provider: str = "") -> dict:
    return mocks.call(pulumi.runtime.MockCallArgs(token, args, provider))


@pytest.fixture
def mocks() -> PlatformMocks:
    return PlatformMocks(strict_invokes=True)


def test_defaults_account_and_region():
    assert (ACCOUNT_ID, DEFAULT_REGION) == (ACCOUNT, "us-east-1")
    plain = PlatformMocks(strict_invokes=False)
    assert (plain.region, plain.account_id, plain.preview, plain.warnings) == ("us-east-1", ACCOUNT, False, [])
    assert PlatformMocks(strict_invokes=True, region="eu-west-1", account_id="999").region == "eu-west-1"


# ---- invokes -----------------------------------------------------------------------

def test_unknown_invoke_raises_in_strict_mode_with_the_token(mocks):
    with pytest.raises(UnknownInvokeError) as err:
        call(mocks, "aws:s3/getBucket:getBucket", {"bucket": "b"})
    assert str(err.value) == "unknown invoke aws:s3/getBucket:getBucket (the mocks do not know how to answer it)"
    assert mocks.warnings == []


def test_unknown_invoke_is_an_empty_answer_and_a_warning_in_checker_mode():
    mocks = PlatformMocks(strict_invokes=False)
    assert call(mocks, "aws:x/y:z", None) == {}
    assert call(mocks, "aws:x/y:w", {}) == {}
    assert mocks.warnings == [
        "unknown invoke aws:x/y:z (the mocks do not know how to answer it); answered with an empty result",
        "unknown invoke aws:x/y:w (the mocks do not know how to answer it); answered with an empty result",
    ]


def test_caller_identity_region_and_partition(mocks):
    other = PlatformMocks(strict_invokes=True, account_id="210987654321", region="eu-central-1")
    assert call(other, "aws:index/getCallerIdentity:getCallerIdentity", None) == {
        "accountId": "210987654321", "arn": "arn:aws:iam::210987654321:user/modelway-render",
        "userId": "AIDAMODELWAYRENDER0001", "id": "210987654321"}
    assert call(other, "aws:index/getRegion:getRegion", {}) == {
        "id": "eu-central-1", "name": "eu-central-1", "region": "eu-central-1",
        "description": "eu-central-1", "endpoint": "ec2.eu-central-1.amazonaws.com"}
    # an explicit region (new argument) or name (old one) wins over the provider's
    assert call(mocks, "aws:index/getRegion:getRegion", {"region": "ap-south-1", "name": "x"})["id"] == "ap-south-1"
    assert call(mocks, "aws:index/getRegion:getRegion", {"name": "sa-east-1"})["name"] == "sa-east-1"
    assert call(mocks, "aws:index/getPartition:getPartition", {}) == {
        "id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}


def test_availability_zones_are_three_in_the_region(mocks):
    assert call(mocks, "aws:index/getAvailabilityZones:getAvailabilityZones", {"state": "available"}) == {
        "id": "us-east-1", "names": ["us-east-1a", "us-east-1b", "us-east-1c"],
        "zoneIds": ["use1-az1", "use1-az2", "use1-az3"], "groupNames": ["us-east-1"], "state": "available"}


def test_invokes_answer_in_the_region_of_their_provider(mocks):
    # a provider registered with a region: invokes through it (reference "<urn>::<id>") answer there
    provider_id, state = new(mocks, "pulumi:providers:aws", "west", {"region": "us-west-2"})
    assert (provider_id, state) == (f"west-{sha('pulumi:providers:aws', 'west')}", {"region": "us-west-2"})
    new(mocks, "pulumi:providers:aws", "noregion", {})
    ref = f"urn:pulumi:dev::proj::pulumi:providers:aws::west::{provider_id}"
    zones = call(mocks, "aws:index/getAvailabilityZones:getAvailabilityZones", {}, provider=ref)
    assert zones["names"] == ["us-west-2a", "us-west-2b", "us-west-2c"]
    # an unknown provider, one without a region, and no provider: the default region
    for other in ("urn:pulumi:dev::proj::pulumi:providers:aws::east::id1",
                  "urn:pulumi:dev::proj::pulumi:providers:aws::noregion::id2", ""):
        assert call(mocks, "aws:index/getRegion:getRegion", {}, provider=other)["id"] == "us-east-1"
    # resources follow their provider's region too
    _, bucket = new(mocks, "aws:s3/bucket:Bucket", "b", {"bucket": "data"}, provider=ref)
    assert bucket["region"] == "us-west-2"
    assert new(mocks, "aws:sns/topic:Topic", "t", {"name": "t"})[0] == f"arn:aws:sns:us-east-1:{ACCOUNT}:t"


def test_eks_cluster_invoke(mocks):
    name = "ml"
    region = "us-east-1"
    assert call(mocks, "aws:eks/getCluster:getCluster", {"name": name}) == {
        "id": name, "name": name,
        "arn": f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{name}",
        "endpoint": f"https://{sha(name, n=32).upper()}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthorities": [{"data": CA}],
        "kubernetesNetworkConfigs": [{"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16",
                                      "serviceIpv6Cidr": "", "elasticLoadBalancings": []}],
        "version": "1.31", "status": "ACTIVE", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-cluster",
        "vpcConfig": {"clusterSecurityGroupId": f"sg-0{sha(name, 'sg', n=16)}",
                      "endpointPrivateAccess": True, "endpointPublicAccess": False,
                      "publicAccessCidrs": [], "securityGroupIds": [], "subnetIds": [],
                      "vpcId": f"vpc-0{sha(name, n=16)}"},
        "accessConfigs": [{"authenticationMode": "API_AND_CONFIG_MAP"}],
        "platformVersion": "eks.1", "createdAt": "2026-01-01T00:00:00Z", "tags": {},
    }
    assert call(mocks, "aws:eks/getCluster:getCluster", {})["name"] == "cluster"


def test_vpc_invoke(mocks):
    def expected(vpc_id: str) -> dict:
        return {"id": vpc_id, "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{vpc_id}",
                "cidrBlock": "10.20.0.0/16", "default": False, "enableDnsHostnames": True,
                "enableDnsSupport": True, "state": "available", "ownerId": ACCOUNT,
                "cidrBlockAssociations": [{"associationId": f"vpc-cidr-assoc-{sha(vpc_id)}",
                                           "cidrBlock": "10.20.0.0/16", "state": "associated"}],
                "instanceTenancy": "default", "mainRouteTableId": f"rtb-0{sha(vpc_id, 'rtb', n=16)}",
                "tags": {}}

    assert call(mocks, "aws:ec2/getVpc:getVpc", {"id": "vpc-123"}) == expected("vpc-123")
    assert call(mocks, "aws:ec2/getVpc:getVpc", {"default": True}) == expected(f"vpc-0{sha('default-vpc', n=16)}")


def test_ecr_image_invoke(mocks):
    digest = "sha256:" + sha("train", "v1", n=64)
    assert call(mocks, "aws:ecr/getImage:getImage", {"repositoryName": "train", "imageTag": "v1"}) == {
        "id": digest, "repositoryName": "train", "imageTag": "v1", "imageTags": ["v1"],
        "imageDigest": digest, "imageSizeInBytes": 734003200, "imagePushedAt": 1764720000,
        "imageUri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/train@{digest}",
        "registryId": ACCOUNT, "mostRecent": None}
    latest = call(mocks, "aws:ecr/getImage:getImage", {"repositoryName": "train"})
    assert (latest["imageTag"], latest["imageDigest"]) == ("latest", "sha256:" + sha("train", "latest", n=64))


def test_managed_prefix_list_invoke(mocks):
    name = "com.amazonaws.us-east-1.s3"
    seed = int(sha(name, n=4), 16)
    cidrs = [f"52.{(seed + i) % 256}.{(seed >> 3) % 256}.0/22" for i in range(3)]
    list_id = f"pl-{sha(name)}"
    assert call(mocks, "aws:ec2/getManagedPrefixList:getManagedPrefixList", {"name": name}) == {
        "id": list_id, "name": name, "addressFamily": "IPv4", "maxEntries": 3, "ownerId": "AWS",
        "version": 1, "tags": {}, "arn": f"arn:aws:ec2:us-east-1:aws:prefix-list/{list_id}",
        "entries": [{"cidr": cidr, "description": ""} for cidr in cidrs]}
    assert len(set(cidrs)) == 3
    assert call(mocks, "aws:ec2/getManagedPrefixList:getManagedPrefixList", {})["name"] == "com.amazonaws.prefix-list"


def test_iam_role_invoke(mocks):
    assert call(mocks, "aws:iam/getRole:getRole", {"name": "app"}) == {
        "id": "app", "name": "app", "path": "/", "arn": f"arn:aws:iam::{ACCOUNT}:role/app",
        "uniqueId": f"AROA{sha('app', n=16).upper()}", "assumeRolePolicy": "{}",
        "createDate": "2026-01-01T00:00:00Z", "description": "", "maxSessionDuration": 3600,
        "permissionsBoundary": "", "roleLastUseds": [], "tags": {}}
    linked = call(mocks, "aws:iam/getRole:getRole", {"name": "AWSServiceRoleForAutoScaling"})
    assert linked["arn"] == (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
                             "AWSServiceRoleForAutoScaling")
    assert call(mocks, "aws:iam/getRole:getRole", {})["arn"] == f"arn:aws:iam::{ACCOUNT}:role/role"


def test_ssm_parameters_and_amis(mocks):
    name = "/aws/service/eks/optimized-ami/1.31/amazon-linux-2-gpu/recommended/image_id"
    ami = f"ami-0{sha(name, n=16)}"
    assert call(mocks, "aws:ssm/getParameter:getParameter", {"name": name}) == {
        "id": name, "name": name, "value": ami, "insecureValue": ami, "type": "String", "version": 1,
        "arn": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name[1:]}", "withDecryption": True}
    # "AMI" in any case marks an image id; anything else is a readable mock value
    assert call(mocks, "aws:ssm/getParameter:getParameter", {"name": "/x/AMI"})["value"].startswith("ami-0")
    other = call(mocks, "aws:ssm/getParameter:getParameter", {"name": "/team/db/host/", "withDecryption": False})
    assert (other["value"], other["withDecryption"]) == ("mock-value-of-team-db-host", False)
    assert call(mocks, "aws:ssm/getParameter:getParameter", {})["value"] == "mock-value-of-"

    filters = [{"name": "name", "values": ["gpu-*"]}]
    image = f"ami-0{sha(repr(sorted(str(f) for f in filters)), n=16)}"
    assert call(mocks, "aws:ec2/getAmi:getAmi", {"filters": filters, "mostRecent": True}) == {
        "id": image, "imageId": image, "arn": f"arn:aws:ec2:us-east-1::image/{image}",
        "name": "mock-gpu-ami", "architecture": "x86_64", "rootDeviceName": "/dev/xvda",
        "ownerId": "amazon", "state": "available", "mostRecent": True}
    assert call(mocks, "aws:ec2/getAmi:getAmi", {})["mostRecent"] is False
    assert call(mocks, "aws:ec2/getAmi:getAmi", {})["id"] == f"ami-0{sha('[]', n=16)}"
    assert call(mocks, "aws:ec2/getAmiIds:getAmiIds", {}) == {"id": "us-east-1", "ids": [f"ami-0{sha('ids', n=16)}"]}


def test_policy_document_invoke_is_answered(mocks):
    result = call(mocks, "aws:iam/getPolicyDocument:getPolicyDocument",
                  {"statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}]})
    assert result["minifiedJson"] == ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                                      '"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}')


# ---- resources ---------------------------------------------------------------------

def test_unknown_provider_token_and_other_packages_echo_their_inputs(mocks):
    assert new(mocks, "random:index/randomId:RandomId", "r", {"byteLength": 4}) == (
        f"r-{sha('random:index/randomId:RandomId', 'r')}", {"byteLength": 4})
    assert new(mocks, "pulumi:providers:kubernetes", "k8s", None) == (f"k8s-{sha('pulumi:providers:kubernetes', 'k8s')}", {})


def test_kubernetes_helm_release(mocks):
    inputs = {"name": "ingress", "namespace": "kube-system", "chart": "nginx", "version": "4.1"}
    assert new(mocks, "kubernetes:helm.sh/v3:Release", "rel", inputs) == ("kube-system/ingress", {
        **inputs, "status": {"name": "ingress", "namespace": "kube-system", "chart": "nginx",
                             "version": "4.1", "status": "deployed", "revision": 1}})
    rid, state = new(mocks, "kubernetes:helm.sh/v3:Release", "rel", {})
    assert rid == "default/rel"
    assert state["status"] == {"name": "rel", "namespace": "default", "chart": None, "version": None,
                               "status": "deployed", "revision": 1}


def test_kubernetes_objects_get_a_name_and_uid(mocks):
    token = "kubernetes:core/v1:Namespace"
    assert new(mocks, token, "ns", {"spec": {}}) == (f"ns-{sha('ns')}", {
        "spec": {}, "metadata": {"name": f"ns-{sha('ns')}", "uid": sha(token, "ns", n=32)}})
    rid, state = new(mocks, "kubernetes:core/v1:ServiceAccount", "sa",
                     {"metadata": {"name": "runner", "namespace": "ml", "uid": "given"}})
    assert (rid, state["metadata"]) == ("ml/runner", {"name": "runner", "namespace": "ml", "uid": "given"})


def test_aws_default_resource_name_arn_and_tags(mocks):
    token = "aws:lambda/function:Function"
    rid, state = new(mocks, token, "fn", {"tags": {"team": "ml"}})
    name = f"fn-{sha('fn', n=7)}"
    assert (rid, state) == (name, {"tags": {"team": "ml"}, "tagsAll": {"team": "ml"},
                                   "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function/{name}", "id": name})
    # given name, name prefix; tags that are not a dict get no tagsAll; a given tagsAll stays
    assert new(mocks, token, "fn", {"name": "given"})[0] == "given"
    assert new(mocks, token, "fn", {"namePrefix": "pre-"})[0] == f"pre-{sha('fn', n=7)}"
    assert "tagsAll" not in new(mocks, token, "fn", {"tags": None})[1]
    assert new(mocks, token, "fn", {"tags": {"a": "1"}, "tagsAll": {"b": "2"}})[1]["tagsAll"] == {"b": "2"}
    # the echoed state is a copy: the program's inputs are not changed
    inputs = {"tags": {"a": "1"}}
    new(mocks, token, "fn", inputs)
    assert inputs == {"tags": {"a": "1"}}


def test_s3_bucket(mocks):
    rid, state = new(mocks, "aws:s3/bucket:Bucket", "data", {"bucket": "acme-data"})
    assert (rid, state) == ("acme-data", {
        "bucket": "acme-data", "bucketDomainName": "acme-data.s3.amazonaws.com",
        "bucketRegionalDomainName": "acme-data.s3.us-east-1.amazonaws.com", "region": "us-east-1",
        "arn": "arn:aws:s3:::acme-data", "id": "acme-data"})
    assert new(mocks, "aws:s3/bucket:Bucket", "logs", {"name": "ignored"})[0] == f"logs-{sha('logs', n=7)}"


def test_kms_key_and_alias(mocks):
    key_id = "-".join(sha("k", str(i), n=n) for i, n in enumerate((8, 4, 4, 4, 12)))
    assert new(mocks, "aws:kms/key:Key", "k", {}) == (key_id, {
        "keyId": key_id, "arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}", "id": key_id})
    rid, state = new(mocks, "aws:kms/alias:Alias", "a", {"name": "alias/data", "targetKeyId": key_id})
    assert (rid, state["arn"], state["targetKeyArn"]) == ("alias/data", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/data", key_id)


def test_iam_resources(mocks):
    rid, role = new(mocks, "aws:iam/role:Role", "r", {"name": "trainer", "path": "/ml/"})
    assert (rid, role) == ("trainer", {"name": "trainer", "path": "/ml/", "uniqueId": f"AROA{sha('r', n=16).upper()}",
                                       "arn": f"arn:aws:iam::{ACCOUNT}:role/ml/trainer", "id": "trainer"})
    policy_id, policy = new(mocks, "aws:iam/policy:Policy", "p", {"name": "read"})
    assert policy_id == policy["arn"] == f"arn:aws:iam::{ACCOUNT}:policy/read"
    for token, kind in (("aws:iam/instanceProfile:InstanceProfile", "instance-profile"),
                        ("aws:iam/user:User", "user"), ("aws:iam/group:Group", "group")):
        assert new(mocks, token, "x", {"name": "n"}) [1]["arn"] == f"arn:aws:iam::{ACCOUNT}:{kind}/n"
    rid, inline = new(mocks, "aws:iam/rolePolicy:RolePolicy", "inline", {"role": "trainer", "name": "s3"})
    assert (rid, inline["arn"]) == ("trainer:s3", f"arn:aws:iam:us-east-1:{ACCOUNT}:rolePolicy/s3")
    assert "uniqueId" not in inline
    rid, _ = new(mocks, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "att", {"role": "trainer"})
    assert rid == f"trainer-{sha('att')}"
    rid, other = new(mocks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc", {})
    assert rid == other["id"] == f"oidc-{sha('oidc', n=7)}"


def test_service_linked_roles(mocks):
    arn = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    assert new(mocks, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "asg",
               {"awsServiceName": "autoscaling.amazonaws.com"}) == (arn, {
                   "awsServiceName": "autoscaling.amazonaws.com", "name": "AWSServiceRoleForAutoScaling",
                   "path": "/aws-service-role/autoscaling.amazonaws.com/",
                   "uniqueId": f"AROA{sha('asg', n=16).upper()}", "arn": arn, "id": arn})
    _, spot = new(mocks, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "spot", {"awsServiceName": "spot-fleet.amazonaws.com"})
    assert spot["name"] == "AWSServiceRoleForSpotFleet"
    _, default = new(mocks, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "d", {})
    assert default["arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/service.amazonaws.com/AWSServiceRoleForService"


@pytest.mark.parametrize(("token", "arn"), [
    ("aws:ecr/repository:Repository", "arn:aws:ecr:us-east-1:{a}:repository/n"),
    ("aws:cloudwatch/logGroup:LogGroup", "arn:aws:logs:us-east-1:{a}:log-group:n"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "arn:aws:cloudwatch:us-east-1:{a}:alarm:n"),
    ("aws:cloudwatch/eventRule:EventRule", "arn:aws:events:us-east-1:{a}:rule/n"),
    ("aws:cloudtrail/trail:Trail", "arn:aws:cloudtrail:us-east-1:{a}:trail/n"),
])
def test_named_services_arns(mocks, token, arn):
    rid, state = new(mocks, token, "x", {"name": "n"})
    assert (rid, state["arn"], state["name"], state["id"]) == ("n", arn.format(a=ACCOUNT), "n", "n")


def test_ecr_sns_trail_extra_fields(mocks):
    _, repo = new(mocks, "aws:ecr/repository:Repository", "x", {"name": "train"})
    assert (repo["registryId"], repo["repositoryUrl"]) == (ACCOUNT, f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/train")
    rid, topic = new(mocks, "aws:sns/topic:Topic", "x", {"name": "alerts"})
    assert rid == topic["arn"] == topic["id"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    assert topic["name"] == "alerts"
    assert new(mocks, "aws:cloudtrail/trail:Trail", "x", {"name": "t"})[1]["homeRegion"] == "us-east-1"


def test_launch_template_and_autoscaling_group(mocks):
    lt = f"lt-0{sha('gpu', n=16)}"
    assert new(mocks, "aws:ec2/launchTemplate:LaunchTemplate", "gpu", {"name": "gpu-lt"}) == (lt, {
        "name": "gpu-lt", "latestVersion": 1, "defaultVersion": 1,
        "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:launch-template/{lt}", "id": lt})
    rid, group = new(mocks, "aws:autoscaling/group:Group", "asg", {"name": "pool"})
    assert (rid, group["name"], group["arn"]) == ("pool", "pool", (
        f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:{sha('asg')}:autoScalingGroupName/pool"))


def test_sagemaker_resources_are_named_by_their_own_name_key(mocks):
    rid, state = new(mocks, "aws:sagemaker/model:Model", "m", {"modelName": "Churn-Model", "name": "other"})
    assert (rid, state["modelName"], state["arn"]) == (
        "Churn-Model", "Churn-Model", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/churn-model")
    # an auto-named endpoint config: the kebab-cased kind in the ARN, the name under its own key
    rid, state = new(mocks, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ec", {})
    assert rid == f"ec-{sha('ec', n=7)}"
    assert state["arn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-configuration/{rid}"
    assert state["name"] == rid
    # a key that merely ends in "Name" but is not the kind's name (or starts upper-case) is not it
    rid, state = new(mocks, "aws:sagemaker/domain:Domain", "d", {"domainName": "lab", "roleName": "r", "DomainName": "X"})
    assert (rid, state["domainName"]) == ("lab", "lab")
    _, server = new(mocks, "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "t",
                    {"trackingServerName": "mlflow"})
    assert server["arn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:mlflow-tracking-server/mlflow"
    assert server["trackingServerUrl"] == f"https://t-{sha('t', n=12)}.us-east-1.experiments.sagemaker.aws"
    assert "trackingServerUrl" not in state


def test_eks_cluster_resource_in_update_and_preview():
    name = "ml-cluster"
    vpc = {"subnetIds": ["s1"]}
    rid, state = new(PlatformMocks(strict_invokes=True), "aws:eks/cluster:Cluster", "c", {"name": name, "vpcConfig": vpc})
    assert rid == name
    assert state == {
        "name": name, "vpcConfig": {"subnetIds": ["s1"], "clusterSecurityGroupId": f"sg-0{sha(name, 'sg', n=16)}",
                                    "vpcId": f"vpc-0{sha(name, n=16)}"},
        "version": "1.31",
        "endpoint": f"https://{sha(name, n=32).upper()}.gr7.us-east-1.eks.amazonaws.com",
        "certificateAuthority": {"data": CA}, "status": "ACTIVE", "platformVersion": "eks.1",
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.us-east-1.amazonaws.com/id/{sha(name, n=32).upper()}"}]}],
        "arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/{name}", "id": name}
    assert vpc == {"subnetIds": ["s1"]}
    # preview: what EKS computes on create is unknown (absent); the given version is kept
    _, preview = new(PlatformMocks(strict_invokes=True, preview=True), "aws:eks/cluster:Cluster", "c",
                     {"name": name, "version": "1.30"})
    assert sorted(preview) == ["arn", "id", "name", "version", "vpcConfig"]
    assert preview["version"] == "1.30"


@pytest.mark.parametrize(("kind", "prefix"), [
    ("vpc:Vpc", "vpc"), ("subnet:Subnet", "subnet"), ("securityGroup:SecurityGroup", "sg"),
    ("routeTable:RouteTable", "rtb"), ("internetGateway:InternetGateway", "igw"),
    ("natGateway:NatGateway", "nat"), ("eip:Eip", "eipalloc"), ("vpcEndpoint:VpcEndpoint", "vpce"),
])
def test_network_resources_get_aws_style_ids(mocks, kind, prefix):
    rid, state = new(mocks, f"aws:ec2/{kind}", "net", {})
    assert rid == state["id"] == f"{prefix}-0{sha('net', n=16)}"
    assert state["arn"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:{prefix}/{rid}"
    extra = set(state) - {"id", "arn"}
    if prefix == "eipalloc":
        assert state["allocationId"] == rid
        assert state["publicIp"] == f"203.0.113.{int(sha('net', n=2), 16) % 250}"
        assert extra == {"allocationId", "publicIp"}
    elif prefix == "sg":
        assert state["name"] == f"net-{sha('net', n=7)}"
        assert extra == {"name"}
    else:
        assert extra == set()


def test_security_group_keeps_its_given_name(mocks):
    assert new(mocks, "aws:ec2/securityGroup:SecurityGroup", "x", {"name": "web"})[1]["name"] == "web"


def test_sqs_queue_pod_identity_and_budget(mocks):
    rid, queue = new(mocks, "aws:sqs/queue:Queue", "q", {"name": "jobs"})
    url = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/jobs"
    assert (rid, queue) == (url, {"name": "jobs", "url": url, "arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs", "id": url})
    assert new(mocks, "aws:sqs/queue:Queue", "q", {"namePrefix": "j-"})[1]["name"] == f"j-{sha('q', n=7)}"
    association = f"a-{sha('pia', n=17)}"
    arn = f"arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/ml/{association}"
    assert new(mocks, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "pia", {"clusterName": "ml"}) == (
        association, {"clusterName": "ml", "associationId": association, "associationArn": arn, "arn": arn,
                      "id": association})
    assert new(mocks, "aws:budgets/budget:Budget", "b", {"name": "monthly"}) == (f"{ACCOUNT}:monthly", {
        "name": "monthly", "accountId": ACCOUNT, "arn": f"arn:aws:budgets::{ACCOUNT}:budget/monthly",
        "id": f"{ACCOUNT}:monthly"})


def test_a_given_arn_or_id_input_is_kept(mocks):
    _, state = new(mocks, "aws:lambda/function:Function", "f", {"arn": "arn:given", "id": "given-id"})
    assert (state["arn"], state["id"]) == ("arn:given", "given-id")
