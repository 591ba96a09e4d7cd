"""A tiny model and a simulated server for fast rollout tests (no training, no traffic threads over HTTP).

:class:`Tiny` scores in microseconds, so contract tests and windows take a fraction of a second.
:class:`SimServer` plays the part of a model server through the same tables a real one
writes: it applies each revision at once (heartbeat), and writes one tick of traffic per poll for
every variant the revision routes to (and the shadow), with the status, answers and labels each
version is told to give. The guardrails then judge exactly the numbers a test chose.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelway.features import feature_function

SCHEMA = {"features": [["x", "numeric"], ["color", "categorical"]], "task": "classification"}


class Tiny:
    """p(class 1) = x / 10 (clipped); ``tag`` only makes a distinct artifact; ``fail``: raises on every call;
    ``invert``: the opposite answers (a shadow that disagrees)."""

    def __init__(self, tag: str = "a", fail: bool = False, invert: bool = False):
        self.tag, self.fail, self.invert = tag, fail, invert
        self.classes_ = np.array([0, 1])

    def predict_proba(self, frame: Any) -> Any:
        if self.fail:
            raise RuntimeError("tiny model failed")
        p = np.clip(frame["x"].to_numpy(dtype=float) / 10, 0, 1)
        if getattr(self, "invert", False):
            p = 1 - p
        return np.column_stack([1 - p, p])

    def predict(self, frame: Any) -> Any:
        """Served as a regression (schema task ``regression``): twice x."""
        return frame["x"].to_numpy(dtype=float) * 2


def register_tiny(home: Path, tag: str, *, fail: bool = False, schema: dict | None = None, environment: str = "dev",
                  name: str = "tiny", invert: bool = False) -> str:
    from modelway.registry import ModelCandidate, get_registry

    mv = get_registry(home).register(ModelCandidate(name=name, model=Tiny(tag, fail, invert), schema=schema or SCHEMA,
                                                    metrics={"tag": tag}, family="Tiny"),
                                     environment=environment, actor="pytest")
    return mv.version


@dataclass
class Behaviour:
    """How one version answers in the simulated traffic: HTTP status, latency, share of correct labelled answers."""

    status: int = 200
    latency_ms: float = 2.0
    accuracy: float | None = None  # None: no labels come back
    agree: int | None = 1  # as a shadow: does it agree with the live answer (None: not compared)


class SimServer:
    """A stand-in model server: applies every revision at once and writes ``per_tick`` requests per variant per poll."""

    def __init__(self, home: Path, endpoint: str, behaviours: dict[str, Behaviour], *, per_tick: int = 5,
                 url: str = "http://sim", apply: bool = True, load_error: str | None = None):
        from modelway.serving.state import DeploymentStore
        from modelway.serving.traffic import TrafficLog, traffic_path

        self.store = DeploymentStore(home)
        self.log = TrafficLog(traffic_path(home, endpoint))
        self.endpoint, self.behaviours, self.per_tick, self.url = endpoint, behaviours, per_tick, url
        self.apply, self.load_error = apply, load_error
        self.stop = threading.Event()
        self.ids = itertools.count()
        self.answered: dict[str, int] = {}
        self.states: dict[int, Any] = {}  # every revision seen, as written (the routing mid-rollout)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def tick(self) -> None:
        found = self.store.get(self.endpoint)
        if found is None:
            return
        revision, state = found
        self.states.setdefault(revision, state)
        applied = revision if self.apply else revision - 1
        self.store.heartbeat(self.endpoint, self.url, applied,
                             self.load_error.format(revision=revision) if self.load_error else None)
        labels = []
        now = time.time()
        for version, weight in state.variants.items():
            if weight > 0:
                labels += self._write(version, revision, now, shadow=False)
        if state.shadow:
            self._write(state.shadow, revision, now, shadow=True)
        self.log.flush()
        if labels:
            self.log.add_feedback(labels, now)

    def _write(self, version: str, revision: int, now: float, *, shadow: bool) -> list[tuple[str, float]]:
        from modelway.serving.traffic import TrafficRecord

        b = self.behaviours.get(version, Behaviour())
        labels = []
        for _ in range(self.per_tick):
            i = next(self.ids)
            rid = f"{'s' if shadow else 'r'}{i}"
            self.log.record(TrafficRecord(rid, now, version, revision, b.status, b.latency_ms,
                                          1.0 if b.status == 200 else None, 0.9, shadow=int(shadow),
                                          agree=b.agree if shadow else None))
            if b.accuracy is not None and not shadow and b.status == 200:
                n = self.answered[version] = self.answered.get(version, 0) + 1
                correct = int(n * b.accuracy) > int((n - 1) * b.accuracy)  # spread evenly: every prefix is on target
                labels.append((rid, 1.0 if correct else 0.0))
        return labels

    def _run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(0.01)

    def __enter__(self) -> SimServer:
        self.tick()
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(5)


@feature_function("x2")
def doubled_x(frame: Any) -> Any:
    """A feature function: the derived column ``x2`` is twice ``x`` (clients send ``x`` only)."""
    return frame.assign(x2=frame["x"] * 2)
