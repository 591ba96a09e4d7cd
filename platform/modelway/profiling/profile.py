"""Baseline profiles: what a model's inputs and predictions looked like at training time.

A profile is computed from the training frame when a version is registered and stored next
to it (``$MODELWAY_HOME/monitoring/baselines/<model>/<version>.json``, written atomically).
It holds, per feature: the kind, the missing rate, and for numeric features decile bin
edges with their frequencies (for PSI) plus a seeded sample of at most
:data:`SAMPLE_SIZE` values (for the two-sample Kolmogorov-Smirnov test, which needs data,
not a summary); for categorical features the category frequencies. The prediction
(positive-class score, or the regression output) is profiled like a numeric feature.

The server uses the categories to reject unknown ones with a 400; the monitor compares
live traffic against the profile (:mod:`modelway.profiling.drift`).

Example:
    >>> import pandas as pd
    >>> p = build_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "b", "a", "a"]}),
    ...                   {"x": "numeric", "c": "categorical"})
    >>> p.features["c"].frequencies
    {'a': 0.75, 'b': 0.25}
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from modelway.errors import UserError
from modelway.files import atomic_write_text

SAMPLE_SIZE = 5_000
PSI_BINS = 10


@dataclass
class FeatureProfile:
    """One column at training time."""

    kind: Literal["numeric", "categorical"]
    missing_rate: float
    # numeric
    bin_edges: list[float] = field(default_factory=list)  # inner edges; bins are (-inf, e0], (e0, e1], ..., (ek, inf)
    bin_frequencies: list[float] = field(default_factory=list)
    sample: list[float] = field(default_factory=list)
    mean: float | None = None
    std: float | None = None
    # categorical
    frequencies: dict[str, float] = field(default_factory=dict)


@dataclass
class BaselineProfile:
    """The profile of one model version (features + prediction)."""

    model: str
    version: str
    rows: int
    created_at: str
    features: dict[str, FeatureProfile]
    prediction: FeatureProfile | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def categories(self, name: str) -> set[str] | None:
        """Known categories of a categorical feature (None if not profiled)."""
        spec = self.features.get(name)
        return set(spec.frequencies) if spec is not None and spec.kind == "categorical" else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineProfile:
        feats = {k: FeatureProfile(**v) for k, v in data["features"].items()}
        pred = FeatureProfile(**data["prediction"]) if data.get("prediction") else None
        return cls(data["model"], data["version"], data["rows"], data["created_at"], feats, pred, data.get("metrics", {}))


def profile_numeric(values: Any, *, seed: int = 0) -> FeatureProfile:
    """Profile one numeric column (NaN counted as missing; inf as missing too)."""
    x = np.asarray(values, dtype="float64")
    finite = x[np.isfinite(x)]
    missing = 1.0 - (finite.size / x.size) if x.size else 0.0
    if finite.size == 0:
        return FeatureProfile("numeric", missing)
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=edges.size + 1)
    rng = np.random.default_rng(seed)
    sample = finite if finite.size <= SAMPLE_SIZE else rng.choice(finite, SAMPLE_SIZE, replace=False)
    return FeatureProfile("numeric", float(missing), edges.tolist(), (counts / finite.size).tolist(),
                          np.round(sample, 10).tolist(), float(finite.mean()), float(finite.std()))


def profile_categorical(values: Any) -> FeatureProfile:
    """Profile one categorical column (None/NaN counted as missing)."""
    import pandas as pd

    s = pd.Series(values, dtype="object")
    present = s.dropna()
    missing = 1.0 - present.size / s.size if s.size else 0.0
    freq = present.astype(str).value_counts(normalize=True).sort_index()
    return FeatureProfile("categorical", float(missing), frequencies={str(k): float(v) for k, v in freq.items()})


def build_profile(frame: Any, kinds: dict[str, str], *, predictions: Any = None, model: str = "", version: str = "",
                  metrics: dict[str, Any] | None = None) -> BaselineProfile:
    """Profile ``frame``'s columns named in ``kinds`` (name -> numeric|categorical) and the predictions."""
    feats = {name: profile_numeric(frame[name]) if kind == "numeric" else profile_categorical(frame[name])
             for name, kind in kinds.items()}
    pred = profile_numeric(predictions) if predictions is not None else None
    return BaselineProfile(model, version, int(len(frame)), datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           feats, pred, dict(metrics or {}))


def profile_model(model: Any, frame: Any) -> BaselineProfile:
    """Profile of a :class:`~modelway.stages.model_schema.GuardedModel` on its training frame."""
    kinds = {f.name: f.kind for f in model.schema.features}
    X = frame[list(kinds)]
    return build_profile(X, kinds, predictions=model.score_positive(X))


def baseline_path(home: Path, model: str, version: str) -> Path:
    return Path(home) / "monitoring" / "baselines" / model / f"{version}.json"


def save_baseline(home: Path, model: str, version: str, profile: BaselineProfile) -> Path:
    """Store the profile of ``model`` ``version`` (atomically); returns its path."""
    profile.model, profile.version = model, version
    path = baseline_path(home, model, version)
    atomic_write_text(path, profile.to_json(), create_parents=True)
    return path


def load_baseline(home: Path, model: str, version: str, *, required: bool = True) -> BaselineProfile | None:
    """The stored profile, or None (``required=False``) / a UserError naming the fix."""
    path = baseline_path(home, model, version)
    try:
        return BaselineProfile.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        if not required:
            return None
        raise UserError(f"no baseline profile for {model} {version} at {path}; it is computed at registration "
                        f"(or: modelway baseline {model}@{version} --data TRAINING_FILE)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"baseline profile {path} is unreadable ({exc}); recompute it with "
                        f"modelway baseline {model}@{version} --data TRAINING_FILE") from None


def sample_rows(features: list[tuple[str, str]], home: Path, model: str, version: str, n: int) -> list[dict[str, Any]]:
    """``n`` plausible input rows for ``version`` (from its baseline profile when there is one)."""
    profile = load_baseline(home, model, version, required=False)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, kind in features:
        spec = profile.features.get(name) if profile else None
        if kind == "numeric":
            values = spec.sample if spec and spec.sample else [0.0]
            for i, row in enumerate(rows):
                row[name] = values[(i * 7919) % len(values)]
        else:
            cats = sorted(spec.frequencies, key=lambda c: -spec.frequencies[c]) if spec and spec.frequencies else ["unknown"]
            for i, row in enumerate(rows):
                row[name] = cats[i % min(len(cats), 3)]
    return rows
