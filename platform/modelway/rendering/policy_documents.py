"""Build the IAM policy JSON that ``aws.iam.get_policy_document`` returns, from its (camelCase) arguments.

Mirrors the AWS provider's data source: single values collapse to a string, ``*``-typed
principals collapse to ``"*"``, conditions group by operator then key, and source /
override documents merge by ``Sid``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any


def _one_or_many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def _principals(entries: list[dict[str, Any]]) -> Any:
    out: dict[str, Any] = {}
    for entry in entries:
        kind = entry.get("type")
        identifiers = list(entry.get("identifiers") or [])
        if kind == "*" and identifiers == ["*"]:
            return "*"
        merged = out.setdefault(kind, [])
        merged.extend(identifiers)
    return {kind: _one_or_many(sorted(ids)) for kind, ids in out.items()}


def _conditions(entries: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        test, variable = entry.get("test"), entry.get("variable")
        values = list(entry.get("values") or [])
        out.setdefault(test, {})[variable] = _one_or_many(values)
    return out


def statement_json(statement: dict[str, Any]) -> dict[str, Any]:
    """One ``statements[]`` argument as an IAM JSON statement."""
    out: dict[str, Any] = {}
    if statement.get("sid"):
        out["Sid"] = statement["sid"]
    out["Effect"] = statement.get("effect") or "Allow"
    for arg, key in (("actions", "Action"), ("notActions", "NotAction"),
                     ("resources", "Resource"), ("notResources", "NotResource")):
        values = statement.get(arg)
        if values:
            out[key] = _one_or_many(sorted(set(values)))
    if statement.get("principals"):
        out["Principal"] = _principals(statement["principals"])
    if statement.get("notPrincipals"):
        out["NotPrincipal"] = _principals(statement["notPrincipals"])
    if statement.get("conditions"):
        out["Condition"] = _conditions(statement["conditions"])
    return out


def _merge_by_sid(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = list(base)
    for statement in extra:
        sid = statement.get("Sid")
        index = next((i for i, s in enumerate(merged) if sid and s.get("Sid") == sid), None)
        if index is None:
            merged.append(statement)
        else:
            merged[index] = statement
    return merged


def policy_document(args: dict[str, Any]) -> dict[str, Any]:
    """The policy document for ``aws:iam/getPolicyDocument:getPolicyDocument`` arguments.

    Example:
        >>> policy_document({"statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}]})
        {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': 'arn:aws:s3:::b/*'}]}
    """
    statements: list[dict[str, Any]] = []
    for source in args.get("sourcePolicyDocuments") or []:
        statements = _merge_by_sid(statements, _statements_of(source))
    statements = _merge_by_sid(statements, [statement_json(s) for s in args.get("statements") or []])
    for override in args.get("overridePolicyDocuments") or []:
        statements = _merge_by_sid(statements, _statements_of(override))
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    return document


def _statements_of(document_json: str) -> list[dict[str, Any]]:
    statements = json.loads(document_json).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def get_policy_document_result(args: dict[str, Any]) -> dict[str, Any]:
    """The invoke result: ``json`` (indented like the provider) and ``minifiedJson``."""
    document = policy_document(args)
    return {
        "id": hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:10],
        "json": json.dumps(document, indent=2),
        "minifiedJson": json.dumps(document, separators=(",", ":")),
        "statements": args.get("statements") or [],
    }
