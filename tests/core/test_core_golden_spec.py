"""The compiled DAG (``modelway run --dry-run --json``) of an example pipeline matches a golden file.

Regenerate after an intended change with: MODELWAY_UPDATE_GOLDEN=1 pytest tests/core/test_core_golden_spec.py
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from core_helpers import cli, write_pipeline

GOLDEN = Path(__file__).parent / "golden"

TRAINING = """
from dataclasses import dataclass
from modelway import ResourceSettings, pipeline, step

@dataclass
class Split:
    train: list
    test: list

@step
def load(rows: int) -> list[int]:
    return list(range(rows))

@step(cache=False)
def split(data: list[int], test_share: float) -> Split:
    cut = int(len(data) * (1 - test_share))
    return Split(data[:cut], data[cut:])

@step(retries=2, timeout="2h", gpus=1, spot=True, memory="16Gi", instance_type="ml.g5.xlarge")
def train(train_rows: list, lr: float) -> float:
    return sum(train_rows) * lr

@step
def evaluate(model: float, test_rows: list) -> dict:
    return {"score": model / (1 + len(test_rows))}

@pipeline(name="training", resources=ResourceSettings(cpu=2, memory="4Gi"), retries=1)
def training(rows: int = 100, lr: float = 0.1, test_share: float = 0.2) -> dict:
    parts = split(load(rows), test_share)
    model = train(parts["train"], lr)
    return {"model": model, "metrics": evaluate(model, parts["test"])}
"""


@dataclass(frozen=True)
class GoldenCase:
    name: str
    source: str
    params: tuple[str, ...] = ()


CASES = [GoldenCase("training_default", TRAINING), GoldenCase("training_params", TRAINING, ("rows=500", "lr=0.05"))]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_dag_matches_golden(case: GoldenCase, home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, case.source)
    args = ["run", str(path), "--dry-run", "--json"]
    for p in case.params:
        args += ["--param", p]
    proc = cli(*args, home=home)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(proc.stdout)
    golden = GOLDEN / f"{case.name}.json"
    if os.environ.get("MODELWAY_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    assert spec == json.loads(golden.read_text())
    assert not (home / "modelway.db").exists()  # a dry run records nothing
