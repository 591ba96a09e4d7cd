"""Dependency changes (ML Test Score Mon1): the library versions a model was built with, compared with the champion's.

The step cache already keys each step on the versions of the third-party libraries its code
imports (:func:`modelway.runtime.fingerprint.code_hash`), so upgrading scikit-learn re-runs
the steps that use it. This module records the versions that matter for a model in its card
and reports, as an advisory check, every library whose version differs from the champion's.

Example:
    >>> dependency_check({"numpy": "2.0"}, {"numpy": "1.26"}).message
    'library versions differ from the champion: numpy 1.26 -> 2.0'
"""
from __future__ import annotations

from typing import Any

from modelway.runtime.fingerprint import distribution_versions
from modelway.stages.gates import CheckResult

CORE_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy")


def model_libraries(model: Any) -> dict[str, str]:
    """Versions of the core numeric libraries and of every library an estimator in ``model`` comes from.

    Example:
        >>> from sklearn.linear_model import Ridge
        >>> "scikit-learn" in model_libraries(Ridge())
        True
    """
    tops = {"numpy", "pandas", "sklearn", "scipy"}
    stack = [model]
    while stack:
        obj = stack.pop()
        tops.add(type(obj).__module__.partition(".")[0])
        for attr in ("model", "steps", "transformers", "estimator", "transformers_"):
            value = getattr(obj, attr, None)
            if isinstance(value, list):
                stack.extend(item[1] if isinstance(item, tuple) else item for item in value)
            elif value is not None and hasattr(value, "fit"):
                stack.append(value)
    tops.discard("modelway")
    return distribution_versions(sorted(tops))


def dependency_check(current: dict[str, str], champion: dict[str, str] | None, champion_label: str = "the champion") -> CheckResult:
    """Advisory: which library versions differ from the champion's (passes when none do or there is no champion)."""
    if not champion:
        return CheckResult("dependencies.vs_champion", True, "no champion with recorded library versions to compare against",
                           observed=current, category="dependencies", advisory=True)
    changed = {name: (champion.get(name), version) for name, version in sorted(current.items()) if champion.get(name) != version}
    if not changed:
        return CheckResult("dependencies.vs_champion", True, f"same library versions as {champion_label} ({len(current)} libraries)",
                           observed=current, category="dependencies", advisory=True)
    return CheckResult(
        "dependencies.vs_champion", False,
        "library versions differ from " + champion_label + ": " + ", ".join(f"{n} {old or 'absent'} -> {new}" for n, (old, new) in changed.items()),
        observed=current, limit=champion, count=len(changed), category="dependencies", advisory=True,
    )
