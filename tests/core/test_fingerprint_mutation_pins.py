"""Pins on the cache keys (``modelway.runtime.fingerprint``), fast enough for ``make mutate``.

A step's cached result is reused when its key matches, so a key that misses an input serves a
stale result (a false pass), and one that takes in something irrelevant re-runs for nothing.
The rule, said as properties (Hypothesis) where examples cannot: the key changes exactly when
something that can change the result changes: the step's code, the project code it calls or
imports (transitively), the versions of the libraries that code imports, the settings that
can change the result, every element of its inputs (which element of an upstream output it
consumes included), and the pipeline parameters it reads.

Everything here calls the functions directly on small project packages written to a temp
folder: no pipeline runs, no processes (the runs that show the same end to end are in
test_core_cache.py and test_core_mutation_pins.py).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import itertools
import json
import os
import pickle
import sys
import sysconfig
import textwrap
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelway import step
from modelway.dsl.settings import cache_relevant, parse_settings, resolve_settings
from modelway.runtime import fingerprint
from modelway.runtime.fingerprint import cache_key, code_hash, distribution_versions, reads_context_params, value_token

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_TICK = itertools.count(1)


class Project:
    """Python files of a user's project in a temp folder on ``sys.path``, imported for real."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        stamp = time.time_ns() + next(_TICK) * 1_000_000  # a new version is a new mtime, however fast
        os.utime(path, ns=(stamp, stamp))
        return path

    def load(self, name: str) -> Any:
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield Project(root)
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture()
def versions(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Library versions as code_hash sees them: ``{"calls": [tops, ...], "version": "1"}`` (editable)."""
    state: dict[str, Any] = {"calls": [], "version": "1"}

    def fake(tops: list[str]) -> dict[str, str]:
        state["calls"].append(list(tops))
        # distributions need not come in the tops' order (sklearn -> scikit-learn, yaml -> PyYAML)
        return {top: state["version"] for top in reversed(tops)}

    monkeypatch.setattr(fingerprint, "distribution_versions", fake)
    return state


# --- the final key --------------------------------------------------------------------------------
def test_the_key_of_known_parts_is_stable() -> None:
    # A different digest for the same parts would re-run every cached step of every user once:
    # change it only on purpose.
    key = cache_key("c0de", {"gpus": 1, "instance_type": None}, {"rows": {"$ref": "ab12", "path": ["0"]}, "n": 3})
    assert key == "11755d53ed57105516a771646a4310f2fe92544b237c49bc2c10caddf97d71e5"


def test_the_key_ignores_the_order_of_settings_and_inputs_and_reads_values_as_json() -> None:
    key = cache_key("c", {"gpus": 1, "instance_type": "ml.g5.xlarge"}, {"a": [1, 2], "b": {"x": 1, "y": 2}})
    assert key == cache_key("c", {"instance_type": "ml.g5.xlarge", "gpus": 1}, {"b": {"y": 2, "x": 1}, "a": (1, 2)})
    # a value JSON cannot hold is read as its text
    assert cache_key("c", {"where": Path("/data/x")}, {}) == cache_key("c", {"where": "/data/x"}, {})


JSON_LEAF = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                             max_size=3), max_leaves=8)


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every leaf, and to every list and dict (where an element can be added)."""
    out = [path]
    if isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_leaves(item, (*path, i)))
    elif isinstance(value, dict):
        for k, item in value.items():
            out.extend(_leaves(item, (*path, k)))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


@QUICK
@given(code=st.text(max_size=4), settings_=st.dictionaries(st.text(max_size=3), JSON, max_size=3),
       inputs=st.dictionaries(st.text(max_size=3), JSON, max_size=3), data=st.data())
def test_the_key_changes_exactly_when_one_part_changes(code, settings_, inputs, data) -> None:
    parts = {"code": code, "settings": settings_, "inputs": inputs}
    key = cache_key(code, settings_, inputs)
    assert key == cache_key(code, dict(reversed(settings_.items())), dict(reversed(inputs.items())))
    # change one thing anywhere: the code, any element of any collection, or add an element
    where = data.draw(st.sampled_from([p for p in _leaves(parts) if p]))
    old = _get(parts, where)
    if isinstance(old, list) and data.draw(st.booleans()):
        new = [*old, data.draw(JSON)]
    elif isinstance(old, dict) and data.draw(st.booleans()):
        new = {**old, data.draw(st.text(max_size=3).filter(lambda k: k not in old)): data.draw(JSON)}
    else:
        new = data.draw(JSON.filter(lambda v: json.dumps(v, sort_keys=True) != json.dumps(old, sort_keys=True)))
    changed = _replace(parts, where, new)
    assert cache_key(changed["code"], changed["settings"], changed["inputs"]) != key, (where, old, new)


def _settings(**values: Any) -> dict[str, Any]:
    return cache_relevant(resolve_settings(parse_settings("step 's'", values), None))


@pytest.mark.parametrize(("before", "after"), [
    ({"gpus": 0}, {"gpus": 1}),
    ({"gpus": 1}, {"gpus": 2}),
    ({}, {"instance_type": "ml.m5.large"}),
    ({"instance_type": "ml.m5.large"}, {"instance_type": "ml.g5.xlarge"}),
])
def test_gpus_and_instance_type_are_part_of_the_key(before: dict, after: dict) -> None:
    assert cache_key("c", _settings(**before), {"x": 1}) != cache_key("c", _settings(**after), {"x": 1})


def test_which_element_of_an_upstream_output_a_step_consumes_is_part_of_the_key() -> None:
    # the runner's token for `out[0]`, `out[1]`, `out["0"]` and the whole `out` of the same upstream output
    tokens = [{"$ref": "ab12", "path": [repr(0)]}, {"$ref": "ab12", "path": [repr(1)]},
              {"$ref": "ab12", "path": [repr("0")]}, {"$ref": "ab12", "path": []},
              {"$ref": "ab12", "path": [repr(0), repr(1)]}, {"$ref": "cd34", "path": [repr(0)]}]
    keys = {cache_key("c", {}, {"rows": token}) for token in tokens}
    assert len(keys) == len(tokens)


# --- constant inputs ------------------------------------------------------------------------------
@QUICK
@given(JSON)
def test_a_json_input_is_its_own_token(value: Any) -> None:
    assert value_token(value) is value


class _Tokened:
    def __init__(self, version: int) -> None:
        self.version = version

    def __modelway_token__(self) -> dict[str, int]:
        return {"tokened": self.version}


class _NotCallableToken:
    __modelway_token__ = "not a method"

    def __eq__(self, other: object) -> bool:
        return type(other) is _NotCallableToken


class _Unpicklable:
    def __reduce__(self):
        raise ValueError("no pickling this")


def _pickle_token(value: Any) -> dict[str, str]:
    return {"$pickle": hashlib.sha256(pickle.dumps(value, protocol=4)).hexdigest()}


def test_an_object_names_its_own_token() -> None:
    assert value_token(_Tokened(3)) == {"tokened": 3}
    assert value_token(_Tokened(3)) != value_token(_Tokened(4))


def test_other_inputs_are_tokens_of_their_pickle_protocol_4() -> None:
    # protocol 4, not the interpreter's default: a Python upgrade must not re-run every cached step
    value = (1, "a", frozenset({2}))
    assert value_token(value) == _pickle_token(value)
    assert _pickle_token(value)["$pickle"] != hashlib.sha256(pickle.dumps(value, protocol=5)).hexdigest()
    assert value_token(_NotCallableToken()) == _pickle_token(_NotCallableToken())
    assert value_token((1, 2)) != value_token((1, 3))
    assert value_token((1, 2)) != value_token([1, 2])  # a tuple input is not the list's token


def test_an_input_that_cannot_be_fingerprinted_says_so() -> None:
    with pytest.raises(TypeError) as caught:
        value_token(_Unpicklable())
    assert str(caught.value) == "cannot fingerprint _Unpicklable: no pickling this"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# --- pipeline parameters --------------------------------------------------------------------------
def _reads_params() -> Any:
    from modelway import step_context

    return step_context().params["env"]


def _reads_params_in_a_nested_function() -> Any:
    from modelway import step_context

    return (lambda: step_context().params)()


def _has_a_local_named_params(params: int = 1) -> int:
    return params + 1


def test_a_step_reads_the_pipeline_parameters_when_its_code_names_params() -> None:
    assert reads_context_params(_reads_params) is True
    assert reads_context_params(_reads_params_in_a_nested_function) is True
    assert reads_context_params(_has_a_local_named_params) is False  # a local variable is not `.params`
    assert reads_context_params(len) is False  # no code to read
    assert reads_context_params(_Tokened) is False


# --- which imports a step's code makes ------------------------------------------------------------
@pytest.mark.parametrize(("text", "package", "names"), [
    ("import a\n", "", ["a"]),
    ("import a.b as c, d\n    import e  # lazy\n", "", ["a.b", "d", "e"]),
    ("import a,\n", "", ["a"]),
    ("x = 1  # import hidden\n", "", []),
    ("from x.y import a, b as c\n", "", ["x.y", "x.y.a", "x.y.b"]),
    ("from x import *\n", "", ["x"]),
    ("from x import a  # b\n", "", ["x", "x.a"]),
    ("from x import a; import y\n", "", ["x", "x.a"]),
    ("from x import (\n    a,\n    b,\n)\n", "", ["x", "x.a", "x.b"]),
    ("from x import (a,  # the model (see b)\n    sub)\n", "", ["x", "x.a", "x.sub"]),
    ("from . import a\n", "p.q", ["p.q", "p.q.a"]),
    ("from .. import a\n", "p.q", ["p", "p.a"]),
    ("from .m import a\n", "p.q", ["p.q.m", "p.q.m.a"]),
    ("from ..m import a\n", "p.q", ["p.m", "p.m.a"]),
    ("from .m import a\n", "", ["m", "m.a"]),
    ("from . import a\n", "", []),
    ("from . import a\nfrom x import b\n", "", ["x", "x.b"]),  # the one that resolves to nothing is skipped
    ("from x import (Xa, bX)\nfrom y import Yb\n", "", ["x", "x.Xa", "x.bX", "y", "y.Yb"]),
])
def test_imports_found_in_code(text: str, package: str, names: list[str]) -> None:
    assert fingerprint._imports_in(text, package) == names


# --- what belongs to the project ------------------------------------------------------------------
def test_library_roots_are_the_installation_and_its_package_folders() -> None:
    paths = sysconfig.get_paths()
    expected = {sys.prefix, sys.base_prefix, sys.exec_prefix,
                *(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k))}
    assert set(fingerprint._library_roots()) == expected


def test_every_folder_of_the_installation_is_a_library_root(monkeypatch) -> None:
    folders = {"stdlib": "/py/std", "platstdlib": "/py/platstd", "purelib": "/py/pure", "platlib": "/py/plat",
               "data": "/py/data", "scripts": "/py/bin"}
    monkeypatch.setattr(fingerprint.sysconfig, "get_paths", lambda: folders)
    assert set(fingerprint._library_roots.__wrapped__()) == {
        sys.prefix, sys.base_prefix, sys.exec_prefix, "/py/std", "/py/platstd", "/py/pure", "/py/plat"}
    monkeypatch.setattr(fingerprint.sysconfig, "get_paths", lambda: {**folders, "platlib": "", "stdlib": None})
    assert set(fingerprint._library_roots.__wrapped__()) == {  # an empty or missing folder is no root
        sys.prefix, sys.base_prefix, sys.exec_prefix, "/py/platstd", "/py/pure"}


def test_the_installation_is_read_once_per_process(monkeypatch) -> None:
    calls = []
    get_paths = sysconfig.get_paths
    monkeypatch.setattr(fingerprint.sysconfig, "get_paths", lambda: calls.append(1) or get_paths())
    fingerprint._library_roots.cache_clear()
    try:
        roots = fingerprint._library_roots()
        read = len(calls)
        fingerprint._is_project_file("/somewhere/pipe.py")  # each file asked about reads the roots
        assert fingerprint._library_roots() == roots
        assert len(calls) == read
    finally:
        fingerprint._library_roots.cache_clear()


def test_project_files_are_outside_the_installation_and_any_package_folder(tmp_path: Path) -> None:
    assert fingerprint._is_project_file(str(tmp_path / "pipe.py")) is True
    for root in fingerprint._library_roots():
        assert fingerprint._is_project_file(os.path.join(root, "x.py")) is False
    assert fingerprint._is_project_file(str(tmp_path / "site-packages" / "lib.py")) is False
    assert fingerprint._is_project_file(str(tmp_path / "dist-packages" / "lib.py")) is False
    assert fingerprint._is_project_file(None) is False
    assert fingerprint._is_project_file("") is False


@pytest.mark.parametrize("name", ["modelway", "modelway.dsl", "modelway.dsl.graph", "modelway.runtime.runner",
                                  "modelway.artifacts.store", "modelway.store.runs", "modelway.lineage.collect",
                                  "modelway.contracts.platform_config", "modelway.errors", "modelway.settings"])
def test_modelway_core_is_never_part_of_a_users_cache_key(name: str) -> None:
    assert fingerprint._is_core(name) is True
    assert fingerprint._is_project_module(name) is False
    assert fingerprint._project_file(name) is None


@pytest.mark.parametrize("name", ["modelway.stages.gates", "modelwayx", "mypkg.modelway.dsl", "dsl"])
def test_names_that_only_resemble_the_core_are_not_core(name: str) -> None:
    assert fingerprint._is_core(name) is False


def test_project_modules(project: Project) -> None:
    project.write("mwfp_mod.py", "X = 1\n")
    project.load("mwfp_mod")
    assert fingerprint._is_project_module("mwfp_mod") is True
    assert fingerprint._is_project_module("hypothesis") is False  # site-packages
    assert fingerprint._is_project_module("json") is False  # standard library
    assert fingerprint._is_project_module("sys") is False  # built in: no file
    assert fingerprint._is_project_module("mwfp_never_imported") is False
    assert fingerprint._is_project_module(None) is False
    assert fingerprint._is_project_module("") is False


def test_a_module_is_located_without_importing_it(project: Project, tmp_path: Path, monkeypatch) -> None:
    project.write("mwfp_loc/__init__.py", "")
    sub = project.write("mwfp_loc/sub.py", "")
    solo = project.write("mwfp_solo.py", "")
    both = project.write("mwfp_both/__init__.py", "")
    project.write("mwfp_both.py", "")  # a package shadows a module of the same name, as for import
    project.write("mwfp_ns/inner.py", "")  # a folder without __init__.py is not a regular package
    assert fingerprint._locate("mwfp_loc.sub") == str(sub)
    assert fingerprint._locate("mwfp_loc") == str(project.root / "mwfp_loc" / "__init__.py")
    assert fingerprint._locate("mwfp_solo") == str(solo)
    assert fingerprint._locate("mwfp_both") == str(both)
    assert fingerprint._locate("mwfp_solo.attr") is None  # a module's attribute, not a module
    assert fingerprint._locate("mwfp_ns.inner") is None
    assert fingerprint._locate("mwfp_missing.sub") is None
    assert fingerprint._locate("json") == sys.modules["json"].__file__  # imported already: its file
    elsewhere = tmp_path / "elsewhere" / "pipe_file.py"  # a pipeline file loaded by its path, not on sys.path
    elsewhere.parent.mkdir()
    elsewhere.write_text("X = 1\n")
    spec = importlib.util.spec_from_file_location("mwfp_loaded_by_path", elsewhere)
    monkeypatch.setitem(sys.modules, "mwfp_loaded_by_path", importlib.util.module_from_spec(spec))
    assert fingerprint._locate("mwfp_loaded_by_path") == str(elsewhere)
    assert fingerprint._locate("sys") is None
    assert "mwfp_loc" not in sys.modules and "mwfp_solo" not in sys.modules
    # "" on sys.path is the current folder
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "mwfp_here.py").write_text("")
    monkeypatch.chdir(cwd)
    assert fingerprint._search("mwfp_here", ("", str(project.root))) == os.path.join(".", "mwfp_here.py")
    assert fingerprint._search("mwfp_here", (str(project.root),)) is None


def test_a_found_module_is_searched_once_per_sys_path_and_a_missing_one_each_time(project: Project,
                                                                                   monkeypatch) -> None:
    calls: list[str] = []
    search = fingerprint._search

    def counting(name: str, path: tuple[str, ...]) -> str | None:
        calls.append(name)
        return search(name, path)

    monkeypatch.setattr(fingerprint, "_search", counting)
    assert fingerprint._locate("mwfp_later") is None
    assert fingerprint._locate("mwfp_later") is None
    assert calls == ["mwfp_later", "mwfp_later"]  # a miss is not remembered: the file may come
    later = project.write("mwfp_later.py", "")
    assert fingerprint._locate("mwfp_later") == str(later)
    assert fingerprint._locate("mwfp_later") == str(later)
    assert calls == ["mwfp_later"] * 3
    monkeypatch.syspath_prepend(str(project.root / "elsewhere"))  # another sys.path: another search
    assert fingerprint._locate("mwfp_later") == str(later)
    assert calls == ["mwfp_later"] * 4


def test_project_file_of_a_module(project: Project) -> None:
    project.write("mwfp_pf/__init__.py", "")
    mod = project.write("mwfp_pf/mod.py", "")
    assert fingerprint._project_file("mwfp_pf.mod") == str(mod)
    assert fingerprint._project_file("mwfp_pf.missing") is None
    assert fingerprint._project_file("json") is None
    assert fingerprint._project_file("json.decoder") is None
    assert fingerprint._project_file("hypothesis.strategies") is None
    assert fingerprint._project_file("sys") is None
    assert fingerprint._project_file("modelway.dsl.graph") is None


def test_submodules_of_a_library_are_never_searched(monkeypatch) -> None:
    # a step importing from a big library costs one look at the library's top-level package
    searched: list[str] = []
    search = fingerprint._search
    monkeypatch.setattr(fingerprint, "_search", lambda name, path: searched.append(name) or search(name, path))
    assert fingerprint._project_file("hypothesis.mwfp_not_a_module") is None
    assert fingerprint._project_file("hypothesis.strategies.mwfp_not_a_module") is None
    assert searched == []


def test_project_modules_imported_transitively(project: Project) -> None:
    init = project.write("mwfp_tr/__init__.py", "from .util import helper\n")
    util = project.write("mwfp_tr/util.py", "from . import consts\nimport json\n\ndef helper():\n    return 1\n")
    consts = project.write("mwfp_tr/consts.py", "from mwfp_tr.deep.leaf import X\n")
    deep = project.write("mwfp_tr/deep/__init__.py", "from .. import consts\n")
    leaf = project.write("mwfp_tr/deep/leaf.py", "import mwfp_tr\nX = 1\n")
    project.write("mwfp_tr/unused.py", "")
    found = fingerprint._imported_project_files("from mwfp_tr.util import helper\n", "")
    assert found == [("mwfp_tr", str(init)), ("mwfp_tr.consts", str(consts)), ("mwfp_tr.deep", str(deep)),
                     ("mwfp_tr.deep.leaf", str(leaf)), ("mwfp_tr.util", str(util))]
    assert fingerprint._imported_project_files("import json\nimport hypothesis\n", "") == []


def test_relative_imports_of_a_package_init_resolve_inside_the_package(project: Project) -> None:
    init = project.write("mwfp_rel/__init__.py", "from .only import Y\n")
    only = project.write("mwfp_rel/only.py", "from . import sibling\nY = 1\n")
    sibling = project.write("mwfp_rel/sibling.py", "")
    assert fingerprint._imported_project_files("import mwfp_rel\n", "") == [
        ("mwfp_rel", str(init)), ("mwfp_rel.only", str(only)), ("mwfp_rel.sibling", str(sibling))]


def test_an_imported_module_brings_the_packages_around_it(project: Project) -> None:
    # importing mwfp_up.mid.leaf runs mwfp_up/__init__.py and mwfp_up/mid/__init__.py first
    top = project.write("mwfp_up/__init__.py", "SEED = 1\n")
    mid = project.write("mwfp_up/mid/__init__.py", "SEED = 2\n")
    leaf = project.write("mwfp_up/mid/leaf.py", "X = 1\n")
    assert fingerprint._imported_project_files("from mwfp_up.mid.leaf import X\n", "") == [
        ("mwfp_up", str(top)), ("mwfp_up.mid", str(mid)), ("mwfp_up.mid.leaf", str(leaf))]


# --- the code part ---------------------------------------------------------------------------------
def _without_source(text: str) -> Any:
    scope: dict[str, Any] = {}
    exec(textwrap.dedent(text), scope)  # noqa: S102 - code without a source file
    return scope["f"]


def test_source_of_code_without_a_file() -> None:
    f = _without_source("def f(x):\n    return x + 1\n")
    assert fingerprint._source(f) == fingerprint._code_text(f.__code__)
    assert repr(f.__code__.co_code) in fingerprint._source(f)
    assert fingerprint._source(len) == repr(len)
    assert fingerprint._source(_reads_params).startswith("def _reads_params() -> Any:\n")


def test_names_in_nested_code() -> None:
    def outer():
        def inner():
            return [deep_name for _ in range(1)]  # noqa: F821

        return top_name  # noqa: F821

    names = fingerprint._names_in_code(outer.__code__)
    assert {"deep_name", "top_name", "range"} <= names


MODULE = """
import json
from mwfp_code import util
from mwfp_code.util import Model as Alias
from modelway.runtime import fingerprint


def helper(x):
    return x + {helper}


def unrelated(x):
    return x - {unrelated}


def uses_helper(x):
    return helper(x) * 2


def uses_module_attribute(x):
    return util.shifted(x) + json.loads("1")


def uses_class(x):
    return Alias.build(x)


def uses_core(x):
    return fingerprint.cache_key("c", {{}}, {{}})


def ping(n):
    return pong(n - 1) if n else 0


def pong(n):
    return ping(n - 1) if n else 1


def lazy(x):
    from mwfp_code.lazy_dep import OFFSET
    import yaml
    return x + OFFSET
"""

UTIL = """
def shifted(x):
    return x + {shift}


def other(x):
    return x * {other}


def from_static(x):
    return x + {static}


def from_class(x):
    return x


class Model:
    @staticmethod
    def build(x):
        return from_static(x)

    @classmethod
    def make(cls, x):
        return from_class(x)
"""


def _code_project(project: Project, *, helper: int = 1, unrelated: int = 1, shift: int = 1, other: int = 1,
                  static: int = 1, offset: int = 1, deep: int = 1) -> Any:
    project.write("mwfp_code/__init__.py", "")
    project.write("mwfp_code/util.py", UTIL.format(shift=shift, other=other, static=static))
    project.write("mwfp_code/lazy_dep.py", "from mwfp_code.lazy_deep import BASE\nimport pydantic\n"
                  f"OFFSET = {offset} + BASE\n")
    project.write("mwfp_code/lazy_deep.py", f"import sklearn.base\nBASE = {deep}\n")
    project.write("mwfp_code/steps.py", MODULE.format(helper=helper, unrelated=unrelated))
    project.load("mwfp_code.util")
    return project.load("mwfp_code.steps")


def test_the_code_hash_follows_the_functions_a_step_calls(project: Project, versions) -> None:
    steps = _code_project(project)
    before = {name: code_hash(getattr(steps, name)) for name in ("uses_helper", "uses_module_attribute", "uses_class")}
    assert len(set(before.values())) == 3
    assert all(len(h) == 64 for h in before.values())
    steps = _code_project(project, helper=2)
    assert code_hash(steps.uses_helper) != before["uses_helper"]
    assert code_hash(steps.uses_module_attribute) == before["uses_module_attribute"]
    steps = _code_project(project, helper=2, shift=2)
    assert code_hash(steps.uses_module_attribute) != before["uses_module_attribute"]
    steps = _code_project(project, helper=2, shift=2, static=2)
    assert code_hash(steps.uses_class) != before["uses_class"]


def test_the_code_hash_ignores_code_the_step_does_not_reach(project: Project, versions) -> None:
    steps = _code_project(project)
    before = [code_hash(steps.uses_helper), code_hash(steps.uses_module_attribute), code_hash(steps.uses_class)]
    steps = _code_project(project, unrelated=2, other=2)
    assert [code_hash(steps.uses_helper), code_hash(steps.uses_module_attribute), code_hash(steps.uses_class)] == before


def test_the_code_hash_follows_modules_a_step_imports_in_its_body(project: Project, versions) -> None:
    steps = _code_project(project)
    before = code_hash(steps.lazy)
    assert code_hash(_code_project(project).lazy) == before
    assert code_hash(_code_project(project, offset=2).lazy) != before
    assert code_hash(_code_project(project, deep=2).lazy) != before  # a module the imported module imports
    assert code_hash(_code_project(project, helper=2, shift=2).lazy) == before


def test_library_versions_of_the_code_a_step_reaches_are_part_of_its_hash(project: Project, versions) -> None:
    steps = _code_project(project)
    before = code_hash(steps.lazy)
    # yaml in the step, pydantic in the module it imports, sklearn in the module that one imports
    assert versions["calls"] == [["pydantic", "sklearn", "yaml"]]
    versions["version"] = "2"
    assert code_hash(steps.lazy) != before
    versions["calls"].clear()
    code_hash(steps.uses_helper)
    assert versions["calls"] == [[]]  # json is the standard library, mwfp_code the project


def test_the_code_hash_of_a_step_is_the_hash_of_its_function(project: Project, versions) -> None:
    project.write("mwfp_step.py", """
        from modelway import step

        def helper(x):
            return x + 1

        @step
        def first(x: int) -> int:
            return helper(x)

        @step(retries=2)
        def second(x: int) -> int:
            return first.fn(x) + 1
    """)
    module = project.load("mwfp_step")
    assert code_hash(module.first) == code_hash(module.first.fn)
    assert fingerprint._references(module.second.fn) == [module.first.fn]  # a Step: its function
    assert fingerprint._references(module.first.fn) == [module.helper]


def test_references_of_functions_and_classes(project: Project, versions) -> None:
    steps = _code_project(project)
    util = sys.modules["mwfp_code.util"]
    assert fingerprint._references(steps.uses_helper) == [steps.helper]
    assert fingerprint._references(steps.uses_module_attribute) == [util.shifted]  # not json.loads
    assert fingerprint._references(steps.uses_class) == [util.Model]
    assert fingerprint._references(util.Model) == [util.from_static, util.from_class]
    assert fingerprint._references(steps.uses_core) == []  # Modelway's runtime is not the user's code
    assert fingerprint._references(len) == []
    assert fingerprint._is_project_callable(steps.helper) is True
    assert fingerprint._is_project_callable(util.Model) is True
    assert fingerprint._is_project_callable(json.loads) is False
    assert fingerprint._is_project_callable(len) is False
    assert fingerprint._is_project_callable(steps) is False  # a module is not a callable


SHARED = """
def alpha(x):
    return x + {alpha}


def beta(x):
    return x * 2


def gamma(x):
    return beta(x) - 1


def uses_three(x):
    return alpha(x) + beta(x) + gamma(x)
"""


def test_every_function_reached_counts_when_two_paths_reach_the_same_one(project: Project, versions) -> None:
    project.write("mwfp_shared.py", SHARED.format(alpha=1))
    before = code_hash(project.load("mwfp_shared").uses_three)
    project.write("mwfp_shared.py", SHARED.format(alpha=2))
    assert code_hash(project.load("mwfp_shared").uses_three) != before


def test_mutual_recursion_is_hashed_once(project: Project, versions) -> None:
    steps = _code_project(project)
    assert code_hash(steps.ping) == code_hash(steps.ping)
    assert code_hash(steps.ping) != code_hash(steps.pong)  # the same code, reached from the other end


def test_a_function_in_a_package_init_resolves_its_relative_imports(project: Project, versions) -> None:
    project.write("mwfp_pkg/__init__.py", "def run(x):\n    from .dep import Y\n    return x + Y\n")
    project.write("mwfp_pkg/dep.py", "Y = 1\n")
    package = project.load("mwfp_pkg")
    before = code_hash(package.run)
    project.write("mwfp_pkg/dep.py", "Y = 2\n")
    assert code_hash(package.run) != before
    # a function in a submodule: its relative imports resolve against the package around it
    project.write("mwfp_pkg/mod.py", "def run(x):\n    from .dep import Y\n    return x + Y\n")
    mod = project.load("mwfp_pkg.mod")
    before = code_hash(mod.run)
    project.write("mwfp_pkg/dep.py", "Y = 3\n")
    assert code_hash(mod.run) != before
    # the package module's own imports resolve against the package itself
    project.write("mwfp_pkg2/__init__.py", "from .yaml_io import read\n")
    project.write("mwfp_pkg2/yaml_io.py", "def read():\n    return 1\n")
    project.write("mwfp_use.py", "def run():\n    import mwfp_pkg2\n    return mwfp_pkg2.read()\n")
    versions["calls"].clear()
    code_hash(project.load("mwfp_use").run)
    assert versions["calls"] == [[]]
    # and a submodule's against the package around it
    project.write("mwfp_pkg3/__init__.py", "")
    project.write("mwfp_pkg3/mod.py", "from .yaml_io import read\n")
    project.write("mwfp_pkg3/yaml_io.py", "def read():\n    return 1\n")
    project.write("mwfp_use3.py", "def run():\n    from mwfp_pkg3 import mod\n    return mod.read()\n")
    versions["calls"].clear()
    code_hash(project.load("mwfp_use3").run)
    assert versions["calls"] == [[]]


def test_a_project_file_that_is_not_utf8_is_still_hashed(project: Project, versions) -> None:
    project.write("mwfp_latin.py", "def run():\n    from mwfp_latin_dep import X\n    return X\n")
    dep = project.root / "mwfp_latin_dep.py"
    dep.write_bytes(b"X = 'caf\xe9'  # latin-1\n")
    run = project.load("mwfp_latin").run
    before = code_hash(run)
    dep.write_bytes(b"X = 'th\xe9'  # latin-1\n")
    stamp = time.time_ns() + next(_TICK) * 1_000_000
    os.utime(dep, ns=(stamp, stamp))
    assert code_hash(run) != before


def test_a_project_file_is_read_once_per_version(project: Project, versions, monkeypatch) -> None:
    dep = project.write("mwfp_once_dep.py", "X = 1\n")
    run = project.write("mwfp_once.py", "def run():\n    from mwfp_once_dep import X\n    return X\n")
    opened: list[str] = []

    def counting_open(file, *args, **kwargs):
        opened.append(str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(fingerprint, "open", counting_open, raising=False)
    step_fn = project.load("mwfp_once").run
    first = code_hash(step_fn)
    assert code_hash(step_fn) == first
    assert opened.count(str(dep)) == 1  # a cached re-run does not read unchanged project files again
    project.write("mwfp_once_dep.py", "X = 2\n")
    assert code_hash(step_fn) != first
    assert opened.count(str(dep)) == 2
    assert str(run) not in opened  # the step's own module: its source, through inspect


@pytest.mark.parametrize(("one", "other"), [
    ("def f(x):\n    return x + 1\n", "def f(x):\n    return x + 2\n"),  # same bytecode, other constant
    ("def f(x):\n    return x.a\n", "def f(x):\n    return x.b\n"),  # other name
    ("def f(x):\n    return x + 1\n", "def f(x):\n    return x - 1\n"),  # other bytecode
    ("def f():\n    return lambda: 1\n", "def f():\n    return lambda: 2\n"),  # in nested code
    ("def f(x):\n    return x in {'a', 'b', 'c'}\n", "def f(x):\n    return x in {'a', 'b', 'd'}\n"),
])
def test_code_without_a_source_file_is_hashed_by_its_bytecode_constants_and_names(one: str, other: str) -> None:
    assert code_hash(_without_source(one)) == code_hash(_without_source(one))  # no memory address in it
    assert code_hash(_without_source(one)) != code_hash(_without_source(other))


GOLDEN = """
def helper(x):
    return x + 1


def double(x):
    import json
    from mwfp_golden_dep import OFFSET
    return helper(x) * 2 + OFFSET
"""


def test_the_code_hash_of_known_code_is_stable(project: Project, versions) -> None:
    # A different digest for the same code would re-run every cached step of every user once.
    project.write("mwfp_golden_dep.py", "import yaml\nimport pydantic\nOFFSET = 3\n")
    project.write("mwfp_golden.py", GOLDEN)
    double = project.load("mwfp_golden").double
    assert code_hash(double) == "ce32d97208d294cfd761276016c7aa10dfc3bdc410db57b97a10dae0b595e356"
    assert versions["calls"] == [["pydantic", "yaml"]]


# --- library versions -----------------------------------------------------------------------------
def test_third_party_names_among_imports() -> None:
    modules = {"numpy.linalg", "json", "sys", "modelway.stages", "modelway", "", ".rel", "yaml", "pydantic.fields",
               "hypothesis", "mwfp_not_installed"}
    assert fingerprint._third_party_tops(modules) == ["hypothesis", "mwfp_not_installed", "numpy", "pydantic", "yaml"]


def test_modelway_is_not_a_third_party_library_even_when_installed(monkeypatch) -> None:
    monkeypatch.setattr(fingerprint, "_is_project_file", lambda filename: False)  # as from site-packages
    assert fingerprint._third_party_tops({"modelway.stages.gates", "modelway", "mwfp_lib.x"}) == ["mwfp_lib"]


def test_project_packages_are_not_third_party(project: Project) -> None:
    project.write("mwfp_own/__init__.py", "")
    assert fingerprint._third_party_tops({"mwfp_own.sub", "yaml"}) == ["yaml"]


def test_versions_of_installed_distributions() -> None:
    assert distribution_versions(["pydantic", "yaml", "json", "mwfp_not_installed"]) == {
        "pydantic": metadata.version("pydantic"), "PyYAML": metadata.version("PyYAML")}
    assert distribution_versions([]) == {}


RENAMED = {"sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "Pillow", "cv2": "opencv-python",
           "skimage": "scikit-image", "attr": "attrs", "dateutil": "python-dateutil", "bs4": "beautifulsoup4",
           "jwt": "PyJWT", "google": "protobuf", "pkg_resources": "setuptools", "dotenv": "python-dotenv"}


@pytest.fixture()
def fake_installed(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Installed distributions and the packages scan, as _distributions_of sees them."""
    state: dict[str, Any] = {"installed": {}, "scan": None, "scans": 0}

    def scan() -> dict[str, list[str]]:
        state["scans"] += 1
        if state["scan"] is None:
            raise AssertionError("scanned every distribution")
        return state["scan"]

    monkeypatch.setattr(fingerprint, "_installed", lambda: state["installed"])
    monkeypatch.setattr(fingerprint, "_packages_distributions", scan)
    fingerprint._distributions_of.cache_clear()
    yield state
    fingerprint._distributions_of.cache_clear()


@pytest.mark.parametrize("top", sorted(RENAMED))
def test_well_known_renamed_libraries_are_found_without_a_scan(top: str, fake_installed) -> None:
    fake_installed["installed"] = {fingerprint._normalize(RENAMED[top]): "1.0"}
    assert fingerprint._distributions_of(top) == (RENAMED[top],)
    assert distribution_versions([top]) == {RENAMED[top]: "1.0"}


def test_a_library_named_like_its_distribution_needs_no_scan(fake_installed) -> None:
    fake_installed["installed"] = {"mwfp-lib": "2.0"}
    assert fingerprint._distributions_of("mwfp_lib") == ("mwfp_lib",)
    assert distribution_versions(["mwfp_lib"]) == {"mwfp_lib": "2.0"}


def test_other_libraries_are_found_by_a_scan(project: Project, fake_installed) -> None:
    project.write("mwfp_scanned/__init__.py", "")
    project.write("mwfp_no_dist.py", "")
    fake_installed["installed"] = {"b-dist": "1", "a-dist": "2"}
    fake_installed["scan"] = {"mwfp_scanned": ["b-dist", "a-dist", "b-dist"]}
    assert fingerprint._distributions_of("mwfp_scanned") == ("a-dist", "b-dist")
    assert distribution_versions(["mwfp_scanned"]) == {"a-dist": "2", "b-dist": "1"}
    assert fingerprint._distributions_of("mwfp_no_dist") == ()  # importable, from no distribution


def test_a_library_that_is_not_installed_is_not_pinned_and_costs_no_scan(fake_installed) -> None:
    assert fingerprint._distributions_of("mwfp_not_installed") == ()
    assert fingerprint._distributions_of("") == ()  # not a module name
    assert fake_installed["scans"] == 0


def test_installed_distributions_from_the_folders_on_sys_path(tmp_path: Path, monkeypatch) -> None:
    first, second, cwd = tmp_path / "first", tmp_path / "second", tmp_path / "cwd"
    for folder, names in ((first, ["Foo_Bar-1.0.dist-info", "my-pkg-2.1.dist-info", "nodash.dist-info",
                                   "Other-2.0.egg-info", "README-1.0.txt"]),
                          (second, ["foo.bar-9.9.dist-info", "Baz-3.0rc1.dist-info"]),
                          (cwd, ["Cwd_Pkg-0.1.dist-info"])):
        for name in names:
            (folder / name).mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), "", str(second)])
    assert fingerprint._installed.__wrapped__() == {"foo-bar": "1.0", "my-pkg": "2.1", "cwd-pkg": "0.1", "baz": "3.0rc1"}


def test_the_distributions_scan_runs_once_per_process(monkeypatch) -> None:
    scans = []
    monkeypatch.setattr(metadata, "packages_distributions", lambda: scans.append(1) or {"mwfp_top": ["mwfp-dist"]})
    fingerprint._packages_distributions.cache_clear()
    try:
        assert fingerprint._packages_distributions() == {"mwfp_top": ["mwfp-dist"]}
        assert fingerprint._packages_distributions() == {"mwfp_top": ["mwfp-dist"]}
    finally:
        fingerprint._packages_distributions.cache_clear()
    assert scans == [1]


def test_installed_distributions_are_listed_once_per_process(monkeypatch) -> None:
    expected = metadata.version("pydantic"), metadata.version("PyYAML")
    listed: list[str] = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listed.append(path) or listdir(path))
    fingerprint._installed.cache_clear()
    try:
        assert (fingerprint._version("pydantic"), fingerprint._version("PyYAML")) == expected
    finally:
        fingerprint._installed.cache_clear()
    assert len(listed) == len(sys.path)


def test_distribution_names_are_normalized() -> None:
    assert fingerprint._normalize("Foo__Bar.baz-.Qux") == "foo-bar-baz-qux"
    assert fingerprint._version("PYDANTIC") == fingerprint._version("pydantic") == metadata.version("pydantic")
    assert fingerprint._version("mwfp-not-installed") is None
