"""Registry and SageMaker rules."""
from __future__ import annotations

import json

import pytest
from policy_helpers import assert_passes, assert_violates, evaluate

REPO = "aws:ecr/repository:Repository"
REPO_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
MODEL = "aws:sagemaker/model:Model"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111"


def test_ecr_immutable_tags():
    assert_passes("ecr-immutable-tags", REPO, {"imageTagMutability": "IMMUTABLE"})
    assert_violates("ecr-immutable-tags", REPO, {}, contains="MUTABLE")
    assert_violates("ecr-immutable-tags", REPO, {"imageTagMutability": "MUTABLE"})


def test_ecr_scan_on_push():
    assert_passes("ecr-scan-on-push", REPO, {"imageScanningConfiguration": {"scanOnPush": True}})
    assert_violates("ecr-scan-on-push", REPO, {"imageScanningConfiguration": {"scanOnPush": False}})


def test_ecr_kms():
    assert_passes("ecr-kms", REPO, {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}]})
    assert_passes("ecr-kms", REPO, {"encryptionConfigurations": [{"encryptionType": "KMS_DSSE", "kmsKey": KEY}]})
    assert_violates("ecr-kms", REPO, {}, contains="AES256")


def test_ecr_no_public_policy():
    pull = {"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": ["ecr:BatchGetImage"]}
    assert_passes("ecr-no-public-policy", REPO_POLICY, {"repository": "r", "policy": json.dumps({"Statement": [pull]})})
    public = {**pull, "Sid": "Everyone", "Principal": "*"}
    assert_violates("ecr-no-public-policy", REPO_POLICY, {"repository": "r", "policy": {"Statement": [pull, public]}},
                    contains="Everyone")


def test_sagemaker_endpoint_kms():
    assert_passes("sagemaker-endpoint-kms", ENDPOINT_CONFIG, {"kmsKeyArn": KEY})
    assert_violates("sagemaker-endpoint-kms", ENDPOINT_CONFIG, {"productionVariants": []}, contains="kmsKeyArn")


def test_sagemaker_model_network_isolation():
    assert_passes("sagemaker-model-network-isolation", MODEL, {"enableNetworkIsolation": True})
    assert_violates("sagemaker-model-network-isolation", MODEL, {})


def test_sagemaker_notebook_hardened():
    good = {"directInternetAccess": "Disabled", "rootAccess": "Disabled", "kmsKeyId": KEY, "subnetId": "subnet-1"}
    assert_passes("sagemaker-notebook-hardened", NOTEBOOK, good)
    messages = assert_violates("sagemaker-notebook-hardened", NOTEBOOK, {"kmsKeyId": KEY})
    assert len(messages) == 2  # internet and root both reported
    assert_violates("sagemaker-notebook-hardened", NOTEBOOK, {**good, "kmsKeyId": None}, contains="kmsKeyId")


def test_sagemaker_endpoint_safe_rollout():
    good = {"deploymentConfig": {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "CANARY", "waitIntervalInSeconds": 300}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": "endpoint-5xx"}]}}}
    assert_passes("sagemaker-endpoint-safe-rollout", ENDPOINT, good)
    no_alarms = {"deploymentConfig": {"blueGreenUpdatePolicy": good["deploymentConfig"]["blueGreenUpdatePolicy"]}}
    assert_violates("sagemaker-endpoint-safe-rollout", ENDPOINT, no_alarms, contains="autoRollbackConfiguration")
    assert_violates("sagemaker-endpoint-safe-rollout", ENDPOINT, {}, contains="blue/green")


UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"  # the engine's "object not known yet"
ALARMS = {"alarms": [{"alarmName": "endpoint-5xx"}]}


@pytest.mark.parametrize(("update", "violations", "notes"), [
    ({"blueGreenUpdatePolicy": UNKNOWN_OBJECT}, [], ["deploymentConfig update policy is not known yet"]),
    ({"rollingUpdatePolicy": UNKNOWN_OBJECT}, [], ["deploymentConfig update policy is not known yet"]),
    ({"rollingUpdatePolicy": {"maximumBatchSize": {"type": "INSTANCE_COUNT", "value": 1}},
      "blueGreenUpdatePolicy": UNKNOWN_OBJECT}, [], []),
    ({}, ["no blue/green (or rolling) deploymentConfig; updates replace all instances at once"], []),
], ids=["blue-green-unknown", "rolling-unknown", "one-known", "none"])
def test_sagemaker_endpoint_update_policy_not_known_yet_is_a_note(update, violations, notes):
    # a policy not known yet (falsy UNKNOWN) was read as none: "updates replace all instances at once"
    outcome = evaluate("sagemaker-endpoint-safe-rollout", ENDPOINT,
                       {"deploymentConfig": {**update, "autoRollbackConfiguration": ALARMS}})
    assert ([v.message for v in outcome.violations], [n.message for n in outcome.notes]) == (violations, notes)


def test_sagemaker_endpoint_data_capture():
    good = {"dataCaptureConfig": {"enableCapture": True, "initialSamplingPercentage": 20,
                                  "destinationS3Uri": "s3://b/capture", "captureOptions": [{"captureMode": "Input"}]}}
    assert_passes("sagemaker-endpoint-data-capture", ENDPOINT_CONFIG, good)
    assert_violates("sagemaker-endpoint-data-capture", ENDPOINT_CONFIG, {}, contains="dataCaptureConfig")
    off = {"dataCaptureConfig": {**good["dataCaptureConfig"], "enableCapture": False}}
    assert_violates("sagemaker-endpoint-data-capture", ENDPOINT_CONFIG, off, contains="switched off")
