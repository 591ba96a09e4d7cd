"""Mutation pins for ``modelway.stages.adversarial``: the searched step (epsilon x the column's std, both
directions, float columns only), the flip rate and relative move against closed forms, the limit on
both sides, the most sensitive features, the example rows and the sample."""
from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pytest

import modelway.stages.adversarial as adversarial
from modelway.stages.adversarial import TargetedPerturbation, targeted_check


def test_docstring_examples_hold():
    result = doctest.testmod(adversarial, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_defaults():
    assert dataclasses.asdict(TargetedPerturbation()) == {"epsilon": 0.02, "max_flip_rate": 0.05, "max_relative_change": 0.1,
                                                          "rows": 500, "seed": 0}


class Linear:
    """A regressor ``10 a + 1 b`` (``c`` and the integer ``n`` unused)."""

    def predict(self, X):
        return 10 * X["a"].to_numpy() + X["b"].to_numpy()


class Threshold:
    """A classifier: 1 when ``a`` > 0, else 0."""

    def predict(self, X):
        return (X["a"].to_numpy() > 0).astype(int)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100) * 3, "c": rng.normal(size=100),
                         "n": rng.integers(0, 5, size=100)})


def test_a_regressor_moves_by_epsilon_std_relative_to_the_spread(X):
    config = TargetedPerturbation(epsilon=0.1, rows=100)
    check, table = targeted_check(Linear(), X, config, classifier=False)
    spread = float(np.std(Linear().predict(X)))
    a, b = 10 * 0.1 * X["a"].std() / spread, 0.1 * X["b"].std() / spread
    assert table["by_feature"] == {"a": pytest.approx(a, abs=1e-6), "b": pytest.approx(b, abs=1e-6), "c": 0.0}
    assert table["epsilon"] == 0.1 and table["rows"] == 100 and table["value"] == pytest.approx(a, abs=1e-6)
    assert (check.name, check.passed, check.limit, check.category) == ("robustness.targeted_perturbation", True, 0.1, "robustness")
    assert check.observed == pytest.approx(a, abs=1e-6)
    assert check.message == (f"the worst single-feature change of 0.1 std moves a prediction by {a:.2%} of their spread, limit 10.00%; "
                             f"most sensitive: a {a:.2%}, b {b:.2%}, c 0.00%")
    assert check.examples == []
    tight, _ = targeted_check(Linear(), X, dataclasses.replace(config, max_relative_change=round(a, 6) - 1e-6), classifier=False)
    assert not tight.passed and len(tight.examples) == 3
    assert all(e["feature"] == "a" and isinstance(e["_row"], int) for e in tight.examples)
    assert [e["_row"] for e in tight.examples] == X.sample(n=100, random_state=0).index[:3].tolist()
    at, _ = targeted_check(Linear(), X, dataclasses.replace(config, max_relative_change=table["value"] + 1e-9), classifier=False)
    assert at.passed and at.examples == []


def test_a_classifier_flips_rows_within_a_step_of_its_threshold(X):
    config = TargetedPerturbation(epsilon=0.1, rows=100)
    check, table = targeted_check(Threshold(), X, config, classifier=True)
    step = 0.1 * X["a"].std()
    near = X.index[(X["a"].abs() < step) | ((X["a"] > 0) != (X["a"] - step > 0)) | ((X["a"] > 0) != (X["a"] + step > 0))]
    rate = len(near) / 100
    assert 0 < rate < 0.2
    assert table["by_feature"] == {"a": rate, "b": 0.0, "c": 0.0} and table["value"] == rate
    assert check.passed == (rate <= 0.05) and check.limit == 0.05 and check.observed == rate
    assert check.message == (f"{rate:.2%} of 100 rows flip class under the worst single-feature change of 0.1 std, limit 5.00%; "
                             f"most sensitive: a {rate:.2%}, b 0.00%, c 0.00%")
    sampled = X.sample(n=100, random_state=0)
    assert [e["_row"] for e in check.examples] == [i for i in sampled.index if i in set(near)][:3]
    assert {e["feature"] for e in check.examples} == {"a"}
    at, _ = targeted_check(Threshold(), X, dataclasses.replace(config, max_flip_rate=rate), classifier=True)
    assert at.passed
    over, _ = targeted_check(Threshold(), X, dataclasses.replace(config, max_flip_rate=rate - 0.001), classifier=True)
    assert not over.passed


def test_only_the_three_most_sensitive_features_are_named_and_the_culprit_is_the_worst():
    X = pd.DataFrame({f"f{i}": np.linspace(-1, 1, 21) * (i + 1) for i in range(5)})

    class Sum:
        def predict(self, X):
            return X.to_numpy() @ np.array([1.0, 5.0, 1.0, 4.0, 2.0])

    check, table = targeted_check(Sum(), X, TargetedPerturbation(max_relative_change=0.0), classifier=False)
    f = table["by_feature"]                      # weight x std: f0 1, f1 10, f2 3, f3 16, f4 10 (a tie keeps column order)
    assert check.message.endswith(f"most sensitive: f3 {f['f3']:.2%}, f1 {f['f1']:.2%}, f4 {f['f4']:.2%}")
    assert f["f3"] == pytest.approx(1.6 * f["f1"], rel=1e-3) and f["f0"] == pytest.approx(0.1 * f["f1"], rel=1e-3)
    assert {e["feature"] for e in check.examples} == {"f3"} and not check.passed


def test_the_sample_size_and_seed(X):
    assert targeted_check(Linear(), X, TargetedPerturbation(rows=30), classifier=False)[1]["rows"] == 30
    assert targeted_check(Linear(), X, TargetedPerturbation(rows=1000), classifier=False)[1]["rows"] == 100
    message = targeted_check(Threshold(), X, TargetedPerturbation(rows=30, epsilon=0.5), classifier=True)[0].message
    assert " of 30 rows flip class under the worst single-feature change of 0.5 std" in message
    one = targeted_check(Threshold(), X, TargetedPerturbation(rows=30, epsilon=0.5, seed=1), classifier=True)[0].examples
    two = targeted_check(Threshold(), X, TargetedPerturbation(rows=30, epsilon=0.5, seed=2), classifier=True)[0].examples
    assert one != two


def test_constant_columns_step_by_epsilon_and_a_constant_prediction_has_unit_spread():
    X = pd.DataFrame({"i": list(range(10)), "a": [0.0] * 10})          # an integer column first: skipped, the float one still searched

    class Scaled:
        def predict(self, X):
            return 10 * X["a"].to_numpy()

    check, table = targeted_check(Scaled(), X, TargetedPerturbation(), classifier=False)
    assert table["by_feature"] == {"a": 0.2} and table["value"] == 0.2                 # step 0.02 x 1 (no spread); x 10; spread 1
    assert not check.passed and check.message.startswith("the worst single-feature change of 0.02 std moves a prediction by 20.00%")
    assert len(check.examples) == 3 and {e["feature"] for e in check.examples} == {"a"}
    check, table = targeted_check(Linear(), pd.DataFrame({"a": range(10), "b": 0}), TargetedPerturbation(), classifier=False)
    assert table["by_feature"] == {} and table["value"] == 0.0 and check.passed
    assert check.message.endswith("limit 10.00%; most sensitive: ")


def test_flip_rates_are_rounded_to_six_places():
    X = pd.DataFrame({"a": [-0.001, 1.0, 2.0]})
    _, table = targeted_check(Threshold(), X, TargetedPerturbation(epsilon=0.01), classifier=True)
    assert table["by_feature"] == {"a": 0.333333} and table["value"] == 0.333333


def test_float32_columns_keep_their_dtype_when_moved():
    seen = []

    class Recorder:
        def predict(self, X):
            seen.append(X["a"].dtype)
            return np.zeros(len(X))

    targeted_check(Recorder(), pd.DataFrame({"a": np.arange(5, dtype="float32")}), TargetedPerturbation(), classifier=False)
    assert seen == [np.dtype("float32")] * 3


def test_plain_values():
    assert adversarial._plain(np.int64(4)) == 4 and type(adversarial._plain(np.int64(4))) is int and adversarial._plain("r") == "r"


def test_a_tie_names_the_first_feature():
    a = np.linspace(-1, 1, 41)
    X = pd.DataFrame({"a": a, "twin": a})

    class Both:
        def predict(self, X):
            return (X["a"].to_numpy() + X["twin"].to_numpy() > 0).astype(int)

    check, table = targeted_check(Both(), X, TargetedPerturbation(epsilon=0.5, max_flip_rate=0.0), classifier=True)
    assert table["by_feature"]["a"] == table["by_feature"]["twin"] > 0
    assert check.examples and {e["feature"] for e in check.examples} == {"a"}


def test_the_settings_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TargetedPerturbation().seed = 1


def test_rows_no_change_moves_name_no_feature():
    class Constant:
        def predict(self, X):
            return np.ones(len(X))

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    check, table = targeted_check(Constant(), X, TargetedPerturbation(max_relative_change=-0.01), classifier=False)
    assert table["by_feature"] == {"a": 0.0} and not check.passed
    assert check.examples == [{"_row": i, "feature": ""} for i in X.sample(n=3, random_state=0).index]
