"""The stack's :class:`~modelway.deploy.base.Deployer`: rollouts on SageMaker endpoints, judged by the same guardrails.

``modelway deploy|rollback|promote|feedback|deployments show --stack dev`` get this deployer
from :mod:`modelway.backends.mapping`. It keeps the embedded deployer's rules and differs
only in where traffic is routed and measured:

* the approval gate (:func:`~modelway.deploy.approval.check_deployable`, the verified load
  from S3 included) and the endpoint contract tests (:func:`~modelway.deploy.contract.run_contract_tests`,
  the candidate served locally by the same server code the image runs) come first; no flag skips them;
* each version is a production variant of the endpoint (:class:`~modelway.backends.aws.endpoints.EndpointVariants`):
  a new candidate joins with weight 0 (``UpdateEndpoint`` with the guarded blue/green
  ``DeploymentConfig`` that rolls back on the stack's alarms), then canary steps move
  traffic with ``UpdateEndpointWeightsAndCapacities``; blue-green moves it in one step;
* each step's window is read back from the metrics SageMaker publishes per variant
  (``AWS/SageMaker`` ``Invocations``, ``Invocation5XXErrors``, ``ModelLatency`` with
  ``EndpointName``/``VariantName``) and judged by :func:`~modelway.deploy.guardrails.check`
  against the incumbent's numbers in the same window; a breach sets the weights back at
  once (the incumbent never left the endpoint) and the rollout ends ``rolled_back``;
* state and decision history live in the artifacts bucket (``deployments/<endpoint>.json``,
  SSE-KMS) so any machine with the stack sees them; every decision also goes to the
  registry's audit log; one rollout per endpoint at a time (a lock object created with
  ``If-None-Match: *``, S3's compare-and-swap).

Not on SageMaker (a one-line refusal): ``ab`` and ``shadow`` rollouts, and labelled accuracy
in the guardrails (``feedback`` stores labels as SageMaker Model Monitor ground truth; joining
them with captured requests is Model Monitor's job).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from modelway.backends.aws.endpoints import EndpointVariants, Variant
from modelway.contracts.platform_metrics import SAGEMAKER_NAMESPACE
from modelway.deploy.approval import check_deployable
from modelway.deploy.base import DeployRefused, DeployRequest, DeployResult, StepReport
from modelway.deploy.contract import run_contract_tests
from modelway.deploy.guardrails import check
from modelway.errors import UserError
from modelway.serving.traffic import VariantStats

SUPPORTED = ("canary", "blue-green")
HISTORY_KEPT = 200


@dataclass
class EndpointRecord:
    """What the deployer knows about one endpoint (SageMaker holds the variants; this, which is which)."""

    model: str
    environment: str
    incumbent: str
    weights: dict[str, float]
    candidate: str | None = None
    standby: str | None = None
    strategy: str | None = None
    phase: str = "stable"
    revision: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class SageMakerEndpointDeployer:
    """:class:`~modelway.deploy.base.Deployer` on the stack's SageMaker endpoints (see the module doc)."""

    def __init__(self, backends: Any, home: Path, *, log: Callable[[str], None] | None = None,
                 poll_s: float = 5.0, settle_s: float = 15.0) -> None:
        self.backends = backends
        self.clients = backends.clients
        self.outputs = backends.outputs
        self.home = Path(home)
        self.log = log or (lambda message: None)
        self.poll_s = poll_s
        self.settle_s = settle_s  # UpdateEndpoint: how often to look whether the endpoint is InService again
        self.variants = EndpointVariants(self.clients, self.outputs)
        self._registry: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            self._registry = self.backends.registry(self.home, None)
        return self._registry

    # --- the Deployer protocol ----------------------------------------------------------------

    def deploy(self, request: DeployRequest) -> DeployResult:
        if request.strategy not in SUPPORTED:
            raise UserError(f"--strategy {request.strategy} is not available on SageMaker endpoints "
                            f"(stack {self.backends.resolved.name}); use {' or '.join(SUPPORTED)}")
        with self._lock(request.endpoint):
            record = self._load(request.endpoint)
            try:
                mv = check_deployable(self.registry, request.model, request.version, request.environment)
            except UserError as exc:
                self._refused(request, record, str(exc))
                raise
            if record is not None and record.model != request.model:
                raise DeployRefused(f"endpoint {request.endpoint} serves model {record.model}, not {request.model}")
            if record is not None and record.incumbent == request.version and record.candidate is None:
                return DeployResult(request.endpoint, request.model, request.version, request.strategy, "unchanged",
                                    f"{request.version} already serves all traffic", record.incumbent, record.revision)
            if record is not None and record.candidate is not None:
                # a rollout that stopped half-way (its process died) left its candidate with traffic: a new
                # rollout would move only its own two weights and leave that share where it was
                raise DeployRefused(f"endpoint {request.endpoint} is still running {record.phase} of {record.candidate}; "
                                    f"end it with modelway promote {request.endpoint} or modelway rollback "
                                    f"{request.endpoint}")
            report = run_contract_tests(self.registry, self.home, request.model, request.version,
                                        record.incumbent if record else None, max_p95_ms=request.contract_max_p95_ms)
            self.log(f"  contract tests: {sum(ok for _, ok, _ in report.checks)}/{len(report.checks)} passed"
                     + ("" if report.passed else " - " + "; ".join(report.failures)))
            if not report.passed:
                reason = "contract tests failed: " + "; ".join(report.failures)
                self._refused(request, record, reason)
                raise DeployRefused(f"{request.model} {request.version}: {reason}")
            if record is None:
                return self._initial(request, mv)
            self._attach(request, record, mv)
            result = self._rollout(request, record)
            result.details["contract"] = report.to_dict()
            return result

    def rollback(self, endpoint: str, *, actor: str, reason: str, trigger: str = "manual") -> DeployResult:
        with self._lock(endpoint):
            record = self._require(endpoint)
            if record.candidate is not None:
                target, removed = record.incumbent, record.candidate
            elif record.standby is not None:
                target, removed = record.standby, record.incumbent
            else:
                raise UserError(f"endpoint {endpoint} has nothing to roll back to: {record.incumbent} serves all traffic "
                                "and no previous version is on standby")
            return self._roll_back(endpoint, record, target, removed, actor=actor, trigger=trigger, reason=reason,
                                   details={})

    def promote(self, endpoint: str, *, actor: str, reason: str) -> DeployResult:
        with self._lock(endpoint):
            record = self._require(endpoint)
            if record.candidate is None:
                raise UserError(f"endpoint {endpoint} has no candidate to promote (phase {record.phase})")
            check_deployable(self.registry, record.model, record.candidate, record.environment)
            return self._promote(endpoint, record, actor=actor, trigger="manual", reason=reason, details={})

    def feedback(self, endpoint: str, labels: list[tuple[str, float]]) -> dict[str, int]:
        """Labels as SageMaker Model Monitor ground truth (``eventId`` = the request's inference id), one object per call."""
        self._require(endpoint)
        now = datetime.now(timezone.utc)
        lines = [json.dumps({"groundTruthData": {"data": str(label), "encoding": "CSV"},
                             "eventMetadata": {"eventId": request_id}, "eventVersion": "0"})
                 for request_id, label in labels]
        key = f"ground-truth/{endpoint}/{now:%Y/%m/%d/%H}/{uuid.uuid4().hex}.jsonl"
        self._put(key, "\n".join(lines).encode() + b"\n")
        return {"stored": len(labels), "matched": 0}  # matched by Model Monitor's merge job, not here

    def describe(self, endpoint: str) -> dict[str, Any]:
        record = self._load(endpoint)
        if record is None:
            return {"endpoint": endpoint, "state": None, "history": []}
        since = time.time() - 3600
        stats = {v: self._stats(endpoint, v, since).to_dict() for v in record.weights}
        state = {k: v for k, v in asdict(record).items() if k not in ("history", "weights", "revision")}
        state.update(variants=record.weights, shadow=None)
        return {"endpoint": endpoint, "revision": record.revision, "state": state, "stats": stats,
                "history": record.history[-20:], "sagemaker": self._current_weights(endpoint)}

    # --- rollouts ------------------------------------------------------------------------------

    def _initial(self, req: DeployRequest, mv: Any) -> DeployResult:
        self.variants.put(req.endpoint, [self._variant(mv, 1.0)], config_suffix=self._suffix(mv.version))
        record = EndpointRecord(model=req.model, environment=req.environment, incumbent=req.version,
                                weights={req.version: 1.0})
        self._decide(req.endpoint, record, req.actor, "deployed", req.version, None, req.trigger,
                     {"reason": "first version on this endpoint", "strategy": "initial"})
        self.log(f"  endpoint {req.endpoint} created: {req.version} 100%")
        return DeployResult(req.endpoint, req.model, req.version, "initial", "promoted",
                            "first version on this endpoint", None, record.revision)

    def _attach(self, req: DeployRequest, record: EndpointRecord, mv: Any) -> None:
        """Put the candidate next to the incumbent with weight 0 (a guarded UpdateEndpoint), unless it is there."""
        if req.version in self._current_weights(req.endpoint).get("by_version", {}):
            return
        incumbent = self.registry.get(record.model, record.incumbent)
        alarms = [name for key, name in sorted(self.outputs.alarm_names.items())
                  if key == f"endpoint-errors/{record.model}"]
        self.variants.put(req.endpoint, [self._variant(incumbent, 1.0), self._variant(mv, 0.0)],
                          config_suffix=self._suffix(req.version), rollback_alarms=alarms)
        self.log(f"  {req.version} added to endpoint {req.endpoint} with weight 0 (guarded update)")

    def _rollout(self, req: DeployRequest, record: EndpointRecord) -> DeployResult:
        shares = (1.0,) if req.strategy == "blue-green" else tuple(s for s in req.steps if s < 1.0)
        steps: list[StepReport] = []
        for share in shares:
            weights = {req.version: share, record.incumbent: 1.0 - share}
            started = self._shift(req.endpoint, record, weights)
            record.candidate, record.strategy, record.phase = req.version, req.strategy, req.strategy
            self._decide(req.endpoint, record, req.actor, "switched" if share == 1.0 else "step", req.version,
                         record.incumbent, req.trigger, {"weights": weights})
            step = self._window(req, record, started)
            steps.append(step)
            if not step.verdict["ok"]:
                details = {"step": asdict(step)}
                result = self._roll_back(req.endpoint, record, record.incumbent, req.version, actor=req.actor,
                                         trigger=req.trigger, reason="guardrail breach: " + "; ".join(step.verdict["breaches"]),
                                         details=details)
                result.steps, result.strategy = steps, req.strategy
                return result
        reason = "blue-green window passed" if req.strategy == "blue-green" else f"all {len(steps)} canary steps passed"
        result = self._promote(req.endpoint, record, actor=req.actor, trigger=req.trigger, reason=reason,
                               details={"steps": [asdict(s) for s in steps]})
        result.steps, result.strategy = steps, req.strategy
        return result

    def _window(self, req: DeployRequest, record: EndpointRecord, started: float) -> StepReport:
        """Poll the variants' metrics until the candidate served ``window_requests`` or ``window_seconds`` passed;
        a breach ends the window early."""
        deadline = time.monotonic() + req.window_seconds
        while True:
            candidate = self._stats(req.endpoint, req.version, started)
            incumbent = self._stats(req.endpoint, record.incumbent, started)
            complete = candidate.requests >= req.window_requests or time.monotonic() >= deadline
            # interim looks stop only on overwhelming evidence; the nominal alphas judge the complete window
            verdict = check(candidate, incumbent, req.guardrails, final=complete)
            if not verdict.ok or complete:
                return StepReport(dict(record.weights), record.revision, round(time.time() - started, 3),
                                  verdict.to_dict())
            time.sleep(self.poll_s)

    def _promote(self, endpoint: str, record: EndpointRecord, *, actor: str, trigger: str, reason: str,
                 details: dict[str, Any]) -> DeployResult:
        candidate, previous = record.candidate, record.incumbent
        self._shift(endpoint, record, {candidate: 1.0, previous: 0.0})
        strategy = record.strategy or "promote"
        record.incumbent, record.standby, record.candidate, record.phase = candidate, previous, None, "stable"
        self._decide(endpoint, record, actor, "promoted", candidate, previous, trigger, {"reason": reason, **details})
        self.log(f"  promoted {candidate} to all traffic ({previous} on standby, weight 0)")
        return DeployResult(endpoint, record.model, candidate, strategy, "promoted", reason, previous, record.revision,
                            details=details)

    def _roll_back(self, endpoint: str, record: EndpointRecord, target: str, removed: str, *, actor: str,
                   trigger: str, reason: str, details: dict[str, Any]) -> DeployResult:
        self._shift(endpoint, record, {target: 1.0, removed: 0.0})
        strategy = record.strategy or "rollback"
        record.standby = None if record.candidate is None else record.standby  # a rolled-back version never stands by
        record.incumbent, record.candidate, record.phase = target, None, "stable"
        self._decide(endpoint, record, actor, "rolled-back", target, removed, trigger, {"reason": reason, **details})
        self.log(f"  rolled back to {target} ({reason})")
        return DeployResult(endpoint, record.model, removed, strategy, "rolled_back", reason, target, record.revision,
                            details=details)

    # --- SageMaker and CloudWatch ----------------------------------------------------------------

    def _shift(self, endpoint: str, record: EndpointRecord, weights: dict[str, float]) -> float:
        """Set the variants' weights; returns the time the new weights took effect (the window's start)."""
        names = self._current_weights(endpoint)["by_version"]
        current = self.variants.shift(endpoint, {names[v]: w for v, w in weights.items()})
        record.weights = {v: current[names[v]] for v in weights}
        return time.time()

    def _current_weights(self, endpoint: str) -> dict[str, Any]:
        """The endpoint's variants as SageMaker reports them (``by_version``: version -> variant name)."""
        with self.clients.call("sagemaker:DescribeEndpoint", f"endpoint {endpoint}"):
            described = self.clients.get("sagemaker").describe_endpoint(EndpointName=endpoint)
        variants = described["ProductionVariants"]
        by_version = {}
        for v in variants:
            model = self._variant_model(described["EndpointConfigName"], v["VariantName"])
            if model:
                by_version[model] = v["VariantName"]
        return {"status": described["EndpointStatus"], "by_version": by_version,
                "weights": {v["VariantName"]: v.get("CurrentWeight", 0.0) for v in variants}}

    def _variant_model(self, config_name: str, variant_name: str) -> str | None:
        """The version a variant serves: the ``MODELWAY_VERSION`` of its model's container."""
        sagemaker = self.clients.get("sagemaker")
        with self.clients.call("sagemaker:DescribeEndpointConfig", f"endpoint config {config_name}"):
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model_name = next((v["ModelName"] for v in config["ProductionVariants"] if v["VariantName"] == variant_name), None)
        if model_name is None:
            return None
        with self.clients.call("sagemaker:DescribeModel", f"model {model_name}"):
            model = sagemaker.describe_model(ModelName=model_name)
        return model["PrimaryContainer"].get("Environment", {}).get("MODELWAY_VERSION")

    def _stats(self, endpoint: str, version: str, since: float) -> VariantStats:
        """What SageMaker measured for ``version``'s variant since ``since`` (Unix time)."""
        names = self._current_weights(endpoint)["by_version"]
        variant = names.get(version)
        if variant is None:
            return VariantStats(version, 0, 0, None, None)
        cloudwatch = self.clients.get("cloudwatch")
        dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        start = datetime.fromtimestamp(int(since), timezone.utc)
        end = datetime.now(timezone.utc) + timedelta(minutes=1)

        def points(metric: str, **stats: Any) -> list[dict[str, Any]]:
            with self.clients.call("cloudwatch:GetMetricStatistics", f"{SAGEMAKER_NAMESPACE} {metric} of {endpoint}"):
                return cloudwatch.get_metric_statistics(Namespace=SAGEMAKER_NAMESPACE, MetricName=metric,
                                                       Dimensions=dims, StartTime=start, EndTime=end, Period=60,
                                                       **stats)["Datapoints"]

        requests = int(sum(p.get("Sum", 0) for p in points("Invocations", Statistics=["Sum"])))
        errors = int(sum(p.get("Sum", 0) for p in points("Invocation5XXErrors", Statistics=["Sum"])))
        latency = points("ModelLatency", ExtendedStatistics=["p95", "p50"])  # microseconds
        p95 = max((p["ExtendedStatistics"]["p95"] for p in latency if "p95" in p.get("ExtendedStatistics", {})),
                  default=None)
        p50 = max((p["ExtendedStatistics"]["p50"] for p in latency if "p50" in p.get("ExtendedStatistics", {})),
                  default=None)
        return VariantStats(version, requests, errors, None if p95 is None else p95 / 1000,
                            None if p50 is None else p50 / 1000)

    def _variant(self, mv: Any, weight: float) -> Variant:
        return Variant(mv.name, mv.version, mv.artifact_uri, weight)

    @staticmethod
    def _suffix(version: str) -> str:
        return f"{version.replace('.', '-')}-{int(time.time())}"

    # --- state, history, audit -----------------------------------------------------------------

    def _key(self, endpoint: str) -> str:
        return f"deployments/{endpoint}.json"

    def _load(self, endpoint: str) -> EndpointRecord | None:
        s3, bucket = self.clients.get("s3"), self.outputs.buckets.artifacts
        with self.clients.call("s3:GetObject", f"s3://{bucket}/{self._key(endpoint)}"):
            try:
                doc = json.loads(s3.get_object(Bucket=bucket, Key=self._key(endpoint))["Body"].read())
            except s3.exceptions.NoSuchKey:
                return None
        return EndpointRecord(**doc)

    def _require(self, endpoint: str) -> EndpointRecord:
        record = self._load(endpoint)
        if record is None:
            raise UserError(f"endpoint {endpoint!r} has no deployment on stack {self.backends.resolved.name}; "
                            f"deploy one with: modelway deploy MODEL@VERSION --endpoint {endpoint} --stack ...")
        return record

    def _decide(self, endpoint: str, record: EndpointRecord, actor: str, action: str, version: str | None,
                previous: str | None, trigger: str, details: dict[str, Any]) -> None:
        """One decision: the next revision in the endpoint's record (S3) and an event in the audit log."""
        record.revision += 1
        record.history.append({"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), "revision": record.revision,
                               "actor": actor, "action": action, "version": version, "previous": previous,
                               "weights": dict(record.weights), "details": {"trigger": trigger, **details}})
        record.history = record.history[-HISTORY_KEPT:]
        self._put(self._key(endpoint), json.dumps(asdict(record), default=str, indent=1).encode())
        audited = version if action != "rolled-back" else previous
        if audited:
            try:
                self.registry.record_event(record.model, audited, actor=actor, event="deployment",
                                           payload={"endpoint": endpoint, "decision": action, "trigger": trigger,
                                                    "revision": record.revision, "weights": dict(record.weights),
                                                    "reason": details.get("reason")})
            except UserError as exc:  # registered from another home: the endpoint's record above still has it
                self.log(f"  (audit log: decision not chained here: {exc})")

    def _refused(self, req: DeployRequest, record: EndpointRecord | None, reason: str) -> None:
        if record is not None:  # the decision, in the endpoint's history and (once) in the audit log
            self._decide(req.endpoint, record, req.actor, "refused", req.version, record.incumbent, req.trigger,
                         {"reason": reason})
            return
        try:
            self.registry.record_event(req.model, req.version, actor=req.actor, event="deployment",
                                       payload={"endpoint": req.endpoint, "decision": "refused", "trigger": req.trigger,
                                                "reason": reason})
        except (UserError, AttributeError):  # unknown version: nothing in the registry to attach it to
            pass

    def _put(self, key: str, body: bytes, **extra: Any) -> None:
        bucket = self.outputs.buckets.artifacts
        with self.clients.call("s3:PutObject", f"s3://{bucket}/{key}"):
            self.clients.get("s3").put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                                              SSEKMSKeyId=self.outputs.kms_key_arn, **extra)

    def _lock(self, endpoint: str) -> Any:
        import contextlib

        @contextlib.contextmanager
        def held() -> Iterator[None]:
            from botocore.exceptions import ClientError

            key = f"deployments/{endpoint}.lock"
            try:
                self._put(key, json.dumps({"since": time.time()}).encode(), IfNoneMatch="*")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412",
                                                                 "ConditionalRequestConflict"):
                    raise UserError(f"endpoint {endpoint}: another rollout holds s3://{self.outputs.buckets.artifacts}/"
                                    f"{key}; wait for it, or delete that object if its process died") from None
                raise
            try:
                yield
            finally:
                with self.clients.call("s3:DeleteObject", key):
                    self.clients.get("s3").delete_object(Bucket=self.outputs.buckets.artifacts, Key=key)

        return held()
