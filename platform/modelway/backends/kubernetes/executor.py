"""Heavy steps as Kubernetes Jobs on the stack's spot GPU pool, submitted and watched through the official client.

On a stack with a cluster (``kubernetes_namespaces`` in its outputs), a step that asks for
GPUs (``@step(gpus=1, spot=True)``) and names no SageMaker instance type runs as a Job in
the team's namespace (:func:`~modelway.backends.kubernetes.jobs.job_manifest`, validated
against the Kubernetes schemas before it is sent). The container is the stack's training
image with the same entry point and inputs as a SageMaker job
(:func:`~modelway.backends.aws.sagemaker_jobs.stage_remote_step`).

Submission: ``BatchV1Api.create_namespaced_job``; the client is configured from the
kubeconfig (``$KUBECONFIG``, e.g. written by ``aws eks update-kubeconfig --name <cluster_name>``)
or from the pod's service account inside the cluster. Status: ``read_namespaced_job_status``
polled with backoff. What a finished Job means for the runner:

* ``succeeded``: the step's ``result.json`` (its output, or its own deliberate failure);
* failed with a ``result.json``: the step's own error, retryable as the step says;
* failed without one (the container never finished: the spot node was reclaimed, the pod
  evicted, the image could not start): retryable, so the step's ``retries`` apply;
  ``DeadlineExceeded`` (``activeDeadlineSeconds`` = the step's ``max_runtime``) is a timeout.

Retries are the runner's (each attempt is a new Job, visible in the run display), so each
Job has ``backoffLimit: 0``; a pod disrupted by a node going away is already retried by the
Job itself without counting (its ``podFailurePolicy``).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from modelway.backends.aws.sagemaker_jobs import (
    RemoteJob,
    SageMakerExecutor,
    read_result,
    result_outcome,
    stage_remote_step,
    wait_for_jobs,
)
from modelway.backends.kubernetes.jobs import job_manifest, target_for, validate_manifest
from modelway.errors import UserError
from modelway.runtime import retry
from modelway.runtime.context import stores
from modelway.runtime.executors import Outcome, Task

if TYPE_CHECKING:
    from modelway.backends.aws.stack_backends import AwsBackends
    from modelway.dsl.graph import StepNode


def is_kubernetes_step(node: StepNode) -> bool:
    """A step that asks for GPUs and names no SageMaker instance type (on a stack with a cluster)."""
    resources = node.settings.resources
    return bool(resources.gpus) and not (resources.instance_type or "").startswith("ml.")


def k8s_job_name(run_id: str, step: str, attempt: int) -> str:
    """A DNS-1123 label (63 characters at most, lowercase): ``mw-<run>-<step>-a<attempt>``."""
    raw = re.sub(r"[^a-z0-9-]+", "-", f"mw-{run_id}-{step}-a{attempt}".lower()).strip("-")
    if len(raw) > 63:
        import hashlib

        raw = f"{raw[:54].rstrip('-')}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    return raw


class KubernetesExecutor:
    """Runs step attempts as Kubernetes Jobs (see the module doc); an :class:`~modelway.runtime.executors.Executor`."""

    name = "kubernetes"

    def __init__(self, backends: AwsBackends, *, team: str | None = None, api_client: Any = None,
                 poll_s: tuple[float, float] = (2.0, 30.0), on_log: Callable[[str, str], None] | None = None) -> None:
        self.backends = backends
        self.outputs = backends.outputs
        self.target = target_for(self.outputs, team)
        if self.outputs.workload_service_account:  # the team's pods reach S3 through its workload role

            self.target = replace(self.target, service_account=self.outputs.workload_service_account)
        if self.outputs.spot_priority_class:

            self.target = replace(self.target, priority_class=self.outputs.spot_priority_class)
        self._api_client = api_client
        self.poll_min, self.poll_max = poll_s
        self.on_log = on_log
        self._images = SageMakerExecutor(backends)  # the same training image, resolved to its digest once
        self._jobs: dict[str, RemoteJob] = {}

    def batch(self) -> Any:
        """``BatchV1Api`` on the configured cluster (kubeconfig, else in-cluster)."""
        from kubernetes import client, config

        if self._api_client is None:
            try:
                # $KUBECONFIG read now: the client reads it once, at import (a long-lived process may have changed it)
                self._api_client = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
            except Exception:  # no kubeconfig: inside the cluster, the pod's service account
                try:
                    config.load_incluster_config()
                    self._api_client = client.ApiClient()
                except Exception as exc:
                    cluster = self.outputs.cluster_name or "the stack's cluster"
                    raise UserError(f"Kubernetes steps: no kubeconfig and not in a cluster ({exc}); run "
                                    f"aws eks update-kubeconfig --name {cluster}") from None
        return client.BatchV1Api(self._api_client)

    # -- Executor -----------------------------------------------------------------------
    def running(self) -> int:
        return len(self._jobs)

    def submit(self, task: Task) -> None:
        from kubernetes.client.exceptions import ApiException

        staged = stage_remote_step(self.backends, task)
        resources = task.node.settings.resources
        name = k8s_job_name(task.run_id, task.name, task.attempt)
        manifest = job_manifest(name=name, image=self._images.image(), target=self.target, resources=resources,
                                retries=0, hyperparameters=staged.hyperparameters,
                                environment={"MODELWAY_STACK": self.backends.resolved.name,
                                             "MODELWAY_INSTANCE_TYPE": f"kubernetes:{self.target.namespace}"})
        validate_manifest(manifest)  # a manifest the API server would refuse fails here, with the field named
        try:
            self.batch().create_namespaced_job(namespace=self.target.namespace, body=manifest)
        except ApiException as exc:
            raise UserError(f"Kubernetes: cannot create Job {name} in namespace {self.target.namespace}: "
                            f"{exc.status} {exc.reason}") from None
        note = f"Kubernetes Job {self.target.namespace}/{name} ({resources.gpus} GPU(s){', spot' if resources.spot else ''})"

        stores(task.home)[0].log(task.run_id, task.name, note, kind="note")  # lineage: where this attempt ran
        self._log(task.name, note)
        self._jobs[task.name] = RemoteJob(task, name, staged.result_key, time.monotonic(), self.poll_min)

    def wait(self, timeout: float | None) -> list[tuple[Task, Outcome]]:
        return wait_for_jobs(self._jobs, self._poll_due, timeout)

    def cancel_all(self) -> list[Task]:
        tasks = []
        for job in self._jobs.values():
            try:  # background propagation: the Job's pods go with it
                self.batch().delete_namespaced_job(job.name, self.target.namespace, propagation_policy="Background")
            except Exception:  # best effort; activeDeadlineSeconds still bounds the Job
                pass
            tasks.append(job.task)
        self._jobs.clear()
        return tasks

    # -- helpers ------------------------------------------------------------------------
    def _poll_due(self) -> list[tuple[Task, Outcome]]:
        finished = []
        now = time.monotonic()
        for step, job in list(self._jobs.items()):
            if job.next_poll > now:
                continue
            status = self.batch().read_namespaced_job_status(job.name, self.target.namespace).status
            phase = _phase(status)
            if phase != job.last_status:
                self._log(step, f"Kubernetes Job {job.name}: {phase}")
                job.last_status = phase
            if phase in ("Succeeded", "Failed"):
                result = read_result(self.backends, job.result_key)
                finished.append((job.task, job_outcome(job.name, status, result, time.monotonic() - job.submitted)))
                del self._jobs[step]
            else:
                job.delay = retry.next_poll_s(job.delay, self.poll_max)
                job.next_poll = now + job.delay
        return finished

    def _log(self, step: str, message: str) -> None:
        if self.on_log is not None:
            self.on_log(step, message)


def _phase(status: Any) -> str:
    if status is None:
        return "Pending"
    for condition in status.conditions or []:
        if condition.status == "True" and condition.type in ("Complete", "SuccessCriteriaMet"):
            return "Succeeded"
        if condition.status == "True" and condition.type in ("Failed", "FailureTarget"):
            return "Failed"
    if status.succeeded:
        return "Succeeded"
    if status.failed:
        return "Failed"
    return "Running" if status.active else "Pending"


def job_outcome(name: str, status: Any, result: dict[str, Any] | None, duration_s: float) -> Outcome:
    """What a finished Job and its ``result.json`` mean for the runner (see the module doc)."""
    if result is not None:
        return result_outcome(result, duration_s)
    if _phase(status) == "Succeeded":
        return Outcome(False, error=f"Kubernetes Job {name} succeeded but wrote no result.json; is the image's "
                       "entry point `python -m modelway.backends.remote`?", duration_s=duration_s, retryable=False)
    reasons = [f"{c.reason}: {c.message}" if c.message else str(c.reason)
               for c in (status.conditions or []) if c.status == "True" and c.reason]
    reason = "; ".join(reasons) or "failed"
    # no result: the container never finished (node reclaimed, evicted, image pull): try again
    return Outcome(False, error=f"Kubernetes Job {name} failed before its step finished ({reason})",
                   duration_s=duration_s, retryable=True, timed_out="DeadlineExceeded" in reason)
