"""One loaded model version behind an endpoint, with opportunistic request batching.

Single-row requests dominate online scoring, and a scikit-learn model costs nearly the same
for 1 row as for 30 (the per-call overhead: DataFrame construction, column transformer,
tree traversal setup). So requests that arrive while the model is busy are merged into one
call (as Triton's dynamic batching or Ray Serve's ``@serve.batch`` do), with no added wait
when the server is idle: the first request goes straight to the model. Each variant scores
on its own thread, so a slow candidate never stalls the incumbent's requests.

Example:
    >>> import asyncio
    >>> class Doubler:
    ...     def predict(self, frame): return frame["x"] * 2
    >>> v = Variant("1.0.0", Doubler(), [("x", "numeric")], task="regression")
    >>> asyncio.run(v.submit({"x": [1.0, 2.0]}))
    [{'prediction': 2.0}, {'prediction': 4.0}]
"""
from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from modelway.features import apply_to_columns, outputs_of
from modelway.serving.payload import Columns, PayloadValidator, row_count

MAX_BATCH_ROWS = 512


class Variant:
    """A model version ready to score validated columns."""

    def __init__(self, version: str, model: Any, features: list[tuple[str, str]], *, task: str | None,
                 categories: dict[str, set[str]] | None = None, feature_fn: Callable[[Any], Any] | None = None):
        self.version = version
        self.model = model
        self.features = features
        self.task = task or ("classification" if hasattr(model, "predict_proba") else "regression")
        # the registered feature function computes the derived features; clients send the rest
        self.feature_fn = feature_fn
        derived = set(outputs_of(feature_fn)) if feature_fn is not None else set()
        self.inputs = [(n, k) for n, k in features if n not in derived]
        self.validator = PayloadValidator(self.inputs, categories)
        self.categories_checked = bool(categories)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"variant-{version}")
        self._pending: list[tuple[Columns, int, asyncio.Future]] = []
        self._draining = False

    def featurize(self, columns: Columns) -> Columns:
        """Validated request columns -> the model's features, through the version's feature function (if any).

        The same function the training pipeline applied (:mod:`modelway.features`): what the
        model sees, and what the capture keeps for the monitor.
        """
        if self.feature_fn is None:
            return columns
        return apply_to_columns(self.feature_fn, columns, [name for name, _ in self.features])

    def predict_columns(self, columns: Columns) -> list[dict[str, Any]]:
        """Score columns synchronously: one dict per row (prediction, and probability for classifiers)."""
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame(columns, columns=[name for name, _ in self.features])
        if self.task == "classification" and hasattr(self.model, "predict_proba"):
            proba = np.asarray(self.model.predict_proba(frame))
            classes = np.asarray(getattr(self.model, "classes_", np.arange(proba.shape[1])))
            labels = classes[proba.argmax(axis=1)]
            return [{"prediction": _plain(c), "probability": float(p)} for c, p in zip(labels, proba[:, -1])]
        return [{"prediction": _plain(v)} for v in np.asarray(self.model.predict(frame))]

    async def submit(self, columns: Columns) -> list[dict[str, Any]]:
        """Score ``columns`` (merged with whatever else is waiting); raises what the model raised."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((columns, row_count(columns), future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, rows = [], 0
                while self._pending and (not batch or rows + self._pending[0][1] <= MAX_BATCH_ROWS):
                    item = self._pending.pop(0)
                    batch.append(item)
                    rows += item[1]
                merged = {name: [v for cols, _, _ in batch for v in cols[name]] for name, _ in self.features}
                try:
                    out = await loop.run_in_executor(self._executor, self.predict_columns, merged)
                except Exception as exc:  # noqa: BLE001 - the model's error becomes the request's 500
                    if len(batch) == 1:
                        _settle(batch[0][2], error=exc)
                        continue
                    # score one by one, so only the request that breaks the model fails
                    for cols, _, fut in batch:
                        try:
                            _settle(fut, await loop.run_in_executor(self._executor, self.predict_columns, cols))
                        except Exception as one:  # noqa: BLE001
                            _settle(fut, error=one)
                    continue
                start = 0
                for _, n, fut in batch:
                    _settle(fut, out[start:start + n])
                    start += n
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _settle(future: asyncio.Future, result: Any = None, *, error: BaseException | None = None) -> None:
    if future.done():  # the client went away and its request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def first_prediction(rows: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """(prediction, score) of the first row as numbers, for the traffic log."""
    if not rows:
        return None, None
    pred = rows[0].get("prediction")
    score = rows[0].get("probability", pred)
    return _num(pred), _num(score)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
