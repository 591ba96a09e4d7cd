"""Pins for the render worker's lazy provider sub-packages (``modelway.rendering.fast_imports``).

A small fake provider SDK (laid out like ``pulumi_aws``: sub-packages whose ``__init__`` imports
every module) is made in a temporary directory, so what a program would see (the same objects,
loaded one module at a time, ``import *`` and ``dir()`` complete, unknown names an
AttributeError) is checked in this process, in milliseconds.
"""
from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from modelway.rendering import fast_imports

PKG = "h7fakeprov"
FILES = {
    "__init__.py": "",
    "_runs.py": "INITS = []\n",
    "ec2/__init__.py": """\
        import sys
        from .._runs import INITS
        INITS.append(__name__)
        # names looked up on the package while its real __init__ runs are simply missing (no recursion)
        _self = sys.modules[__name__]
        HAD_ALL_EARLY = hasattr(_self, "__all__")
        HAD_LATE_NAME = hasattr(_self, "LOADED_BY_INIT")
        from .launch_template import *
        from .get_vpc import *
        from ._inputs import *
        from .outputs import *
        from ._enums import *
        from . import extra
        LOADED_BY_INIT = True
        __all__ = ["LaunchTemplate", "LaunchTemplateArgs", "get_vpc", "get_vpc_output", "GetVpcResult",
                   "AwaitableGetVpcResult", "NestedBlockArgs", "NestedBlock", "InstanceType", "LOADED_BY_INIT",
                   "HAD_ALL_EARLY", "HAD_LATE_NAME"]
        """,
    "ec2/launch_template.py": "class LaunchTemplate: pass\nclass LaunchTemplateArgs: pass\n",
    "ec2/get_vpc.py": ("class GetVpcResult: pass\nclass AwaitableGetVpcResult(GetVpcResult): pass\n"
                       "def get_vpc(): pass\ndef get_vpc_output(): pass\n"),
    "ec2/_inputs.py": "class NestedBlockArgs: pass\n",
    "ec2/outputs.py": "class NestedBlock: pass\n",
    "ec2/_enums.py": "class InstanceType: pass\n",
    "ec2/extra.py": "VALUE = 1\n",
    "core/__init__.py": "from . import v1\n",
    "core/v1/__init__.py": "from .Namespace import *\n",
    "core/v1/Namespace.py": "class Namespace: pass\n",
    "_internal/__init__.py": "",
    ".hidden/__init__.py": "",
    "notapackage/readme.txt": "",
    "noinit/deeper/__init__.py": "",
}


@pytest.fixture
def fake_sdk(tmp_path, monkeypatch):
    for relative, text in FILES.items():
        path = tmp_path / PKG / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    # one already imported and one not installed at all come first: both are skipped, not the end
    monkeypatch.setattr(fast_imports, "PACKAGES", ("json", "h7_not_installed", PKG))
    monkeypatch.delenv("MODELWAY_RENDER_EAGER_IMPORTS", raising=False)
    yield tmp_path / PKG
    for name in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
        del sys.modules[name]


def loaded(prefix: str) -> set[str]:
    return {m[len(prefix):] for m in sys.modules if m.startswith(prefix)}


def test_constants():
    assert fast_imports.PACKAGES == ("pulumi_aws", "pulumi_kubernetes")


@pytest.mark.parametrize(("attr", "expected"), [
    ("LaunchTemplate", ["LaunchTemplate", "launch_template"]),
    ("LaunchTemplateArgs", ["LaunchTemplateArgs", "LaunchTemplate", "launch_template"]),
    ("LaunchTemplateArgsDict", ["LaunchTemplateArgsDict", "LaunchTemplate", "launch_template"]),
    ("AwaitableGetVpcResult", ["AwaitableGetVpcResult", "GetVpc", "get_vpc"]),
    ("GetVpcResult", ["GetVpcResult", "GetVpc", "get_vpc"]),
    ("get_vpc_output", ["get_vpc_output", "get_vpc"]),
    ("Args", ["Args", "args"]),
    ("Result", ["Result", "result"]),
    ("EKS2Cluster", ["EKS2Cluster", "eks2_cluster"]),
    ("PolicyResultArgs", ["PolicyResultArgs", "PolicyResult", "policy_result"]),  # one suffix only
    ("outputs", ["outputs", "_inputs", "_enums"]),
])
def test_candidate_modules_for_a_name(attr, expected):
    tail = [n for n in ["_inputs", "outputs", "_enums"] if n not in expected]
    assert fast_imports._candidates(attr) == expected + tail


def test_install_registers_every_subpackage_lazily(fake_sdk):
    assert fast_imports.install() is True
    assert loaded(PKG) == {".ec2", ".core", ".core.v1"}
    ec2 = sys.modules[PKG + ".ec2"]
    assert isinstance(ec2, fast_imports._LazyPackage)
    assert (ec2.__file__, ec2.__path__, ec2.__package__) == (str(fake_sdk / "ec2" / "__init__.py"),
                                                            [str(fake_sdk / "ec2")], PKG + ".ec2")
    assert ec2.__spec__.name == PKG + ".ec2" and ec2.__loader__ is ec2.__spec__.loader
    assert "LOADED_BY_INIT" not in ec2.__dict__
    # the root package is imported now: a second install leaves it alone
    __import__(PKG)
    assert fast_imports.install() is False


def test_install_is_off_when_asked(fake_sdk, monkeypatch):
    monkeypatch.setenv("MODELWAY_RENDER_EAGER_IMPORTS", "1")
    assert fast_imports.install() is False
    assert loaded(PKG) == set()
    monkeypatch.setenv("MODELWAY_RENDER_EAGER_IMPORTS", "0")
    assert fast_imports.install() is True


def test_names_load_one_module_at_a_time_and_are_the_real_objects(fake_sdk):
    fast_imports.install()
    ec2 = importlib.import_module(PKG + ".ec2")
    template = ec2.LaunchTemplate
    assert template.__module__ == PKG + ".ec2.launch_template"
    assert loaded(PKG + ".ec2.") == {"launch_template"}
    assert ec2.__dict__["LaunchTemplate"] is template  # cached on the package
    assert ec2.LaunchTemplateArgs.__module__ == PKG + ".ec2.launch_template"
    assert ec2.AwaitableGetVpcResult.__module__ == PKG + ".ec2.get_vpc"
    assert ec2.get_vpc_output.__module__ == PKG + ".ec2.get_vpc"
    assert ec2.NestedBlockArgs.__module__ == PKG + ".ec2._inputs"
    assert ec2.NestedBlock.__module__ == PKG + ".ec2.outputs"
    assert ec2.InstanceType.__module__ == PKG + ".ec2._enums"
    assert loaded(PKG + ".ec2.") == {"launch_template", "get_vpc", "_inputs", "outputs", "_enums"}
    assert "LOADED_BY_INIT" not in ec2.__dict__
    # a submodule asked for by name is that module
    assert ec2.extra is sys.modules[PKG + ".ec2.extra"] and ec2.extra.VALUE == 1
    namespace = importlib.import_module(PKG + ".core.v1").Namespace
    assert namespace.__module__ == PKG + ".core.v1.Namespace"


def test_a_name_no_module_defines_runs_the_real_init(fake_sdk):
    fast_imports.install()
    ec2 = importlib.import_module(PKG + ".ec2")
    assert ec2.LOADED_BY_INIT is True
    assert ec2.__dict__["_modelway_loaded_all"] is True and ec2.__dict__["_modelway_loading_all"] is False
    with pytest.raises(AttributeError) as err:
        ec2.NoSuchThing
    assert str(err.value) == f"module '{PKG}.ec2' has no attribute 'NoSuchThing'"



def test_a_dunder_name_never_loads_the_package(fake_sdk):
    fast_imports.install()
    ec2 = importlib.import_module(PKG + ".ec2")
    with pytest.raises(AttributeError):
        ec2.__wrapped__
    assert "LOADED_BY_INIT" not in ec2.__dict__ and loaded(PKG + ".ec2.") == set()


def test_star_import_and_dir_see_every_export(fake_sdk):
    fast_imports.install()
    namespace: dict = {}
    exec(f"from {PKG}.ec2 import *", namespace)
    ec2 = sys.modules[PKG + ".ec2"]
    assert set(namespace) - {"__builtins__"} == set(ec2.__all__)  # exactly the package's own export list
    assert (namespace["HAD_ALL_EARLY"], namespace["HAD_LATE_NAME"]) == (False, False)
    assert dir(ec2) and dir(ec2)  # the real __init__ ran once, however often everything is asked for
    assert sys.modules[PKG + "._runs"].INITS == [PKG + ".ec2"]
    assert namespace["LaunchTemplate"] is sys.modules[PKG + ".ec2.launch_template"].LaunchTemplate
    core = sys.modules[PKG + ".core"]
    assert "v1" in dir(core)
    assert core.__dict__["_modelway_loaded_all"] is True


def test_a_package_without_all_has_no_all(fake_sdk):
    fast_imports.install()
    core = sys.modules[PKG + ".core"]
    with pytest.raises(AttributeError):
        core.__all__
    assert core.__dict__["_modelway_loaded_all"] is True
    assert core.v1 is sys.modules[PKG + ".core.v1"]


def test_subpackages_skip_private_hidden_and_non_packages(fake_sdk):
    found = sorted(p.relative_to(fake_sdk).as_posix() for p in fast_imports._subpackages(fake_sdk))
    assert found == ["core", "core/v1", "ec2"]
