"""Scoring payloads: parse JSON records / split / columns and CSV, validate against the model's schema.

Accepted bodies (the SageMaker / MLflow scoring conventions):

* ``application/json``: a list of records ``[{"age": 41, ...}, ...]``, one record ``{...}``,
  ``{"dataframe_records": [...]}`` / ``{"instances": [...]}``, the split orientation
  ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (or the inner object
  alone), or columns ``{"age": [41, 35], ...}``;
* ``text/csv``: a header line, then one line per row.

Validation is per field and per row, so a client learns exactly what to fix: a missing
column, a value of the wrong type, an unknown category (when the baseline profile knows the
categories) are a :class:`PayloadError` (HTTP 400) such as
``row 3, field 'age': expected a number, got 'forty'``. Columns the model does not use are
ignored (a request key for sticky A/B assignment may travel in one). ``null`` is a missing
value: the model decides what that means, and the monitor counts missing rates.

Example:
    >>> v = PayloadValidator([("age", "numeric"), ("region", "categorical")], {"region": {"north"}})
    >>> v.validate(parse_body(b'[{"age": 41, "region": "north"}]', "application/json"))["age"]
    [41.0]
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from modelway.errors import UserError

Columns = dict[str, list[Any]]


class PayloadError(UserError):
    """A request body the model cannot score: the message names the field and the row."""


def parse_body(body: bytes, content_type: str | None) -> Columns:
    """The body as columns (name -> values, one per row); PayloadError on a malformed body."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _parse_csv(body)
    if kind not in ("application/json", "*/*", ""):
        raise PayloadError(f"unsupported content type {kind!r}; send application/json or text/csv")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"body is not valid JSON ({exc})") from None
    return _parse_json(doc)


def _parse_json(doc: Any) -> Columns:
    if isinstance(doc, dict):
        for key in ("dataframe_records", "instances", "inputs"):
            if key in doc:
                return _parse_json(doc[key])
        if "dataframe_split" in doc:
            return _split(doc["dataframe_split"])
        if set(doc) >= {"columns", "data"}:
            return _split(doc)
        if doc and all(isinstance(v, list) for v in doc.values()):
            lengths = {len(v) for v in doc.values()}
            if len(lengths) != 1:
                raise PayloadError(f"columns have different lengths {sorted(lengths)}; every column needs one value per row")
            return {str(k): list(v) for k, v in doc.items()}
        if doc and not any(isinstance(v, (list, dict)) for v in doc.values()):
            return {str(k): [v] for k, v in doc.items()}
        raise PayloadError("JSON object is neither a record, columns, dataframe_split nor dataframe_records")
    if isinstance(doc, list):
        if not doc:
            raise PayloadError("no rows to score (empty list)")
        columns: Columns = {}
        for i, rec in enumerate(doc):
            if not isinstance(rec, dict):
                raise PayloadError(f"row {i}: expected an object of field -> value, got {type(rec).__name__}")
            for k in rec:
                columns.setdefault(str(k), [_ABSENT] * i)
            for k, col in columns.items():
                col.append(rec.get(k, _ABSENT))
        return columns
    raise PayloadError(f"expected a JSON list of records or an object, got {type(doc).__name__}")


def _split(doc: Any) -> Columns:
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list) or not isinstance(doc.get("data"), list):
        raise PayloadError("dataframe_split needs 'columns' (list) and 'data' (list of rows)")
    cols = [str(c) for c in doc["columns"]]
    out: Columns = {c: [] for c in cols}
    for i, row in enumerate(doc["data"]):
        if not isinstance(row, list) or len(row) != len(cols):
            raise PayloadError(f"row {i}: expected {len(cols)} values (one per column), got "
                               f"{len(row) if isinstance(row, list) else type(row).__name__}")
        for c, v in zip(cols, row):
            out[c].append(v)
    return out


def _parse_csv(body: bytes) -> Columns:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("CSV body is not UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise PayloadError("CSV body has no header line")
    out: Columns = {h.strip(): [] for h in header}
    names = list(out)
    for i, row in enumerate(reader):
        if not row:
            continue
        if len(row) != len(names):
            raise PayloadError(f"CSV row {i}: {len(row)} values for {len(names)} columns")
        for c, v in zip(names, row):
            out[c].append(v if v != "" else None)
    return out


class _Absent:
    """A field a record did not have (different from an explicit null)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


class PayloadValidator:
    """Checks parsed columns against the model's features: names, kinds, known categories."""

    def __init__(self, features: list[tuple[str, str]], categories: dict[str, set[str]] | None = None):
        self.features = features
        self.categories = categories or {}

    def validate(self, columns: Columns) -> Columns:
        """The model's columns, values converted (numbers as float, categories as str); PayloadError otherwise."""
        missing = [name for name, _ in self.features if name not in columns]
        if missing:
            raise PayloadError(f"missing field(s) {missing} (every row); the model expects {[n for n, _ in self.features]}")
        out: Columns = {}
        for name, kind in self.features:
            values = columns[name]
            known = self.categories.get(name)
            converted = []
            for row, value in enumerate(values):
                if value is _ABSENT:
                    raise PayloadError(f"row {row}: missing field {name!r}")
                converted.append(_number(value, name, row) if kind == "numeric" else _category(value, name, row, known))
            out[name] = converted
        return out


def _number(value: Any, name: str, row: int) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise PayloadError(f"row {row}, field {name!r}: expected a number, got a boolean ({value})")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise PayloadError(f"row {row}, field {name!r}: expected a number, got {value!r}")


def _category(value: Any, name: str, row: int, known: set[str] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"row {row}, field {name!r}: expected a category (string), got {value!r}")
    if known is not None and value not in known:
        raise PayloadError(f"row {row}, field {name!r}: unknown category {value!r}; known: {sorted(known)}")
    return value


def row_count(columns: Columns) -> int:
    return len(next(iter(columns.values()))) if columns else 0
