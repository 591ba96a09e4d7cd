"""Build-time checks of a pipeline's constrained parameters (``PositiveInt``, ``Field(ge=2)``...).

The pipeline core builds its params model from ``typing.get_type_hints`` without
``include_extras``, which drops ``Annotated`` metadata: ``Literal`` choices are enforced
by ``modelway run``, but ``PositiveInt`` or ``Annotated[int, Field(ge=2)]`` are not.
:func:`check_params` enforces the full annotations when the pipeline body runs (the DAG is
built before any step runs), so a bad ``--param`` fails up front with exit 2, in the same
one-line format as the core's own parameter errors.

Example:
    >>> from typing import Annotated
    >>> from pydantic import Field
    >>> def body(cv_folds: Annotated[int, Field(ge=2)] = 3): ...
    >>> check_params(body, {"cv_folds": 1}, pipeline="demo")
    Traceback (most recent call last):
    ...
    modelway.errors.UserError: pipeline 'demo': parameter 'cv_folds': Input should be greater than or equal to 2 (got 1)
"""
from __future__ import annotations

import typing
from typing import Any, Callable

from modelway.errors import UserError


def check_params(fn: Callable[..., Any], values: dict[str, Any], *, pipeline: str | None = None) -> None:
    """Validate ``values`` against ``fn``'s annotations, ``Annotated`` constraints included.

    ``fn`` may be a ``@pipeline`` object (its ``.fn`` is used). Raises UserError naming the
    first parameter that does not fit.
    """
    from pydantic import TypeAdapter, ValidationError

    fn = getattr(fn, "fn", fn)
    name = pipeline or getattr(fn, "__name__", "pipeline")
    hints = typing.get_type_hints(fn, include_extras=True)
    for key, value in values.items():
        if key not in hints or typing.get_origin(hints[key]) is not typing.Annotated:
            continue  # plain annotations are already enforced by the core's params model
        try:
            TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as exc:
            raise UserError(f"pipeline {name!r}: parameter {key!r}: {exc.errors()[0]['msg']} (got {value!r})") from None
