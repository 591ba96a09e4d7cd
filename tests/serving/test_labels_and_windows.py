"""Labelled accuracy per variant, and how a rollout window judges it.

Regression for a rollout that saw the incumbent at accuracy 0.955 and an identical candidate
at 0.733. Two suspects, each pinned here:

* the label join (``modelway feedback`` -> traffic log): labels sent for known request ids
  must give each variant exactly the accuracy computed from the answers the client saw;
* the window's repeated looks: judging every look at the nominal alpha is a sequential test
  that rolls back identical candidates far more often than alpha (this was the cause).
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from modelway.deploy.base import DeployRequest
from modelway.deploy.embedded import EmbeddedDeployer
from modelway.deploy.guardrails import Guardrails
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from modelway.serving.state import DeploymentStore, EndpointState
from modelway.serving.traffic import VariantStats
from tests.serving.helpers import Slow, records, register

EP = "credit-risk"


def test_labels_are_joined_to_the_request_and_variant_that_answered(home, credit):
    v1 = register(home, credit)
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="identical")
    deployer = EmbeddedDeployer(home)
    deployer.deploy(DeployRequest(endpoint=EP, model=EP, version=v1, contract_max_p95_ms=60_000))  # not a latency test
    rows = records(credit.test.iloc[:240], credit.features)
    truth = credit.test["default"].iloc[:240].tolist()
    seen: list[tuple[str, int, str, float]] = []  # request id, row, variant, prediction the client got
    lock = threading.Lock()
    with serve_in_thread(ModelServer(EP, home=home, poll_s=0.05)) as url:
        store = DeploymentStore(home)
        _, state = store.require(EP)
        state.variants, state.candidate = {v1: 0.5, v2: 0.5}, v2
        revision = store.put(EP, state)
        deployer._wait_applied(EP, revision)

        def client(offset: int) -> None:
            c = Client(url)
            for i in range(offset, len(rows), 3):  # 3 clients at once: requests get batched in the server
                reply = c.invoke(rows[i])
                assert reply.status == 200, reply.body
                with lock:
                    seen.append((reply.headers["x-request-id"], i, reply.variant, reply.json()["predictions"][0]["prediction"]))
            c.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        log = deployer.traffic(EP)
        deadline = time.monotonic() + 30
        while sum(log.count(v, since=0) for v in (v1, v2)) < len(rows):  # the server writes its log in the background
            assert time.monotonic() < deadline, "the traffic log never caught up"
            time.sleep(0.05)
        # labels arrive later, in an order unrelated to the requests, for all but every 7th request
        labelled = [(rid, float(truth[i])) for rid, i, _, _ in seen if i % 7]
        np.random.default_rng(3).shuffle(labelled)
        assert deployer.feedback(EP, labelled[:100])["matched"] == 100
        assert deployer.feedback(EP, labelled[100:])["matched"] == len(labelled) - 100
    assert len({rid for rid, *_ in seen}) == len(rows)  # every request got its own id
    for version in (v1, v2):
        mine = [(i, pred) for _, i, v, pred in seen if v == version and i % 7]
        stats = log.stats(version, revisions=[revision])
        assert stats.requests == sum(1 for *_, v, _ in seen if v == version)
        assert stats.labelled == len(mine) > 30
        assert stats.correct == sum(pred == truth[i] for i, pred in mine)
        correct, _ = log.outcomes(version, revisions=[revision])  # the A/B test's samples
        assert sum(correct) == stats.correct and len(correct) == stats.labelled
    # a client that reuses its own X-Request-Id: the label cannot say which answer it judges, so it is left out
    with serve_in_thread(ModelServer(EP, home=home, poll_s=0.05)) as url:
        c = Client(url)
        dup = [c.invoke(rows[i], headers={"X-Request-Id": "client-42"}).variant for i in range(6)]
        c.close()
    assert set(dup) <= {v1, v2}
    deadline = time.monotonic() + 30
    while log.count(v1, since=0) + log.count(v2, since=0) < len(rows) + 6:
        assert time.monotonic() < deadline, "the traffic log never caught up"
        time.sleep(0.05)
    assert deployer.feedback(EP, [("client-42", 1.0)]) == {"stored": 1, "matched": 1, "ambiguous": 1}
    assert log.stats(v1, revisions=[revision]).labelled + log.stats(v2, revisions=[revision]).labelled == \
        sum(1 for _, i, _, _ in seen if i % 7)
    # the same model behind both variants: per-row answers agree with the model itself
    expected = credit.model.predict(credit.test[credit.features].iloc[:240])
    assert all(pred == expected[i] for _, i, _, pred in seen)


class _FillingWindow:
    """A traffic log whose window fills as the deployer looks at it: 10 labelled requests per look.

    Each request goes to the candidate with probability ``share``; it is correct with
    probability ``acc`` (candidate) or ``inc_acc`` (incumbent), as labels would say.
    """

    def __init__(self, rng: np.random.Generator, share: float, acc: float, inc_acc: float):
        self.rng, self.share, self.acc, self.inc_acc = rng, share, acc, inc_acc
        self.cand = [0, 0]  # labelled, correct
        self.inc = [0, 0]

    def stats(self, version: str, **_: object) -> VariantStats:
        if version == "cand":
            for _ in range(10):
                if self.rng.random() < self.share:
                    self.cand[0] += 1
                    self.cand[1] += bool(self.rng.random() < self.acc)
                else:
                    self.inc[0] += 1
                    self.inc[1] += bool(self.rng.random() < self.inc_acc)
            return VariantStats("cand", self.cand[0], 0, 1.0, 1.0, self.cand[0], self.cand[1])
        return VariantStats("inc", self.inc[0], 0, 1.0, 1.0, self.inc[0], self.inc[1])


def _rollback_rate(home, *, share: float, acc: float, inc_acc: float, trials: int, seed: int) -> tuple[float, float]:
    """(share of windows that breached, mean candidate requests when they did) over ``trials`` windows."""
    deployer = EmbeddedDeployer(home, poll_s=0.0)
    deployer.store.put(EP, EndpointState(model=EP, environment="dev", variants={"inc": 1.0}, incumbent="inc"))
    req = DeployRequest(endpoint=EP, model=EP, version="cand", window_requests=40, window_seconds=600,
                        guardrails=Guardrails(min_requests=20, min_labelled=20))  # the default alphas
    rng = np.random.default_rng(seed)
    breached, at = 0, []
    for _ in range(trials):
        log = _FillingWindow(rng, share, acc, inc_acc)
        deployer.traffic = lambda endpoint, log=log: log  # noqa: B023 - bound per trial
        step = deployer._window(req, 1, lambda log=log: log.stats("inc"))
        if not step.verdict["ok"]:
            breached += 1
            at.append(step.verdict["candidate"]["requests"])
    return breached / trials, float(np.mean(at)) if at else float("nan")


def test_an_identical_candidate_is_rolled_back_no_more_often_than_alpha(home):
    # 600 windows at the default accuracy_alpha 0.05: judging every look at 0.05 breached ~10-12% of them
    rate, _ = _rollback_rate(home, share=0.3, acc=0.8, inc_acc=0.8, trials=600, seed=11)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 600), rate


@pytest.mark.parametrize("share", [0.3, 0.5])
def test_a_much_worse_candidate_is_still_stopped_early(home, share):
    rate, at = _rollback_rate(home, share=share, acc=0.2, inc_acc=0.8, trials=60, seed=5)
    assert rate == 1.0
    assert at < 40  # stopped on an interim look, before the window was complete
