"""The embedded deployer: rollouts on local model servers, driven from the persisted deployment state.

A deploy command is the rollout controller (as Flagger or Argo Rollouts are for Kubernetes):
it takes the endpoint's lock, checks approval and integrity, runs the contract tests, then
writes one routing revision per step; the endpoint's server(s) apply it within a poll
interval and confirm through their heartbeat. Each step's window (``window_requests``
candidate requests, at most ``window_seconds``) is read back from the traffic log and judged
by the guardrails, also while the window is still filling, so a failing candidate is
stopped early. A breach writes the rollback revision at once and waits until every server
applied it: from then on no request reaches the candidate.

Strategies:

* ``blue-green``: all traffic to the candidate in one revision; the incumbent stays loaded
  as ``standby`` (``modelway rollback`` is one revision, no load). Judged against the
  incumbent's numbers from the window before the switch.
* ``canary``: ``steps`` (default 10% -> 50% -> 100%), each judged against the incumbent's
  traffic in the same revision.
* ``ab``: a sticky split (``sticky_key`` field or the ``X-Modelway-Key`` header); guardrails
  as canary, then a two-proportion z-test on labelled accuracy picks the winner, or the
  test keeps running when there is not enough data yet (``modelway promote`` / ``rollback``
  end it).
* ``shadow``: the candidate gets a copy of every request off the response path; its
  agreement and latency are reported; it stays attached until promoted or rolled back.

Every decision goes to the deployment history and to the registry's audit log (event
``deployment``) with the numbers behind it and who or what triggered it.

Example:
    >>> import tempfile
    >>> EmbeddedDeployer(Path(tempfile.mkdtemp())).describe("nothing")["state"] is None
    True
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from modelway.deploy.approval import check_deployable
from modelway.deploy.base import DeployRefused, DeployRequest, DeployResult, StepReport
from modelway.deploy.contract import run_contract_tests
from modelway.deploy.guardrails import GuardrailResult, ab_test, check
from modelway.serving.state import DeploymentStore, EndpointState
from modelway.errors import UserError
from modelway.registry import get_registry
from modelway.serving.traffic import TrafficLog, traffic_path

if TYPE_CHECKING:
    from modelway.registry.base import ModelRegistry

APPLY_TIMEOUT_S = 15.0


class EmbeddedDeployer:
    """:class:`~modelway.deploy.base.Deployer` of the embedded default."""

    def __init__(self, home: Path, registry: ModelRegistry | None = None, *, poll_s: float = 0.1,
                 log: Callable[[str], None] | None = None):
        self.home = Path(home)
        self.log = log or (lambda message: None)  # progress lines (the CLI prints them)
        self._registry = registry
        self.store = DeploymentStore(self.home)
        self.poll_s = poll_s

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = get_registry(self.home)
        return self._registry

    def traffic(self, endpoint: str) -> TrafficLog:
        return TrafficLog(traffic_path(self.home, endpoint))

    # --- entry points ------------------------------------------------------------------------

    def deploy(self, request: DeployRequest) -> DeployResult:
        with self.store.lock(request.endpoint):
            try:
                check_deployable(self.registry, request.model, request.version, request.environment)
            except UserError as exc:
                self._refused(request, str(exc))
                raise
            found = self.store.get(request.endpoint)
            if found is None:
                return self._initial(request)
            revision, state = found
            if state.model != request.model:
                raise DeployRefused(f"endpoint {request.endpoint} serves model {state.model}, not {request.model}")
            if request.version == state.incumbent and state.candidate is None:
                return DeployResult(request.endpoint, request.model, request.version, request.strategy, "unchanged",
                                    f"{request.version} already serves all traffic", state.incumbent, revision)
            if state.candidate is not None:  # an A/B or shadow run is still on: end it first, never interleave two
                raise DeployRefused(f"endpoint {request.endpoint} is still running {state.phase} of {state.candidate}; "
                                    f"end it with modelway promote {request.endpoint} or modelway rollback {request.endpoint}")
            report = run_contract_tests(self.registry, self.home, request.model, request.version, state.incumbent,
                                        max_p95_ms=request.contract_max_p95_ms)
            self.log(f"  contract tests: {sum(ok for _, ok, _ in report.checks)}/{len(report.checks)} passed"
                     + ("" if report.passed else " - " + "; ".join(report.failures)))
            if not report.passed:
                reason = "contract tests failed: " + "; ".join(report.failures)
                self._refused(request, reason, details={"contract": report.to_dict()})
                raise DeployRefused(f"{request.model} {request.version}: {reason}")
            self._require_server(request.endpoint)
            runner = {"blue-green": self._blue_green, "canary": self._canary, "ab": self._ab, "shadow": self._shadow}
            result = runner[request.strategy](request, state)
            result.details["contract"] = report.to_dict()
            return result

    def rollback(self, endpoint: str, *, actor: str, reason: str, trigger: str = "manual") -> DeployResult:
        with self.store.lock(endpoint):
            revision, state = self.store.require(endpoint)
            if state.candidate is not None:
                target, removed = state.incumbent, state.candidate
            elif state.standby is not None:
                target, removed = state.standby, state.incumbent
            else:
                raise UserError(f"endpoint {endpoint} has nothing to roll back to: {state.incumbent} serves all traffic "
                                "and no previous version is on standby")
            return self._roll_back(endpoint, state, target, removed, actor=actor, trigger=trigger, reason=reason, details={})

    def promote(self, endpoint: str, *, actor: str, reason: str) -> DeployResult:
        with self.store.lock(endpoint):
            _, state = self.store.require(endpoint)
            if state.candidate is None:
                raise UserError(f"endpoint {endpoint} has no candidate to promote (phase {state.phase})")
            check_deployable(self.registry, state.model, state.candidate, state.environment)
            return self._promote(endpoint, state, actor=actor, trigger="manual", reason=reason, details={})

    def feedback(self, endpoint: str, labels: list[tuple[str, float]]) -> dict[str, int]:
        self.store.require(endpoint)
        stored, matched, ambiguous = self.traffic(endpoint).add_feedback(labels, time.time())
        return {"stored": stored, "matched": matched, "ambiguous": ambiguous}

    def describe(self, endpoint: str) -> dict[str, Any]:
        found = self.store.get(endpoint)
        if found is None:
            return {"endpoint": endpoint, "state": None, "history": []}
        revision, state = found
        log = self.traffic(endpoint)
        stats = {v: log.stats(v, revisions=[revision]).to_dict() for v in state.variants}
        if state.shadow:
            stats[f"{state.shadow} (shadow)"] = log.stats(state.shadow, revisions=[revision], shadow=True).to_dict()
        out: dict[str, Any] = {"endpoint": endpoint, "revision": revision, "state": state.__dict__, "stats": stats,
                               "servers": self.store.live_servers(endpoint), "history": self.store.history(endpoint, 20)}
        if state.phase == "ab" and state.candidate:
            out["ab"] = self._ab_result(endpoint, state, [revision]).to_dict()
        return out

    # --- strategies --------------------------------------------------------------------------

    def _initial(self, request: DeployRequest) -> DeployResult:
        report = run_contract_tests(self.registry, self.home, request.model, request.version, None,
                                    max_p95_ms=request.contract_max_p95_ms)
        if not report.passed:
            reason = "contract tests failed: " + "; ".join(report.failures)
            self._refused(request, reason, details={"contract": report.to_dict()})
            raise DeployRefused(f"{request.model} {request.version}: {reason}")
        state = EndpointState(model=request.model, environment=request.environment, variants={request.version: 1.0},
                              incumbent=request.version)
        revision = self.store.put(request.endpoint, state, history=self._entry(request, "deployed", details={
            "reason": "first version on this endpoint"}))
        self._audit(request.model, request.version, request.actor, request.endpoint, "deployed", request.trigger,
                    {"strategy": "initial", "revision": revision})
        return DeployResult(request.endpoint, request.model, request.version, "initial", "promoted",
                            "first version on this endpoint", None, revision)

    def _blue_green(self, req: DeployRequest, state: EndpointState) -> DeployResult:
        switched_at = time.time()
        before = self.traffic(req.endpoint).stats(state.incumbent, since=switched_at - max(req.window_seconds, 60.0))
        new = _copy(state, variants={req.version: 1.0}, candidate=req.version, strategy=req.strategy, phase="blue-green",
                    standby=state.incumbent)
        revision = self._write(req, new, "switched", {"weights": new.variants})
        step = self._window(req, revision, lambda: before)
        if not step.verdict["ok"]:
            return self._auto_rollback(req, new, step)
        result = self._promote(req.endpoint, new, actor=req.actor, trigger=req.trigger, reason="blue-green window passed",
                               details={"steps": [step.__dict__]})
        result.steps, result.strategy = [step], req.strategy
        return result

    def _canary(self, req: DeployRequest, state: EndpointState) -> DeployResult:
        steps: list[StepReport] = []
        current = state
        for share in req.steps:
            if share >= 1.0:
                break
            current = _copy(state, variants={req.version: share, state.incumbent: 1.0 - share}, candidate=req.version,
                            strategy=req.strategy, phase="canary", step=len(steps), steps=list(req.steps))
            revision = self._write(req, current, "step", {"weights": current.variants})
            log = self.traffic(req.endpoint)
            step = self._window(req, revision, lambda rev=revision: log.stats(state.incumbent, revisions=[rev]))
            steps.append(step)
            if not step.verdict["ok"]:
                result = self._auto_rollback(req, current, step)
                result.steps = steps
                return result
        result = self._promote(req.endpoint, current, actor=req.actor, trigger=req.trigger, reason=f"all {len(steps)} canary steps passed",
                               details={"steps": [s.__dict__ for s in steps]})
        result.steps, result.strategy = steps, req.strategy
        return result

    def _ab(self, req: DeployRequest, state: EndpointState) -> DeployResult:
        new = _copy(state, variants={req.version: req.ab_split, state.incumbent: 1.0 - req.ab_split}, candidate=req.version,
                    strategy="ab", phase="ab", sticky_key=req.sticky_key)
        revision = self._write(req, new, "ab-started", {"weights": new.variants, "sticky_key": req.sticky_key})
        log = self.traffic(req.endpoint)
        step = self._window(req, revision, lambda: log.stats(state.incumbent, revisions=[revision]), need_labels=True)
        if not step.verdict["ok"]:
            result = self._auto_rollback(req, new, step)
            result.steps = [step]
            return result
        ab = self._ab_result(req.endpoint, new, [revision], alpha=req.ab_alpha, min_labelled=req.ab_min_labelled)
        details = {"ab": ab.to_dict(), "steps": [step.__dict__]}
        if ab.winner == req.version:
            result = self._promote(req.endpoint, new, actor=req.actor, trigger=req.trigger, reason=ab.decision, details=details)
        elif ab.winner == state.incumbent:
            result = self._roll_back(req.endpoint, new, state.incumbent, req.version, actor=req.actor, trigger=req.trigger,
                                     reason=ab.decision, details=details)
        else:
            self.store.add_history(req.endpoint, **self._entry(req, "ab-running", details=details))
            result = DeployResult(req.endpoint, req.model, req.version, "ab", "running", ab.decision, state.incumbent,
                                  revision, details=details)
        result.steps, result.strategy = [step], "ab"
        return result

    def _shadow(self, req: DeployRequest, state: EndpointState) -> DeployResult:
        new = _copy(state, candidate=req.version, strategy="shadow", phase="shadow", shadow=req.version)
        revision = self._write(req, new, "shadow-started", {"shadow": req.version})
        log = self.traffic(req.endpoint)
        deadline = time.monotonic() + req.window_seconds
        while time.monotonic() < deadline:
            if log.stats(req.version, revisions=[revision], shadow=True).requests >= req.window_requests:
                break
            time.sleep(self.poll_s)
        shadow = log.stats(req.version, revisions=[revision], shadow=True)
        live = log.stats(state.incumbent, revisions=[revision])
        verdict = check(shadow, live, req.guardrails)
        verdict.judged = [j for j in verdict.judged if j != "accuracy"]  # shadow answers are never labelled
        step = StepReport({}, revision, 0.0, {**verdict.to_dict(), "agreement": shadow.agreement})
        if not verdict.ok:
            result = self._auto_rollback(req, new, step)
            result.steps = [step]
            return result
        agreement = "n/a" if shadow.agreement is None else f"{shadow.agreement:.1%}"
        reason = (f"shadow {req.version} answered {shadow.requests} copies: agreement {agreement}, p95 "
                  f"{_ms(shadow.p95_ms)} vs {_ms(live.p95_ms)} live; promote with modelway promote {req.endpoint}")
        self.store.add_history(req.endpoint, **self._entry(req, "shadow-report", details=step.verdict))
        return DeployResult(req.endpoint, req.model, req.version, "shadow", "running", reason, state.incumbent, revision,
                            [step], details={"shadow": shadow.to_dict(), "live": live.to_dict()})

    # --- windows, decisions ------------------------------------------------------------------

    def _window(self, req: DeployRequest, revision: int, incumbent_stats: Any, *, need_labels: bool = False) -> StepReport:
        """Wait for the step's window, judging the guardrails as data arrives; the last verdict decides."""
        log = self.traffic(req.endpoint)
        start = time.monotonic()
        verdict = GuardrailResult()
        insufficient = None
        while True:
            cand = log.stats(req.version, revisions=[revision])
            enough = cand.requests >= req.window_requests and (not need_labels or cand.labelled >= req.ab_min_labelled)
            timed_out = time.monotonic() - start > req.window_seconds
            # interim looks stop only on overwhelming evidence; the nominal alphas judge the complete window
            verdict = check(cand, incumbent_stats(), req.guardrails, final=enough or timed_out)
            if not verdict.ok or enough:
                break
            if timed_out:
                if cand.requests < req.guardrails.min_requests:
                    insufficient = (f"only {cand.requests} requests reached {req.version} in {req.window_seconds:.0f}s "
                                    f"(guardrails need {req.guardrails.min_requests}); not promoting an unjudged candidate")
                break
            time.sleep(self.poll_s)
        out = verdict.to_dict()
        if insufficient:
            out["ok"], out["breaches"] = False, [insufficient]
        c, i = out.get("candidate", {}), out.get("incumbent", {})
        self.log(f"    window: candidate {c.get('requests')} req, errors {c.get('error_rate')}, p95 {c.get('p95_ms')} ms, "
                 f"accuracy {c.get('accuracy')} | incumbent {i.get('requests')} req, errors {i.get('error_rate')}, "
                 f"p95 {i.get('p95_ms')} ms, accuracy {i.get('accuracy')} -> "
                 + ("ok" if out["ok"] else "BREACH: " + "; ".join(out["breaches"])))
        _, state = self.store.require(req.endpoint)
        return StepReport(dict(state.variants), revision, round(time.monotonic() - start, 2), out)

    def _auto_rollback(self, req: DeployRequest, state: EndpointState, step: StepReport) -> DeployResult:
        reason = "guardrail breached: " + "; ".join(step.verdict["breaches"])
        return self._roll_back(req.endpoint, state, state.standby if state.phase == "blue-green" else state.incumbent,
                               req.version, actor="modelway-guardrails", trigger=f"guardrail ({req.trigger} by {req.actor})",
                               reason=reason, details={"step": step.__dict__})

    def _roll_back(self, endpoint: str, state: EndpointState, target: str, removed: str, *, actor: str, trigger: str,
                   reason: str, details: dict[str, Any]) -> DeployResult:
        new = _copy(state, variants={target: 1.0}, incumbent=target, candidate=None, strategy=None, phase="stable",
                    shadow=None, sticky_key=None, step=0, steps=[],
                    # an older standby survives the rollback of a candidate; a rolled-back version never becomes standby
                    standby=state.standby if state.candidate is not None and state.standby not in (target, removed) else None)
        revision = self.store.put(endpoint, new, history={"actor": actor, "action": "rolled-back", "strategy": state.strategy,
                                                          "version": target, "previous": removed,
                                                          "details": {"reason": reason, "trigger": trigger, **details}})
        self._wait_applied(endpoint, revision)
        self.log(f"  revision {revision}: rolled back to {target} ({reason})")
        self._audit(state.model, removed, actor, endpoint, "rolled-back", trigger,
                    {"reason": reason, "restored": target, "revision": revision, **_numbers(details)})
        return DeployResult(endpoint, state.model, removed, state.strategy or "rollback", "rolled_back", reason, target,
                            revision, details=details)

    def _promote(self, endpoint: str, state: EndpointState, *, actor: str, trigger: str, reason: str,
                 details: dict[str, Any]) -> DeployResult:
        candidate = state.candidate
        previous = state.incumbent
        new = _copy(state, variants={candidate: 1.0}, incumbent=candidate, candidate=None, phase="stable", shadow=None,
                    sticky_key=None, standby=previous, step=0, steps=[])
        revision = self.store.put(endpoint, new, history={"actor": actor, "action": "promoted", "strategy": state.strategy,
                                                          "version": candidate, "previous": previous,
                                                          "details": {"reason": reason, "trigger": trigger, **details}})
        self._wait_applied(endpoint, revision)
        self.log(f"  revision {revision}: promoted {candidate} to all traffic ({previous} on standby)")
        self._audit(state.model, candidate, actor, endpoint, "promoted", trigger,
                    {"reason": reason, "previous": previous, "revision": revision, "strategy": state.strategy,
                     **_numbers(details)})
        return DeployResult(endpoint, state.model, candidate, state.strategy or "promote", "promoted", reason, previous,
                            revision, details=details)

    def _ab_result(self, endpoint: str, state: EndpointState, revisions: list[int], **kw: Any) -> Any:
        log = self.traffic(endpoint)
        outcomes = {v: log.outcomes(v, revisions=revisions) for v in (state.incumbent, state.candidate)}
        return ab_test(state.incumbent, state.candidate, outcomes, **kw)

    def _write(self, req: DeployRequest, state: EndpointState, action: str, details: dict[str, Any]) -> int:
        revision = self.store.put(req.endpoint, state, history=self._entry(req, action, details=details))
        self._wait_applied(req.endpoint, revision)
        shares = ", ".join(f"{v} {w:.0%}" for v, w in sorted(state.variants.items()))
        self.log(f"  revision {revision}: {action} [{shares}]" + (f" + shadow {state.shadow}" if state.shadow else ""))
        return revision

    def _entry(self, req: DeployRequest, action: str, *, details: dict[str, Any]) -> dict[str, Any]:
        found = self.store.get(req.endpoint)
        return {"actor": req.actor, "action": action, "strategy": req.strategy, "version": req.version,
                "previous": found[1].incumbent if found else None, "details": {"trigger": req.trigger, **details}}

    def _refused(self, req: DeployRequest, reason: str, details: dict[str, Any] | None = None) -> None:
        self.store.add_history(req.endpoint, **self._entry(req, "refused", details={"reason": reason, **(details or {})}))
        try:
            self._audit(req.model, req.version, req.actor, req.endpoint, "refused", req.trigger, {"reason": reason})
        except UserError:  # unknown version: nothing in the registry to attach the event to
            pass

    def _audit(self, model: str, version: str, actor: str, endpoint: str, decision: str, trigger: str,
               payload: dict[str, Any]) -> None:
        record = getattr(self.registry, "record_event", None)
        if record is not None:
            record(model, version, actor=actor, event="deployment",
                   payload={"endpoint": endpoint, "decision": decision, "trigger": trigger, **payload})

    def _require_server(self, endpoint: str) -> None:
        if not self.store.live_servers(endpoint):
            raise UserError(f"no server is running for endpoint {endpoint}; a rollout needs live traffic to judge: "
                            f"start one with modelway serve {endpoint} (in another terminal)")

    def _wait_applied(self, endpoint: str, revision: int) -> None:
        """Block until every live server applied ``revision`` (a load error there is raised)."""
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while True:
            servers = self.store.live_servers(endpoint)
            errors = [s["load_error"] for s in servers if (s["load_error"] or "").startswith(f"revision {revision}:")]
            if errors:
                raise UserError(f"endpoint {endpoint}: a server could not apply revision {revision}: {errors[0]}")
            if all((s["applied_revision"] or 0) >= revision for s in servers):
                return
            if time.monotonic() > deadline:
                lagging = [s["url"] for s in servers if (s["applied_revision"] or 0) < revision]
                raise UserError(f"endpoint {endpoint}: server(s) {lagging} did not apply revision {revision} "
                                f"within {APPLY_TIMEOUT_S:.0f}s")
            time.sleep(self.poll_s)


def _copy(state: EndpointState, **changes: Any) -> EndpointState:
    data = dict(state.__dict__)
    data.update(changes)
    return EndpointState(**data)


def _numbers(details: dict[str, Any]) -> dict[str, Any]:
    """The guardrail numbers worth keeping in the audit log (not the whole step dump)."""
    step = details.get("step") or (details.get("steps") or [None])[-1]
    verdict = (step or {}).get("verdict", {}) if isinstance(step, dict) else {}
    out = {k: verdict[k] for k in ("breaches", "candidate", "incumbent") if k in verdict}
    if "ab" in details:
        out["ab"] = details["ab"]
    return out


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
