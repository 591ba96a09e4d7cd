"""Pins for ``modelway render`` (table, JSON, warnings), the ``--stack``/``--outputs`` environment
fallback, and the command table's lazy loading: what a user reads, word for word.

One tiny Pulumi program (raw resources, no provider SDK) is rendered for real through the CLI
(the render worker runs as a subprocess, as for a user); the option wiring is checked by
recording what ``render`` passes on.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import typer

from modelway.cli import commands
from modelway.cli import render as render_cli
from modelway.errors import ConfigError
from modelway.rendering.result import RenderedResource, RenderResult

from tests.cli.cli_inprocess import invoke

PROGRAM = '''\
import pulumi
p = pulumi.ProviderResource("aws", "west", {"region": "us-west-2"})
class G(pulumi.ComponentResource):
    def __init__(self, n):
        super().__init__("tiny:index:Group", n, None, None)
        pulumi.CustomResource("aws:sns/topic:Topic", "t1", {"name": "t1"},
                              opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True))
        pulumi.CustomResource("aws:sns/topic:Topic", "t2", {"name": "t2"},
                              opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, provider=p))
        self.register_outputs({})
G("grp")
pulumi.export("name", "tiny")
pulumi.export("sizes", {"a": [1, 2]})
pulumi.runtime.invoke("aws:route53/getZone:getZone", {})
'''

TABLE = """\
stack dev: 3 resources + 1 provider
┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ type                 ┃ name ┃ parent    ┃ options         ┃
┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ pulumi:providers:aws │ west │           │                 │
│ tiny:index:Group     │ grp  │           │                 │
│ aws:sns/topic:Topic  │ t1   │ Group grp │ protect, retain │
│ aws:sns/topic:Topic  │ t2   │ Group grp │ retain          │
└──────────────────────┴──────┴───────────┴─────────────────┘
stack outputs
┏━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ key   ┃ value         ┃
┡━━━━━━━╇━━━━━━━━━━━━━━━┩
│ name  │ tiny          │
│ sizes │ {"a": [1, 2]} │
└───────┴───────────────┘
"""
WARNINGS = ("warning: Pulumi.dev.yaml not found: stack dev has no stack config (stack files here: none)\n"
            "warning: unknown invoke aws:route53/getZone:getZone (the mocks do not know how to answer it); "
            "answered with an empty result\n")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "sub").mkdir()
    return tmp_path


def _stripped(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_render_table_lists_resources_parents_options_and_outputs(capsys, tiny):
    done = invoke(capsys, "render", "--stack", "dev", "-C", str(tiny / "sub"))
    assert done.code == 0, done.err
    assert _stripped(done.out) == TABLE
    assert done.err == WARNINGS


def test_render_json_lists_the_chosen_fields_of_every_resource(capsys, tiny):
    done = invoke(capsys, "render", "-s", "dev", "-C", str(tiny), "--json")
    assert done.code == 0, done.err
    document = json.loads(done.out)
    assert done.out == json.dumps(document, indent=2) + "\n"
    assert list(document) == ["stack", "resources", "outputs"]
    assert document["stack"] == "dev" and document["outputs"] == {"name": "tiny", "sizes": {"a": [1, 2]}}
    stack_urn = "urn:pulumi:dev::tiny::pulumi:pulumi:Stack::tiny-dev"
    assert document["resources"][0] == {
        "type": "pulumi:providers:aws", "name": "west", "urn": "urn:pulumi:dev::tiny::pulumi:providers:aws::west",
        "parent": stack_urn, "inputs": {"region": "us-west-2"}, "provider": "", "file": "__main__.py", "line": 2}
    assert [(r["name"], r["provider"], r["line"]) for r in document["resources"]] == [
        ("west", "", 2), ("grp", "", 5), ("t1", "", 6), ("t2", "urn:pulumi:dev::tiny::pulumi:providers:aws::west", 8)]
    assert done.err == WARNINGS


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """``render`` with the render itself replaced by a recorder that returns a hand-made result."""
    calls: list[tuple] = []
    # names, types and outputs are shown as they are: never read as Rich markup or emoji codes
    parent = RenderedResource("c:cat:Comp", "comp[old]", "urn:comp", "", {})
    result = RenderResult("prod", [parent, RenderedResource("aws:s3/bucket:Bucket", "b", "urn:b", "urn:comp", {"x": 1},
                                                            protect=True)],
                          {"z": "[bold]zz[/bold] :smile:", "n": 3}, ["first", "second"])

    def fake(project_dir, stack, *, strict_invokes, timeout):
        calls.append((project_dir, stack, strict_invokes, timeout))
        return result

    monkeypatch.setattr(render_cli, "render_program", fake)
    monkeypatch.setattr(render_cli, "find_project_dir", lambda directory: ("found", directory))
    return calls


def test_render_passes_the_stack_strictness_timeout_and_directory(capsys, recorded, tmp_path):
    done = invoke(capsys, "render", "-s", "prod", "--strict-invokes", "--timeout", "12.5", "-C", str(tmp_path),
                  "-f", "json")
    assert recorded == [(("found", tmp_path), "prod", True, 12.5)]
    assert done.err == "warning: first\nwarning: second\n"
    assert json.loads(done.out)["resources"][1] == {"type": "aws:s3/bucket:Bucket", "name": "b", "urn": "urn:b",
                                                    "parent": "urn:comp", "inputs": {"x": 1}, "provider": "",
                                                    "file": "", "line": 0}
    assert json.loads(done.out)["outputs"] == {"z": "[bold]zz[/bold] :smile:", "n": 3}
    invoke(capsys, "render", "--stack", "dev")
    assert recorded[1] == (("found", None), "dev", False, 300.0)


def test_render_table_of_a_hand_made_result(capsys, recorded):
    out = _stripped(invoke(capsys, "render", "-s", "prod", "--format", "table").out).splitlines()
    assert out[0] == "stack prod: 2 resources"
    assert out[3:7] == ["┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━┩",
                        "│ c:cat:Comp           │ comp[old] │                │         │",
                        "│ aws:s3/bucket:Bucket │ b         │ Comp comp[old] │ protect │",
                        "└──────────────────────┴───────────┴────────────────┴─────────┘"]
    assert out[-3:-1] == ["│ z   │ [bold]zz[/bold] :smile: │", "│ n   │ 3                       │"]


def test_render_table_is_at_least_140_columns_wide(capsys, recorded, monkeypatch):
    # a long output value folds at 140 columns (wider than Rich's 80-column default off a terminal)
    from modelway.rendering.result import RenderResult as Result

    long = Result("prod", [], {"k": "v" * 400}, [])
    monkeypatch.setattr(render_cli, "render_program", lambda *a, **k: long)
    out = invoke(capsys, "render", "-s", "prod").out.splitlines()
    assert max(len(line) for line in out) == 140
    assert "".join(line.strip("│ ").split("│")[-1].strip() for line in out if "v" * 10 in line) == "v" * 400


def test_render_timeout_must_be_at_least_a_second(capsys, recorded):
    done = invoke(capsys, "render", "-s", "dev", "--timeout", "0.5")
    assert done.code == 2 and recorded == []
    assert done.err == ("error: modelway render: Invalid value for '--timeout': Input should be greater than or "
                        "equal to 1 (see 'modelway render --help')\n")


def test_output_formats():
    assert [f.value for f in render_cli.OutputFormat] == ["table", "json"]


# ---- --stack / --outputs from the environment ----------------------------------------

def test_the_environment_names_the_stack_when_no_option_does(monkeypatch, tmp_path):
    from modelway.cli.stack_choice import use_stack

    monkeypatch.delenv("MODELWAY_STACK", raising=False)
    broken = tmp_path / "outputs.json"
    broken.write_text("{not json")
    monkeypatch.setenv("MODELWAY_OUTPUTS", str(broken))
    with pytest.raises(ConfigError) as from_env:
        use_stack(None, None)
    assert str(broken) in str(from_env.value) and "cannot read stack outputs" in str(from_env.value)
    other = tmp_path / "other.json"
    other.write_text("[")
    with pytest.raises(ConfigError) as from_option:
        use_stack(None, other)
    assert str(other) in str(from_option.value) and str(broken) not in str(from_option.value)
    monkeypatch.setenv("MODELWAY_OUTPUTS", "")
    monkeypatch.setenv("MODELWAY_STACK", "qa")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi CLI here
    with pytest.raises(ConfigError) as from_stack:
        use_stack(None, None)
    assert str(from_stack.value).startswith("--stack qa: no pulumi CLI on PATH")
    with pytest.raises(ConfigError) as given:
        use_stack("staging", None)
    assert str(given.value).startswith("--stack staging: no pulumi CLI on PATH")


def test_no_stack_anywhere_is_the_embedded_default(monkeypatch, tmp_path):
    from modelway.cli.stack_choice import use_stack

    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path))
    monkeypatch.setenv("MODELWAY_STACK", "")
    monkeypatch.delenv("MODELWAY_OUTPUTS", raising=False)
    backends = use_stack(None, None)
    assert backends.resolved is None
    import os

    assert os.environ["MODELWAY_STACK"] == "" and "MODELWAY_OUTPUTS" not in os.environ


# ---- the command table ------------------------------------------------------------

def test_commands_table_indexes():
    assert list(commands.BY_NAME) == [c.name for c in commands.COMMANDS]
    assert commands.BY_NAME["runs"].modules == ("modelway.cli.pipeline_runs", "modelway.cli.models")
    assert commands.COMMAND_MODULES == (
        "modelway.cli.render", "modelway.cli.pipeline_runs", "modelway.cli.serving", "modelway.cli.monitoring",
        "modelway.cli.explain", "modelway.cli.policy", "modelway.cli.models", "modelway.cli.stack",
        "modelway.cli.export")


def test_load_builds_an_app_with_only_that_command():
    from modelway.cli.app import app

    single = commands.load(app, "stack")
    assert [g.name for g in single.registered_groups] == ["stack"] and single.registered_commands == []
    render_only = commands.load(app, "render")
    assert [commands._info_name(c) for c in render_only.registered_commands] == ["render"]
    assert render_only.registered_groups == []


def test_a_command_name_comes_from_its_function_when_not_given():
    app = typer.Typer()

    @app.command()
    def show_all_things() -> None:
        """x"""

    @app.command("given")
    def other() -> None:
        """y"""

    names = [commands._info_name(info) for info in app.registered_commands]
    assert names == ["show-all-things", "given"]
    info = app.registered_commands[0]
    info.callback = None
    assert commands._info_name(info) is None


def test_each_module_registers_once(monkeypatch):
    seen: list[str] = []

    class Module:
        def __init__(self, name: str) -> None:
            self.name = name

        def register(self, app) -> None:
            seen.append(self.name)

    monkeypatch.setattr(commands, "_registered", set())
    monkeypatch.setattr(commands.importlib, "import_module", Module)
    commands.register_modules(typer.Typer(), ("a", "b", "a"))
    commands.register_modules(typer.Typer(), ("b", "c"))
    assert seen == ["a", "b", "c"]


def test_usage_error_line_names_the_command():
    from modelway.cli.app import CLICK_ERROR, usage_error_line

    assert CLICK_ERROR.__name__ == "ClickException"
    assert usage_error_line(CLICK_ERROR("bad thing")) == "error: modelway: bad thing (see 'modelway --help')"


def test_a_placeholder_is_never_invoked():
    from modelway.cli.app import _Placeholder

    placeholder = _Placeholder(commands.BY_NAME["render"])
    assert placeholder.help == commands.BY_NAME["render"].summary
    with pytest.raises(RuntimeError) as err:
        placeholder.invoke(None)
    assert str(err.value) == "command 'render' was not loaded"


def test_user_error_from_render_is_one_line(capsys, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: nodejs\n")
    done = invoke(capsys, "render", "-s", "dev", "-C", str(tmp_path))
    assert done.code == 2
    assert done.err == f"error: {tmp_path / 'Pulumi.yaml'}: runtime is 'nodejs'; only Python programs can be rendered\n"


def test_a_parent_type_without_colons_is_named_whole(capsys, monkeypatch):
    parent = RenderedResource("grouping", "g", "urn:g", "", {})
    child = RenderedResource("aws:s3/bucket:Bucket", "b", "urn:b", "urn:g", {})
    monkeypatch.setattr(render_cli, "render_program", lambda *a, **k: RenderResult("dev", [parent, child], {}, []))
    out = _stripped(invoke(capsys, "render", "-s", "dev").out).splitlines()
    assert "│ aws:s3/bucket:Bucket │ b    │ grouping g │         │" in out
