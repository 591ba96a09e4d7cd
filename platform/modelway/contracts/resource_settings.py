"""Compute resources a step asks for, read by every backend (local, SageMaker, Kubernetes).

Example:
    >>> ResourceSettings(gpus=1, spot=True, memory="8Gi").memory_bytes
    8589934592
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, field_validator

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T|B)?\s*$")
_MEMORY_FACTOR = {
    None: 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_FACTOR = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_memory(value: str | int) -> int:
    """Bytes in a Kubernetes-style quantity ("512Mi", "8Gi", "2G", 1024).

    Example:
        >>> parse_memory("512Mi")
        536870912
    """
    if isinstance(value, int):
        return value
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(f"invalid memory {value!r}: use a number with Ki/Mi/Gi/Ti or K/M/G/T, e.g. '8Gi'")
    return int(float(match.group(1)) * _MEMORY_FACTOR[match.group(2)])


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration ("500ms", "30s", "30m", "2h", "1d", or a number of seconds).

    Example:
        >>> parse_duration("30m")
        1800.0
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r}: use a number with ms/s/m/h/d, e.g. '30m'")
        seconds = float(match.group(1)) * _DURATION_FACTOR[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be positive")
    return seconds


class ResourceSettings(BaseModel):
    """Resources for one step; step values override pipeline values, which override these defaults.

    ``memory`` and ``max_runtime`` keep the user's spelling ("8Gi", "2h"); use
    :attr:`memory_bytes` / :attr:`max_runtime_s` for numbers.

    Example:
        >>> ResourceSettings(cpu=2, memory="4Gi", max_runtime="1h").max_runtime_s
        3600.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: PositiveFloat | None = Field(default=None, description="CPU cores (may be fractional).")
    memory: str | None = Field(default=None, description="Memory limit, Kubernetes quantity, e.g. '8Gi'.")
    gpus: NonNegativeInt = Field(default=0, description="Number of GPUs.")
    spot: bool = Field(default=False, description="Run on spot/preemptible capacity (use checkpoints).")
    instance_type: str | None = Field(default=None, description="Instance type hint, e.g. 'ml.g5.xlarge'.")
    max_runtime: str | None = Field(default=None, description="Hard limit for the step on a backend, e.g. '2h'.")

    @field_validator("memory", mode="before")
    @classmethod
    def _check_memory(cls, value: object) -> object:
        if value is None:
            return None
        parse_memory(value)  # type: ignore[arg-type]
        return str(value)

    @field_validator("max_runtime", mode="before")
    @classmethod
    def _check_runtime(cls, value: object) -> object:
        if value is None:
            return None
        parse_duration(value)  # type: ignore[arg-type]
        return str(value)

    @property
    def memory_bytes(self) -> int | None:
        """Memory limit in bytes, or None."""
        return None if self.memory is None else parse_memory(self.memory)

    @property
    def max_runtime_s(self) -> float | None:
        """Maximum runtime in seconds, or None."""
        return None if self.max_runtime is None else parse_duration(self.max_runtime)
