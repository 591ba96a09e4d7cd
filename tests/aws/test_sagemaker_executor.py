"""Heavy steps as SageMaker training jobs against moto, and the container's entry point run for real.

Moto records a training job and reports it Completed at once; it runs no container. The
container is emulated faithfully where it matters: when the executor creates a job, the
test runs ``python -m modelway.backends.remote`` as a subprocess with the job's
hyperparameters (``SM_HPS``), its ``Environment`` and ``/opt/ml`` redirected to a temp
folder, against moto's S3. Not exercised: real spot capacity, instance provisioning,
SageMaker's checkpoint sync to S3 (the test reuses the local checkpoint folder instead),
CloudWatch log streaming.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelway.backends.aws.sagemaker_jobs import SageMakerExecutor, job_name, outcome_of
from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.dsl.loader import load_pipeline
from modelway.runtime.runner import run_pipeline

PIPELINE = Path(__file__).parent / "pipelines" / "remote_demo.py"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def backends(moto_stack):
    ecr = moto_stack.client("ecr")
    repo = moto_stack.outputs["ecr_repository_urls"]["training"].split("/", 1)[1]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                           "digest": "sha256:" + "b" * 64}, "layers": []}
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="latest")
    return use(resolve_stack(None, moto_stack.outputs_file))


class Container:
    """Runs the job's container entry point as a subprocess when CreateTrainingJob succeeds."""

    def __init__(self, backends, tmp_path: Path, aws_env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.aws_env = aws_env
        self.requests: list[dict] = []
        self.fail_attempts: set[int] = set()  # attempts that hit a spot capacity error instead of running
        self.reclaim_attempts: set[int] = set()  # attempts whose instance is reclaimed after the first checkpoint
        events = backends.clients.get("sagemaker").meta.events
        events.register("provide-client-params.sagemaker.CreateTrainingJob", self._capture)
        events.register("after-call.sagemaker.CreateTrainingJob", self._run)
        events.register("after-call.sagemaker.DescribeTrainingJob", self._interrupt)
        self.runs: list[subprocess.CompletedProcess] = []

    def _capture(self, params, **_):
        self.requests.append(dict(params))

    def _run(self, http_response, parsed, **_):
        request = self.requests[-1]
        attempt = int(request["TrainingJobName"].rsplit("-a", 1)[1])
        if attempt in self.fail_attempts:
            return
        root = self.tmp_path / "opt-ml"  # one folder for all attempts: the checkpoint folder survives, as in SageMaker
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELWAY_", "SM_"))}
        env.update(self.aws_env, **request["Environment"], MODELWAY_SM_ROOT=str(root),
                   SM_HPS=json.dumps(request["HyperParameters"]), SM_MODEL_DIR=str(root / "model"),
                   SM_OUTPUT_DATA_DIR=str(root / "output" / "data"), SM_CURRENT_HOST="algo-1",
                   SM_HOSTS='["algo-1"]')
        if attempt in self.reclaim_attempts:
            env["MW_TEST_SPOT_RECLAIM"] = "1"
        self.runs.append(subprocess.run([sys.executable, *request["AlgorithmSpecification"]["ContainerEntrypoint"][1:]],
                                        env=env, cwd=self.tmp_path, capture_output=True, text=True, timeout=300))

    def _interrupt(self, parsed, **_):
        attempt = int(parsed["TrainingJobName"].rsplit("-a", 1)[1])
        if attempt in self.fail_attempts:  # what SageMaker reports when spot capacity is not there
            parsed["TrainingJobStatus"] = "Failed"
            parsed["SecondaryStatus"] = "Failed"
            parsed["FailureReason"] = "CapacityError: Unable to provision requested ML compute capacity."
        elif attempt in self.reclaim_attempts:  # spot interruption past MaxWait
            parsed["TrainingJobStatus"] = "Stopped"
            parsed["SecondaryStatus"] = "Interrupted"


@pytest.fixture
def container(backends, tmp_path, aws_env):
    return Container(backends, tmp_path, aws_env)


def test_job_request_carries_spot_checkpoint_kms_role_and_image_digest(backends, container, moto_stack, tmp_path):
    result = run_pipeline(load_pipeline(PIPELINE), {"n": 10}, executor="inprocess", display="none",
                          home=tmp_path / "home", pipeline_file=PIPELINE)
    assert result.status == "succeeded", (result.error, [r.stderr for r in container.runs])
    [request] = container.requests
    job = moto_stack.client("sagemaker").describe_training_job(TrainingJobName=request["TrainingJobName"])
    outputs = moto_stack.outputs
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"]["S3Uri"].startswith(f"s3://{outputs['buckets']['artifacts']}/jobs/")
    assert job["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert job["OutputDataConfig"]["KmsKeyId"] == outputs["kms_key_arn"]
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == outputs["kms_key_arn"]
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert job["RoleArn"] == outputs["roles"]["sagemaker_execution"]
    assert job["AlgorithmSpecification"]["TrainingImage"].startswith(outputs["ecr_repository_urls"]["training"] + "@sha256:")
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert "VpcConfig" not in job  # this stack has no VPC
    # the remote step really ran (another process) and its output came back through S3
    values = result.output_values()
    assert values["total"] == 45 and values["heavy"]["instance"] == "ml.g5.xlarge"
    assert values["heavy"]["pid"] != os.getpid()
    assert [s.status for s in result.steps] == ["succeeded", "succeeded", "succeeded"]


def test_jobs_run_in_the_stacks_vpc_when_it_has_one(backends, moto_stack, tmp_path, aws_env):
    """The stack's private subnets and jobs security group (StackOutputs) reach DescribeTrainingJob's VpcConfig."""
    ec2 = moto_stack.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="jobs", Description="SageMaker jobs", VpcId=vpc)["GroupId"]
    outputs = {**moto_stack.outputs, "training_subnet_ids": subnets, "training_security_group_ids": [group]}
    moto_stack.outputs_file.write_text(json.dumps(outputs))
    in_vpc = use(resolve_stack(None, moto_stack.outputs_file))
    Container(in_vpc, tmp_path, aws_env)
    executor = SageMakerExecutor(in_vpc, poll_s=(0.05, 0.1))
    graph = load_pipeline(PIPELINE).build({"n": 3})
    from modelway.runtime.context import stores
    from modelway.runtime.executors import Task

    home = tmp_path / "home"
    _, artifacts = stores(home)
    make_hash = artifacts.put([0, 1, 2]).hash
    task = Task(name="heavy", node=graph.nodes["heavy"], attempt=1, input_hashes={"make": make_hash}, run_id="r-vpc",
                pipeline_name="remote_demo", home=home, params=dict(graph.params), timeout_s=None)
    executor.submit(task)
    job = moto_stack.client("sagemaker").describe_training_job(TrainingJobName=job_name("r-vpc", "heavy", 1))
    assert job["VpcConfig"] == {"SecurityGroupIds": [group], "Subnets": subnets}
    # the container reads and writes the artifact store itself: SageMaker's network isolation would cut it off
    assert job["EnableNetworkIsolation"] is False
    [(done, outcome)] = executor.wait(5)
    assert outcome.ok and artifacts.get(outcome.output.hash)["total"] == 3


def test_spot_capacity_error_goes_through_the_retry_policy(backends, container, tmp_path):
    container.fail_attempts = {1}
    result = run_pipeline(load_pipeline(PIPELINE), {"n": 5}, executor="inprocess", display="none",
                          home=tmp_path / "home", pipeline_file=PIPELINE)
    assert result.status == "succeeded", result.error
    heavy = next(s for s in result.steps if s.name == "heavy")
    assert heavy.attempts == 2
    assert len(container.requests) == 2 and len(container.runs) == 1


def test_spot_interruption_retries_and_resumes_from_the_checkpoint(backends, container, tmp_path):
    container.reclaim_attempts = {1}
    result = run_pipeline(load_pipeline(PIPELINE), {"n": 5}, executor="inprocess", display="none",
                          home=tmp_path / "home", pipeline_file=PIPELINE)
    assert result.status == "succeeded", result.error
    assert [r.returncode for r in container.runs] == [137, 0]  # killed after its checkpoint, then ran again
    assert result.output_values()["heavy"]["resumed_from"] == {"done": 5}
    assert next(s for s in result.steps if s.name == "heavy").attempts == 2


def test_outcomes_of_finished_jobs():
    base = {"TrainingJobName": "mw-x-a1"}
    capacity = outcome_of({**base, "TrainingJobStatus": "Failed",
                           "FailureReason": "CapacityError: Unable to provision requested ML compute capacity."}, None, 1)
    assert not capacity.ok and capacity.retryable
    stopped = outcome_of({**base, "TrainingJobStatus": "Stopped", "SecondaryStatus": "Interrupted"}, None, 1)
    assert not stopped.ok and stopped.retryable
    bug = outcome_of({**base, "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: exit 1"},
                     {"ok": False, "error": "ZeroDivisionError: x", "retryable": True, "deliberate": False}, 1)
    assert bug.error == "ZeroDivisionError: x"
    gate = outcome_of({**base, "TrainingJobStatus": "Failed"}, {"ok": False, "error": "AUC too low", "deliberate": True,
                                                             "retryable": True}, 1)
    assert gate.deliberate
    silent = outcome_of({**base, "TrainingJobStatus": "Completed"}, None, 1)
    assert not silent.ok and not silent.retryable and "wrote no result.json" in silent.error


def test_remote_entry_point_reports_a_failing_step(backends, moto_stack, tmp_path, aws_env):
    """The container entry point on its own: a step that raises writes result.json and /opt/ml/output/failure."""
    failing = tmp_path / "failing.py"
    failing.write_text(
        "from modelway import pipeline, step\n\n"
        "@step(instance_type='ml.m5.large')\n"
        "def boom(x: int) -> int:\n    return x // 0\n\n"
        "@pipeline\ndef failing(x: int = 1) -> int:\n    return boom(x)\n")
    container = Container(backends, tmp_path, aws_env)
    result = run_pipeline(load_pipeline(failing), {}, executor="inprocess", display="none", home=tmp_path / "home",
                          pipeline_file=failing)
    assert result.status == "failed" and "ZeroDivisionError" in result.error
    [run] = container.runs
    assert run.returncode == 1
    assert "ZeroDivisionError" in (tmp_path / "opt-ml" / "output" / "failure").read_text()
