"""The CLI as a user runs it (subprocesses): serve, deploy, deployments show, rollback, feedback; bad input is one line, exit 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.modelway_cli import CLI, REPO, ModelwayCli
from tests.serving.helpers import Slow, Traffic, records, register


@pytest.fixture
def cli(home):
    return ModelwayCli(home)


def test_serve_deploy_show_feedback_and_rollback_from_the_command_line(cli, home, credit, tmp_path):
    v1 = register(home, credit)
    v2 = register(home, credit, Slow(credit.model, 0.0), tag="cli")
    proc = subprocess.Popen([*CLI, "serve", f"credit-risk@{v1}", "--port", "0"], cwd=REPO, env=cli.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("serving endpoint credit-risk (credit-risk: 1.0.0 100%) on http://127.0.0.1:"), first
        url = first.split(" on ", 1)[1].split()[0]
        rows = records(credit.test, credit.features)
        with Traffic(url, rows) as traffic:
            done = cli("deploy", f"credit-risk@{v2}", "--strategy", "blue-green", "--window-requests", "20",
                       "--window-seconds", "60", "--by", "alice")
            assert done.code == 0, done.stderr
            assert "contract tests: 8/8 passed" in done.stdout
            assert done.stdout.strip().splitlines()[-1].startswith("promoted: blue-green window passed")
            ids = [r for r in traffic.replies]
        assert ids
        show = cli("deployments", "show", "credit-risk")
        assert show.code == 0 and f"weights    {v2} 100%; standby {v1}" in show.stdout
        labels = tmp_path / "labels.csv"
        from modelway.serving.client import Client

        reply = Client(url).invoke(rows[0])
        labels.write_text(f"request_id,label\n{reply.headers['x-request-id']},1\n")
        fb = cli("feedback", "credit-risk", "--file", str(labels))
        assert fb.code == 0 and "recorded 1 label(s) for credit-risk; 1 match a logged request" in fb.stdout
        back = cli("rollback", "credit-risk", "--reason", "cli test")
        assert back.code == 0 and f"rolled back: {v1} serves all traffic" in back.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("args, message", [
    (["deploy", "credit-risk"], "name the version to roll out: modelway deploy credit-risk@VERSION"),
    (["deploy", "credit-risk@1.0.0", "--strategy", "big-bang"], "--strategy 'big-bang' is not one of blue-green, canary, ab, shadow"),
    (["deploy", "credit-risk@1.0.0", "--guardrail", "max_p95=2"], "--guardrail max_p95: Extra inputs are not permitted (keys: max_error_rate_increase"),
    (["deploy", "credit-risk@1.0.0", "--steps", "0.5,0.2"], "canary steps must rise to 1.0"),
    (["feedback", "credit-risk", "--file", "nope.csv"], "feedback file nope.csv not found"),
    (["monitor", "credit-risk", "--window", "soon"], "--window 'soon': expected a duration such as 30m, 1h or 2d"),
    (["triggers", "evaluate", "--config", "nope.yaml"], "triggers file nope.yaml not found"),
    (["serve", "no-such-model"], "model 'no-such-model' is not registered"),
    (["deployments", "show", "nothing"], "endpoint 'nothing' has no deployment"),
])
def test_bad_input_is_one_line_and_exit_2(cli, home, credit, args, message):
    register(home, credit)
    done = cli(*args)
    assert done.code == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_an_unapproved_version_cannot_be_deployed_to_prod(cli, home, credit):
    version = register(home, credit, environment="prod")
    done = cli("serve", f"credit-risk@{version}", "--env", "prod", "--port", "0")
    assert done.code == 2 and f"credit-risk {version} is Pending; approve it first" in done.stderr
