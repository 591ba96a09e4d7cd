"""What a loaded version costs the server: memory held by the model, peak memory and speed of a prediction.

One process serves several versions, so the process RSS cannot say which one grew. Instead
each version is measured when the server loads it, with :mod:`tracemalloc` (Python's own
allocation tracer, so the numbers belong to that version's code and data and are stable
from run to run): the memory the unpickled model holds, the peak memory of scoring a fixed
probe batch, and the probe's rows per second (the model's scoring capacity, independent of
how much traffic happens to arrive). The server writes these to the traffic log; ``modelway
monitor`` compares the serving version with the previous one and alerts on a regression.

Example:
    >>> obj, mb = measure_load(lambda: bytearray(4 * 1024 * 1024))
    >>> round(mb)
    4
"""
from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass
class ResourceProfile:
    """One version's cost, measured at load on ``rows`` probe rows."""

    version: str
    model_mb: float
    predict_peak_mb: float
    rows_per_s: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _traced() -> bool:
    """Start tracing if nobody else does; True when this call started it (and must stop it)."""
    if tracemalloc.is_tracing():
        return False
    tracemalloc.start()
    return True


def measure_load(load: Callable[[], Any]) -> tuple[Any, float]:
    """(``load()``, MB of memory it still holds afterwards)."""
    started = _traced()
    try:
        before = tracemalloc.get_traced_memory()[0]
        obj = load()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        if started:
            tracemalloc.stop()
    return obj, max(held, 0) / 2**20


def probe_predict(version: str, predict: Callable[[Any], Any], columns: Any, rows: int, model_mb: float, *,
                  repeats: int = 3) -> ResourceProfile:
    """Peak memory of one ``predict(columns)`` (traced) and rows/s (median of ``repeats`` untraced calls)."""
    predict(columns)  # warm-up: lazy imports and caches are not the model's per-call cost
    started = _traced()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        predict(columns)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()
    timings = []
    for _ in range(repeats):  # untraced: tracing slows allocation several times over
        start = time.perf_counter()
        predict(columns)
        timings.append(time.perf_counter() - start)
    return ResourceProfile(version, model_mb, max(peak, 0) / 2**20, rows / max(statistics.median(timings), 1e-9), rows)
