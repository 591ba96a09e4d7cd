"""Pins for ``render_program``'s subprocess plumbing (``modelway.rendering.api``) and the worker protocol
(``modelway.rendering.worker``): each way a render process can fail is one line naming the program.

The worker is exercised with stand-in worker modules written to a temporary directory (a
crash, a refusal, a success), so no Pulumi program has to be rendered here.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.rendering import api, worker
from modelway.rendering.project import ProgramSpec


@pytest.fixture
def spec(tmp_path, monkeypatch) -> ProgramSpec:
    """A project in tmp_path whose directory also holds stand-in worker modules (importable by the child)."""
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "__main__.py").write_text("")
    (tmp_path / "h7_ok_worker.py").write_text(
        "import json, os, sys\n"
        "from modelway.rendering.worker import serve\n"
        "sys.exit(serve(sys.argv[1:], lambda args: {'args': args, 'cwd': os.getcwd(),\n"
        "    'config_env': sorted(k for k in os.environ if k.startswith('PULUMI_CONFIG'))}))\n")
    (tmp_path / "h7_refusing_worker.py").write_text(
        "import sys\n"
        "from modelway.errors import UserError\n"
        "from modelway.rendering.worker import serve\n"
        "def work(args):\n    raise UserError('prog/__main__.py:3: refused')\n"
        "sys.exit(serve(sys.argv[1:], work))\n")
    (tmp_path / "h7_crashing_worker.py").write_text("import sys\nprint('first', file=sys.stderr)\n"
                                                    "print('second', file=sys.stderr)\n"
                                                    "print('  \\nlast words\\n\\n', file=sys.stderr)\nsys.exit(3)\n")
    (tmp_path / "h7_silent_worker.py").write_text("import sys\nsys.exit(5)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    monkeypatch.setenv("PULUMI_CONFIG", '{"leak": "1"}')
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    return ProgramSpec(tmp_path, "p", tmp_path / "prog", "dev")


def test_a_worker_result_comes_back_and_the_child_runs_in_the_project_without_pulumi_config(spec, tmp_path):
    result = api.run_worker("h7_ok_worker", ["dev", "strict"], spec, timeout=60)
    assert result == {"args": [str(tmp_path), "dev", "strict"], "cwd": str(tmp_path), "config_env": []}


def test_a_refusal_is_the_workers_one_line(spec):
    with pytest.raises(UserError) as err:
        api.run_worker("h7_refusing_worker", [], spec, timeout=60)
    assert str(err.value) == "prog/__main__.py:3: refused"


def test_a_crash_names_the_program_and_the_last_line_on_stderr(spec, tmp_path):
    with pytest.raises(UserError) as err:
        api.run_worker("h7_crashing_worker", [], spec, timeout=60)
    assert str(err.value) == f"{tmp_path / 'prog'}: the render process failed: last words"
    with pytest.raises(UserError) as silent:
        api.run_worker("h7_silent_worker", [], spec, timeout=60)
    assert str(silent.value) == f"{tmp_path / 'prog'}: the render process failed: exit code 5"


def test_a_render_past_its_timeout_is_stopped(spec):
    # no Python process starts in a millisecond: the limit is always passed
    with pytest.raises(UserError) as err:
        api.run_worker("h7_ok_worker", [], spec, timeout=0.001)
    assert str(err.value) == ("prog/__main__.py: rendering stack dev took longer than 0.001 s "
                              "(raise --timeout if the program is slow)")


def test_the_main_file_is_named_relative_to_the_project(tmp_path):
    assert api._rel_main(ProgramSpec(tmp_path, "p", tmp_path / "app.py", "dev")) == "app.py"
    assert api._rel_main(ProgramSpec(tmp_path, "p", tmp_path, "dev")) == "__main__.py"
    outside = tmp_path.parent / "elsewhere.py"
    assert api._rel_main(ProgramSpec(tmp_path, "p", outside, "dev")) == str(outside)
    assert api.DEFAULT_TIMEOUT_S == 300.0


def test_the_child_dies_with_its_parent_on_linux():
    preexec = api._die_with_parent(os.getpid())
    assert callable(preexec) == sys.platform.startswith("linux")
    assert api._PR_SET_PDEATHSIG == 1
    if preexec is None:
        return
    assert subprocess.run([sys.executable, "-c", "pass"], preexec_fn=preexec, check=False).returncode == 0
    # a parent that is not ours any more (here: a pid that is not the parent): the child exits at once
    orphan = api._die_with_parent(os.getpid() + 10**6)
    assert subprocess.run([sys.executable, "-c", "pass"], preexec_fn=orphan, check=False).returncode == 1


def test_render_program_fails_fast_on_a_bad_project_without_a_subprocess(tmp_path):
    with pytest.raises(UserError) as err:
        api.render_program(tmp_path, "dev", strict_invokes=True)
    assert str(err.value).endswith("no Pulumi.yaml here; pass the directory of a Pulumi project")


# ---- worker ------------------------------------------------------------------------

def test_serve_writes_the_result_or_the_error_and_exits_0(tmp_path):
    out = tmp_path / "r" / "result.json"
    out.parent.mkdir()
    try:
        assert worker.serve(["a", "b", str(out)], lambda args: {"got": args}) == 0
        assert json.loads(out.read_text()) == {"ok": True, "result": {"got": ["a", "b"]}}
        assert not gc.isenabled()  # a short-lived render process does without the cyclic GC

        def refuse(args):
            raise UserError(f"no: {args}")

        assert worker.serve([str(out)], refuse) == 0
        assert json.loads(out.read_text()) == {"ok": False, "error": "no: []"}
        with pytest.raises(ValueError):
            worker.serve([str(out)], lambda args: int("x"))
    finally:
        gc.enable()


def test_the_worker_renders_a_program_end_to_end(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: w\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\npulumi.CustomResource('aws:sns/topic:Topic', 't', {'name': 't'})\n"
        "pulumi.runtime.invoke('aws:x/y:z', {})\n"
        "eks = pulumi.CustomResource('aws:eks/cluster:Cluster', 'c', {'name': 'ml', 'endpoint': None})\n"
        "pulumi.export('endpoint', eks.endpoint)\n")
    (tmp_path / "Pulumi.qa.yaml").write_text("config: {}\n")
    result = api.render_program(tmp_path, None, strict_invokes=False, timeout=120)
    assert result.stack == "dev"
    assert [(r.type, r.name, r.id) for r in result.resources] == [
        ("aws:eks/cluster:Cluster", "c", "ml"), ("aws:sns/topic:Topic", "t", "arn:aws:sns:us-east-1:123456789012:t")]
    # a finished update, not a preview: what EKS computes on create is known
    assert result.outputs["endpoint"].endswith(".gr7.us-east-1.eks.amazonaws.com")
    assert result.warnings == ["unknown invoke aws:x/y:z (the mocks do not know how to answer it); "
                               "answered with an empty result"]
    with pytest.raises(UserError) as err:
        api.render_program(tmp_path, "qa", strict_invokes=True, timeout=120)
    assert str(err.value) == "__main__.py: unknown invoke aws:x/y:z (the mocks do not know how to answer it)"
