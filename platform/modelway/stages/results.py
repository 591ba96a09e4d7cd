"""What the lifecycle stages hand each other: typed, frozen results instead of dicts with string keys.

Steps annotate their parameters and return values with these types, so the DSL checks the
wiring when the pipeline is built (passing a ``Split`` where a ``TrainedModel`` is expected
fails before any step runs). They are plain frozen dataclasses: pickled into the artifact
store like any dataclass, and loading one imports only this module (pandas, scikit-learn and
MLflow are not imported here; DataFrame fields are typed for readers under ``TYPE_CHECKING``).

Example:
    >>> from modelway.dsl.types import is_compatible
    >>> is_compatible(Split, Split), is_compatible(Split, TrainedModel)
    (True, False)
    >>> ModelPackage(model="m", model_artifact="ab", artifact_sha256="cd", family="Ridge", schema={}, metrics={},
    ...              fairness=None, model_card={}, hyperparameters={}, code_commit="unknown",
    ...              data_versions={}, mlflow_run_id=None, gates_passed=True).gates_passed
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import pandas as pd

    from modelway.stages.model_schema import GuardedModel

    DataFrame = pd.DataFrame
else:  # resolvable at run time (the DSL reads these hints) without importing pandas
    DataFrame = Any
    GuardedModel = Any


@dataclass(frozen=True)
class RawData:
    """A loaded dataset and the registered versions it came from (``{name: version}``)."""

    frame: DataFrame
    data_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    """Validated data split for training and testing, with the validation report (JSON) and data versions."""

    train: DataFrame
    test: DataFrame
    validation: dict[str, Any] = field(default_factory=dict)
    data_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedModel:
    """The refitted model (wrapped in its schema guard) and the search/CV summary that produced it."""

    model: GuardedModel
    training: dict[str, Any]
    features: tuple[str, ...]
    experiment: str = "modelway"
    mlflow_run_id: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """The model tests' outcome: the gate report and model card (JSON), metrics overall, per slice and
    per group, the champion compared against, and a sample of predictions for the run report."""

    report: dict[str, Any]
    card: dict[str, Any]
    metrics: dict[str, Any]
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)
    fairness: dict[str, Any] | None = None
    predictions: dict[str, Any] = field(default_factory=dict)
    artifact_bytes: int = 0
    champion: dict[str, Any] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    """Tables and curves behind the ML Test Score checks (importance, cost, baselines, staleness, curves...)."""

    @property
    def passed(self) -> bool:
        """True when every model test passed."""
        return bool(self.report.get("passed"))


@dataclass(frozen=True)
class ModelPackage:
    """Everything the registry records about a candidate, as plain JSON values; the pickled model
    itself sits in the artifact store (``model_artifact`` is its digest). Loading it imports
    neither pandas nor scikit-learn, so the uncached register step stays cheap."""

    model: str
    model_artifact: str
    artifact_sha256: str
    family: str
    schema: dict[str, Any]
    metrics: dict[str, Any]
    fairness: dict[str, Any] | None
    model_card: dict[str, Any]
    hyperparameters: dict[str, Any]
    code_commit: str
    data_versions: dict[str, str]
    mlflow_run_id: str | None
    gates_passed: bool
    baseline_artifact: str | None = None
    """Digest of the training-data profile (``monitoring.profile``) the monitor and the server compare against."""


class Registration(TypedDict):
    """What registering a package returns (a plain dict: it is the pipeline's JSON output)."""

    model: str
    version: str
    status: str
    environment: str
    version_reason: str
    model_card: str
    run_id: str | None
    mlflow_run_id: str | None
    mlflow_ui: str
    artifact_sha256: str
    already_registered: bool
