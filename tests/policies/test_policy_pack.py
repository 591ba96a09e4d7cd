"""The pack as the Pulumi CLI sees it: __main__, catalogue coverage, metadata, configs, the gRPC analyzer."""
from __future__ import annotations

import importlib
import json
import re
import runpy
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _NotApplicableError, _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from policies.catalog import ALL_POLICIES, PACK_NAME, by_name
from policies.harness import resource_args, stack_args
from policies.levels import DEFAULT_LEVELS

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"

# The catalogue (../shared/POLICY_CATALOG.md), in its order; "(stack)" rows are stack policies.
CATALOGUE = [
    "s3-encryption-cmk", "s3-public-access-blocked", "s3-no-public-acl", "s3-tls-only", "s3-versioning",
    "s3-access-logging", "s3-lifecycle-tiering", "kms-key-rotation", "kms-no-public-principal",
    "iam-no-admin-wildcard", "iam-no-service-wildcard-on-all", "iam-no-admin-managed-policy",
    "iam-trust-not-public", "iam-passrole-scoped",
    "ec2-imdsv2-required", "ec2-imds-hop-limit", "ec2-ebs-encrypted", "ec2-no-public-ip",
    "ec2-no-secrets-in-user-data", "gpu-pool-spot", "gpu-pool-scale-to-zero", "gpu-pool-homogeneous",
    "eks-secrets-encryption",
    "eks-no-open-public-endpoint", "eks-control-plane-logging",
    "ecr-immutable-tags", "ecr-scan-on-push", "ecr-kms", "ecr-no-public-policy", "sagemaker-endpoint-kms",
    "sagemaker-model-network-isolation", "sagemaker-notebook-hardened", "sagemaker-endpoint-safe-rollout",
    "sagemaker-endpoint-data-capture",
    "logs-retention", "logs-kms", "sns-kms",
    "k8s-rbac-no-wildcards", "k8s-no-cluster-admin-binding", "k8s-rbac-no-escalation-verbs", "k8s-no-privileged",
    "k8s-run-as-non-root", "k8s-resource-limits", "k8s-no-latest-tag", "k8s-no-host-path", "k8s-gpu-quota",
    "k8s-namespace-quota",
    "required-tags", "budget-exists",
    "model-registry-per-model", "pipeline-has-quality-gate", "prod-requires-manual-approval",
]
# Beyond the catalogue: lessons from what a real `pulumi up` needs (README "Operability rules").
OPERABILITY = [
    "kms-key-policy-principals-exist", "s3-lifecycle-transitions-valid", "k8s-provider-explicit-kubeconfig",
    "eks-pods-no-node-role", "k8s-namespace-egress-data-plane", "gpu-pool-cluster-addons",
    "pipeline-steps-use-stack-role-and-kms",  # issue 11: pipelines deployed from modelway:pipelines
]
PACK = CATALOGUE + OPERABILITY
CATALOGUE_STACK = {"k8s-gpu-quota", "k8s-namespace-quota", "budget-exists", "model-registry-per-model",
                   "pipeline-has-quality-gate", "prod-requires-manual-approval",
                   "kms-key-policy-principals-exist", "k8s-provider-explicit-kubeconfig",
                   "k8s-namespace-egress-data-plane", "gpu-pool-cluster-addons",
                   "pipeline-steps-use-stack-role-and-kms"}
# Rules that need a view across resources (a bucket and its separate settings resources; an ASG and
# its launch template) are stack policies too.
CROSS_RESOURCE = {"s3-encryption-cmk", "s3-public-access-blocked", "s3-tls-only", "s3-versioning", "s3-access-logging",
                  "s3-lifecycle-tiering", "gpu-pool-spot", "gpu-pool-scale-to-zero", "gpu-pool-homogeneous"}


def test_main_imports_without_serving_and_lists_exactly_the_catalogue(monkeypatch):
    constructed = []
    monkeypatch.setattr("pulumi_policy.PolicyPack", lambda *a, **kw: constructed.append(kw))
    module = importlib.import_module("policies.__main__")
    assert [p.name for p in module.POLICIES] == PACK
    runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="imported")
    assert constructed == []  # importing never starts the gRPC server


def test_main_as_program_builds_one_pack_with_every_policy(monkeypatch):
    constructed, paths = [], []
    monkeypatch.setattr("pulumi_policy.PolicyPack",
                        lambda *a, **kw: (constructed.append(kw), paths.append(list(sys.path))))
    monkeypatch.setattr("sys.path", list(sys.path))
    # Exactly how `python -m pulumi.policy ENGINE policies/` runs the pack.
    runpy.run_path(str(PACK_DIR), run_name="__main__")
    # runpy put policies/ first on sys.path; the pack took it out (kubernetes.py must not shadow a package)
    assert str(PACK_DIR) not in paths[0] and str(REPO) in paths[0]
    assert len(constructed) == 1
    assert constructed[0]["name"] == PACK_NAME
    assert [p.name for p in constructed[0]["policies"]] == PACK


def test_catalogue_file_agrees_when_present():
    catalogue = REPO.parent / "shared" / "POLICY_CATALOG.md"
    if not catalogue.is_file():
        pytest.skip("shared/POLICY_CATALOG.md is not beside this checkout")
    names = re.findall(r"^\| ([a-z0-9]+(?:-[a-z0-9]+)+)(?: \(stack\))? \|", catalogue.read_text(), re.M)
    assert names == CATALOGUE


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_every_policy_has_its_metadata(policy):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
    assert policy.description and policy.remediation_steps and policy.mirrors and policy.severity
    assert policy.enforcement_level is DEFAULT_LEVELS[policy.name]
    assert policy.concern in {"storage", "identity", "compute", "registries", "observability", "kubernetes",
                              "tagging", "ml_governance"}
    assert (policy.kind == "stack") == (policy.name in CATALOGUE_STACK | CROSS_RESOURCE)


def test_pack_files_for_the_real_cli():
    spec = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python" and spec["description"]
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_env_configs_cover_every_policy_and_never_disable(env):
    from modelway.policy_check.config import PackSettings

    path = PACK_DIR / f"config.{env}.json"
    config = json.loads(path.read_text())
    assert list(config) == PACK  # explicit about every rule: nothing left out silently
    settings = PackSettings.load(path)  # validates levels and parameters against each config schema
    for name, level in settings.levels.items():
        default = DEFAULT_LEVELS[name].value
        if env == "prod":
            assert level == default, name
        else:  # only mandatory -> advisory downgrades outside prod, never "disabled"
            assert level == default or (default == "mandatory" and level == "advisory"), name
    assert settings.config_for("logs-retention")["minRetentionDays"] == {"dev": 7, "staging": 30, "prod": 365}[env]


def test_validate_reports_violations_through_the_crossguard_callback():
    reported = []
    args = resource_args("aws:kms/key:Key", {"enableKeyRotation": False})
    by_name("kms-key-rotation").validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("enableKeyRotation is not true", None)]


def test_unknown_values_during_preview_are_not_applicable_not_a_crash():
    unknown_bool = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    props = unknown_checking_proxy({"enableKeyRotation": unknown_bool})
    args = resource_args("aws:kms/key:Key", {})
    args.props = props  # exactly what the analyzer passes during `pulumi preview`
    policy = by_name("kms-key-rotation")
    assert [n.message for n in policy.evaluate(args).notes] == ["enableKeyRotation is not known yet"]
    with pytest.raises(_NotApplicableError) as raised:
        policy.validate(args, lambda *a: pytest.fail("no violation expected"))
    assert raised.value.reason == "enableKeyRotation is not known yet"
    stack = stack_args([])
    by_name("budget-exists").validate(stack, lambda message, urn=None: None)  # no crash on an empty stack


def _analyzer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", list(ALL_POLICIES), EnforcementLevel.ADVISORY)


def test_grpc_analyzer_describes_the_pack():
    info = _analyzer().GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == PACK
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels["kms-key-rotation"] == proto.MANDATORY and levels["s3-access-logging"] == proto.ADVISORY
    schema = {p.name: p.configSchema for p in info.policies}["required-tags"]
    assert "requiredTags" in schema.properties


def test_grpc_analyzer_applies_pack_config_and_reports_diagnostics():
    analyzer = _analyzer()
    config = json.loads((PACK_DIR / "config.dev.json").read_text())
    request = proto.ConfigureAnalyzerRequest()
    for name, entry in config.items():
        policy_config = request.policyConfig[name]
        policy_config.enforcementLevel = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY}[
            entry["enforcementLevel"]]
        policy_config.properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    analyzer.Configure(request, None)
    properties = struct_pb2.Struct()
    properties.update({"tags": {"owner": "x"}, "enableKeyRotation": False})
    response = analyzer.Analyze(proto.AnalyzeRequest(type="aws:kms/key:Key", properties=properties,
                                                     urn="urn:pulumi:dev::p::aws:kms/key:Key::k", name="k"), None)
    found = {(d.policyName, d.enforcementLevel) for d in response.diagnostics}
    assert ("kms-key-rotation", proto.MANDATORY) in found
    assert ("required-tags", proto.ADVISORY) in found  # downgraded by config.dev.json


def test_pack_serves_the_pulumi_cli_protocol_over_grpc():
    """Start the pack exactly as the CLI does (`python -m pulumi.policy ENGINE policies`) and talk gRPC to it."""
    import subprocess

    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    env = {**__import__("os").environ, "PULUMI_STACK": "prod", "PULUMI_PROJECT": "modelway"}
    pack = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK_DIR)],
                            cwd=PACK_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == PACK_NAME and [p.name for p in info.policies] == PACK
            properties = struct_pb2.Struct()
            properties.update({"enableKeyRotation": False, "tags": {"owner": "x"}})
            response = stub.Analyze(proto.AnalyzeRequest(
                type="aws:kms/key:Key", properties=properties, name="k",
                urn="urn:pulumi:prod::modelway::aws:kms/key:Key::k"), timeout=30)
            found = {d.policyName: d for d in response.diagnostics}
            assert found["kms-key-rotation"].enforcementLevel == proto.MANDATORY
            assert "enableKeyRotation is not true" in found["kms-key-rotation"].message
            stack = stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=[]), timeout=30)
            assert "budget-exists" in {d.policyName for d in stack.diagnostics}
    finally:
        pack.terminate()
        pack.wait(timeout=10)
