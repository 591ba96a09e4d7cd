"""Build-time check that a producer's return annotation fits a consumer's parameter annotation."""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

_NUMERIC_WIDENING = {(bool, int), (int, float), (bool, float), (int, complex), (float, complex)}
_UNCHECKED = object()


def type_name(tp: Any) -> str:
    """A short readable name for an annotation (``int``, ``list[int]``, ``pandas.DataFrame``)."""
    if tp is None or tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        module = tp.__module__
        return tp.__qualname__ if module in ("builtins", "__main__") or module.startswith("_mw_") else f"{module.split('.')[0]}.{tp.__qualname__}"
    return str(tp).replace("typing.", "")


def is_compatible(produced: Any, expected: Any) -> bool:
    """True when a value annotated ``produced`` may be passed where ``expected`` is annotated.

    Unknown or exotic annotations (TypeVars, Literal, strings) are accepted: only clear
    mismatches are reported.

    Example:
        >>> is_compatible(int, float), is_compatible(str, int), is_compatible(list[int], list[str])
        (True, False, False)
    """
    if produced is _UNCHECKED or expected is _UNCHECKED:
        return True
    if expected is Any or produced is Any or expected is object:
        return True
    if produced is None:
        produced = type(None)
    if expected is None:
        expected = type(None)
    exp_origin, prod_origin = typing.get_origin(expected), typing.get_origin(produced)
    if exp_origin is typing.Annotated:
        return is_compatible(produced, typing.get_args(expected)[0])
    if prod_origin is typing.Annotated:
        return is_compatible(typing.get_args(produced)[0], expected)
    if exp_origin in (typing.Union, types.UnionType):
        if prod_origin in (typing.Union, types.UnionType):
            return all(any(is_compatible(p, e) for e in typing.get_args(expected)) for p in typing.get_args(produced))
        return any(is_compatible(produced, e) for e in typing.get_args(expected))
    if prod_origin in (typing.Union, types.UnionType):
        return all(is_compatible(p, expected) for p in typing.get_args(produced))
    exp_cls = exp_origin or expected
    prod_cls = prod_origin or produced
    if not isinstance(exp_cls, type) or not isinstance(prod_cls, type):
        return True  # Literal, TypeVar, forward references...: not checked
    try:
        if not (issubclass(prod_cls, exp_cls) or (prod_cls, exp_cls) in _NUMERIC_WIDENING):
            return False
    except TypeError:
        return True
    exp_args, prod_args = typing.get_args(expected), typing.get_args(produced)
    if exp_args and prod_args and len(exp_args) == len(prod_args) and Ellipsis not in exp_args + prod_args:
        return all(is_compatible(p, e) for p, e in zip(prod_args, exp_args))
    return True


def value_mismatch(value: Any, annotation: Any) -> str | None:
    """The expected type's name when ``value`` clearly does not fit ``annotation``, else None.

    Checked cheaply with ``isinstance``: plain classes, the container of a generic
    (``list[int]`` checks ``list``, not the items), ``Optional``/unions. Any number type
    fits a numeric annotation (NumPy scalars included). Literal, TypeVar, Protocol and
    other annotations that ``isinstance`` cannot check are accepted.

    Example:
        >>> value_mismatch("5", int), value_mismatch(3, float), value_mismatch([1], list[str])
        ('int', None, None)
    """
    return None if _fits(value, annotation) else type_name(annotation)


def _fits(value: Any, tp: Any) -> bool:
    if tp is _UNCHECKED or tp is Any or tp is object:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _fits(value, typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(tp))
    cls = origin or tp
    if not isinstance(cls, type):
        return True  # Literal, TypeVar, NewType, strings...: not checked
    if cls is bool:
        return _is_bool(value)
    if cls in _NUMBER_ABC:
        import numbers

        return isinstance(value, getattr(numbers, _NUMBER_ABC[cls]))
    try:
        return isinstance(value, cls)
    except TypeError:  # TypedDict, non-runtime Protocols, ...
        return True


# int accepts any integral number (numpy.int64, bool...), float any real, complex any number.
_NUMBER_ABC = {int: "Integral", float: "Real", complex: "Complex"}


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (type(value).__name__ == "bool_" and type(value).__module__ == "numpy")


def item_annotation(tp: Any, key: Any) -> Any:
    """Annotation of ``value[key]`` for a value annotated ``tp``; ``_UNCHECKED`` when unknown.

    Raises KeyError when ``tp`` clearly has no such item (dataclass/TypedDict/pydantic field, tuple index).
    """
    if tp is _UNCHECKED or tp is Any:
        return _UNCHECKED
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple and args and Ellipsis not in args:
        if not isinstance(key, int) or not -len(args) <= key < len(args):
            raise KeyError(key)
        return args[key]
    if origin in (dict, typing.Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, tuple) and args:
        return args[0]
    if isinstance(tp, type):
        fields = _fields_of(tp)
        if fields is not None:
            if key not in fields:
                raise KeyError(key)
            return fields[key]
    return _UNCHECKED


def _fields_of(cls: type) -> dict[str, Any] | None:
    try:
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            return {f.name: hints.get(f.name, _UNCHECKED) for f in dataclasses.fields(cls)}
        if typing.is_typeddict(cls):
            return dict(typing.get_type_hints(cls))
        model_fields = getattr(cls, "model_fields", None)
        if isinstance(model_fields, dict) and hasattr(cls, "model_validate"):
            return {name: f.annotation for name, f in model_fields.items()}
    except Exception:  # unresolved forward references: don't check
        return None
    return None


UNCHECKED = _UNCHECKED
