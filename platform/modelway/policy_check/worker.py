"""Subprocess entry point of :func:`modelway.policy_check.check_program`: render, then evaluate, in one fresh process.

``python -m modelway.policy_check.worker PROJECT_DIR STACK|- CONFIG|- WAIVERS|- TODAY RESULT_JSON``
writes ``{"ok": true, "result": <Report state>}`` or ``{"ok": false, "error": "one line"}``.
One process pays for Pulumi and the pack once; the process that called it never imports them.
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any


def _check(args: list[str]) -> dict[str, Any]:
    project_dir, stack, config, waivers, today = args
    from modelway.rendering import fast_imports

    fast_imports.install()  # before the pack (or anything else) imports a provider SDK
    from modelway.policy_check.config import PackSettings
    from modelway.policy_check.engine import evaluate
    from modelway.policy_check.waivers import load_waivers
    from modelway.rendering.project import load_program_spec
    from modelway.rendering.worker import render_fresh

    # Config and waivers first: a defect in them fails before the render is paid for.
    settings = PackSettings.load(None if config == "-" else Path(config))
    waiver_list = load_waivers(Path(waivers), settings.levels) if waivers != "-" else []
    spec = load_program_spec(Path(project_dir), None if stack == "-" else stack)
    result = render_fresh(spec, strict_invokes=False, preview=True)
    report = evaluate(result, settings, waivers=waiver_list, today=datetime.date.fromisoformat(today),
                      project=spec.project)
    return report.to_state()


if __name__ == "__main__":
    from modelway.rendering.worker import serve

    sys.exit(serve(sys.argv[1:], _check))
