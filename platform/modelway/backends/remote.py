"""The container side of a remote step: ``python -m modelway.backends.remote`` in a SageMaker job or Kubernetes Job.

It reads the job's hyperparameters the way SageMaker provides them (``$SM_HPS``, else
``<root>/input/config/hyperparameters.json``), takes the step's spec and the stack's outputs
from S3, installs the stack's backends, rebuilds the pipeline from the code bundle, runs the
one step with the same step context as a local run (checkpoints, logs, attachments), puts
the output into the S3 artifact store and writes ``result.json`` for the runner. A failure
also goes to ``<root>/output/failure``, which SageMaker shows as the job's FailureReason.

``<root>`` is ``/opt/ml`` (``$MODELWAY_SM_ROOT`` redirects it, e.g. for tests). The step's
``$MODELWAY_HOME`` is ``<root>/checkpoints/modelway-home``: SageMaker syncs that folder to
the job's ``CheckpointConfig`` S3 URI and restores it after a spot interruption, so the
step's checkpoints survive. This module is the container's composition root: like the CLI,
it is the one place in the container that picks the backends.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from modelway.backends.mapping import use
from modelway.backends.stack import ResolvedStack, outputs_digest
from modelway.contracts.stack_outputs import StackOutputs
from modelway.dsl.loader import load_pipeline
from modelway.runtime.context import stores
from modelway.runtime.executors import Task, execute


def sm_root() -> Path:
    """``/opt/ml``, or ``$MODELWAY_SM_ROOT``."""
    return Path(os.environ.get("MODELWAY_SM_ROOT", "/opt/ml"))


def hyperparameters() -> dict[str, str]:
    """The job's hyperparameters: ``$SM_HPS`` (JSON) when set, else SageMaker's hyperparameters.json."""
    if os.environ.get("SM_HPS"):
        return json.loads(os.environ["SM_HPS"])
    path = sm_root() / "input" / "config" / "hyperparameters.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"modelway remote: no hyperparameters ($SM_HPS or {path}): {exc}") from None


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run(hps: dict[str, str]) -> int:
    """Run the step named by the spec in ``hps``; returns the process exit code (0 = the step succeeded)."""
    import boto3

    s3 = boto3.client("s3")
    bucket, key = _split(hps["modelway_outputs"])
    outputs = StackOutputs.from_mapping(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
                                        source=hps["modelway_outputs"])
    stack = os.environ.get("MODELWAY_STACK") or outputs.environment
    use(ResolvedStack(stack, outputs, f"job hyperparameters ({hps['modelway_outputs']})", outputs_digest(outputs)))
    bucket, key = _split(hps["modelway_spec"])
    spec = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if spec.get("mode") == "pipeline":  # a SageMaker Pipelines step: inputs are the upstream steps' results
        execution = hps["modelway_execution"]
        base = f"{spec['executions']}/{execution}"
        spec = {**spec, "run_id": f"sm-{execution}", "attempt": 1, "result_key": f"{base}/{spec['step']}/result.json",
                "input_hashes": {up: json.loads(s3.get_object(Bucket=outputs.buckets.artifacts,
                                                             Key=f"{base}/{up}/result.json")["Body"].read())
                                 ["output"]["hash"] for up in spec["upstream"]}}
    home = Path(os.environ.get("MODELWAY_HOME") or sm_root() / "checkpoints" / "modelway-home")
    home.mkdir(parents=True, exist_ok=True)
    _, artifacts = stores(home)
    started = time.perf_counter()
    result: dict[str, Any]
    try:
        bundle = artifacts.get(spec["bundle"])
        pipeline = load_pipeline(Path(bundle) / spec["pipeline_file"], spec["pipeline"])
        params = artifacts.get(spec["params"])
        graph = pipeline.build(params)
        node = graph.nodes[spec["step"]]

        def echo(step: str, message: str) -> None:  # the job's log stream (CloudWatch Logs)
            print(f"[{step}] {message}", flush=True)

        task = Task(name=spec["step"], node=node, attempt=int(spec["attempt"]), input_hashes=spec["input_hashes"],
                    run_id=spec["run_id"], pipeline_name=spec["pipeline"], home=home, params=dict(graph.params),
                    timeout_s=None, echo=echo)
        outcome = execute(task)
        result = {"ok": outcome.ok, "error": outcome.error, "traceback": outcome.traceback,
                  "retryable": outcome.retryable, "deliberate": outcome.deliberate, "timed_out": outcome.timed_out,
                  "duration_s": outcome.duration_s}
        if outcome.ok:
            ref = outcome.output
            result["output"] = {"hash": ref.hash, "kind": ref.kind, "size": ref.size, "type": ref.type}
    except Exception as exc:  # the runner must hear about it, not just the job's log
        result = {"ok": False, "error": f"remote step setup failed: {type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "retryable": False, "deliberate": False,
                  "duration_s": time.perf_counter() - started}
    result["image"] = os.environ.get("MODELWAY_IMAGE_URI")
    result["instance_type"] = os.environ.get("MODELWAY_INSTANCE_TYPE")
    s3.put_object(Bucket=outputs.buckets.artifacts, Key=spec["result_key"], Body=json.dumps(result).encode(),
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=outputs.kms_key_arn, ContentType="application/json")
    if spec.get("gate"):
        # SageMaker Pipelines reads this line through the step's MetricDefinitions; the Condition step after it
        # decides (a deliberate stop is a failed gate: the job itself completed, result.json names the checks)
        passed = bool(result["ok"])
        print(f"modelway_gate_passed={int(passed)}", flush=True)
        if not passed and result.get("deliberate"):
            print(f"[{spec['step']}] gate failed: {result['error']}", flush=True)
            return 0
    if result["ok"]:
        return 0
    failure = sm_root() / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(str(result["error"])[:1000])
    print(result.get("traceback") or result["error"], file=sys.stderr)
    return 1


def main() -> None:
    """Entry point of the training image."""
    sys.exit(run(hyperparameters()))


if __name__ == "__main__":
    main()
