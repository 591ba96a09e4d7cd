"""Computed semantic versions for model versions (never typed by hand).

* **major** when the feature schema (input column names/kinds, task) or the estimator
  family changes — consumers of the model must adapt;
* **minor** on a retrain: a different artifact or different training data versions;
* **patch** on a metadata-only change: the same artifact and data, new card/metrics/tags.

Example:
    >>> prev = VersionFacts("1.2.0", schema={"f": ["a"]}, family="sklearn.linear_model.LogisticRegression",
    ...                     artifact_sha256="aa", data_versions={"d": "1"})
    >>> next_version(prev, VersionFacts(None, {"f": ["a"]}, prev.family, "bb", {"d": "1"}))
    ('1.3.0', 'minor: retrained (new artifact or data)')
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from modelway.errors import UserError


@dataclass(frozen=True)
class VersionFacts:
    """What semver compares between the latest version and a candidate."""

    version: str | None
    schema: dict[str, Any]
    family: str
    artifact_sha256: str
    data_versions: dict[str, str] = field(default_factory=dict)


def parse(version: str) -> tuple[int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3)``; a clear error otherwise.

    Example:
        >>> parse("2.0.11")
        (2, 0, 11)
    """
    parts = version.strip().lstrip("v").split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise UserError(f"invalid model version {version!r}; expected MAJOR.MINOR.PATCH such as 1.2.0")
    return int(parts[0]), int(parts[1]), int(parts[2])


def next_version(previous: VersionFacts | None, candidate: VersionFacts) -> tuple[str, str]:
    """The candidate's version and why (``major: ...``/``minor: ...``/``patch: ...``).

    Example:
        >>> next_version(None, VersionFacts(None, {}, "x", "aa"))
        ('1.0.0', 'first version')
    """
    if previous is None or previous.version is None:
        return "1.0.0", "first version"
    major, minor, patch = parse(previous.version)
    if _canon(previous.schema) != _canon(candidate.schema):
        return f"{major + 1}.0.0", "major: feature schema changed"
    if previous.family != candidate.family:
        return f"{major + 1}.0.0", f"major: estimator family changed ({previous.family} -> {candidate.family})"
    if previous.artifact_sha256 != candidate.artifact_sha256 or _canon(previous.data_versions) != _canon(candidate.data_versions):
        return f"{major}.{minor + 1}.0", "minor: retrained (new artifact or data)"
    return f"{major}.{minor}.{patch + 1}", "patch: metadata-only change (same artifact and data)"


def estimator_family(model: Any) -> str:
    """The estimator family: the learning step's class path (unwrapping guards and pipelines).

    Example:
        >>> from sklearn.linear_model import Ridge
        >>> estimator_family(Ridge())
        'sklearn.linear_model.Ridge'
    """
    inner = model
    for _ in range(5):  # bounded: a wrapper that (indirectly) wraps itself must not loop
        if hasattr(inner, "schema") and hasattr(inner, "model"):
            inner = inner.model
        elif getattr(inner, "steps", None):
            inner = inner.steps[-1][1]
        else:
            break
    cls = type(inner)
    module = cls.__module__
    if module.startswith("sklearn."):
        module = ".".join(module.split(".")[:2])  # drop private submodules (_logistic, _hist_gradient_boosting...)
    return f"{module}.{cls.__qualname__}"


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
