"""Mutation pins for the small stage modules: the performance history (stages/run_history), library
versions (stages/dependencies), the code-review check (stages/spec_review), the environment helpers
(stages/env) and the typed stage results (stages/results).

Each test asserts what a reader of a model card, a run log or a refusal sees: exact messages,
both sides of each threshold, every entry of a returned table.
"""
from __future__ import annotations

import subprocess

import pytest



# --- run_history -----------------------------------------------------------------------------------


def _step(name, duration, mb=None, *, status="succeeded", cached=False):
    return {"name": name, "status": status, "cached": cached, "duration_s": duration, "peak_rss_mb": mb}


def test_compare_steps_messages_when_nothing_regressed():
    from modelway.stages.run_history import PerformanceHistory, compare_steps

    checks = compare_steps([_step("load", 1.0, 100.0), _step("train", 10.0, 200.0)],
                           [_step("train", 10.0, 200.0), _step("load", 1.0, 100.0)], PerformanceHistory(), previous_run="r0")
    assert [c.to_dict() for c in checks] == [
        {"name": "performance.duration", "passed": True, "message": "no step slower than run r0 (load, train) (limit x1.5 and +2 s)",
         "observed": None, "limit": 1.5, "count": None, "examples": [], "category": "performance", "advisory": True},
        {"name": "performance.peak_memory", "passed": True,
         "message": "no step needs more memory than run r0 (load, train) (limit x1.3 and +50 MB)",
         "observed": None, "limit": 1.3, "count": None, "examples": [], "category": "performance", "advisory": True},
    ]


def test_compare_steps_flags_time_and_memory_on_both_sides_of_each_limit():
    from modelway.stages.run_history import PerformanceHistory, compare_steps

    cfg = PerformanceHistory()
    before = [_step("a", 10.0, 200.0), _step("b", 4.0, 100.0), _step("c", 2.0, 100.0), _step("d", 10.0, 1000.0)]
    now = [_step("a", 15.0, 260.0),      # exactly x1.5 / x1.3: not over the ratio
           _step("b", 6.01, 150.01),     # over x1.5 and +2.01 s; over x1.3 and +50.01 MB
           _step("c", 3.99, 149.0),      # x2 but only +1.99 s; +49 MB
           _step("d", 15.1, 1301.0)]     # +5.1 s over x1.5; memory x1.301 and +301
    dur, mem = compare_steps(now, before, cfg, previous_run="r7")
    assert dur.observed == ["b 4.0s -> 6.0s", "d 10.0s -> 15.1s"] and dur.count == 2 and not dur.passed
    assert dur.message == "slower than run r7: b 4.0s -> 6.0s; d 10.0s -> 15.1s (limit x1.5 and +2 s)"
    assert mem.observed == ["b 100 MB -> 150 MB", "d 1000 MB -> 1301 MB"] and mem.count == 2 and not mem.passed
    assert mem.message == "more memory than run r7: b 100 MB -> 150 MB; d 1000 MB -> 1301 MB (limit x1.3 and +50 MB)"
    exact = compare_steps([_step("b", 3.0, 150.0)], [_step("b", 1.0, 100.0)], cfg, previous_run="r7")
    assert [c.passed for c in exact] == [False, False]     # exactly +2 s (x3) and exactly +50 MB (x1.5) are flagged


def test_compare_steps_skips_cached_failed_and_unmeasured_steps_and_missing_memory():
    from modelway.stages.run_history import PerformanceHistory, compare_steps

    cfg = PerformanceHistory(max_duration_ratio=2.0, min_seconds=0.5, max_memory_ratio=1.1, min_mb=1.0, gate=True)
    before = [_step("a", 1.0, 10.0), _step("b", 1.0, None), _step("z", 0.0, 10.0), _step("w", 0.2, 10.0)]
    now = [_step("a", 2.6, 12.0), _step("b", 3.0, 99.0), _step("z", 9.0, 10.0), _step("a2", 99.0, cached=True),
           _step("w", 0.0, 10.0)]    # z: no time before to compare with; w: took no time now
    dur, mem = compare_steps(now, before, cfg, previous_run="p")
    assert (dur.observed, mem.observed) == (["a 1.0s -> 2.6s", "b 1.0s -> 3.0s"], ["a 10 MB -> 12 MB"])
    assert not dur.advisory and not mem.advisory and dur.limit == 2.0 and mem.limit == 1.1
    assert dur.message.endswith("(limit x2.0 and +0.5 s)") and mem.message.endswith("(limit x1.1 and +1 MB)")
    for unran in (_step("a", 9.0, status="failed"), _step("a", 9.0, cached=True), _step("a", None)):
        checks = compare_steps([unran], before, cfg, previous_run="p")
        assert [c.message for c in checks] == ["no step ran in both this run and p: nothing to compare"] * 2
        assert all(c.passed and not c.advisory for c in checks)
    checks = compare_steps([_step("a", 1.0)], [_step("a", 1.0)], PerformanceHistory(), previous_run=None)
    assert [(c.name, c.passed, c.advisory, c.category, c.message) for c in checks] == [
        ("performance.duration", True, True, "performance", "no previous succeeded run of this pipeline: nothing to compare"),
        ("performance.peak_memory", True, True, "performance", "no previous succeeded run of this pipeline: nothing to compare"),
    ]


def test_history_checks_compare_with_the_latest_other_succeeded_run():
    from modelway.stages.run_history import PerformanceHistory, history_checks

    class Store:
        def __init__(self, runs, steps):
            self.runs, self.steps_of, self.asked = runs, steps, []

        def list_runs(self, *, limit, pipeline, status):
            self.asked.append((limit, pipeline, status))
            return self.runs

        def steps(self, run_id):
            return self.steps_of[run_id]

    store = Store([{"run_id": "now"}, {"run_id": "old"}], {"now": [_step("t", 10.0)], "old": [_step("t", 2.0)]})
    dur, _ = history_checks(store, "now", "pipe")
    assert store.asked == [(20, "pipe", "succeeded")] and dur.message.startswith("slower than run old: t 2.0s -> 10.0s")
    assert dur.advisory
    assert not history_checks(store, "now", "pipe", PerformanceHistory(gate=True))[0].advisory
    alone = Store([{"run_id": "now"}], {"now": [_step("t", 10.0)]})
    assert history_checks(alone, "now", "pipe")[0].message == "no previous succeeded run of this pipeline: nothing to compare"


def test_performance_history_defaults():
    from modelway.stages.run_history import PerformanceHistory

    assert PerformanceHistory() == PerformanceHistory(max_duration_ratio=1.5, min_seconds=2.0, max_memory_ratio=1.3, min_mb=50.0,
                                                      gate=False)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):   # a pipeline's tolerances cannot change under a running check
        PerformanceHistory().gate = True  # type: ignore[misc]


# --- dependencies ----------------------------------------------------------------------------------


def test_dependency_check_messages():
    from modelway.stages.dependencies import dependency_check

    current = {"numpy": "2.0", "pandas": "2.2", "scipy": "1.1"}
    for champion in (None, {}):
        c = dependency_check(current, champion)
        assert c.to_dict() == {"name": "dependencies.vs_champion", "passed": True,
                               "message": "no champion with recorded library versions to compare against", "observed": current,
                               "limit": None, "count": None, "examples": [], "category": "dependencies", "advisory": True}
    same = dependency_check(current, dict(current), "champion m 1.0.0")
    diff_name = dependency_check({"a": "1"}, {"a": "0"}).name
    assert same.name == diff_name == "dependencies.vs_champion"
    assert (same.passed, same.message, same.observed, same.limit, same.count, same.advisory, same.category) == (
        True, "same library versions as champion m 1.0.0 (3 libraries)", current, None, None, True, "dependencies")
    assert dependency_check(current, dict(current)).message == "same library versions as the champion (3 libraries)"
    old = {"numpy": "1.26", "pandas": "2.2", "sklearn-extra": "0.1"}
    diff = dependency_check(current, old, "champion m 2.0.0")
    assert diff.message == "library versions differ from champion m 2.0.0: numpy 1.26 -> 2.0, scipy absent -> 1.1"
    assert (diff.passed, diff.count, diff.limit, diff.observed, diff.advisory, diff.category) == (
        False, 2, old, current, True, "dependencies")
    assert dependency_check({"a": "1"}, {"a": "0"}).message == "library versions differ from the champion: a 0 -> 1"


def test_model_libraries_walks_pipelines_column_transformers_and_wrappers():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from modelway.runtime.fingerprint import distribution_versions
    from modelway.stages.dependencies import CORE_LIBRARIES, model_libraries

    class Foreign:  # an estimator from another package, found through every kind of link
        __module__ = "hypothesis.strategies"

        def fit(self):
            return self

    class Wrapper:
        __module__ = "modelway.stages.model_schema"

        def __init__(self, **links):
            self.__dict__.update(links)

        def fit(self):
            return self

    core = distribution_versions(["numpy", "pandas", "scipy", "sklearn"])
    assert set(core) == set(CORE_LIBRARIES) == {"numpy", "pandas", "scikit-learn", "scipy"}
    expected = distribution_versions(["hypothesis", "numpy", "pandas", "scipy", "sklearn"])
    assert "hypothesis" in expected
    for link in ("model", "estimator"):
        assert model_libraries(Wrapper(**{link: Foreign()})) == expected
    assert model_libraries(Wrapper(steps=[("x", Foreign())])) == expected
    assert model_libraries(Wrapper(transformers=[("x", Foreign(), ["a"])])) == expected   # a 3-tuple: item[1] is the transformer
    assert model_libraries(Wrapper(transformers_=[Foreign()])) == expected
    assert model_libraries(Wrapper(model="not an estimator")) == core
    from hypothesis import strategies

    assert model_libraries(Wrapper(model=strategies.integers())) == core       # from another package, but no fit: not followed
    assert model_libraries(Pipeline([("s", StandardScaler()), ("c", LogisticRegression())])) == core
    ct = ColumnTransformer([("s", StandardScaler(), ["a"])])
    assert model_libraries(ct) == core
    assert list(model_libraries(Wrapper(model=Foreign()))) == ["hypothesis", "numpy", "pandas", "scipy", "scikit-learn"]


# --- spec_review -----------------------------------------------------------------------------------


def test_review_status_problems_in_order():
    from modelway.stages.spec_review import ReviewStatus

    sha = "0123456789abcdef0123"
    assert ReviewStatus(None, dirty=True).problem == (
        "the pipeline does not run from a git repository, so its code cannot be traced to a reviewed commit")
    assert ReviewStatus(sha, dirty=True, pushed=None).problem == "the working tree has uncommitted changes"
    assert ReviewStatus(sha).problem == "commit 0123456789ab has no remote to be reviewed on"
    assert ReviewStatus(sha, pushed=False).problem == "commit 0123456789ab is not pushed to any remote branch"
    assert ReviewStatus(sha, pushed=True).problem is None
    assert (ReviewStatus(sha).dirty, ReviewStatus(sha).pushed) == (False, None)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):   # a finding cannot be edited into a pass
        ReviewStatus(sha).dirty = True  # type: ignore[misc]


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=main", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    """A remote, a clone with a pushed commit and an unpushed one, a repo without a remote."""
    root = tmp_path_factory.mktemp("review")
    remote, clone, lone = root / "remote.git", root / "clone", root / "lone"
    _git(root, "init", "--bare", str(remote))
    _git(root, "clone", str(remote), str(clone))
    (clone / "p.py").write_text("x = 1\n")
    _git(clone, "add", "p.py"); _git(clone, "commit", "-m", "one"); _git(clone, "push", "origin", "HEAD")
    lone.mkdir(); _git(lone, "init"); (lone / "p.py").write_text("y\n"); _git(lone, "add", "p.py"); _git(lone, "commit", "-m", "l")
    return clone, lone


def test_review_status_reads_the_real_git_state(repos, tmp_path):
    from modelway.stages.spec_review import ReviewStatus, enforce_reviewed_code, review_status

    clone, lone = repos
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    assert review_status(clone) == ReviewStatus(head, False, True)
    assert enforce_reviewed_code("prod", True, clone) is None
    lone_head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=lone, capture_output=True, text=True).stdout.strip()
    assert review_status(lone) == ReviewStatus(lone_head, False, None)
    (lone / "p.py").write_text("changed\n")
    try:
        assert review_status(str(lone)) == ReviewStatus(lone_head, True, None)
        (lone / "untracked.txt").write_text("ignored by the check\n")
        from modelway.runtime.errors import StepFailed

        with pytest.raises(StepFailed) as err:
            enforce_reviewed_code("prod", True, lone)
        assert str(err.value) == ("refusing to register for prod: the working tree has uncommitted changes (ML Test Score M1: "
                                  "commit and push the pipeline code, then re-run)")
        assert enforce_reviewed_code("staging", False, lone) == (
            "warning: the working tree has uncommitted changes; a registration for prod would be refused (ML Test Score M1)")
    finally:
        _git(lone, "checkout", "p.py")
        (lone / "untracked.txt").unlink(missing_ok=True)
    assert review_status(lone).dirty is False                 # untracked files do not make it dirty
    (clone / "q.py").write_text("z\n"); _git(clone, "add", "q.py"); _git(clone, "commit", "-m", "local only")
    try:
        local = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
        assert review_status(clone) == ReviewStatus(local, False, False)
    finally:
        _git(clone, "reset", "--hard", "HEAD~1")
    assert review_status(tmp_path) == ReviewStatus(None)
    import os

    here = os.getcwd()
    os.chdir(clone)
    try:   # by default, the work tree the process runs in
        assert review_status() == ReviewStatus(head, False, True) and enforce_reviewed_code("prod", True) is None
    finally:
        os.chdir(here)
    assert review_status(tmp_path / "missing") == ReviewStatus(None)      # git cannot even start there


# --- env ------------------------------------------------------------------------------------------


def test_target_environment_argument_then_variable_then_dev(monkeypatch):
    from modelway.errors import ConfigError
    from modelway.stages.env import target_environment

    monkeypatch.delenv("MODELWAY_ENV", raising=False)
    assert target_environment() == "dev" and target_environment(" Prod ") == "prod"
    monkeypatch.setenv("MODELWAY_ENV", "STAGING")
    assert target_environment() == "staging" and target_environment("dev") == "dev"
    with pytest.raises(ConfigError) as err:
        target_environment("qa")
    assert str(err.value) == "unknown environment 'qa' (MODELWAY_ENV or the env parameter); use one of ['dev', 'staging', 'prod']"


def test_build_time_settings_resolve_environment_and_rules(monkeypatch, tmp_path):
    from modelway.errors import ConfigError
    from modelway.stages.env import build_time_settings

    monkeypatch.delenv("MODELWAY_ENV", raising=False)
    monkeypatch.delenv("MODELWAY_PROMOTION_RULES", raising=False)
    env, rules = build_time_settings()
    assert env == "dev" and rules["environments"]["dev"]["auto_approve"] is True
    assert build_time_settings("prod")[0] == "prod"
    with pytest.raises(ConfigError):
        build_time_settings("nowhere")
    rules = tmp_path / "rules.json"
    rules.write_text('{"environments": {"dev": {"auto_approve": true}}}')
    monkeypatch.setenv("MODELWAY_PROMOTION_RULES", str(rules))
    assert build_time_settings("dev")[1]["environments"]["dev"]["auto_approve"] is True
    with pytest.raises(ConfigError) as err:       # refused when the pipeline is built, not at `register`
        build_time_settings("staging")
    assert str(err.value) == "no promotion rule for environment 'staging'; configured: ['dev']"
    monkeypatch.setenv("MODELWAY_ENV", "dev")
    assert build_time_settings()[0] == "dev"


def test_home_git_and_threads(monkeypatch, tmp_path, repos):
    from modelway.stages.env import git_commit, limited_threads, ml_threads, modelway_home

    monkeypatch.setenv("MODELWAY_HOME", str(tmp_path / "h" / "deep"))
    assert modelway_home() == (tmp_path / "h" / "deep") and (tmp_path / "h" / "deep").is_dir()
    assert modelway_home() == (tmp_path / "h" / "deep")        # already there: fine
    monkeypatch.setenv("MODELWAY_ML_THREADS", "3")
    assert ml_threads() == 3
    from threadpoolctl import threadpool_info

    with limited_threads():
        assert all(p["num_threads"] <= 3 for p in threadpool_info())
    assert git_commit(str(tmp_path)) == {"commit": "unknown", "dirty": False}
    clone, _ = repos
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    assert git_commit(str(clone)) == {"commit": head, "dirty": False}


# --- results ---------------------------------------------------------------------------------------


def test_results_defaults_and_the_passed_flag():
    from modelway.stages.results import Evaluation, ModelPackage, RawData, Split, TrainedModel

    assert RawData(frame=None).data_versions == {}
    assert (Split(train=1, test=2).validation, Split(train=1, test=2).data_versions) == ({}, {})
    t = TrainedModel(model=None, training={}, features=("a",))
    assert (t.experiment, t.mlflow_run_id) == ("modelway", None)
    e = Evaluation(report={"passed": True}, card={}, metrics={})
    assert (e.slices, e.fairness, e.predictions, e.artifact_bytes, e.champion, e.evidence) == ({}, None, {}, 0, None, {})
    assert e.passed is True
    assert Evaluation(report={"passed": 0}, card={}, metrics={}).passed is False
    assert Evaluation(report={}, card={}, metrics={}).passed is False
    pkg = ModelPackage(model="m", model_artifact="a", artifact_sha256="s", family="f", schema={}, metrics={}, fairness=None,
                       model_card={}, hyperparameters={}, code_commit="c", data_versions={}, mlflow_run_id=None, gates_passed=False)
    assert pkg.baseline_artifact is None


def test_git_commit_reads_the_dirty_flag_defaults_to_the_working_directory_and_is_resolved_once(tmp_path, monkeypatch):
    from modelway.stages.env import git_commit

    repo = tmp_path / "g"
    repo.mkdir()
    _git(repo, "init")
    (repo / "f.txt").write_text("1\n")
    _git(repo, "add", "f.txt")
    _git(repo, "commit", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    (repo / "f.txt").write_text("2\n")
    assert git_commit(str(repo)) == {"commit": head, "dirty": True}
    git_commit.cache_clear()           # the default (".") is cached per process: start from this directory
    monkeypatch.chdir(repo)
    try:
        assert git_commit() == {"commit": head, "dirty": True}
        _git(repo, "commit", "-am", "two")
        # one process reports one commit (model cards, tags and the registry record agree within a run)
        assert git_commit() == {"commit": head, "dirty": True}
    finally:
        git_commit.cache_clear()


def test_results_are_frozen_and_the_dsl_can_read_every_fields_type():
    import dataclasses
    from typing import Any

    from modelway.dsl.types import item_annotation
    from modelway.stages.results import Evaluation, ModelPackage, RawData, Split, TrainedModel

    for cls in (RawData, Split, TrainedModel, Evaluation, ModelPackage):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls     # cached outputs cannot be edited
    # the wiring checks of a pipeline (``split.train`` into a step) read these annotations at run time
    assert item_annotation(RawData, "frame") is Any and item_annotation(Split, "test") is Any
    assert item_annotation(TrainedModel, "model") is Any
    assert item_annotation(TrainedModel, "mlflow_run_id") == (str | None)
    assert item_annotation(Evaluation, "fairness") == (dict[str, Any] | None) == item_annotation(Evaluation, "champion")
    assert item_annotation(ModelPackage, "baseline_artifact") == (str | None)
    assert item_annotation(Split, "data_versions") == dict[str, str]
    with pytest.raises(KeyError):
        item_annotation(Split, "frame")
