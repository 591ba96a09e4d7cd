"""Data validation before training: a pandera contract, quality thresholds and leakage checks.

A :class:`DatasetContract` pairs a pandera ``DataFrameSchema`` (types, nullability, ranges,
allowed categories, uniqueness — the schema engine is pandera's, not ours) with
:class:`QualityThresholds` (missing rate, duplicate rows, out-of-range share, class
balance, row count). :func:`validate_dataset` runs everything lazily and returns one
:class:`~modelway.stages.gates.GateReport` listing *every* failed check with counts and
example rows; :func:`check_leakage` adds train/test overlap and single-feature target
leakage. ``report.raise_if_failed()`` stops the pipeline before training.

Range checks declared in the schema are scored as the ``quality.out_of_range.<column>``
check (so a tolerated share can be configured); null counts are scored as
``quality.missing_rate.<column>`` (limit 0 for non-nullable columns).

Example:
    >>> import pandas as pd, pandera.pandas as pa
    >>> contract = DatasetContract(
    ...     name="toy", label="y",
    ...     schema=pa.DataFrameSchema({"x": pa.Column(float, pa.Check.in_range(0, 1)),
    ...                                "y": pa.Column(int, pa.Check.isin([0, 1]))}),
    ...     quality=QualityThresholds(min_rows=2, min_class_share=0.1))
    >>> validate_dataset(pd.DataFrame({"x": [0.1, 0.5, 2.0], "y": [0, 1, 1]}), contract).summary()
    'data validation FAILED: 1 of 12 checks failed: quality.out_of_range.x (1 rows)'
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelway.stages.gates import CheckResult, GateReport
from modelway.stages.privacy import pii_check

RANGE_CHECKS = frozenset(
    {"in_range", "greater_than", "greater_than_or_equal_to", "less_than", "less_than_or_equal_to", "ge", "le", "gt", "lt"}
)


@dataclass(frozen=True)
class QualityThresholds:
    """Tolerances for the data-quality checks (shares are fractions of rows).

    Example:
        >>> QualityThresholds(max_missing_rate=0.01).max_duplicate_share
        0.0
    """

    max_missing_rate: float = 0.0
    max_duplicate_share: float = 0.0
    max_out_of_range_share: float = 0.0
    min_class_share: float | None = 0.02
    min_rows: int = 1
    max_rows: int | None = None


@dataclass(frozen=True)
class DatasetContract:
    """What a dataset must look like: a pandera schema plus quality thresholds.

    ``id_columns`` are ignored when looking for duplicate rows and leakage (an id is
    unique by construction and says nothing about the label).

    Example:
        >>> import pandera.pandas as pa
        >>> DatasetContract("d", pa.DataFrameSchema({"y": pa.Column(int)}), label="y").task
        'classification'
    """

    name: str
    schema: Any  # pandera.pandas.DataFrameSchema (kept untyped: pandera is imported lazily by callers)
    label: str
    quality: QualityThresholds = QualityThresholds()
    id_columns: tuple[str, ...] = ()
    task: Literal["classification", "regression"] = "classification"
    pii_waivers: Mapping[str, str] = field(default_factory=dict)
    """Columns allowed to hold personal data, each with the reason (shown in the report): ``{"email": "hashed, DPIA-12"}``."""


def column_units(schema: Any) -> dict[str, str]:
    """Each column's unit as the contract declares it (``pa.Column(..., metadata={"unit": "EUR"})``), for reports.

    Example:
        >>> import pandera.pandas as pa
        >>> column_units(pa.DataFrameSchema({"income": pa.Column(float, metadata={"unit": "EUR"}), "age": pa.Column(int)}))
        {'income': 'EUR'}
    """
    return {str(name): str(column.metadata["unit"]) for name, column in getattr(schema, "columns", {}).items()
            if isinstance(getattr(column, "metadata", None), dict) and column.metadata.get("unit")}


def validate_dataset(df: pd.DataFrame, contract: DatasetContract, *, max_examples: int = 5) -> GateReport:
    """Run the contract's schema and quality checks on ``df``; never raises on bad data.

    Example:
        >>> import pandera.pandas as pa
        >>> c = DatasetContract("d", pa.DataFrameSchema({"y": pa.Column(int)}), "y",
        ...                     QualityThresholds(min_class_share=None))
        >>> validate_dataset(pd.DataFrame({"y": [1, 2]}), c).passed
        True
    """
    report = GateReport("data validation", context={"dataset": contract.name, "rows": int(len(df)), "columns": list(map(str, df.columns)),
                                                    "units": column_units(contract.schema), "id_columns": list(contract.id_columns)})
    failures = _schema_failures(df, contract.schema)
    report.extend(_schema_checks(df, failures, max_examples, contract.schema))
    report.extend(_row_count_check(df, contract.quality))
    report.extend(_missing_checks(df, contract, max_examples))
    report.extend(_out_of_range_checks(df, contract, failures, max_examples))
    report.extend([_duplicate_check(df, contract, max_examples)])
    report.extend([pii_check(df, contract.pii_waivers)])
    if contract.task == "classification" and contract.quality.min_class_share is not None and contract.label in df.columns:
        report.extend([_class_balance_check(df[contract.label], contract.quality.min_class_share)])
    return report


def check_leakage(
    train: pd.DataFrame,
    test: pd.DataFrame,
    contract: DatasetContract,
    features: list[str],
    *,
    max_overlap_share: float = 0.0,
    max_single_feature_score: float = 0.95,
    seed: int = 0,
    max_examples: int = 5,
) -> GateReport:
    """Leakage checks: rows shared by train and test, and features that alone predict the label.

    The single-feature score is ROC AUC (classification) or R² (regression) of a shallow
    decision tree trained on that feature only and scored on a held-out part of ``train``.

    Example:
        >>> import pandera.pandas as pa
        >>> c = DatasetContract("d", pa.DataFrameSchema({}), "y", task="regression")
        >>> tr = pd.DataFrame({"x": range(100), "y": range(100)})
        >>> check_leakage(tr, tr.iloc[:10], c, ["x"]).failed[0].name
        'leakage.train_test_overlap'
    """
    report = GateReport("leakage", context={"train_rows": int(len(train)), "test_rows": int(len(test))})
    report.extend([_overlap_check(train, test, contract, max_overlap_share, max_examples)])
    report.extend(_target_leakage_checks(train, contract, features, max_single_feature_score, seed))
    return report


# --- schema (pandera) -------------------------------------------------------------------


def _schema_failures(df: pd.DataFrame, schema: Any) -> pd.DataFrame:
    import pandera.pandas as pa

    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases.copy()
    return pd.DataFrame(columns=["schema_context", "column", "check", "check_number", "failure_case", "index"])


def _check_name(check: Any) -> str:
    return str(check).split("(", 1)[0]


def _expected_schema_checks(schema: Any) -> list[str]:
    """Every schema check the contract makes, by name: each column's presence, dtype, allowed
    values and uniqueness (ranges and nullability are scored by the quality checks)."""
    names = []
    for column, spec in schema.columns.items():
        names.append(f"schema.{column}.column_in_dataframe")
        if spec.dtype is not None:
            names.append(f"schema.{column}.dtype")
        names += [f"schema.{column}.{_check_name(c.name)}" for c in spec.checks if _check_name(c.name) not in RANGE_CHECKS]
        if spec.unique:
            names.append(f"schema.{column}.field_uniqueness")
    return list(dict.fromkeys(names))


def _schema_checks(df: pd.DataFrame, failures: pd.DataFrame, max_examples: int, schema: Any = None) -> list[CheckResult]:
    """One check per (column, pandera check) of the contract, passed or failed, so a good and a
    bad dataset are scored on the same set of checks; nulls and ranges are scored elsewhere.
    An unexpected column (strict schema) adds a failed check of its own."""
    results: list[CheckResult] = []
    if not failures.empty:
        failures = failures.assign(check=failures["check"].astype(str))
        failures["_kind"] = failures["check"].map(_check_name)
        keep = failures[~failures["_kind"].isin(RANGE_CHECKS | {"not_nullable"})]
    else:
        keep = failures
    for (column, check), group in (keep.groupby([keep["column"].fillna(keep["failure_case"]).astype(str), "check"], sort=False)
                                   if not keep.empty else []):
        kind = _check_name(check)
        idx = [i for i in group["index"].tolist() if i is not None and not (isinstance(i, float) and np.isnan(i))]
        if kind.startswith("dtype"):
            actual = df[column].dtype if column in df.columns else group["failure_case"].iloc[0]
            message = f"column {column!r} has dtype {actual}, contract requires {check}"
            count = int(len(df))
            idx = idx or df.index[:max_examples].tolist()
        elif kind == "column_in_dataframe":
            message = f"required column {column!r} is missing"
            count = int(len(df))
        elif kind == "column_in_schema":
            message = f"column {group['failure_case'].iloc[0]!r} is not in the contract (strict schema)"
            count = int(len(df))
        else:
            values = sorted({str(v) for v in group["failure_case"].tolist()})[:5]
            count = len(set(idx)) if idx else int(len(group))
            message = f"{count} rows of {column!r} fail {check}; e.g. values {values}"
        results.append(
            CheckResult(f"schema.{column}.{kind}", False, message, observed=count, limit=0, count=count,
                        examples=_examples(df, idx, max_examples), category="schema")
        )
    if schema is None:  # no contract to enumerate (direct callers): one summary check when nothing failed
        return results or [CheckResult("schema", True, "every column matches the contract", category="schema")]
    failed = {r.name for r in results}
    # "schema.<column>.<kind>": a column name may hold dots, a check kind never does, so split from the right
    missing = {name.removeprefix("schema.").rsplit(".", 1)[0] for name in failed if name.endswith(".column_in_dataframe")}
    for name in _expected_schema_checks(schema):
        column, kind = name.removeprefix("schema.").rsplit(".", 1)
        if name in failed or (column in missing and kind != "column_in_dataframe"):
            continue  # a missing column's other checks could not run: not counted as passed
        results.append(CheckResult(name, True, f"column {column!r}: {kind} as the contract requires", category="schema"))
    return results


# --- quality -----------------------------------------------------------------------------


def _row_count_check(df: pd.DataFrame, q: QualityThresholds) -> list[CheckResult]:
    n = int(len(df))
    ok = n >= q.min_rows and (q.max_rows is None or n <= q.max_rows)
    bounds = f"[{q.min_rows}, {q.max_rows if q.max_rows is not None else 'inf'}]"
    return [CheckResult("quality.row_count", ok, f"{n} rows, allowed {bounds}", observed=n, limit=bounds, category="quality")]


def _missing_checks(df: pd.DataFrame, contract: DatasetContract, max_examples: int) -> list[CheckResult]:
    results = []
    n = max(len(df), 1)
    for column in df.columns:
        spec = contract.schema.columns.get(column)
        nullable = bool(spec.nullable) if spec is not None else True
        limit = contract.quality.max_missing_rate if nullable else 0.0
        missing = df[column].isna()
        count = int(missing.sum())
        rate = count / n
        ok = rate <= limit  # one check per column, passed or failed: the same set for good and bad data
        results.append(
            CheckResult(
                f"quality.missing_rate.{column}", ok,
                f"{count} missing values in {column!r} ({rate:.2%}), allowed {limit:.2%}"
                + ("" if nullable else " (column is not nullable)"),
                observed=round(rate, 6), limit=limit, count=count,
                examples=[] if ok else _examples(df, df.index[missing][:max_examples].tolist(), max_examples),
                category="quality",
            )
        )
    return results


def _out_of_range_checks(df: pd.DataFrame, contract: DatasetContract, failures: pd.DataFrame, max_examples: int) -> list[CheckResult]:
    limit = contract.quality.max_out_of_range_share
    ranged = [
        name for name, col in contract.schema.columns.items()
        if any(_check_name(c.name) in RANGE_CHECKS for c in col.checks)
    ]
    if failures.empty:
        bad = failures
    else:
        kinds = failures["check"].astype(str).map(_check_name)
        bad = failures[kinds.isin(RANGE_CHECKS)]
    results = []
    n = max(len(df), 1)
    for column in ranged:
        rows = bad[bad["column"] == column]["index"].dropna().unique().tolist() if not bad.empty else []
        share = len(rows) / n
        ok = share <= limit
        bounds = "; ".join(
            f"{_check_name(c.name)}{json.dumps(c.statistics, default=str)}"
            for c in contract.schema.columns[column].checks if _check_name(c.name) in RANGE_CHECKS
        )
        results.append(
            CheckResult(
                f"quality.out_of_range.{column}", ok,
                f"{len(rows)} rows of {column!r} outside {bounds} ({share:.2%}), allowed {limit:.2%}",
                observed=round(share, 6), limit=limit, count=len(rows),
                examples=[] if ok else _examples(df, rows, max_examples), category="quality",
            )
        )
    return results


def _duplicate_check(df: pd.DataFrame, contract: DatasetContract, max_examples: int) -> CheckResult:
    subset = [c for c in df.columns if c not in contract.id_columns]
    dup = df.duplicated(subset=subset, keep="first")
    count = int(dup.sum())
    share = count / max(len(df), 1)
    ok = share <= contract.quality.max_duplicate_share
    return CheckResult(
        "quality.duplicate_rows", ok,
        f"{count} duplicate rows ({share:.2%}, ignoring {list(contract.id_columns)}), allowed {contract.quality.max_duplicate_share:.2%}",
        observed=round(share, 6), limit=contract.quality.max_duplicate_share, count=count,
        examples=[] if ok else _examples(df, df.index[dup][:max_examples].tolist(), max_examples), category="quality",
    )


def _class_balance_check(labels: pd.Series, min_share: float) -> CheckResult:
    shares = labels.value_counts(normalize=True, dropna=True)
    minority = float(shares.min()) if len(shares) else 0.0
    ok = len(shares) >= 2 and minority >= min_share
    return CheckResult(
        "quality.class_balance", ok,
        f"class shares {({str(k): round(float(v), 4) for k, v in shares.items()})}; minority {minority:.2%}, required >= {min_share:.2%}",
        observed=round(minority, 6), limit=min_share, category="quality",
    )


# --- leakage -----------------------------------------------------------------------------


def _overlap_check(train: pd.DataFrame, test: pd.DataFrame, contract: DatasetContract, limit: float, max_examples: int) -> CheckResult:
    columns = [c for c in test.columns if c in train.columns and c not in contract.id_columns]
    train_hashes = set(pd.util.hash_pandas_object(train[columns], index=False).tolist())
    test_hashes = pd.util.hash_pandas_object(test[columns], index=False)
    shared = test_hashes.isin(train_hashes).to_numpy()
    count = int(shared.sum())
    share = count / max(len(test), 1)
    ok = share <= limit
    return CheckResult(
        "leakage.train_test_overlap", ok,
        f"{count} test rows ({share:.2%}) also appear in the training split, allowed {limit:.2%}",
        observed=round(share, 6), limit=limit, count=count,
        examples=[] if ok else _examples(test, test.index[shared][:max_examples].tolist(), max_examples), category="leakage",
    )


def _target_leakage_checks(df: pd.DataFrame, contract: DatasetContract, features: list[str], limit: float, seed: int) -> list[CheckResult]:
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    data = df.dropna(subset=[contract.label])
    if len(data) > 20_000:  # a single-feature tree needs no more to spot a leak
        data = data.sample(20_000, random_state=seed)
    y = data[contract.label].to_numpy()
    classification = contract.task == "classification"
    if classification and len(np.unique(y)) < 2:
        return []
    scores: dict[str, float] = {}
    for feature in features:
        if feature not in data.columns:
            continue
        x = _encode_single(data[feature])
        stratify = y if classification else None
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=stratify)
        if classification:
            tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=20, random_state=seed).fit(x_tr, y_tr)
            proba = tree.predict_proba(x_te)
            if proba.shape[1] == 2:
                score = roc_auc_score(y_te, proba[:, 1])
            else:
                score = roc_auc_score(y_te, proba, multi_class="ovr", labels=tree.classes_)
        else:
            tree = DecisionTreeRegressor(max_depth=4, min_samples_leaf=20, random_state=seed).fit(x_tr, y_tr)
            score = r2_score(y_te, tree.predict(x_te))
        scores[feature] = round(float(score), 4)
    metric = "roc_auc" if classification else "r2"
    # one check per probed feature, passed or failed: data with and without a leak count alike
    return [
        CheckResult(
            f"leakage.target.{feature}", score < limit,
            (f"feature {feature!r} alone predicts {contract.label!r} with {metric}={score:.3f} (limit {limit}); "
             "is it only known after the outcome?") if score >= limit
            else f"feature {feature!r} alone: {metric}={score:.3f} < {limit}",
            observed=score, limit=limit, category="leakage",
        )
        for feature, score in scores.items()
    ]


def _encode_single(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype(float).to_numpy()
        return np.nan_to_num(values, nan=np.nanmedian(values) if np.isfinite(values).any() else 0.0).reshape(-1, 1)
    codes, _ = pd.factorize(column.astype(str), sort=True)
    return codes.reshape(-1, 1).astype(float)


def _examples(df: pd.DataFrame, index: list[Any], max_examples: int) -> list[dict[str, Any]]:
    """A few offending rows as JSON-safe dicts (with their row index)."""
    labels = [i for i in index if i in df.index][:max_examples]
    if not labels:
        return []
    rows = df.loc[labels]
    if isinstance(rows, pd.Series):
        rows = rows.to_frame().T
    rows = rows[~rows.index.duplicated()]
    records = json.loads(rows.reset_index(names="_row").to_json(orient="records", date_format="iso"))
    return records[:max_examples]
