"""Mutation pins for the ML Test Score (stages/ml_test_score): every test's score and reason, the sections,
the weakest one and the README table generated from them.

Each test asserts what a reader of a model card, a run log or a refusal sees: exact messages,
both sides of each threshold, every entry of a returned table.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from modelway.stages.ml_test_score import SECTIONS, TESTS, ml_test_score, readme_table

REPO = Path(__file__).resolve().parents[2]


# --- ml_test_score ---------------------------------------------------------------------------------

NOT_RUN = "not run for this version"
MANUAL = {
    "D6": "manual: one function + one contract column + one list entry (README: derived features)",
    "M2": "manual: compare `modelway monitor` accuracy on labelled traffic with the card's test metrics",
    "I6": "manual: `modelway deploy` canary weights (serving issue)",
    "I7": "manual: `modelway deploy` rollback (serving issue)",
    "Mon3": "manual: `modelway monitor` drift against the training profile",
    "Mon4": "manual: `modelway monitor` staleness",
}
ALWAYS = {
    "M1": "automated: prod registration refuses a dirty tree or unpushed commit",
    "M3": "automated: cross-validated search in every training step",
    "I3": "automated: tests/pipelines run both examples end to end in `make test`",
    "Mon6": "automated: each registration compares step time and peak memory with the previous good run",
}


def _scores(result):
    return {tid: (t["score"], t["how"]) for s in result["sections"].values() for tid, t in s["tests"].items()}


def test_a_version_without_checks_scores_only_its_mechanisms_and_manual_steps():
    result = ml_test_score([], training={"search": {"strategy": "grid"}})
    expected = {t.id: (0.0, NOT_RUN) for t in TESTS}
    expected.update({k: (0.5, v) for k, v in MANUAL.items()})
    expected.update({k: (1.0, v) for k, v in ALWAYS.items()})
    assert _scores(result) == expected
    assert {s: v["score"] for s, v in result["sections"].items()} == {"Data": 0.5, "Model": 2.5, "Infrastructure": 2.0, "Monitoring": 2.0}
    assert list(result["sections"]) == list(SECTIONS) == ["Data", "Model", "Infrastructure", "Monitoring"]
    assert (result["final"], result["weakest"]) == (0.5, "Data")
    assert result["sections"]["Data"]["tests"]["D1"]["title"] == "Feature expectations are captured in a schema"


def test_m3_needs_a_recorded_search():
    for training in ({}, None, {"search": {}}):
        m3 = ml_test_score([], training=training)["sections"]["Model"]["tests"]["M3"]
        assert (m3["score"], m3["how"]) == (0.0, "no hyperparameter search recorded for this version")
    assert ml_test_score([])["sections"]["Model"]["score"] == 1.5   # M1 1 + M2 0.5


def test_every_automating_check_counts_and_the_weakest_section_is_the_first_lowest():
    names = [{"name": p + ("x" if p.endswith(".") else "")} for t in TESTS for p in t.checks]
    result = ml_test_score(names, training={"search": {"n": 1}})
    assert {s: v["score"] for s, v in result["sections"].items()} == {"Data": 6.5, "Model": 6.5, "Infrastructure": 6.0, "Monitoring": 6.0}
    assert (result["final"], result["weakest"]) == (6.0, "Infrastructure")
    scores = _scores(result)
    assert scores["D2"] == (1.0, "automated: 1 check(s) (features.importance)")
    assert scores["D1"] == (1.0, "automated: 4 check(s) (quality.x, schema.x)")   # Mon2 and I4 share them
    assert scores["Mon5"] == (1.0, "automated: 2 check(s) (robustness.perturbation_stability, robustness.targeted_perturbation)")
    assert scores["I4"] == (1.0, "automated: 4 check(s) (quality.x, regression.vs_champion)")


def test_check_names_match_exactly_or_by_a_dotted_prefix_and_the_list_is_cut_at_three():
    s = _scores(ml_test_score([{"name": "features.importance_v2"}, {"name": "features.importance"}, {"name": "fairness"},
                               {"other": 1}]))
    assert s["D2"] == (1.0, "automated: 1 check(s) (features.importance)")   # no prefix match without a dot
    assert s["D4"] == (0.0, NOT_RUN)                                          # "fairness" is not "fairness."
    four = [{"name": f"slice.{c}"} for c in "dcba"] + [{"name": "slice.a"}]
    assert _scores(ml_test_score(four))["M6"] == (1.0, "automated: 5 check(s) (slice.a, slice.b, slice.c, ...)")
    three = [{"name": f"slice.{c}"} for c in "cba"]
    assert _scores(ml_test_score(three))["M6"] == (1.0, "automated: 3 check(s) (slice.a, slice.b, slice.c)")
    assert _scores(ml_test_score([{"name": "schema."}]))["Mon2"] == (1.0, "automated: 1 check(s) (schema.)")


def test_the_readme_table_is_generated_from_the_tests_and_links_their_modules():
    table = readme_table()
    readme = (REPO / "README.md").read_text()
    assert table in readme
    lines = table.splitlines()
    assert lines[:2] == ["| test | section | automated by | score |", "|---|---|---|---|"] and len(lines) == 30
    assert lines[2] == ("| D1 Feature expectations are captured in a schema | Data | `schema.`, `quality.` "
                        "([stages/validation.py](platform/modelway/stages/validation.py)) | 1 |")
    assert "| I3 The ML pipeline is integration tested | Infrastructure | tests/pipelines run both examples end to end in "\
           "`make test` ([tests/pipelines/](tests/pipelines/)) | 1 |" in lines
    assert "| Mon2 Data invariants hold in training and serving inputs | Monitoring | `schema.` ([stages/validation.py]" \
           "(platform/modelway/stages/validation.py)) | 1 |" in lines
    assert "| D6 New features can be added quickly | Data | manual: one function + one contract column + one list entry " \
           "(README: derived features) | 0.5 |" in lines


def test_where_each_test_is_automated_names_the_module_and_what_in_it():
    # the README links the first word; the rest says which part of the module automates the test
    where = {t.id: t.where for t in TESTS if " " in t.where}
    assert where == {
        "D4": "stages/lifecycle.py (sensitive attribute is not a feature)",
        "D7": "stages/ml_tests.py + tests/pipelines/test_derived_features.py",
        "I5": "stages/explain.py (`modelway explain`)",
        "Mon1": "stages/dependencies.py + runtime/fingerprint.py",
        "Mon2": "stages/validation.py, serving/payload.py",
        "Mon5": "stages/robustness.py, stages/adversarial.py",
    }
    assert [t.id for t in TESTS if not t.where] == ["D6", "M2", "I6", "I7", "Mon3", "Mon4"]


def test_the_module_prints_the_readme_table(capsys):
    import runpy
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # runpy: the module is already imported
        runpy.run_module("modelway.stages.ml_test_score", run_name="__main__")
    assert capsys.readouterr().out == readme_table() + "\n"


def test_an_ml_test_is_frozen_and_credits_nothing_by_default():
    import dataclasses

    from modelway.stages.ml_test_score import MLTest

    bare = MLTest("X1", "Data", "t")
    assert (bare.checks, bare.always, bare.manual, bare.where) == ((), "", "", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        TESTS[0].title = "changed"  # type: ignore[misc]
