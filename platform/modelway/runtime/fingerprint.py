"""Cache keys: what a step computes from (its code, the project code it calls, settings, inputs).

The code part is the source of the step function plus, transitively, the source of the
project functions and classes it references (names in its bytecode resolved through its
globals). Project = files outside the Python installation and site-packages, excluding
Modelway's own runtime (its changes must not invalidate users' caches).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import sys
import sysconfig
import types
from functools import lru_cache
from typing import Any

from modelway.artifacts.serializers import canonical_json, is_jsonable

_CORE_PREFIXES = ("modelway.dsl", "modelway.runtime", "modelway.artifacts", "modelway.store", "modelway.lineage",
                  "modelway.contracts", "modelway.errors", "modelway.settings")
_CODE_HASHES: dict[int, str] = {}


@lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    return tuple(sorted(roots, key=len, reverse=True))


def _is_project_module(module_name: str | None) -> bool:
    if not module_name:
        return False
    if module_name.startswith(_CORE_PREFIXES) or module_name == "modelway":
        return False
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not filename:
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return not filename.startswith(_library_roots())


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


def _names_in_code(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in_code(const)
    return names


def code_hash(fn: Any) -> str:
    """Hash of ``fn``'s source and of the project code it references, transitively.

    Example:
        >>> def f(x): return x + 1
        >>> len(code_hash(f))
        64
    """
    key = id(fn)
    cached = _CODE_HASHES.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    seen: set[int] = set()
    stack: list[Any] = [fn]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        target = getattr(obj, "fn", obj) if type(obj).__name__ == "Step" else obj
        h.update(f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}\n".encode())
        h.update(_source(target).encode())
        for dep in _references(target):
            if id(dep) not in seen:
                stack.append(dep)
    digest = h.hexdigest()
    _CODE_HASHES[key] = digest
    return digest


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
