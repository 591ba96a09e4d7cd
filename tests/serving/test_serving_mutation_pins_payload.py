"""Mutation pins of scoring payloads: every accepted shape, and the exact 400 message a client gets."""
from __future__ import annotations

import json
import math

import pytest

from modelway.errors import UserError
from modelway.serving.payload import _ABSENT, PayloadError, PayloadValidator, parse_body, row_count


@pytest.mark.parametrize("ctype", [None, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                   "*/*", "", "; charset=utf-8", "  "])
def test_json_content_types(ctype):
    assert parse_body(b'{"a": 1}', ctype) == {"a": [1]}


@pytest.mark.parametrize("ctype", ["text/csv", "application/csv", "text/csv; charset=utf-8", " Text/CSV "])
def test_csv_content_types(ctype):
    assert parse_body(b"a,b\n1,\n", ctype) == {"a": ["1"], "b": [None]}


def _error(body: bytes, ctype: str | None = "application/json") -> str:
    with pytest.raises(PayloadError) as info:
        parse_body(body, ctype)
    return str(info.value)


def test_payload_errors_say_what_to_fix():
    assert _error(b"a", "text/plain; x=1") == "unsupported content type 'text/plain'; send application/json or text/csv"
    assert _error(b"{").startswith("body is not valid JSON (Expecting property name")
    assert _error(b"\xff\xfe\xfa").startswith("body is not valid JSON (")
    assert _error(b"[]") == "no rows to score (empty list)"
    assert _error(b'[{"a": 1}, 3]') == "row 1: expected an object of field -> value, got int"
    assert _error(b"3") == "expected a JSON list of records or an object, got int"
    assert _error(b'"x"') == "expected a JSON list of records or an object, got str"
    assert _error(b"{}") == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": [1], "b": {"c": 1}}') == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": 1, "b": [2]}') == "JSON object is neither a record, columns, dataframe_split nor dataframe_records"
    assert _error(b'{"a": [1, 2], "b": [3]}') == \
        "columns have different lengths [1, 2]; every column needs one value per row"
    split = "dataframe_split needs 'columns' (list) and 'data' (list of rows)"
    assert _error(b'{"dataframe_split": []}') == split
    assert _error(b'{"dataframe_split": {"columns": "a", "data": []}}') == split
    assert _error(b'{"dataframe_split": {"columns": ["a"], "data": {}}}') == split
    assert _error(b'{"columns": ["a", "b"], "data": [[1, 2], [3]]}') == "row 1: expected 2 values (one per column), got 1"
    assert _error(b'{"columns": ["a"], "data": [{"a": 1}]}') == "row 0: expected 1 values (one per column), got dict"
    assert _error(b"\xff,a\n1,2", "text/csv") == "CSV body is not UTF-8"
    assert _error(b"", "text/csv") == "CSV body has no header line"
    assert _error(b"\n1,2", "text/csv") == "CSV body has no header line"
    assert _error(b"a,b\n1,2\n3\n", "text/csv") == "CSV row 1: 1 values for 2 columns"
    assert isinstance(PayloadError("x"), UserError)


def test_every_json_shape_becomes_columns():
    records = b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]'
    want = {"a": [1, 2], "b": ["x", "y"]}
    assert parse_body(records, None) == want
    for key in ("dataframe_records", "instances", "inputs"):
        assert parse_body(json.dumps({key: json.loads(records)}).encode(), None) == want
    split = {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}
    assert parse_body(json.dumps({"dataframe_split": split}).encode(), None) == want
    assert parse_body(json.dumps(split).encode(), None) == want
    assert parse_body(json.dumps({**split, "index": [0, 1]}).encode(), None) == want
    assert parse_body(b'{"a": [1, 2], "b": ["x", "y"]}', None) == want
    assert parse_body(b'{"a": 1, "b": null}', None) == {"a": [1], "b": [None]}
    assert parse_body(b'{"7": 1}', None) == {"7": [1]}
    assert parse_body(b'{"columns": [1], "data": [[2]]}', None) == {"1": [2]}
    # records with different fields: a field a record lacks is absent (not null)
    cols = parse_body(b'[{"a": 1}, {"b": 2}, {"a": 3, "b": null}]', None)
    assert cols == {"a": [1, _ABSENT, 3], "b": [_ABSENT, 2, None]} and repr(_ABSENT) == "<absent>"
    assert parse_body(b" a ,b\n1,2\n\n3,4\n", "text/csv") == {"a": ["1", "3"], "b": ["2", "4"]}
    assert row_count({}) == 0 and row_count({"a": [1, 2, 3]}) == 3


def _verror(validator: PayloadValidator, columns) -> str:
    with pytest.raises(PayloadError) as info:
        validator.validate(columns)
    return str(info.value)


def test_validation_converts_and_names_row_and_field():
    v = PayloadValidator([("age", "numeric"), ("region", "categorical")], {"region": {"north", "east"}})
    out = v.validate({"age": [41, "2.5", None, 3.0], "region": ["north", None, "east", "north"], "unused": [1, 2, 3, 4]})
    assert list(out) == ["age", "region"] and out["region"] == ["north", None, "east", "north"]
    assert out["age"][:2] == [41.0, 2.5] and math.isnan(out["age"][2]) and type(out["age"][0]) is float
    assert _verror(v, {"region": ["north"]}) == "missing field(s) ['age'] (every row); the model expects ['age', 'region']"
    assert _verror(v, {}) == "missing field(s) ['age', 'region'] (every row); the model expects ['age', 'region']"
    assert _verror(v, {"age": [1, _ABSENT], "region": ["north", "north"]}) == "row 1: missing field 'age'"
    assert _verror(v, {"age": [True], "region": ["north"]}) == "row 0, field 'age': expected a number, got a boolean (True)"
    assert _verror(v, {"age": ["forty"], "region": ["north"]}) == "row 0, field 'age': expected a number, got 'forty'"
    assert _verror(v, {"age": [[1]], "region": ["north"]}) == "row 0, field 'age': expected a number, got [1]"
    assert _verror(v, {"age": [1, 2], "region": ["north", 5]}) == \
        "row 1, field 'region': expected a category (string), got 5"
    assert _verror(v, {"age": [1], "region": ["south"]}) == \
        "row 0, field 'region': unknown category 'south'; known: ['east', 'north']"
    free = PayloadValidator([("region", "categorical")])
    assert free.categories == {} and free.validate({"region": ["anything"]}) == {"region": ["anything"]}
