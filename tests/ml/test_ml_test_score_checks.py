"""Each automated ML Test Score check on a good and a bad example (real scikit-learn fits, real git repositories)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from modelway.runtime import fingerprint
from modelway.runtime.errors import StepFailed
from modelway.stages.adversarial import TargetedPerturbation, targeted_check
from modelway.stages.baselines import BaselineGate, baseline_checks
from modelway.stages.data_screening import DataScreening, screening_checks
from modelway.stages.dependencies import dependency_check
from modelway.stages.feature_checks import FeatureChecks, cost_check, importance_check
from modelway.stages.gates import GateReport
from modelway.stages.ml_test_score import TESTS, ml_test_score, readme_table
from modelway.stages.ml_tests import derived_features_check, reproducibility_check
from modelway.stages.privacy import pii_check
from modelway.stages.run_history import PerformanceHistory, compare_steps
from modelway.stages.spec_review import enforce_reviewed_code, review_status
from modelway.stages.staleness import StalenessCheck, staleness_check


@pytest.fixture(scope="module")
def signal_and_noise():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=1200), "useless": rng.normal(size=1200)})
    y = (X["signal"] + rng.normal(scale=0.3, size=1200) > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(X[:800], y[:800])
    return model, X[800:], y[800:], X, y


# --- D2 permutation importance ------------------------------------------------------------

def test_a_useless_feature_is_reported_as_advisory_and_gates_when_asked(signal_and_noise):
    model, X_test, y_test, *_ = signal_and_noise
    check, table = importance_check(model, X_test, y_test, scoring="roc_auc", config=FeatureChecks())
    assert (check.passed, check.advisory, check.observed) == (False, True, ["useless"])
    assert table["features"]["signal"]["mean"] > 0.2
    assert GateReport("t", [check]).passed and GateReport("t", [check]).warnings == [check]   # advisory: warns, passes
    gated, _ = importance_check(model, X_test, y_test, scoring="roc_auc", config=FeatureChecks(importance_gate=True))
    assert not GateReport("t", [gated]).passed and "useless" in GateReport("t", [gated]).details()


def test_all_beneficial_features_pass(signal_and_noise):
    model, X_test, y_test, *_ = signal_and_noise
    only_signal = LogisticRegression().fit(X_test[["signal"]], y_test)
    check, _ = importance_check(only_signal, X_test[["signal"]], y_test, scoring="roc_auc", config=FeatureChecks())
    assert check.passed and "all 1 features improve" in check.message


# --- D3 feature cost ----------------------------------------------------------------------

def test_an_expensive_feature_is_named_and_over_its_limit_fails(signal_and_noise):
    model, X_test, *_ = signal_and_noise
    check, table = cost_check(model, X_test, FeatureChecks(cost_runs=3))
    assert check.passed and "costliest at prediction time" in check.message and "no cost limits" in check.message
    wide = X_test.assign(comment=["free text " * 20] * len(X_test))

    class UsesSome:  # a model over numbers that carries a wide text column along
        def predict(self, X):
            return model.predict(X[["signal", "useless"]])

    check, table = cost_check(UsesSome(), wide, FeatureChecks(cost_runs=3, max_bytes_per_row=100))
    assert not check.passed and check.observed == ["comment"] and table["features"]["comment"]["bytes_per_row"] > 200


# --- D5 PII ---------------------------------------------------------------------------------

def test_pii_in_a_column_fails_unless_waived_with_a_reason_and_values_are_masked():
    frame = pd.DataFrame({"contact": [f"user{i}@example.com" for i in range(20)], "income": np.arange(20.0),
                          "phone_number": ["1"] * 20, "who": ["Jane Doe", "John Smith"] * 10})
    check = pii_check(frame, {})
    assert not check.passed and check.observed == ["contact", "phone_number", "who"]
    assert "user0@example.com" not in str(check.to_dict())           # no raw personal data in the report
    assert check.examples[0]["masked_example"] == "u***@e***.c***"
    waived = pii_check(frame, {"contact": "hashed before training (DPIA-12)", "phone_number": "dropped by the feature list",
                               "who": "synthetic names"})
    assert waived.passed and "hashed before training (DPIA-12)" in waived.message
    assert not pii_check(frame, {"contact": "  "}).passed                # a waiver needs a reason


def test_no_pii_in_the_credit_data(credit_df):
    assert pii_check(credit_df, {}).passed


def test_the_contract_gate_fails_on_pii_and_the_waiver_lives_in_the_contract(credit_pipeline, credit_df):
    from dataclasses import replace

    from modelway.stages.validation import validate_dataset

    leaky = credit_df.assign(email=[f"a{i}@bank.example" for i in range(len(credit_df))])
    contract = credit_pipeline.contract()
    assert "privacy.pii" in [c.name for c in validate_dataset(leaky, contract).failed]
    waived = replace(contract, pii_waivers={"email": "pseudonymised upstream"})
    assert "privacy.pii" not in [c.name for c in validate_dataset(leaky, waived).failed]


# --- D7 derived features --------------------------------------------------------------------

def test_derived_columns_must_match_their_functions(credit_pipeline, credit_df):
    frame = credit_df.assign(loan_to_income=credit_pipeline.loan_to_income(credit_df))
    assert derived_features_check(frame, credit_pipeline.DERIVED).passed
    frame.loc[frame.index[:3], "loan_to_income"] = 9.0
    bad = derived_features_check(frame, credit_pipeline.DERIVED)
    assert not bad.passed and bad.count == 3 and bad.examples[0]["stored"] == 9.0


# --- M4 staleness ---------------------------------------------------------------------------

def test_staleness_reports_quality_by_age_and_gates_a_drifting_relation():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=800)})
    frame["y"] = frame["x"] * np.linspace(-1, 3, 800) + rng.normal(scale=0.1, size=800)
    check, table = staleness_check(LinearRegression(), frame, features=["x"], label="y", task="regression", metric="r2",
                                   config=StalenessCheck(windows=4, max_drop=0.05))
    assert not check.passed and table["drop"] > 0.05 and [r["age"] for r in table["by_age"]] == [1, 2, 3]
    stable = frame.assign(y=frame["x"] * 2 + rng.normal(scale=0.1, size=800))
    check, _ = staleness_check(LinearRegression(), stable, features=["x"], label="y", task="regression", metric="r2",
                               config=StalenessCheck(max_drop=0.05))
    assert check.passed


# --- M5 baselines ---------------------------------------------------------------------------

def test_a_model_worse_than_the_linear_baseline_fails(signal_and_noise):
    _, _, _, X, y = signal_and_noise
    stump = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[:800][["useless"]].assign(signal=0.0), y[:800])
    from sklearn.metrics import roc_auc_score

    weak = float(roc_auc_score(y[800:], stump.predict_proba(X[800:][["useless"]].assign(signal=0.0))[:, 1]))
    checks, scores = baseline_checks("classification", "roc_auc", weak, X[:800], y[:800], X[800:], y[800:], BaselineGate())
    assert [c.passed for c in checks] == [False, False] and scores["baselines"]["linear"] > 0.9
    good = float(roc_auc_score(y[800:], LogisticRegression().fit(X[:800], y[:800]).predict_proba(X[800:])[:, 1]))
    checks, _ = baseline_checks("classification", "roc_auc", good, X[:800], y[:800], X[800:], y[800:], BaselineGate())
    assert [c.passed for c in checks] == [True, True]


# --- poisoning / label noise, targeted perturbation -------------------------------------------

def test_flipped_labels_and_outliers_are_screened():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    limits = DataScreening(max_label_noise_share=0.05, max_outlier_share=0.03)
    clean, _ = screening_checks(frame, features=["a", "b"], label="y", task="classification", config=limits)
    assert [c.passed for c in clean] == [True, True]
    poisoned = frame.copy()
    poisoned.loc[poisoned.index[:150], "y"] = 1 - poisoned.loc[poisoned.index[:150], "y"]
    poisoned.loc[poisoned.index[150:200], ["a", "b"]] = rng.uniform(8, 40, size=(50, 2))   # 5% planted far away
    checks, summary = screening_checks(poisoned, features=["a", "b"], label="y", task="classification", config=limits)
    assert [c.passed for c in checks] == [False, False] and summary["label_noise_share"] > 0.05


def test_a_model_with_a_knife_edge_fails_targeted_perturbations():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=600)})
    smooth = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    check, _ = targeted_check(smooth, X, TargetedPerturbation(epsilon=0.01, max_flip_rate=0.05), classifier=True)
    assert check.passed

    class Fragile:  # flips its answer on a grid finer than the perturbation
        def predict(self, X):
            return (np.floor(X["a"].to_numpy() * 100) % 2).astype(int)

    check, table = targeted_check(Fragile(), X, TargetedPerturbation(epsilon=0.01, max_flip_rate=0.05), classifier=True)
    assert not check.passed and check.observed > 0.5 and check.examples[0]["feature"] == "a"


# --- I1 reproducibility --------------------------------------------------------------------------

def test_an_unseeded_estimator_is_not_reproducible(signal_and_noise):
    _, _, _, X, y = signal_and_noise
    frame = X.assign(y=y)
    assert reproducibility_check(RandomForestClassifier(n_estimators=5, random_state=0), frame, ["signal", "useless"], "y", 500).passed
    bad = reproducibility_check(RandomForestClassifier(n_estimators=5, max_features=1), frame, ["signal", "useless"], "y", 500)
    assert not bad.passed and "random_state" in bad.message


# --- M1 spec review -------------------------------------------------------------------------------

def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_prod_refuses_a_dirty_tree_and_an_unpushed_commit_dev_warns(tmp_path):
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    _git(tmp_path, "init", "--bare", "-q", str(remote))
    _git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "pipe.py").write_text("x = 1\n")
    _git(repo, "add", "pipe.py")
    _git(repo, "commit", "-qm", "first")
    assert review_status(repo).pushed is None                           # no remote at all
    _git(repo, "remote", "add", "origin", str(remote))
    with pytest.raises(StepFailed, match=r"^refusing to register for prod: commit \w{12} is not pushed to any remote branch"):
        enforce_reviewed_code("prod", True, repo)
    _git(repo, "push", "-q", "origin", "main")
    assert enforce_reviewed_code("prod", True, repo) is None             # committed and pushed: allowed
    (repo / "pipe.py").write_text("x = 2\n")
    with pytest.raises(StepFailed, match="the working tree has uncommitted changes") as err:
        enforce_reviewed_code("prod", True, repo)
    assert "\n" not in str(err.value)
    assert enforce_reviewed_code("dev", False, repo).startswith("warning: the working tree has uncommitted changes")
    with pytest.raises(StepFailed, match="not run from a git repository"):
        enforce_reviewed_code("prod", True, tmp_path / "remote.git" / "hooks")


def test_prod_rule_requires_reviewed_code_by_default():
    from modelway.registry.promotion import PromotionRules

    rules = PromotionRules()
    assert [rules.for_env(e).reviewed_code_required(e) for e in ("dev", "staging", "prod")] == [False, False, True]


# --- Mon1 library versions ---------------------------------------------------------------------

def test_library_versions_are_part_of_the_cache_key_of_steps_that_import_them(monkeypatch):
    def uses_sklearn():
        import sklearn  # noqa: F401

    def plain():
        return 1

    before = fingerprint.code_hash(uses_sklearn), fingerprint.code_hash(plain)
    real = fingerprint.distribution_versions
    monkeypatch.setattr(fingerprint, "distribution_versions",
                        lambda names: {k: ("9.9" if k == "scikit-learn" else v) for k, v in real(names).items()})
    after = fingerprint.code_hash(uses_sklearn), fingerprint.code_hash(plain)
    assert before[0] != after[0] and before[1] == after[1]
    assert "scikit-learn" in real(["sklearn"])


def test_a_version_change_against_the_champion_is_said():
    same = dependency_check({"numpy": "2.0"}, {"numpy": "2.0"})
    changed = dependency_check({"numpy": "2.1", "scikit-learn": "1.6"}, {"numpy": "2.0", "scikit-learn": "1.6"}, "champion m 1.0.0")
    assert same.passed and not changed.passed and changed.advisory
    assert changed.message == "library versions differ from champion m 1.0.0: numpy 2.0 -> 2.1"


# --- Mon6 speed / memory ---------------------------------------------------------------------------

def test_a_slower_or_hungrier_step_is_flagged_and_cached_steps_are_not_compared():
    def step(name, seconds, mb, cached=False):
        return {"name": name, "status": "succeeded", "cached": cached, "duration_s": seconds, "peak_rss_mb": mb}

    before = [step("train", 10.0, 400.0), step("evaluate", 3.0, 300.0)]
    checks = compare_steps([step("train", 11.0, 410.0), step("evaluate", 9.0, 600.0)], before, PerformanceHistory(), previous_run="r1")
    assert [c.passed for c in checks] == [False, False] and "evaluate 3.0s -> 9.0s" in checks[0].message
    assert all(c.advisory for c in checks)
    fine = compare_steps([step("train", 0.0, 0.0, cached=True), step("evaluate", 3.2, 310.0)], before, PerformanceHistory(gate=True),
                         previous_run="r1")
    assert [c.passed for c in fine] == [True, True] and not fine[0].advisory


# --- the score ---------------------------------------------------------------------------------------

def test_the_score_counts_automated_checks_and_is_the_weakest_section():
    names = ["schema.x", "features.importance", "features.cost", "privacy.pii", "features.derived", "fairness.a",
             "staleness.impact", "baseline.dummy", "slice.r=a.auc", "reproducibility.refit", "robustness.schema.missing_column",
             "quality.auc", "dependencies.vs_champion", "robustness.targeted_perturbation"]
    score = ml_test_score([{"name": n} for n in names], training={"search": {"strategy": "random"}})
    assert score["sections"]["Data"]["score"] == 6.5 and score["sections"]["Model"]["score"] == 6.5
    missing = ml_test_score([{"name": "schema.x"}])
    assert missing["sections"]["Data"]["tests"]["D2"] == {"title": "All features are beneficial", "score": 0.0,
                                                          "how": "not run for this version"}
    assert missing["final"] == min(s["score"] for s in missing["sections"].values())
    assert len(TESTS) == 28 and readme_table().count("\n") == 29


def test_register_package_refuses_prod_before_touching_anything(tmp_path, monkeypatch, home):
    from modelway.errors import UserError
    from modelway.stages.registration import register_package
    from modelway.stages.results import ModelPackage

    repo = tmp_path / "repo"
    _git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "pipe.py").write_text("x = 1\n")
    _git(repo, "add", "pipe.py")
    _git(repo, "commit", "-qm", "first")
    (repo / "pipe.py").write_text("x = 2\n")                             # uncommitted change
    monkeypatch.chdir(repo)
    pkg = ModelPackage(model="m", model_artifact="0" * 64, artifact_sha256="0" * 64, family="Ridge", schema={}, metrics={},
                       fairness=None, model_card={}, hyperparameters={}, code_commit="x", data_versions={},
                       mlflow_run_id=None, gates_passed=True)
    with pytest.raises(StepFailed, match="refusing to register for prod: the working tree has uncommitted changes"):
        register_package(pkg, environment="prod", home=home)
    assert not (home / "registry").exists()
    with pytest.raises(UserError, match="missing from the artifact store"):  # dev goes on (with a warning)
        register_package(pkg, environment="dev", home=home)


def test_the_readme_table_is_the_one_the_code_scores_with():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme_table() in readme, "README's ML Test Score table is stale: paste `python -m modelway.stages.ml_test_score`"
    assert "| I5 The model is debuggable | Infrastructure | `debug.explain`" in readme_table()
