"""Frozen settings objects that import pydantic only when a value needs validating.

Every ``modelway run`` builds step settings, resources and runtime settings, almost always
with their defaults. As pydantic models they cost the import of pydantic and the build of
their schemas (about half of a one-step run's start-up). A :class:`LightModel` declares its
fields the same way (class annotations with defaults, pydantic/annotated-types constraints in
``Annotated``) and keeps pydantic as the one validator, but calls it only for values that are
not already exactly what the field holds:

- defaults, and values of the field's own plain type (``str``, ``int``, ``float``, ``bool``,
  ``Path``, or ``None`` for an optional field) with no constraint, are taken as they are: pydantic
  would return them unchanged;
- anything else (a constrained field, a string for a number, an unknown key) goes through a
  pydantic model generated from the same annotations, so coercions and messages are pydantic's.

Constraints are written with :class:`Bounds` (``Annotated[int, Bounds(ge=0)]``): pydantic's own
number constraints and messages, without importing annotated-types on the plain path.

Errors are :class:`InvalidFields` (a ``ValueError``) with pydantic's error list, so callers can
name the key without importing pydantic.

Example:
    >>> class Limits(LightModel):
    ...     retries: int = 0
    ...     label: str | None = None
    >>> Limits(label="x").fields_set, Limits(retries="2").retries
    (frozenset({'label'}), 2)
    >>> Limits(retries="two")
    Traceback (most recent call last):
    ...
    modelway.light_models.InvalidFields: retries: Input should be a valid integer, unable to parse string as an integer
"""
from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, ClassVar

# Field types whose instances pydantic (lax mode) returns unchanged when no constraint applies
# (exact type: a bool for an int or an int for a float is converted, so pydantic decides). A
# nested LightModel was validated when it was built.
_PLAIN = (str, int, float, bool, Path)


class InvalidFields(ValueError):
    """A value was refused; ``errors()`` is pydantic's list (``loc``, ``msg``, ``input``, ``type``)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self._errors = errors
        first = errors[0]
        super().__init__(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    def errors(self) -> list[dict[str, Any]]:
        """Every refused value, as pydantic reported it."""
        return self._errors


class Bounds:
    """``Annotated`` metadata: bounds on a number (``ge``, ``gt``, ``le``, ``lt``), checked by pydantic
    with its own messages ("Input should be greater than or equal to 0").

    Example:
        >>> Bounds(ge=0)
        Bounds(ge=0)
    """

    def __init__(self, **bounds: float) -> None:
        unknown = set(bounds) - {"ge", "gt", "le", "lt"}
        if unknown:
            raise TypeError(f"Bounds: unknown bound {sorted(unknown)[0]!r} (ge, gt, le, lt)")
        self.bounds = bounds

    def __repr__(self) -> str:
        return f"Bounds({', '.join(f'{k}={v!r}' for k, v in self.bounds.items())})"

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        if schema.get("type") not in ("int", "float"):
            raise TypeError(f"Bounds apply to int and float fields, not {source!r}")
        return {**schema, **self.bounds}  # int_schema / float_schema take the bounds as keys


class LightModel:
    """Base of frozen, keyword-only settings objects validated lazily by pydantic (module docstring)."""

    # Set for each subclass by __init_subclass__:
    FIELDS: ClassVar[tuple[str, ...]]  # the field names, in declaration order
    _defaults: ClassVar[dict[str, Any]]
    _plain: ClassVar[dict[str, tuple[type, bool]] | None]  # field -> (plain type, optional), on first need
    _validator: ClassVar[Any]  # the generated pydantic model, built on first need

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.__dict__.get("__annotations__", {}))
        missing = [n for n in names if n not in cls.__dict__]
        if missing:
            raise TypeError(f"{cls.__name__}.{missing[0]}: every field of a LightModel needs a default")
        cls._defaults = {n: cls.__dict__[n] for n in names}
        cls.FIELDS = tuple(names)
        for name in names:  # a class attribute would be found before __getattr__ and shadow the value
            delattr(cls, name)
        cls._plain = None
        cls._validator = None

    def __init__(self, **values: Any) -> None:
        if any(not self._takes_as_is(k, v) for k, v in values.items()):
            values = self._validate(values)
        merged = {**self._defaults, **values}
        object.__setattr__(self, "_values", merged)
        object.__setattr__(self, "fields_set", frozenset(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values == self._values  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (step specs cross process boundaries)
        return (_rebuild, (type(self), self._values, tuple(sorted(self.fields_set))))

    def as_dict(self, *, exclude_defaults: bool = False, json: bool = False) -> dict[str, Any]:
        """The fields as a dict (nested settings too); ``json`` turns paths into strings."""
        out: dict[str, Any] = {}
        for name, value in self._values.items():
            if exclude_defaults and value == self._defaults[name]:
                continue
            if isinstance(value, LightModel):
                value = value.as_dict(exclude_defaults=exclude_defaults, json=json)
            elif json and isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out

    @classmethod
    def _takes_as_is(cls, name: str, value: Any) -> bool:
        if cls._plain is None:
            cls._plain = _plain_fields(cls)
        if name not in cls._defaults:
            return False  # unknown: pydantic names it
        if value is cls._defaults[name]:
            return True
        plain = cls._plain.get(name)
        if plain is None:
            return False
        kind, optional = plain
        if value is None:
            return optional
        return isinstance(value, kind) if kind is Path or issubclass(kind, LightModel) else type(value) is kind

    @classmethod
    def _validate(cls, values: dict[str, Any]) -> dict[str, Any]:
        from pydantic import ValidationError

        if cls._validator is None:
            cls._validator = _pydantic_model(cls)
        try:
            model = cls._validator.model_validate(values)
        except ValidationError as exc:
            raise InvalidFields(exc.errors(include_url=False)) from None
        return {name: getattr(model, name) for name in values}


def _rebuild(cls: type[LightModel], values: dict[str, Any], fields_set: tuple[str, ...]) -> LightModel:
    obj = cls.__new__(cls)
    object.__setattr__(obj, "_values", dict(values))
    object.__setattr__(obj, "fields_set", frozenset(fields_set))
    return obj


def _plain_fields(cls: type[LightModel]) -> dict[str, tuple[type, bool]]:
    """Fields whose annotation is a plain type (or plain | None) with no constraint."""
    hints = typing.get_type_hints(cls)  # no include_extras: Annotated shows as its metadata below
    raw = typing.get_type_hints(cls, include_extras=True)
    plain: dict[str, tuple[type, bool]] = {}
    for name in cls.FIELDS:
        if raw[name] != hints[name]:
            continue  # Annotated: a constraint or validator applies
        hint, optional = hints[name], False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(args) != 1 or len(typing.get_args(hint)) != 2:
                continue
            hint, optional = args[0], True
        if hint in _PLAIN or (isinstance(hint, type) and issubclass(hint, LightModel)):
            plain[name] = (hint, optional)
    return plain


def _pydantic_model(cls: type[LightModel]) -> Any:
    """A pydantic model with the class's fields, for validating given values."""
    from pydantic import ConfigDict, create_model

    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {name: (hints[name], cls._defaults[name]) for name in cls.FIELDS}
    return create_model(cls.__name__, __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                        **fields)
