"""Pins on the cache keys that mutation testing found loose.

Each test fails on a plausible one-point change of the code (see ``make mutate``); a property
(Hypothesis) says the general rule where examples cannot: a cache key changes exactly when a
result-relevant input changes. The artifact store's pins are in
test_artifact_store_mutation_pins.py, the run store's in test_run_store_mutation_pins.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from core_helpers import cli_json, executed, write_pipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelway.artifacts.store import ArtifactStore
from modelway.dsl.settings import StepSettings, cache_relevant, parse_settings, resolve_settings
from modelway.runtime import fingerprint

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- cache keys ----------------------------------------------------------------------------------
def _settings(**resources) -> StepSettings:
    return resolve_settings(parse_settings("step 's'", resources), None)


def test_cache_relevant_settings_are_exactly_gpus_and_instance_type() -> None:
    assert cache_relevant(_settings()) == {"gpus": 0, "instance_type": None}
    assert cache_relevant(_settings(gpus=2, instance_type="ml.g5.xlarge", retries=3, spot=True)) == {
        "gpus": 2, "instance_type": "ml.g5.xlarge"}


SETTINGS_CHANGES = {
    "gpus": ({"gpus": 0}, {"gpus": 1}, True),
    "instance_type": ({"instance_type": "ml.m5.large"}, {"instance_type": "ml.g5.xlarge"}, True),
    "retries": ({"retries": 0}, {"retries": 3}, False),
    "spot": ({"spot": False}, {"spot": True}, False),
    "timeout": ({"timeout": "1h"}, {"timeout": "2h"}, False),
}


@pytest.mark.parametrize("field", sorted(SETTINGS_CHANGES))
def test_cache_key_changes_with_settings_that_can_change_the_result_only(field: str) -> None:
    before, after, changes = SETTINGS_CHANGES[field]
    key = lambda s: fingerprint.cache_key("code", cache_relevant(_settings(**s)), {"x": 1})  # noqa: E731
    assert (key(before) != key(after)) is changes


@QUICK
@given(code=st.sampled_from(["a", "b"]), gpus=st.integers(0, 2), inputs=st.dictionaries(
    st.sampled_from(["x", "y"]), st.integers(-2, 2) | st.text(max_size=2), max_size=2),
    retries=st.integers(0, 3))
def test_cache_key_is_a_function_of_code_relevant_settings_and_inputs_only(code, gpus, inputs, retries) -> None:
    key = fingerprint.cache_key(code, cache_relevant(_settings(gpus=gpus, retries=retries)), inputs)
    assert key == fingerprint.cache_key(code, cache_relevant(_settings(gpus=gpus)), dict(reversed(inputs.items())))
    assert key != fingerprint.cache_key(code + "!", cache_relevant(_settings(gpus=gpus)), inputs)
    assert key != fingerprint.cache_key(code, cache_relevant(_settings(gpus=gpus + 1)), inputs)
    assert key != fingerprint.cache_key(code, cache_relevant(_settings(gpus=gpus)), {**inputs, "z": 0})


PAIR = """
from modelway import pipeline, step

@step
def split(n: int) -> tuple:
    return (list(range(n)), list(range(100, 100 + n)))

@step
def total(rows: list) -> int:
    return sum(rows)

@pipeline{settings}
def pair(n: int = 3) -> int:
    halves = split(n)
    return total(halves[{element}])
"""


def test_which_element_of_an_upstream_output_a_step_consumes_is_part_of_its_key(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, PAIR.format(settings="", element=0))
    assert cli_json("run", str(path), "--in-process", home=home)["outputs"] == {"result": 3}
    write_pipeline(tmp_path, PAIR.format(settings="", element=1))
    doc = cli_json("run", str(path), "--in-process", home=home)
    assert executed(doc) == ["total"]
    assert doc["outputs"] == {"result": 303}


def test_changing_the_instance_type_reruns_the_steps_but_retries_do_not(home: Path, tmp_path: Path) -> None:
    # Set on the pipeline, so the steps' source (which includes their decorator) stays the same.
    path = write_pipeline(tmp_path, PAIR.format(settings='(instance_type="ml.m5.large")', element=0))
    cli_json("run", str(path), "--in-process", home=home)
    assert executed(cli_json("run", str(path), "--in-process", home=home)) == []
    write_pipeline(tmp_path, PAIR.format(settings='(instance_type="ml.m5.xlarge")', element=0))
    assert executed(cli_json("run", str(path), "--in-process", home=home)) == ["split", "total"]
    write_pipeline(tmp_path, PAIR.format(settings='(instance_type="ml.m5.xlarge", retries=2)', element=0))
    assert executed(cli_json("run", str(path), "--in-process", home=home)) == []  # retries: same result


def test_a_cached_artifact_deleted_before_a_rerun_is_recomputed(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, PAIR.format(settings="", element=1))
    first = cli_json("run", str(path), "--in-process", home=home)
    store = ArtifactStore(home)
    removed = [d for d in (home / "artifacts").glob("*/*") if store.meta(d.name).get("type") == "builtins.int"]
    assert removed, "the run stored total's int output"
    for folder in removed:
        shutil.rmtree(folder)
    doc = cli_json("run", str(path), "--in-process", home=home)
    assert executed(doc) == ["total"]
    assert doc["outputs"] == first["outputs"] == {"result": 303}
    assert executed(cli_json("run", str(path), "--in-process", home=home)) == []
