"""Mutation pins for ``modelway.stages.validation``: every check of a small contract, word for word,
both sides of each threshold, the schema checks a missing or mistyped column leaves, and the leakage
probes for classification, multi-class and regression labels."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

import modelway.stages.validation as validation
from modelway.stages.validation import DatasetContract, QualityThresholds, check_leakage, column_units, validate_dataset


def test_docstring_examples_hold():
    result = doctest.testmod(validation, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults():
    assert dataclasses.asdict(QualityThresholds()) == {"max_missing_rate": 0.0, "max_duplicate_share": 0.0, "max_out_of_range_share": 0.0,
                                                        "min_class_share": 0.02, "min_rows": 1, "max_rows": None}
    c = DatasetContract("d", pa.DataFrameSchema({}), "y")
    assert (c.quality, c.id_columns, c.task, dict(c.pii_waivers)) == (QualityThresholds(), (), "classification", {})
    assert validation.RANGE_CHECKS == {"in_range", "greater_than", "greater_than_or_equal_to", "less_than", "less_than_or_equal_to",
                                       "ge", "le", "gt", "lt"}


def test_column_units_read_only_a_declared_unit():
    schema = pa.DataFrameSchema({"a": pa.Column(float, metadata={"unit": "EUR"}), "b": pa.Column(float, metadata={"unit": ""}),
                                 "c": pa.Column(float, metadata={"other": 1}), "d": pa.Column(float), 3: pa.Column(int, metadata={"unit": 7})})
    assert column_units(schema) == {"a": "EUR", "3": "7"}
    assert column_units(object()) == {}


SCHEMA = pa.DataFrameSchema({
    "id": pa.Column(int, unique=True),
    "x": pa.Column(float, pa.Check.in_range(0, 10), nullable=True, metadata={"unit": "EUR"}),
    "c": pa.Column(str, pa.Check.isin(["a", "b"]), nullable=False),
    "y": pa.Column(int, pa.Check.isin([0, 1])),
}, strict=True)
CONTRACT = DatasetContract("toy", SCHEMA, "y", QualityThresholds(max_missing_rate=0.2, min_rows=3, max_rows=8), id_columns=("id",))


def _passed(name, column, kind):
    return {"name": name, "passed": True, "message": f"column {column!r}: {kind} as the contract requires", "observed": None,
            "limit": None, "count": None, "examples": [], "category": "schema", "advisory": False}


def test_every_check_of_a_faulty_frame_word_for_word():
    df = pd.DataFrame({"id": [1, 2, 2, 4, 5, 6], "x": [1.0, None, 11.0, 3.0, 3.0, -1.0], "c": ["a", "b", "z", "a", "a", None],
                       "y": [0, 1, 1, 0, 0, 1]})
    report = validate_dataset(df, CONTRACT, max_examples=2)
    assert report.gate == "data validation"
    assert report.context == {"dataset": "toy", "rows": 6, "columns": ["id", "x", "c", "y"], "units": {"x": "EUR"}, "id_columns": ["id"]}
    row1 = {"_row": 1, "id": 2, "x": None, "c": "b", "y": 1}
    row2 = {"_row": 2, "id": 2, "x": 11.0, "c": "z", "y": 1}
    row4 = {"_row": 4, "id": 5, "x": 3.0, "c": "a", "y": 0}
    row5 = {"_row": 5, "id": 6, "x": -1.0, "c": None, "y": 1}
    q = {"limit": 0.0, "category": "quality", "advisory": False}
    assert [c.to_dict() for c in report.checks] == [
        {"name": "schema.id.field_uniqueness", "passed": False, "message": "2 rows of 'id' fail field_uniqueness; e.g. values ['2']",
         "observed": 2, "limit": 0, "count": 2, "examples": [row1, row2], "category": "schema", "advisory": False},
        {"name": "schema.c.isin", "passed": False, "message": "1 rows of 'c' fail isin(['a', 'b']); e.g. values ['z']",
         "observed": 1, "limit": 0, "count": 1, "examples": [row2], "category": "schema", "advisory": False},
        _passed("schema.id.column_in_dataframe", "id", "column_in_dataframe"), _passed("schema.id.dtype", "id", "dtype"),
        _passed("schema.x.column_in_dataframe", "x", "column_in_dataframe"), _passed("schema.x.dtype", "x", "dtype"),
        _passed("schema.c.column_in_dataframe", "c", "column_in_dataframe"), _passed("schema.c.dtype", "c", "dtype"),
        _passed("schema.y.column_in_dataframe", "y", "column_in_dataframe"), _passed("schema.y.dtype", "y", "dtype"),
        _passed("schema.y.isin", "y", "isin"),
        {"name": "quality.row_count", "passed": True, "message": "6 rows, allowed [3, 8]", "observed": 6, "limit": "[3, 8]", "count": None,
         "examples": [], "category": "quality", "advisory": False},
        {"name": "quality.missing_rate.id", "passed": True, "message": "0 missing values in 'id' (0.00%), allowed 0.00% (column is not nullable)",
         "observed": 0.0, "count": 0, "examples": [], **q},
        {"name": "quality.missing_rate.x", "passed": True, "message": "1 missing values in 'x' (16.67%), allowed 20.00%",
         "observed": 0.166667, "count": 1, "examples": [], **q, "limit": 0.2},
        {"name": "quality.missing_rate.c", "passed": False, "message": "1 missing values in 'c' (16.67%), allowed 0.00% (column is not nullable)",
         "observed": 0.166667, "count": 1, "examples": [row5], **q},
        {"name": "quality.missing_rate.y", "passed": True, "message": "0 missing values in 'y' (0.00%), allowed 0.00% (column is not nullable)",
         "observed": 0.0, "count": 0, "examples": [], **q},
        {"name": "quality.out_of_range.x", "passed": False,
         "message": "2 rows of 'x' outside in_range{\"min_value\": 0, \"max_value\": 10, \"include_min\": true, \"include_max\": true} "
                    "(33.33%), allowed 0.00%", "observed": 0.333333, "count": 2, "examples": [row2, row5], **q},
        {"name": "quality.duplicate_rows", "passed": False, "message": "1 duplicate rows (16.67%, ignoring ['id']), allowed 0.00%",
         "observed": 0.166667, "count": 1, "examples": [row4], **q},
        {"name": "privacy.pii", "passed": True, "message": "no personal data found in 4 columns (names and values)", "observed": None,
         "limit": None, "count": None, "examples": [], "category": "privacy", "advisory": False},
        {"name": "quality.class_balance", "passed": True, "message": "class shares {'0': 0.5, '1': 0.5}; minority 50.00%, required >= 2.00%",
         "observed": 0.5, "limit": 0.02, "count": None, "examples": [], "category": "quality", "advisory": False},
    ]


def test_a_mistyped_and_an_unexpected_column():
    df = pd.DataFrame({"id": [1, 2, 3], "x": ["1", "2", "x"], "c": ["a", "b", "a"], "y": [0, 1, 1], "extra": [1, 2, 3]})
    checks = {c.name: c for c in validate_dataset(df, CONTRACT).checks}
    extra = checks["schema.extra.column_in_schema"]
    assert (extra.passed, extra.message, extra.count, extra.observed, extra.limit, extra.examples) == (
        False, "column 'extra' is not in the contract (strict schema)", 3, 3, 0, [])
    dtype = checks["schema.x.dtype"]
    assert not dtype.passed and dtype.message.startswith("column 'x' has dtype ") and dtype.message.endswith(
        ", contract requires dtype('float64')")
    assert (dtype.count, dtype.observed, dtype.limit, dtype.category) == (3, 3, 0, "schema") and dtype.examples
    assert "schema.x.column_in_dataframe" in checks and checks["schema.x.column_in_dataframe"].passed


def test_a_missing_column_fails_once_and_its_other_checks_are_not_counted():
    df = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "y": [0, 1, 1]})
    report = validate_dataset(df, CONTRACT)
    missing = [c for c in report.checks if c.name.startswith("schema.c.")]
    assert [(c.name, c.passed, c.message, c.count, c.examples) for c in missing] == [
        ("schema.c.column_in_dataframe", False, "required column 'c' is missing", 3, [])]
    assert [c.name for c in report.checks if c.name.startswith("schema.id.")] == [
        "schema.id.column_in_dataframe", "schema.id.dtype", "schema.id.field_uniqueness"]
    assert report.summary() == "data validation FAILED: 1 of 17 checks failed: schema.c.column_in_dataframe (3 rows)"


def test_without_a_contract_schema_one_summary_check():
    df = pd.DataFrame({"y": [1, 2]})
    schema = pa.DataFrameSchema({"y": pa.Column(int)})
    assert [c.to_dict() for c in validation._schema_checks(df, validation._schema_failures(df, schema), 5)] == [
        {"name": "schema", "passed": True, "message": "every column matches the contract", "observed": None, "limit": None,
         "count": None, "examples": [], "category": "schema", "advisory": False}]
    bad = pd.DataFrame({"y": ["a"]})
    assert [c.name for c in validation._schema_checks(bad, validation._schema_failures(bad, schema), 5)] == ["schema.y.dtype"]


def test_expected_schema_checks_skip_ranges_and_repeat_nothing():
    schema = pa.DataFrameSchema({"a": pa.Column(int, [pa.Check.ge(0), pa.Check.isin([1, 2]), pa.Check.isin([1])], unique=True),
                                 "b": pa.Column(None, pa.Check.lt(3))})
    assert validation._expected_schema_checks(schema) == ["schema.a.column_in_dataframe", "schema.a.dtype", "schema.a.isin",
                                                          "schema.a.field_uniqueness", "schema.b.column_in_dataframe"]


# --- thresholds: both sides of each boundary ---------------------------------------------------------------


def _contract(**quality):
    schema = pa.DataFrameSchema({"x": pa.Column(float, pa.Check.le(10), nullable=True), "y": pa.Column(int)})
    return DatasetContract("t", schema, "y", QualityThresholds(**quality))


def _check(df, contract, name):
    return next(c for c in validate_dataset(df, contract).checks if c.name == name)


def test_row_count_bounds_are_inclusive():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    assert _check(df, _contract(min_rows=3, max_rows=3), "quality.row_count").passed
    low = _check(df, _contract(min_rows=4), "quality.row_count")
    assert (low.passed, low.message, low.observed, low.limit) == (False, "3 rows, allowed [4, inf]", 3, "[4, inf]")
    high = _check(df, _contract(max_rows=2), "quality.row_count")
    assert (high.passed, high.message) == (False, "3 rows, allowed [1, 2]")


def test_missing_rate_at_the_limit_passes_and_above_fails_with_examples():
    df = pd.DataFrame({"x": [None, 1.0, 2.0, None, 4.0], "y": [0, 1, 0, 1, 0]})
    at = _check(df, _contract(max_missing_rate=0.4), "quality.missing_rate.x")
    assert (at.passed, at.count, at.observed, at.examples) == (True, 2, 0.4, [])
    over = _check(df, _contract(max_missing_rate=0.39), "quality.missing_rate.x")
    assert not over.passed and over.message == "2 missing values in 'x' (40.00%), allowed 39.00%"
    assert over.examples == [{"_row": 0, "x": None, "y": 0}, {"_row": 3, "x": None, "y": 1}]
    one = validate_dataset(df, _contract(max_missing_rate=0.0), max_examples=1)
    assert [c.examples for c in one.checks if c.name == "quality.missing_rate.x"] == [[{"_row": 0, "x": None, "y": 0}]]
    empty = validate_dataset(pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=int)}), _contract())
    assert [c.observed for c in empty.checks if c.name.startswith("quality.missing_rate")] == [0.0, 0.0]


def test_out_of_range_share_at_the_limit_passes():
    df = pd.DataFrame({"x": [11.0, 1.0, 2.0, 12.0], "y": [0, 1, 0, 1]})
    at = _check(df, _contract(max_out_of_range_share=0.5), "quality.out_of_range.x")
    assert (at.passed, at.count, at.observed, at.examples) == (True, 2, 0.5, [])
    over = _check(df, _contract(max_out_of_range_share=0.49), "quality.out_of_range.x")
    assert not over.passed and over.message == ("2 rows of 'x' outside less_than_or_equal_to{\"max_value\": 10} (50.00%), allowed 49.00%")
    assert [r["_row"] for r in over.examples] == [0, 3]


def test_duplicate_share_at_the_limit_passes():
    df = pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0], "y": [0, 0, 1, 1]})
    at = _check(df, _contract(max_duplicate_share=0.5), "quality.duplicate_rows")
    assert (at.passed, at.count, at.observed, at.limit, at.examples) == (True, 2, 0.5, 0.5, [])
    over = _check(df, _contract(max_duplicate_share=0.25), "quality.duplicate_rows")
    assert not over.passed and over.message == "2 duplicate rows (50.00%, ignoring []), allowed 25.00%"
    assert [r["_row"] for r in over.examples] == [1, 3] and over.category == "quality"


def test_class_balance_boundary_one_class_and_when_it_is_not_checked():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 0, 0, 1]})
    at = _check(df, _contract(min_class_share=0.25), "quality.class_balance")
    assert (at.passed, at.observed, at.limit) == (True, 0.25, 0.25)
    assert at.message == "class shares {'0': 0.75, '1': 0.25}; minority 25.00%, required >= 25.00%"
    assert not _check(df, _contract(min_class_share=0.26), "quality.class_balance").passed
    one = _check(df.assign(y=1), _contract(min_class_share=0.0), "quality.class_balance")
    assert not one.passed and one.observed == 1.0
    none = _check(df.assign(y=pd.Series([None] * 4, dtype="Int64")), _contract(min_class_share=0.0), "quality.class_balance")
    assert not none.passed and none.observed == 0.0 and "minority 0.00%" in none.message
    names = lambda r: [c.name for c in r.checks]  # noqa: E731
    assert "quality.class_balance" not in names(validate_dataset(df, _contract(min_class_share=None)))
    assert "quality.class_balance" not in names(validate_dataset(df, dataclasses.replace(_contract(), task="regression")))
    assert "quality.class_balance" not in names(validate_dataset(df.drop(columns="y"), _contract()))


def test_pii_is_part_of_the_data_gate_and_waivers_come_from_the_contract():
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1], "email": ["a@b.example", "c@d.example"]})
    assert not _check(df, _contract(), "privacy.pii").passed
    waived = dataclasses.replace(_contract(), pii_waivers={"email": "hashed"})
    assert _check(df, waived, "privacy.pii").passed


# --- leakage -------------------------------------------------------------------------------------------------


def test_overlap_at_the_limit_passes_and_ids_are_ignored():
    contract = DatasetContract("t", pa.DataFrameSchema({}), "y", id_columns=("id",))
    train = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    test = pd.DataFrame({"id": [9, 8, 7, 6], "x": [1.0, 5.0, 3.0, 6.0], "y": [0, 1, 0, 1], "only_test": [1, 1, 1, 1]}, index=[10, 11, 12, 13])
    at = check_leakage(train, test, contract, [], max_overlap_share=0.5)
    assert at.gate == "leakage" and at.context == {"train_rows": 4, "test_rows": 4}
    assert [c.to_dict() for c in at.checks] == [{
        "name": "leakage.train_test_overlap", "passed": True, "message": "2 test rows (50.00%) also appear in the training split, allowed 50.00%",
        "observed": 0.5, "limit": 0.5, "count": 2, "examples": [], "category": "leakage", "advisory": False}]
    over = check_leakage(train, test, contract, [], max_overlap_share=0.49, max_examples=1).checks[0]
    assert not over.passed and over.examples == [{"_row": 10, "id": 9, "x": 1.0, "y": 0, "only_test": 1}]
    assert check_leakage(train, test.iloc[:0], contract, []).checks[0].observed == 0.0


def test_target_leakage_of_a_binary_label_both_sides_of_the_limit():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"noise": rng.normal(size=200), "y": np.tile([0, 1], 100)})
    train["copy"] = train["y"] * 2.0
    contract = DatasetContract("t", pa.DataFrameSchema({}), "y")
    report = check_leakage(train, train.iloc[:0], contract, ["copy", "noise", "absent"], max_single_feature_score=1.0)
    leak, noise = report.checks[1:]
    assert (leak.name, leak.passed, leak.observed, leak.limit, leak.category) == ("leakage.target.copy", False, 1.0, 1.0, "leakage")
    assert leak.message == "feature 'copy' alone predicts 'y' with roc_auc=1.000 (limit 1.0); is it only known after the outcome?"
    assert noise.passed and noise.name == "leakage.target.noise"
    # the exact scores of the documented probe (a depth-4 tree, 20 rows a leaf, 30% held out, stratified)
    assert noise.message == "feature 'noise' alone: roc_auc=0.509 < 1.0" and noise.observed == 0.5089
    assert len(report.checks) == 3                                        # a feature not in the data is not probed
    assert check_leakage(train, train.iloc[:0], contract, ["copy"], max_single_feature_score=1.0001).passed


def test_target_leakage_of_a_multiclass_and_a_regression_label():
    n = 300
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"k": np.repeat(["a", "b", "c"], n // 3), "y": np.repeat([0, 1, 2], n // 3), "z": rng.normal(size=n)})
    report = check_leakage(frame, frame.iloc[:0], DatasetContract("t", pa.DataFrameSchema({}), "y"), ["k"])
    assert report.checks[1].observed == 1.0 and "roc_auc=1.000" in report.checks[1].message
    reg = DatasetContract("t", pa.DataFrameSchema({}), "y", task="regression")
    frame = frame.assign(y=frame["z"] * 3.0, w=rng.normal(size=n))
    report = check_leakage(frame, frame.iloc[:0], reg, ["z", "w"], max_single_feature_score=0.8)
    z, w = report.checks[1:]
    assert not z.passed and z.message == f"feature 'z' alone predicts 'y' with r2={z.observed:.3f} (limit 0.8); is it only known after the outcome?" and z.observed > 0.8
    assert (z.observed, w.observed) == (0.8524, -0.08)
    assert w.passed and w.message == "feature 'w' alone: r2=-0.080 < 0.8"


def test_no_target_probe_for_a_single_class_and_unlabelled_rows_are_dropped():
    contract = DatasetContract("t", pa.DataFrameSchema({}), "y")
    one = pd.DataFrame({"x": np.arange(50.0), "y": [1.0] * 49 + [None]})
    assert [c.name for c in check_leakage(one, one.iloc[:0], contract, ["x"]).checks] == ["leakage.train_test_overlap"]
    two = pd.DataFrame({"x": np.arange(100.0), "y": [0.0, 1.0] * 49 + [None, None]})
    assert [c.name for c in check_leakage(two, two.iloc[:0], contract, ["x"]).checks] == ["leakage.train_test_overlap", "leakage.target.x"]


def test_encode_single_column():
    assert validation._encode_single(pd.Series([1.0, np.nan, 3.0])).tolist() == [[1.0], [2.0], [3.0]]
    assert validation._encode_single(pd.Series([np.nan, np.nan])).tolist() == [[0.0], [0.0]]
    assert validation._encode_single(pd.Series(["b", "a", None])).tolist() == [[1.0], [0.0], [-1.0]]
    assert validation._encode_single(pd.Series([True, False])).tolist() == [[1.0], [0.0]]
    assert validation._encode_single(pd.Series([3, 1])).dtype == np.float64


def test_examples_are_json_safe_unique_and_capped():
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]), "v": [1, 2, 3]}, index=[5, 5, 7])
    assert validation._examples(df, [5, 99, 7], 5) == [{"_row": 5, "t": "2024-01-02T00:00:00.000", "v": 1},
                                                        {"_row": 7, "t": "2024-01-04T00:00:00.000", "v": 3}]
    assert validation._examples(df, [7, 5], 1) == [{"_row": 7, "t": "2024-01-04T00:00:00.000", "v": 3}]
    assert validation._examples(df, [99], 5) == [] and validation._examples(df, [], 5) == []


def test_a_failed_value_check_names_at_most_five_values_and_counts_rows_once():
    schema = pa.DataFrameSchema({"c": pa.Column(str, [pa.Check.isin(["a"]), pa.Check.str_length(max_value=1)])})
    df = pd.DataFrame({"c": ["g", "f", "e", "d", "c", "b", "a", "hh"]})
    checks = {c.name: c for c in validate_dataset(df, DatasetContract("t", schema, "y")).failed}
    isin = checks["schema.c.isin"]
    assert isin.message == "7 rows of 'c' fail isin(['a']); e.g. values ['b', 'c', 'd', 'e', 'f']"
    assert (isin.count, isin.observed, isin.limit, len(isin.examples)) == (7, 7, 0, 5)
    assert [e["_row"] for e in isin.examples] == [0, 1, 2, 3, 4]
    length = checks["schema.c.str_length"]
    assert length.count == 1 and length.message.startswith("1 rows of 'c' fail str_length(") and length.examples == [{"_row": 7, "c": "hh"}]


def test_a_column_the_contract_does_not_name_uses_the_general_missing_rate():
    schema = pa.DataFrameSchema({"y": pa.Column(int)})
    df = pd.DataFrame({"y": [0, 1, 0, 1, 0], "free": [None, 1.0, 2.0, 3.0, 4.0]})
    at = _check(df, DatasetContract("t", schema, "y", QualityThresholds(max_missing_rate=0.2)), "quality.missing_rate.free")
    assert at.passed and at.message == "1 missing values in 'free' (20.00%), allowed 20.00%"
    assert not _check(df, DatasetContract("t", schema, "y"), "quality.missing_rate.free").passed


def test_a_column_name_with_a_dot():
    # a real bug, fixed: "schema.a.b.dtype" was read as column 'a', kind 'b.dtype', so a missing column 'a'
    # also dropped the checks of a present column 'a.b', and the messages named the wrong column
    schema = pa.DataFrameSchema({"a": pa.Column(float), "a.b": pa.Column(float)})
    contract = DatasetContract("t", schema, "y")
    names = lambda df: [(c.name, c.passed, c.message) for c in validate_dataset(df, contract).checks if c.name.startswith("schema")]  # noqa: E731
    assert names(pd.DataFrame({"a.b": [1.0]})) == [
        ("schema.a.column_in_dataframe", False, "required column 'a' is missing"),
        ("schema.a.b.column_in_dataframe", True, "column 'a.b': column_in_dataframe as the contract requires"),
        ("schema.a.b.dtype", True, "column 'a.b': dtype as the contract requires")]
    assert [n for n, *_ in names(pd.DataFrame({"a": [1.0]}))] == ["schema.a.b.column_in_dataframe", "schema.a.column_in_dataframe",
                                                                 "schema.a.dtype"]


def test_a_wrong_dtype_without_failing_rows_shows_the_first_rows():
    schema = pa.DataFrameSchema({"x": pa.Column(float)})
    check = next(c for c in validate_dataset(pd.DataFrame({"x": [1, 2, 3]}), DatasetContract("t", schema, "y"), max_examples=2).failed)
    assert check.name == "schema.x.dtype" and check.message == "column 'x' has dtype int64, contract requires dtype('float64')"
    assert check.examples == [{"_row": 0, "x": 1}, {"_row": 1, "x": 2}] and check.count == 3


def test_a_failed_column_level_check_counts_its_failure_once():
    schema = pa.DataFrameSchema({"x": pa.Column(float, pa.Check(lambda s: s.mean() > 100, name="big_mean"))})
    check = next(c for c in validate_dataset(pd.DataFrame({"x": [1.0, 2.0]}), DatasetContract("t", schema, "y")).failed)
    assert (check.name, check.count, check.examples) == ("schema.x.big_mean", 1, [])
    assert check.message == "1 rows of 'x' fail big_mean; e.g. values ['False']"


def test_leakage_defaults():
    contract = DatasetContract("t", pa.DataFrameSchema({}), "y")
    train = pd.DataFrame({"x": np.arange(200.0), "y": [0] * 100 + [1] * 100})
    report = check_leakage(train, train.iloc[:7], contract, ["x"])
    overlap, target = report.checks
    assert (overlap.passed, overlap.limit, overlap.count, len(overlap.examples)) == (False, 0.0, 7, 5)
    assert (target.passed, target.limit) == (False, 0.95) and target.observed > 0.95
    assert [c.to_dict() for c in check_leakage(train, train.iloc[:7], contract, ["x"], seed=0).checks] == [c.to_dict() for c in report.checks]


def test_thresholds_and_contracts_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        QualityThresholds().min_rows = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONTRACT.label = "x"


def test_one_row_shares_are_whole():
    contract = _contract()
    df = pd.DataFrame({"x": [None], "y": [0]})
    assert _check(df, contract, "quality.missing_rate.x").observed == 1.0
    out = _check(pd.DataFrame({"x": [11.0], "y": [0]}), contract, "quality.out_of_range.x")
    assert out.observed == 1.0 and "(100.00%)" in out.message
    train = pd.DataFrame({"x": [1.0], "y": [0]})
    overlap = check_leakage(train, train, DatasetContract("t", pa.DataFrameSchema({}), "y"), []).checks[0]
    assert overlap.observed == 1.0 and overlap.message.startswith("1 test rows (100.00%) also appear")


def test_class_shares_are_rounded_to_four_places():
    check = _check(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 1]}), _contract(), "quality.class_balance")
    assert check.message == "class shares {'1': 0.6667, '0': 0.3333}; minority 33.33%, required >= 2.00%"
    assert check.observed == 0.333333


def test_rows_of_a_float_index_are_counted_and_shown():
    schema = pa.DataFrameSchema({"c": pa.Column(str, pa.Check.isin(["a"]))})
    df = pd.DataFrame({"c": ["a", "z", "q"]}, index=[0.5, 1.5, 2.5])
    check = next(c for c in validate_dataset(df, DatasetContract("t", schema, "y")).failed)
    assert check.count == 2 and [e["_row"] for e in check.examples] == [1.5, 2.5]
