"""Subprocess entry point of :func:`modelway.policy_check.check_program`: render, then evaluate, in one fresh process.

``python -m modelway.policy_check.worker PROJECT_DIR JOB_JSON RESULT_JSON`` (JOB_JSON: the stacks
with their config files, the waivers file, today's date, the policy selection) writes
``{"ok": true, "result": [<Report state> per stack]}`` or ``{"ok": false, "error": "one line"}``.
One process pays for Pulumi and the pack once, for every stack; the process that called it never
imports them.
"""
from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

from modelway.policy_check.config import PackSettings
from modelway.policy_check.engine import evaluate
from modelway.policy_check.selection import Selection
from modelway.policy_check.waivers import load_waivers
from modelway.rendering import fast_imports
from modelway.rendering.project import load_program_spec
from modelway.rendering.worker import render_fresh


def _check(args: list[str]) -> list[dict[str, Any]]:
    project_dir_text, job_text = args
    job = json.loads(job_text)

    fast_imports.install()  # before the pack (or anything else) imports a provider SDK

    project_dir = Path(project_dir_text)
    selection = Selection.from_json(job["selection"])
    today = datetime.date.fromisoformat(job["today"])
    # Configs and waivers first: a defect in them fails before any render is paid for.
    settings = [PackSettings.load(Path(s["config"]) if s["config"] else None) for s in job["stacks"]]
    waiver_list = load_waivers(Path(job["waivers"]), settings[0].levels) if job["waivers"] else []
    reports = []
    for entry, stack_settings in zip(job["stacks"], settings):
        spec = load_program_spec(project_dir, entry["stack"])
        result = render_fresh(spec, strict_invokes=False, preview=True)
        report = evaluate(result, stack_settings, waivers=waiver_list, today=today, project=spec.project,
                          selection=selection)
        reports.append(report.to_state())
    return reports


if __name__ == "__main__":
    from modelway.rendering.worker import serve

    sys.exit(serve(sys.argv[1:], _check))
