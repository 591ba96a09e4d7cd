"""Pins on how rules read properties (policies/values.py) that mutation testing found loose.

Every rule reads props through these helpers, so a loose one is a loose decision everywhere:
an unknown read as absent, a one-element list not looked through, ``"false"`` read as true, a
principal list not searched to the end. Properties as Hypothesis states them where a property
says it better. See ``make mutate``.
"""
from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy.proxy import unknown_checking_proxy

from policies.values import (
    _UNKNOWN_SENTINELS,
    UNKNOWN,
    DocumentError,
    as_list,
    falsy,
    first_set,
    get,
    is_allow,
    is_public_principal,
    is_unknown,
    parse_document,
    statements,
    str_list,
    to_int,
    truthy,
    unwrap,
)

SENTINELS = sorted(_UNKNOWN_SENTINELS)


# ---- UNKNOWN and unwrap ------------------------------------------------------------------------
def test_unknown_is_one_falsy_sentinel():
    assert type(UNKNOWN)() is UNKNOWN and not UNKNOWN and repr(UNKNOWN) == "<unknown>"
    assert is_unknown(UNKNOWN) and not is_unknown(None) and not is_unknown("")


def test_the_seven_wire_sentinels_are_pulumi_policys():
    from pulumi_policy import proxy

    wire = {v for k, v in vars(proxy).items() if k.startswith("UNKNOWN_") and k.endswith("_VALUE")}
    assert _UNKNOWN_SENTINELS == wire and len(SENTINELS) == 7


@pytest.mark.parametrize("sentinel", SENTINELS)
def test_unwrap_turns_every_sentinel_anywhere_into_unknown(sentinel):
    got = unwrap({"a": sentinel, "b": [sentinel, {"c": (sentinel, "x")}], "d": "plain", "e": 3})
    assert got == {"a": UNKNOWN, "b": [UNKNOWN, {"c": [UNKNOWN, "x"]}], "d": "plain", "e": 3}
    assert unwrap(sentinel) is UNKNOWN and unwrap(sentinel + " ") == sentinel + " "


def test_unwrap_reads_crossguards_proxies_raw():
    proxied = unknown_checking_proxy({"a": [SENTINELS[0], {"b": "x"}], "c": SENTINELS[1]})
    assert unwrap(proxied) == {"a": [UNKNOWN, {"b": "x"}], "c": UNKNOWN}
    assert unwrap(unknown_checking_proxy(["x", SENTINELS[2]])) == ["x", UNKNOWN]


class _DictProxy(Mapping):
    """A mapping that only shares the name of CrossGuard's proxy: read as a mapping, not as a proxy."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


def test_a_mapping_named_like_the_proxy_is_read_as_a_mapping():
    assert unwrap(_DictProxy({"a": SENTINELS[0], "b": 1})) == {"a": UNKNOWN, "b": 1}


def test_unwrap_copies_other_mappings_and_keeps_other_values():
    from types import MappingProxyType

    assert unwrap(MappingProxyType({"a": SENTINELS[0]})) == {"a": UNKNOWN}
    marker = object()
    assert unwrap(marker) is marker and unwrap(None) is None


# ---- get ---------------------------------------------------------------------------------------
def test_get_follows_keys_and_indices():
    doc = {"a": {"b": [10, {"c": "x"}]}}
    assert get(doc, "a", "b", 1, "c") == "x"
    assert get(doc, "a", "b", 0) == 10
    assert get(doc, "a", "b", -1, "c") == "x" and get(doc, "a", "b", -2) == 10
    assert get(doc) is doc


@pytest.mark.parametrize("path", [("z",), ("a", "z"), ("a", "b", 2), ("a", "b", -3), ("a", 0), ("a", "b", "c"),
                                  ("a", "b", 0, "x")])
def test_get_gives_the_default_for_a_missing_path(path):
    doc = {"a": {"b": [10, {"c": "x"}]}}
    assert get(doc, *path) is None
    assert get(doc, *path, default="d") == "d"


def test_get_looks_through_a_one_element_list_only_for_a_key():
    assert get({"rule": [{"x": 1}]}, "rule", "x") == 1
    assert get({"rule": [{"x": 1}, {"x": 2}]}, "rule", "x") is None
    assert get({"rule": [{"x": 1}]}, "rule", 0, "x") == 1
    assert get([[5]], 0, 0) == 5


def test_get_stops_at_an_unknown_and_gives_default_for_a_none_value():
    assert get({"a": UNKNOWN}, "a", "b", "c") is UNKNOWN
    assert get(UNKNOWN, "a") is UNKNOWN
    assert get({"a": UNKNOWN}, "a") is UNKNOWN
    assert get({"a": None}, "a", default=7) == 7
    assert get({"a": 0}, "a", default=7) == 0 and get({"a": ""}, "a", default=7) == ""


# ---- first_set, as_list, truthy, falsy ---------------------------------------------------------
def test_first_set_keeps_an_unknown_and_skips_falsy_known_values():
    assert first_set(None, UNKNOWN, "b") is UNKNOWN
    assert first_set("", 0, [], None, "d") == "d"
    assert first_set("a", UNKNOWN) == "a"
    assert first_set() is None and first_set(None, "") is None


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.just(""), st.just(0), st.text(min_size=1), st.just(UNKNOWN))))
def test_first_set_is_an_or_chain_that_stops_at_an_unknown(values):
    chained = None
    for value in values:
        chained = chained or value  # what `a or b or ...` gives
    truthy_at = next((i for i, v in enumerate(values) if v), len(values))
    if any(v is UNKNOWN for v in values[:truthy_at]):
        assert first_set(*values) is UNKNOWN
    else:
        assert first_set(*values) == (chained or None)


def test_as_list():
    one = [1]
    assert as_list(None) == [] and as_list(one) is one and as_list("s") == ["s"] and as_list({"a": 1}) == [{"a": 1}]
    assert as_list(0) == [0] and as_list(UNKNOWN) == [UNKNOWN] and as_list(()) == [()]


@pytest.mark.parametrize("value, is_true, is_false", [
    (True, True, False), ("true", True, False), (" TRUE ", True, False),
    (False, False, True), ("false", False, True), (" False\n", False, True),
    (None, False, False), ("yes", False, False), (1, False, False), (0, False, False), (UNKNOWN, False, False),
    ("", False, False),
])
def test_truthy_and_falsy_are_explicit(value, is_true, is_false):
    assert (truthy(value), falsy(value)) == (is_true, is_false)


# ---- documents ---------------------------------------------------------------------------------
def test_parse_document_from_text_or_dict():
    assert parse_document('{"Statement": []}') == {"Statement": []}
    doc = {"Version": "2012-10-17"}
    assert parse_document(doc) is doc
    assert parse_document(None) is None and parse_document("") is None
    assert parse_document(UNKNOWN) is UNKNOWN


@pytest.mark.parametrize("value, message", [
    ("{not json", "policy document is not valid JSON (Expecting property name enclosed in double quotes at char 1)"),
    ("[1]", "policy document is not a JSON object"),
    ([{"a": 1}], "policy document is not a JSON object"),
    (5, "policy document is not a JSON object"),
])
def test_parse_document_errors_say_what_is_wrong(value, message):
    with pytest.raises(DocumentError) as raised:
        parse_document(value)
    assert str(raised.value) == message and raised.value.__cause__ is None
    assert isinstance(raised.value, ValueError)


def test_statements_one_or_many_dicts_only():
    assert list(statements({"Statement": {"Sid": "a"}})) == [{"Sid": "a"}]
    assert list(statements({"Statement": [{"Sid": "a"}, "x", None, {"Sid": "b"}]})) == [{"Sid": "a"}, {"Sid": "b"}]
    assert list(statements({})) == [] and list(statements("text")) == [] and list(statements(UNKNOWN)) == []


@pytest.mark.parametrize("statement, allows", [
    ({"Effect": "Allow"}, True), ({"Effect": "allow"}, True), ({}, True),
    ({"Effect": "Deny"}, False), ({"Effect": "DENY"}, False), ({"Effect": "Allowed"}, False),
])
def test_is_allow(statement, allows):
    assert is_allow(statement) is allows


def test_str_list_drops_none_and_unknown_and_stringifies():
    assert str_list(["a", None, UNKNOWN, 3]) == ["a", "3"]
    assert str_list("s3:*") == ["s3:*"] and str_list(None) == [] and str_list(UNKNOWN) == []


@pytest.mark.parametrize("principal, public", [
    ("*", True), (" * ", True), ("arn:aws:iam::1:root", False),
    ({"AWS": "*"}, True), ({"AWS": ["arn:x", "*"]}, True), ({"Service": "s3.amazonaws.com", "Federated": ["*"]}, True),
    ({"AWS": ["arn:x"]}, False), ({"AWS": "arn:*"}, False), ({}, False),
    (["arn:x", {"AWS": "*"}], True), (["arn:x"], False), ([], False),
    (None, False), (UNKNOWN, False), (5, False),
])
def test_is_public_principal_searches_every_kind_and_element(principal, public):
    assert is_public_principal(principal) is public


@pytest.mark.parametrize("value, number", [
    (3, 3), (3.9, 3), ("30", 30), (" 7 ", 7), ("2.5", 2), ("-1", -1),
    (True, None), (False, None), ("x", None), ("", None), (None, None), (UNKNOWN, None), ([1], None),
])
def test_to_int(value, number):
    assert to_int(value) == number and (number is None) == (to_int(value) is None)


@settings(max_examples=50)
@given(st.integers(min_value=-10**9, max_value=10**9))
def test_to_int_reads_an_integer_however_it_is_written(n):
    assert to_int(n) == to_int(str(n)) == to_int(float(n)) == to_int(f" {n}.0 ") == n
