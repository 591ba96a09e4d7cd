"""Pins for the in-process render engine (``modelway.rendering.engine``) on tiny programs.

The programs declare raw ``pulumi.CustomResource`` / ``ProviderResource`` objects (no provider
SDK import: a render takes a fraction of a second), so every field of every rendered resource,
the listing order, the warnings and each one-line failure message can be asserted exactly.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import textwrap
from pathlib import Path

import pytest

from modelway.errors import UserError
from modelway.rendering import engine
from modelway.rendering.project import load_program_spec
from modelway.rendering.result import RenderedResource
from modelway.rendering.values import UNKNOWN

def render_in_process(spec, **options):
    """The engine's render, then a garbage collection: the render's leftovers (closed event loop,
    finished tasks) are finalized here, not in the middle of pytest parsing a source file to
    report a failure (on CPython 3.11.7 that turned a failed assertion into an INTERNALERROR,
    which mutation testing cannot tell from a pass)."""
    try:
        return engine.render_in_process(spec, **options)
    finally:
        gc.collect()


HELPER = '''\
import pulumi

def make(name, **kw):
    return pulumi.CustomResource("aws:sns/topic:Topic", name, {"name": name}, **kw)

def fail():
    raise ValueError("helper failed")
'''

MAIN = '''\
import os
import pulumi
import helper

cfg = pulumi.Config()
west = pulumi.ProviderResource("aws", "west", {"region": "us-west-2"})

class Group(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("sample:index:Group", name, None, opts)
        self.b = helper.make("b-topic", opts=pulumi.ResourceOptions(parent=self, provider=west))
        self.a = helper.make("a-topic", opts=pulumi.ResourceOptions(parent=self, depends_on=[self.b], protect=True,
                                                              retain_on_delete=True, delete_before_replace=True))
        self.register_outputs({})

key = pulumi.CustomResource("aws:kms/key:Key", "key", {"deletionWindowInDays": 30, "arn": None},
                            opts=pulumi.ResourceOptions(provider=west))
cluster = pulumi.CustomResource("aws:eks/cluster:Cluster", "eks", {"name": "ml", "endpoint": None})
group = Group("grp")
pulumi.export("key_arn", key.arn)
pulumi.export("endpoint", cluster.endpoint)
pulumi.export("size", cfg.require_int("size"))
pulumi.export("token", cfg.require_secret("token"))
pulumi.export("topic", group.b.id)
pulumi.export("cwd", os.getcwd())
pulumi.log.warn("careful")
pulumi.log.error("bad thing")
pulumi.log.info("not a warning")
mode = os.environ.get("H7_RENDER_MODE", "")
if mode == "raise":
    raise RuntimeError("boom")
if mode == "helper":
    helper.fail()
if mode == "user":
    from modelway.errors import UserError
    raise UserError("you did it\\nsecond line")
if mode == "config":
    from modelway.errors import ConfigError
    raise ConfigError("sample:size: too big")
if mode == "empty":
    raise KeyError()
if mode == "exit":
    raise SystemExit(3)
if mode == "invoke":
    pulumi.runtime.invoke("aws:route53/getZone:getZone", {"name": "example.com"})
if mode == "syntax":
    import broken
if mode == "apply":
    key.arn.apply(lambda arn: int(arn))
if mode == "preview":
    pulumi.CustomResource("aws:ssm/parameter:Parameter", "ep", {"value": cluster.endpoint, "key": key.arn})
'''
MODE_LINE = {mode: MAIN.splitlines().index(f'if mode == "{mode}":') + 2 for mode in ("raise", "empty")}
MODE_LINE["user"] = MAIN.splitlines().index('    raise UserError("you did it\\nsecond line")') + 1
TOPIC = "urn:pulumi:test::sample::sample:index:Group$aws:sns/topic:Topic::"
STACK_URN = "urn:pulumi:test::sample::pulumi:pulumi:Stack::sample-test"
WEST = "urn:pulumi:test::sample::pulumi:providers:aws::west"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine") / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "__main__.py").write_text(MAIN)
    (root / "src" / "helper.py").write_text(HELPER)
    (root / "Pulumi.yaml").write_text("name: sample\nruntime: python\nmain: src/\n")
    (root / "Pulumi.test.yaml").write_text("config:\n  aws:region: eu-west-3\n  sample:size: 3\n"
                                         "  sample:token:\n    secure: abc\n")
    (root / "src" / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    return root


@pytest.fixture(scope="module")
def rendered(project):
    return render_in_process(load_program_spec(project, "test"), strict_invokes=True)


def test_every_resource_is_recorded_with_its_options_parents_first(rendered):
    assert rendered.stack == "test"
    assert rendered.resources == [
        RenderedResource("pulumi:providers:aws", "west", WEST, STACK_URN, {"region": "us-west-2"},
                         id="west-2d26616e", file="src/__main__.py", line=6),
        RenderedResource("aws:eks/cluster:Cluster", "eks", "urn:pulumi:test::sample::aws:eks/cluster:Cluster::eks",
                         STACK_URN, {"name": "ml"}, id="ml", file="src/__main__.py", line=18),
        RenderedResource("sample:index:Group", "grp", "urn:pulumi:test::sample::sample:index:Group::grp", STACK_URN,
                         {}, custom=False, id="grp-5587868e", file="src/__main__.py", line=10),
        RenderedResource("aws:sns/topic:Topic", "a-topic", TOPIC + "a-topic",
                         "urn:pulumi:test::sample::sample:index:Group::grp", {"name": "a-topic"}, protect=True,
                         retain_on_delete=True, id="arn:aws:sns:eu-west-3:123456789012:a-topic", file="src/helper.py",
                         line=4, delete_before_replace=True, dependencies=(TOPIC + "b-topic",)),
        RenderedResource("aws:sns/topic:Topic", "b-topic", TOPIC + "b-topic",
                         "urn:pulumi:test::sample::sample:index:Group::grp", {"name": "b-topic"}, provider=WEST,
                         id="arn:aws:sns:us-west-2:123456789012:b-topic", file="src/helper.py", line=4),
        RenderedResource("aws:kms/key:Key", "key", "urn:pulumi:test::sample::aws:kms/key:Key::key", STACK_URN,
                         {"deletionWindowInDays": 30}, provider=WEST, id="9ce0d05c-446a-06c0-a26e-e2025d7fe1e7",
                         file="src/__main__.py", line=16),
    ]


def test_outputs_config_and_warnings(rendered, project):
    assert rendered.outputs == {
        "key_arn": "arn:aws:kms:us-west-2:123456789012:key/9ce0d05c-446a-06c0-a26e-e2025d7fe1e7",
        "endpoint": "https://5D58D41913D9FEA4E42CECD7A5D1B692.gr7.eu-west-3.eks.amazonaws.com",
        "size": 3, "token": "mock-secret-value", "topic": "arn:aws:sns:us-west-2:123456789012:b-topic",
        "cwd": str(project),  # programs run from the project directory, as under the Pulumi CLI
    }
    assert rendered.warnings == ["Pulumi.test.yaml: secret sample:token cannot be decrypted offline; using a placeholder",
                                 "careful", "error: bad thing"]
    # the stack's aws:region is the mocks' default region (resources without an explicit provider)
    assert rendered.config == {"aws:region": "eu-west-3", "sample:size": "3", "sample:token": "mock-secret-value"}


def test_program_log_goes_to_the_result_only(project):
    # not also up to the root logger: a CLI user would read each warning twice (logging's last resort)
    result = render_in_process(load_program_spec(project, "test"), strict_invokes=True)
    assert result.warnings[1:] == ["careful", "error: bad thing"]
    assert logging.getLogger("modelway.rendering.program").propagate is False


def test_a_render_leaves_the_process_as_it_found_it(project, rendered):
    cwd, path = os.getcwd(), list(sys.path)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        render_in_process(load_program_spec(project, "test"), strict_invokes=True)
        # the program's own modules are dropped (the next render imports them afresh); modelway stays
        assert "helper" not in sys.modules and "modelway.rendering.engine" in sys.modules
        assert (os.getcwd(), sys.path) == (cwd, path)
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
        program_logger = logging.getLogger("modelway.rendering.program")
        assert not any(isinstance(h, engine._WarningCollector) for h in program_logger.handlers)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_a_program_file_given_as_main_is_importable_and_unloaded(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: one\nruntime: python\nmain: prog/app.py\n")
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "h7_sibling_mod.py").write_text("NAME = 'sib'\n")
    (tmp_path / "prog" / "app.py").write_text(
        "import pulumi, h7_sibling_mod\npulumi.CustomResource('aws:sns/topic:Topic', h7_sibling_mod.NAME, {})\n")
    path = list(sys.path)
    result = render_in_process(load_program_spec(tmp_path, None), strict_invokes=True)
    assert [(r.name, r.file, r.line) for r in result.resources] == [("sib", "prog/app.py", 2)]
    assert "h7_sibling_mod" not in sys.modules and sys.path == path
    assert result.warnings == [] and result.outputs == {}


def test_preview_leaves_what_the_provider_computes_unknown(project, monkeypatch):
    monkeypatch.setenv("H7_RENDER_MODE", "preview")
    result = render_in_process(load_program_spec(project, "test"), strict_invokes=True, preview=True)
    # an input built from an unknown output stays the engine's "unknown" marker (never None = "not set")
    (parameter,) = result.of_type("aws:ssm/parameter:Parameter")
    assert parameter.inputs == {"value": UNKNOWN,
                                "key": "arn:aws:kms:us-west-2:123456789012:key/9ce0d05c-446a-06c0-a26e-e2025d7fe1e7"}
    assert result.outputs["endpoint"] is None
    assert result.outputs["key_arn"] == "arn:aws:kms:us-west-2:123456789012:key/9ce0d05c-446a-06c0-a26e-e2025d7fe1e7"


@pytest.mark.parametrize(("mode", "message"), [
    ("raise", f"src/__main__.py:{MODE_LINE['raise']}: RuntimeError: boom"),
    ("helper", "src/helper.py:7: ValueError: helper failed"),
    ("user", f"src/__main__.py:{MODE_LINE['user']}: you did it"),
    ("config", "Pulumi.test.yaml: sample:size: too big"),
    ("empty", f"src/__main__.py:{MODE_LINE['empty']}: KeyError: KeyError"),
    ("exit", "src/__main__.py: the program called exit(3)"),
    ("syntax", "src/broken.py:2: SyntaxError: invalid syntax (broken.py, line 2)"),
    ("invoke", "src/__main__.py: unknown invoke aws:route53/getZone:getZone (the mocks do not know how to answer it)"),
])
def test_a_failing_program_is_one_line_naming_where(project, monkeypatch, mode, message):
    monkeypatch.setenv("H7_RENDER_MODE", mode)
    with pytest.raises(UserError) as err:
        render_in_process(load_program_spec(project, "test"), strict_invokes=True)
    assert str(err.value) == message
    assert "helper" not in sys.modules


def test_an_error_inside_apply_names_the_program_line(project, monkeypatch):
    monkeypatch.setenv("H7_RENDER_MODE", "apply")
    with pytest.raises(UserError) as err:
        render_in_process(load_program_spec(project, "test"), strict_invokes=True)
    line = MAIN.splitlines().index("    key.arn.apply(lambda arn: int(arn))") + 1
    assert str(err.value) == (f"src/__main__.py:{line}: ValueError: invalid literal for int() with base 10: "
                              "'arn:aws:kms:us-west-2:123456789012:key/9ce0d05c-446a-06c0-a26e-e2025d7fe1e7'")


def test_the_unknown_invoke_is_a_warning_in_checker_mode(project, monkeypatch):
    monkeypatch.setenv("H7_RENDER_MODE", "invoke")
    result = render_in_process(load_program_spec(project, "test"), strict_invokes=False)
    # the stack file's warnings, then the mocks', then the program's own
    assert result.warnings == [
        "Pulumi.test.yaml: secret sample:token cannot be decrypted offline; using a placeholder",
        "unknown invoke aws:route53/getZone:getZone (the mocks do not know how to answer it); answered with an "
        "empty result", "careful", "error: bad thing"]


def test_a_config_error_without_a_stack_file_names_the_stack(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: cfg\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("from modelway.errors import ConfigError\n"
                                          "raise ConfigError('cfg:size: required')\n")
    with pytest.raises(UserError) as err:
        render_in_process(load_program_spec(tmp_path, "qa"), strict_invokes=False)
    assert str(err.value) == "stack qa (no Pulumi.qa.yaml): cfg:size: required"


# ---- helpers, with hand-made input -------------------------------------------------

def _res(name: str, parent: str = "", type_: str = "t:m:R") -> RenderedResource:
    return RenderedResource(type_, name, f"urn:{name}", parent, {})


def test_ordered_lists_providers_first_then_by_name_then_type_children_under_parents():
    resources = [_res("b"), _res("a", type_="z:m:R"), _res("a", type_="b:m:R"), _res("c1", "urn:b"),
                 _res("p", type_="pulumi:providers:aws"), _res("orphan", "urn:missing"), _res("c0", "urn:b")]
    assert [(r.name, r.type[0]) for r in engine._ordered(resources)] == [
        ("p", "p"), ("a", "b"), ("a", "z"), ("b", "t"), ("c0", "t"), ("c1", "t"), ("orphan", "t")]


def test_cause_chain_follows_cause_then_context_and_stops_at_a_cycle():
    inner = ValueError("inner")
    middle = KeyError("middle")
    middle.__context__ = inner
    outer = RuntimeError("outer")
    outer.__cause__ = middle
    inner.__context__ = outer  # a cycle
    assert engine._cause_chain(outer) == [outer, middle, inner]
    other = TypeError("t")
    other.__context__ = ValueError("ctx")
    other.__cause__ = None
    assert [type(e) for e in engine._cause_chain(other)] == [TypeError, ValueError]


def test_warning_collector_keeps_warnings_and_marks_errors():
    collector = engine._WarningCollector()
    logger = logging.getLogger("h7.pins.collector")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(collector)
    try:
        logger.info("info")
        logger.warning("w %s", 1)
        logger.error("e")
        logger.critical("c")
    finally:
        logger.removeHandler(collector)
    assert collector.messages == ["w 1", "error: e", "error: c"]


def test_source_locator_counts_only_program_files_outside_installed_packages(tmp_path):
    locator = engine._SourceLocator(tmp_path)
    root = str(tmp_path.resolve())
    assert locator._in_program(f"{root}/main.py") is True
    assert locator._in_program(f"{root}/lib/site-packages/x.py") is False
    assert locator._in_program(f"{root}/.venv/lib/x.py") is False
    assert locator._in_program(f"{root}/sub/.venv/x.py") is False
    assert locator._in_program(f"{root}/my.venv/x.py") is True
    assert locator._in_program(f"{root}x/main.py") is False  # a sibling directory sharing the prefix
    assert locator._in_program("/elsewhere/main.py") is False
    assert len(locator.stack_trace().frames) == 0  # no frame of this test is in the program: an empty trace


def test_inside_and_rel(tmp_path):
    assert engine._inside(tmp_path / "a" / "b.py", tmp_path) is True
    assert engine._inside(tmp_path, tmp_path) is True
    assert engine._inside(tmp_path.parent / "other", tmp_path) is False
    assert engine._json_safe({"n": 2.0, "p": tmp_path}) == {"n": 2, "p": str(tmp_path)}




EXT = '''\
import pulumi

def later(output):
    # a resource and an error from a callback defined outside the program (no program frame)
    output.apply(lambda v: pulumi.CustomResource("aws:sns/topic:Topic", "late", {"name": v}))

def fail_later(output):
    output.apply(lambda v: int(v))
'''

OUTSIDE_MAIN = '''\
import os, sys
import pulumi
sys.path.insert(0, os.environ["H7_EXT_DIR"])
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".venv"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib", "site-packages"))
import h7_ext, h7_venv_mod, h7_site_mod
key = pulumi.CustomResource("aws:kms/key:Key", "key", {"arn": None})
mode = os.environ.get("H7_RENDER_MODE", "")
if mode == "":
    h7_ext.later(key.arn)
    h7_venv_mod.make("from-venv")
    h7_site_mod.make("from-site")
if mode == "ext":
    h7_ext.fail_later(key.arn)
if mode == "venv":
    h7_venv_mod.fail()
if mode == "site":
    h7_site_mod.fail()
if mode == "generated":
    exec(compile("raise ValueError('generated')", "<generated>", "exec"))
'''
LIB = '''\
import pulumi

def make(name):
    return pulumi.CustomResource("aws:sns/topic:Topic", name, {"name": name})

def fail():
    raise ValueError("installed package failed")
'''


@pytest.fixture
def outside(tmp_path, monkeypatch):
    """A program whose main is outside its project directory, with an installed-package directory
    (.venv, site-packages) inside the program and a helper module outside it."""
    project, program, ext = tmp_path / "project", tmp_path / "program", tmp_path / "ext"
    for folder in (project, program / ".venv", program / "lib" / "site-packages", ext):
        folder.mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: out\nruntime: python\nmain: ../program\n")
    (program / "__main__.py").write_text(OUTSIDE_MAIN)
    (program / ".venv" / "h7_venv_mod.py").write_text(LIB)
    (program / "lib" / "site-packages" / "h7_site_mod.py").write_text(LIB)
    (ext / "h7_ext.py").write_text(EXT)
    monkeypatch.setenv("H7_EXT_DIR", str(ext))
    yield project
    for name in ("h7_ext", "h7_venv_mod", "h7_site_mod"):
        sys.modules.pop(name, None)


def line_of(text: str, source: str = OUTSIDE_MAIN) -> int:
    return source.splitlines().index(text) + 1


def test_where_resources_are_declared_outside_the_project_or_the_program(outside):
    result = render_in_process(load_program_spec(outside, None), strict_invokes=True)
    program = (outside.parent / "program" / "__main__.py").resolve().as_posix()
    assert [(r.name, r.file, r.line) for r in result.resources] == [
        # declared by the program, outside the project directory: the absolute path
        ("from-site", program, line_of('    h7_site_mod.make("from-site")')),
        ("from-venv", program, line_of('    h7_venv_mod.make("from-venv")')),
        ("key", program, line_of('key = pulumi.CustomResource("aws:kms/key:Key", "key", {"arn": None})')),
        # declared from a callback outside the program: no location
        ("late", "", 0),
    ]


@pytest.mark.parametrize(("mode", "where", "error"), [
    ("ext", None, "ValueError: invalid literal for int() with base 10: "),
    ("venv", '    h7_venv_mod.fail()', "ValueError: installed package failed"),
    ("site", '    h7_site_mod.fail()', "ValueError: installed package failed"),
    ("generated", '    exec(compile("raise ValueError(\'generated\')", "<generated>", "exec"))', "ValueError: generated"),
])
def test_a_failure_outside_the_program_is_placed_at_the_program(outside, monkeypatch, mode, where, error):
    monkeypatch.setenv("H7_RENDER_MODE", mode)
    with pytest.raises(UserError) as err:
        render_in_process(load_program_spec(outside, None), strict_invokes=True)
    program = str((outside.parent / "program" / "__main__.py").resolve())
    location = program if where is None else f"{program}:{line_of(where)}"
    assert str(err.value).startswith(f"{location}: {error}")


def test_a_generated_frame_is_not_the_program_even_in_the_project_directory(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: gen\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("x = 1\nexec(compile(\"raise ValueError('g')\", \"<generated>\", \"exec\"))\n")
    with pytest.raises(UserError) as err:
        render_in_process(load_program_spec(tmp_path, None), strict_invokes=True)
    assert str(err.value) == "__main__.py:2: ValueError: g"


def test_the_program_runs_as_main(tmp_path):
    # as under the Pulumi CLI: a program guarded by `if __name__ == "__main__":` declares its resources
    (tmp_path / "Pulumi.yaml").write_text("name: guarded\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\nif __name__ == '__main__':\n    pulumi.CustomResource('aws:sns/topic:Topic', 't', {})\n")
    result = render_in_process(load_program_spec(tmp_path, None), strict_invokes=True)
    assert [r.name for r in result.resources] == ["t"]
