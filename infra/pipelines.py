"""SageMakerPipelines: the pipeline files listed in ``modelway:pipelines``, deployed as ``aws.sagemaker.Pipeline``.

GitOps for pipelines: each file is compiled by the same compiler as ``modelway export
sagemaker`` (:func:`modelway.backends.aws.pipelines_export.compile_definition`) against this
stack's outputs and the training image's digest, so a change to a pipeline file (its code,
its parameters) or a new image changes the definition, and ``pulumi preview`` shows the
``aws.sagemaker.Pipeline`` update. What the steps' containers read is declared next to it as
bucket objects under the stack key: the code bundle and parameters (content-addressed, in
the artifact store's layout) and one spec per step.
"""
from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import PipelineDeployment

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # where Pulumi.yaml is: pipeline files are relative to it


@dataclass
class SageMakerPipelinesArgs:
    """Inputs of :class:`SageMakerPipelines`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    stack: str
    """The Pulumi stack (``dev``...): the steps' containers install this stack's backends."""
    deployments: list[PipelineDeployment]
    """The ``modelway:pipelines`` entries."""
    outputs: pulumi.Input[dict[str, Any]]
    """The stack outputs (the StackOutputs contract) the steps run against."""
    training_repository: str
    """ECR repository name of the training image."""
    training_repository_url: pulumi.Input[str]
    """Its URL (the image is pinned by digest: ``<url>@sha256:...``)."""


def resource_label(file: str) -> str:
    """``pipelines/credit_risk.py`` -> ``credit-risk`` (resource and pipeline names)."""
    return re.sub(r"[^a-z0-9]+", "-", Path(file).stem.lower()).strip("-")


class SageMakerPipelines(pulumi.ComponentResource):
    """One ``aws.sagemaker.Pipeline`` per listed pipeline file, plus the objects its steps read.

    Example:
        >>> SageMakerPipelines("modelway-dev", SageMakerPipelinesArgs(prefix="modelway-dev", stack="dev",
        ...     deployments=cfg.pipelines, outputs=outputs, training_repository="modelway-dev/training",
        ...     training_repository_url=registries.repository_urls["training"]))   # doctest: +SKIP
    """

    pipeline_names: dict[str, pulumi.Output[str]]
    definitions: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SageMakerPipelinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:pipelines:SageMakerPipelines", name, None, opts)
        self._name, self._args = name, args
        self.pipeline_names, self.definitions = {}, {}
        self._staging = Path(tempfile.mkdtemp(prefix="modelway-pulumi-pipelines-"))
        for deployment in args.deployments:
            self._create_pipeline(deployment)
        self.register_outputs({"pipeline_names": self.pipeline_names})

    def _create_pipeline(self, deployment: PipelineDeployment) -> None:
        from modelway.backends.aws.pipelines_export import compile_definition, stage_pipeline
        from modelway.contracts.stack_outputs import StackOutputs

        args, label = self._args, resource_label(deployment.file)
        child = pulumi.ResourceOptions(parent=self)
        staged = stage_pipeline(PROJECT_ROOT / deployment.file, deployment.pipeline, deployment.params,
                                self._staging / label)
        image = aws.ecr.get_image_output(repository_name=args.training_repository, image_tag=deployment.image_tag,
                                         opts=pulumi.InvokeOutputOptions(parent=self))
        image_uri = pulumi.Output.concat(args.training_repository_url, "@", image.image_digest)

        def compile_(values: list[Any]) -> dict[str, Any]:
            outputs = StackOutputs.from_mapping(values[0], source="stack outputs")
            definition, specs, _ = compile_definition(staged.graph, outputs, args.stack, image=values[1],
                                                      bundle_hash=staged.bundle_hash, params_hash=staged.params_hash,
                                                      pipeline_file=staged.pipeline_file)
            return {"definition": json.dumps(definition, indent=2, sort_keys=True),
                    "specs": {key: json.dumps(doc, sort_keys=True) for key, doc in specs.items()}}

        compiled = pulumi.Output.all(args.outputs, image_uri).apply(compile_)
        outputs = pulumi.Output.from_input(args.outputs)
        bucket = outputs.apply(lambda o: o["buckets"]["artifacts"])
        key_arn = outputs.apply(lambda o: o["kms_key_arn"])
        objects = []
        for i, (key, text) in enumerate(staged.objects.items()):  # content-addressed: the key names the content
            kind = "meta" if key.endswith("/meta.json") else "data"
            objects.append(aws.s3.BucketObjectv2(
                f"{self._name}-{label}-artifact-{i}-{kind}", bucket=bucket, key=key, content=text,
                server_side_encryption="aws:kms", kms_key_id=key_arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(objects) if kind == "meta" else None)))
        # one object per step spec (+ the stack outputs): keys carry the export digest, resource names the step
        for role in ["stack-outputs", *staged.graph.order]:
            suffix = "/stack-outputs.json" if role == "stack-outputs" else f"/steps/{role}.json"
            document = compiled.apply(lambda c, s=suffix: next((k, v) for k, v in c["specs"].items() if k.endswith(s)))
            objects.append(aws.s3.BucketObjectv2(
                f"{self._name}-{label}-spec-{role}", bucket=bucket, key=document.apply(lambda kv: kv[0]),
                content=document.apply(lambda kv: kv[1]), content_type="application/json",
                server_side_encryption="aws:kms", kms_key_id=key_arn, opts=child))
        pipeline_name = f"{args.prefix}-{label}"
        role_arn = outputs.apply(lambda o: o["roles"]["sagemaker_execution"])
        pipeline = aws.sagemaker.Pipeline(
            f"{self._name}-{label}-pipeline", pipeline_name=pipeline_name, pipeline_display_name=pipeline_name,
            pipeline_description=f"{deployment.file} (modelway export sagemaker)", role_arn=role_arn,
            pipeline_definition=compiled.apply(lambda c: c["definition"]),
            tags={"modelway-pipeline-file": deployment.file},
            opts=pulumi.ResourceOptions(parent=self, depends_on=objects))
        self.pipeline_names[deployment.file] = pipeline.pipeline_name
        self.definitions[deployment.file] = pipeline.pipeline_definition

