"""Heavy GPU steps submitted as Kubernetes Jobs through the official ``kubernetes`` client, end to end.

No API server can run here, so the test starts a small real HTTP server on 127.0.0.1 that
speaks the three Kubernetes REST endpoints the executor uses (create a Job, read its status,
delete it) and plays the kubelet: when a Job is created it runs the Job's container command
as a subprocess with the pod's environment (``SM_HPS``, ``MODELWAY_*``), against moto's S3.
The client is configured from a kubeconfig file (``$KUBECONFIG``) naming that server and a
bearer token, so configuration loading, serialization, HTTP and deserialization are the
real client's.

Not exercised: the API server's admission (Pod Security ``restricted``, ResourceQuota),
scheduling onto the GPU pool, the NVIDIA device plugin, the Job controller's own retries
and ``podFailurePolicy``, image pulls, EKS Pod Identity, and ``watch`` streams (the executor
polls ``read_namespaced_job_status``). The manifest itself is validated against the
Kubernetes schemas before it is sent (``validate_manifest``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelway.backends.mapping import use
from modelway.backends.stack import resolve_stack
from modelway.dsl.loader import load_pipeline
from modelway.runtime.runner import run_pipeline

PIPELINE = Path(__file__).parent / "k8s" / "gpu_demo.py"
TOKEN = "modelway-test-token"


class FakeKubernetes(ThreadingHTTPServer):
    """Jobs by namespace/name; ``reclaim`` holds Job names whose pod dies before the step finishes (spot reclaim)."""

    def __init__(self, root: Path, aws_env: dict[str, str]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root, self.aws_env = root, aws_env
        self.jobs: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization header
        self.reclaim: set[str] = set()
        self.runs: list[subprocess.CompletedProcess] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start_pod(self, job: dict) -> None:
        threading.Thread(target=self._pod, args=(job,), daemon=True).start()

    def _pod(self, job: dict) -> None:
        name = job["metadata"]["name"]
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if name in self.reclaim:  # the spot node went away: the container died without a result
            job["status"] = {"failed": 1, "startTime": now, "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit", "lastTransitionTime": now}]}
            return
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELWAY_", "SM_"))}
        env.update(self.aws_env, **{e["name"]: e["value"] for e in container["env"]})
        env["MODELWAY_SM_ROOT"] = str(self.root / name)  # /opt/ml is an emptyDir in the pod
        done = subprocess.run([sys.executable, *container["command"][1:]], env=env, cwd=self.root,
                              capture_output=True, text=True, timeout=300)
        self.runs.append(done)
        kind = "Complete" if done.returncode == 0 else "Failed"
        job["status"] = {("succeeded" if done.returncode == 0 else "failed"): 1, "startTime": now,
                         "conditions": [{"type": kind, "status": "True", "lastTransitionTime": now,
                                         "reason": None if kind == "Complete" else "BackoffLimitExceeded"}]}


class _Handler(BaseHTTPRequestHandler):
    server: FakeKubernetes

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> tuple[str, str | None, bool] | None:
        parts = self.path.split("?")[0].strip("/").split("/")
        # apis/batch/v1/namespaces/<ns>/jobs[/<name>[/status]]
        if parts[:3] != ["apis", "batch", "v1"] or len(parts) < 5 or parts[3] != "namespaces" or parts[5:6] != ["jobs"]:
            return None
        return parts[4], (parts[6] if len(parts) > 6 else None), parts[-1] == "status"

    def _record(self) -> tuple[str, str | None, bool] | None:
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization")))
        return self._route()

    def do_POST(self):
        route = self._record()
        if route is None or route[1] is not None:
            return self._reply(404, {"kind": "Status", "status": "Failure", "code": 404})
        job = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = (route[0], job["metadata"]["name"])
        if key in self.server.jobs:
            return self._reply(409, {"kind": "Status", "status": "Failure", "reason": "AlreadyExists", "code": 409})
        job["metadata"].update(uid=f"uid-{len(self.server.jobs)}", creationTimestamp="2026-12-03T00:00:00Z")
        job["status"] = {"active": 1}
        self.server.jobs[key] = job
        self.server.start_pod(job)
        self._reply(201, job)

    def do_GET(self):
        route = self._record()
        job = self.server.jobs.get((route[0], route[1])) if route else None
        if job is None:
            return self._reply(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        self._reply(200, job)

    def do_DELETE(self):
        route = self._record()
        self.server.jobs.pop((route[0], route[1]), None) if route else None
        self._reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


@pytest.fixture
def cluster(moto_stack, tmp_path, aws_env, monkeypatch):
    """The fake API server, a kubeconfig naming it, and a stack (with a team namespace) whose image is pushed."""
    server = FakeKubernetes(tmp_path, aws_env)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server.url}}],
        "users": [{"name": "test", "user": {"token": TOKEN}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    ecr = moto_stack.client("ecr")
    repo = moto_stack.outputs["ecr_repository_urls"]["training"].split("/", 1)[1]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                           "digest": "sha256:" + "c" * 64}, "layers": []}
    ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="latest")
    outputs = {**moto_stack.outputs, "kubernetes_namespaces": ["ml-team"], "workload_service_account": "modelway-workload",
               "spot_priority_class": "modelway-dev-spot-preemptible", "cluster_name": "modelway-dev"}
    moto_stack.outputs_file.write_text(json.dumps(outputs))
    use(resolve_stack(None, moto_stack.outputs_file))
    yield server
    server.shutdown()
    server.server_close()


def _run(tmp_path):
    return run_pipeline(load_pipeline(PIPELINE), {"n": 10}, executor="inprocess", display="none",
                        home=tmp_path / "home", pipeline_file=PIPELINE)


def test_gpu_step_runs_as_a_job_on_the_spot_pool(cluster, moto_stack, tmp_path):
    result = _run(tmp_path)
    assert result.status == "succeeded", (result.error, [r.stderr[-1500:] for r in cluster.runs])
    values = result.output_values()
    assert values["total"] == 45 and values["train"]["where"] == "kubernetes:ml-team"
    assert values["train"]["pid"] != os.getpid()  # the step ran in the "pod", its output came back through S3
    [(namespace, name)] = list(cluster.jobs)
    assert namespace == "ml-team" and name.endswith("-train-a1")
    pod = cluster.jobs[(namespace, name)]["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "modelway-dev-spot-preemptible"
    assert pod["serviceAccountName"] == "modelway-workload"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["containers"][0]["image"].startswith(moto_stack.outputs["ecr_repository_urls"]["training"] + "@sha256:")
    assert cluster.jobs[(namespace, name)]["spec"]["backoffLimit"] == 0  # retries are the runner's
    methods = {(m, p.split("?")[0].rsplit("/", 1)[-1]) for m, p, _ in cluster.requests}
    assert ("POST", "jobs") in methods and ("GET", "status") in methods
    assert {auth for _, _, auth in cluster.requests} == {f"Bearer {TOKEN}"}  # the kubeconfig's credentials


def test_spot_reclaim_goes_through_the_retry_policy(cluster, tmp_path):
    run_id_names = []

    original = cluster.start_pod

    def reclaim_first(job):
        name = job["metadata"]["name"]
        run_id_names.append(name)
        if name.endswith("-a1"):
            cluster.reclaim.add(name)
        original(job)

    cluster.start_pod = reclaim_first
    result = _run(tmp_path)
    assert result.status == "succeeded", result.error
    assert [n.rsplit("-", 1)[1] for n in run_id_names] == ["a1", "a2"]
    train = next(s for s in result.steps if s.name == "train")
    assert train.attempts == 2
