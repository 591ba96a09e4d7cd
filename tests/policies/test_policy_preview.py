"""Preview semantics: the checker judges a program as ``pulumi preview`` sees it.

The fixture is a realistic EKS program: a kubeconfig built (with an ``apply``) from the cluster's
computed endpoint and certificate, a Kubernetes provider on it, a Helm release, workloads whose
images come from an ECR repository URL and from another stack. Computed outputs are unknown,
the apply over them does not run, and rules that meet an unknown say "not evaluated".
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.rendering.engine import render_in_process
from modelway.rendering.project import load_program_spec
from modelway.rendering.values import UNKNOWN

PROGRAM = Path(__file__).resolve().parent / "fixtures" / "eks_preview"
SOURCE = (PROGRAM / "__main__.py").read_text().splitlines()


def line_of(text: str) -> int:
    return next(i for i, line in enumerate(SOURCE, start=1) if text in line)


@pytest.fixture(scope="module")
def preview():
    return render_in_process(load_program_spec(PROGRAM, "prod"), strict_invokes=False, preview=True)


def test_computed_outputs_are_unknown_and_applies_over_them_do_not_run(preview):
    by_name = {r.name: r for r in preview.resources}
    assert by_name["eks"].type == "pulumi:providers:kubernetes"
    assert by_name["eks"].inputs["kubeconfig"] == UNKNOWN  # the apply never ran
    image = by_name["embedder"].inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == UNKNOWN  # from another stack: not known at preview
    # what the mocks predict from inputs stays known: the repository URL, so the digest check can judge it
    scorer = by_name["scorer"].inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert scorer.startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/models-") and "@sha256:" in scorer
    assert by_name["nvidia-device-plugin"].type == "kubernetes:helm.sh/v3:Release"


def test_the_same_program_crashes_when_computed_outputs_are_none():
    # What the checker did before: outputs it does not know resolved to None and the apply ran.
    with pytest.raises(UserError, match=r"^__main__.py: AttributeError: 'NoneType' object has no attribute "):
        render_in_process(load_program_spec(PROGRAM, "prod"), strict_invokes=False, preview=False)


def test_checker_judges_the_preview_violations_passes_and_not_evaluated():
    from modelway.policy_check import check_program

    report = check_program(PROGRAM, "prod")
    assert report.exit_code == 1
    mandatory = {(f.policy, f.name, f.line) for f in report.mandatory}
    assert mandatory == {
        ("k8s-namespace-quota", "research", line_of('k8s.core.v1.Namespace("research"')),
        ("k8s-no-latest-tag", "ranker", line_of("return k8s.apps.v1.Deployment(")),
    }
    assert not [f for f in report.violations if f.name in ("ml", "eks-secrets", "models", "scorer", "embedder")]
    assert any(w.startswith("k8s-no-latest-tag: not evaluated on ") and w.endswith(
        "Deployment::embedder: container embedder: image is not known yet") for w in report.warnings)
    assert (report.resources, report.providers) == (12, 1)


def test_a_render_does_not_depend_on_what_ran_before_it_in_the_process():
    # A crashed program left pending outputs that failed the next render, and asyncio.run()
    # clears the thread's event loop, after which Pulumi's get_event_loop() raised. In a process
    # of its own: the crash's never-awaited coroutines, finalised inside pytest's assertion
    # rewriting, trip a CPython 3.11.7 bug in compile().
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from modelway.errors import UserError
        from modelway.rendering.engine import render_in_process
        from modelway.rendering.project import load_program_spec
        program = Path({str(PROGRAM)!r})
        try:
            render_in_process(load_program_spec(program, "prod"), strict_invokes=False, preview=False)
        except UserError:
            pass
        else:
            raise SystemExit("the crashing render did not crash")
        asyncio.run(asyncio.sleep(0))
        result = render_in_process(load_program_spec(program, "prod"), strict_invokes=False, preview=True)
        print(sorted(r.name for r in result.resources))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"eks", "scorer"} <= set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
