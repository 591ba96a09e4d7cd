"""Deterministic synthetic credit-default data: realistic shape, controllable bias and faults.

Each applicant has numeric features (age, income, loan amount, debt-to-income, credit
utilisation, history, late payments, open accounts), categorical features (region,
employment type, home ownership, occupation sector, loan term) and a sensitive attribute
(``gender``; ``age_band`` is derived for slicing). The label ``default`` comes from a
logistic risk score over the features plus label noise. Nothing here downloads anything:
the same ``seed`` always yields the same frame, byte for byte.

Two knobs exist to exercise the gates of a pipeline:

* ``bias`` adds a logit shift to the label of the disadvantaged group (``gender == "F"``),
  i.e. a *biased historical label process*. ``occupation_sector`` is correlated with gender
  (as occupational segregation is in real data), so a model that never sees ``gender``
  still learns the bias through that proxy, which is what a fairness gate must catch.
* ``faults`` injects data problems: ``missing`` (nulls in a required column),
  ``out_of_range`` (impossible ages / negative incomes), ``unknown_category`` (a region
  that does not exist), ``duplicates`` (copied rows), ``type_break`` (a numeric column
  turned into strings) and ``leakage`` (a column that is the label in disguise).

Example:
    >>> from modelway.datasets.credit import generate_credit_data
    >>> df = generate_credit_data(n_rows=1_000, seed=7)
    >>> df.shape[0], "default" in df.columns
    (1000, True)
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from modelway.errors import UserError

LABEL = "default"
SENSITIVE = "gender"
ID_COLUMN = "applicant_id"
REGIONS = ("north", "south", "east", "west", "central")
EMPLOYMENT = ("salaried", "self_employed", "unemployed", "retired", "student")
HOME_OWNERSHIP = ("own", "mortgage", "rent")
SECTORS = ("care", "education", "retail", "construction", "engineering", "finance")
LOAN_TERMS = (12, 24, 36, 48, 60)
AGE_BANDS = ("18-25", "26-35", "36-50", "51-65", "66+")
NUMERIC_FEATURES = (
    "age",
    "annual_income",
    "loan_amount",
    "loan_term_months",
    "debt_to_income",
    "credit_utilization",
    "credit_history_years",
    "num_open_accounts",
    "num_late_payments_12m",
)
CATEGORICAL_FEATURES = ("region", "employment_type", "home_ownership", "occupation_sector")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
FAULT_KINDS = ("missing", "out_of_range", "unknown_category", "duplicates", "type_break", "leakage")
# What `inject_data_fault=True` in the example pipeline turns on: the problems real feeds have.
DEFAULT_FAULTS = ("missing", "out_of_range", "unknown_category", "duplicates")


def age_band(age: pd.Series) -> pd.Series:
    """Bucket ages into the bands used for slicing (``18-25`` ... ``66+``).

    Example:
        >>> age_band(pd.Series([19, 40, 70])).tolist()
        ['18-25', '36-50', '66+']
    """
    bands = pd.cut(age, bins=[0, 25, 35, 50, 65, np.inf], labels=list(AGE_BANDS), right=True)
    return bands.astype(str)


def generate_credit_data(
    n_rows: int = 20_000,
    *,
    seed: int = 42,
    bias: float = 0.0,
    label_noise: float = 0.03,
    faults: Iterable[str] = (),
    fault_rate: float = 0.03,
) -> pd.DataFrame:
    """Generate a credit-default dataset.

    Args:
        n_rows: number of applicants (rows before any ``duplicates`` fault).
        seed: RNG seed; equal arguments give an identical frame.
        bias: logit shift added to the default probability of ``gender == "F"``
            (0 = fair label process; 1.5 is a strongly biased one).
        label_noise: share of labels flipped at random (irreducible noise).
        faults: data problems to inject, a subset of :data:`FAULT_KINDS`.
        fault_rate: share of rows each fault touches.

    Example:
        >>> df = generate_credit_data(500, seed=1, faults=["missing"])
        >>> int(df["annual_income"].isna().sum()) > 0
        True
    """
    faults = tuple(faults)
    unknown = sorted(set(faults) - set(FAULT_KINDS))
    if unknown:
        raise UserError(f"unknown data fault(s) {unknown}; choose from {list(FAULT_KINDS)}")
    if n_rows < 50:
        raise UserError(f"n_rows={n_rows} is too small for a credit dataset; use at least 50")
    rng = np.random.default_rng(seed)
    n = n_rows

    gender = rng.choice(["F", "M"], size=n, p=[0.48, 0.52])
    region = rng.choice(REGIONS, size=n, p=[0.22, 0.24, 0.18, 0.20, 0.16])
    age = np.clip(rng.gamma(shape=3.0, scale=7.0, size=n) + 19, 18, 85).round().astype(int)
    # Occupational segregation: sector depends on gender but (in the fair process) not risk.
    female_sector_p = np.array([0.38, 0.30, 0.18, 0.03, 0.04, 0.07])
    male_sector_p = np.array([0.04, 0.07, 0.17, 0.32, 0.28, 0.12])
    is_f = gender == "F"
    sector = np.where(
        is_f,
        rng.choice(SECTORS, size=n, p=female_sector_p),
        rng.choice(SECTORS, size=n, p=male_sector_p),
    )
    employment = np.where(
        age >= 66,
        rng.choice(EMPLOYMENT, size=n, p=[0.10, 0.08, 0.02, 0.78, 0.02]),
        np.where(
            age <= 24,
            rng.choice(EMPLOYMENT, size=n, p=[0.45, 0.05, 0.15, 0.0, 0.35]),
            rng.choice(EMPLOYMENT, size=n, p=[0.68, 0.17, 0.10, 0.03, 0.02]),
        ),
    )
    home = rng.choice(HOME_OWNERSHIP, size=n, p=[0.25, 0.40, 0.35])
    region_income = {"north": 1.05, "south": 0.92, "east": 0.97, "west": 1.10, "central": 0.98}
    emp_income = {"salaried": 1.0, "self_employed": 1.1, "unemployed": 0.35, "retired": 0.6, "student": 0.3}
    income = (
        rng.lognormal(mean=10.8, sigma=0.45, size=n)
        * np.vectorize(region_income.get)(region)
        * np.vectorize(emp_income.get)(employment)
        * (1 + np.clip(age - 18, 0, 30) / 60)
    ).round(2)
    loan_term = rng.choice(LOAN_TERMS, size=n, p=[0.12, 0.22, 0.34, 0.17, 0.15])
    loan_amount = np.clip(income * rng.uniform(0.05, 0.6, size=n), 500, 250_000).round(2)
    debt_to_income = np.clip(rng.beta(2.2, 5.0, size=n) * 1.1, 0, 1.0).round(4)
    utilization = np.clip(rng.beta(2.0, 3.0, size=n), 0, 1).round(4)
    history = np.clip(age - 18 - rng.integers(0, 6, size=n), 0, 60).astype(int)
    open_accounts = rng.poisson(4, size=n).astype(int)
    late = rng.poisson(0.2 + 1.2 * utilization, size=n).astype(int)

    logit = (
        -4.6
        + 4.0 * debt_to_income
        + 2.6 * utilization
        + 0.75 * late
        + 1.6 * (loan_amount / income)
        - 0.045 * history
        - 0.6 * np.log(income / 40_000)
        + 0.015 * (loan_term - 36)
        + np.select([employment == "unemployed", employment == "student"], [1.4, 0.6], 0.0)
        + np.select([home == "own", home == "rent"], [-0.4, 0.25], 0.0)
        + np.where(region == "south", 0.2, 0.0)
    )
    logit = logit + bias * is_f
    p_default = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.uniform(size=n) < p_default).astype(int)
    flip = rng.uniform(size=n) < label_noise
    label = np.where(flip, 1 - label, label)

    df = pd.DataFrame(
        {
            ID_COLUMN: np.arange(1, n + 1, dtype=np.int64),
            "age": age.astype(np.int64),
            "age_band": age_band(pd.Series(age)).to_numpy(),
            SENSITIVE: gender,
            "region": region,
            "employment_type": employment,
            "home_ownership": home,
            "occupation_sector": sector,
            "annual_income": income.astype(float),
            "loan_amount": loan_amount.astype(float),
            "loan_term_months": loan_term.astype(np.int64),
            "debt_to_income": debt_to_income.astype(float),
            "credit_utilization": utilization.astype(float),
            "credit_history_years": history.astype(np.int64),
            "num_open_accounts": open_accounts,
            "num_late_payments_12m": late,
            LABEL: label.astype(np.int64),
        }
    )
    for column in ("age_band", SENSITIVE) + CATEGORICAL_FEATURES:
        df[column] = df[column].astype(object)
    return _inject_faults(df, faults, fault_rate, rng) if faults else df


def _inject_faults(df: pd.DataFrame, faults: tuple[str, ...], rate: float, rng: np.random.Generator) -> pd.DataFrame:
    df = df.copy()
    n = len(df)
    k = max(1, int(round(rate * n)))

    def rows() -> np.ndarray:
        return rng.choice(n, size=k, replace=False)

    if "missing" in faults:
        df.loc[rows(), "annual_income"] = np.nan
    if "out_of_range" in faults:
        idx = rows()
        df.loc[idx[: k // 2 or 1], "age"] = 999
        df.loc[idx[k // 2 or 1 :], "loan_amount"] = -df.loc[idx[k // 2 or 1 :], "loan_amount"]
    if "unknown_category" in faults:
        df.loc[rows(), "region"] = "N/A"
    if "leakage" in faults:
        # e.g. a "collections_flag" that is only ever set after a default happened
        df["collections_flag"] = df[LABEL].astype(np.int64)
    if "type_break" in faults:
        df["debt_to_income"] = df["debt_to_income"].map(lambda v: f"{v:.1%}").astype(object)
    if "duplicates" in faults:
        dup = df.iloc[rows()].copy()
        df = pd.concat([df, dup], ignore_index=True)
    return df
