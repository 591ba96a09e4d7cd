"""What the pack publishes about each policy, pinned against a golden file.

Name, kind, severity, concern, the scanner checks it mirrors, description, remediation, the
resource types it reads and its config schema are what `modelway policy list`, the SARIF rules
(code scanning's help text), JUnit and `pulumi preview` show a user; a changed word there is a
changed product. A deliberate change: ``MODELWAY_UPDATE_GOLDEN=1 pytest tests/policies/test_policy_metadata_golden.py``
rewrites the golden file, and the diff is reviewed with the change.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from policies.catalog import ALL_POLICIES

GOLDEN = Path(__file__).parent / "golden" / "policy_metadata.json"


def _published() -> list[dict]:
    rows = []
    for p in ALL_POLICIES:
        schema = p.config_schema
        rows.append({
            "name": p.name, "kind": p.kind, "severity": p.severity.value if p.severity is not None else None,
            "concern": p.concern, "mirrors": list(p.mirrors), "description": p.description,
            "remediation": p.remediation_steps, "resource_types": sorted(getattr(p, "resource_types", None) or []),
            "config": None if schema is None else {"properties": schema.properties, "required": schema.required},
            "defaults": p.params(None),
        })
    return rows


def test_every_policys_published_metadata_matches_the_golden_file() -> None:
    rows = _published()
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [r["name"] for r in rows] == [g["name"] for g in golden]
    for row, expected in zip(rows, golden):
        assert row == expected, row["name"]
