"""Feature functions: the one piece of code that turns raw inputs into model features, in training and serving.

Training/serving skew starts when the serving side re-implements a derived feature (in
another language, another unit, with another rounding). A feature function is a plain,
importable Python function ``frame -> frame`` that adds derived columns, declared with
:func:`feature_function`. The training pipeline applies it to the data and passes it to
training; its reference (``module:qualname``) is stored in the model version's schema. The
model server imports the function by that reference and applies it to every validated
request before scoring, so clients send raw fields only and the model sees features computed
by the very code it was trained on. The capture (and so ``modelway monitor``) holds the
served features, after the function, compared with the training profile.

Example:
    >>> import pandas as pd
    >>> @feature_function("double")
    ... def add_double(frame):
    ...     return frame.assign(double=frame["x"] * 2)
    >>> outputs_of(add_double)
    ('double',)
    >>> apply_to_columns(add_double, {"x": [1.0, 2.0]}, ["x", "double"])["double"]
    [2.0, 4.0]
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from modelway.errors import UserError

OUTPUTS_ATTR = "__modelway_feature_outputs__"


def feature_function(*outputs: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare ``fn(frame) -> frame`` as a feature function adding the columns ``outputs``."""
    if not outputs:
        raise ValueError("a feature function declares the column(s) it adds, e.g. @feature_function('loan_to_income')")

    def mark(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        setattr(fn, OUTPUTS_ATTR, tuple(outputs))
        return fn

    return mark


def outputs_of(fn: Callable[[Any], Any]) -> tuple[str, ...]:
    """The columns ``fn`` adds; UserError when it was not declared with :func:`feature_function`."""
    outputs = getattr(fn, OUTPUTS_ATTR, None)
    if not outputs:
        raise UserError(f"{getattr(fn, '__qualname__', fn)!r} is not a feature function; declare it with "
                        "@modelway.features.feature_function('column', ...)")
    return tuple(outputs)


def reference(fn: Callable[[Any], Any]) -> str:
    """``module:qualname`` of ``fn``, refusing what a server could not import (lambdas, locals, ``__main__``).

    Example:
        >>> from modelway.datasets.credit_features import add_derived_features
        >>> reference(add_derived_features)
        'modelway.datasets.credit_features:add_derived_features'
    """
    outputs_of(fn)
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise UserError(f"feature function {qualname or fn!r} must be a top-level function of an importable module "
                        f"(got module {module!r}); the model server imports it by name")
    if resolve(f"{module}:{qualname}") is not fn:
        raise UserError(f"feature function {module}:{qualname} does not resolve to itself when imported; "
                        "define it at the top level of an importable module")
    return f"{module}:{qualname}"


def resolve(ref: str) -> Callable[[Any], Any]:
    """Import the feature function named by ``ref`` (``module:qualname``); UserError naming what is missing."""
    module_name, _, qualname = ref.partition(":")
    if not module_name or not qualname:
        raise UserError(f"feature function reference {ref!r}: expected 'module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"feature function {ref}: cannot import module {module_name!r} ({exc})") from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UserError(f"feature function {ref}: {module_name} has no {qualname!r}") from None
    outputs_of(obj)
    return obj


def apply_to_columns(fn: Callable[[Any], Any], columns: dict[str, list[Any]], features: list[str]) -> dict[str, list[Any]]:
    """``columns`` (raw fields, one list per column) through ``fn``, restricted to ``features`` in order."""
    import pandas as pd

    frame = fn(pd.DataFrame(columns))
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise UserError(f"feature function {getattr(fn, '__qualname__', fn)} did not produce column(s) {missing}")
    return {name: frame[name].tolist() for name in features}


def client_fields(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, kind) of the fields a client sends for a registered schema: its features less the derived ones.

    Example:
        >>> client_fields({"features": [["a", "numeric"], ["b", "numeric"]],
        ...                "feature_function": {"ref": "m:f", "outputs": ["b"]}})
        [('a', 'numeric')]
    """
    derived = set((schema.get("feature_function") or {}).get("outputs") or ())
    return [(str(n), str(k)) for n, k in schema.get("features", []) if n not in derived]
