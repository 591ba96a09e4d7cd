"""Endpoint contract tests: the gate a version passes before any traffic moves to it.

The candidate is started alone in a throw-away server on 127.0.0.1 (a free port) and
exercised over real HTTP the way the *previous* version's clients call it:

* compatibility: it needs no field the incumbent's clients do not send, with the same kinds,
  and answers the same task (classification stays classification);
* input formats: one JSON record, a JSON split batch and a CSV batch each get 200 and one
  prediction per row with the keys the incumbent returns, all finite;
* input schema: a missing field and a wrong type get a 400 that names the field;
* response time: p95 of sequential single-row requests within ``max_p95_ms``.

Rows come from the baseline profile (sampled numeric values, the most frequent categories),
so the requests look like the incumbent's real traffic.

Example:
    >>> ContractReport(checks=[("x", True, "")]).passed
    True
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelway.features import client_fields
from modelway.serving.state import EndpointState
from modelway.profiling.profile import sample_rows
from modelway.serving.app import ModelServer, serve_in_thread
from modelway.serving.client import Client
from modelway.stages.robustness import best_of


@dataclass
class ContractReport:
    """Each check as (name, passed, detail)."""

    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {detail}" for name, ok, detail in self.checks if not ok]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [{"name": n, "passed": ok, "detail": d} for n, ok, d in self.checks]}


RESPONSE_TIME_ATTEMPTS = 3


def run_contract_tests(registry: Any, home: Path, model: str, candidate: str, incumbent: str | None, *,
                       max_p95_ms: float = 1000.0, latency_requests: int = 30) -> ContractReport:
    """Start ``candidate`` alone on a free loopback port and check the endpoint contract over HTTP."""
    report = ContractReport()
    cand = registry.get(model, candidate)
    inc = registry.get(model, incumbent) if incumbent else cand
    # the fields clients send: a feature the version's feature function derives is not one of them
    cand_features = client_fields(cand.schema)
    inc_features = client_fields(inc.schema)
    inc_kinds = dict(inc_features)
    needs = [n for n, _ in cand_features if n not in inc_kinds]
    changed = [n for n, k in cand_features if n in inc_kinds and inc_kinds[n] != k]
    report.checks.append(("compatible fields", not needs and not changed,
                          f"needs fields the previous clients do not send: {needs}; kind changed: {changed}"
                          if needs or changed else f"{len(cand_features)} fields, all sent by {inc.version}'s clients"))
    same_task = cand.schema.get("task") == inc.schema.get("task")
    report.checks.append(("same task", same_task, f"{inc.schema.get('task')} -> {cand.schema.get('task')}"))
    if not report.passed:
        return report

    rows = sample_rows(inc_features, home, model, inc.version, 20)
    state = EndpointState(model=model, environment="contract", variants={candidate: 1.0}, incumbent=candidate, capture_rate=0.0)
    server = ModelServer(f"{model}-contract", home=home, registry=registry, state=state)
    expected_keys = {"prediction", "probability"} if cand.schema.get("task") == "classification" else {"prediction"}
    with serve_in_thread(server) as url:
        client = Client(url)
        try:
            _check_scores(report, "JSON record", client.invoke(rows[0]), 1, expected_keys)
            names = [n for n, _ in inc_features]
            split = {"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}}
            _check_scores(report, "JSON split batch", client.invoke(split), len(rows), expected_keys)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
            _check_scores(report, "CSV batch", client.invoke(buf.getvalue().encode(), content_type="text/csv"), len(rows),
                          expected_keys)
            first_name, first_kind = cand_features[0]
            missing = {k: v for k, v in rows[0].items() if k != first_name}
            _check_400(report, "missing field is a 400", client.invoke(missing), first_name)
            wrong = dict(rows[0], **{first_name: "not-a-number" if first_kind == "numeric" else 12345})
            _check_400(report, "wrong type is a 400", client.invoke(wrong), first_name)

            def response_p95() -> float:
                latencies = []
                for i in range(latency_requests):
                    start = time.perf_counter()
                    client.invoke(rows[i % len(rows)])
                    latencies.append((time.perf_counter() - start) * 1000)
                return float(np.percentile(latencies, 95))

            # A breach must reproduce: a machine busy for a moment slows one measurement, a slow
            # endpoint every one of them; the best of up to RESPONSE_TIME_ATTEMPTS is judged.
            p95, attempts = best_of(response_p95, max_p95_ms, RESPONSE_TIME_ATTEMPTS)
            note = f", best of {attempts} measurements" if attempts > 1 else ""
            report.checks.append(("response time", p95 <= max_p95_ms, f"p95 {p95:.1f} ms (limit {max_p95_ms:.0f} ms{note})"))
        finally:
            client.close()
    return report


def _check_scores(report: ContractReport, name: str, reply: Any, rows: int, keys: set[str]) -> None:
    if reply.status != 200:
        report.checks.append((name, False, f"HTTP {reply.status}: {reply.body[:200]!r}"))
        return
    preds = reply.json().get("predictions", [])
    finite = all(isinstance(p.get("prediction"), (int, float, str)) and
                 all(math.isfinite(v) for v in p.values() if isinstance(v, float)) for p in preds)
    ok = len(preds) == rows and all(keys <= set(p) for p in preds) and finite
    report.checks.append((name, ok, f"{len(preds)} predictions for {rows} rows, keys {sorted(set(preds[0]) if preds else [])}"
                          + ("" if finite else ", non-finite values")))


def _check_400(report: ContractReport, name: str, reply: Any, field_name: str) -> None:
    message = reply.json().get("error", "") if reply.status == 400 else reply.body[:200].decode(errors="replace")
    ok = reply.status == 400 and field_name in message
    report.checks.append((name, ok, f"HTTP {reply.status}: {message[:160]}"))
