"""Mutation pins of the rollout decisions on numbers alone: guardrail verdicts, A/B tests, deploy requests.

Each test states what a user of ``modelway deploy`` sees: the exact breach message, both sides of
every limit, the defaults of the ``guardrails`` config section and of a deploy request.
"""
from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from modelway.deploy.base import STRATEGIES, DeployRefused, DeployRequest, DeployResult, StepReport
from modelway.deploy.guardrails import ABResult, GuardrailResult, Guardrails, _one_sided_drop_p, _slower_p, ab_test, check
from modelway.errors import UserError
from modelway.serving.traffic import VariantStats


def _vs(version="2", requests=100, errors=0, p95=10.0, labelled=0, correct=0, latencies=None):
    return VariantStats(version, requests, errors, p95, 5.0, labelled, correct, latencies_ms=list(latencies or []))


# --- Guardrails: the config section ----------------------------------------------------------------

def test_guardrail_defaults_are_the_documented_limits():
    g = Guardrails()
    assert g.model_dump() == {"max_error_rate_increase": 0.02, "max_p95_ratio": 1.5, "p95_slack_ms": 5.0,
                              "max_accuracy_drop": 0.05, "latency_alpha": 0.01, "accuracy_alpha": 0.05,
                              "min_requests": 30, "min_labelled": 30, "interim_alpha": 0.001}


@pytest.mark.parametrize("field,bad,good", [
    ("max_error_rate_increase", -0.001, 0.0), ("max_p95_ratio", 0.999, 1.0), ("p95_slack_ms", -0.1, 0.0),
    ("max_accuracy_drop", -0.01, 0.0), ("latency_alpha", 0.0, 0.999), ("latency_alpha", 1.0, 1e-6),
    ("accuracy_alpha", 0.0, 0.999), ("accuracy_alpha", 1.0, 1e-6), ("min_requests", 0, 1), ("min_labelled", 0, 1),
    ("interim_alpha", 0.0, 0.999), ("interim_alpha", 1.0, 1e-6),
])
def test_each_guardrail_limit_is_checked_on_both_sides_of_its_bound(field, bad, good):
    assert getattr(Guardrails(**{field: good}), field) == good
    with pytest.raises(ValidationError, match=field):
        Guardrails(**{field: bad})


def test_guardrails_are_frozen_and_reject_unknown_keys():
    with pytest.raises(ValidationError, match="max_errors"):
        Guardrails(max_errors=0.1)
    with pytest.raises(ValidationError):
        Guardrails().min_requests = 3  # type: ignore[misc]


def test_guardrail_descriptions_document_the_config_keys():
    described = {k: f.description for k, f in Guardrails.model_fields.items()}
    assert described == {
        "max_error_rate_increase": "candidate error rate may exceed the incumbent's by this",
        "max_p95_ratio": "candidate p95 latency may be this many times the incumbent's ...",
        "p95_slack_ms": "... plus this many milliseconds (noise floor of fast models)",
        "max_accuracy_drop": "labelled accuracy may be this much below the incumbent's",
        "latency_alpha": "one-sided significance of a latency increase",
        "accuracy_alpha": "one-sided significance of an accuracy drop",
        "min_requests": "requests the candidate needs before error/latency are judged",
        "min_labelled": "labelled requests per variant before accuracy is judged",
        "interim_alpha": "significance that stops a window before it is complete (Haybittle-Peto): early looks at "
                         "the nominal alpha roll back good candidates by chance",
    }


# --- check(): the verdict of one window ------------------------------------------------------------

def test_result_to_dict_has_every_field_and_ok_follows_the_breaches():
    empty = GuardrailResult()
    assert empty.ok and empty.to_dict() == {"ok": True, "breaches": [], "judged": [], "candidate": {}, "incumbent": {}}
    assert not GuardrailResult(breaches=["x"]).ok


def test_error_rate_limit_is_inclusive_and_the_breach_names_both_rates():
    inc = _vs("1", requests=100, errors=1)  # 1%
    at_limit = check(_vs(requests=100, errors=3), inc, Guardrails())  # 3% = 1% + 2 points: allowed
    assert at_limit.ok and at_limit.judged == ["error_rate", "p95_latency"]
    over = check(_vs(requests=100, errors=4), inc, Guardrails())
    assert over.breaches == ["error rate 4.0% vs 1.0% for the incumbent (limit +2.0 points)"]
    assert over.candidate == _vs(requests=100, errors=4).to_dict() and over.incumbent == inc.to_dict()


def test_without_incumbent_traffic_the_error_rate_is_judged_against_zero_and_latency_is_not():
    for inc in (None, _vs("1", requests=0, errors=0, p95=10.0)):
        result = check(_vs(requests=50, errors=2, p95=900.0), inc, Guardrails(max_error_rate_increase=0.04))
        assert result.ok and result.judged == ["error_rate"]
        result = check(_vs(requests=50, errors=2, p95=900.0), inc, Guardrails(max_error_rate_increase=0.01))
        assert result.breaches == ["error rate 4.0% vs 0.0% for the incumbent (limit +1.0 points)"]
    assert check(_vs(), None, Guardrails()).incumbent == {}


def test_min_requests_is_inclusive():
    inc = _vs("1", requests=100)
    assert check(_vs(requests=30, errors=30), inc, Guardrails()).judged == ["error_rate", "p95_latency"]
    fewer = check(_vs(requests=29, errors=29), inc, Guardrails())
    assert fewer.ok and fewer.judged == []


def test_latency_needs_both_p95s():
    inc = _vs("1", requests=100)
    assert check(_vs(p95=None), inc, Guardrails()).judged == ["error_rate"]
    assert check(_vs(p95=50.0), _vs("1", p95=None), Guardrails()).judged == ["error_rate"]


def test_p95_limit_is_ratio_plus_slack_and_inclusive_on_summary_numbers():
    inc = _vs("1", p95=10.0)  # limit 10 * 1.5 + 5 = 20 ms; no latency samples: the p95 alone decides
    assert check(_vs(p95=20.0), inc, Guardrails()).ok
    over = check(_vs(p95=20.5), inc, Guardrails())
    assert over.breaches == ["p95 latency 20.5 ms vs 10.0 ms for the incumbent (limit 20.0 ms, Mann-Whitney p=0)"]
    assert check(_vs(p95=31.0), inc, Guardrails(max_p95_ratio=2.0, p95_slack_ms=11.0)).ok
    assert not check(_vs(p95=31.5), inc, Guardrails(max_p95_ratio=2.0, p95_slack_ms=11.0)).ok


def test_a_slow_p95_must_also_be_significant_across_the_samples():
    inc_lat = [float(x) for x in range(1, 41)]
    slower = [x + 100.0 for x in inc_lat]
    inc = _vs("1", p95=10.0, latencies=inc_lat)
    breach = check(_vs(p95=200.0, latencies=slower), inc, Guardrails())
    assert len(breach.breaches) == 1 and breach.breaches[0].startswith(
        "p95 latency 200.0 ms vs 10.0 ms for the incumbent (limit 20.0 ms, Mann-Whitney p=")
    same = check(_vs(p95=200.0, latencies=inc_lat), inc, Guardrails())  # same distribution: an unlucky tail
    assert same.ok and same.judged == ["error_rate", "p95_latency"]


def test_slower_p_needs_two_samples_on_each_side():
    assert _slower_p([5.0], [1.0, 2.0]) == 0.0
    assert _slower_p([5.0, 6.0], [1.0]) == 0.0
    p = _slower_p([5.0, 6.0], [1.0, 2.0])
    assert 0.0 < p < 1.0 and p == pytest.approx(1 / 6)
    assert _slower_p([1.0, 2.0], [5.0, 6.0]) == pytest.approx(1.0)


def test_one_sided_drop_p_is_the_two_proportion_z_test():
    # 90/100 vs 80/100: pooled 0.85, se = sqrt(.85*.15*.02), z = 0.1/se
    z = 0.1 / math.sqrt(0.85 * 0.15 * 0.02)
    assert _one_sided_drop_p(90, 100, 80, 100) == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert _one_sided_drop_p(80, 100, 90, 100) == pytest.approx(1 - 0.5 * math.erfc(z / math.sqrt(2)))
    assert _one_sided_drop_p(10, 10, 20, 20) == 1.0  # all correct on both sides: nothing to test
    assert _one_sided_drop_p(0, 10, 0, 20) == 1.0


def test_accuracy_breach_needs_size_and_significance_and_names_the_numbers():
    inc = _vs("1", labelled=200, correct=180)  # 0.90
    worse = check(_vs(labelled=200, correct=140), inc, Guardrails())  # 0.70
    assert worse.judged == ["error_rate", "p95_latency", "accuracy"]
    assert len(worse.breaches) == 1 and worse.breaches[0].startswith(
        "accuracy 0.700 on 200 labelled requests vs 0.900 for the incumbent (limit -0.05, one-sided p=")
    # a drop of exactly max_accuracy_drop is allowed, however significant
    assert check(_vs(labelled=2000, correct=1700), _vs("1", labelled=2000, correct=1800),
                 Guardrails(max_accuracy_drop=0.05)).ok
    assert not check(_vs(labelled=2000, correct=1698), _vs("1", labelled=2000, correct=1800),
                     Guardrails(max_accuracy_drop=0.05)).ok


def test_accuracy_is_judged_only_with_enough_labels_on_both_sides():
    g = Guardrails(min_labelled=50)
    inc = _vs("1", labelled=50, correct=50)
    assert "accuracy" in check(_vs(labelled=50, correct=0), inc, g).judged
    assert not check(_vs(labelled=50, correct=0), inc, g).ok
    assert "accuracy" not in check(_vs(labelled=49, correct=0), inc, g).judged
    assert check(_vs(labelled=49, correct=0), inc, g).ok
    thin = _vs("1", labelled=49, correct=49)
    assert "accuracy" not in check(_vs(labelled=50, correct=0), thin, g).judged
    assert "accuracy" not in check(_vs(labelled=50, correct=0), None, g).judged
    assert "accuracy" not in check(_vs(labelled=50, correct=0), _vs("1", requests=0, labelled=50, correct=50), g).judged
    # accuracy is judged even while the candidate has too few requests for error/latency
    few = check(_vs(requests=10, labelled=50, correct=0), inc, Guardrails(min_labelled=50, min_requests=30))
    assert few.judged == ["accuracy"] and not few.ok


def test_interim_looks_use_the_smaller_of_interim_and_nominal_alpha():
    inc = _vs("1", labelled=100, correct=80)  # 0.80 vs 0.66: one-sided p about 0.013
    cand = _vs(labelled=100, correct=66)
    p = _one_sided_drop_p(80, 100, 66, 100)
    assert 0.001 < p < 0.05
    assert not check(cand, inc, Guardrails()).ok  # final: nominal 0.05
    assert check(cand, inc, Guardrails(), final=False).ok  # interim: 0.001
    assert not check(cand, inc, Guardrails(interim_alpha=0.5), final=False).ok  # min(0.05, 0.5)
    assert check(cand, inc, Guardrails(interim_alpha=0.5, accuracy_alpha=0.01), final=False).ok  # min(0.01, 0.5)
    # the same for latency: p of these samples is about 0.02
    inc_lat = [float(x) for x in range(20)]
    cand_lat = [x + 4.0 for x in inc_lat]
    p_lat = _slower_p(cand_lat, inc_lat)
    assert 0.001 < p_lat < 0.05
    slow, base = _vs(p95=100.0, latencies=cand_lat), _vs("1", p95=10.0, latencies=inc_lat)
    assert not check(slow, base, Guardrails(latency_alpha=0.05)).ok
    assert check(slow, base, Guardrails(latency_alpha=0.05), final=False).ok
    assert not check(slow, base, Guardrails(latency_alpha=0.05, interim_alpha=0.5), final=False).ok
    assert check(slow, base, Guardrails(latency_alpha=0.01, interim_alpha=0.5), final=False).ok


# --- ab_test() ----------------------------------------------------------------------------------

def test_ab_not_enough_labels_reports_counts_and_accuracies():
    r = ab_test("1", "2", {"1": ([1] * 99, [1.0] * 99), "2": ([1, 0] * 60, [2.0] * 120)})
    assert r.to_dict() == {"winner": None, "decision": "not enough data yet: 99 and 120 labelled requests (need 100 each)",
                           "accuracy": {"1": 1.0, "2": 0.5}, "labelled": {"1": 99, "2": 120},
                           "p_value_accuracy": None, "p_value_latency": None}
    r = ab_test("1", "2", {"1": ([1] * 120, [1.0] * 120), "2": ([1] * 99, [1.0] * 99)})
    assert r.decision == "not enough data yet: 120 and 99 labelled requests (need 100 each)"
    none = ab_test("1", "2", {}, min_labelled=1)
    assert none.accuracy == {"1": None, "2": None} and none.labelled == {"1": 0, "2": 0}
    assert none.decision == "not enough data yet: 0 and 0 labelled requests (need 1 each)"


def test_ab_identical_outcomes_are_not_a_result():
    r = ab_test("1", "2", {"1": ([1] * 5, [1.0] * 5), "2": ([1] * 5, [1.0] * 5)}, min_labelled=5)
    assert (r.winner, r.decision, r.p_value_accuracy) == (None, "not enough data yet: both variants have identical outcomes", 1.0)
    assert r.labelled == {"1": 5, "2": 5} and r.accuracy == {"1": 1.0, "2": 1.0}


def test_ab_winner_either_way_with_the_message():
    better = ab_test("a", "b", {"a": ([1] * 80 + [0] * 120, [1.0] * 200), "b": ([1] * 150 + [0] * 50, [1.0] * 200)})
    assert better.winner == "b" and better.decision.startswith("b wins: accuracy 0.750 vs 0.400 (two-proportion z-test p=")
    worse = ab_test("a", "b", {"a": ([1] * 150 + [0] * 50, [1.0] * 200), "b": ([1] * 80 + [0] * 120, [1.0] * 200)})
    assert worse.winner == "a" and worse.decision.startswith("a wins: accuracy 0.750 vs 0.400 (two-proportion z-test p=")
    z = 0.35 / math.sqrt(0.575 * 0.425 * 2 / 200)
    assert worse.p_value_accuracy == pytest.approx(math.erfc(z / math.sqrt(2)))  # two-sided
    assert worse.p_value_latency is None  # equal latencies on both sides: no t-test


def test_ab_alpha_is_exclusive():
    outcomes = {"a": ([1] * 60 + [0] * 40, [1.0] * 100), "b": ([1] * 72 + [0] * 28, [1.0] * 100)}
    p = ab_test("a", "b", outcomes, alpha=0.5).p_value_accuracy
    assert 0.05 < p < 0.1
    at = ab_test("a", "b", outcomes, alpha=p)
    assert at.winner is None and at.decision == f"no significant difference yet (p={p:.3g} >= {p})"
    assert at.p_value_accuracy == p
    assert ab_test("a", "b", outcomes, alpha=p * 1.0001).winner == "b"
    assert ab_test("a", "b", outcomes, min_labelled=101).winner is None


def test_ab_latency_t_test_needs_two_samples_and_some_variance():
    labels = [1, 0] * 60
    assert ab_test("a", "b", {"a": (labels, [1.0, 3.0] * 60), "b": (labels, [2.0] * 120)}).p_value_latency == pytest.approx(1.0)
    assert ab_test("a", "b", {"a": (labels, [2.0] * 120), "b": (labels, [1.0, 3.0] * 60)}).p_value_latency == pytest.approx(1.0)
    p = ab_test("a", "b", {"a": (labels, [1.0, 2.0] * 60), "b": (labels, [5.0, 6.0] * 60)}).p_value_latency
    assert p is not None and p < 1e-10
    assert ab_test("a", "b", {"a": ([1], [1.0]), "b": ([1, 0], [5.0, 6.0])}, min_labelled=1).p_value_latency is None
    assert ab_test("a", "b", {"a": ([1, 0], [5.0, 6.0]), "b": ([1], [1.0])}, min_labelled=1).p_value_latency is None
    two = ab_test("a", "b", {"a": ([1, 0], [1.0, 2.0]), "b": ([1, 0], [5.0, 6.0])}, min_labelled=50)
    assert two.p_value_latency is not None and 0 < two.p_value_latency < 0.05


def test_ab_result_to_dict_is_a_copy():
    r = ABResult("b", "d", {"a": 0.5}, {"a": 1}, 0.01, None)
    d = r.to_dict()
    d["winner"] = "x"
    assert r.winner == "b"


# --- DeployRequest, results ---------------------------------------------------------------------

def test_deploy_request_defaults():
    r = DeployRequest(endpoint="e", model="m", version="1.0.0")
    assert r.model_dump() == {
        "endpoint": "e", "model": "m", "version": "1.0.0", "strategy": "canary", "environment": "dev", "actor": "unknown",
        "trigger": "manual", "steps": (0.1, 0.5, 1.0), "ab_split": 0.5, "sticky_key": None, "window_requests": 200,
        "window_seconds": 60.0, "guardrails": Guardrails().model_dump(), "contract_max_p95_ms": 1000.0, "ab_alpha": 0.05,
        "ab_min_labelled": 100}
    assert STRATEGIES == ("blue-green", "canary", "ab", "shadow")
    for strategy in STRATEGIES:
        assert DeployRequest(endpoint="e", model="m", version="1", strategy=strategy).strategy == strategy
    with pytest.raises(ValidationError):
        DeployRequest(endpoint="e", model="m", version="1", strategy="big-bang")
    with pytest.raises(ValidationError, match="surprise"):
        DeployRequest(endpoint="e", model="m", version="1", surprise=1)


@pytest.mark.parametrize("field,bad,good", [
    ("ab_split", 0.0, 0.01), ("ab_split", 1.0, 0.99), ("window_requests", 0, 1), ("window_seconds", 0.0, 0.1),
    ("contract_max_p95_ms", 0.0, 0.5), ("ab_alpha", 0.0, 0.5), ("ab_alpha", 1.0, 0.99), ("ab_min_labelled", 0, 1),
])
def test_deploy_request_bounds(field, bad, good):
    assert getattr(DeployRequest(endpoint="e", model="m", version="1", **{field: good}), field) == good
    with pytest.raises(ValidationError, match=field):
        DeployRequest(endpoint="e", model="m", version="1", **{field: bad})


@pytest.mark.parametrize("steps", [(), (1.0,), (0.5,), (0.1, 0.5), (0.5, 0.1, 1.0), (0.5, 0.5, 1.0), (0.0, 1.0),
                                   (-0.1, 1.0), (0.5, 1.5, 1.0), (0.5, 1.0, 1.0)])
def test_canary_steps_must_climb_to_one(steps):
    with pytest.raises(ValidationError) as info:
        DeployRequest(endpoint="e", model="m", version="1", steps=steps)
    assert ("canary steps must rise to 1.0 through at least one partial share, e.g. 0.1,0.5,1.0 "
            f"(got {list(steps)})") in str(info.value)


@pytest.mark.parametrize("steps", [(0.5, 1.0), (0.01, 0.2, 0.9, 1.0), (0.999, 1.0)])
def test_valid_canary_steps(steps):
    assert DeployRequest(endpoint="e", model="m", version="1", steps=steps).steps == steps


def test_results_and_refusals():
    assert issubclass(DeployRefused, UserError)
    step = StepReport({"1": 0.5}, 3, 1.5)
    assert step.verdict == {}
    result = DeployResult("e", "m", "1", "canary", "promoted", "why", "0", 4, [step])
    assert result.to_dict() == {"endpoint": "e", "model": "m", "version": "1", "strategy": "canary", "outcome": "promoted",
                                "reason": "why", "incumbent": "0", "revision": 4,
                                "steps": [{"weights": {"1": 0.5}, "revision": 3, "seconds": 1.5, "verdict": {}}],
                                "details": {}}
    assert DeployResult("e", "m", "1", "s", "o", "r", None, 1).steps == []


def test_one_incumbent_request_is_enough_to_compare_latency():
    one = VariantStats("1", 1, 0, 10.0, 10.0)
    assert check(_vs(p95=50.0), one, Guardrails()).judged == ["error_rate", "p95_latency"]


def test_the_error_limit_is_printed_in_points():
    inc = _vs("1", requests=100, errors=0)
    assert check(_vs(requests=100, errors=20), inc, Guardrails(max_error_rate_increase=0.1)).breaches == [
        "error rate 20.0% vs 0.0% for the incumbent (limit +10.0 points)"]


def test_a_p_value_equal_to_alpha_is_not_significant():
    inc_lat = [float(x) for x in range(20)]
    cand_lat = [x + 4.0 for x in inc_lat]
    p_lat = _slower_p(cand_lat, inc_lat)
    slow, base = _vs(p95=100.0, latencies=cand_lat), _vs("1", p95=10.0, latencies=inc_lat)
    assert check(slow, base, Guardrails(latency_alpha=p_lat)).ok
    assert not check(slow, base, Guardrails(latency_alpha=min(p_lat * 1.001, 0.999))).ok
    p_acc = _one_sided_drop_p(80, 100, 66, 100)
    inc, cand = _vs("1", labelled=100, correct=80), _vs(labelled=100, correct=66)
    assert check(cand, inc, Guardrails(accuracy_alpha=p_acc)).ok
    assert not check(cand, inc, Guardrails(accuracy_alpha=p_acc * 1.001)).ok


def test_ab_latency_is_welchs_test_for_unequal_variances():
    from scipy import stats

    a_lat, b_lat = [1.0, 2.0] * 60, [5.0, 6.0, 12.0] * 10
    p = ab_test("a", "b", {"a": ([1] * 120, a_lat), "b": ([1] * 30, b_lat)}).p_value_latency
    assert p == pytest.approx(stats.ttest_ind(a_lat, b_lat, equal_var=False).pvalue)
    assert p != pytest.approx(stats.ttest_ind(a_lat, b_lat, equal_var=True).pvalue)


def test_ab_any_significant_gain_makes_the_candidate_win():
    # z about 0.6: significant only at a lax alpha, and then the candidate wins, however small z is
    outcomes = {"a": ([1] * 50 + [0] * 50, [1.0] * 100), "b": ([1] * 54 + [0] * 46, [1.0] * 100)}
    r = ab_test("a", "b", outcomes, alpha=0.9)
    assert r.winner == "b" and r.decision.startswith("b wins: accuracy 0.540 vs 0.500")
