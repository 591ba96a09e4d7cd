"""Compute resources a step asks for, read by every backend (local, SageMaker, Kubernetes).

Example:
    >>> ResourceSettings(gpus=1, spot=True, memory="8Gi").memory_bytes
    8589934592
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, Callable

from modelway.light_models import Bounds, LightModel

# A number as people and Python write it ("1.5", and "1e+20", which is how str() writes a large or
# tiny float, and a Kubernetes quantity too): a number a field keeps as text must parse again.
_NUMBER = r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
_MEMORY = re.compile(rf"^\s*{_NUMBER}\s*(Ki|Mi|Gi|Ti|K|M|G|T|B)?\s*$")
_MEMORY_FACTOR = {
    None: 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_DURATION = re.compile(rf"^\s*{_NUMBER}\s*(ms|s|m|h|d)?\s*$")
_DURATION_FACTOR = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_memory(value: str | int) -> int:
    """Bytes in a Kubernetes-style quantity ("512Mi", "8Gi", "2G", 1024).

    Example:
        >>> parse_memory("512Mi")
        536870912
    """
    if isinstance(value, int) and not isinstance(value, bool):  # True is no number of bytes
        if value < 0:
            raise ValueError(f"invalid memory {value!r}: must not be negative")
        return value
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(f"invalid memory {value!r}: use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'")
    number, factor = match.group(1), _MEMORY_FACTOR[match.group(2)]
    amount = float(number) * factor
    if not math.isfinite(amount):  # int() of it would raise OverflowError, which no caller expects
        raise ValueError(f"invalid memory {value!r}: too large")
    return int(number) * factor if number.isdigit() else int(amount)  # whole bytes stay exact beyond 2**53


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration ("500ms", "30s", "30m", "2h", "1d", or a number of seconds).

    Example:
        >>> parse_duration("30m")
        1800.0
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            seconds = math.inf
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r}: use a number with ms/s/m/h/d, e.g. '30m'")
        seconds = float(match.group(1)) * _DURATION_FACTOR[match.group(2)]
    if not math.isfinite(seconds):  # inf or nan: no time limit or delay the runner could wait for
        raise ValueError(f"invalid duration {value!r}: must be finite")
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be positive")
    return seconds


class Checked:
    """``Annotated`` metadata: ``check`` runs before pydantic's own validation of the field
    (it raises ``ValueError`` for a bad value and returns the value to keep).

    pydantic calls :meth:`__get_pydantic_core_schema__` when it validates the field, so this module
    does not import pydantic (only a validation does).
    """

    def __init__(self, check: Callable[[Any], object]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.check, handler(source))


def kept_as_text(parse: Callable[[Any], object]) -> Callable[[Any], object]:
    """A check for an optional quantity: ``None`` stays, anything else must parse and is kept
    as the user wrote it ("8Gi", "2h")."""
    def check(value: object) -> object:
        if value is None:
            return None
        parse(value)
        return str(value)
    return check


class ResourceSettings(LightModel):
    """Resources for one step; step values override pipeline values, which override these defaults.

    ``memory`` and ``max_runtime`` keep the user's spelling ("8Gi", "2h"); use
    :attr:`memory_bytes` / :attr:`max_runtime_s` for numbers. Fields: ``cpu`` (cores, may be
    fractional), ``memory`` (Kubernetes quantity), ``gpus``, ``spot`` (spot/preemptible capacity:
    use checkpoints), ``instance_type`` (a hint, e.g. 'ml.g5.xlarge'), ``max_runtime`` (hard limit
    for the step on a backend, e.g. '2h').

    Example:
        >>> ResourceSettings(cpu=2, memory="4Gi", max_runtime="1h").max_runtime_s
        3600.0
    """

    cpu: Annotated[float, Bounds(gt=0)] | None = None
    memory: Annotated[str | None, Checked(kept_as_text(parse_memory))] = None
    gpus: Annotated[int, Bounds(ge=0)] = 0
    spot: bool = False
    instance_type: str | None = None
    max_runtime: Annotated[str | None, Checked(kept_as_text(parse_duration))] = None

    @property
    def memory_bytes(self) -> int | None:
        """Memory limit in bytes, or None."""
        return None if self.memory is None else parse_memory(self.memory)

    @property
    def max_runtime_s(self) -> float | None:
        """Maximum runtime in seconds, or None."""
        return None if self.max_runtime is None else parse_duration(self.max_runtime)
