"""Privacy (ML Test Score D5): personal data in the training data, found by column name and by value.

A column is flagged when its name says what it holds (``email``, ``phone``, ``ssn``,
``first_name``, ``address``, ``date_of_birth``, ...) or when at least ``min_share`` of a
sample of its text values match a pattern: e-mail address, phone number, US social
security number, UK national insurance number, payment card number (Luhn-valid), IBAN, or
a personal name ("Jane Doe"). A flagged column fails the data gate unless the dataset
contract waives it with a reason (``DatasetContract(pii_waivers={"email": "hashed before
training, see DPIA-12"})``); the reason is printed in the report. Matched values are never
copied into reports: examples are masked.

Example:
    >>> import pandas as pd
    >>> pii_check(pd.DataFrame({"contact": ["ann@example.com", "bo@example.org"]}), {}).passed
    False
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from modelway.stages.gates import CheckResult

NAME_HINTS = {
    "email": r"e_?mail", "phone": r"phone|mobile|msisdn|\btel\b|telephone", "national id": r"ssn|social_?security|national_?id|nino|passport|tax_?id",
    "personal name": r"(^|_)(first|last|full|given|family|middle)_?name$|^name$|surname", "address": r"address|street|postcode|zip_?code",
    "birth date": r"dob|date_?of_?birth|birth_?date", "payment card": r"credit_?card|card_?number|\bpan\b|iban",
}
VALUE_PATTERNS = {
    "email": re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$"),
    "phone": re.compile(r"^\+?\(?\d[\d\s().-]{7,}\d$"),
    "US SSN": re.compile(r"^\d{3}-\d{2}-\d{4}$"),
    "UK NINO": re.compile(r"^[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$", re.IGNORECASE),
    "IBAN": re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$"),
    "personal name": re.compile(r"^[A-Z][a-z]+(?:[ '-][A-Z][a-z]+){1,2}$"),
}
CARD = re.compile(r"^\d[\d -]{11,21}\d$")


def find_pii(frame: pd.DataFrame, *, min_share: float = 0.2, sample: int = 500) -> dict[str, dict[str, Any]]:
    """``{column: {"kind", "by", "share", "example"}}`` for columns that look like personal data.

    Example:
        >>> found = find_pii(pd.DataFrame({"ssn": ["1"], "notes": ["ok"], "who": ["Jane Doe"]}))
        >>> sorted(found), found["ssn"]["by"], found["who"]["kind"]
        (['ssn', 'who'], 'column name', 'personal name')
    """
    found: dict[str, dict[str, Any]] = {}
    for column in frame.columns:
        lowered = str(column).lower()
        for kind, pattern in NAME_HINTS.items():
            if re.search(pattern, lowered):
                found[str(column)] = {"kind": kind, "by": "column name", "share": None, "example": None}
                break
        else:
            values = frame[column].dropna()
            if values.empty or not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
                continue
            text = values.head(sample).astype(str).str.strip()
            for kind, matches in _value_matchers():
                hits = text[text.map(lambda v, m=matches: bool(m(v)))]
                share = len(hits) / len(text)
                if share >= min_share:
                    found[str(column)] = {"kind": kind, "by": "values", "share": round(share, 4), "example": mask(hits.iloc[0])}
                    break
    return found


def pii_check(frame: pd.DataFrame, waivers: Mapping[str, str], *, min_share: float = 0.2) -> CheckResult:
    """The D5 gate: fails on any flagged column the contract does not waive (with a reason)."""
    found = find_pii(frame, min_share=min_share)
    # a waiver needs a reason: None (a key without a value) is none, not the reason "None"
    unwaived = {c: f for c, f in found.items() if not str(waivers.get(c) or "").strip()}
    waived = {c: waivers[c] for c in found if c not in unwaived}
    stale = sorted(set(waivers) - set(found))
    notes = "".join([
        f"; waived: " + ", ".join(f"{c} ({found[c]['kind']}: {reason})" for c, reason in waived.items()) if waived else "",
        f"; waivers for columns without personal data: {', '.join(stale)}" if stale else "",
    ])
    examples = [{"column": c, "kind": f["kind"], "found_by": f["by"], **({"masked_example": f["example"]} if f["example"] else {})}
                for c, f in unwaived.items()]
    if unwaived:
        message = (f"{len(unwaived)} column(s) hold personal data: "
                   + ", ".join(f"{c} ({f['kind']}, by {f['by']})" for c, f in unwaived.items())
                   + "; drop or pseudonymise them, or waive each in the contract's pii_waivers with a reason" + notes)
    else:
        message = f"no personal data found in {frame.shape[1]} columns (names and values){notes}"
    return CheckResult("privacy.pii", not unwaived, message, observed=sorted(unwaived) or None, count=len(unwaived) or None,
                       examples=examples, category="privacy")


def mask(value: Any) -> str:
    """Keep the first character of each word-ish part, hide the rest.

    Example:
        >>> mask("jane.doe@example.com")
        'j***.d***@e***.c***'
    """
    return re.sub(r"([A-Za-z0-9])[A-Za-z0-9]*", r"\1***", str(value))


def _value_matchers() -> list[tuple[str, Any]]:
    """The value tests, most specific first: an SSN or a card number also looks like a phone number,
    so the phone pattern goes last (else every SSN and card column was reported as "phone")."""
    specific = [(kind, pattern.match) for kind, pattern in VALUE_PATTERNS.items() if kind != "phone"]
    return [*specific, ("payment card", _is_card), ("phone", VALUE_PATTERNS["phone"].match)]


def _is_card(value: str) -> bool:
    if not CARD.match(value):
        return False
    digits = [int(d) for d in re.sub(r"\D", "", value)]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):  # Luhn
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
