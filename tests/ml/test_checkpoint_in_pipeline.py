"""Training checkpoints through the core's real step_context(): an interrupted attempt resumes on retry."""
from __future__ import annotations

from typing import Any

from modelway import pipeline, step


@step(retries=1, retry_delay="0.05s", cache=False)
def search_with_interruption(n_rows: int) -> Any:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from modelway import step_context
    from modelway.stages.training import Checkpointer, SearchSpec, context_checkpointer, train_with_search

    ctx = step_context()
    real = context_checkpointer()
    saves = []

    def save(state: Any) -> None:
        real.save(state)
        saves.append(len(state.get("trials", [])))
        if ctx.attempt == 1 and len(saves) == 2:  # the spot instance is reclaimed after two trials
            raise RuntimeError("spot instance reclaimed")

    X, y = make_classification(n_rows, n_features=6, random_state=0)
    spec = SearchSpec(strategy="grid", space={"C": [0.01, 0.1, 1.0, 10.0]}, n_trials=4, cv_folds=3, scoring=("roc_auc",), refit="roc_auc")
    result = train_with_search(LogisticRegression(max_iter=300), X, y, spec, checkpoint=Checkpointer(save=save, load=real.load))
    return {"attempt": ctx.attempt, "resumed_trials": result.resumed_trials, "trials": len(result.trials), "best": result.best_params}


@pipeline
def interrupted_training(n_rows: int = 300) -> Any:
    return search_with_interruption(n_rows)


def test_retry_resumes_the_search_from_the_step_checkpoint(home):
    from modelway.runtime.runner import run_pipeline

    result = run_pipeline(interrupted_training, {}, executor="inprocess", display="none", home=home)
    assert result.status == "succeeded", result.error
    assert result.steps[0].attempts == 2
    out = result.output_values()
    assert out["attempt"] == 2 and out["resumed_trials"] == 2 and out["trials"] == 4
