"""Mutation pins of a loaded variant: task, predictions, request batching up to MAX_BATCH_ROWS, failures."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from modelway.serving.variant import MAX_BATCH_ROWS, Variant, first_prediction


class _Proba:
    """A classifier: probability of class 'yes' is x / 10; records the batch sizes it scored."""

    def __init__(self, classes=("no", "yes")):
        if classes is not None:
            self.classes_ = np.array(classes)
        self.calls: list[int] = []

    def predict_proba(self, frame):
        self.calls.append(len(frame))
        if (frame["x"] < 0).any():
            raise ValueError("negative x")
        p = frame["x"].to_numpy(dtype=float) / 10
        return np.column_stack([1 - p, p])


class _Reg:
    def predict(self, frame):
        return frame["x"] * 2


def test_variant_task_inputs_and_featurize():
    assert Variant("1", _Proba(), [("x", "numeric")], task=None).task == "classification"
    assert Variant("1", _Reg(), [("x", "numeric")], task=None).task == "regression"
    assert Variant("1", _Proba(), [("x", "numeric")], task="regression").task == "regression"
    v = Variant("1", _Reg(), [("x", "numeric")], task=None, categories={"c": {"a"}})
    assert v.categories_checked is True and v.inputs == [("x", "numeric")] and v.feature_fn is None
    assert Variant("1", _Reg(), [("x", "numeric")], task=None, categories={}).categories_checked is False
    cols = {"x": [1.0]}
    assert v.featurize(cols) is cols
    v.close()


def test_predict_columns_classification_and_regression():
    v = Variant("1", _Proba(), [("x", "numeric")], task="classification")
    assert v.predict_columns({"x": [2.0, 8.0]}) == [{"prediction": "no", "probability": pytest.approx(0.2)},
                                                     {"prediction": "yes", "probability": pytest.approx(0.8)}]
    no_classes = Variant("1", _Proba(classes=None), [("x", "numeric")], task="classification")
    assert no_classes.predict_columns({"x": [9.0]}) == [{"prediction": 1, "probability": pytest.approx(0.9)}]
    assert type(no_classes.predict_columns({"x": [9.0]})[0]["prediction"]) is int
    reg = Variant("1", _Reg(), [("x", "numeric")], task="regression")
    assert reg.predict_columns({"x": [1.5]}) == [{"prediction": 3.0}]
    # a classifier served as regression answers predict(): here it has none
    assert Variant("1", _Reg(), [("x", "numeric")], task="classification").predict_columns({"x": [1.0]}) == [{"prediction": 2.0}]


def _submit_all(variant: Variant, requests: list[dict]) -> list:
    async def run():
        return await asyncio.gather(*(variant.submit(r) for r in requests), return_exceptions=True)

    return asyncio.run(run())


@pytest.mark.parametrize("sizes,calls", [
    ([1, 1, 1], [3]),  # requests waiting together are one call
    ([256, 256], [512]), ([256, 257], [256, 257]), ([300, 300, 300], [300, 300, 300]), ([600, 1], [600, 1]),
    ([200, 200, 200], [400, 200]),
])
def test_requests_waiting_together_are_merged_up_to_max_batch_rows(sizes, calls):
    assert MAX_BATCH_ROWS == 512
    model = _Proba()
    v = Variant("1", model, [("x", "numeric")], task="classification")
    start = 0
    requests = []
    for n in sizes:
        requests.append({"x": [float(i % 10) for i in range(start, start + n)]})
        start += n
    replies = _submit_all(v, requests)
    v.close()
    assert [len(r) for r in replies] == sizes
    assert [r[0]["probability"] for r in replies] == pytest.approx([req["x"][0] / 10 for req in requests])
    assert model.calls == calls


def test_a_failing_request_in_a_merged_batch_fails_alone():
    model = _Proba()
    v = Variant("1", model, [("x", "numeric")], task="classification")
    replies = _submit_all(v, [{"x": [1.0, 2.0]}, {"x": [3.0]}, {"x": [-1.0]}, {"x": [5.0]}])
    v.close()
    assert replies[0] == [{"prediction": "no", "probability": pytest.approx(0.1)},
                          {"prediction": "no", "probability": pytest.approx(0.2)}]
    assert isinstance(replies[2], ValueError) and str(replies[2]) == "negative x"
    assert replies[1][0]["probability"] == pytest.approx(0.3) and replies[3][0]["probability"] == pytest.approx(0.5)
    single = _Proba()
    alone = Variant("1", single, [("x", "numeric")], task="classification")
    [err] = _submit_all(alone, [{"x": [-2.0]}])
    assert isinstance(err, ValueError) and single.calls == [1]  # a request alone is not scored a second time
    # the variant keeps serving after a failure
    assert _submit_all(alone, [{"x": [4.0]}])[0][0]["prediction"] == "no"
    alone.close()


def test_first_prediction_for_the_traffic_log():
    assert first_prediction([]) == (None, None)
    assert first_prediction([{"prediction": 1, "probability": 0.75}, {"prediction": 0}]) == (1.0, 0.75)
    assert first_prediction([{"prediction": 2.5}]) == (2.5, 2.5)
    assert first_prediction([{"prediction": "yes", "probability": 0.6}]) == (None, 0.6)
    assert first_prediction([{"prediction": "7"}]) == (7.0, 7.0)
    assert first_prediction([{"prediction": float("nan"), "probability": float("inf")}]) == (None, None)
    assert first_prediction([{"probability": 0.3}]) == (None, 0.3)
    assert first_prediction([{"prediction": None}]) == (None, None)


def test_a_request_whose_client_went_away_does_not_stall_the_others():
    gate = threading.Event()

    class Gated(_Proba):
        def predict_proba(self, frame):
            gate.wait(5)
            return super().predict_proba(frame)

    v = Variant("1", Gated(), [("x", "numeric")], task="classification")

    async def run():
        gone = asyncio.ensure_future(v.submit({"x": [1.0]}))
        waiting = asyncio.ensure_future(v.submit({"x": [2.0]}))
        await asyncio.sleep(0.05)  # both are in the model's batch now
        gone.cancel()
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(run()) == [{"prediction": "no", "probability": pytest.approx(0.2)}]
    v.close()


def test_a_failed_batch_does_not_strand_the_requests_behind_it():
    # a failing request alone, then a merged batch that fails: the requests queued after each are still answered
    big_bad = {"x": [-1.0] + [1.0] * (MAX_BATCH_ROWS - 1)}
    for requests, ok in (([big_bad, {"x": [2.0]}], [False, True]),
                         ([{"x": [-1.0]}, {"x": [2.0]}, {"x": [3.0] * MAX_BATCH_ROWS}], [False, True, True])):
        v = Variant("1", _Proba(), [("x", "numeric")], task="classification")

        async def run():
            return await asyncio.wait_for(asyncio.gather(*(v.submit(r) for r in requests), return_exceptions=True), 10)

        replies = asyncio.run(run())
        v.close()
        assert [not isinstance(r, Exception) for r in replies] == ok


def test_requests_arriving_while_the_model_is_busy_wait_and_are_merged():
    gate = threading.Event()

    class Gated(_Proba):
        def predict_proba(self, frame):
            self.threads = getattr(self, "threads", []) + [threading.current_thread().name]
            gate.wait(5)
            return super().predict_proba(frame)

    model = Gated()
    v = Variant("1.2.0", model, [("x", "numeric")], task="classification")

    async def run():
        first = asyncio.ensure_future(v.submit({"x": [1.0]}))
        await asyncio.sleep(0.05)  # the model is busy with the first request
        second = asyncio.ensure_future(v.submit({"x": [2.0]}))
        await asyncio.sleep(0.05)
        third = asyncio.ensure_future(v.submit({"x": [3.0]}))
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.wait_for(asyncio.gather(first, second, third), 10)

    replies = asyncio.run(run())
    v.close()
    assert [r[0]["probability"] for r in replies] == pytest.approx([0.1, 0.2, 0.3])
    assert model.calls == [1, 2]
    assert all(name.startswith("variant-1.2.0") for name in model.threads)  # each version scores on its own thread


class _Three:
    classes_ = np.array(["a", "b", "c"])

    def predict_proba(self, frame):
        return np.array([[0.2, 0.5, 0.3]] * len(frame))


def test_a_multiclass_answer_is_the_top_class_with_the_last_class_probability():
    v = Variant("1", _Three(), [("x", "numeric")], task=None)
    assert (v.version, v.task) == ("1", "classification")
    assert v.validator.features == [("x", "numeric")] and v.validator.validate({"x": ["2"]}) == {"x": [2.0]}
    assert v.predict_columns({"x": [1.0]}) == [{"prediction": "b", "probability": 0.3}]
    v.close()


def test_a_feature_function_derives_what_clients_do_not_send():
    from tests.serving.tiny_models import doubled_x

    v = Variant("1", _Reg(), [("x", "numeric"), ("x2", "numeric")], task="regression", feature_fn=doubled_x)
    assert v.inputs == [("x", "numeric")] and v.validator.features == [("x", "numeric")]
    assert v.featurize({"x": [1.5, 2.0]}) == {"x": [1.5, 2.0], "x2": [3.0, 4.0]}
    v.close()
