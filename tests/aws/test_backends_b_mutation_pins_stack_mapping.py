"""Mutation pins for ``modelway.backends.stack`` (which stack a command runs against, every one-line error) and
``modelway.backends.mapping`` (outputs -> backend set, what ``use`` installs). The Pulumi CLI is a small
script on PATH (the boundary the Automation API drives); AWS is moto."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from modelway import active_backends
from modelway.backends.mapping import LocalBackends, backends_for, use
from modelway.backends.stack import ResolvedStack, find_project_dir, outputs_digest, resolve_stack
from modelway.errors import ConfigError

OUTPUTS = {
    "environment": "dev", "region": "eu-west-1", "account_id": "123456789012",
    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
    "buckets": {"raw_data": "raw", "features": "feat", "artifacts": "arts", "models": "models", "access_logs": "logs"},
    "roles": {p: "arn:aws:iam::123456789012:role/r" for p in ("data_scientist", "ml_engineer", "deployer", "auditor",
                                                             "sagemaker_execution", "gpu_node")},
    "ecr_repository_urls": {"training": "t"}, "model_package_groups": {}, "model_approval_status": "Approved",
    "alerts_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts",
}


@pytest.fixture
def outputs_file(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    return path


# -- stack ---------------------------------------------------------------------------------------
def test_nothing_selected_is_the_embedded_default():
    assert resolve_stack(None, None) is None


def test_an_outputs_file_alone_names_the_environment(outputs_file):
    resolved = resolve_stack(None, outputs_file)
    assert resolved.name == "dev" and resolved.source == f"file {outputs_file}"
    assert resolved.outputs.buckets.artifacts == "arts"
    assert resolved.digest == outputs_digest(resolved.outputs)
    with pytest.raises(AttributeError):
        resolved.name = "prod"  # frozen: what a run records cannot drift


def test_the_stack_name_as_given_is_kept(outputs_file):
    assert resolve_stack("dev", outputs_file).name == "dev"
    assert resolve_stack("acme/dev", outputs_file).name == "acme/dev"  # an org-qualified name matches its last part


def test_a_stack_name_that_does_not_match_the_outputs(outputs_file):
    with pytest.raises(ConfigError) as err:
        resolve_stack("prod", outputs_file)
    assert str(err.value) == (f"--stack prod: file {outputs_file} holds the outputs of environment 'dev', not 'prod'; "
                              "pass the outputs of 'prod' (pulumi stack output --json -s prod)")
    with pytest.raises(ConfigError, match="not 'dev/prod'"):
        resolve_stack("dev/prod", outputs_file)


def test_the_digest_is_sha256_of_canonical_json(outputs_file):
    resolved = resolve_stack(None, outputs_file)
    doc = json.dumps(resolved.outputs.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert resolved.digest == hashlib.sha256(doc.encode()).hexdigest()
    changed = outputs_file.parent / "changed.json"
    changed.write_text(json.dumps({**OUTPUTS, "region": "eu-central-1"}))
    assert resolve_stack(None, changed).digest != resolved.digest


def test_find_project_dir_walks_up(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_dir(deep) is None or find_project_dir(deep) not in (tmp_path, tmp_path / "a", deep)
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    assert find_project_dir(deep) == tmp_path
    (tmp_path / "a" / "Pulumi.yaml").mkdir()  # a folder of that name is not a project file
    assert find_project_dir(deep) == tmp_path
    (deep / "Pulumi.yaml").write_text("name: q\n")
    assert find_project_dir(deep) == deep


def test_without_the_pulumi_cli_the_message_says_how_to_pass_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError) as err:
        resolve_stack("dev", None, cwd=tmp_path)
    assert str(err.value) == ("--stack dev: no pulumi CLI on PATH to read the stack's outputs; install it, or pass "
                              "them as a file: pulumi stack output --json -s dev > outputs.json, then "
                              "--outputs outputs.json")


FAKE_PULUMI = """#!/bin/sh
# A stand-in for the pulumi CLI: its version, then one failure the Automation API turns into a CommandError.
case "$1" in
  version) echo "v3.150.0"; exit 0;;
esac
echo "warning: something harmless" >&2
echo "error: no stack named 'dev' found" >&2
exit 255
"""


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    return script


def test_without_a_project_the_message_says_where_it_looked(fake_pulumi, tmp_path):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    if find_project_dir(lonely) is not None:
        pytest.skip("a Pulumi.yaml above the temp folder")
    with pytest.raises(ConfigError) as err:
        resolve_stack("dev", None, cwd=lonely)
    assert str(err.value) == (f"--stack dev: no Pulumi.yaml in {lonely} or above; run this in the project, "
                              "or pass --outputs FILE")


def test_a_pulumi_error_is_its_first_error_line(fake_pulumi, tmp_path):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: pins\nruntime: python\n")
    with pytest.raises(ConfigError) as err:
        resolve_stack("dev", None, cwd=project / "sub")
    assert str(err.value) == (f"--stack dev: pulumi could not read the stack's outputs in {project}: "
                              "error: no stack named 'dev' found")


WORKING_PULUMI = """#!/bin/sh
# A stand-in for the pulumi CLI that knows one stack: the calls the Automation API makes to read its outputs.
[ "$1" = "--non-interactive" ] && shift
case "$1 $2" in
  "version "*) echo "v3.150.0"; exit 0;;
  "stack select") exit 0;;
  "stack output") cat "$PINS_OUTPUTS"; exit 0;;
esac
echo "error: unexpected $*" >&2
exit 255
"""


def test_outputs_read_through_the_automation_api(fake_pulumi, tmp_path, monkeypatch):
    fake_pulumi.write_text(WORKING_PULUMI)
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    monkeypatch.setenv("PINS_OUTPUTS", str(tmp_path / "outputs.json"))
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: pins\nruntime: python\n")
    resolved = resolve_stack("dev", None, cwd=project / "sub")
    assert resolved.name == "dev" and resolved.source == f"pulumi automation api ({project})"
    assert resolved.outputs.buckets.artifacts == "arts" and resolved.digest == outputs_digest(resolved.outputs)
    with pytest.raises(ConfigError) as err:
        resolve_stack("prod", None, cwd=project)
    assert str(err.value) == (f"--stack prod: pulumi automation api ({project}) holds the outputs of environment "
                              "'dev', not 'prod'; pass the outputs of 'prod' (pulumi stack output --json -s prod)")


def test_a_pulumi_failure_without_an_error_line_still_says_what_pulumi_said(fake_pulumi, tmp_path):
    # before: the reason was the first line of str(CommandError), which is always empty
    fake_pulumi.write_text(FAKE_PULUMI.replace("error: no stack named 'dev' found", "fatal: backend unreachable"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: pins\nruntime: python\n")
    with pytest.raises(ConfigError) as err:
        resolve_stack("dev", None, cwd=project)
    assert str(err.value) == (f"--stack dev: pulumi could not read the stack's outputs in {project}: "
                              "fatal: backend unreachable")


def test_invalid_outputs_from_the_automation_api_name_the_stack(fake_pulumi, tmp_path, monkeypatch):
    fake_pulumi.write_text(WORKING_PULUMI)
    (tmp_path / "outputs.json").write_text(json.dumps({k: v for k, v in OUTPUTS.items() if k != "region"}))
    monkeypatch.setenv("PINS_OUTPUTS", str(tmp_path / "outputs.json"))
    (tmp_path / "Pulumi.yaml").write_text("name: pins\nruntime: python\n")
    with pytest.raises(ConfigError) as err:
        resolve_stack("dev", None, cwd=tmp_path)
    assert str(err.value) == "stack 'dev' outputs: region: Field required"


# -- mapping -------------------------------------------------------------------------------------
def test_local_backends_are_the_embedded_default(tmp_path):
    local = backends_for(None)
    assert isinstance(local, LocalBackends) and local.kind == "local" and local.resolved is None
    from modelway.artifacts.store import ArtifactStore
    from modelway.deploy.embedded import EmbeddedDeployer
    from modelway.monitoring.sinks import LogAlerter, SqliteMetricsSink
    from modelway.registry.embedded import EmbeddedRegistry
    from modelway.store.runs import RunStore

    assert type(local.artifact_store(tmp_path)) is ArtifactStore
    assert type(local.run_store(tmp_path)) is RunStore
    assert type(local.registry(tmp_path, None)) is EmbeddedRegistry
    assert type(local.deployer(tmp_path)) is EmbeddedDeployer
    assert type(local.metrics_sink(tmp_path)) is SqliteMetricsSink
    assert type(local.alerter(tmp_path, "http://hook")) is LogAlerter
    assert local.lineage() == {"name": "embedded"}
    assert local.tracking_uri() is None
    assert local.check() is None
    from modelway.backends.local import CONCERNS

    concerns = local.concerns()
    assert concerns == CONCERNS and concerns is not CONCERNS  # a copy: callers may change theirs


def _no_tracking_uri(monkeypatch):
    """Unset, and restored after the test even when use() sets it (delenv alone records nothing to undo)."""
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "placeholder")
    monkeypatch.delenv("MODELWAY_TRACKING_URI")


def test_use_of_nothing_installs_nothing(monkeypatch):
    _no_tracking_uri(monkeypatch)
    active_backends.install(object())
    backends = use(None)
    assert backends.kind == "local" and active_backends.current() is None
    assert "MODELWAY_TRACKING_URI" not in os.environ


@pytest.fixture(scope="module")
def shared_stack(moto_endpoint, tmp_path_factory):
    from tests.aws.moto_stack import create_stack, server_env

    with pytest.MonkeyPatch.context() as patch:
        for key, value in server_env(moto_endpoint).items():
            patch.setenv(key, value)
        yield create_stack(moto_endpoint, tmp_path_factory.mktemp("mapping-pins"))


def _with_tracking(stack, folder, uri):
    path = folder / "dev-outputs.json"
    path.write_text(json.dumps({**stack.outputs, "tracking_server_uri": uri}))
    return resolve_stack(None, path)


def test_use_of_a_stack_installs_its_backends_and_its_tracking_server(shared_stack, aws_env, tmp_path, monkeypatch):
    _no_tracking_uri(monkeypatch)
    resolved = _with_tracking(shared_stack, tmp_path, "https://mlflow.example")
    assert backends_for(resolved).kind == "aws"
    backends = use(resolved)
    assert active_backends.current() is backends and backends.resolved is resolved
    assert os.environ["MODELWAY_TRACKING_URI"] == "https://mlflow.example"


def test_an_explicit_tracking_uri_wins(shared_stack, aws_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELWAY_TRACKING_URI", "http://mine")
    use(_with_tracking(shared_stack, tmp_path, "https://mlflow.example"))
    assert os.environ["MODELWAY_TRACKING_URI"] == "http://mine"


def test_a_stack_without_a_tracking_server_leaves_the_uri_alone(shared_stack, aws_env, tmp_path, monkeypatch):
    _no_tracking_uri(monkeypatch)
    use(_with_tracking(shared_stack, tmp_path, None))
    assert "MODELWAY_TRACKING_URI" not in os.environ


def test_use_checks_the_stack_before_installing_it(shared_stack, aws_env, tmp_path):
    from modelway.errors import UserError

    path = tmp_path / "dev-outputs.json"
    path.write_text(json.dumps({**shared_stack.outputs, "buckets": {**shared_stack.outputs["buckets"],
                                                                    "artifacts": "no-such-bucket-pins"}}))
    active_backends.install(None)
    with pytest.raises(UserError):
        use(resolve_stack(None, path))
    assert active_backends.current() is None


def test_resolved_stack_fields():
    resolved = ResolvedStack("dev", None, "file x", "d")
    assert (resolved.name, resolved.outputs, resolved.source, resolved.digest) == ("dev", None, "file x", "d")
