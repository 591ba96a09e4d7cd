"""Cache keys: what a step computes from (its code, the project code it calls, settings, inputs).

The code part is the source of the step function plus, transitively:

* the source of the project functions and classes it references (names in its bytecode
  resolved through its globals), and
* the full text of project modules it imports inside its body (``from mypkg.train import
  fit`` in a step that keeps heavy imports lazy), of the packages around them (``mypkg/__init__.py``,
  which the import runs first), and of the project modules those import.
  Modules are located on ``sys.path`` and scanned, never imported, so a cached re-run stays fast.

Project = files outside the Python installation and site-packages, excluding Modelway's
own runtime (its changes must not invalidate users' caches).

The versions of the third-party libraries that code imports (``import sklearn`` -> the
installed scikit-learn's version) are part of the hash too, so upgrading a library re-runs the
steps that use it and only those (ML Test Score Mon1).
"""
from __future__ import annotations

import hashlib
import os
import inspect
import json
import pickle
import re
import sys
import sysconfig
import types
from functools import lru_cache
from typing import Any

from modelway.artifacts.serializers import canonical_json, is_jsonable

_CORE_PREFIXES = ("modelway.dsl", "modelway.runtime", "modelway.artifacts", "modelway.store", "modelway.lineage",
                  "modelway.contracts", "modelway.errors", "modelway.settings")


@lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    return tuple(sorted(roots))


def _is_project_file(filename: str | None) -> bool:
    if not filename:
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return not filename.startswith(_library_roots())


def _is_core(module_name: str) -> bool:
    return module_name == "modelway" or module_name.startswith(_CORE_PREFIXES)


def _is_project_module(module_name: str | None) -> bool:
    if not module_name or _is_core(module_name):
        return False
    module = sys.modules.get(module_name)
    return _is_project_file(getattr(module, "__file__", None))


def _locate(module_name: str) -> str | None:
    """File of a module, without importing it (sys.modules first, then a search of its parent
    package's directory, or of sys.path for a top-level name)."""
    module = sys.modules.get(module_name)
    if module is not None:
        return getattr(module, "__file__", None)
    key = (module_name, tuple(sys.path))  # per sys.path: the same name can be another module then
    found = _FOUND.get(key)
    if found is None:
        found = _search(module_name, key[1])
        if found is not None:  # misses are not remembered: the file may be created later
            _FOUND[key] = found
    return found


_FOUND: dict[tuple[str, tuple[str, ...]], str] = {}


def _search(module_name: str, search_path: tuple[str, ...]) -> str | None:
    parent, _, leaf = module_name.rpartition(".")
    if parent:
        parent_file = _locate(parent)
        if parent_file is None or not parent_file.endswith("__init__.py"):
            return None  # parent is not a regular package: `leaf` is an attribute, not a module
        roots = [os.path.dirname(parent_file)]
    else:
        roots = [entry or "." for entry in search_path]
    for root in roots:
        base = os.path.join(root, leaf)
        # a package before a module of the same name, as Python's import finds them
        for candidate in (os.path.join(base, "__init__.py"), base + ".py"):
            if os.path.isfile(candidate):
                return candidate
    return None


def _project_file(module_name: str) -> str | None:
    """The module's file when it belongs to the project (library top-level packages are skipped at once)."""
    top = module_name.partition(".")[0]
    if top in sys.builtin_module_names or _is_core(module_name):
        return None
    if not _is_project_file(_locate(top)):
        return None
    filename = _locate(module_name)
    return filename if _is_project_file(filename) else None


_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.MULTILINE)
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)", re.MULTILINE)
_COMMENT = re.compile(r"#[^\n]*")


def _imports_in(text: str, package: str) -> list[str]:
    """Absolute module names imported anywhere in ``text`` (``from a import b`` gives a and a.b).

    A regular expression rather than a parse: it is fast, and an import matched inside a
    string only makes the fingerprint more conservative.
    """
    names: list[str] = []
    # Comments out first: one inside a parenthesized ``from x import (a,  # note`` list would hide
    # the names after it, or end the list at a ``)`` of its own.
    text = _COMMENT.sub("", text)
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            name = part.split()[0] if part.split() else ""
            if name:
                names.append(name)
    for match in _FROM.finditer(text):
        dots, base, imported = match.groups()
        if dots:
            pkg_parts = package.split(".") if package else []
            pkg_parts = pkg_parts[: len(pkg_parts) - len(dots) + 1]
            base = ".".join([*pkg_parts, base] if base else pkg_parts)
        if not base:
            continue
        names.append(base)
        for part in imported.strip("()").split(","):
            words = part.split()
            if words and words[0].isidentifier():  # not `*`
                names.append(f"{base}.{words[0]}")
    return names


def _imported_project_files(source: str, package: str) -> list[tuple[str, str]]:
    """(module, file) of project modules imported by ``source`` and, transitively, by those modules
    (with the packages that contain them, whose ``__init__`` an import runs)."""
    found: dict[str, str] = {}
    queue = [(name, package) for name in _imports_in(source, package)]
    while queue:
        name, _ = queue.pop()
        if name in found:
            continue
        filename = _project_file(name)
        if filename is None:
            continue
        found[name] = filename  # type: ignore[assignment]
        parent = name.rpartition(".")[0]
        if parent:  # importing a.b runs a/__init__.py first: its code counts too
            queue.append((parent, package))
        mod_package = name if filename.endswith("__init__.py") else name.rpartition(".")[0]  # type: ignore[union-attr]
        queue.extend((sub, mod_package) for sub in _module_imports(filename, mod_package))  # type: ignore[arg-type]
    return sorted(found.items())


@lru_cache(maxsize=512)
def _file_text(filename: str, mtime_ns: int) -> str:
    with open(filename, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _module_imports(filename: str, package: str) -> tuple[str, ...]:
    return _module_imports_cached(filename, os.stat(filename).st_mtime_ns, package)


@lru_cache(maxsize=512)
def _module_imports_cached(filename: str, mtime_ns: int, package: str) -> tuple[str, ...]:
    return tuple(_imports_in(_file_text(filename, mtime_ns), package))


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return _code_text(code) if code is not None else repr(obj)


def _code_text(code: types.CodeType) -> str:
    """Code without a source file as text: its bytecode with its constants and names (the bytecode
    alone is the same for ``x + 1`` and ``x + 2``); nested code alike, as its repr has an address."""
    consts = [_code_text(c) if isinstance(c, types.CodeType) else sorted(map(repr, c)) if isinstance(c, frozenset)
              else repr(c) for c in code.co_consts]  # a frozenset's order varies between processes
    return repr((code.co_code, consts, code.co_names))


def _names_in_code(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in_code(const)
    return names


def code_hash(fn: Any) -> str:
    """Hash of ``fn``'s source and of the project code it references or imports, transitively.

    Computed per run (not memoized across runs): in a long-lived process code may change.

    Example:
        >>> def f(x): return x + 1
        >>> len(code_hash(f))
        64
    """
    h = hashlib.sha256()
    seen: set[int] = set()
    files: dict[str, str] = {}
    sources_imports: set[str] = set()
    stack: list[Any] = [fn]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        target = getattr(obj, "fn", obj) if type(obj).__name__ == "Step" else obj
        source = _source(target)
        module = getattr(target, "__module__", "") or ""
        h.update(f"{module}.{getattr(target, '__qualname__', '')}\n".encode())
        h.update(source.encode())
        package = module if hasattr(sys.modules.get(module), "__path__") else module.rpartition(".")[0]
        sources_imports.update(_imports_in(source, package))
        for name, filename in _imported_project_files(source, package):
            files.setdefault(name, filename)
        for dep in _references(target):
            if id(dep) not in seen:
                stack.append(dep)
    imported: set[str] = set()
    for name, filename in sorted(files.items()):
        text = _file_text(filename, os.stat(filename).st_mtime_ns)
        h.update(f"module {name}\n".encode())
        h.update(text.encode())
        package = name if filename.endswith("__init__.py") else name.rpartition(".")[0]
        imported.update(_module_imports(filename, package))
    imported.update(sources_imports)
    h.update(json.dumps(distribution_versions(_third_party_tops(imported)), sort_keys=True).encode())
    return h.hexdigest()


def _third_party_tops(modules: set[str]) -> list[str]:
    """Top-level names of the modules that are neither standard library nor project code."""
    tops = {m.partition(".")[0] for m in modules if m and not m.startswith(".")}
    return sorted(t for t in tops if t not in sys.stdlib_module_names and t not in sys.builtin_module_names
                  and t != "modelway" and not _is_project_file(_locate(t)))


def distribution_versions(top_level_names: list[str]) -> dict[str, str]:
    """``{distribution: version}`` for importable top-level names (``sklearn`` -> ``scikit-learn``).

    Read from the installed distributions' metadata, without importing the libraries.

    Example:
        >>> "pydantic" in distribution_versions(["pydantic", "not_installed_anywhere"])
        True
    """
    out: dict[str, str] = {}
    for top in top_level_names:
        for dist in _distributions_of(top):
            version = _version(dist)
            if version is not None:
                out[dist] = version
    return out


# Import names whose distribution is named otherwise; anything else not named like its package
# falls back to importlib.metadata.packages_distributions() (a full scan: about a second).
_DISTRIBUTION_OF = {"sklearn": "scikit-learn", "yaml": "PyYAML", "PIL": "Pillow", "cv2": "opencv-python",
                    "skimage": "scikit-image", "attr": "attrs", "dateutil": "python-dateutil", "bs4": "beautifulsoup4",
                    "jwt": "PyJWT", "google": "protobuf", "pkg_resources": "setuptools", "dotenv": "python-dotenv"}


@lru_cache(maxsize=1024)
def _distributions_of(top: str) -> tuple[str, ...]:
    for name in (top, _DISTRIBUTION_OF.get(top)):
        if name is not None and _version(name) is not None:  # the common cases: no scan of every distribution
            return (name,)
    import importlib.util

    try:
        if importlib.util.find_spec(top) is None:
            return ()  # not installed (an optional import): nothing to pin
    except (ImportError, ValueError):
        return ()
    return tuple(sorted(set(_packages_distributions().get(top, ()))))


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


def _version(dist: str) -> str | None:
    return _installed().get(_normalize(dist))


@lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    """``{normalized distribution name: version}`` from the ``*.dist-info`` folder names on sys.path (one
    listing per entry: reading every METADATA file would cost a cached re-run about a third of a second)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for item in names:
            stem = item[: -len(".dist-info")]
            if item.endswith(".dist-info") and "-" in stem:  # a folder without a version is not one
                name, version = stem.rsplit("-", 1)
                found.setdefault(_normalize(name), version)  # the first on sys.path is the one imported
    return found


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _references(obj: Any) -> list[Any]:
    """Project functions/classes named in ``obj``'s code (or a class's methods)."""
    codes: list[tuple[types.CodeType, dict[str, Any]]] = []
    if isinstance(obj, types.FunctionType):
        codes.append((obj.__code__, obj.__globals__))
    elif isinstance(obj, type):
        for member in vars(obj).values():
            func = getattr(member, "__func__", member)
            if isinstance(func, types.FunctionType):
                codes.append((func.__code__, func.__globals__))
    found: list[Any] = []
    for code, glb in codes:
        names = _names_in_code(code)
        for name in sorted(names):
            value = glb.get(name)
            if value is None:
                continue
            if isinstance(value, types.ModuleType):
                if _is_project_module(value.__name__):
                    for attr in sorted(names):
                        member = getattr(value, attr, None)
                        if _is_project_callable(member):
                            found.append(member)
                continue
            if type(value).__name__ == "Step":
                value = value.fn
            if _is_project_callable(value):
                found.append(value)
    return found


def _is_project_callable(value: Any) -> bool:
    return isinstance(value, (types.FunctionType, type)) and _is_project_module(getattr(value, "__module__", None))


def reads_context_params(fn: Any) -> bool:
    """Whether a step function reads ``.params`` (of ``step_context()``) anywhere in its body."""
    code = getattr(fn, "__code__", None)
    return code is not None and "params" in _names_in_code(code)


def value_token(value: Any) -> Any:
    """A JSON-able token identifying a constant input; raises TypeError when it can't be hashed."""
    if is_jsonable(value):
        return value
    token = getattr(value, "__modelway_token__", None)
    if callable(token):
        return token()
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception as exc:
        raise TypeError(f"cannot fingerprint {type(value).__name__}: {exc}") from None
    return {"$pickle": hashlib.sha256(data).hexdigest()}


def cache_key(code: str, settings: dict[str, Any], inputs: Any) -> str:
    """The final key: sha256 over code hash, result-affecting settings and the inputs' tokens."""
    payload = {"code": code, "settings": settings, "inputs": inputs}
    return hashlib.sha256(canonical_json(json.loads(json.dumps(payload, default=str)))).hexdigest()
