"""Heavy steps as SageMaker training jobs: the request, the polling, and what a finished job means for the runner.

A step whose ``instance_type`` is a SageMaker type (``ml.*``) runs as a training job; every
other step stays on the local executor (:class:`RoutingExecutor`). The pipeline file does
not change: the step's resource settings choose.

The job runs the stack's training image, pinned by digest, with ``python -m
modelway.backends.remote`` as its entry point. The runner uploads a *spec* (which step of
which run, its input hashes, the pipeline's code bundle and parameters as artifacts) to
the artifacts bucket; the container fetches inputs from the S3 artifact store, runs the
step with the same step context, puts the output back and writes ``result.json``, which
the runner turns into the step's outcome. Checkpoints: ``$MODELWAY_HOME`` inside the job
lives under ``/opt/ml/checkpoints``, which SageMaker syncs to ``CheckpointConfig.S3Uri``
and restores after a spot interruption, so ``step_context().load_checkpoint()`` resumes.

Security settings come from the stack: its execution role, its KMS key for the volume and
the output, inter-container encryption, and, when the stack has a VPC, its private subnets
and the jobs' security group (``training_subnet_ids``, ``training_security_group_ids``):
the job then reaches S3 and the AWS APIs only through the VPC's endpoints. SageMaker's
``EnableNetworkIsolation`` stays off on purpose: it cuts the container off from every
network, S3 included, and the entry point reads its inputs from and writes its output to
the artifact store itself (content addressed, verified on read); the VPC without internet
egress (security group: HTTPS to the endpoints and S3 only) is the isolation instead.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from modelway.artifacts.store import ArtifactRef
from modelway.backends.aws.clients import AwsClients
from modelway.errors import ConfigError
from modelway.runtime import retry
from modelway.runtime.context import stores
from modelway.runtime.executors import Executor, Outcome, Task

if TYPE_CHECKING:
    from modelway.backends.aws.stack_backends import AwsBackends
    from modelway.contracts.stack_outputs import StackOutputs
    from modelway.dsl.graph import StepNode

ENTRY_POINT = ["python", "-m", "modelway.backends.remote"]
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEFAULT_MAX_RUNTIME_S = 24 * 3600
# spot: wait up to this much longer than the run time for capacity (MaxWaitTimeInSeconds >= MaxRuntimeInSeconds)
SPOT_WAIT_FACTOR = 2


@dataclass(frozen=True)
class JobNetwork:
    """Subnets and security groups for training jobs (from the stack, when it has them)."""

    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]


def stack_network(outputs: StackOutputs) -> JobNetwork | None:
    """The stack's subnets and jobs security group, when it has both (a stack without a VPC: None)."""
    if outputs.training_subnet_ids and outputs.training_security_group_ids:
        return JobNetwork(tuple(outputs.training_subnet_ids), tuple(outputs.training_security_group_ids))
    return None


def is_sagemaker_step(node: StepNode) -> bool:
    """Whether a step asks for a SageMaker instance type (``ml.*``)."""
    instance = node.settings.resources.instance_type
    return bool(instance and instance.startswith("ml."))


def job_name(run_id: str, step: str, attempt: int) -> str:
    """A valid, unique training job name (63 characters at most: ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``)."""
    raw = f"mw-{run_id}-{step}-a{attempt}"
    cleaned = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", raw)).strip("-")
    if len(cleaned) > 63:
        import hashlib

        tail = hashlib.sha256(raw.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:54].rstrip('-')}-{tail}"
    return cleaned


def training_job_request(*, name: str, image: str, role_arn: str, instance_type: str, spot: bool,
                         max_runtime_s: int, kms_key_arn: str, bucket: str, prefix: str, spec_uri: str,
                         outputs_uri: str, stack: str, network: JobNetwork | None = None,
                         volume_gb: int = 50, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request for one step attempt (a plain dict: easy to check).

    Example:
        >>> req = training_job_request(name="mw-x", image="1.dkr.ecr/r@sha256:ab", role_arn="arn:aws:iam::1:role/r",
        ...     instance_type="ml.g5.xlarge", spot=True, max_runtime_s=3600, kms_key_arn="arn:aws:kms:k",
        ...     bucket="b", prefix="jobs/x", spec_uri="s3://b/spec.json", outputs_uri="s3://b/o.json", stack="dev")
        >>> req["StoppingCondition"], req["EnableManagedSpotTraining"]
        ({'MaxRuntimeInSeconds': 3600, 'MaxWaitTimeInSeconds': 7200}, True)
    """
    stopping = {"MaxRuntimeInSeconds": int(max_runtime_s)}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = int(max_runtime_s) * SPOT_WAIT_FACTOR
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": list(ENTRY_POINT)},
        "RoleArn": role_arn,
        "HyperParameters": {"modelway_spec": spec_uri, "modelway_outputs": outputs_uri},
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{prefix}/output", "KmsKeyId": kms_key_arn},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": volume_gb,
                           "VolumeKmsKeyId": kms_key_arn},
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": bool(spot),
        "CheckpointConfig": {"S3Uri": f"s3://{bucket}/{prefix}/checkpoints", "LocalPath": CHECKPOINT_LOCAL_PATH},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": True,
        "Environment": {"MODELWAY_STACK": stack, "MODELWAY_IMAGE_URI": image, "MODELWAY_INSTANCE_TYPE": instance_type},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
    }
    if network is not None:
        request["VpcConfig"] = {"SecurityGroupIds": list(network.security_group_ids), "Subnets": list(network.subnets)}
    return request


def outcome_of(description: dict[str, Any], result: dict[str, Any] | None, duration_s: float) -> Outcome:
    """What a finished training job (``DescribeTrainingJob``) and its ``result.json`` mean for the runner.

    Completed with a result: the step's output. A step that failed inside the job: its own
    error (a deliberate ``StepFailed`` is not a bug). Spot capacity, interruption and
    internal errors: retryable, so the step's ``retries`` apply.
    """
    status = description["TrainingJobStatus"]
    name = description["TrainingJobName"]
    if result is not None:  # the step's output, or its own failure inside the job
        return result_outcome(result, duration_s)
    if status == "Completed":
        return Outcome(False, error=f"SageMaker job {name} completed but wrote no result.json; is the image's entry "
                       f"point `{' '.join(ENTRY_POINT)}`?", duration_s=duration_s, retryable=False)
    reason = description.get("FailureReason") or description.get("SecondaryStatus") or status
    retryable = retry.sagemaker_retryable(status, reason)
    if status == "Stopped":
        reason = f"stopped ({description.get('SecondaryStatus', 'Stopped')}): spot capacity was reclaimed or MaxWait passed"
    return Outcome(False, error=f"SageMaker job {name} {status.lower()}: {reason}", duration_s=duration_s,
                   retryable=retryable, timed_out="MaxRuntimeExceeded" in reason)


@dataclass
class RemoteJob:
    """A step attempt running remotely (a SageMaker training job, a Kubernetes Job), polled with backoff."""

    task: Task
    name: str
    result_key: str
    next_poll: float
    delay: float
    last_status: str = ""
    submitted: float = field(default_factory=time.monotonic)


def wait_for_jobs(jobs: dict[str, RemoteJob], poll_due: Callable[[], list[tuple[Task, Outcome]]],
                  timeout: float | None) -> list[tuple[Task, Outcome]]:
    """The ``Executor.wait`` of the remote executors: poll the jobs that are due until one finishes,
    none is left, or ``timeout`` passes, sleeping until the next job is due in between."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        finished = poll_due()
        if finished or not jobs:
            return finished
        next_poll = min(job.next_poll for job in jobs.values())
        until = next_poll if deadline is None else min(next_poll, deadline)
        time.sleep(max(0.0, until - time.monotonic()))
        if deadline is not None and time.monotonic() >= deadline:
            return poll_due()


class SageMakerExecutor:
    """Runs step attempts as SageMaker training jobs; polls them with backoff (see the module doc)."""

    name = "sagemaker"

    def __init__(self, backends: AwsBackends, *, network: JobNetwork | None = None, image_tag: str | None = None,
                 poll_s: tuple[float, float] = (2.0, 30.0), on_log: Callable[[str, str], None] | None = None) -> None:
        self.backends = backends
        self.clients: AwsClients = backends.clients
        self.outputs = backends.outputs
        self.network = network or stack_network(self.outputs)
        # CI pushes one tag per commit (the stack's repositories are immutable); MODELWAY_IMAGE_TAG picks it
        self.image_tag = image_tag or os.environ.get("MODELWAY_IMAGE_TAG") or "latest"
        self.poll_min, self.poll_max = poll_s
        self.on_log = on_log
        self._jobs: dict[str, RemoteJob] = {}
        self._image: str | None = None

    # -- Executor -----------------------------------------------------------------------
    def running(self) -> int:
        return len(self._jobs)

    def submit(self, task: Task) -> None:
        run_store, _ = stores(task.home)
        name = job_name(task.run_id, task.name, task.attempt)
        staged = stage_remote_step(self.backends, task)
        prefix, bucket = staged.prefix, self.outputs.buckets.artifacts
        spec_uri, outputs_uri = staged.hyperparameters["modelway_spec"], staged.hyperparameters["modelway_outputs"]
        resources = task.node.settings.resources
        request = training_job_request(
            name=name, image=self.image(), role_arn=self.outputs.roles.sagemaker_execution,
            instance_type=resources.instance_type, spot=resources.spot,
            max_runtime_s=int(resources.max_runtime_s or task.timeout_s or DEFAULT_MAX_RUNTIME_S),
            kms_key_arn=self.outputs.kms_key_arn, bucket=bucket, prefix=prefix, spec_uri=spec_uri,
            outputs_uri=outputs_uri, stack=self.backends.resolved.name, network=self.network,
            tags={"modelway-run": task.run_id, "modelway-step": task.name, "environment": self.outputs.environment})
        with self.clients.call("sagemaker:CreateTrainingJob", f"training job {name}"):
            self.clients.get("sagemaker").create_training_job(**request)
        note = (f"SageMaker training job {name} on {resources.instance_type}{' (spot)' if resources.spot else ''}, "
                f"image {request['AlgorithmSpecification']['TrainingImage']}")
        run_store.log(task.run_id, task.name, note, kind="note")  # lineage: where this attempt ran
        self._log(task.name, note)
        self._jobs[task.name] = RemoteJob(task, name, staged.result_key, time.monotonic(), self.poll_min)

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        return wait_for_jobs(self._jobs, self._poll_due, timeout)

    def cancel_all(self) -> list[Task]:
        tasks = []
        for job in self._jobs.values():
            try:
                with self.clients.call("sagemaker:StopTrainingJob", f"training job {job.name}"):
                    self.clients.get("sagemaker").stop_training_job(TrainingJobName=job.name)
            except Exception:  # cancelling is best effort; the job's MaxRuntime still bounds it
                pass
            tasks.append(job.task)
        self._jobs.clear()
        return tasks

    # -- helpers ------------------------------------------------------------------------
    def image(self) -> str:
        """The training image pinned by digest (``<repository url>@sha256:...``), resolved once."""
        if self._image is None:
            url = self.outputs.ecr_repository_urls.get("training")
            if not url:
                raise ConfigError(f"stack {self.backends.resolved.name}: no 'training' ECR repository in the outputs "
                                  "(ecr_repository_urls); SageMaker steps need one")
            repository = url.split("/", 1)[1]
            ecr = self.clients.get("ecr")
            with self.clients.call("ecr:DescribeImages", f"repository {repository}"):
                try:
                    images = ecr.describe_images(repositoryName=repository,
                                                 imageIds=[{"imageTag": self.image_tag}])["imageDetails"]
                except ecr.exceptions.ImageNotFoundException:
                    images = []
            if not images:
                raise ConfigError(f"stack {self.backends.resolved.name}: no image tagged {self.image_tag!r} in {url}; "
                                  "build and push it first (the CI job 'image', or docker build + docker push)")
            self._image = f"{url}@{images[0]['imageDigest']}"
        return self._image

    def _poll_due(self) -> list[tuple[Task, Outcome]]:
        finished = []
        now = time.monotonic()
        sagemaker = self.clients.get("sagemaker")
        for step, job in list(self._jobs.items()):
            if job.next_poll > now:
                continue
            with self.clients.call("sagemaker:DescribeTrainingJob", f"training job {job.name}"):
                description = sagemaker.describe_training_job(TrainingJobName=job.name)
            status = f"{description['TrainingJobStatus']}/{description.get('SecondaryStatus', '')}"
            if status != job.last_status:
                self._log(step, f"SageMaker job {job.name}: {status}")
                job.last_status = status
            if description["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                result = self._result(job.result_key)
                finished.append((job.task, outcome_of(description, result, time.monotonic() - job.submitted)))
                del self._jobs[step]
            else:
                job.delay = retry.next_poll_s(job.delay, self.poll_max)
                job.next_poll = now + job.delay
        return finished

    def _result(self, key: str) -> dict[str, Any] | None:
        return read_result(self.backends, key)

    def _log(self, step: str, message: str) -> None:
        if self.on_log is not None:
            self.on_log(step, message)


@dataclass(frozen=True)
class StagedStep:
    """A step attempt ready to run remotely: what its container gets, and where it writes its result."""

    prefix: str
    hyperparameters: dict[str, str]
    result_key: str


def stage_remote_step(backends: AwsBackends, task: Task) -> StagedStep:
    """Upload what the container entry point needs (code bundle, parameters, spec, stack outputs) to the stack.

    The same for a SageMaker training job and a Kubernetes Job: the container reads
    ``modelway_spec`` and ``modelway_outputs`` (its hyperparameters, ``SM_HPS``) and writes
    ``result_key``.
    """
    _, artifacts = stores(task.home)
    prefix = f"jobs/{task.run_id}/{task.name}"
    bundle = _code_bundle(task)
    try:
        bundle_hash = artifacts.put_path(bundle["dir"]).hash
    finally:
        import shutil

        shutil.rmtree(bundle["dir"], ignore_errors=True)
    spec = {
        "run_id": task.run_id, "step": task.name, "attempt": task.attempt, "pipeline": task.pipeline_name,
        "pipeline_file": bundle["file"], "bundle": bundle_hash,
        "params": artifacts.put(dict(task.params)).hash, "input_hashes": dict(task.input_hashes),
        "result_key": f"{prefix}/attempt-{task.attempt}/result.json",
    }
    spec_uri = put_json(backends, f"{prefix}/attempt-{task.attempt}/spec.json", spec)
    outputs_uri = put_json(backends, f"{prefix}/stack-outputs.json", backends.outputs.model_dump(mode="json"))
    return StagedStep(prefix, {"modelway_spec": spec_uri, "modelway_outputs": outputs_uri}, spec["result_key"])


def put_json(backends: AwsBackends, key: str, doc: Any) -> str:
    """A JSON document in the artifacts bucket under the stack's KMS key; returns its ``s3://`` URI."""
    bucket = backends.outputs.buckets.artifacts
    with backends.clients.call("s3:PutObject", f"s3://{bucket}/{key}"):
        backends.clients.get("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, sort_keys=True).encode(),
                                              ServerSideEncryption="aws:kms", SSEKMSKeyId=backends.outputs.kms_key_arn,
                                              ContentType="application/json")
    return f"s3://{bucket}/{key}"


def read_result(backends: AwsBackends, key: str) -> dict[str, Any] | None:
    """The ``result.json`` a remote step wrote, or None when its container never got that far."""
    s3 = backends.clients.get("s3")
    bucket = backends.outputs.buckets.artifacts
    with backends.clients.call("s3:GetObject", f"s3://{bucket}/{key}"):
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None


def result_outcome(result: dict[str, Any], duration_s: float) -> Outcome:
    """A ``result.json`` as the runner's Outcome (the step's output, or its own error)."""
    if result.get("ok"):
        out = result["output"]
        return Outcome(True, output=ArtifactRef(out["hash"], out["kind"], out["size"], out["type"]),
                       duration_s=duration_s)
    return Outcome(False, error=result.get("error") or "failed", traceback=result.get("traceback"),
                   duration_s=duration_s, retryable=bool(result.get("retryable", True)),
                   deliberate=bool(result.get("deliberate")), timed_out=bool(result.get("timed_out")))


class RoutingExecutor:
    """Sends each attempt to the executor its step's resources choose: SageMaker for ``ml.*`` instance types,
    the local executor otherwise."""

    name = "routing"

    def __init__(self, local: Executor, remote: Executor, choose: Callable[[Any], bool]) -> None:
        self.local = local
        self.remote = remote
        self.choose = choose

    def running(self) -> int:
        return self.local.running() + self.remote.running()

    def submit(self, task: Task) -> None:
        (self.remote if self.choose(task.node) else self.local).submit(task)

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        if not self.remote.running():
            return self.local.wait(timeout)
        if not self.local.running():
            return self.remote.wait(timeout)
        # both busy: alternate short waits so neither starves
        slice_s = 0.2 if timeout is None else min(timeout, 0.2)
        return self.local.wait(slice_s / 2) + self.remote.wait(slice_s / 2)

    def cancel_all(self) -> list[Task]:
        return self.local.cancel_all() + self.remote.cancel_all()


def _code_bundle(task: Task) -> dict[str, Any]:
    """The folder of the file defining the step (its ``*.py`` files), to rebuild the pipeline in the job."""
    import inspect

    source = Path(inspect.getsourcefile(task.node.step.fn) or "")
    if not source.is_file():
        raise ConfigError(f"step {task.name!r}: its source file is not available; SageMaker steps must be defined "
                          "in a pipeline file")
    return code_bundle(source)


def code_bundle(source: Path) -> dict[str, Any]:
    """A temp copy of the ``*.py`` files next to ``source`` (``dir``) and the file's name (``file``)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mw-bundle-"))
    for path in sorted(source.parent.glob("*.py")):
        shutil.copy2(path, folder / path.name)
    return {"dir": folder, "file": source.name}
