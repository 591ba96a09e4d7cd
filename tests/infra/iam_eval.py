"""A small IAM evaluator over rendered identity policies: is (action, resource, context) allowed?

Follows the documented evaluation logic for one identity's policies: an explicit Deny wins,
else some Allow must match action, resource and every condition; otherwise implicit deny.
Wildcards (``*``, ``?``) match case-insensitively in actions and case-sensitively in ARNs.
Conditions: String/Arn Equals/Like (and their Not forms), Bool, Null, with the documented
rule that a key missing from the request context makes a positive operator false.
No NotAction/NotResource (our policies never use them; the helper rejects them).

Example:
    >>> doc = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    >>> allowed([doc], "s3:GetObject", "arn:aws:s3:::b/k")
    True
"""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable

_OPERATORS = {
    "StringEquals": lambda got, want: got == want,
    "StringLike": lambda got, want: fnmatch.fnmatchcase(got, want),
    "ArnEquals": lambda got, want: got == want,
    "ArnLike": lambda got, want: fnmatch.fnmatchcase(got, want),
    "Bool": lambda got, want: str(got).lower() == str(want).lower(),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches_action(pattern: str, action: str) -> bool:
    return re.fullmatch(fnmatch.translate(pattern.lower()), action.lower()) is not None


def _condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    for operator, entries in condition.items():
        negated = operator.startswith(("StringNot", "ArnNot"))
        base = operator.replace("Not", "", 1) if negated else operator
        for key, wanted in entries.items():
            if operator == "Null":
                present = key in context
                if str(wanted).lower() == "true" and present or str(wanted).lower() == "false" and not present:
                    return False
                continue
            if base not in _OPERATORS:
                raise ValueError(f"operator {operator} not supported by this evaluator")
            if key not in context:
                if not negated:
                    return False
                continue
            values = _as_list(context[key])
            hit = any(_OPERATORS[base](str(v), str(w)) for v in values for w in _as_list(wanted))
            if hit == negated:
                return False
    return True


def _statement_applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError(f"NotAction/NotResource not supported: {statement}")
    if not any(_matches_action(a, action) for a in _as_list(statement["Action"])):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allowed(documents: Iterable[dict[str, Any]], action: str, resource: str,
            context: dict[str, Any] | None = None) -> bool:
    """Whether the identity with these policy documents may call ``action`` on ``resource``."""
    context = context or {}
    statements = [s for doc in documents for s in _as_list(doc["Statement"])]
    if any(s["Effect"] == "Deny" and _statement_applies(s, action, resource, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _statement_applies(s, action, resource, context) for s in statements)
