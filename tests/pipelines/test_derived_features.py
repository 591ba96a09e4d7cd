"""Unit tests of the example pipelines' derived features (ML Test Score D7): the pattern users copy.

A derived feature is a plain function of the raw frame declared in the pipeline file's
``DERIVED`` map; the run recomputes each on the data (``features.derived``) and these tests
pin down what the functions compute, edge cases included.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_mw_features_{name}", REPO / "pipelines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def credit():
    return _load("credit_risk")


@pytest.fixture(scope="module")
def diabetes():
    return _load("diabetes_regression")


def test_loan_to_income_is_the_loan_as_a_share_of_income(credit):
    frame = pd.DataFrame({"loan_amount": [10_000.0, 5_000.0, 1.0], "annual_income": [40_000.0, 5_000.0, 3.0]})
    assert credit.loan_to_income(frame).tolist() == [0.25, 1.0, 0.333333]


def test_loan_to_income_keeps_rows_and_index(credit):
    frame = pd.DataFrame({"loan_amount": [1.0, 2.0], "annual_income": [2.0, 4.0]}, index=[7, 9])
    assert credit.loan_to_income(frame).index.tolist() == [7, 9]


def test_credit_declares_its_derived_features(credit):
    assert credit.DERIVED == {"loan_to_income": credit.loan_to_income}


def test_sex_group_names_the_codes(diabetes):
    assert diabetes.sex_group(pd.DataFrame({"sex": [1.0, 2.0, 1.0]})).tolist() == ["sex_1", "sex_2", "sex_1"]


@pytest.mark.parametrize(("bmi", "band"), [(18.0, "normal"), (24.99, "normal"), (25.0, "overweight"), (29.9, "overweight"),
                                           (30.0, "obese"), (45.0, "obese")])
def test_bmi_band_boundaries(diabetes, bmi, band):
    assert diabetes.bmi_band(pd.DataFrame({"bmi": [bmi]})).tolist() == [band]


def test_derived_columns_are_text_for_the_contract(diabetes):
    out = diabetes.bmi_band(pd.DataFrame({"bmi": np.array([20.0, 35.0])}))
    assert out.dtype == object
