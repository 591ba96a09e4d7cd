"""``modelway export sagemaker``: a pipeline as a SageMaker Pipelines definition (GitOps, ``aws.sagemaker.Pipeline``).

Only Typer is imported here; the pipeline, boto3 and the compiler load inside the command.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from modelway.cli.stack import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.errors import ConfigError, UserError
from modelway.files import atomic_write_text
from modelway.settings import get_settings

export_app = typer.Typer(help="Export pipelines to other orchestrators.", no_args_is_help=True)


@export_app.command("sagemaker")
def export_sagemaker(
    file: Path = typer.Argument(..., help="Python file defining the @pipeline."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the definition JSON."),
    pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p", help="Pipeline to export when the file has several."),
    param: list[str] = typer.Option([], "--param", "-P", help="Pipeline parameter KEY=VALUE (repeatable)."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
    create: Optional[str] = typer.Option(None, "--create", help="Also create (or update) the pipeline NAME on the stack."),
) -> None:
    """Compile PIPELINE.py for the stack: step code and parameters go to its artifacts bucket, the definition to -o."""
    from modelway.backends.aws.pipelines_export import argument_problems, compile_definition, training_steps
    from modelway.backends.aws.sagemaker_jobs import SageMakerExecutor, code_bundle
    from modelway.dsl.loader import load_pipeline
    from modelway.runtime.context import stores
    backends = use_stack(stack, outputs)
    if backends.resolved is None:
        raise ConfigError("export sagemaker: name the stack to export for with --stack NAME or --outputs FILE")
    pipe = load_pipeline(file, pipeline)
    graph = pipe.build(pipe.parse_cli_params(param))
    image = SageMakerExecutor(backends).image()  # one line if the stack has no pushed training image
    _, artifacts = stores(get_settings().resolved_home())
    bundle = code_bundle(file.resolve())
    try:
        bundle_hash = artifacts.put_path(bundle["dir"]).hash
    finally:
        import shutil

        shutil.rmtree(bundle["dir"], ignore_errors=True)
    params_hash = artifacts.put(dict(graph.params)).hash
    definition, specs, prefix = compile_definition(graph, backends.outputs, backends.resolved.name, image=image,
                                                   bundle_hash=bundle_hash, params_hash=params_hash,
                                                   pipeline_file=bundle["file"])
    problems = argument_problems(definition)
    if problems:
        raise UserError(f"export sagemaker: {problems[0]}")
    clients, o = backends.clients, backends.outputs
    for key, doc in specs.items():
        with clients.call("s3:PutObject", f"s3://{o.buckets.artifacts}/{key}"):
            clients.get("s3").put_object(Bucket=o.buckets.artifacts, Key=key, Body=json.dumps(doc, sort_keys=True).encode(),
                                         ServerSideEncryption="aws:kms", SSEKMSKeyId=o.kms_key_arn)
    text = json.dumps(definition, indent=2, sort_keys=True) + "\n"
    atomic_write_text(output, text, create_parents=True)
    gates = sum(1 for s in definition["Steps"] if s["Type"] == "Condition")
    print(f"{output}: {len(training_steps(definition))} steps, {gates} gate condition(s), specs in "
          f"s3://{o.buckets.artifacts}/{prefix}/")
    if create:
        sagemaker = clients.get("sagemaker")
        with clients.call("sagemaker:CreatePipeline", f"pipeline {create}"):
            names = [p["PipelineName"] for p in sagemaker.list_pipelines(PipelineNamePrefix=create)["PipelineSummaries"]]
            if create in names:
                sagemaker.update_pipeline(PipelineName=create, PipelineDefinition=text, RoleArn=o.roles.sagemaker_execution)
            else:
                sagemaker.create_pipeline(PipelineName=create, PipelineDefinition=text, RoleArn=o.roles.sagemaker_execution,
                                          Tags=[{"Key": "environment", "Value": o.environment}])
        print(f"pipeline {create} on stack {backends.resolved.name}: {len(training_steps(definition))} steps")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
