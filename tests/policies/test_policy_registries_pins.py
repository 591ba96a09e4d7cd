"""Pins on the registry and SageMaker rules (policies/registries.py) that mutation testing found loose.

Each rule is run on both sides of its decision (passes, violates, cannot tell yet) and the
exact messages are compared: what a user reads in ``pulumi preview`` and ``modelway policy check``.
See ``make mutate``.
"""
from __future__ import annotations

import json

import pytest
from policy_helpers import evaluate

from policies.catalog import by_name

REPO = "aws:ecr/repository:Repository"
REPO_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
MODEL = "aws:sagemaker/model:Model"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "string not known yet"
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"


def outcome(policy: str, resource_type: str, props: dict) -> tuple[list[str], list[str]]:
    """The violations' and notes' messages, in the order the rule reported them."""
    result = evaluate(policy, resource_type, props)
    return [v.message for v in result.violations], [n.message for n in result.notes]


@pytest.mark.parametrize("policy, types", [
    ("ecr-immutable-tags", [REPO]), ("ecr-scan-on-push", [REPO]), ("ecr-kms", [REPO]),
    ("ecr-no-public-policy", [REPO_POLICY, REGISTRY_POLICY]), ("sagemaker-endpoint-kms", [ENDPOINT_CONFIG]),
    ("sagemaker-model-network-isolation", [MODEL]), ("sagemaker-notebook-hardened", [NOTEBOOK]),
    ("sagemaker-endpoint-safe-rollout", [ENDPOINT]), ("sagemaker-endpoint-data-capture", [ENDPOINT_CONFIG]),
])
def test_each_rule_looks_at_its_resource_types_only(policy, types):
    rule = by_name(policy)
    assert [t for t in (REPO, REPO_POLICY, REGISTRY_POLICY, ENDPOINT_CONFIG, ENDPOINT, MODEL, NOTEBOOK)
            if rule.applies_to(t)] == types


# --- ECR ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("props, expected", [
    ({"imageTagMutability": "IMMUTABLE"}, ([], [])),
    ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}, ([], [])),
    ({"imageTagMutability": "MUTABLE"},
     (["imageTagMutability is MUTABLE; set IMMUTABLE so tags cannot be overwritten"], [])),
    ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION"},
     (["imageTagMutability is MUTABLE_WITH_EXCLUSION; set IMMUTABLE so tags cannot be overwritten"], [])),
    ({}, (["imageTagMutability is MUTABLE (default); set IMMUTABLE so tags cannot be overwritten"], [])),
    ({"imageTagMutability": UNKNOWN_STRING}, ([], ["imageTagMutability is not known yet"])),
])
def test_ecr_immutable_tags(props, expected):
    assert outcome("ecr-immutable-tags", REPO, props) == expected


@pytest.mark.parametrize("scanning, expected", [
    ({"scanOnPush": True}, ([], [])),
    ({"scanOnPush": "true"}, ([], [])),
    ({"scanOnPush": False}, (["images are not scanned on push; set imageScanningConfiguration.scanOnPush=true"], [])),
    ({}, (["images are not scanned on push; set imageScanningConfiguration.scanOnPush=true"], [])),
    (None, (["images are not scanned on push; set imageScanningConfiguration.scanOnPush=true"], [])),
    ({"scanOnPush": UNKNOWN_BOOL}, ([], ["imageScanningConfiguration.scanOnPush is not known yet"])),
    (UNKNOWN_OBJECT, ([], ["imageScanningConfiguration.scanOnPush is not known yet"])),
])
def test_ecr_scan_on_push(scanning, expected):
    props = {} if scanning is None else {"imageScanningConfiguration": scanning}
    assert outcome("ecr-scan-on-push", REPO, props) == expected


AES = "repository is encrypted with AES256 (default); set encryptionType KMS with a customer-managed key"


@pytest.mark.parametrize("configs, expected", [
    ([{"encryptionType": "KMS", "kmsKey": KEY}], ([], [])),
    ([{"encryptionType": "KMS_DSSE", "kmsKey": KEY}], ([], [])),
    ({"encryptionType": "KMS"}, ([], [])),                                 # one block, not a list
    ([{"encryptionType": "AES256"}, {"encryptionType": "KMS"}], ([], [])),  # any KMS block
    ([{"encryptionType": "AES256"}], ([AES], [])),
    ([{"kmsKey": KEY}], ([AES], [])),                                       # the type decides, not the key
    ([], ([AES], [])),
    (None, ([AES], [])),
    ([{"encryptionType": UNKNOWN_STRING}], ([], ["encryptionType is not known yet"])),
    ([{"encryptionType": "AES256"}, UNKNOWN_OBJECT], ([], ["encryptionType is not known yet"])),
    (UNKNOWN_ARRAY, ([], ["encryptionConfigurations is not known yet"])),
])
def test_ecr_kms(configs, expected):
    props = {} if configs is None else {"encryptionConfigurations": configs}
    assert outcome("ecr-kms", REPO, props) == expected


PULL = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": ["ecr:BatchGetImage"]}


@pytest.mark.parametrize("resource_type", [REPO_POLICY, REGISTRY_POLICY])
def test_ecr_no_public_policy_names_each_public_statement(resource_type):
    public = [{**PULL, "Sid": "Everyone", "Principal": "*"}, {**PULL, "Sid": "", "Principal": {"AWS": ["*"]}}]
    document = json.dumps({"Statement": [PULL, *public, {**PULL, "Effect": "Deny", "Principal": "*"}]})
    assert outcome("ecr-no-public-policy", resource_type, {"policy": document}) == ([
        'policy statement Everyone allows Principal "*"; name the accounts or roles',
        'policy statement 3 allows Principal "*"; name the accounts or roles'], [])
    assert outcome("ecr-no-public-policy", resource_type, {"policy": json.dumps({"Statement": [PULL]})}) == ([], [])


def test_ecr_policy_notes_are_passed_on():
    unknown = {**PULL, "Principal": UNKNOWN_STRING}
    assert outcome("ecr-no-public-policy", REPO_POLICY, {"policy": {"Statement": [unknown]}}) == (
        [], ["repository policy statement Pull: Effect or Principal is not known yet"])


# --- SageMaker endpoints, models, notebooks ----------------------------------------------------------
@pytest.mark.parametrize("props, expected", [
    ({"kmsKeyArn": KEY}, ([], [])),
    ({"kmsKeyArn": ""}, (["kmsKeyArn is not set; the endpoint's storage volumes are not encrypted with your key"], [])),
    ({}, (["kmsKeyArn is not set; the endpoint's storage volumes are not encrypted with your key"], [])),
    ({"kmsKeyArn": UNKNOWN_STRING}, ([], ["kmsKeyArn is not known yet"])),
])
def test_sagemaker_endpoint_kms(props, expected):
    assert outcome("sagemaker-endpoint-kms", ENDPOINT_CONFIG, props) == expected


@pytest.mark.parametrize("props, expected", [
    ({"enableNetworkIsolation": True}, ([], [])),
    ({"enableNetworkIsolation": "true"}, ([], [])),
    ({"enableNetworkIsolation": False},
     (["enableNetworkIsolation is not true; the model container can reach the network"], [])),
    ({}, (["enableNetworkIsolation is not true; the model container can reach the network"], [])),
    ({"enableNetworkIsolation": UNKNOWN_BOOL}, ([], ["enableNetworkIsolation is not known yet"])),
])
def test_sagemaker_model_network_isolation(props, expected):
    assert outcome("sagemaker-model-network-isolation", MODEL, props) == expected


INTERNET = "direct internet access is enabled (default); set directInternetAccess 'Disabled' with a subnetId"
ROOT = "root access is enabled (default); set rootAccess 'Disabled'"
NOTEBOOK_KMS = "kmsKeyId is not set; the notebook volume is not encrypted with your key"
HARDENED = {"directInternetAccess": "Disabled", "rootAccess": "Disabled", "kmsKeyId": KEY, "subnetId": "subnet-1"}


@pytest.mark.parametrize("changes, expected", [
    ({}, ([], [])),
    ({"directInternetAccess": "Enabled"}, ([INTERNET], [])),
    ({"rootAccess": "Enabled"}, ([ROOT], [])),
    ({"kmsKeyId": ""}, ([NOTEBOOK_KMS], [])),
    ({"directInternetAccess": None, "rootAccess": None, "kmsKeyId": None}, ([INTERNET, ROOT, NOTEBOOK_KMS], [])),
    ({"directInternetAccess": UNKNOWN_STRING}, ([], ["directInternetAccess is not known yet"])),
    ({"rootAccess": UNKNOWN_STRING, "directInternetAccess": "Enabled"},
     ([INTERNET], ["rootAccess is not known yet"])),
    ({"kmsKeyId": UNKNOWN_STRING}, ([], ["kmsKeyId is not known yet"])),
])
def test_sagemaker_notebook_hardened(changes, expected):
    props = {k: v for k, v in {**HARDENED, **changes}.items() if v is not None}
    assert outcome("sagemaker-notebook-hardened", NOTEBOOK, props) == expected


BLUE_GREEN = {"trafficRoutingConfiguration": {"type": "CANARY", "waitIntervalInSeconds": 300}}
ROLLING = {"maximumBatchSize": {"type": "INSTANCE_COUNT", "value": 1}, "waitIntervalInSeconds": 60}
ALARMS = {"alarms": [{"alarmName": "endpoint-5xx"}]}
NO_POLICY = "no blue/green (or rolling) deploymentConfig; updates replace all instances at once"
NO_ALARMS = "no autoRollbackConfiguration alarms; a bad model version is not rolled back automatically"


@pytest.mark.parametrize("deployment, expected", [
    ({"blueGreenUpdatePolicy": BLUE_GREEN, "autoRollbackConfiguration": ALARMS}, ([], [])),
    ({"rollingUpdatePolicy": ROLLING, "autoRollbackConfiguration": ALARMS}, ([], [])),
    ({"autoRollbackConfiguration": ALARMS}, ([NO_POLICY], [])),
    ({"blueGreenUpdatePolicy": BLUE_GREEN}, ([NO_ALARMS], [])),
    ({"blueGreenUpdatePolicy": BLUE_GREEN, "autoRollbackConfiguration": {"alarms": []}}, ([NO_ALARMS], [])),
    ({"blueGreenUpdatePolicy": BLUE_GREEN, "autoRollbackConfiguration": {"alarms": {"alarmName": "one"}}}, ([], [])),
    ({}, ([NO_POLICY, NO_ALARMS], [])),
    (None, ([NO_POLICY, NO_ALARMS], [])),
    ({"blueGreenUpdatePolicy": UNKNOWN_OBJECT, "autoRollbackConfiguration": {"alarms": UNKNOWN_ARRAY}},
     ([], ["deploymentConfig update policy is not known yet", "autoRollbackConfiguration.alarms is not known yet"])),
    ({"autoRollbackConfiguration": UNKNOWN_OBJECT},
     ([NO_POLICY], ["autoRollbackConfiguration.alarms is not known yet"])),
    (UNKNOWN_OBJECT, ([], ["deploymentConfig is not known yet"])),
])
def test_sagemaker_endpoint_safe_rollout(deployment, expected):
    props = {} if deployment is None else {"deploymentConfig": deployment}
    assert outcome("sagemaker-endpoint-safe-rollout", ENDPOINT, props) == expected


CAPTURE = {"enableCapture": True, "initialSamplingPercentage": 20, "destinationS3Uri": "s3://b/capture",
           "captureOptions": [{"captureMode": "Input"}]}
OFF = "data capture is switched off (enableCapture false or 0% sampling)"


@pytest.mark.parametrize("changes, expected", [
    ({}, ([], [])),
    ({"enableCapture": "true", "initialSamplingPercentage": 1}, ([], [])),
    ({"enableCapture": False}, ([OFF], [])),
    ({"enableCapture": "false"}, ([OFF], [])),
    ({"initialSamplingPercentage": 0}, ([OFF], [])),
    ({"initialSamplingPercentage": "0"}, ([OFF], [])),
    # the provider's enableCapture defaults to false: a config without it captured nothing and passed
    ({"enableCapture": None}, (["data capture is switched off (enableCapture is not set, and it defaults to "
                                "false)"], [])),
    ({"enableCapture": UNKNOWN_BOOL}, ([], ["dataCaptureConfig values are not known yet"])),
    ({"initialSamplingPercentage": UNKNOWN_NUMBER}, ([], ["dataCaptureConfig values are not known yet"])),
])
def test_sagemaker_endpoint_data_capture(changes, expected):
    capture = {k: v for k, v in {**CAPTURE, **changes}.items() if v is not None}
    assert outcome("sagemaker-endpoint-data-capture", ENDPOINT_CONFIG, {"dataCaptureConfig": capture}) == expected


@pytest.mark.parametrize("capture, expected", [
    (None, (["no dataCaptureConfig; Model Monitor has no captured requests to compare with the baseline"], [])),
    ({}, (["no dataCaptureConfig; Model Monitor has no captured requests to compare with the baseline"], [])),
    (UNKNOWN_OBJECT, ([], ["dataCaptureConfig is not known yet"])),
])
def test_sagemaker_endpoint_without_data_capture_config(capture, expected):
    props = {} if capture is None else {"dataCaptureConfig": capture}
    assert outcome("sagemaker-endpoint-data-capture", ENDPOINT_CONFIG, props) == expected
