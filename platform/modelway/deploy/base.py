"""The deployer interface: roll a registered model version out to an endpoint, and back.

:class:`Deployer` is what the CLI (``modelway deploy | rollback | promote | feedback``)
talks to. The embedded default (:class:`~modelway.deploy.embedded.EmbeddedDeployer`) routes
traffic in local model servers from state in ``$MODELWAY_HOME``; a SageMaker backend
implements the same protocol with endpoint production variants and their weights
(``UpdateEndpointWeightsAndCapacities``), shadow variants, and CloudWatch alarms feeding
the same :mod:`~modelway.deploy.guardrails`. Every implementation must:

* refuse a version the environment's promotion rules do not allow (no flag skips it),
* run the endpoint contract tests (:mod:`~modelway.deploy.contract`) before any traffic moves,
* evaluate the guardrails at every step and roll back on a breach by itself,
* record each decision, the numbers behind it and who triggered it in the deployment history
  and the registry's audit log,
* serialise concurrent deploys on one endpoint.

Example:
    >>> DeployRequest(endpoint="credit-risk", model="credit-risk", version="1.1.0", strategy="canary").steps
    (0.1, 0.5, 1.0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelway.deploy.guardrails import Guardrails
from modelway.errors import UserError

Strategy = Literal["blue-green", "canary", "ab", "shadow"]
STRATEGIES: tuple[str, ...] = ("blue-green", "canary", "ab", "shadow")


class DeployRefused(UserError):
    """The version may not be rolled out (not approved, revoked, tampered, failed its contract tests)."""


class DeployRequest(BaseModel):
    """What to roll out where, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str
    model: str
    version: str
    strategy: Strategy = "canary"
    environment: str = "dev"
    actor: str = "unknown"
    trigger: str = "manual"  # who/what asked: manual, ci, trigger:<name>
    steps: tuple[float, ...] = Field((0.1, 0.5, 1.0), description="canary traffic shares, the last one 1.0")
    ab_split: float = Field(0.5, gt=0, lt=1, description="share of traffic the candidate gets in an A/B test")
    sticky_key: str | None = Field(None, description="request field that pins a client to a variant (A/B)")
    window_requests: int = Field(200, ge=1, description="candidate requests per evaluation window")
    window_seconds: float = Field(60.0, gt=0, description="longest evaluation window")
    guardrails: Guardrails = Guardrails()
    contract_max_p95_ms: float = Field(1000.0, gt=0, description="contract tests: p95 of single-row requests")
    ab_alpha: float = Field(0.05, gt=0, lt=1)
    ab_min_labelled: int = Field(100, ge=1)

    @field_validator("steps")
    @classmethod
    def _steps_climb_to_one(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if not steps or steps[-1] != 1.0 or any(not 0 < s <= 1 for s in steps) or list(steps) != sorted(set(steps)) \
                or len(steps) < 2:
            raise ValueError(f"canary steps must rise to 1.0 through at least one partial share, e.g. 0.1,0.5,1.0 (got {list(steps)})")
        return steps


@dataclass
class StepReport:
    """One evaluated step: weights, the guardrail verdict and its numbers."""

    weights: dict[str, float]
    revision: int
    seconds: float
    verdict: dict[str, Any] = field(default_factory=dict)


@dataclass
class DeployResult:
    """How a rollout ended: ``promoted``, ``rolled_back``, ``running`` (A/B or shadow still on), ``unchanged``."""

    endpoint: str
    model: str
    version: str
    strategy: str
    outcome: str
    reason: str
    incumbent: str | None
    revision: int
    steps: list[StepReport] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@runtime_checkable
class Deployer(Protocol):
    """Rolls versions out to endpoints and back (the embedded default, or a cloud backend)."""

    def deploy(self, request: DeployRequest) -> DeployResult:
        """Roll ``request.version`` out with ``request.strategy``; returns when promoted, rolled back or left running."""

    def rollback(self, endpoint: str, *, actor: str, reason: str, trigger: str = "manual") -> DeployResult:
        """Send all traffic back to the previous version (instant: it is still loaded)."""

    def promote(self, endpoint: str, *, actor: str, reason: str) -> DeployResult:
        """End an A/B test or shadow run by giving the candidate all traffic."""

    def feedback(self, endpoint: str, labels: list[tuple[str, float]]) -> dict[str, int]:
        """Record ground-truth labels for request ids (the online quality metric)."""

    def describe(self, endpoint: str) -> dict[str, Any]:
        """State, per-variant statistics of the current revision, and the decision history."""
