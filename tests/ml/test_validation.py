"""Data validation gate: contract (pandera), quality thresholds and leakage, each with a targeted bad case."""
from __future__ import annotations

import dataclasses

import pytest

from modelway.datasets import credit
from modelway.stages.gates import GateFailed
from modelway.stages.validation import QualityThresholds, check_leakage, validate_dataset


@pytest.fixture(scope="module")
def contract(credit_pipeline):
    return credit_pipeline.contract()


def failed(report):
    return {c.name: c for c in report.failed}


def test_good_data_passes_every_check(contract, credit_df):
    report = validate_dataset(credit_df, contract)
    assert report.passed, report.details()
    names = {c.name for c in report.checks}
    assert {"schema.region.isin", "schema.applicant_id.field_uniqueness", "schema.age.dtype", "quality.row_count",
            "quality.missing_rate.annual_income", "quality.duplicate_rows", "quality.class_balance"} <= names
    assert any(n.startswith("quality.out_of_range.") for n in names)


def test_good_and_faulty_data_are_scored_on_the_same_checks(contract, credit_df):
    faulty = credit.generate_credit_data(2000, seed=4, faults=credit.DEFAULT_FAULTS, fault_rate=0.02)
    good, bad = validate_dataset(credit_df, contract), validate_dataset(faulty, contract)
    assert not bad.passed and {c.name for c in good.checks} == {c.name for c in bad.checks}
    assert f"passed: {len(good.checks)} checks" in good.summary()
    assert f"of {len(good.checks)} checks failed" in bad.summary()


def test_schema_break_wrong_type_is_named_with_dtype(contract):
    df = credit.generate_credit_data(1000, seed=1, faults=["type_break"])
    report = validate_dataset(df, contract)
    bad = failed(report)
    assert list(bad) == ["schema.debt_to_income.dtype"]
    assert "has dtype object" in bad["schema.debt_to_income.dtype"].message
    with pytest.raises(GateFailed, match=r"data validation FAILED: 1 of \d+ checks failed: schema.debt_to_income.dtype"):
        report.raise_if_failed()


def test_missing_required_column_and_unexpected_column(contract, credit_df):
    df = credit_df.drop(columns=["region"]).assign(collections_flag=0)
    bad = failed(validate_dataset(df, contract))
    assert "required column 'region' is missing" in bad["schema.region.column_in_dataframe"].message
    assert "not in the contract" in bad["schema.collections_flag.column_in_schema"].message


def test_every_injected_fault_is_reported_with_counts_and_example_rows(contract):
    df = credit.generate_credit_data(2000, seed=4, faults=credit.DEFAULT_FAULTS, fault_rate=0.02)
    report = validate_dataset(df, contract)
    bad = failed(report)
    assert {
        "schema.region.isin", "schema.applicant_id.field_uniqueness", "quality.missing_rate.annual_income",
        "quality.out_of_range.age", "quality.out_of_range.loan_amount", "quality.duplicate_rows",
    } <= set(bad)
    assert bad["schema.region.isin"].count == 40 and "'N/A'" in bad["schema.region.isin"].message
    assert bad["quality.missing_rate.annual_income"].count == 40
    assert bad["quality.duplicate_rows"].count == 40
    assert bad["quality.out_of_range.age"].count == 20
    # example rows are the offending rows
    assert all(row["region"] == "N/A" for row in bad["schema.region.isin"].examples)
    assert all(row["age"] == 999 for row in bad["quality.out_of_range.age"].examples)
    assert all(row["annual_income"] is None for row in bad["quality.missing_rate.annual_income"].examples)
    summary = report.summary()
    for name in bad:
        assert name in summary


def test_thresholds_tolerate_a_configured_share(contract):
    df = credit.generate_credit_data(2000, seed=4, faults=["out_of_range"], fault_rate=0.01)
    strict = validate_dataset(df, contract)
    lenient = validate_dataset(df, dataclasses.replace(contract, quality=QualityThresholds(max_out_of_range_share=0.02)))
    assert "quality.out_of_range.age" in failed(strict)
    assert lenient.passed, lenient.details()


def test_class_balance_and_row_count_bounds(contract, credit_df):
    one_class = credit_df[credit_df["default"] == 0].head(150)
    bad = failed(validate_dataset(one_class, contract))
    assert "quality.class_balance" in bad and "quality.row_count" in bad
    assert "150 rows, allowed [200," in bad["quality.row_count"].message


def test_leakage_rows_shared_between_train_and_test(contract, credit_df):
    train, test = credit_df.iloc[:3000], credit_df.iloc[3000:]
    assert check_leakage(train, test, contract, list(credit.FEATURES)).passed
    # the same applicants with new ids are still the same rows
    leaky_test = test.copy()
    leaky_test.iloc[:25] = train.iloc[:25].to_numpy()
    leaky_test["applicant_id"] = range(90_000, 90_000 + len(leaky_test))
    report = check_leakage(train, leaky_test, contract, list(credit.FEATURES))
    overlap = failed(report)["leakage.train_test_overlap"]
    assert overlap.count == 25 and "25 test rows (2.50%) also appear in the training split" in overlap.message
    assert len(overlap.examples) == 5


def test_target_leakage_single_feature_predicts_the_label(contract):
    df = credit.generate_credit_data(3000, seed=6, faults=["leakage"])
    train, test = df.iloc[:2200], df.iloc[2200:]
    report = check_leakage(train, test, contract, list(credit.FEATURES) + ["collections_flag"])
    bad = failed(report)
    assert list(bad) == ["leakage.target.collections_flag"]
    assert "alone predicts 'default' with roc_auc=1.000" in bad["leakage.target.collections_flag"].message
    # every probed feature is one check, passed or failed, so a leak does not change the count
    features = [*credit.FEATURES, "collections_flag"]
    assert {c.name for c in report.checks} == {f"leakage.target.{f}" for f in features} | {"leakage.train_test_overlap"}
    honest = check_leakage(train, test, contract, list(credit.FEATURES))
    assert honest.passed, honest.details()


def test_report_round_trips_and_renders_markdown(contract):
    from modelway.stages.gates import GateReport

    report = validate_dataset(credit.generate_credit_data(1000, seed=1, faults=["unknown_category"]), contract)
    again = GateReport.from_dict(report.to_dict())
    assert again.summary() == report.summary()
    md = report.to_markdown()
    assert "| schema.region.isin | **FAIL** |" in md


def test_validate_and_split_probes_every_column_for_target_leakage(contract):
    from modelway.stages.lifecycle import validate_and_split

    df = credit.generate_credit_data(3000, seed=8, faults=["leakage"])
    with pytest.raises(GateFailed) as caught:
        validate_and_split(df, contract, features=list(credit.FEATURES), seed=0)
    names = {c.name for c in caught.value.report.failed}
    assert {"schema.collections_flag.column_in_schema", "leakage.target.collections_flag"} <= names
    ok = validate_and_split(credit.generate_credit_data(3000, seed=8), contract, features=list(credit.FEATURES), seed=0)
    assert len(ok.train) == 2250 and len(ok.test) == 750 and ok.validation["passed"]
