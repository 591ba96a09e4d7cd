"""The ML Test Score (Breck et al., 2017) of a model version: 28 tests, per section, from the checks it ran.

Each test is automated by named checks (a check name, or a prefix ending in ``.``), by a
mechanism that runs on every run (``always``: e.g. the step cache keyed on library versions),
by the test suite, or not (yet). A test scores 1 when automated and present for this version,
0.5 when it is a documented manual step, 0 otherwise; a section's score is the sum of its
tests, and the final score is the weakest section. The README's table is generated from
:data:`TESTS` (``python -m modelway.stages.ml_test_score``).

Example:
    >>> score = ml_test_score([{"name": "features.importance"}], training={})
    >>> score["sections"]["Data"]["tests"]["D2"]["score"], score["sections"]["Model"]["tests"]["M3"]["score"]
    (1.0, 0.0)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTIONS = ("Data", "Model", "Infrastructure", "Monitoring")


@dataclass(frozen=True)
class MLTest:
    """One of the 28 tests and what automates it here."""

    id: str
    section: str
    title: str
    checks: tuple[str, ...] = ()
    """Check names or prefixes (ending in ``.``) whose presence in a version's results automates the test."""
    always: str = ""
    """A mechanism that runs on every ``modelway run`` (credited without a check)."""
    manual: str = ""
    """A documented manual step (0.5)."""
    where: str = ""
    """The module or command that automates it (linked from the README)."""


TESTS: tuple[MLTest, ...] = (
    MLTest("D1", "Data", "Feature expectations are captured in a schema", ("schema.", "quality."), where="stages/validation.py"),
    MLTest("D2", "Data", "All features are beneficial", ("features.importance",), where="stages/feature_checks.py"),
    MLTest("D3", "Data", "No feature's cost is too much", ("features.cost",), where="stages/feature_checks.py"),
    MLTest("D4", "Data", "Features adhere to meta-level requirements", ("fairness.",), where="stages/lifecycle.py (sensitive attribute is not a feature)"),
    MLTest("D5", "Data", "The data pipeline has appropriate privacy controls", ("privacy.pii",), where="stages/privacy.py"),
    MLTest("D6", "Data", "New features can be added quickly", manual="one function + one contract column + one list entry (README: derived features)"),
    MLTest("D7", "Data", "All input feature code is tested", ("features.derived",), where="stages/ml_tests.py + tests/pipelines/test_derived_features.py"),
    MLTest("M1", "Model", "Model specs are reviewed and submitted", always="prod registration refuses a dirty tree or unpushed commit", where="stages/spec_review.py"),
    MLTest("M2", "Model", "Offline and online metrics correlate", manual="compare `modelway monitor` accuracy on labelled traffic with the card's test metrics"),
    MLTest("M3", "Model", "All hyperparameters have been tuned", always="cross-validated search in every training step", where="stages/training.py"),
    MLTest("M4", "Model", "The impact of model staleness is known", ("staleness.impact",), where="stages/staleness.py"),
    MLTest("M5", "Model", "A simpler model is not better", ("baseline.",), where="stages/baselines.py"),
    MLTest("M6", "Model", "Model quality is sufficient on important data slices", ("slice.",), where="stages/evaluation.py"),
    MLTest("M7", "Model", "The model is tested for considerations of inclusion", ("fairness.",), where="stages/fairness.py"),
    MLTest("I1", "Infrastructure", "Training is reproducible", ("reproducibility.refit",), where="stages/ml_tests.py"),
    MLTest("I2", "Infrastructure", "Model specs are unit tested", ("robustness.schema.",), where="stages/robustness.py"),
    MLTest("I3", "Infrastructure", "The ML pipeline is integration tested", always="tests/pipelines run both examples end to end in `make test`", where="tests/pipelines/"),
    MLTest("I4", "Infrastructure", "Model quality is validated before serving", ("quality.", "regression.vs_champion"), where="stages/evaluation.py"),
    MLTest("I5", "Infrastructure", "The model is debuggable", ("debug.explain",), where="stages/explain.py (`modelway explain`)"),
    MLTest("I6", "Infrastructure", "Models are canaried before serving", manual="`modelway deploy` canary weights (serving issue)"),
    MLTest("I7", "Infrastructure", "Serving models can be rolled back", manual="`modelway deploy` rollback (serving issue)"),
    MLTest("Mon1", "Monitoring", "Dependency changes result in notification", ("dependencies.vs_champion",), where="stages/dependencies.py + runtime/fingerprint.py"),
    MLTest("Mon2", "Monitoring", "Data invariants hold in training and serving inputs", ("schema.",), where="stages/validation.py, serving/payload.py"),
    MLTest("Mon3", "Monitoring", "Training and serving features compute the same values", manual="`modelway monitor` drift against the training profile"),
    MLTest("Mon4", "Monitoring", "Models are not too stale", manual="`modelway monitor` staleness"),
    MLTest("Mon5", "Monitoring", "The model is numerically stable", ("robustness.perturbation_stability", "robustness.targeted_perturbation"), where="stages/robustness.py, stages/adversarial.py"),
    MLTest("Mon6", "Monitoring", "The model has not regressed in speed or memory", always="each registration compares step time and peak memory with the previous good run", where="stages/run_history.py"),
    MLTest("Mon7", "Monitoring", "The model has not regressed in prediction quality", ("regression.vs_champion",), where="stages/evaluation.py"),
)


def ml_test_score(checks: list[dict[str, Any]], *, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score per test and section from the checks a version ran (dicts with a ``name``); ``training`` is the
    card's training summary (M3 counts when it records a hyperparameter search)."""
    names = [str(c.get("name", "")) for c in checks]
    sections: dict[str, dict[str, Any]] = {s: {"score": 0.0, "tests": {}} for s in SECTIONS}
    for test in TESTS:
        found = [n for n in names if any(n == p or (p.endswith(".") and n.startswith(p)) for p in test.checks)]
        if found:
            score, how = 1.0, f"automated: {len(found)} check(s) ({', '.join(sorted(set(found))[:3])}{', ...' if len(set(found)) > 3 else ''})"
        elif test.id == "M3" and not (training or {}).get("search"):
            score, how = 0.0, "no hyperparameter search recorded for this version"
        elif test.always:
            score, how = 1.0, f"automated: {test.always}"
        elif test.manual:
            score, how = 0.5, f"manual: {test.manual}"
        else:
            score, how = 0.0, "not run for this version" if test.checks else "not automated"
        sections[test.section]["tests"][test.id] = {"title": test.title, "score": score, "how": how}
        sections[test.section]["score"] += score
    final = min(s["score"] for s in sections.values())
    return {"sections": sections, "final": final, "weakest": min(sections, key=lambda s: sections[s]["score"])}


def readme_table() -> str:
    """The Markdown table of the README: each test, its section and what automates it."""
    rows = ["| test | section | automated by | score |", "|---|---|---|---|"]
    for t in TESTS:
        if t.checks or t.always:
            what = ", ".join(f"`{c}`" for c in t.checks) or t.always
            link = f" ([{t.where.split(' ')[0].rstrip(',')}]({_link(t.where)}))" if t.where else ""
            rows.append(f"| {t.id} {t.title} | {t.section} | {what}{link} | 1 |")
        else:
            rows.append(f"| {t.id} {t.title} | {t.section} | manual: {t.manual} | 0.5 |")
    return "\n".join(rows)


def _link(where: str) -> str:
    first = where.split(" ")[0].rstrip(",")
    return first if first.startswith("tests/") else f"platform/modelway/{first}"


if __name__ == "__main__":
    print(readme_table())
