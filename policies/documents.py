"""Policy documents as rules read them: parsed (or a note saying why not), and the Allow statements open to anyone.

Shared by every rule that reads an IAM, key, bucket or repository policy, so each of them
treats an unreadable or not-yet-known document, Effect or Principal the same way: as a
:class:`~policies.core.Note`, never as a silent pass.

Example:
    >>> doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}]}
    >>> [label for label, _statement in public_allows(doc, "bucket policy")]
    ['1']
"""
from __future__ import annotations

from typing import Any, Iterator

from .core import Note
from .values import UNKNOWN, DocumentError, as_list, is_allow, is_public_principal, parse_document


def has_unknown(value: Any) -> bool:
    """Whether ``value`` is, or holds anywhere inside it, a value not known yet."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def read_document(value: Any, what: str) -> Iterator[Any]:
    """Yield the document (a dict), or one Note when it is unreadable or not known yet; nothing when absent.

    A document whose Statement (or one of its statements) is not known yet yields a Note, then the document.
    """
    try:
        document = parse_document(value)
    except DocumentError as exc:
        yield Note(f"{what}: {exc}")
        return
    if document is UNKNOWN:
        yield Note(f"{what} is not known yet")
    elif document is not None:
        # statements() skips what is no dict: a Statement not known yet would read as none (a silent pass)
        listed = document.get("Statement")
        if listed is UNKNOWN:
            yield Note(f"{what} statements are not known yet")
        else:
            for i, statement in enumerate(as_list(listed), start=1):
                if statement is UNKNOWN:  # it may allow anything
                    yield Note(f"{what} statement {i} is not known yet")
        yield document  # what is known is still checked


def public_allows(value: Any, what: str) -> Iterator[Any]:
    """``(label, statement)`` for every Allow statement whose Principal is ``"*"``, and Notes.

    ``value`` is a document (JSON text or dict); ``label`` is the statement's Sid, else its
    position (1-based). A statement whose Effect or Principal is not known yet is a Note.
    """
    for document in read_document(value, what):
        if isinstance(document, Note):
            yield document
            continue
        for i, statement in enumerate(as_list(document.get("Statement")), start=1):
            if not isinstance(statement, dict):  # read_document has noted one not known yet
                continue
            label = str(statement.get("Sid") or i)
            principal = statement.get("Principal")
            if is_allow(statement) and is_public_principal(principal):
                yield label, statement
            elif statement.get("Effect") is UNKNOWN or (is_allow(statement) and has_unknown(principal)):
                yield Note(f"{what} statement {label}: Effect or Principal is not known yet")
