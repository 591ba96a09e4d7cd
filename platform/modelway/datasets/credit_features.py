"""The credit-risk model's derived features: one function, imported by the training pipeline and applied by the server.

``pipelines/credit_risk.py`` applies :func:`add_derived_features` to the generated data and
passes it to training, which records its reference in the model version's schema; ``modelway
serve`` imports it by that reference and applies it to every request, so clients send the raw
applicant fields and the model sees ``loan_to_income`` computed by the same code as in
training (see :mod:`modelway.features`). Nothing heavy is imported here: the pipeline file
imports this module when it is loaded.

Example:
    >>> import pandas as pd
    >>> add_derived_features(pd.DataFrame({"loan_amount": [10_000.0], "annual_income": [40_000.0]}))["loan_to_income"].tolist()
    [0.25]
"""
from __future__ import annotations

from typing import Any

from modelway.features import feature_function


def loan_to_income(frame: Any) -> Any:
    """The loan amount as a share of annual income (rounded to 6 places, as the training data stores it)."""
    return (frame["loan_amount"] / frame["annual_income"]).round(6)


DERIVED = {"loan_to_income": loan_to_income}  # column -> the plain function computing it (ML Test Score D7 re-checks each)


@feature_function(*DERIVED)
def add_derived_features(frame: Any) -> Any:
    """``frame`` with every derived column of :data:`DERIVED` added (a copy; the input is not changed)."""
    return frame.assign(**{column: derive(frame) for column, derive in DERIVED.items()})
