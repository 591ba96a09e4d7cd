"""The shared tail of a governed pipeline as library steps: ``track`` -> ``package`` -> ``register``.

Every lifecycle pipeline ends the same way, so a pipeline file imports these instead of
copying them::

    from modelway.stages.steps import package, register, track

    mlflow_run_id = track(split, trained, evaluation)
    candidate = package(trained, evaluation, split, mlflow_run_id, model_name="credit-risk")
    return register(candidate, env, promotion_rules)

``register`` is never cached: it writes to the registry, so a re-run after the registry lost
a version registers it again. It is idempotent (same artifact and metadata -> the existing
version) and cheap: its input is a :class:`~modelway.stages.results.ModelPackage` of plain
values and it preloads nothing, so a cached re-run imports no pandas, scikit-learn or MLflow.

Example:
    >>> register.settings.cache, track.name
    (False, 'track')
"""
from __future__ import annotations

from modelway.dsl.step import step
from modelway.stages import registration
from modelway.stages.results import Evaluation, ModelPackage, Registration, Split, TrainedModel

# What loading a Split and a TrainedModel imports; already imported when an earlier step ran.
_PRELOAD = ["pandas", "pyarrow", "sklearn.base", "modelway.stages.lifecycle"]


@step(preload=[*_PRELOAD, "modelway.stages.mlflow_loaded"])  # register, forked later, inherits MLflow
def track(split: Split, trained: TrainedModel, evaluation: Evaluation) -> str:
    """One MLflow run: params, CV and test metrics, the model with its signature, the reports and card."""
    # imported here: lifecycle pulls in numpy/pandas/scikit-learn, which loading a pipeline file must not
    from modelway.stages.lifecycle import track as log_to_mlflow

    return log_to_mlflow(split, trained, evaluation)


@step(preload=_PRELOAD)
def package(trained: TrainedModel, evaluation: Evaluation, split: Split, mlflow_run_id: str, model_name: str) -> ModelPackage:
    """The candidate as the registry records it: metadata as plain values, the pickled model in the artifact store."""
    return registration.package(trained, evaluation, split, model_name=model_name, mlflow_run_id=mlflow_run_id)


@step(cache=False)
def register(candidate: ModelPackage, env: str, promotion_rules: dict) -> Registration:
    """Register the version (semver computed) and apply the environment's approval rules."""
    return registration.register_package(candidate, environment=env, promotion_rules=promotion_rules)
