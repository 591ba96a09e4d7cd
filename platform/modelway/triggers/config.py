"""Retraining triggers, declared per pipeline in a YAML file (``modelway triggers evaluate --config FILE``).

Example file::

    max_concurrent: 1              # retrains running at once, across all pipelines
    pipelines:
      credit_risk:
        file: pipelines/credit_risk.py
        params: {n_rows: 20000}
        cooldown: 6h               # a condition that stays true fires once per cooldown
        triggers:
          - {name: nightly, kind: schedule, cron: "0 3 * * *"}
          - {name: drift, kind: drift, model: credit-risk, max_drifted_features: 2}
          - {name: accuracy, kind: performance, model: credit-risk, below: 0.70}
          - {name: new-data, kind: data, dataset: credit-synthetic}
          - {name: labels, kind: labels, endpoint: credit-risk, new_rows: 500}
          # with a partial_fit model: - {..., kind: labels, ..., incremental: true}

Kinds: ``schedule`` (cron expression, croniter), ``drift`` (the latest monitor pass found more
drifted features than allowed), ``performance`` (the latest monitored metric below a
threshold), ``data`` (a new version of a registered dataset), ``labels`` (N new labelled
rows came back through ``modelway feedback``).

Example:
    >>> TriggerSpec(name="n", kind="schedule", cron="0 3 * * *").kind
    'schedule'
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from modelway.config_files import load_yaml_text
from modelway.errors import ConfigError, UserError


class TriggerSpec(BaseModel):
    """One condition that launches its pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["schedule", "drift", "performance", "data", "labels"]
    cron: str | None = None
    model: str | None = None
    max_drifted_features: int = Field(0, ge=0)
    metric: str = "performance.accuracy"
    below: float | None = None
    dataset: str | None = None
    endpoint: str | None = None
    new_rows: int | None = Field(None, ge=1)
    incremental: bool = Field(False, description="labels trigger: update the serving model with partial_fit "
                                                 "on the new rows instead of a full retrain (when it supports it)")

    @model_validator(mode="after")
    def _required_fields(self) -> TriggerSpec:
        needs = {"schedule": ["cron"], "drift": ["model"], "performance": ["model", "below"], "data": ["dataset"],
                 "labels": ["endpoint", "new_rows"]}[self.kind]
        missing = [f for f in needs if getattr(self, f) is None]
        if missing:
            raise ValueError(f"trigger {self.name!r} ({self.kind}) needs {', '.join(missing)}")
        if self.incremental and self.kind != "labels":
            raise ValueError(f"trigger {self.name!r}: incremental updates need a labels trigger (new labelled rows)")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"trigger {self.name!r}: {self.cron!r} is not a valid cron expression")
        return self


class PipelineTriggers(BaseModel):
    """A pipeline, how to run it, and what launches it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    params: dict[str, Any] = {}
    cooldown: str = "1h"
    triggers: list[TriggerSpec]

    @field_validator("cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        from modelway.monitoring.monitor import parse_window

        try:
            parse_window(value)
        except UserError:  # its message names the monitor's --window flag; here the file's key is at fault
            raise ValueError(f"{value!r} is not a duration such as 30m, 1h or 2d") from None
        return value

    @property
    def cooldown_s(self) -> float:
        from modelway.monitoring.monitor import parse_window

        return parse_window(self.cooldown)


class TriggersConfig(BaseModel):
    """The whole triggers file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrent: int = Field(1, ge=1)
    pipelines: dict[str, PipelineTriggers]


def load_triggers(path: Path) -> TriggersConfig:
    """Parse and validate the triggers file; ConfigError names the file and key."""
    try:
        # the strict loader: a duplicate key is an error (naming both lines), never "last one wins"
        data = load_yaml_text(Path(path).read_text(), path) or {}
        return TriggersConfig.model_validate(data)
    except FileNotFoundError:
        raise ConfigError(f"triggers file {path} not found") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ConfigError(f"triggers file {path}: {where + ': ' if where else ''}{first['msg']}") from None
