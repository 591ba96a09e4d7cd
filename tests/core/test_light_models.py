"""Settings objects (step settings, resources, runtime settings) validate like pydantic, but a
plain run never imports pydantic: values taken as they are must be exactly what pydantic returns."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.contracts.resource_settings import ResourceSettings
from modelway.dsl.settings import StepSettings, parse_settings, resolve_settings
from modelway.light_models import InvalidFields, LightModel
from modelway.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CLASSES = [ResourceSettings, StepSettings, Settings]

values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False),
                   st.text(max_size=4), st.sampled_from(["0", "8Gi", "30m", "process", "1.5", "true"]),
                   st.builds(Path, st.sampled_from(["a", "/tmp/x", "."])))


@settings(max_examples=300, deadline=None)
@given(cls=st.sampled_from(CLASSES), data=st.data())
def test_a_value_taken_as_it_is_is_what_pydantic_returns(cls: type[LightModel], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([f for f in cls.FIELDS if f != "resources"]))
    value = data.draw(values)
    try:
        expected = cls._validate({name: value})[name]
    except InvalidFields as exc:
        with pytest.raises(InvalidFields) as caught:
            cls(**{name: value})
        assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [(e["loc"], e["msg"]) for e in exc.errors()]
        return
    got = getattr(cls(**{name: value}), name)
    assert (got, type(got)) == (expected, type(expected))


def test_only_values_that_need_converting_go_to_pydantic() -> None:
    assert ResourceSettings._takes_as_is("spot", True)
    assert ResourceSettings._takes_as_is("instance_type", "ml.g5.xlarge")
    assert ResourceSettings._takes_as_is("instance_type", None)
    assert not ResourceSettings._takes_as_is("gpus", 1)          # constrained (>= 0)
    assert not ResourceSettings._takes_as_is("spot", 1)          # an int for a bool: pydantic decides
    assert not ResourceSettings._takes_as_is("memory", "8Gi")    # checked quantity
    assert not ResourceSettings._takes_as_is("bogus", 1)         # unknown: pydantic names it
    assert Settings._takes_as_is("home", Path("/x")) and not Settings._takes_as_is("home", "/x")
    assert not Settings._takes_as_is("executor", "inprocess")     # Literal


def test_errors_name_the_field_and_unknown_fields_are_refused() -> None:
    with pytest.raises(InvalidFields, match=r"^gpus: Input should be greater than or equal to 0$"):
        ResourceSettings(gpus=-1)
    with pytest.raises(InvalidFields, match=r"^colour: Extra inputs are not permitted$"):
        ResourceSettings(colour="red")
    with pytest.raises(InvalidFields, match=r"^memory: Value error, invalid memory '8 lots'"):
        ResourceSettings(memory="8 lots")


def test_frozen_equal_hashable_and_picklable_with_the_fields_set() -> None:
    resources = ResourceSettings(gpus=2, memory="8Gi")
    with pytest.raises(AttributeError, match="frozen"):
        resources.gpus = 3  # type: ignore[misc]
    assert resources == ResourceSettings(memory="8Gi", gpus=2) != ResourceSettings(gpus=2)
    assert hash(resources) == hash(ResourceSettings(memory="8Gi", gpus=2))
    copy = pickle.loads(pickle.dumps(resources))
    assert copy == resources and copy.fields_set == {"gpus", "memory"} and copy.memory_bytes == 8 * 2**30
    assert ResourceSettings(gpus=0).fields_set == {"gpus"} and ResourceSettings().fields_set == frozenset()


def test_as_dict_nests_and_leaves_out_defaults_on_request() -> None:
    step = StepSettings(retries=1, resources=ResourceSettings(gpus=1))
    assert step.as_dict(exclude_defaults=True) == {"retries": 1, "resources": {"gpus": 1}}
    assert step.as_dict()["resources"]["spot"] is False
    assert Settings(home=Path("/srv/mw")).as_dict(json=True)["home"] == "/srv/mw"


def test_a_value_set_to_its_default_on_the_step_still_beats_the_pipeline() -> None:
    pipeline = parse_settings("pipeline 'p'", {"retries": 2, "gpus": 1, "cache": False})
    step = parse_settings("step 's'", {"retries": 0, "gpus": 0})
    resolved = resolve_settings(step, pipeline)
    assert (resolved.retries, resolved.resources.gpus, resolved.cache) == (0, 0, False)


def test_a_plain_run_never_imports_pydantic(tmp_path: Path) -> None:
    pipe = tmp_path / "one.py"
    pipe.write_text("from modelway import pipeline, step\n\n@step\ndef double(n: int) -> int:\n    return 2 * n\n\n"
                    "@pipeline\ndef one(n: int = 3) -> int:\n    return double(n)\n")
    code = ("import sys\nfrom modelway.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core', 'typer', 'rich'}))\n")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(pipe), "--plain"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60,
                          env={"PYTHONPATH": str(REPO / "platform"), "PATH": "/usr/bin:/bin",
                               "MODELWAY_HOME": str(tmp_path / "home"), "MODELWAY_USER": "ana"})
    assert proc.returncode == 0, proc.stderr
    assert "result: 6" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


def test_bounds_are_pydantic_number_constraints_and_nothing_else() -> None:
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    from modelway.light_models import Bounds

    assert TypeAdapter(Annotated[int, Bounds(ge=0, lt=3)]).validate_python("2") == 2
    with pytest.raises(ValidationError, match="Input should be less than 3"):
        TypeAdapter(Annotated[int, Bounds(ge=0, lt=3)]).validate_python(3)
    with pytest.raises(TypeError, match=r"^Bounds apply to int and float fields, not <class .str.>$"):
        TypeAdapter(Annotated[str, Bounds(ge=0)])
    with pytest.raises(TypeError, match="unknown bound 'min'"):
        Bounds(min=0)


# -- dsl.settings: what a user writes in @step(...) / @pipeline(...) -----------------------------

@pytest.mark.parametrize("delay, stored, seconds", [
    (0, "0", 0.0), (0.0, "0", 0.0), ("0", "0", 0.0), ("0s", "0", 0.0), ("0ms", "0", 0.0), ("0.0m", "0", 0.0),
    (" 00 ", "0", 0.0), ("2s", "2s", 2.0), ("500ms", "500ms", 0.5), (3, "3", 3.0), ("10", "10", 10.0),
])
def test_a_retry_delay_may_be_zero_and_is_kept_as_written(delay: object, stored: str, seconds: float) -> None:
    step = parse_settings("step 's'", {"retry_delay": delay})
    assert (step.retry_delay, step.retry_delay_s) == (stored, seconds)


def test_the_default_retry_delay_is_one_second() -> None:
    assert (StepSettings().retry_delay, StepSettings().retry_delay_s) == ("1s", 1.0)


@pytest.mark.parametrize("delay", [True, False, "", "ms", ".", "x0", "-0", "0x", "1 0"])
def test_a_retry_delay_that_is_not_a_duration_is_refused(delay: object) -> None:
    from modelway.errors import DefinitionError

    with pytest.raises(DefinitionError, match=r"^step 's': setting 'retry_delay': invalid duration"):
        parse_settings("step 's'", {"retry_delay": delay})


def test_an_unknown_setting_lists_every_allowed_key_in_order() -> None:
    from modelway.errors import DefinitionError

    with pytest.raises(DefinitionError) as caught:
        parse_settings("step 'train'", {"gpuz": 1, "zz": 2})
    assert str(caught.value) == (
        "step 'train': unknown setting 'gpuz' (allowed: retries, retry_delay, timeout, cache, resources, "
        "cpu, memory, gpus, spot, instance_type, max_runtime)")


def test_resources_given_as_a_dict_or_an_object_combine_with_flat_keys() -> None:
    from modelway.errors import DefinitionError

    as_dict = parse_settings("step 's'", {"resources": {"memory": "8Gi", "spot": True}, "gpus": 1})
    as_object = parse_settings("step 's'", {"resources": ResourceSettings(memory="8Gi", spot=True), "gpus": 1})
    for step in (as_dict, as_object):
        assert (step.resources.memory, step.resources.spot, step.resources.gpus) == ("8Gi", True, 1)
        assert step.resources.fields_set == {"memory", "spot", "gpus"}
    assert parse_settings("step 's'", {"gpus": 2, "resources": {"gpus": 1}}).resources.gpus == 2  # flat wins
    with pytest.raises(DefinitionError, match=r"^step 's': setting 'resources': Input should be an instance of "
                                              r"ResourceSettings$"):
        parse_settings("step 's'", {"resources": 5})
    with pytest.raises(DefinitionError, match=r"^step 's': setting 'memory': invalid memory '8 lots'"):
        parse_settings("step 's'", {"resources": {"memory": "8 lots"}})
    with pytest.raises(DefinitionError, match=r"^step 's': keywords must be strings$"):
        parse_settings("step 's'", {"resources": {1: 2}})


# -- the LightModel machinery itself ----------------------------------------------------------

class Job(LightModel):
    name: str = "job"
    tags: list[int] = []
    either: int | str = 0
    path: Path | None = None


def test_every_field_needs_a_default() -> None:
    with pytest.raises(TypeError, match=r"^Broken.size: every field of a LightModel needs a default$"):
        class Broken(LightModel):
            size: int


def test_which_fields_are_plain_is_read_from_the_annotations() -> None:
    from modelway.light_models import _plain_fields

    assert _plain_fields(ResourceSettings) == {"spot": (bool, False), "instance_type": (str, True)}
    assert _plain_fields(Job) == {"name": (str, False), "path": (Path, True)}
    assert not Job._takes_as_is("either", 1) and Job._takes_as_is("path", None) and Job._takes_as_is("name", "x")


def test_an_error_names_the_whole_location_and_carries_pydantics_list() -> None:
    with pytest.raises(InvalidFields) as caught:
        Job(tags=[1, "x"])
    assert str(caught.value) == "tags.1: Input should be a valid integer, unable to parse string as an integer"
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("tags", 1), "int_parsing")]
    assert "url" not in caught.value.errors()[0]


def test_repr_messages_and_as_dict_of_paths() -> None:
    job = Job(path=Path("/srv"))
    assert repr(job) == "Job(name='job', tags=[], either=0, path=PosixPath('/srv'))"
    with pytest.raises(AttributeError, match=r"^Job is frozen: cannot set 'name'$"):
        job.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"^'Job' object has no attribute 'size'$"):
        job.size  # noqa: B018
    assert job.as_dict()["path"] == Path("/srv") and job.as_dict(json=True)["path"] == "/srv"
    assert Job(name="n").as_dict(json=True) == {"name": "n", "tags": [], "either": 0, "path": None}


def test_bounds_repr_and_every_bound_name() -> None:
    from modelway.light_models import Bounds

    assert repr(Bounds(ge=0, lt=3)) == "Bounds(ge=0, lt=3)"
    assert Bounds(le=1).bounds == {"le": 1} and Bounds(gt=0).bounds == {"gt": 0}
    with pytest.raises(TypeError, match=r"^Bounds: unknown bound 'min' \(ge, gt, le, lt\)$"):
        Bounds(min=0)


def test_the_per_attempt_limit_is_the_timeout_else_the_resources_max_runtime() -> None:
    assert parse_settings("step 's'", {"timeout": "30m", "max_runtime": "2h"}).timeout_s == 1800.0
    assert parse_settings("step 's'", {"max_runtime": "2h"}).timeout_s == 7200.0
    assert StepSettings().timeout_s is None
