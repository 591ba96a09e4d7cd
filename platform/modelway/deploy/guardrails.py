"""Rollout guardrails: is the candidate worse than the incumbent on live traffic?

Evaluated at every rollout step on the step's window (the traffic log of that routing
revision): error rate, p95 latency, and, once labels arrive through ``modelway feedback``,
accuracy. Any breach rolls the candidate back. The A/B decision uses proper tests:
a two-proportion z-test on labelled accuracy and Welch's t-test on latency (scipy).

The window is looked at many times while it fills (so a failing candidate is stopped
early), which is a sequential test: judging every look at the nominal alpha rolls back an
identical candidate far more often than alpha says (about 10-12% per step at alpha 0.05
on a few dozen labels, each early look is another chance for noise to cross the line).
So the looks follow the Haybittle-Peto rule of group-sequential trials: an interim look
(``final=False``) stops only on overwhelming evidence (``interim_alpha``, 0.001), and the
nominal ``accuracy_alpha`` / ``latency_alpha`` apply once, when the window is complete.

Example:
    >>> from modelway.serving.traffic import VariantStats
    >>> inc = VariantStats("1.0.0", 400, 0, 4.0, 2.0)
    >>> bad = VariantStats("1.1.0", 100, 30, 4.0, 2.0)
    >>> check(bad, inc, Guardrails()).breaches
    ['error rate 30.0% vs 0.0% for the incumbent (limit +2.0 points)']
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modelway.serving.traffic import VariantStats


class Guardrails(BaseModel):
    """Limits a candidate must stay within, relative to the incumbent (the ``guardrails`` config section)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_error_rate_increase: float = Field(0.02, ge=0, description="candidate error rate may exceed the incumbent's by this")
    max_p95_ratio: float = Field(1.5, ge=1, description="candidate p95 latency may be this many times the incumbent's ...")
    p95_slack_ms: float = Field(5.0, ge=0, description="... plus this many milliseconds (noise floor of fast models)")
    max_accuracy_drop: float = Field(0.05, ge=0, description="labelled accuracy may be this much below the incumbent's")
    latency_alpha: float = Field(0.01, gt=0, lt=1, description="one-sided significance of a latency increase")
    accuracy_alpha: float = Field(0.05, gt=0, lt=1, description="one-sided significance of an accuracy drop")
    min_requests: int = Field(30, ge=1, description="requests the candidate needs before error/latency are judged")
    min_labelled: int = Field(30, ge=1, description="labelled requests per variant before accuracy is judged")
    interim_alpha: float = Field(0.001, gt=0, lt=1, description="significance that stops a window before it is complete "
                                 "(Haybittle-Peto): early looks at the nominal alpha roll back good candidates by chance")


@dataclass
class GuardrailResult:
    """The breaches (empty: all good) and the numbers behind the decision."""

    breaches: list[str] = field(default_factory=list)
    judged: list[str] = field(default_factory=list)
    candidate: dict[str, Any] = field(default_factory=dict)
    incumbent: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "breaches": self.breaches, "judged": self.judged, "candidate": self.candidate,
                "incumbent": self.incumbent}


def check(candidate: VariantStats, incumbent: VariantStats | None, g: Guardrails, *, final: bool = True) -> GuardrailResult:
    """Compare the candidate's window with the incumbent's (absolute limits when the incumbent had no traffic).

    ``final=False`` is an interim look at a window still filling: the significance tests then
    need ``g.interim_alpha`` (see the module docstring); the error-rate limit is the same.
    """
    result = GuardrailResult(candidate=candidate.to_dict(), incumbent=incumbent.to_dict() if incumbent else {})
    latency_alpha = g.latency_alpha if final else min(g.latency_alpha, g.interim_alpha)
    accuracy_alpha = g.accuracy_alpha if final else min(g.accuracy_alpha, g.interim_alpha)
    has_inc = incumbent is not None and incumbent.requests > 0
    if candidate.requests >= g.min_requests:
        base_rate = incumbent.error_rate if has_inc else 0.0
        result.judged.append("error_rate")
        if candidate.error_rate > base_rate + g.max_error_rate_increase:
            result.breaches.append(f"error rate {candidate.error_rate:.1%} vs {base_rate:.1%} for the incumbent "
                                   f"(limit +{g.max_error_rate_increase * 100:.1f} points)")
        if has_inc and candidate.p95_ms is not None and incumbent.p95_ms is not None:
            result.judged.append("p95_latency")
            limit = incumbent.p95_ms * g.max_p95_ratio + g.p95_slack_ms
            # a p95 over a few dozen requests on a busy host jumps around: the candidate must also be
            # slower across the board (one-sided Mann-Whitney U), not just unlucky in its tail
            p = _slower_p(candidate.latencies_ms, incumbent.latencies_ms)
            if candidate.p95_ms > limit and p < latency_alpha:
                result.breaches.append(f"p95 latency {candidate.p95_ms:.1f} ms vs {incumbent.p95_ms:.1f} ms for the "
                                       f"incumbent (limit {limit:.1f} ms, Mann-Whitney p={p:.2g})")
    if candidate.labelled >= g.min_labelled and has_inc and incumbent.labelled >= g.min_labelled:
        result.judged.append("accuracy")
        # a drop counts when it is both large and not chance: small windows swing by several points
        p = _one_sided_drop_p(incumbent.correct, incumbent.labelled, candidate.correct, candidate.labelled)
        if candidate.accuracy < incumbent.accuracy - g.max_accuracy_drop and p < accuracy_alpha:
            result.breaches.append(f"accuracy {candidate.accuracy:.3f} on {candidate.labelled} labelled requests vs "
                                   f"{incumbent.accuracy:.3f} for the incumbent (limit -{g.max_accuracy_drop}, "
                                   f"one-sided p={p:.2g})")
    return result


def _slower_p(candidate: list[float], incumbent: list[float]) -> float:
    """p-value of "the candidate's latencies are larger" (Mann-Whitney U, one-sided); 0 when there are no samples."""
    if len(candidate) < 2 or len(incumbent) < 2:
        return 0.0  # summary numbers only: the p95 comparison alone decides
    from scipy import stats

    return float(stats.mannwhitneyu(candidate, incumbent, alternative="greater").pvalue)


def _one_sided_drop_p(inc_correct: int, inc_n: int, cand_correct: int, cand_n: int) -> float:
    """p-value of "the candidate is less accurate" (two-proportion z-test, one-sided)."""
    from scipy import stats

    pooled = (inc_correct + cand_correct) / (inc_n + cand_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / inc_n + 1 / cand_n))
    if se == 0:
        return 1.0
    return float(stats.norm.sf((inc_correct / inc_n - cand_correct / cand_n) / se))


@dataclass
class ABResult:
    """Outcome of an A/B comparison: a winner when the test is significant, else 'not enough data yet'."""

    winner: str | None
    decision: str
    accuracy: dict[str, float | None]
    labelled: dict[str, int]
    p_value_accuracy: float | None
    p_value_latency: float | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def ab_test(incumbent: str, candidate: str, outcomes: dict[str, tuple[list[int], list[float]]], *,
            alpha: float = 0.05, min_labelled: int = 100) -> ABResult:
    """Two-proportion z-test on accuracy (and Welch's t-test on latency) between the two variants.

    Example:
        >>> r = ab_test("a", "b", {"a": ([1] * 80 + [0] * 120, [1.0] * 200), "b": ([1] * 150 + [0] * 50, [1.0] * 200)})
        >>> r.winner, r.p_value_accuracy < 0.05
        ('b', True)
    """
    from scipy import stats

    a_correct, a_lat = outcomes.get(incumbent, ([], []))
    b_correct, b_lat = outcomes.get(candidate, ([], []))
    n_a, n_b = len(a_correct), len(b_correct)
    acc = {incumbent: (sum(a_correct) / n_a) if n_a else None, candidate: (sum(b_correct) / n_b) if n_b else None}
    p_lat = None
    if len(a_lat) >= 2 and len(b_lat) >= 2 and (np.var(a_lat) > 0 or np.var(b_lat) > 0):
        p_lat = float(stats.ttest_ind(a_lat, b_lat, equal_var=False).pvalue)
        p_lat = None if math.isnan(p_lat) else p_lat
    if n_a < min_labelled or n_b < min_labelled:
        return ABResult(None, f"not enough data yet: {n_a} and {n_b} labelled requests (need {min_labelled} each)",
                        acc, {incumbent: n_a, candidate: n_b}, None, p_lat)
    pooled = (sum(a_correct) + sum(b_correct)) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return ABResult(None, "not enough data yet: both variants have identical outcomes", acc,
                        {incumbent: n_a, candidate: n_b}, 1.0, p_lat)
    z = (acc[candidate] - acc[incumbent]) / se
    p = float(2 * stats.norm.sf(abs(z)))
    if p >= alpha:
        return ABResult(None, f"no significant difference yet (p={p:.3g} >= {alpha})", acc,
                        {incumbent: n_a, candidate: n_b}, p, p_lat)
    winner = candidate if z > 0 else incumbent
    return ABResult(winner, f"{winner} wins: accuracy {acc[winner]:.3f} vs {acc[incumbent if winner == candidate else candidate]:.3f} "
                    f"(two-proportion z-test p={p:.3g})", acc, {incumbent: n_a, candidate: n_b}, p, p_lat)
