"""Mutation pins for ``modelway.backends.kubernetes.executor``: job names, which steps go to the cluster, what
a Job's status means, and the executor through the real ``kubernetes`` client against a small fake API
server on 127.0.0.1 (the boundary: it stores Jobs and answers with the status the test sets; no pod runs,
the test writes the step's ``result.json`` to moto's S3 itself)."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from kubernetes import client

from modelway.artifacts.store import ArtifactRef
from modelway.backends.kubernetes.executor import (
    KubernetesExecutor,
    _phase,
    is_kubernetes_step,
    job_outcome,
    k8s_job_name,
)
from modelway.backends.kubernetes.jobs import JobTarget
from modelway.backends.mapping import backends_for, use
from modelway.backends.stack import resolve_stack
from modelway.contracts.resource_settings import ResourceSettings
from modelway.errors import UserError
from modelway.runtime.context import stores
from modelway.runtime.executors import Outcome, Task

PIPELINE_SRC = """\
from modelway import pipeline, step


@step(gpus=1, spot=True)
def train(n: int) -> int:
    return n


@step(gpus=2, max_runtime="1h")
def score(x: int) -> int:
    return x


@pipeline
def k8s_pins(n: int = 1) -> int:
    return score(train(n))
"""


# -- pure parts ---------------------------------------------------------------------------------
def test_job_names_are_dns_labels():
    assert k8s_job_name("R1", "Train_Step", 2) == "mw-r1-train-step-a2"
    assert k8s_job_name("r..1", "x", 1) == "mw-r-1-x-a1"
    exact = "r" * (63 - len("mw--s-a1"))
    assert k8s_job_name(exact, "s", 1) == f"mw-{exact}-s-a1"
    long_run = exact + "r"
    raw = f"mw-{long_run}-s-a1"
    assert k8s_job_name(long_run, "s", 1) == f"{raw[:54]}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    on_dash = "a" * 50 + "-" + "b" * 30
    raw = f"mw-{on_dash}-s-a1"
    assert k8s_job_name(on_dash, "s", 1) == f"mw-{'a' * 50}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    assert k8s_job_name("-r-", "s-", 1) == "mw--r--s--a1"  # runs of dashes are valid in a DNS-1123 label


def _node(**resources):
    return SimpleNamespace(settings=SimpleNamespace(resources=ResourceSettings(**resources)))


def test_gpu_steps_without_a_sagemaker_type_go_to_the_cluster():
    assert is_kubernetes_step(_node(gpus=1)) is True
    assert is_kubernetes_step(_node(gpus=1, instance_type="g5.xlarge")) is True
    assert is_kubernetes_step(_node(gpus=1, instance_type="ml.g5.xlarge")) is False
    assert is_kubernetes_step(_node()) is False
    assert is_kubernetes_step(_node(spot=True)) is False


def _cond(type_, status="True", reason=None, message=None):
    return client.V1JobCondition(type=type_, status=status, reason=reason, message=message)


def test_phases_of_a_job():
    assert _phase(None) == "Pending"
    assert _phase(client.V1JobStatus()) == "Pending"
    assert _phase(client.V1JobStatus(active=1)) == "Running"
    assert _phase(client.V1JobStatus(succeeded=1)) == "Succeeded"
    assert _phase(client.V1JobStatus(failed=1)) == "Failed"
    assert _phase(client.V1JobStatus(conditions=[_cond("Complete")])) == "Succeeded"
    assert _phase(client.V1JobStatus(conditions=[_cond("SuccessCriteriaMet")])) == "Succeeded"
    assert _phase(client.V1JobStatus(conditions=[_cond("Failed")])) == "Failed"
    assert _phase(client.V1JobStatus(conditions=[_cond("FailureTarget")])) == "Failed"
    # conditions that are not True say nothing; the counts decide
    assert _phase(client.V1JobStatus(active=1, conditions=[_cond("Complete", "False"), _cond("Failed", "False")])) == "Running"
    assert _phase(client.V1JobStatus(failed=1, conditions=[_cond("Suspended")])) == "Failed"
    # a condition wins over the counts
    assert _phase(client.V1JobStatus(succeeded=1, conditions=[_cond("Failed")])) == "Failed"


def test_outcome_of_a_job_that_succeeded_without_a_result():
    status = client.V1JobStatus(succeeded=1)
    assert job_outcome("mw-j", status, None, 2.0) == Outcome(
        False, error="Kubernetes Job mw-j succeeded but wrote no result.json; is the image's entry point "
        "`python -m modelway.backends.remote`?", duration_s=2.0, retryable=False)


def test_outcome_of_a_job_that_failed_before_its_step_finished():
    status = client.V1JobStatus(failed=1, conditions=[
        _cond("Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit"),
        _cond("FailureTarget", reason="PodFailed"), _cond("Suspended", "False", reason="Ignored", message="x"),
        _cond("Other")])
    assert job_outcome("mw-j", status, None, 3.0) == Outcome(
        False, error="Kubernetes Job mw-j failed before its step finished (BackoffLimitExceeded: Job has reached the "
        "specified backoff limit; PodFailed)", duration_s=3.0, retryable=True, timed_out=False)
    deadline = client.V1JobStatus(failed=1, conditions=[_cond("Failed", reason="DeadlineExceeded",
                                                              message="Job was active longer than specified deadline")])
    timed = job_outcome("mw-j", deadline, None, 1.0)
    assert timed.timed_out is True and timed.retryable is True
    bare = job_outcome("mw-j", client.V1JobStatus(failed=1), None, 1.0)
    assert bare.error == "Kubernetes Job mw-j failed before its step finished (failed)" and bare.timed_out is False


def test_a_result_wins_over_the_job_status():
    result = {"ok": True, "output": {"hash": "h", "kind": "json", "size": 2, "type": "dict"}}
    assert job_outcome("mw-j", client.V1JobStatus(failed=1), result, 4.0) == Outcome(
        True, output=ArtifactRef("h", "json", 2, "dict"), duration_s=4.0)
    failed = job_outcome("mw-j", client.V1JobStatus(succeeded=1), {"ok": False, "error": "gate", "deliberate": True}, 1.0)
    assert failed.error == "gate" and failed.deliberate is True


# -- the executor against a fake API server -----------------------------------------------------
class FakeApi(ThreadingHTTPServer):
    """Jobs by (namespace, name); ``status`` by name is what a GET answers; ``refuse`` answers a create with 403."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.jobs: dict[tuple[str, str], dict] = {}
        self.status: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.refuse = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def log_message(self, *args):
        pass

    def _reply(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _parts(self) -> list[str]:
        self.server.requests.append((self.command, self.path))
        return self.path.split("?")[0].strip("/").split("/")  # apis/batch/v1/namespaces/<ns>/jobs[/<name>[/status]]

    def do_POST(self):
        parts = self._parts()
        job = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.refuse:
            return self._reply(403, {"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403})
        self.server.jobs[(parts[4], job["metadata"]["name"])] = job
        self._reply(201, job)

    def do_GET(self):
        parts = self._parts()
        job = self.server.jobs.get((parts[4], parts[6]))
        if job is None:
            return self._reply(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        self._reply(200, {**job, "status": self.server.status.get(parts[6], {})})

    def do_DELETE(self):
        parts = self._parts()
        if self.server.jobs.pop((parts[4], parts[6]), None) is None:
            return self._reply(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        self._reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        stack = create_stack(moto_endpoint, tmp_path_factory.mktemp("k8s-pins"))
        repo = stack.outputs["ecr_repository_urls"]["training"].split("/", 1)[1]
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                               "digest": "sha256:" + "d" * 64}, "layers": []}
        stack.image = (stack.outputs["ecr_repository_urls"]["training"] + "@" + stack.client("ecr").put_image(
            repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="latest")["image"]["imageId"]["imageDigest"])
        folder = tmp_path_factory.mktemp("k8s-outputs")
        (folder / "dev-outputs.json").write_text(json.dumps({**stack.outputs, "kubernetes_namespaces": ["team-a", "team-b"]}))
        stack.backends = use(resolve_stack(None, folder / "dev-outputs.json"))  # boto3 clients are slow to make: once
        yield stack


@pytest.fixture(scope="module")
def api():
    server = FakeApi()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from modelway.dsl.loader import load_pipeline

    folder = tmp_path_factory.mktemp("k8s-pipeline")
    (folder / "k8s_pins.py").write_text(PIPELINE_SRC)
    return load_pipeline(folder / "k8s_pins.py").build({"n": 1})


def _backends(stack, folder, **outputs):
    """The stack's backends with other outputs (not installed, no clients made: only the target is read)."""
    doc = {**stack.outputs, "kubernetes_namespaces": ["team-a", "team-b"], **outputs}
    (folder / "dev-outputs.json").write_text(json.dumps(doc))
    return backends_for(resolve_stack(None, folder / "dev-outputs.json"))


@pytest.fixture
def backends(shared_stack, aws_env, monkeypatch):
    from modelway import active_backends

    monkeypatch.delenv("MODELWAY_IMAGE_TAG", raising=False)
    active_backends.install(shared_stack.backends)  # what use() does, with the module's clients
    return shared_stack.backends


def _executor(backends, api, **kw):
    configuration = client.Configuration(host=api.url)
    return KubernetesExecutor(backends, api_client=client.ApiClient(configuration), **kw)


def _task(graph, step, tmp_path, run_id, attempt=1):
    home = tmp_path / "home"
    return Task(name=step, node=graph.nodes[step], attempt=attempt, input_hashes={}, run_id=run_id,
                pipeline_name="k8s_pins", home=home, params=dict(graph.params), timeout_s=None)


def test_the_target_follows_the_stack(shared_stack, aws_env, tmp_path, api):
    plain = _executor(_backends(shared_stack, tmp_path), api)
    assert plain.name == "kubernetes" and (plain.poll_min, plain.poll_max) == (2.0, 30.0)
    assert plain.target == JobTarget("team-a", "modelway-dev-spot-preemptible", "default")
    team_b = _executor(_backends(shared_stack, tmp_path), api, team="team-b")
    assert team_b.target.namespace == "team-b"
    custom = _executor(_backends(shared_stack, tmp_path, workload_service_account="wl-sa",
                                 spot_priority_class="custom-pc"), api)
    assert custom.target == JobTarget("team-a", "custom-pc", "wl-sa")


def test_submit_poll_and_finish_a_job(backends, shared_stack, api, graph, tmp_path):
    logs = []
    executor = _executor(backends, api, poll_s=(0.0, 0.0), on_log=lambda step, msg: logs.append((step, msg)))
    task = _task(graph, "train", tmp_path, "r-k8s-ok")
    executor.submit(task)
    assert executor.running() == 1
    name = "mw-r-k8s-ok-train-a1"
    job = api.jobs[("team-a", name)]
    bucket = shared_stack.outputs["buckets"]["artifacts"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert container["image"] == shared_stack.image
    assert env["MODELWAY_STACK"] == "dev" and env["MODELWAY_INSTANCE_TYPE"] == "kubernetes:team-a"
    assert json.loads(env["SM_HPS"]) == {
        "modelway_spec": f"s3://{bucket}/jobs/r-k8s-ok/train/attempt-1/spec.json",
        "modelway_outputs": f"s3://{bucket}/jobs/r-k8s-ok/train/stack-outputs.json"}
    assert job["spec"]["backoffLimit"] == 0  # retries are the runner's
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "modelway-dev-spot-preemptible"
    note = f"Kubernetes Job team-a/{name} (1 GPU(s), spot)"
    assert logs == [("train", note)]
    run_store, _ = stores(task.home)
    assert [(e["step"], e["kind"], e["message"]) for e in run_store.events("r-k8s-ok")] == [("train", "note", note)]

    assert executor.wait(0) == []  # no status yet: Pending
    api.status[name] = {"active": 1}
    assert executor.wait(0) == []
    assert executor.wait(0) == []
    assert logs[1:] == [("train", f"Kubernetes Job {name}: Pending"), ("train", f"Kubernetes Job {name}: Running")]

    shared_stack.client("s3").put_object(Bucket=bucket, Key="jobs/r-k8s-ok/train/attempt-1/result.json", Body=json.dumps(
        {"ok": True, "output": {"hash": "h", "kind": "json", "size": 1, "type": "int"}}).encode())
    api.status[name] = {"succeeded": 1}
    [(done, outcome)] = executor.wait(0)
    assert done is task and outcome.ok and outcome.output == ArtifactRef("h", "json", 1, "int")
    assert outcome.duration_s > 0
    assert logs[-1] == ("train", f"Kubernetes Job {name}: Succeeded")
    assert executor.running() == 0


def test_a_failed_job_without_a_result_is_retryable(backends, api, graph, tmp_path):
    executor = _executor(backends, api, poll_s=(0.0, 0.0))
    task = _task(graph, "score", tmp_path, "r-k8s-fail", attempt=2)
    executor.submit(task)
    name = "mw-r-k8s-fail-score-a2"
    assert api.jobs[("team-a", name)]["spec"]["activeDeadlineSeconds"] == 3600
    api.status[name] = {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}
    [(done, outcome)] = executor.wait(0)
    assert outcome.error == f"Kubernetes Job {name} failed before its step finished (DeadlineExceeded)"
    assert outcome.retryable is True and outcome.timed_out is True


def test_a_note_without_spot_says_only_the_gpus(backends, api, graph, tmp_path):
    logs = []
    executor = _executor(backends, api, on_log=lambda step, msg: logs.append(msg))
    executor.submit(_task(graph, "score", tmp_path, "r-k8s-note"))
    assert logs == ["Kubernetes Job team-a/mw-r-k8s-note-score-a1 (2 GPU(s))"]


def test_polls_back_off_and_jobs_not_due_wait(backends, api, graph, tmp_path):
    from modelway.runtime import retry

    executor = _executor(backends, api, poll_s=(1.0, 1.5))
    executor.submit(_task(graph, "train", tmp_path, "r-k8s-backoff"))
    name = "mw-r-k8s-backoff-train-a1"
    api.status[name] = {"active": 1}
    executor._poll_due()
    job = executor._jobs["train"]
    assert job.delay == min(1.5, 1.0 * retry.POLL_BACKOFF)
    assert job.next_poll > time.monotonic()
    api.status[name] = {"succeeded": 1}
    before = len(api.requests)
    assert executor._poll_due() == [] and len(api.requests) == before  # not due: not even asked


def test_a_refused_create_is_one_line(backends, api, graph, tmp_path):
    api.refuse = True
    try:
        with pytest.raises(UserError) as err:
            _executor(backends, api).submit(_task(graph, "train", tmp_path, "r-k8s-refused"))
    finally:
        api.refuse = False
    assert str(err.value) == ("Kubernetes: cannot create Job mw-r-k8s-refused-train-a1 in namespace team-a: "
                              "403 Forbidden")


def test_cancel_all_deletes_every_job_in_the_background(backends, api, graph, tmp_path):
    executor = _executor(backends, api)
    train, score = _task(graph, "train", tmp_path, "r-k8s-cancel"), _task(graph, "score", tmp_path, "r-k8s-cancel")
    executor.submit(train)
    executor.submit(score)
    api.jobs.pop(("team-a", "mw-r-k8s-cancel-train-a1"))  # already gone: its delete fails, the next still runs
    before = len(api.requests)
    assert executor.cancel_all() == [train, score] and executor.running() == 0
    deletes = [(m, p) for m, p in api.requests[before:] if m == "DELETE"]
    assert [p.split("?")[0] for _, p in deletes] == [
        "/apis/batch/v1/namespaces/team-a/jobs/mw-r-k8s-cancel-train-a1",
        "/apis/batch/v1/namespaces/team-a/jobs/mw-r-k8s-cancel-score-a1"]
    assert ("team-a", "mw-r-k8s-cancel-score-a1") not in api.jobs
    assert all("propagationPolicy=Background" in p for _, p in deletes)


def test_without_kubeconfig_or_cluster_the_message_says_what_to_run(shared_stack, aws_env, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    named = KubernetesExecutor(_backends(shared_stack, tmp_path, cluster_name="modelway-dev"))
    with pytest.raises(UserError) as err:
        named.batch()
    assert str(err.value) == ("Kubernetes steps: no kubeconfig and not in a cluster (Service host/port is not set.); "
                              "run aws eks update-kubeconfig --name modelway-dev")
    unnamed = KubernetesExecutor(_backends(shared_stack, tmp_path))
    with pytest.raises(UserError, match=r"--name the stack's cluster$"):
        unnamed.batch()


def test_the_kubeconfig_is_read_when_the_client_is_made(shared_stack, aws_env, tmp_path, monkeypatch, api):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "pins",
        "clusters": [{"name": "pins", "cluster": {"server": api.url}}],
        "users": [{"name": "pins", "user": {"token": "t"}}],
        "contexts": [{"name": "pins", "context": {"cluster": "pins", "user": "pins"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    executor = KubernetesExecutor(_backends(shared_stack, tmp_path))
    batch = executor.batch()
    assert batch.api_client.configuration.host == api.url
    assert executor.batch().api_client is batch.api_client  # made once


def test_inside_a_cluster_the_pods_service_account_is_used_once(shared_stack, aws_env, tmp_path, monkeypatch, api):
    """No kubeconfig, but the pod's service account (token and CA files, the API server's env vars)."""
    from kubernetes.config import incluster_config

    (tmp_path / "token").write_text("pod-token")
    (tmp_path / "ca.crt").write_text("not checked until a TLS connection is made")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    # loading the in-cluster config replaces the client's process-wide default: put it back after the test
    monkeypatch.setattr(client.Configuration, "_default", getattr(client.Configuration, "_default", None))
    executor = KubernetesExecutor(_backends(shared_stack, tmp_path))
    batch = executor.batch()
    assert batch.api_client.configuration.host == "https://10.0.0.1:443"
    assert batch.api_client.configuration.api_key["BearerToken"] == "bearer pod-token"
    assert executor.batch().api_client is batch.api_client  # configured once, then reused
