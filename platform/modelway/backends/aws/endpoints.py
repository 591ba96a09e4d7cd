"""Model versions on SageMaker real-time endpoints: one production variant per version, traffic moved by weights.

The SageMaker calls under the stack's :class:`~modelway.deploy.base.Deployer`
(:mod:`modelway.backends.aws.deployer`, which adds approval, contract tests, guardrails,
rollback and history):

- :meth:`EndpointVariants.put` puts the listed versions on an endpoint, each as a
  production variant (its own SageMaker model: the stack's serving image and the version's
  artifact from the models bucket) with an initial traffic weight; data capture (requests
  and responses) goes to the artifacts bucket under the stack's KMS key. A new endpoint is
  created; an existing one is updated with SageMaker deployment guardrails: blue/green with
  canary traffic routing and automatic rollback on the given CloudWatch alarms
  (:func:`guarded_update`).
- :meth:`EndpointVariants.shift` moves traffic between the variants in place
  (``UpdateEndpointWeightsAndCapacities``): canary 90/10, then 50/50, then promote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelway.backends.aws.clients import AwsClients
from modelway.errors import UserError

if TYPE_CHECKING:
    from modelway.contracts.stack_outputs import StackOutputs


@dataclass(frozen=True)
class Variant:
    """One model version on an endpoint."""

    model: str
    version: str
    model_data_url: str
    weight: float
    instance_type: str = "ml.m5.large"
    instance_count: int = 1

    @property
    def name(self) -> str:
        """The production variant's name: ``v1-2-0`` for version 1.2.0."""
        return "v" + re.sub(r"[^A-Za-z0-9]+", "-", self.version)


def guarded_update(alarm_names: list[str], canary_percent: int = 10, wait_s: int = 600) -> dict[str, Any]:
    """``DeploymentConfig`` for ``UpdateEndpoint``: blue/green, canary first, rollback on any alarm.

    Example:
        >>> guarded_update(["credit-risk-5xx"])["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        'CANARY'
    """
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": wait_s,
                                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": canary_percent}},
            "TerminationWaitInSeconds": wait_s,
            "MaximumExecutionTimeoutInSeconds": max(1800, 3 * wait_s),
        },
    }
    if alarm_names:  # the API wants at least one alarm when the section is there
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarm_names]}
    return config


class EndpointVariants:
    """Production variants of the stack's SageMaker endpoints (see the module doc)."""

    def __init__(self, clients: AwsClients, outputs: StackOutputs, *, capture_percent: int = 100) -> None:
        self.clients = clients
        self.outputs = outputs
        self.capture_percent = capture_percent

    def put(self, endpoint: str, variants: list[Variant], *, config_suffix: str,
               rollback_alarms: list[str] | None = None) -> dict[str, Any]:
        """Create (or update, with guardrails) ``endpoint`` serving ``variants``; returns DescribeEndpoint."""
        sagemaker = self.clients.get("sagemaker")
        image = self.outputs.ecr_repository_urls.get("serving") or self.outputs.ecr_repository_urls["training"]
        for variant in variants:
            model_name = _model_name(variant)
            with self.clients.call("sagemaker:CreateModel", f"model {model_name}"):
                existing = sagemaker.list_models(NameContains=model_name)["Models"]
                if not any(m["ModelName"] == model_name for m in existing):
                    sagemaker.create_model(
                        ModelName=model_name, ExecutionRoleArn=self.outputs.roles.sagemaker_execution,
                        PrimaryContainer={"Image": image, "ModelDataUrl": variant.model_data_url,
                                          "Environment": {"MODELWAY_MODEL": variant.model,
                                                          "MODELWAY_VERSION": variant.version}},
                        EnableNetworkIsolation=True)
        config_name = f"{endpoint}-{config_suffix}"[:63]
        with self.clients.call("sagemaker:CreateEndpointConfig", f"endpoint config {config_name}"):
            sagemaker.create_endpoint_config(
                EndpointConfigName=config_name, KmsKeyId=self.outputs.kms_key_arn,
                ProductionVariants=[{"VariantName": v.name, "ModelName": _model_name(v),
                                     "InitialInstanceCount": v.instance_count, "InstanceType": v.instance_type,
                                     "InitialVariantWeight": v.weight} for v in variants],
                DataCaptureConfig={
                    "EnableCapture": True, "InitialSamplingPercentage": self.capture_percent,
                    "DestinationS3Uri": f"s3://{self.outputs.buckets.artifacts}/data-capture/{endpoint}",
                    "KmsKeyId": self.outputs.kms_key_arn,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
        with self.clients.call("sagemaker:CreateEndpoint", f"endpoint {endpoint}"):
            if self._exists(endpoint):
                sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_name,
                                          DeploymentConfig=guarded_update(rollback_alarms or []))
            else:
                sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_name,
                                          Tags=[{"Key": "environment", "Value": self.outputs.environment}])
            return self.wait_in_service(endpoint)

    def wait_in_service(self, endpoint: str, timeout_s: float = 3600.0, poll_s: float = 15.0) -> dict[str, Any]:
        """DescribeEndpoint once the endpoint is ``InService`` (an update first moves it through ``Updating``)."""
        import time

        sagemaker = self.clients.get("sagemaker")
        deadline = time.monotonic() + timeout_s
        while True:
            with self.clients.call("sagemaker:DescribeEndpoint", f"endpoint {endpoint}"):
                described = sagemaker.describe_endpoint(EndpointName=endpoint)
            status = described["EndpointStatus"]
            if status == "InService":
                return described
            if status in ("Failed", "OutOfService", "Deleting") or time.monotonic() > deadline:
                raise UserError(f"endpoint {endpoint} is {status}: {described.get('FailureReason') or 'not in service'}")
            time.sleep(poll_s)

    def shift(self, endpoint: str, weights: dict[str, float]) -> dict[str, float]:
        """Set the variants' traffic weights (variant name -> weight); returns the endpoint's current weights."""
        sagemaker = self.clients.get("sagemaker")
        with self.clients.call("sagemaker:UpdateEndpointWeightsAndCapacities", f"endpoint {endpoint}"):
            sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[{"VariantName": name, "DesiredWeight": weight}
                                             for name, weight in weights.items()])
            described = sagemaker.describe_endpoint(EndpointName=endpoint)
        return {v["VariantName"]: v.get("CurrentWeight", 0.0) for v in described["ProductionVariants"]}

    def _exists(self, endpoint: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.clients.get("sagemaker").describe_endpoint(EndpointName=endpoint)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ValidationError"):
                return False
            raise


def _model_name(variant: Variant) -> str:
    """``<model>-<version>-<8 hex of the artifact URI>``: the same artifact is one SageMaker model; another stack's
    copy of the same version (another bucket, another key) is another model, never reused across stacks."""
    import hashlib

    tail = hashlib.sha256(variant.model_data_url.encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9-]+", "-", f"{variant.model}-{variant.version}")[:54] + f"-{tail}"
