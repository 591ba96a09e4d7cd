"""A model's input/output schema, and a wrapper that enforces it at predict time.

A scikit-learn pipeline fed a frame with a renamed column or a numeric column full of
strings may raise a cryptic error deep inside a transformer, or, worse, silently return
predictions. :class:`GuardedModel` checks every input against the :class:`ModelSchema`
captured at training time (required columns, numeric vs categorical) and raises
:class:`SchemaMismatch` naming the column, and checks its own outputs (shape, classes,
probabilities in [0, 1]). The schema also drives semantic versioning in the registry:
a changed feature schema is a major version.

Example:
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}); y = [0, 0, 1, 1]
    >>> guarded = GuardedModel(LogisticRegression().fit(X, y), ModelSchema.infer(X, task="classification"))
    >>> guarded.predict(X).tolist()
    [0, 0, 1, 1]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from modelway.errors import UserError
from modelway.features import outputs_of, reference


class SchemaMismatch(UserError):
    """Input (or output) that does not match the model's schema; names the column and fix."""


@dataclass(frozen=True)
class FeatureSpec:
    """One input column: its name and kind (numeric or categorical)."""

    name: str
    kind: Literal["numeric", "categorical"]
    dtype: str


@dataclass(frozen=True)
class ModelSchema:
    """Inputs (ordered features) and the output of a model.

    Example:
        >>> s = ModelSchema.infer(pd.DataFrame({"x": [1.0], "c": ["a"]}), task="regression")
        >>> [f.kind for f in s.features]
        ['numeric', 'categorical']
    """

    features: tuple[FeatureSpec, ...]
    task: Literal["classification", "regression"]
    classes: tuple[Any, ...] = field(default_factory=tuple)
    # the feature function (modelway.features) computing some of the features from the others: its
    # "module:qualname" and the columns it adds; the server applies it, clients send the rest
    feature_function: str | None = None
    derived: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def infer(cls, X: pd.DataFrame, *, task: Literal["classification", "regression"], classes: Any = (),
              feature_function: Any = None) -> ModelSchema:
        specs = []
        for name in X.columns:
            col = X[name]
            numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            specs.append(FeatureSpec(str(name), "numeric" if numeric else "categorical", str(col.dtype)))
        if feature_function is None:
            return cls(tuple(specs), task, tuple(_plain(c) for c in classes))

        derived = outputs_of(feature_function)
        absent = [d for d in derived if d not in X.columns]
        if absent:
            raise UserError(f"feature function {reference(feature_function)} adds {absent}, which are not model features")
        return cls(tuple(specs), task, tuple(_plain(c) for c in classes), reference(feature_function), tuple(derived))

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def signature(self) -> dict[str, Any]:
        """What counts as "the feature schema" for versioning: names and kinds, in order."""
        out: dict[str, Any] = {"features": [[f.name, f.kind] for f in self.features], "task": self.task}
        if self.feature_function:
            out["feature_function"] = {"ref": self.feature_function, "outputs": list(self.derived)}
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {"features": [asdict(f) for f in self.features], "task": self.task, "classes": list(self.classes)}
        if self.feature_function:
            out["feature_function"] = {"ref": self.feature_function, "outputs": list(self.derived)}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSchema:
        ff = data.get("feature_function") or {}
        return cls(tuple(FeatureSpec(**f) for f in data["features"]), data["task"], tuple(data.get("classes", ())),
                   ff.get("ref"), tuple(ff.get("outputs", ())))

    def check(self, X: Any) -> pd.DataFrame:
        """Return ``X`` restricted to the model's columns, in order; raise on a mismatch.

        Example:
            >>> s = ModelSchema.infer(pd.DataFrame({"x": [1.0]}), task="regression")
            >>> try:
            ...     s.check(pd.DataFrame({"y": [1.0]}))
            ... except SchemaMismatch as exc:
            ...     print(exc)
            model input is missing column(s) ['x']; expected columns ['x'] (got ['y'])
        """
        if isinstance(X, dict):
            # one row unless the values are columns; None (a missing value) is not a scalar to numpy,
            # and a dict of scalars and None made pandas raise "If using all scalar values, you must pass an index"
            X = pd.DataFrame([X]) if all(v is None or np.isscalar(v) for v in X.values()) else pd.DataFrame(X)
        elif isinstance(X, list) and X and isinstance(X[0], dict):
            X = pd.DataFrame(X)
        if not isinstance(X, pd.DataFrame):
            raise SchemaMismatch(
                f"model input must be a table with named columns (DataFrame, dict or list of dicts), got {type(X).__name__}; "
                f"expected columns {self.feature_names}"
            )
        missing = [n for n in self.feature_names if n not in X.columns]
        if missing:
            raise SchemaMismatch(
                f"model input is missing column(s) {missing}; expected columns {self.feature_names} (got {list(map(str, X.columns))})"
            )
        for spec in self.features:
            col = X[spec.name]
            if spec.kind == "numeric":
                if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                    # a plain value, so the message shows True, not numpy's repr np.True_
                    example = _plain(col.dropna().iloc[0]) if col.notna().any() else None
                    raise SchemaMismatch(
                        f"model input column {spec.name!r} must be numeric, got dtype {col.dtype} (e.g. {example!r}); convert it before predicting"
                    )
            elif pd.api.types.is_numeric_dtype(col) and col.notna().any():
                raise SchemaMismatch(
                    f"model input column {spec.name!r} must be categorical (strings), got numeric dtype {col.dtype}"
                )
        return X[self.feature_names]


class GuardedModel(BaseEstimator):
    """A fitted estimator that enforces its :class:`ModelSchema` on input and output.

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
        >>> m = GuardedModel(LinearRegression().fit(X, [0, 1, 2]), ModelSchema.infer(X, task="regression"))
        >>> m.predict({"a": 3.0}).round(3).tolist()
        [3.0]
    """

    def __init__(self, model: Any, schema: ModelSchema):
        self.model = model
        self.schema = schema

    @property
    def _estimator_type(self) -> str:
        return "classifier" if self.schema.task == "classification" else "regressor"

    def __sklearn_tags__(self):  # let sklearn's is_classifier/is_regressor see the task
        tags = super().__sklearn_tags__()
        tags.estimator_type = self._estimator_type
        return tags

    @property
    def classes_(self) -> np.ndarray:
        return getattr(self.model, "classes_", np.asarray(self.schema.classes))

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self.schema.feature_names, dtype=object)

    def fit(self, X: Any, y: Any = None) -> GuardedModel:
        self.model.fit(self.schema.check(X), y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        data = self.schema.check(X)
        out = np.asarray(self.model.predict(data))
        if out.shape[0] != len(data):
            raise SchemaMismatch(f"model returned {out.shape[0]} predictions for {len(data)} rows")
        if self.schema.task == "classification" and self.schema.classes:
            unknown = set(np.unique(out).tolist()) - set(self.schema.classes)
            if unknown:
                raise SchemaMismatch(f"model predicted unknown class(es) {sorted(unknown)}; classes are {list(self.schema.classes)}")
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.schema.task != "classification":
            raise SchemaMismatch("predict_proba is only available for classifiers")
        data = self.schema.check(X)
        proba = np.asarray(self.model.predict_proba(data))
        if proba.shape[0] != len(data) or (proba.size and (proba.min() < -1e-9 or proba.max() > 1 + 1e-9)):
            raise SchemaMismatch("model returned probabilities outside [0, 1] or of the wrong shape")
        return proba

    def score_positive(self, X: Any) -> np.ndarray:
        """Score of the positive (last) class for binary classifiers, else the prediction
        (what the baseline profile and the monitor compare as the prediction distribution)."""
        if self.schema.task == "classification":
            return self.predict_proba(X)[:, -1]
        return self.predict(X)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
