"""Mutation pins for ``modelway.backends.aws.sagemaker_jobs``: the exact training job request, job names,
what a finished job means for the runner, and the executor against moto (no container runs: the test
writes the job's ``result.json`` itself, as the entry point would)."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelway.artifacts.store import ArtifactRef
from modelway.backends.aws import sagemaker_jobs as sj
from modelway.backends.aws.sagemaker_jobs import (
    JobNetwork,
    RemoteJob,
    RoutingExecutor,
    SageMakerExecutor,
    code_bundle,
    is_sagemaker_step,
    job_name,
    outcome_of,
    put_json,
    read_result,
    result_outcome,
    stack_network,
    stage_remote_step,
    training_job_request,
    wait_for_jobs,
)
from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.errors import ConfigError
from modelway.runtime.context import stores
from modelway.runtime.executors import Outcome, Task

PIPELINE_SRC = """\
from modelway import pipeline, step


@step
def make(n: int) -> list:
    return list(range(n))


@step(instance_type="ml.m5.large")
def plain(xs: list) -> int:
    return sum(xs)


@step(instance_type="ml.g5.xlarge", spot=True, max_runtime="2h")
def spotty(xs: list) -> int:
    return len(xs)


@step(instance_type="m5.large")
def ec2ish(xs: list) -> int:
    return 0


@pipeline
def pins(n: int = 3) -> dict:
    xs = make(n)
    return {"a": plain(xs), "b": spotty(xs), "c": ec2ish(xs)}
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from modelway.dsl.loader import load_pipeline

    folder = tmp_path_factory.mktemp("pins-pipeline")
    (folder / "pins_pipeline.py").write_text(PIPELINE_SRC)
    (folder / "helper.py").write_text("X = 1\n")
    (folder / "notes.txt").write_text("not code\n")
    return load_pipeline(folder / "pins_pipeline.py").build({"n": 3})


# -- pure parts ---------------------------------------------------------------------------------
def test_stack_network_needs_both_subnets_and_security_groups():
    both = SimpleNamespace(training_subnet_ids=["s-1", "s-2"], training_security_group_ids=["sg-1"])
    assert stack_network(both) == JobNetwork(("s-1", "s-2"), ("sg-1",))
    assert stack_network(SimpleNamespace(training_subnet_ids=["s-1"], training_security_group_ids=[])) is None
    assert stack_network(SimpleNamespace(training_subnet_ids=None, training_security_group_ids=["sg-1"])) is None


def test_only_ml_instance_types_are_sagemaker_steps(graph):
    assert is_sagemaker_step(graph.nodes["plain"]) is True
    assert is_sagemaker_step(graph.nodes["spotty"]) is True
    assert is_sagemaker_step(graph.nodes["ec2ish"]) is False
    assert is_sagemaker_step(graph.nodes["make"]) is False  # no instance type at all


def test_job_names_are_cleaned_and_bounded():
    assert job_name("r1", "heavy", 2) == "mw-r1-heavy-a2"
    assert job_name("run_1", "my step", 1) == "mw-run-1-my-step-a1"
    assert job_name("r--1", "x__y", 3) == "mw-r-1-x-y-a3"  # runs of dashes collapse to one
    # 63 characters stay as they are; 64 get a hash tail
    exact = job_name("r" * (63 - len("mw--s-a1")), "s", 1)
    assert len(exact) == 63 and exact == f"mw-{'r' * 55}-s-a1"
    long_run = "r" * (64 - len("mw--s-a1"))
    raw = f"mw-{long_run}-s-a1"
    tail = hashlib.sha256(raw.encode()).hexdigest()[:8]
    assert job_name(long_run, "s", 1) == f"{raw[:54]}-{tail}"
    # a cut that ends on a dash does not leave two dashes
    cut_on_dash = "a" * 50 + "-" + "b" * 30
    raw = f"mw-{cut_on_dash}-s-a1"
    tail = hashlib.sha256(raw.encode()).hexdigest()[:8]
    assert job_name(cut_on_dash, "s", 1) == f"mw-{'a' * 50}-{tail}"


def test_a_cut_name_keeps_letters_and_drops_only_dashes():
    name = job_name("X" * 60, "s", 1)
    assert name.startswith("mw-" + "X" * 51 + "-") and len(name) == 63


def test_job_network_is_a_frozen_value():
    network = JobNetwork(("s-1",), ("sg-1",))
    assert {network: 1}[JobNetwork(("s-1",), ("sg-1",))] == 1  # hashable, equal by value
    with pytest.raises(AttributeError):
        network.subnets = ("s-2",)


def test_training_job_request_on_spot_in_a_vpc_is_exactly_this():
    request = training_job_request(
        name="mw-x", image="img@sha256:ab", role_arn="arn:role", instance_type="ml.g5.xlarge", spot=True,
        max_runtime_s=3600.0, kms_key_arn="arn:kms", bucket="b", prefix="jobs/r/s", spec_uri="s3://b/spec.json",
        outputs_uri="s3://b/out.json", stack="dev", network=JobNetwork(("s-1", "s-2"), ("sg-1",)), volume_gb=80,
        tags={"z": "last", "a": "first"})
    assert request == {
        "TrainingJobName": "mw-x",
        "AlgorithmSpecification": {"TrainingImage": "img@sha256:ab", "TrainingInputMode": "File",
                                   "ContainerEntrypoint": ["python", "-m", "modelway.backends.remote"]},
        "RoleArn": "arn:role",
        "HyperParameters": {"modelway_spec": "s3://b/spec.json", "modelway_outputs": "s3://b/out.json"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/jobs/r/s/output", "KmsKeyId": "arn:kms"},
        "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 80,
                           "VolumeKmsKeyId": "arn:kms"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": "s3://b/jobs/r/s/checkpoints", "LocalPath": "/opt/ml/checkpoints"},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": True,
        "Environment": {"MODELWAY_STACK": "dev", "MODELWAY_IMAGE_URI": "img@sha256:ab",
                        "MODELWAY_INSTANCE_TYPE": "ml.g5.xlarge"},
        "Tags": [{"Key": "a", "Value": "first"}, {"Key": "z", "Value": "last"}],
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["s-1", "s-2"]},
    }
    assert type(request["StoppingCondition"]["MaxRuntimeInSeconds"]) is int


def test_on_demand_request_has_no_max_wait_no_vpc_and_default_volume():
    request = training_job_request(
        name="n", image="i", role_arn="r", instance_type="ml.m5.large", spot=False, max_runtime_s=60,
        kms_key_arn="k", bucket="b", prefix="p", spec_uri="s", outputs_uri="o", stack="dev")
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 60}
    assert request["EnableManagedSpotTraining"] is False
    assert request["ResourceConfig"]["VolumeSizeInGB"] == 50
    assert request["Tags"] == []
    assert "VpcConfig" not in request
    assert sj.DEFAULT_MAX_RUNTIME_S == 86400 and sj.SPOT_WAIT_FACTOR == 2


def test_outcome_of_a_completed_job_without_result():
    silent = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Completed"}, None, 4.5)
    assert silent == Outcome(False, error="SageMaker job mw-j completed but wrote no result.json; is the image's "
                             "entry point `python -m modelway.backends.remote`?", duration_s=4.5, retryable=False)


def test_outcome_of_failed_and_stopped_jobs():
    capacity = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
                           "FailureReason": "CapacityError: Unable to provision requested ML compute capacity."},
                          None, 2.0)
    assert capacity == Outcome(False, error="SageMaker job mw-j failed: CapacityError: Unable to provision requested "
                               "ML compute capacity.", duration_s=2.0, retryable=True, timed_out=False)
    bug = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: 1"},
                     None, 1.0)
    assert bug.error == "SageMaker job mw-j failed: AlgorithmError: 1" and bug.retryable is False
    # no FailureReason: the secondary status, then the status itself, is the reason
    secondary = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Failed",
                            "SecondaryStatus": "MaxRuntimeExceeded"}, None, 1.0)
    assert secondary.error == "SageMaker job mw-j failed: MaxRuntimeExceeded"
    assert secondary.timed_out is True and secondary.retryable is False
    bare = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Failed"}, None, 1.0)
    assert bare.error == "SageMaker job mw-j failed: Failed" and bare.timed_out is False
    stopped = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Stopped", "SecondaryStatus": "Interrupted"},
                         None, 3.0)
    assert stopped == Outcome(False, error="SageMaker job mw-j stopped: stopped (Interrupted): spot capacity was "
                              "reclaimed or MaxWait passed", duration_s=3.0, retryable=True, timed_out=False)
    stopped_bare = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Stopped"}, None, 3.0)
    assert stopped_bare.error == ("SageMaker job mw-j stopped: stopped (Stopped): spot capacity was reclaimed or "
                                  "MaxWait passed")


def test_a_result_wins_over_the_job_status():
    result = {"ok": True, "output": {"hash": "h1", "kind": "pickle", "size": 12, "type": "int"}}
    done = outcome_of({"TrainingJobName": "mw-j", "TrainingJobStatus": "Failed", "FailureReason": "x"}, result, 7.0)
    assert done == Outcome(True, output=ArtifactRef("h1", "pickle", 12, "int"), duration_s=7.0)


def test_result_outcome_of_a_failed_step():
    full = result_outcome({"ok": False, "error": "gate", "traceback": "tb", "retryable": False, "deliberate": True,
                           "timed_out": True}, 1.5)
    assert full == Outcome(False, error="gate", traceback="tb", duration_s=1.5, retryable=False, deliberate=True,
                           timed_out=True)
    bare = result_outcome({"ok": False}, 2.5)
    assert bare == Outcome(False, error="failed", traceback=None, duration_s=2.5, retryable=True, deliberate=False,
                           timed_out=False)
    assert result_outcome({"ok": False, "error": ""}, 0).error == "failed"


# -- waiting and routing ------------------------------------------------------------------------
def _job(next_poll: float) -> RemoteJob:
    return RemoteJob(task=SimpleNamespace(name="t"), name="j", result_key="k", next_poll=next_poll, delay=1.0)


def test_remote_job_defaults():
    before = time.monotonic()
    job = _job(0.0)
    assert job.last_status == "" and before <= job.submitted <= time.monotonic()


def test_wait_for_jobs_returns_what_finished_or_nothing_when_no_job_is_left():
    calls = []
    done = [("task", "outcome")]

    def poll():
        calls.append(1)
        return done if len(calls) == 2 else []

    jobs = {"a": _job(time.monotonic() - 1)}
    assert wait_for_jobs(jobs, poll, None) == done and len(calls) == 2
    assert wait_for_jobs({}, lambda: [], None) == []


def test_wait_for_jobs_polls_once_more_when_the_timeout_passes():
    calls = []

    def poll():
        calls.append(1)
        return [("late", len(calls))] if len(calls) == 2 else []

    jobs = {"a": _job(time.monotonic() + 3600)}  # not due for an hour: the timeout decides
    assert wait_for_jobs(jobs, poll, 0) == [("late", 2)]
    assert len(calls) == 2


def test_wait_for_jobs_sleeps_until_the_next_job_is_due_within_the_timeout():
    calls = []

    def poll():
        calls.append(1)
        return [("done", len(calls))] if len(calls) == 3 else []

    jobs = {"a": _job(time.monotonic() + 0.01)}  # due soon, well within the timeout: keep polling
    assert wait_for_jobs(jobs, poll, 60) == [("done", 3)]


class _FakeExecutor:
    """An executor at the protocol boundary: records what it was asked."""

    def __init__(self, name: str, running: int) -> None:
        self.name, self._running = name, running
        self.submitted, self.waits = [], []

    def running(self) -> int:
        return self._running

    def submit(self, task) -> None:
        self.submitted.append(task)

    def wait(self, timeout):
        self.waits.append(timeout)
        return [(self.name, timeout)]

    def cancel_all(self):
        return [f"{self.name}-task"]


def test_routing_executor_sends_each_task_where_its_node_says():
    local, remote = _FakeExecutor("local", 1), _FakeExecutor("remote", 2)
    routing = RoutingExecutor(local, remote, lambda node: node == "gpu")
    assert routing.name == "routing"
    assert routing.running() == 3
    routing.submit(SimpleNamespace(node="gpu"))
    routing.submit(SimpleNamespace(node="cpu"))
    assert [t.node for t in remote.submitted] == ["gpu"] and [t.node for t in local.submitted] == ["cpu"]
    assert routing.cancel_all() == ["local-task", "remote-task"]


def test_routing_executor_waits_on_the_busy_side_or_alternates_short_slices():
    local, remote = _FakeExecutor("local", 1), _FakeExecutor("remote", 0)
    assert RoutingExecutor(local, remote, bool).wait(5) == [("local", 5)]
    local, remote = _FakeExecutor("local", 0), _FakeExecutor("remote", 1)
    assert RoutingExecutor(local, remote, bool).wait(5) == [("remote", 5)]
    local, remote = _FakeExecutor("local", 1), _FakeExecutor("remote", 1)
    routing = RoutingExecutor(local, remote, bool)
    assert routing.wait(None) == [("local", 0.1), ("remote", 0.1)]
    assert routing.wait(5) == [("local", 0.1), ("remote", 0.1)]
    assert routing.wait(0.1) == [("local", 0.05), ("remote", 0.05)]


def test_code_bundle_copies_only_the_python_files_next_to_the_source(graph, tmp_path):
    source = Path(graph.nodes["plain"].step.fn.__code__.co_filename)
    bundle = code_bundle(source)
    try:
        assert bundle["file"] == "pins_pipeline.py"
        assert sorted(p.name for p in bundle["dir"].iterdir()) == ["helper.py", "pins_pipeline.py"]
        assert bundle["dir"].name.startswith("mw-bundle-")
        assert (bundle["dir"] / "helper.py").read_text() == "X = 1\n"
    finally:
        import shutil

        shutil.rmtree(bundle["dir"])


def test_a_step_without_a_source_file_cannot_run_remotely(tmp_path):
    namespace: dict = {}
    exec("def made_up(x):\n    return x\n", namespace)  # noqa: S102 - a function with no file behind it
    task = SimpleNamespace(name="made_up", node=SimpleNamespace(step=SimpleNamespace(fn=namespace["made_up"])))
    with pytest.raises(ConfigError) as err:
        sj._code_bundle(task)
    assert str(err.value) == ("step 'made_up': its source file is not available; SageMaker steps must be defined in "
                              "a pipeline file")


# -- against moto -------------------------------------------------------------------------------
DIGEST = "sha256:" + "c" * 64


def _push(moto_stack, tag: str = "latest") -> str:
    """Push an image manifest under ``tag``; returns its digest as ECR reports it."""
    ecr = moto_stack.client("ecr")
    repo = moto_stack.outputs["ecr_repository_urls"]["training"].split("/", 1)[1]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                           "digest": DIGEST}, "layers": []}
    return ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)["image"]["imageId"][
        "imageDigest"]


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    """One stack for this module's executor tests (creating one takes seconds); each test uses its own run id."""
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        stack = create_stack(moto_endpoint, tmp_path_factory.mktemp("sagemaker-pins"))
        stack.training_digest = _push(stack)
        stack.backends = use(resolve_stack(None, stack.outputs_file))  # boto3 clients are slow to make: once
        yield stack


@pytest.fixture
def moto_stack(shared_stack, aws_env):
    return shared_stack


@pytest.fixture
def backends(moto_stack):
    from modelway import active_backends

    active_backends.install(moto_stack.backends)  # what use() does, with the module's clients
    return moto_stack.backends


@pytest.fixture
def captured(backends):
    """CreateTrainingJob requests as boto3 sends them; the job's status as the test wants it."""
    seen = {"requests": [], "stops": [], "status": None, "unknown": set()}
    events = backends.clients.get("sagemaker").meta.events

    def capture(params, **_):
        seen["requests"].append(dict(params))

    def stop(params, **_):
        seen["stops"].append(params["TrainingJobName"])

    def answer_stop(params, **_):
        # moto has no StopTrainingJob (a 5xx botocore would retry for seconds): answer it here, as AWS would
        if params["TrainingJobName"] in seen["unknown"]:
            return SimpleNamespace(status_code=400), {"Error": {"Code": "ValidationException",
                                                                "Message": "Requested resource not found."}}
        return SimpleNamespace(status_code=200), {}

    def status(parsed, **_):
        if seen["status"]:
            parsed["TrainingJobStatus"], parsed["SecondaryStatus"] = seen["status"]

    handlers = [("provide-client-params.sagemaker.CreateTrainingJob", capture),
                ("provide-client-params.sagemaker.StopTrainingJob", stop),
                ("before-call.sagemaker.StopTrainingJob", answer_stop),
                ("after-call.sagemaker.DescribeTrainingJob", status)]
    for event, handler in handlers:
        events.register(event, handler)
    yield seen
    for event, handler in handlers:  # the client is shared by the module's tests
        events.unregister(event, handler)


def _task(graph, step: str, tmp_path: Path, *, attempt: int = 1, timeout_s=None, run_id: str = "r-pins") -> Task:
    home = tmp_path / "home"
    _, artifacts = stores(home)
    return Task(name=step, node=graph.nodes[step], attempt=attempt,
                input_hashes={"xs": artifacts.put([0, 1, 2]).hash}, run_id=run_id, pipeline_name="pins",
                home=home, params=dict(graph.params), timeout_s=timeout_s)


def test_image_is_the_training_repository_pinned_by_digest_and_resolved_once(backends, moto_stack, monkeypatch):
    monkeypatch.delenv("MODELWAY_IMAGE_TAG", raising=False)
    assert SageMakerExecutor(backends).image_tag == "latest"
    executor = SageMakerExecutor(backends, image_tag="first")
    assert executor.name == "sagemaker"
    assert (executor.poll_min, executor.poll_max) == (2.0, 30.0)
    url = moto_stack.outputs["ecr_repository_urls"]["training"]
    with pytest.raises(ConfigError) as err:
        executor.image()
    assert str(err.value) == (f"stack dev: no image tagged 'first' in {url}; build and push it first (the CI job "
                              "'image', or docker build + docker push)")
    digest = _push(moto_stack, tag="first")
    assert digest.startswith("sha256:")
    assert executor.image() == f"{url}@{digest}"
    ecr = moto_stack.client("ecr")
    ecr.batch_delete_image(repositoryName=url.split("/", 1)[1], imageIds=[{"imageTag": "first"}])
    assert executor.image() == f"{url}@{digest}"  # resolved once per executor
    assert SageMakerExecutor(backends).image() == f"{url}@{moto_stack.training_digest}"


def test_image_tag_comes_from_the_argument_then_the_environment(backends, moto_stack, monkeypatch):
    monkeypatch.setenv("MODELWAY_IMAGE_TAG", "abc123")
    assert SageMakerExecutor(backends).image_tag == "abc123"
    assert SageMakerExecutor(backends, image_tag="v2").image_tag == "v2"
    digest = _push(moto_stack, tag="abc123")
    url = moto_stack.outputs["ecr_repository_urls"]["training"]
    assert SageMakerExecutor(backends).image() == f"{url}@{digest}"
    with pytest.raises(ConfigError, match="no image tagged 'v2'"):
        SageMakerExecutor(backends, image_tag="v2").image()


def test_a_stack_without_a_training_repository_says_so(moto_stack, tmp_path):
    outputs = {**moto_stack.outputs, "ecr_repository_urls": {"serving": moto_stack.outputs["ecr_repository_urls"]["serving"]}}
    (tmp_path / "dev-outputs.json").write_text(json.dumps(outputs))
    executor = SageMakerExecutor(use(resolve_stack(None, tmp_path / "dev-outputs.json")))
    with pytest.raises(ConfigError) as err:
        executor.image()
    assert str(err.value) == ("stack dev: no 'training' ECR repository in the outputs (ecr_repository_urls); "
                              "SageMaker steps need one")


def test_submit_poll_and_finish_one_job(backends, moto_stack, captured, graph, tmp_path, monkeypatch):
    monkeypatch.delenv("MODELWAY_IMAGE_TAG", raising=False)
    digest = moto_stack.training_digest
    logs = []
    executor = SageMakerExecutor(backends, poll_s=(0.0, 0.0), on_log=lambda step, msg: logs.append((step, msg)))
    assert executor.network is None  # this stack has no VPC
    task = _task(graph, "plain", tmp_path, timeout_s=120, run_id="r-submit")
    executor.submit(task)
    assert executor.running() == 1
    [request] = captured["requests"]
    outputs = moto_stack.outputs
    bucket = outputs["buckets"]["artifacts"]
    image = f"{outputs['ecr_repository_urls']['training']}@{digest}"
    assert request["TrainingJobName"] == "mw-r-submit-plain-a1"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 120}  # the step's timeout, no max_runtime
    assert request["RoleArn"] == outputs["roles"]["sagemaker_execution"]
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{bucket}/jobs/r-submit/plain/output",
                                           "KmsKeyId": outputs["kms_key_arn"]}
    assert request["HyperParameters"] == {"modelway_spec": f"s3://{bucket}/jobs/r-submit/plain/attempt-1/spec.json",
                                          "modelway_outputs": f"s3://{bucket}/jobs/r-submit/plain/stack-outputs.json"}
    assert request["Environment"] == {"MODELWAY_STACK": "dev", "MODELWAY_IMAGE_URI": image,
                                      "MODELWAY_INSTANCE_TYPE": "ml.m5.large"}
    assert request["Tags"] == [{"Key": "environment", "Value": "dev"}, {"Key": "modelway-run", "Value": "r-submit"},
                               {"Key": "modelway-step", "Value": "plain"}]
    note = f"SageMaker training job mw-r-submit-plain-a1 on ml.m5.large, image {image}"
    assert logs == [("plain", note)]
    run_store, _ = stores(task.home)
    assert [(e["step"], e["kind"], e["message"]) for e in run_store.events("r-submit")] == [("plain", "note", note)]

    # still running: polled again with backoff, status logged once per change
    captured["status"] = ("InProgress", "Training")
    assert executor.wait(0) == []
    assert executor.wait(0) == []
    assert logs[1:] == [("plain", "SageMaker job mw-r-submit-plain-a1: InProgress/Training")]
    assert executor.running() == 1

    # the container wrote its result: the job is done and leaves the executor
    s3 = moto_stack.client("s3")
    s3.put_object(Bucket=bucket, Key="jobs/r-submit/plain/attempt-1/result.json", Body=json.dumps(
        {"ok": True, "output": {"hash": "h", "kind": "pickle", "size": 3, "type": "int"}}).encode())
    captured["status"] = ("Completed", "Completed")
    [(done, outcome)] = executor.wait(0)
    assert done is task and outcome.ok and outcome.output == ArtifactRef("h", "pickle", 3, "int")
    assert outcome.duration_s > 0
    assert logs[-1] == ("plain", "SageMaker job mw-r-submit-plain-a1: Completed/Completed")
    assert executor.running() == 0


def test_spot_steps_use_their_max_runtime_and_say_spot(backends, moto_stack, captured, graph, tmp_path):
    logs = []
    executor = SageMakerExecutor(backends, image_tag="latest", on_log=lambda step, msg: logs.append(msg))
    executor.submit(_task(graph, "spotty", tmp_path, attempt=2, timeout_s=5, run_id="r-spot"))
    [request] = captured["requests"]
    assert request["TrainingJobName"] == "mw-r-spot-spotty-a2"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert request["EnableManagedSpotTraining"] is True
    assert logs[0].startswith("SageMaker training job mw-r-spot-spotty-a2 on ml.g5.xlarge (spot), image ")


def test_no_timeout_anywhere_means_a_day(backends, moto_stack, captured, graph, tmp_path):
    SageMakerExecutor(backends).submit(_task(graph, "plain", tmp_path, run_id="r-day"))
    assert captured["requests"][0]["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}


def test_a_job_that_finished_without_a_result(backends, moto_stack, captured, graph, tmp_path):
    executor = SageMakerExecutor(backends, poll_s=(0.0, 0.0))
    task = _task(graph, "plain", tmp_path, run_id="r-noresult")
    executor.submit(task)
    captured["status"] = ("Failed", "Failed")
    [(done, outcome)] = executor.wait(0)
    assert done is task and outcome.ok is False and outcome.error == "SageMaker job mw-r-noresult-plain-a1 failed: Failed"


def test_a_stopped_job_is_finished_and_an_explicit_network_is_used(backends, moto_stack, captured, graph, tmp_path):
    network = JobNetwork(("subnet-1",), ("sg-1",))
    executor = SageMakerExecutor(backends, network=network, poll_s=(0.0, 0.0))
    assert executor.network is network
    executor.submit(_task(graph, "plain", tmp_path, run_id="r-stopped"))
    assert captured["requests"][0]["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    captured["status"] = ("Stopped", "Interrupted")
    [(_, outcome)] = executor.wait(0)
    assert outcome.error == ("SageMaker job mw-r-stopped-plain-a1 stopped: stopped (Interrupted): spot capacity was "
                             "reclaimed or MaxWait passed")
    assert executor.running() == 0


def test_jobs_not_due_are_not_polled(backends, moto_stack, captured, graph, tmp_path):
    executor = SageMakerExecutor(backends, poll_s=(3600.0, 3600.0))
    executor.submit(_task(graph, "plain", tmp_path, run_id="r-notdue"))
    captured["status"] = ("InProgress", "Training")
    executor._poll_due()  # first poll is due at once; the next one is an hour away
    job = executor._jobs["plain"]
    assert job.delay == 3600.0 and job.next_poll > time.monotonic() + 3000
    captured["status"] = ("Completed", "Completed")
    assert executor._poll_due() == [] and executor.running() == 1


def test_backoff_grows_to_the_ceiling(backends, moto_stack, captured, graph, tmp_path):
    from modelway.runtime import retry

    executor = SageMakerExecutor(backends, poll_s=(1.0, 1.5))
    executor.submit(_task(graph, "plain", tmp_path, run_id="r-backoff"))
    captured["status"] = ("InProgress", "Training")
    executor._poll_due()
    assert executor._jobs["plain"].delay == min(1.5, 1.0 * retry.POLL_BACKOFF)


def test_cancel_all_stops_every_job_and_forgets_them(backends, moto_stack, captured, graph, tmp_path):
    executor = SageMakerExecutor(backends)
    plain = _task(graph, "plain", tmp_path, run_id="r-cancel")
    spotty = _task(graph, "spotty", tmp_path, run_id="r-cancel")
    executor.submit(plain)
    executor.submit(spotty)
    assert executor.running() == 2
    assert executor.cancel_all() == [plain, spotty]
    assert sorted(captured["stops"]) == ["mw-r-cancel-plain-a1", "mw-r-cancel-spotty-a1"]
    assert executor.running() == 0
    assert executor.cancel_all() == []


def test_cancelling_is_best_effort(backends, moto_stack, captured, graph, tmp_path):
    executor = SageMakerExecutor(backends)
    plain = _task(graph, "plain", tmp_path, run_id="r-besteffort")
    spotty = _task(graph, "spotty", tmp_path, run_id="r-besteffort")
    executor.submit(plain)
    executor.submit(spotty)
    captured["unknown"].add("mw-r-besteffort-plain-a1")  # StopTrainingJob fails for the first job
    assert executor.cancel_all() == [plain, spotty] and executor.running() == 0
    assert captured["stops"] == ["mw-r-besteffort-plain-a1", "mw-r-besteffort-spotty-a1"]  # the second one is still stopped


def test_stage_remote_step_uploads_spec_and_outputs(backends, moto_stack, graph, tmp_path):
    task = _task(graph, "plain", tmp_path, attempt=3)
    staged = stage_remote_step(backends, task)
    bucket = moto_stack.outputs["buckets"]["artifacts"]
    assert staged.prefix == "jobs/r-pins/plain"
    assert staged.result_key == "jobs/r-pins/plain/attempt-3/result.json"
    assert staged.hyperparameters == {"modelway_spec": f"s3://{bucket}/jobs/r-pins/plain/attempt-3/spec.json",
                                      "modelway_outputs": f"s3://{bucket}/jobs/r-pins/plain/stack-outputs.json"}
    s3 = moto_stack.client("s3")
    spec = json.loads(s3.get_object(Bucket=bucket, Key="jobs/r-pins/plain/attempt-3/spec.json")["Body"].read())
    _, artifacts = stores(task.home)
    assert spec == {"run_id": "r-pins", "step": "plain", "attempt": 3, "pipeline": "pins",
                    "pipeline_file": "pins_pipeline.py", "bundle": spec["bundle"],
                    "params": artifacts.put({"n": 3}).hash, "input_hashes": task.input_hashes,
                    "result_key": "jobs/r-pins/plain/attempt-3/result.json"}
    bundle = artifacts.get(spec["bundle"])
    assert bundle is not None
    outputs = json.loads(s3.get_object(Bucket=bucket, Key="jobs/r-pins/plain/stack-outputs.json")["Body"].read())
    assert outputs == backends.outputs.model_dump(mode="json")


def test_put_json_is_sorted_and_under_the_stacks_kms_key(backends, moto_stack):
    bucket = moto_stack.outputs["buckets"]["artifacts"]
    assert put_json(backends, "x/doc.json", {"b": 1, "a": [2]}) == f"s3://{bucket}/x/doc.json"
    got = moto_stack.client("s3").get_object(Bucket=bucket, Key="x/doc.json")
    assert got["Body"].read() == b'{"a": [2], "b": 1}'
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == moto_stack.outputs["kms_key_arn"]
    assert got["ContentType"] == "application/json"
    assert read_result(backends, "x/doc.json") == {"a": [2], "b": 1}
    assert read_result(backends, "x/missing.json") is None
