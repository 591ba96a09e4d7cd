"""What a real `pulumi up` taught, as invariants of the rendered program (one test per defect of issue 12).

Mocks cannot tell whether AWS accepts a key policy or whether a GPU pod ever schedules; these
tests pin the properties that decide it, over the program each stack file renders.
"""
from __future__ import annotations

import base64
import json

import pytest
from infra_helpers import ENVIRONMENTS, as_list, render_stack, statements

from infra.compute import ami_parameter
from modelway.contracts import PlatformConfig
from modelway.contracts.gpu_shapes import shape_of
from modelway.contracts.platform_metrics import ALARMS, SAGEMAKER_NAMESPACE
from modelway.rendering.mocks import PlatformMocks

KEY = "aws:kms/key:Key"
RELEASE = "kubernetes:helm.sh/v3:Release"
ASG = "aws:autoscaling/group:Group"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SLR = "aws:iam/serviceLinkedRole:ServiceLinkedRole"


def config_of(stack) -> PlatformConfig:
    return PlatformConfig.from_pulumi_values(stack.config, stack=stack.stack)


def one(stack, type_token: str):
    (resource,) = stack.of_type(type_token)
    return resource


def releases(stack) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in stack.of_type(RELEASE)}


# 1 ---------------------------------------------------------------------------------------------
def test_key_policy_names_only_principals_that_exist_before_the_key(stack):
    """KMS rejects a key policy naming a principal that does not exist (the Auto Scaling SLR on a fresh account)."""
    key = one(stack, KEY)
    principals = [p for s in statements(key.inputs["policy"]) if isinstance(s["Principal"], dict)
                  for p in as_list(s["Principal"].get("AWS"))]
    account_root = f"arn:aws:iam::{stack.outputs['account_id']}:root"
    service_roles = [p for p in principals if p != account_root]
    declared = {r.urn: r for r in stack.of_type(SLR)}
    cfg = config_of(stack)
    if not cfg.gpu_pool.enabled:
        assert service_roles == [] and declared == {}
        return
    assert set(service_roles) == {"arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"
                                  "AWSServiceRoleForAutoScaling"}
    if cfg.gpu_pool.autoscaling_service_role == "create":
        (slr_urn,) = declared
        assert slr_urn in key.dependencies, "the key must wait for the service-linked role"
        assert declared[slr_urn].retain_on_delete  # account-wide: outlives the stack
    else:
        assert declared == {}  # looked up (aws:iam/getRole), never created twice


# 2 ---------------------------------------------------------------------------------------------
def test_kubernetes_provider_uses_a_kubeconfig_built_from_the_cluster_never_the_ambient_one(stack):
    cfg = config_of(stack)
    providers = [r for r in stack.resources if r.type == "pulumi:providers:kubernetes"]
    k8s_resources = [r for r in stack.resources if r.type.startswith("kubernetes:")]
    if not cfg.cluster.enabled:
        assert providers == [] and k8s_resources == []
        return
    (provider,) = providers
    assert {r.provider for r in k8s_resources} == {provider.urn}
    assert "context" not in provider.inputs
    raw = provider.inputs["kubeconfig"]
    kubeconfig = json.loads(raw["value"] if isinstance(raw, dict) else raw)  # a secret on the wire
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == stack.outputs["cluster_endpoint"]
    (user,) = kubeconfig["users"]
    assert user["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", stack.outputs["cluster_name"],
                                            "--region", stack.outputs["region"]]
    if cfg.cluster.mode == "create":
        eks = one(stack, "aws:eks/cluster:Cluster")
        assert eks.inputs["accessConfig"]["authenticationMode"] == "API"
        assert eks.inputs["encryptionConfig"]["provider"]["keyArn"] == stack.outputs["kms_key_arn"]
        assert set(eks.inputs["enabledClusterLogTypes"]) >= {"api", "audit", "authenticator"}
        assert eks.inputs["vpcConfig"]["publicAccessCidrs"] == list(cfg.cluster.public_access_cidrs)
        nodes = one(stack, "aws:eks/nodeGroup:NodeGroup")
        assert nodes.urn in provider.dependencies  # Helm releases wait for nodes to run on
        addon = one(stack, "aws:eks/addon:Addon")
        assert addon.inputs["addonName"] == "eks-pod-identity-agent"
        assert len(stack.of_type("aws:ec2/vpc:Vpc")) == 1
        subnets = [s for s in stack.of_type("aws:ec2/subnet:Subnet") if "private" in s.name]
        assert len(subnets) == cfg.network.availability_zones
        assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in stack.of_type("aws:ec2/subnet:Subnet"))
        endpoints = {e.inputs["serviceName"].rsplit(".", 1)[-1] for e in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
        assert {"s3", "sts", "api", "dkr", "runtime", "monitoring", "logs", "eks-auth", "experiments"} <= endpoints
    else:
        # an existing cluster and VPC: nothing of them is created, only looked up
        assert stack.of_type("aws:eks/cluster:Cluster") == [] and stack.of_type("aws:ec2/vpc:Vpc") == []
        assert stack.outputs["cluster_name"] == cfg.cluster.name


# 3 ---------------------------------------------------------------------------------------------
def test_lifecycle_keeps_objects_30_days_in_standard_ia_before_glacier(stack):
    for lifecycle in stack.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        for rule in lifecycle.inputs["rules"]:
            days = {t["storageClass"]: t["days"] for t in rule["transitions"]}
            assert days["STANDARD_IA"] >= 30
            assert days["GLACIER_IR"] >= days["STANDARD_IA"] + 30, rule


# 4 ---------------------------------------------------------------------------------------------
FIXED_NAME_INPUTS = {
    "aws:iam/role:Role": "name", "aws:iam/instanceProfile:InstanceProfile": "name", ASG: "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name", "aws:budgets/budget:Budget": "name",
    "aws:ecr/repository:Repository": "name", "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "modelPackageGroupName",
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": "trackingServerName",
    "aws:eks/cluster:Cluster": "name", "aws:cloudtrail/trail:Trail": "name", "aws:kms/alias:Alias": "name",
}


def test_fixed_physical_names_are_replaced_delete_first(stack):
    """A replacement with the same name would collide with the resource it replaces."""
    checked = 0
    for resource in stack.resources:
        key = FIXED_NAME_INPUTS.get(resource.type)
        if key and resource.inputs.get(key):
            checked += 1
            assert resource.delete_before_replace, f"{resource.type} {resource.name} has a fixed name"
    assert checked >= 15
    # the rest are auto-named (name_prefix or Pulumi's random suffix)
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert "name" not in template.inputs and template.inputs["namePrefix"]


# 5, 6, 7 ---------------------------------------------------------------------------------------
def test_a_gpu_pool_comes_with_an_autoscaler_and_the_device_plugin(stack):
    cfg = config_of(stack)
    found = releases(stack)
    if not cfg.gpu_pool.enabled:
        assert found == {}
        return
    addons = cfg.cluster.addons
    autoscaler = found["cluster-autoscaler"]
    assert autoscaler["version"] == addons.cluster_autoscaler
    assert autoscaler["values"]["autoDiscovery"]["clusterName"] == stack.outputs["cluster_name"]
    plugin = found["nvidia-device-plugin"]
    assert plugin["version"] == addons.nvidia_device_plugin
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in \
        plugin["values"]["tolerations"]
    assert plugin["values"]["nodeSelector"] == stack.outputs["gpu_node_selector"]
    # every GPU node registers with the label the plugin selects and the taint it tolerates
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        if "userData" in template.inputs:
            user_data = base64.b64decode(template.inputs["userData"]).decode()
            assert "modelway.io/pool=gpu-spot" in user_data and "nvidia.com/gpu=true:NoSchedule" in user_data
    # the autoscaler acts through its own role (Pod Identity), scoped in the IAM table test
    identities = {(a.inputs["namespace"], a.inputs["serviceAccount"])
                  for a in stack.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")}
    assert {("kube-system", "cluster-autoscaler"), ("kube-system", "aws-node-termination-handler")} <= identities


def test_every_gpu_node_group_has_one_shape_and_says_so_to_the_autoscaler(stack):
    for group in stack.of_type(ASG):
        types = [o["instanceType"] for o in group.inputs["mixedInstancesPolicy"]["launchTemplate"]["overrides"]]
        shapes = {shape_of(t) for t in types}
        assert len(shapes) == 1 and None not in shapes, (group.inputs["name"], types)
        tags = {t["key"]: t["value"] for t in group.inputs["tags"]}
        assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == str(shapes.pop().gpus)


def test_prod_separates_1_gpu_and_4_gpu_types(rendered):
    gpus = {group.inputs["name"]: {shape_of(o["instanceType"]).gpus for o in
                                   group.inputs["mixedInstancesPolicy"]["launchTemplate"]["overrides"]}
            for group in rendered("prod").of_type(ASG)}
    assert gpus == {"modelway-prod-gpu-1gpu": {1}, "modelway-prod-gpu-4gpu": {4}}


# 8 ---------------------------------------------------------------------------------------------
def test_team_namespaces_reach_the_data_plane_and_nothing_else(stack):
    cfg = config_of(stack)
    if not cfg.cluster.enabled:
        return
    policies = [p for p in stack.of_type(NETPOL) if p.inputs["metadata"]["name"] == "allow-data-plane"]
    assert sorted(p.inputs["metadata"]["namespace"] for p in policies) == sorted(cfg.kubernetes.teams)
    vpc_cidr = "10.40.0.0/16" if cfg.network.cidr_block and not cfg.network.existing else "10.20.0.0/16"
    for policy in policies:
        rules = policy.inputs["spec"]["egress"]
        by_port = {}
        for rule in rules:
            for port in rule["ports"]:
                by_port.setdefault(port["port"], []).extend(rule["to"])
        assert set(by_port) == {53, 443, 80}
        https = {peer["ipBlock"]["cidr"] for peer in by_port[443]}
        assert vpc_cidr in https and len(https) >= 2  # the VPC (interface endpoints) and S3's ranges
        assert "0.0.0.0/0" not in https
        assert [peer["ipBlock"]["cidr"] for peer in by_port[80]] == ["169.254.170.23/32"]  # Pod Identity agent


# 9 ---------------------------------------------------------------------------------------------
def test_each_team_has_its_own_workload_identity(stack):
    cfg = config_of(stack)
    associations = {a.inputs["namespace"]: a.inputs
                    for a in stack.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                    if a.inputs["namespace"] != "kube-system"}
    if not cfg.cluster.enabled:
        assert associations == {} and stack.outputs["workload_role_arns"] == {}
        return
    assert set(associations) == set(cfg.kubernetes.teams) == set(stack.outputs["workload_role_arns"])
    for team, association in associations.items():
        assert association["serviceAccount"] == stack.outputs["workload_service_account"]
        assert association["roleArn"] == stack.outputs["workload_role_arns"][team]
    roles = {r.inputs["name"]: r for r in stack.of_type("aws:iam/role:Role")}
    for arn in stack.outputs["workload_role_arns"].values():
        (trust,) = statements(roles[arn.rsplit("/", 1)[1]].inputs["assumeRolePolicy"])
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]


# 10 --------------------------------------------------------------------------------------------
def test_mlflow_clients_get_the_arn_a_version_and_access(stack):
    cfg = config_of(stack)
    servers = stack.of_type("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
    if not cfg.registries.mlflow_tracking_server:
        assert servers == [] and stack.outputs["tracking_server_arn"] is None
        return
    (server,) = servers
    assert server.inputs["mlflowVersion"] == cfg.registries.mlflow_version
    assert stack.outputs["tracking_server_arn"].endswith(f":mlflow-tracking-server/{server.inputs['trackingServerName']}")


# 12 --------------------------------------------------------------------------------------------
def test_alarms_watch_metrics_that_are_published(stack):
    cfg = config_of(stack)
    alarms = {a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    families = cfg.registries.model_families
    assert len(alarms) == sum(len(families) if spec.per_model else 1 for spec in ALARMS)
    for key, name in stack.outputs["alarm_names"].items():
        alarm = alarms[name]
        role, _, model = key.partition("/")
        if role == "endpoint-errors":
            # SageMaker publishes it; the endpoint is named as the stack says
            assert (alarm["namespace"], alarm["metricName"]) == (SAGEMAKER_NAMESPACE, "Invocation5XXErrors")
            assert alarm["dimensions"] == {"EndpointName": stack.outputs["endpoint_names"][model],
                                           "VariantName": "AllTraffic"}
        else:
            assert alarm["namespace"] == stack.outputs["metrics_namespace"]
            expected = {"Environment": stack.stack, **({"Model": model} if model else {})}
            assert alarm["dimensions"] == expected


# 13 --------------------------------------------------------------------------------------------
def test_budget_filters_on_an_activated_cost_allocation_tag(rendered):
    prod = rendered("prod")
    (budget,) = prod.of_type("aws:budgets/budget:Budget")
    (tag_filter,) = budget.inputs["costFilters"]
    assert tag_filter["values"] == ["user:environment$prod"]
    (tag,) = prod.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert (tag.inputs["tagKey"], tag.inputs["status"]) == ("environment", "Active")
    assert tag.retain_on_delete  # account-wide: other stacks' budgets rely on it


def test_kms_data_use_in_identity_policies_goes_through_a_service(stack):
    data_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:ReEncrypt*"}
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in statements(policy.inputs["policy"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if data_actions & set(actions):
                assert "kms:ViaService" in statement.get("Condition", {}).get("StringEquals", {}), (policy.name, statement)
            if "kms:CreateGrant" in actions:
                assert statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"] == "true"


# 14 --------------------------------------------------------------------------------------------
def test_spot_interruptions_drain_nodes_through_the_termination_handler(stack):
    if not config_of(stack).gpu_pool.enabled:
        return
    handler = releases(stack)["node-termination-handler"]
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    values = handler["values"]
    assert values["enableSqsTerminationDraining"] is True and values["checkASGTagBeforeDraining"] is True
    # the queue the event rules fill (auto-named "<logical>-<suffix>")
    assert values["queueURL"].startswith(f"https://sqs.{stack.outputs['region']}.amazonaws.com/")
    assert values["queueURL"].rsplit("/", 1)[1].startswith(f"{queue.name}-")
    assert stack.outputs["checkpoints_uri"].startswith("s3://")


# 15 --------------------------------------------------------------------------------------------
def test_gpu_ami_follows_the_cluster_version(rendered):
    base = rendered("prod")
    cluster = json.loads(base.config["modelway:cluster"])
    older = render_stack("prod", **{"modelway:cluster": json.dumps({**cluster, "version": "1.30"})})
    mocks = PlatformMocks(strict_invokes=True)
    for stack, version in ((base, "1.31"), (older, "1.30")):
        images = {t.inputs["imageId"] for t in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")
                  if "userData" in t.inputs}
        # the mocks answer an SSM parameter with an AMI id derived from the parameter's name
        assert images == {mocks._ami_id(ami_parameter(version))}
        assert one(stack, "aws:eks/cluster:Cluster").inputs["version"] == version


# 16 --------------------------------------------------------------------------------------------
def test_prod_model_versions_are_locked_and_the_auditor_has_a_trail(rendered):
    prod = rendered("prod")
    models = prod.outputs["buckets"]["models"]
    (lock,) = prod.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["bucket"] == models
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}
    policy = {p.inputs["bucket"]: p.inputs["policy"] for p in prod.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    (deny,) = [s for s in statements(policy[models]) if s["Sid"] == "DenyDeletingModelVersions"]
    assert "s3:DeleteObjectVersion" in deny["Action"] and deny["Principal"] == "*"
    trail = one(prod, "aws:cloudtrail/trail:Trail")
    assert trail.inputs["enableLogFileValidation"] is True and trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["kmsKeyId"] == prod.outputs["kms_key_arn"]
    assert trail.inputs["s3BucketName"] == prod.outputs["buckets"]["access_logs"]
    trail_arn = prod.outputs["audit_trail_arn"]
    logs_policy = statements(policy[prod.outputs["buckets"]["access_logs"]])
    writes = [s for s in logs_policy if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}]
    assert writes and all(s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn for s in writes)
    key_policy = statements(one(prod, KEY).inputs["policy"])
    (trail_key,) = [s for s in key_policy if s["Sid"] == "CloudTrailEncryptsLogs"]
    assert trail_key["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    # dev destroys its buckets with the stack: nothing locked there
    assert rendered("dev").of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stack_outputs_validate_against_the_contract(rendered, env):
    from modelway.contracts import StackOutputs

    outputs = StackOutputs.model_validate(rendered(env).outputs)
    assert (outputs.cluster_name is not None) == config_of(rendered(env)).cluster.enabled


# mocks echo any input ------------------------------------------------------------------------
# Maps whose keys are data (tags, labels, Helm values, metric dimensions), not provider properties.
_FREE_FORM = {"tags", "tagsAll", "dimensions", "values", "labels", "matchLabels", "hard", "data", "defaultTags"}


def _snake_keys(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            if "_" in key:
                yield (*path, key)
            if key not in _FREE_FORM:
                yield from _snake_keys(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _snake_keys(item, path)


def test_every_nested_input_key_is_a_provider_property(stack):
    """The SDK turns known snake_case keys of nested blocks into the schema's camelCase; a misspelt key stays
    as typed and the mocks would echo it: `pulumi up` would reject or silently drop it."""
    wrong = [(r.type, r.name, ".".join(path)) for r in stack.resources if r.custom
             for path in _snake_keys(r.inputs)]
    assert wrong == []


def test_an_existing_cluster_without_access_entries_is_refused_with_one_line():
    """A CONFIG_MAP-only cluster would reject the access entries halfway through `pulumi up`; the program
    checks the looked-up cluster's mode first (``EksCluster._look_up``). Tested on the function: an error
    raised in an apply outlives its render in this process and would leak into the next one."""
    from infra.cluster import require_access_entries
    from modelway.errors import ConfigError

    assert require_access_entries("c1", [{"authenticationMode": "API_AND_CONFIG_MAP"}]) == "API_AND_CONFIG_MAP"
    for configs in ([{"authenticationMode": "CONFIG_MAP"}], []):
        with pytest.raises(ConfigError) as excinfo:
            require_access_entries("c1", configs)
        assert str(excinfo.value).startswith("modelway:cluster.name: the existing cluster c1 uses authentication "
                                             "mode CONFIG_MAP; access entries need API or API_AND_CONFIG_MAP")
