"""The synthetic credit data: deterministic, realistically shaped, with controllable bias and faults."""
from __future__ import annotations

import pandas as pd
import pytest

from modelway.datasets import credit
from modelway.errors import UserError


def test_same_seed_same_frame_and_other_seed_differs():
    a = credit.generate_credit_data(2000, seed=11)
    b = credit.generate_credit_data(2000, seed=11)
    c = credit.generate_credit_data(2000, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_shape_types_and_plausible_values():
    df = credit.generate_credit_data(5000, seed=1)
    assert len(df) == 5000 and df["applicant_id"].is_unique
    assert set(credit.FEATURES) <= set(df.columns)
    assert set(df["gender"]) == {"F", "M"} and set(df["region"]) == set(credit.REGIONS)
    assert df["age"].between(18, 85).all() and 30 < df["age"].mean() < 50
    assert 0.1 < df["default"].mean() < 0.35  # a realistic default rate, both classes present
    assert (df["annual_income"] > 0).all() and df["debt_to_income"].between(0, 1).all()


def test_bias_raises_default_rate_of_the_disadvantaged_group_only():
    fair = credit.generate_credit_data(8000, seed=2)
    biased = credit.generate_credit_data(8000, seed=2, bias=2.0)
    f_fair, m_fair = fair.groupby("gender")["default"].mean()[["F", "M"]]
    f_bias, m_bias = biased.groupby("gender")["default"].mean()[["F", "M"]]
    assert abs(f_fair - m_fair) < 0.03
    assert f_bias - m_bias > 0.2
    assert m_bias == pytest.approx(m_fair)  # the other group's labels are untouched


@pytest.mark.parametrize(
    "fault, check",
    [
        ("missing", lambda df: df["annual_income"].isna().sum() > 0),
        ("out_of_range", lambda df: (df["age"] > 100).any() and (df["loan_amount"] < 0).any()),
        ("unknown_category", lambda df: (df["region"] == "N/A").any()),
        ("duplicates", lambda df: len(df) > 1000 and df.drop(columns="applicant_id").duplicated().any()),
        ("type_break", lambda df: df["debt_to_income"].dtype == object),
        ("leakage", lambda df: (df["collections_flag"] == df["default"]).all()),
    ],
)
def test_each_fault_kind_is_injected(fault, check):
    assert check(credit.generate_credit_data(1000, seed=5, faults=[fault]))


def test_unknown_fault_is_a_user_error():
    with pytest.raises(UserError, match="unknown data fault"):
        credit.generate_credit_data(1000, faults=["gremlins"])
