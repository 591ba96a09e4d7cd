"""Step settings (retries, timeout, cache, resources) and the ONE place that resolves them.

Precedence: a value set on the step beats a value set on the pipeline, which beats the default.

Example:
    >>> s = resolve_settings(parse_settings("step 'train'", {"gpus": 1}), parse_settings("pipeline 'p'", {"retries": 2}))
    >>> (s.retries, s.resources.gpus)
    (2, 1)
"""
from __future__ import annotations

import re
from typing import Annotated, Any

from modelway.contracts.resource_settings import Checked, ResourceSettings, kept_as_text, parse_duration
from modelway.errors import DefinitionError
from modelway.light_models import Bounds, InvalidFields, LightModel

RESOURCE_KEYS = ResourceSettings.FIELDS
# Settings that can change what a step computes (hardware numerics), so they enter the cache key.
RESULT_AFFECTING_RESOURCES = ("gpus", "instance_type")


def _delay_text(value: object) -> object:
    """A retry delay may be zero (retry at once, kept as "0"); a time limit may not."""
    if _is_zero(value):
        return "0"
    parse_duration(value)  # type: ignore[arg-type]
    return str(value)


class StepSettings(LightModel):
    """Execution settings of a step (or pipeline-wide defaults for its steps).

    Fields: ``retries`` (extra attempts after a failure), ``retry_delay`` (wait before the first
    retry; doubles each time), ``timeout`` (per-attempt time limit, e.g. '30m'), ``cache`` (reuse
    outputs of an identical earlier execution) and ``resources``.

    Example:
        >>> StepSettings(retries=2, timeout="30m").timeout_s
        1800.0
    """

    retries: Annotated[int, Bounds(ge=0)] = 0
    retry_delay: Annotated[str, Checked(_delay_text)] = "1s"
    timeout: Annotated[str | None, Checked(kept_as_text(parse_duration))] = None
    cache: bool = True
    resources: ResourceSettings = ResourceSettings()

    @property
    def timeout_s(self) -> float | None:
        """Local per-attempt limit in seconds: ``timeout``, else ``resources.max_runtime``."""
        if self.timeout is not None:
            return parse_duration(self.timeout)
        return self.resources.max_runtime_s

    @property
    def retry_delay_s(self) -> float:
        """Seconds before the first retry."""
        return 0.0 if _is_zero(self.retry_delay) else parse_duration(self.retry_delay)


_ZERO_DURATION = re.compile(r"^\s*0*\.?0*\s*(ms|s|m|h|d)?\s*$")


def _is_zero(value: object) -> bool:
    """True for a zero duration: 0, 0.0, "0", "0s", "0ms", "0.0m"..."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and any(c == "0" for c in value) and bool(_ZERO_DURATION.match(value))


ALLOWED_KEYS = StepSettings.FIELDS + RESOURCE_KEYS


def parse_settings(where: str, options: dict[str, Any]) -> StepSettings:
    """Validate decorator keyword arguments (flat resource keys allowed) into StepSettings.

    Raises DefinitionError naming ``where`` for unknown keys and bad values.

    Example:
        >>> parse_settings("step 'x'", {"memory": "8Gi"}).resources.memory
        '8Gi'
    """
    unknown = sorted(set(options) - set(ALLOWED_KEYS))
    if unknown:
        raise DefinitionError(
            f"{where}: unknown setting {unknown[0]!r} (allowed: {', '.join(ALLOWED_KEYS)})"
        )
    flat_resources = {k: options[k] for k in RESOURCE_KEYS if k in options}
    values = {k: v for k, v in options.items() if k not in RESOURCE_KEYS}
    try:
        resources = values.get("resources")
        if isinstance(resources, dict):
            resources = ResourceSettings(**resources)
        if flat_resources:
            base = {k: getattr(resources, k) for k in resources.fields_set} if resources is not None else {}
            resources = ResourceSettings(**{**base, **flat_resources})
        if resources is not None:
            values["resources"] = resources
        return StepSettings(**values)
    except InvalidFields as exc:
        err = exc.errors()[0]  # a field's own error: its loc is the field's name
        msg = err["msg"].removeprefix("Value error, ")
        raise DefinitionError(f"{where}: setting {err['loc'][0]!r}: {msg}") from None
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"{where}: {exc}") from None


def _merge(high: LightModel, low: LightModel, cls: type[LightModel]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in cls.FIELDS:
        if key in high.fields_set:
            merged[key] = getattr(high, key)
        elif key in low.fields_set:
            merged[key] = getattr(low, key)
    return merged


def resolve_settings(step: StepSettings, pipeline: StepSettings | None) -> StepSettings:
    """Effective settings of a step: step > pipeline > defaults, field by field (resources too).

    Example:
        >>> resolve_settings(StepSettings(retries=1), StepSettings(retries=3, cache=False)).cache
        False
    """
    pipeline = pipeline or StepSettings()
    values = _merge(step, pipeline, StepSettings)
    values["resources"] = ResourceSettings(**_merge(step.resources, pipeline.resources, ResourceSettings))
    return StepSettings(**values)


def cache_relevant(settings: StepSettings) -> dict[str, Any]:
    """The part of resolved settings that can change results (enters the cache key)."""
    return {k: getattr(settings.resources, k) for k in RESULT_AFFECTING_RESOURCES}
