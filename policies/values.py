"""Reading resource properties safely: unknowns, missing keys, string booleans, policy documents.

Properties reach a rule in three shapes: plain dicts (offline checker, tests), CrossGuard's
unknown-checking proxies (``pulumi preview``), and values that are not known yet (preview of
an output that depends on another resource). :func:`unwrap` turns all of them into plain data
where an unknown value is the :data:`UNKNOWN` sentinel, so a rule can say "could not check"
instead of crashing or passing silently.

Example:
    >>> doc = parse_document('{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}')
    >>> [s["Action"] for s in statements(doc)]
    ['s3:*']
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping

# The sentinels pulumi_policy uses on the wire for "not known during preview".
_UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


class _Unknown:
    """A value that is not known yet (e.g. during ``pulumi preview``)."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def unwrap(value: Any) -> Any:
    """Plain dicts/lists from CrossGuard proxies; unknown sentinels become :data:`UNKNOWN`.

    Example:
        >>> unwrap({"a": ["04da6b54-80e4-46f7-96ec-b56ff0331ba9"]})
        {'a': [<unknown>]}
    """
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap(v) for v in value]
    if isinstance(value, Mapping):  # pulumi_policy's _DictProxy: read the raw target, no unknown checks
        return unwrap(value["__target"] if _is_proxy(value) else dict(value))
    if _is_proxy(value):  # _ListProxy
        return unwrap(list(value["__target"]))
    return value


def _is_proxy(value: Any) -> bool:
    return type(value).__name__ in ("_DictProxy", "_ListProxy") and type(value).__module__.startswith("pulumi_policy")


def is_unknown(value: Any) -> bool:
    """True for the :data:`UNKNOWN` sentinel."""
    return value is UNKNOWN


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Follow ``path`` through dicts and lists; :data:`UNKNOWN` if an unknown is met on the way.

    A list of one element is looked through when a key is asked of it: older provider
    versions model single nested blocks (``rule``, ``encryptionConfig``) as one-element lists.

    Example:
        >>> get({"a": [{"b": 1}]}, "a", "b")
        1
    """
    current = obj
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(key, str) and isinstance(current, list) and len(current) == 1:
            current = current[0]
        if isinstance(current, dict) and isinstance(key, str):
            if key not in current:
                return default
            current = current[key]
        elif isinstance(current, list) and isinstance(key, int):
            if not -len(current) <= key < len(current):
                return default
            current = current[key]
        else:
            return default
    return default if current is None else current


def first_set(*values: Any) -> Any:
    """The first value that is set, a value not known yet included; ``None`` when none is.

    ``UNKNOWN`` is falsy, so an ``a or b`` chain skips it and reads the next value as if the
    first were absent: an unknown value would pass (or fail) as the fallback. Falsy known
    values (``None``, ``""``, ``0``, ``[]``) are skipped, as ``or`` skips them.

    Example:
        >>> first_set(None, UNKNOWN, "b")
        <unknown>
        >>> first_set("", None, "default")
        'default'
    """
    return next((v for v in values if v is UNKNOWN or v), None)


def as_list(value: Any) -> list[Any]:
    """``None`` → ``[]``, a list stays, anything else (a single block or string) becomes ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def truthy(value: Any) -> bool:
    """True for ``True`` and the string ``"true"`` (launch templates carry booleans as strings)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def falsy(value: Any) -> bool:
    """True for ``False`` and the string ``"false"`` (an explicit no, not a missing value)."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


class DocumentError(ValueError):
    """A policy document that is not valid JSON (or not an object)."""


def parse_document(value: Any) -> Any:
    """A policy document as a dict, from a JSON string or a dict; ``None`` when absent.

    Returns :data:`UNKNOWN` for an unknown value and raises :class:`DocumentError` when
    the text is not a JSON object.

    Example:
        >>> parse_document({"Version": "2012-10-17", "Statement": []})["Version"]
        '2012-10-17'
    """
    if value is None or value == "":
        return None
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"policy document is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(value, dict):
        raise DocumentError("policy document is not a JSON object")
    return value


def statements(document: Any) -> Iterator[dict[str, Any]]:
    """Every statement of a document (``Statement`` may be one object or a list)."""
    if not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if isinstance(statement, dict):
            yield statement


def is_allow(statement: Mapping[str, Any]) -> bool:
    """IAM: a statement allows unless its Effect is Deny (Effect is required, Allow is the common case)."""
    return str(statement.get("Effect", "Allow")).lower() == "allow"


def str_list(value: Any) -> list[str]:
    """A string-or-list IAM field (Action, Resource) as a list of strings."""
    return [str(v) for v in as_list(value) if v is not None and v is not UNKNOWN]


def is_public_principal(principal: Any) -> bool:
    """``"*"`` or ``{"AWS": "*"}`` (or any principal kind whose list holds ``"*"``).

    ``None`` and :data:`UNKNOWN` are not public (callers note an unknown principal themselves).
    """
    if isinstance(principal, str):
        return principal.strip() == "*"
    if isinstance(principal, dict):
        return any("*" in str_list(v) for v in principal.values())
    if isinstance(principal, list):
        return any(is_public_principal(p) for p in principal)
    return False


def to_int(value: Any) -> int | None:
    """An integer from an int/float/numeric string; ``None`` when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None
