"""Training speed and memory regressions (ML Test Score Mon6): this run's steps against the previous good run.

Each step that actually ran (not a cache hit) in both this run and the previous *succeeded*
run of the same pipeline is compared: wall time and peak memory (RSS). A step is flagged
when it got slower by more than ``max_duration_ratio`` (and by at least ``min_seconds``, so
a 0.2 s step doubling is noise, not a regression) or grew its peak memory by more than
``max_memory_ratio`` (and at least ``min_mb``). Advisory by default; ``gate=True`` fails.

Example:
    >>> checks = compare_steps([{"name": "train", "status": "succeeded", "cached": False, "duration_s": 30.0, "peak_rss_mb": 400.0}],
    ...                        [{"name": "train", "status": "succeeded", "cached": False, "duration_s": 10.0, "peak_rss_mb": 390.0}],
    ...                        PerformanceHistory(), previous_run="r1")
    >>> [(c.name, c.passed) for c in checks]
    [('performance.duration', False), ('performance.peak_memory', True)]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelway.stages.gates import CheckResult


@dataclass(frozen=True)
class PerformanceHistory:
    """Tolerances for step time and memory against the previous succeeded run.

    Example:
        >>> PerformanceHistory().max_duration_ratio
        1.5
    """

    max_duration_ratio: float = 1.5
    min_seconds: float = 2.0
    max_memory_ratio: float = 1.3
    min_mb: float = 50.0
    gate: bool = False


def compare_steps(current: list[dict[str, Any]], previous: list[dict[str, Any]], config: PerformanceHistory,
                  *, previous_run: str | None) -> list[CheckResult]:
    """Duration and peak-memory checks over the steps that ran in both runs."""
    before = {s["name"]: s for s in previous if _ran(s)}
    pairs = [(s, before[s["name"]]) for s in current if _ran(s) and s["name"] in before]
    if previous_run is None or not pairs:
        why = "no previous succeeded run of this pipeline" if previous_run is None else f"no step ran in both this run and {previous_run}"
        return [CheckResult(name, True, f"{why}: nothing to compare", category="performance", advisory=not config.gate)
                for name in ("performance.duration", "performance.peak_memory")]
    slow, heavy = [], []
    for now, then in pairs:
        t_now, t_then = now.get("duration_s") or 0.0, then.get("duration_s") or 0.0
        if t_then > 0 and t_now > t_then * config.max_duration_ratio and t_now - t_then >= config.min_seconds:
            slow.append(f"{now['name']} {t_then:.1f}s -> {t_now:.1f}s")
        m_now, m_then = now.get("peak_rss_mb"), then.get("peak_rss_mb")
        if m_now and m_then and m_now > m_then * config.max_memory_ratio and m_now - m_then >= config.min_mb:
            heavy.append(f"{now['name']} {m_then:.0f} MB -> {m_now:.0f} MB")
    compared = ", ".join(n["name"] for n, _ in pairs)
    return [
        CheckResult("performance.duration", not slow,
                    (f"slower than run {previous_run}: " + "; ".join(slow) if slow else f"no step slower than run {previous_run} ({compared})")
                    + f" (limit x{config.max_duration_ratio} and +{config.min_seconds:g} s)",
                    observed=slow or None, limit=config.max_duration_ratio, count=len(slow) or None, category="performance",
                    advisory=not config.gate),
        CheckResult("performance.peak_memory", not heavy,
                    (f"more memory than run {previous_run}: " + "; ".join(heavy) if heavy else f"no step needs more memory than run {previous_run} ({compared})")
                    + f" (limit x{config.max_memory_ratio} and +{config.min_mb:g} MB)",
                    observed=heavy or None, limit=config.max_memory_ratio, count=len(heavy) or None, category="performance",
                    advisory=not config.gate),
    ]


def history_checks(run_store: Any, run_id: str, pipeline: str, config: PerformanceHistory | None = None) -> list[CheckResult]:
    """Compare the steps of ``run_id`` (so far) with the latest earlier succeeded run of ``pipeline``."""
    config = config or PerformanceHistory()
    previous = next((r for r in run_store.list_runs(limit=20, pipeline=pipeline, status="succeeded") if r["run_id"] != run_id), None)
    if previous is None:
        return compare_steps(run_store.steps(run_id), [], config, previous_run=None)
    return compare_steps(run_store.steps(run_id), run_store.steps(previous["run_id"]), config, previous_run=previous["run_id"])


def _ran(step: dict[str, Any]) -> bool:
    return step.get("status") == "succeeded" and not step.get("cached") and step.get("duration_s") is not None
