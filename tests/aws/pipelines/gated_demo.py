"""A pipeline with a model-test gate: ``evaluate`` returns an Evaluation (or stops with GateFailed), ``publish``
consumes it, ``summary`` comes after. ``good=false`` makes the gate fail."""
from __future__ import annotations

from modelway import pipeline, step
from modelway.stages.gates import CheckResult, GateFailed, GateReport
from modelway.stages.results import Evaluation


@step
def score(n: int) -> float:
    return round(0.5 + n / 100, 2)


@step(retries=1, retry_delay="0")
def evaluate(auc: float, good: bool) -> Evaluation:
    report = GateReport("model tests", [CheckResult("quality.roc_auc", good, f"roc_auc {auc}", observed=auc, limit=0.7)])
    if not good:
        raise GateFailed(report)
    return Evaluation(report={"gate": report.gate}, card={}, metrics={"roc_auc": auc})


@step
def publish(evaluation: Evaluation) -> dict:
    return {"published": evaluation.metrics["roc_auc"]}


@step
def summary(published: dict) -> str:
    return f"published {published['published']}"


@pipeline
def gated_demo(n: int = 30, good: bool = True) -> str:
    return summary(publish(evaluate(score(n), good)))
