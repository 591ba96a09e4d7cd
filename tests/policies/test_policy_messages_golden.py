"""Every violation and note the rules' own tests provoke, replayed and compared word for word.

The rule tests assert that a message *contains* a key phrase; what a user reads is the whole
line, so this test pins each one exactly (a rule that reports a second violation, drops one,
or changes its wording fails here). The cases (rule, resource or stack, config, and the
messages reported) were recorded from tests/policies/test_policy_*.py by running them with
``MODELWAY_RECORD_POLICY_CASES=tests/policies/golden/policy_cases.jsonl`` (see policy_helpers);
after a deliberate change of wording, delete the file and record it again, and review the diff.
"""
from __future__ import annotations

import json
from pathlib import Path

from policy_helpers import evaluate, evaluate_stack

CASES = Path(__file__).parent / "golden" / "policy_cases.jsonl"


def _replay(case: dict):
    if "resources" in case:
        return evaluate_stack(case["policy"], [tuple(r) for r in case["resources"]], config=case["config"],
                              stack=case["stack"], stack_config=case["stack_config"])
    return evaluate(case["policy"], case["resource_type"], case["props"], config=case["config"],
                    provider_props=case["provider_props"])


def test_every_recorded_case_reports_exactly_the_recorded_messages() -> None:
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]
    assert len(cases) > 200
    differences = []
    for case in cases:
        outcome = _replay(case)
        got = ([v.message for v in outcome.violations], [n.message for n in outcome.notes])
        if got != (case["violations"], case["notes"]):
            differences.append((case["policy"], got, (case["violations"], case["notes"])))
    assert differences == []
