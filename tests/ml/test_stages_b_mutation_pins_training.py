"""Mutation pins for training (stages/training): the candidates a search tries, the CV statistics and the
refit choice (higher- and lower-is-better metrics), the summary, and checkpoint/resume of the trials and
of the final fit (warm-start ensembles, HistGradientBoosting, partial_fit learners).

Real scikit-learn fits on small data; the checkpointer is a dict, as in the module's own example.
"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

from modelway.errors import UserError
from modelway.stages import training
from modelway.stages.training import Checkpointer, SearchSpec, candidates, train_with_search


@pytest.fixture(scope="module")
def clf_data():
    return make_classification(90, n_features=4, random_state=0)


@pytest.fixture(scope="module")
def reg_data():
    return make_regression(80, 3, noise=5.0, random_state=0)


class Box:
    """A checkpointer backed by a dict; counts saves."""

    def __init__(self, state=None, stop_after=None):
        self.state, self.saves, self.stop_after = state, 0, stop_after

    def cp(self) -> Checkpointer:
        return Checkpointer(save=self._save, load=lambda: self.state)

    def _save(self, obj):
        self.saves += 1
        self.state = obj
        if self.saves == self.stop_after:   # the machine goes away right after this checkpoint
            raise Interrupted


class Interrupted(Exception):
    pass


def test_search_spec_defaults():
    assert SearchSpec() == SearchSpec(strategy="random", space={}, n_trials=8, cv_folds=5, scoring=("roc_auc", "accuracy"),
                                      refit="roc_auc", seed=0, iterative_chunk=25)


def test_candidates_budget_strategies_and_messages():
    with pytest.raises(UserError) as err:
        candidates(SearchSpec(space={"a": [1]}, n_trials=0))
    assert str(err.value) == "search trial budget n_trials=0 must be at least 1"
    assert candidates(SearchSpec(strategy="grid", space={"a": [1]}, n_trials=1)) == [{"a": 1}]
    assert candidates(SearchSpec(strategy="none", space={"a": [1, 2]})) == [{}]
    assert candidates(SearchSpec(strategy="grid", space={})) == [{}]
    full = candidates(SearchSpec(strategy="grid", space={"a": [1, 2], "b": [0, 1]}, n_trials=4))
    assert full == [{"a": 1, "b": 0}, {"a": 1, "b": 1}, {"a": 2, "b": 0}, {"a": 2, "b": 1}]
    grid = [{"a": a, "b": b} for a in (1, 2, 3) for b in (0, 1)]
    picked = np.random.default_rng(7).choice(6, size=3, replace=False)
    sampled = candidates(SearchSpec(strategy="grid", space={"a": [1, 2, 3], "b": [0, 1]}, n_trials=3, seed=7))
    assert sampled == [grid[i] for i in sorted(picked)] and len({tuple(c.items()) for c in sampled}) == 3
    from sklearn.model_selection import ParameterSampler

    space = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    assert candidates(SearchSpec(strategy="random", space=space, n_trials=4, seed=3)) == list(ParameterSampler(space, n_iter=4, random_state=3))
    with pytest.raises(UserError) as err:
        candidates(SearchSpec(strategy="bayes", space={"a": [1]}))   # type: ignore[arg-type]
    assert str(err.value) == "unknown search strategy 'bayes'; use 'none', 'grid' or 'random'"


def test_refit_metric_must_be_scored(clf_data):
    from sklearn.linear_model import LogisticRegression

    X, y = clf_data
    with pytest.raises(UserError) as err:
        train_with_search(LogisticRegression(), X, y, SearchSpec(scoring=("accuracy",), refit="roc_auc"))
    assert str(err.value) == "refit metric 'roc_auc' must be one of scoring ['accuracy']"


def test_cv_statistics_folds_and_the_best_candidate(clf_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate

    X, y = clf_data
    spec = SearchSpec(strategy="grid", space={"C": [0.001, 10.0]}, n_trials=2, cv_folds=3, scoring=("accuracy", "roc_auc"),
                      refit="roc_auc", seed=4)
    result = train_with_search(LogisticRegression(), X, y, spec)
    ref = cross_validate(LogisticRegression(C=10.0), X, y, cv=StratifiedKFold(3, shuffle=True, random_state=4),
                         scoring=["accuracy", "roc_auc"])
    folds = [float(v) for v in ref["test_roc_auc"]]
    assert [t.params for t in result.trials] == [{"C": 0.001}, {"C": 10.0}]
    assert result.trials[1].metrics["roc_auc"] == {"mean": float(np.mean(folds)), "std": float(np.std(folds)), "folds": folds}
    means = [t.metrics["roc_auc"]["mean"] for t in result.trials]
    assert result.search["best_index"] == int(np.argmax(means)) and result.cv == result.trials[int(np.argmax(means))].metrics
    assert result.search == {"strategy": "grid", "budget": 2, "trials_run": 2, "cv_folds": 3, "refit": "roc_auc", "seed": 4,
                             "best_index": int(np.argmax(means))}
    assert result.trials[1].metrics["roc_auc"]["folds"] == folds and result.trials[1].metrics["accuracy"]["folds"] == [
        float(v) for v in ref["test_accuracy"]]
    assert (result.resumed_trials, result.resumed_fit_from) == (0, 0)
    assert 0 < sum(t.seconds for t in result.trials) <= result.fit_seconds < 600      # durations, not clock readings
    assert result.model.C == result.best_params["C"] and hasattr(result.model, "coef_")


def test_lower_is_better_metrics_are_shown_positive_and_minimised(reg_data):
    from sklearn.linear_model import Ridge

    X, y = reg_data
    spec = SearchSpec(strategy="grid", space={"alpha": [0.01, 1000.0]}, n_trials=2, cv_folds=3,
                      scoring=("neg_root_mean_squared_error", "neg_mean_absolute_error", "r2"), refit="neg_root_mean_squared_error")
    result = train_with_search(Ridge(), X, y, spec, task="regression")
    assert set(result.cv) == {"rmse", "mae", "r2"} and result.search["refit"] == "rmse"
    assert result.best_params == {"alpha": 0.01} and result.search["best_index"] == 0      # the smaller error wins
    assert all(v > 0 for v in result.cv["rmse"]["folds"]) and result.cv["rmse"]["mean"] < result.trials[1].metrics["rmse"]["mean"]
    by_r2 = train_with_search(Ridge(), X, y, SearchSpec(strategy="grid", space={"alpha": [1000.0, 0.01]}, n_trials=2, cv_folds=3,
                                                       scoring=("r2",), refit="r2"))
    assert by_r2.best_params == {"alpha": 0.01} and by_r2.search["best_index"] == 1


def test_display_names_and_fold_stats():
    assert [training._display_name(m) for m in ("neg_root_mean_squared_error", "neg_mean_absolute_error", "neg_mean_squared_error",
                                                 "neg_log_loss", "neg_median_absolute_error", "roc_auc")] == [
        "rmse", "mae", "mse", "log_loss", "median_absolute_error", "roc_auc"]
    assert training._fold_stats("neg_mae", np.array([-1.0, -3.0])) == {"mean": 2.0, "std": 1.0, "folds": [1.0, 3.0]}
    assert training._fold_stats("accuracy", np.array([0.5, 1.0])) == {"mean": 0.75, "std": 0.25, "folds": [0.5, 1.0]}


def test_task_decides_the_folds_not_the_estimator_type(clf_data):
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    X, y = clf_data
    spec = SearchSpec(strategy="none", cv_folds=3, scoring=("r2",), refit="r2", seed=2)
    for task, splitter in (("classification", StratifiedKFold), ("regression", KFold), (None, KFold)):
        r = train_with_search(LinearRegression(), X, y, spec, task=task)
        ref = cross_validate(LinearRegression(), X, y, cv=splitter(3, shuffle=True, random_state=2), scoring=["r2"])
        assert r.cv["r2"]["folds"] == [float(v) for v in ref["test_r2"]], task


def test_summary_is_plain_json_with_rounded_seconds():
    from sklearn.linear_model import Ridge

    r = training.TrainingResult(model=Ridge(), best_params={"alpha": np.float64(0.5), "k": np.int64(3), "o": Ridge()},
                                cv={"r2": {"mean": 0.9}}, trials=[training.Trial({"alpha": np.float64(0.5)}, {"r2": {}}, 1.23456)],
                                search={"strategy": "none"}, fit_seconds=2.34567, resumed_trials=1, resumed_fit_from=25)
    assert r.summary() == {
        "best_params": {"alpha": 0.5, "k": 3, "o": "Ridge()"}, "cv": {"r2": {"mean": 0.9}}, "search": {"strategy": "none"},
        "trials": [{"params": {"alpha": 0.5}, "metrics": {"r2": {}}, "seconds": 1.235}], "fit_seconds": 2.346,
        "resumed_trials": 1, "resumed_fit_from": 25,
    }
    assert (training.TrainingResult(Ridge(), {}, {}, [], {}, 0.0).resumed_trials, training.TrainingResult(Ridge(), {}, {}, [], {}, 0.0).resumed_fit_from) == (0, 0)


def test_finished_trials_are_resumed_only_for_the_same_job(clf_data):
    from sklearn.linear_model import LogisticRegression

    X, y = clf_data
    spec = SearchSpec(strategy="grid", space={"C": [0.1, 1.0, 10.0]}, n_trials=3, cv_folds=2, scoring=("roc_auc",))
    box = Box()
    first = train_with_search(LogisticRegression(), X, y, spec, checkpoint=box.cp())
    assert box.saves == 3 and len(box.state["trials"]) == 3 and first.resumed_trials == 0
    box.state["trials"] = box.state["trials"][:2]
    box.state["trials"][0]["metrics"]["roc_auc"]["mean"] = 2.0      # a resumed trial is taken as recorded, not re-run
    resumed = train_with_search(LogisticRegression(), X, y, spec, checkpoint=box.cp())
    assert resumed.resumed_trials == 2 and resumed.best_params == {"C": 0.1} and box.saves == 4
    other = Box({"fingerprint": "another job", "trials": box.state["trials"]})
    fresh = train_with_search(LogisticRegression(), X, y, spec, checkpoint=other.cp())
    assert fresh.resumed_trials == 0 and other.state["fingerprint"] != "another job"
    unmarked = Box({"trials": box.state["trials"]})          # a checkpoint that names no job is not resumed either
    assert train_with_search(LogisticRegression(), X, y, spec, checkpoint=unmarked.cp()).resumed_trials == 0
    junk = Box(["not", "a", "dict"])
    assert train_with_search(LogisticRegression(), X, y, spec, checkpoint=junk.cp()).resumed_trials == 0


def test_the_fingerprint_changes_with_every_part_of_the_job(clf_data):
    from sklearn.linear_model import LogisticRegression

    X, y = clf_data
    spec = SearchSpec(cv_folds=3)
    cands = [{"C": 1.0}]
    base = training._fingerprint(LogisticRegression(), X, y, spec, cands)
    assert base == training._fingerprint(LogisticRegression(), X.copy(), y.copy(), spec, [{"C": 1.0}])
    from dataclasses import replace

    variants = [
        training._fingerprint(LogisticRegression(C=2.0), X, y, spec, cands),
        training._fingerprint(LogisticRegression(), X, y, spec, [{"C": 2.0}]),
        training._fingerprint(LogisticRegression(), X, y, replace(spec, cv_folds=4), cands),
        training._fingerprint(LogisticRegression(), X, y, replace(spec, scoring=("accuracy",)), cands),
        training._fingerprint(LogisticRegression(), X, y, replace(spec, seed=1), cands),
        training._fingerprint(LogisticRegression(), X, y, replace(spec, iterative_chunk=5), cands),
        training._fingerprint(LogisticRegression(), X[:, :3], y, spec, cands),
        training._fingerprint(LogisticRegression(), X, 1 - y, spec, cands),
    ]
    assert len({base, *variants}) == 9 and len(base) == 64
    assert training._fingerprint(LogisticRegression(), list(X), y, spec, cands) != base      # no shape: the length


def test_warm_start_ensembles_fit_in_chunks_and_resume(clf_data):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = clf_data
    spec = SearchSpec(strategy="none", cv_folds=2, scoring=("accuracy",), refit="accuracy", iterative_chunk=4)
    from sklearn.feature_selection import VarianceThreshold

    # three steps: the learner is the last one, not the second
    est = Pipeline([("s", StandardScaler()), ("v", VarianceThreshold()), ("rf", RandomForestClassifier(n_estimators=10, random_state=0))])
    box = Box()
    r = train_with_search(est, X, y, spec, checkpoint=box.cp())
    # one trial save, then 4, 8, 10 trees
    assert box.saves == 4 and box.state["final"]["done"] == 10 and len(r.model[-1].estimators_) == 10
    assert r.model.get_params()["rf__warm_start"] is True and r.resumed_fit_from == 0
    cut = Box(stop_after=3)
    with pytest.raises(Interrupted):
        train_with_search(est, X, y, spec, checkpoint=cut.cp())
    assert cut.state["final"]["done"] == 8
    cut.stop_after = None
    again = train_with_search(est, X, y, spec, checkpoint=cut.cp())
    assert again.resumed_fit_from == 8 and again.resumed_trials == 1 and len(again.model[-1].estimators_) == 10
    assert cut.saves == 4
    zero_chunk = Box()
    train_with_search(est, X, y, SearchSpec(strategy="none", cv_folds=2, scoring=("accuracy",), refit="accuracy",
                                            iterative_chunk=0), checkpoint=zero_chunk.cp())
    assert zero_chunk.saves == 1 + 10                                  # a chunk of at least one tree
    plain = train_with_search(est, X, y, spec)
    assert plain.model.get_params()["rf__warm_start"] is False and plain.resumed_fit_from == 0


def test_histgradientboosting_adds_iterations_but_sgd_in_a_pipeline_refits_once(clf_data):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = clf_data
    spec = SearchSpec(strategy="none", cv_folds=2, scoring=("accuracy",), refit="accuracy", iterative_chunk=3)
    box = Box()
    hgb = train_with_search(HistGradientBoostingClassifier(max_iter=7, early_stopping=False), X, y, spec, checkpoint=box.cp())
    assert box.saves == 1 + 3 and hgb.model.n_iter_ == 7 and box.state["final"]["done"] == 7
    box = Box()
    sgd = Pipeline([("s", StandardScaler()), ("sgd", SGDClassifier(max_iter=5, tol=None, random_state=0))])
    r = train_with_search(sgd, X, y, spec, checkpoint=box.cp())
    assert box.saves == 1 and "final" not in box.state and r.model[-1].n_iter_ == 5


def test_partial_fit_learners_train_epoch_by_epoch_and_resume(clf_data, reg_data):
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    X, y = clf_data
    spec = SearchSpec(strategy="none", cv_folds=2, scoring=("accuracy",), refit="accuracy")
    box = Box()
    r = train_with_search(SGDClassifier(max_iter=4, random_state=0), X, y, spec, checkpoint=box.cp())
    assert box.saves == 1 + 4 and box.state["final"]["done"] == 4 and r.model.t_ == 4 * len(X) + 1
    assert list(r.model.classes_) == [0, 1]
    cut = Box(stop_after=3)
    with pytest.raises(Interrupted):
        train_with_search(SGDClassifier(max_iter=4, random_state=0), X, y, spec, checkpoint=cut.cp())
    cut.stop_after = None
    again = train_with_search(SGDClassifier(max_iter=4, random_state=0), X, y, spec, checkpoint=cut.cp())
    assert again.resumed_fit_from == 2 and again.model.t_ == 4 * len(X) + 1 and cut.saves == 5   # epochs 3 and 4 only
    Xr, yr = reg_data
    rbox = Box()
    reg = train_with_search(SGDRegressor(max_iter=3, random_state=0), Xr, yr,
                            SearchSpec(strategy="none", cv_folds=2, scoring=("r2",), refit="r2"), checkpoint=rbox.cp())
    assert rbox.saves == 1 + 3 and reg.model.t_ == 3 * len(Xr) + 1


def test_context_checkpointer_uses_the_running_step(tmp_path):
    from modelway.runtime.context import activate, deactivate

    class Ctx:
        saved: list = []

        def save_checkpoint(self, obj):
            self.saved.append(obj)

        def load_checkpoint(self):
            return "state"

    assert training.context_checkpointer() is None
    ctx = Ctx()
    token = activate(ctx)  # type: ignore[arg-type]
    try:
        cp = training.context_checkpointer()
    finally:
        deactivate(token)
    cp.save(1)
    assert ctx.saved == [1] and cp.load() == "state"


def test_a_sampled_grid_never_repeats_a_candidate_and_the_spec_is_frozen():
    import dataclasses
    from typing import Literal

    from modelway.dsl.types import item_annotation

    for seed in range(5):
        picked = candidates(SearchSpec(strategy="grid", space={"a": list(range(10))}, n_trials=9, seed=seed))
        assert len(picked) == 9 and len({c["a"] for c in picked}) == 9 and picked == sorted(picked, key=lambda c: c["a"])
    with pytest.raises(dataclasses.FrozenInstanceError):    # a spec is part of the training job's fingerprint
        SearchSpec().n_trials = 1  # type: ignore[misc]
    assert item_annotation(SearchSpec, "strategy") == Literal["none", "grid", "random"]   # what a pipeline's wiring check reads
