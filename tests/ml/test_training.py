"""Training: k-fold CV, budgeted grid/random search, seeded results, checkpoint/resume."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelway.errors import UserError
from modelway.stages.training import Checkpointer, SearchSpec, candidates, train_with_search


@pytest.fixture(scope="module")
def data():
    return make_classification(600, n_features=8, n_informative=5, random_state=0)


class Interrupted(Exception):
    """Stands in for a spot interruption / kill after some progress was checkpointed."""


class Store:
    """An in-memory checkpoint store that can 'die' after N saves."""

    def __init__(self, die_after: int | None = None):
        self.state = None
        self.saves = 0
        self.die_after = die_after

    def checkpointer(self) -> Checkpointer:
        def save(obj):
            import pickle

            self.state = pickle.loads(pickle.dumps(obj))  # like the artifact store: a copy, not a reference
            self.saves += 1
            if self.die_after is not None and self.saves >= self.die_after:
                raise Interrupted()

        return Checkpointer(save=save, load=lambda: self.state)


def test_cv_records_mean_std_and_every_fold(data):
    X, y = data
    spec = SearchSpec(strategy="grid", space={"C": [0.01, 1.0]}, n_trials=5, cv_folds=4, scoring=("roc_auc", "accuracy"), refit="roc_auc")
    result = train_with_search(LogisticRegression(max_iter=500), X, y, spec)
    assert result.search["trials_run"] == 2
    for metric in ("roc_auc", "accuracy"):
        stats = result.cv[metric]
        assert len(stats["folds"]) == 4
        assert stats["mean"] == pytest.approx(np.mean(stats["folds"]))
        assert stats["std"] == pytest.approx(np.std(stats["folds"]))
    best = max(result.trials, key=lambda t: t.metrics["roc_auc"]["mean"])
    assert result.best_params == best.params
    assert hasattr(result.model, "coef_")  # refit on all the data


def test_grid_larger_than_budget_is_sampled_with_the_seed():
    spec = SearchSpec(strategy="grid", space={"a": [1, 2, 3, 4], "b": [0, 1, 2]}, n_trials=5, seed=1)
    first, again = candidates(spec), candidates(spec)
    assert len(first) == 5 and first == again
    assert candidates(SearchSpec(strategy="grid", space={"a": [1, 2, 3, 4], "b": [0, 1, 2]}, n_trials=5, seed=2)) != first


def test_random_search_respects_the_budget_and_is_reproducible(data):
    from scipy.stats import loguniform

    X, y = data
    spec = SearchSpec(strategy="random", space={"C": loguniform(1e-3, 10)}, n_trials=3, cv_folds=3, scoring=("roc_auc",), refit="roc_auc", seed=7)
    a = train_with_search(LogisticRegression(max_iter=500), X, y, spec)
    b = train_with_search(LogisticRegression(max_iter=500), X, y, spec)
    assert len(a.trials) == 3
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert a.cv == b.cv


def test_regression_metrics_are_reported_as_positive_errors():
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge

    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    spec = SearchSpec(strategy="grid", space={"alpha": [0.1, 100.0]}, n_trials=2, cv_folds=3,
                      scoring=("neg_root_mean_squared_error", "r2"), refit="neg_root_mean_squared_error")
    result = train_with_search(Ridge(), X, y, spec)
    assert result.search["refit"] == "rmse" and result.cv["rmse"]["mean"] > 0
    assert result.best_params == {"alpha": 0.1}  # lower error wins


def test_bad_budget_and_refit_are_user_errors(data):
    X, y = data
    with pytest.raises(UserError, match="at least 1"):
        train_with_search(LogisticRegression(), X, y, SearchSpec(n_trials=0, space={"C": [1]}, scoring=("roc_auc",), refit="roc_auc"))
    with pytest.raises(UserError, match="refit metric"):
        train_with_search(LogisticRegression(), X, y, SearchSpec(space={"C": [1]}, scoring=("accuracy",), refit="roc_auc"))


def test_interrupted_search_resumes_after_the_finished_trials(data):
    X, y = data
    spec = SearchSpec(strategy="grid", space={"C": [0.01, 0.1, 1.0, 10.0]}, n_trials=4, cv_folds=3, scoring=("roc_auc",), refit="roc_auc")
    store = Store(die_after=2)  # killed right after the 2nd trial was checkpointed
    with pytest.raises(Interrupted):
        train_with_search(LogisticRegression(max_iter=500), X, y, spec, checkpoint=store.checkpointer())
    assert len(store.state["trials"]) == 2
    store.die_after = None
    resumed = train_with_search(LogisticRegression(max_iter=500), X, y, spec, checkpoint=store.checkpointer())
    fresh = train_with_search(LogisticRegression(max_iter=500), X, y, spec)
    assert resumed.resumed_trials == 2
    assert [t.params for t in resumed.trials] == [t.params for t in fresh.trials]
    assert resumed.best_params == fresh.best_params


def test_warm_start_final_fit_continues_from_the_last_chunk(data):
    X, y = data
    est = Pipeline([("scale", StandardScaler()), ("clf", HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0))])
    spec = SearchSpec(strategy="none", cv_folds=2, scoring=("roc_auc",), refit="roc_auc", iterative_chunk=20)
    # saves: 1 after the (single) trial, then one per 20-iteration chunk; die after the 2nd chunk
    store = Store(die_after=3)
    with pytest.raises(Interrupted):
        train_with_search(est, X, y, spec, checkpoint=store.checkpointer())
    assert store.state["final"]["done"] == 40
    store.die_after = None
    resumed = train_with_search(est, X, y, spec, checkpoint=store.checkpointer())
    assert resumed.resumed_trials == 1 and resumed.resumed_fit_from == 40
    assert resumed.model[-1].n_iter_ == 60
    uninterrupted = train_with_search(est, X, y, spec, checkpoint=Store().checkpointer())
    np.testing.assert_allclose(resumed.model.predict_proba(X), uninterrupted.model.predict_proba(X))


def test_partial_fit_estimator_resumes_by_epoch(data):
    X, y = data
    est = SGDClassifier(loss="log_loss", max_iter=5, random_state=0)
    spec = SearchSpec(strategy="none", cv_folds=2, scoring=("accuracy",), refit="accuracy")
    store = Store(die_after=3)  # trial + 2 epochs
    with pytest.raises(Interrupted):
        train_with_search(est, X, y, spec, checkpoint=store.checkpointer())
    assert store.state["final"]["done"] == 2
    store.die_after = None
    resumed = train_with_search(est, X, y, spec, checkpoint=store.checkpointer())
    assert resumed.resumed_fit_from == 2 and store.state["final"]["done"] == 5


def test_a_checkpoint_of_a_different_job_is_ignored(data):
    X, y = data
    store = Store()
    spec = SearchSpec(strategy="grid", space={"C": [0.1, 1.0]}, n_trials=2, cv_folds=3, scoring=("roc_auc",), refit="roc_auc")
    train_with_search(LogisticRegression(max_iter=500), X, y, spec, checkpoint=store.checkpointer())
    other = SearchSpec(strategy="grid", space={"C": [5.0, 50.0]}, n_trials=2, cv_folds=3, scoring=("roc_auc",), refit="roc_auc")
    result = train_with_search(LogisticRegression(max_iter=500), X, y, other, checkpoint=store.checkpointer())
    assert result.resumed_trials == 0 and [t.params for t in result.trials] == [{"C": 5.0}, {"C": 50.0}]
