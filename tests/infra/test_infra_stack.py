"""The whole infra program, rendered under strict mocks for dev, staging and prod."""
from __future__ import annotations

import json

import pytest
from infra_helpers import (
    ENVIRONMENTS,
    assert_identity_statement_scoped,
    assert_trust_not_public,
    children_of,
    provider_default_tags,
    statements,
)

from modelway.contracts import PlatformConfig, StackOutputs

COMPONENTS = {
    "modelway:storage:EncryptedStorage", "modelway:identity:AccessRoles",
    "modelway:registries:Registries", "modelway:observability:Observability",
}
CLUSTER_COMPONENTS = {"modelway:network:Network", "modelway:cluster:EksCluster",
                      "modelway:kubernetes:KubernetesTenancy"}
POOL_COMPONENTS = {"modelway:compute:GpuSpotPool", "modelway:addons:ClusterAddons"}
ASG = "aws:autoscaling/group:Group"
BUCKET = "aws:s3/bucket:Bucket"


def config_of(stack) -> PlatformConfig:
    return PlatformConfig.from_pulumi_values(stack.config, stack=stack.stack)


def by_bucket(stack, type_token: str) -> dict[str, dict]:
    """bucket name -> inputs of the per-bucket resource of ``type_token``."""
    return {r.inputs["bucket"]: r.inputs for r in stack.of_type(type_token)}


def test_every_component_renders(stack):
    cfg = config_of(stack)
    types = {r.type for r in stack.resources}
    assert COMPONENTS <= types
    assert (CLUSTER_COMPONENTS <= types) == cfg.cluster.enabled
    assert not (CLUSTER_COMPONENTS & types) or cfg.cluster.enabled
    assert (POOL_COMPONENTS <= types) == cfg.gpu_pool.enabled
    assert ("modelway:audit:AuditTrail" in types) == cfg.audit.cloudtrail
    for component in COMPONENTS | (POOL_COMPONENTS if cfg.gpu_pool.enabled else set()):
        assert children_of(stack, component), f"{component} declared no resources"


def test_exported_outputs_are_exactly_the_contract(stack):
    assert set(stack.outputs) == set(StackOutputs.model_fields)
    outputs = StackOutputs.model_validate(stack.outputs)
    assert outputs.environment == stack.stack
    assert outputs.kms_key_arn.startswith(f"arn:aws:kms:{outputs.region}:{outputs.account_id}:key/")
    groups = {g.inputs["name"] for g in stack.of_type(ASG)}
    assert set(outputs.gpu_node_groups.values()) == groups
    assert (outputs.gpu_pool_asg_name in groups) if groups else outputs.gpu_pool_asg_name is None
    assert set(outputs.model_package_groups) == set(config_of(stack).registries.model_families)
    assert set(outputs.image_repositories) == {"training", "serving"}
    assert outputs.checkpoints_uri == f"s3://{outputs.buckets.artifacts}/checkpoints/"


def test_kms_key_rotates_and_policy_has_no_public_principal(stack):
    (key,) = stack.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    for statement in statements(key.inputs["policy"]):
        principal = statement["Principal"]
        assert principal != "*" and "*" not in json.dumps(principal), statement
        assert "kms:*" not in json.dumps(statement.get("Action")), statement


def test_data_buckets_use_this_stacks_key_and_logs_bucket_uses_sse_s3(stack):
    key_arn = stack.outputs["kms_key_arn"]
    encryption = by_bucket(stack, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    buckets = stack.outputs["buckets"]
    logging_targets = {r.inputs["targetBucket"] for r in stack.of_type("aws:s3/bucketLogging:BucketLogging")}
    assert logging_targets == {buckets["access_logs"]}
    for tier, name in buckets.items():
        (rule,) = encryption[name]["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        if tier == "access_logs":
            # S3 cannot deliver access logs to an SSE-KMS bucket (catalog exception).
            assert default == {"sseAlgorithm": "AES256"}
        else:
            assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
            assert rule["bucketKeyEnabled"] is True


def test_every_bucket_is_private_versioned_logged_and_tiered(stack):
    assert len(stack.of_type(BUCKET)) == len(stack.outputs["buckets"]) == 5
    blocks = by_bucket(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    versioning = by_bucket(stack, "aws:s3/bucketVersioning:BucketVersioning")
    lifecycle = by_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    ownership = by_bucket(stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    logged = {r.inputs["bucket"] for r in stack.of_type("aws:s3/bucketLogging:BucketLogging")}
    for name in stack.outputs["buckets"].values():
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(blocks[name][flag] is True for flag in flags), name
        assert versioning[name]["versioningConfiguration"]["status"] == "Enabled"
        assert ownership[name]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (rule,) = lifecycle[name]["rules"]
        assert rule["status"] == "Enabled"
        assert [t["storageClass"] for t in rule["transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] > 0
        assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] > 0
    assert logged == set(stack.outputs["buckets"].values()) - {stack.outputs["buckets"]["access_logs"]}


def test_bucket_policies_deny_insecure_transport_and_foreign_keys(stack):
    policies = by_bucket(stack, "aws:s3/bucketPolicy:BucketPolicy")
    key_arn = stack.outputs["kms_key_arn"]
    for tier, name in stack.outputs["buckets"].items():
        document = statements(policies[name]["policy"])
        tls = [s for s in document if s["Effect"] == "Deny"
               and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        assert tls and tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*", (tier, document)
        assert any(r.endswith("/*") for r in tls[0]["Resource"])
        for statement in document:
            assert not (statement["Effect"] == "Allow" and statement.get("Principal") == "*"), statement
        if tier != "access_logs":
            conditions = json.dumps([s.get("Condition") for s in document if s["Effect"] == "Deny"])
            assert "s3:x-amz-server-side-encryption" in conditions and key_arn in conditions


def test_gpu_pool_is_spot_above_base_scales_to_zero_one_group_per_shape(stack):
    cfg = config_of(stack)
    groups = {g.inputs["name"]: g.inputs for g in stack.of_type(ASG)}
    if not cfg.gpu_pool.enabled:
        assert groups == {}
        return
    assert len(groups) == len(cfg.gpu_pool.node_groups)
    for node_group in cfg.gpu_pool.node_groups:
        inputs = groups[f"modelway-{stack.stack}-gpu-{node_group.name}"]
        distribution = inputs["mixedInstancesPolicy"]["instancesDistribution"]
        assert distribution["onDemandBaseCapacity"] == 0
        assert distribution["onDemandPercentageAboveBaseCapacity"] == 0
        assert distribution["spotAllocationStrategy"] == "price-capacity-optimized"
        types = [o["instanceType"] for o in inputs["mixedInstancesPolicy"]["launchTemplate"]["overrides"]]
        assert len(set(types)) >= 2 and types == node_group.instance_types
        assert inputs["minSize"] == 0 and inputs["maxSize"] == node_group.max_size
        assert inputs["capacityRebalance"] is True
        tags = {t["key"]: t["value"] for t in inputs["tags"]}
        assert {"owner", "cost-center", "environment"} <= set(tags)
        assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == str(node_group.shape.gpus)


def test_launch_templates_require_imdsv2_hop_1_encrypt_with_cmk_and_have_no_public_ip(stack):
    import base64

    cfg = config_of(stack)
    templates = stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    expected = len(cfg.gpu_pool.node_groups) * cfg.gpu_pool.enabled + (cfg.cluster.mode == "create")
    assert len(templates) == expected
    for template in templates:
        inputs = template.inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        # defect 9: pods (one hop further) cannot reach the node role through IMDS
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        for mapping in inputs["blockDeviceMappings"]:
            assert mapping["ebs"]["encrypted"] == "true"
            assert mapping["ebs"]["kmsKeyId"] == stack.outputs["kms_key_arn"]
        for interface in inputs.get("networkInterfaces", []):
            assert interface["associatePublicIpAddress"] == "false"
        if "userData" in inputs:  # GPU nodes join this stack's cluster, tainted
            assert inputs["imageId"].startswith("ami-")
            user_data = base64.b64decode(inputs["userData"]).decode()
            assert f"name: {stack.outputs['cluster_name']}" in user_data
            assert f"apiServerEndpoint: {stack.outputs['cluster_endpoint']}" in user_data
            assert "register-with-taints=nvidia.com/gpu=true:NoSchedule" in user_data


def test_spot_interruptions_drain_the_pool_and_alert_for_its_nodes_only(stack):
    cfg = config_of(stack)
    rules = {r.name: r for r in stack.of_type("aws:cloudwatch/eventRule:EventRule")}
    if not cfg.gpu_pool.enabled:
        assert rules == {}
        return
    groups = sorted(stack.outputs["gpu_node_groups"].values())
    (lifecycle,) = [r for r in rules.values() if "aws.autoscaling" in r.inputs["eventPattern"]]
    pattern = json.loads(lifecycle.inputs["eventPattern"])
    # defect 14: scoped to the pool's groups, not every instance of the account
    assert pattern["detail"]["AutoScalingGroupName"] == groups
    (ec2,) = [r for r in rules.values() if "aws.ec2" in r.inputs["eventPattern"]]
    assert "EC2 Spot Instance Interruption Warning" in json.loads(ec2.inputs["eventPattern"])["detail-type"]
    (queue,) = stack.of_type("aws:sqs/queue:Queue")
    assert queue.inputs["kmsMasterKeyId"] == stack.outputs["kms_key_arn"]
    targets = stack.of_type("aws:cloudwatch/eventTarget:EventTarget")
    # rule names are auto-named from the logical name (mocks: "<logical>-<suffix>")
    (alert,) = [t for t in targets if t.inputs["arn"] == stack.outputs["alerts_topic_arn"]]
    assert alert.inputs["rule"].startswith(f"{lifecycle.name}-")
    to_queue = [t for t in targets if t.inputs["arn"] != stack.outputs["alerts_topic_arn"]]
    assert sorted(t.inputs["rule"].rsplit("-", 1)[0] for t in to_queue) == sorted([lifecycle.name, ec2.name])
    assert {t.inputs["arn"].split(":")[2] for t in to_queue} == {"sqs"}
    # the handler only drains groups tagged for it, and each group waits for the drain
    for group in stack.of_type(ASG):
        tags = {t["key"]: t["value"] for t in group.inputs["tags"]}
        assert tags["aws-node-termination-handler/managed"] == "true"
        (hook,) = group.inputs["initialLifecycleHooks"]
        assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"


def test_every_iam_statement_is_scoped(stack):
    role_policies = stack.of_type("aws:iam/rolePolicy:RolePolicy")
    assert len(role_policies) >= 6
    for policy in role_policies:
        for statement in statements(policy.inputs["policy"]):
            assert_identity_statement_scoped(statement)
    for attachment in stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert not attachment.inputs["policyArn"].endswith(("/AdministratorAccess", "/PowerUserAccess"))


def test_trust_policies_are_account_scoped_with_mfa_for_people(stack):
    for role in stack.of_type("aws:iam/role:Role"):
        assert_trust_not_public(role.inputs["assumeRolePolicy"])
        (statement,) = statements(role.inputs["assumeRolePolicy"])
        if "AWS" in statement["Principal"]:
            assert statement["Condition"]["Bool"]["aws:MultiFactorAuthPresent"] == "true"
            for principal in statement["Principal"]["AWS"]:
                assert principal.startswith(f"arn:aws:iam::{stack.outputs['account_id']}:")


def test_every_aws_resource_gets_owner_cost_center_environment_tags(stack):
    expected = config_of(stack).default_tags
    aws_resources = [r for r in stack.resources if r.type.startswith("aws:")]
    assert aws_resources
    for resource in aws_resources:
        tags = provider_default_tags(stack, resource)
        assert {k: tags[k] for k in ("owner", "cost-center", "environment")} == {
            k: expected[k] for k in ("owner", "cost-center", "environment")}, resource.name
    assert expected["environment"] == stack.stack


def test_registries_are_immutable_scanned_and_encrypted(stack):
    repositories = stack.of_type("aws:ecr/repository:Repository")
    assert {r.inputs["name"].rsplit("/", 1)[1] for r in repositories} == set(stack.outputs["ecr_repository_urls"])
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"]["scanOnPush"] is True
        (encryption,) = repository.inputs["encryptionConfigurations"]
        assert encryption == {"encryptionType": "KMS", "kmsKey": stack.outputs["kms_key_arn"]}
    assert len(stack.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == len(repositories)
    groups = {g.inputs["modelPackageGroupName"] for g in stack.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")}
    assert groups == {f"modelway-{stack.stack}-{f}" for f in config_of(stack).registries.model_families}
    servers = stack.of_type("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
    assert len(servers) == int(config_of(stack).registries.mlflow_tracking_server)
    assert (stack.outputs["tracking_server_uri"] is not None) == bool(servers)
    for server in servers:
        assert server.inputs["artifactStoreUri"] == f"s3://{stack.outputs['buckets']['artifacts']}/mlflow"


def test_observability_encrypts_retains_alarms_and_budgets(stack):
    cfg = config_of(stack).observability
    key_arn = stack.outputs["kms_key_arn"]
    (topic,) = stack.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key_arn
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups
    for group in groups:
        assert group.inputs["kmsKeyId"] == key_arn
        assert group.inputs["retentionInDays"] == cfg.log_retention_days
    alarms = stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {a.inputs["name"] for a in alarms} == set(stack.outputs["alarm_names"].values())
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [stack.outputs["alerts_topic_arn"]]
    (budget,) = stack.of_type("aws:budgets/budget:Budget")
    thresholds = {(n["threshold"], n["notificationType"]) for n in budget.inputs["notifications"]}
    assert {(80, "ACTUAL"), (100, "ACTUAL")} <= thresholds
    for notification in budget.inputs["notifications"]:
        assert notification["subscriberSnsTopicArns"] == [stack.outputs["alerts_topic_arn"]]


def test_kubernetes_tenancy_quotas_and_rbac(stack):
    cfg = config_of(stack).kubernetes
    namespaces = stack.of_type("kubernetes:core/v1:Namespace")
    if not config_of(stack).cluster.enabled:
        assert namespaces == [] and stack.outputs["kubernetes_namespaces"] is None
        assert not [r for r in stack.resources if r.type.startswith("kubernetes:")]
        return
    assert sorted(n.inputs["metadata"]["name"] for n in namespaces) == sorted(cfg.teams)
    assert stack.outputs["kubernetes_namespaces"] == list(cfg.teams)
    quotas = {q.inputs["metadata"]["namespace"]: q.inputs["spec"]["hard"]
              for q in stack.of_type("kubernetes:core/v1:ResourceQuota")}
    for team in cfg.teams:
        assert quotas[team]["requests.nvidia.com/gpu"] == str(cfg.quota.gpus)
        assert {"requests.cpu", "requests.memory"} <= set(quotas[team])
    limit_ranges = stack.of_type("kubernetes:core/v1:LimitRange")
    assert len(limit_ranges) == len(cfg.teams)
    deny = [p for p in stack.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if p.inputs["metadata"]["name"] == "default-deny"]
    assert len(deny) == len(cfg.teams)
    for policy in deny:
        assert policy.inputs["spec"]["podSelector"] == {} and "ingress" not in policy.inputs["spec"]
        assert sorted(policy.inputs["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    roles = stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert len(roles) == 4 * len(cfg.teams)
    for role in roles:
        for rule in role.inputs["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule[field], (role.name, rule)
            assert not {"bind", "escalate", "impersonate"} & set(rule["verbs"])
            assert "secrets" not in rule["resources"]
    for binding in stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"):
        assert binding.inputs["roleRef"]["name"] != "cluster-admin"
    (priority,) = stack.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
    assert priority.inputs["preemptionPolicy"] == "Never"
    assert stack.outputs["spot_priority_class"] == priority.inputs["metadata"]["name"]


@pytest.mark.parametrize("env, retained", [("dev", False), ("staging", True), ("prod", True)])
def test_data_and_key_are_retained_where_configured(rendered, env, retained):
    stack = rendered(env)
    kept = stack.of_type(BUCKET) + stack.of_type("aws:kms/key:Key")
    assert len(kept) == 6
    for resource in kept:
        assert resource.retain_on_delete is retained and resource.protect is retained, resource.name
    for bucket in stack.of_type(BUCKET):
        assert bucket.inputs["forceDestroy"] is (not retained)


def test_environments_differ_where_they_should(rendered):
    dev, prod = config_of(rendered("dev")), config_of(rendered("prod"))
    assert prod.observability.log_retention_days >= 365 > dev.observability.log_retention_days
    assert rendered("prod").outputs["model_approval_status"] == "PendingManualApproval"
    assert rendered("dev").outputs["model_approval_status"] == "Approved"
    assert rendered("staging").outputs["model_approval_status"] == "Approved"
    prod_pool = sum(g.inputs["maxSize"] for g in rendered("prod").of_type(ASG))
    staging_pool = sum(g.inputs["maxSize"] for g in rendered("staging").of_type(ASG))
    assert prod_pool > staging_pool > 0 and rendered("dev").of_type(ASG) == []
    # one stack of each setup: dev without a cluster, staging on an existing VPC and cluster, prod creating both
    assert [config_of(rendered(env)).cluster.mode for env in ENVIRONMENTS] == ["none", "existing", "create"]


def test_registry_approval_status_agrees_with_the_ml_promotion_rules(rendered):
    # The SageMaker model package groups and the embedded registry must tell the same story:
    # an environment whose versions auto-approve (every gate passed) registers them Approved;
    # one that needs a human (prod) registers them PendingManualApproval.
    from modelway.registry.promotion import PromotionRules

    rules = PromotionRules()
    for env in ENVIRONMENTS:
        expected = "Approved" if rules.for_env(env).auto_approve else "PendingManualApproval"
        assert rendered(env).outputs["model_approval_status"] == expected, env
