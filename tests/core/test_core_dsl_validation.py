"""Build-time validation of pipelines: each error is one line naming the step."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import pytest
from core_helpers import cli, write_pipeline
from pydantic import Field, PositiveInt

from modelway import pipeline, step
from modelway.errors import DefinitionError, UserError


@step
def make_int(x: int = 1) -> int:
    return x


@step
def make_str(x: int = 1) -> str:
    return str(x)


@step
def use_int(value: int) -> int:
    return value


@step
def side_effect(x: int) -> None:
    print(x)


@dataclass
class Split:
    train: list[int]
    test: list[int]


@step
def split(n: int) -> Split:
    return Split(list(range(n)), [])


def _single_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_cycle_is_reported_with_the_steps_involved() -> None:
    @pipeline
    def cyclic() -> int:
        a = make_int(1)
        b = use_int(a)
        a.after(b)
        return b

    with pytest.raises(DefinitionError, match=r"cycle between steps .*make_int.*use_int|cycle between steps .*use_int.*make_int") as exc:
        cyclic.build()
    _single_line(exc)


def test_output_of_a_step_returning_none_is_never_produced() -> None:
    @pipeline
    def uses_nothing() -> int:
        return use_int(side_effect(1))

    with pytest.raises(DefinitionError, match=r"step 'use_int' input 'value' uses the output of step 'side_effect', which produces nothing"):
        uses_nothing.build()


def test_output_from_outside_the_pipeline_is_never_produced() -> None:
    leaked = {}

    @pipeline
    def first() -> int:
        leaked["ref"] = make_int(1)
        return leaked["ref"]

    first.build()

    @pipeline
    def second() -> int:
        return use_int(leaked["ref"])

    with pytest.raises(DefinitionError, match=r"step 'use_int' input 'value' uses the output of step 'make_int', which is never produced in pipeline 'second'"):
        second.build()


def test_missing_item_of_a_dataclass_output_is_never_produced() -> None:
    @pipeline
    def bad_item() -> int:
        return use_int(split(3)["validation"])

    with pytest.raises(DefinitionError, match=r"split\['validation'\], which step 'split' never produces"):
        bad_item.build()


def test_duplicate_step_names_from_different_functions() -> None:
    @step(name="load")
    def load_a() -> int:
        return 1

    @step(name="load")
    def load_b() -> int:
        return 2

    @pipeline
    def dup() -> list:
        return [load_a(), load_b()]

    with pytest.raises(DefinitionError, match=r"duplicate step name 'load': used by .*load_a and .*load_b") as exc:
        dup.build()
    _single_line(exc)


def test_repeated_calls_of_one_step_get_numbered_names() -> None:
    @pipeline
    def chain(start: int = 0) -> int:
        x = start
        for _ in range(3):
            x = use_int(x)
        return x

    graph = chain.build()
    assert graph.order == ["use_int", "use_int_2", "use_int_3"]
    assert graph.nodes["use_int_3"].upstream == ["use_int_2"]


def test_annotation_mismatch_between_producer_and_consumer() -> None:
    @pipeline
    def mismatch() -> int:
        return use_int(make_str(1))

    with pytest.raises(DefinitionError, match=r"step 'use_int' input 'value' expects int but make_str returns str"):
        mismatch.build()


def test_compatible_annotations_pass() -> None:
    @step
    def as_float(v: float) -> float:
        return v

    @step
    def total(values: list[int]) -> int:
        return sum(values)

    @pipeline
    def ok() -> float:
        return as_float(total([make_int(1), make_int(2)]))

    assert ok.build().order == ["make_int", "make_int_2", "total", "as_float"]


def test_mismatch_inside_a_list_input() -> None:
    @step
    def total(values: list[int]) -> int:
        return sum(values)

    @pipeline
    def bad() -> int:
        return total([make_int(1), make_str(2)])

    with pytest.raises(DefinitionError, match=r"step 'total' input 'values' expects int but make_str returns str"):
        bad.build()


def test_unknown_step_setting_fails_at_decoration() -> None:
    with pytest.raises(DefinitionError, match=r"step 'train': unknown setting 'gpuz' \(allowed: .*gpus"):
        @step(gpuz=1)
        def train() -> int:
            return 1


def test_unknown_pipeline_setting() -> None:
    with pytest.raises(DefinitionError, match=r"pipeline 'p': unknown setting 'retry'"):
        @pipeline(retry=3)
        def p() -> int:
            return make_int()


def test_bad_setting_values_name_the_step() -> None:
    with pytest.raises(DefinitionError, match=r"step 'slow': setting 'timeout': invalid duration 'soon'"):
        @step(timeout="soon")
        def slow() -> int:
            return 1
    with pytest.raises(DefinitionError, match=r"step 'big': setting 'memory': invalid memory '8 lots'"):
        @step(memory="8 lots")
        def big() -> int:
            return 1


def test_wrong_arguments_name_the_step() -> None:
    @pipeline
    def p() -> int:
        return use_int(1, 2)

    with pytest.raises(DefinitionError, match=r"step 'use_int': too many positional arguments"):
        p.build()


def test_branching_on_an_output_is_a_definition_error() -> None:
    @pipeline
    def p() -> int:
        x = make_int(1)
        if x:
            return use_int(x)
        return x

    with pytest.raises(DefinitionError, match=r"step 'make_int': its output is not known while the pipeline is built"):
        p.build()


def test_settings_precedence_step_over_pipeline_over_default() -> None:
    @step(retries=5, gpus=1)
    def heavy(x: int) -> int:
        return x

    @pipeline(retries=1, timeout="10m", memory="2Gi")
    def p() -> int:
        return heavy(make_int(1))

    graph = p.build()
    h, m = graph.nodes["heavy"].settings, graph.nodes["make_int"].settings
    assert (h.retries, h.timeout_s, h.resources.gpus, h.resources.memory) == (5, 600.0, 1, "2Gi")
    assert (m.retries, m.resources.gpus, m.cache) == (1, 0, True)


def test_tuple_outputs_unpack_when_annotated() -> None:
    @step
    def pair() -> tuple[int, str]:
        return 1, "a"

    @pipeline
    def p() -> int:
        number, text = pair()
        return use_int(number)

    assert p.build().nodes["use_int"].upstream == ["pair"]

    @pipeline
    def q() -> int:
        number, text = pair()
        return use_int(text)

    with pytest.raises(DefinitionError, match=r"expects int but pair\[1\] returns str"):
        q.build()


class TestParams:
    @staticmethod
    def _pipe():
        @pipeline
        def trainer(epochs: int, lr: float = 0.1, tags: list[str] = [], name: str = "m") -> int:  # noqa: B006
            return make_int(epochs)

        return trainer

    def test_cli_values_are_parsed_and_validated(self) -> None:
        p = self._pipe()
        raw = p.parse_cli_params(["epochs=3", "lr=0.5", 'tags=["a","b"]', "name=007"])
        assert p.validate_params(raw) == {"epochs": 3, "lr": 0.5, "tags": ["a", "b"], "name": "007"}

    def test_unknown_parameter(self) -> None:
        with pytest.raises(UserError, match=r"pipeline 'trainer': unknown parameter 'epoch' \(parameters: epochs, lr, tags, name\)"):
            self._pipe().build({"epoch": 3})

    def test_invalid_value(self) -> None:
        p = self._pipe()
        with pytest.raises(UserError, match=r"parameter 'lr': Input should be a valid number.*\(got 'fast'\)"):
            p.build(p.parse_cli_params(["epochs=1", "lr=fast"]))

    def test_missing_required(self) -> None:
        with pytest.raises(UserError, match=r"parameter 'epochs': Field required"):
            self._pipe().build({})

    def test_malformed_pair(self) -> None:
        with pytest.raises(UserError, match=r"--param 'epochs': expected KEY=VALUE"):
            self._pipe().parse_cli_params(["epochs"])

    def test_constrained_types_are_enforced(self) -> None:
        @pipeline
        def tuned(folds: Annotated[int, Field(ge=2)] = 3, rows: PositiveInt = 10,
                  env: Literal["dev", "prod"] = "dev") -> int:
            return make_int(folds)

        assert tuned.validate_params({"folds": 5}) == {"folds": 5, "rows": 10, "env": "dev"}
        with pytest.raises(UserError, match=r"parameter 'folds': Input should be greater than or equal to 2 \(got 1\)"):
            tuned.validate_params({"folds": 1})
        with pytest.raises(UserError, match=r"parameter 'rows': Input should be greater than 0"):
            tuned.validate_params(tuned.parse_cli_params(["rows=-5"]))
        with pytest.raises(UserError, match=r"parameter 'env': Input should be 'dev' or 'prod'"):
            tuned.validate_params({"env": "qa"})


def test_generator_and_async_functions_are_rejected() -> None:
    with pytest.raises(DefinitionError, match=r"step 'rows' is a generator function; a step must return its value"):
        @step
        def rows():
            yield 1
    with pytest.raises(DefinitionError, match=r"step 'fetch' is an async function"):
        @step(retries=1)
        async def fetch() -> int:
            return 1


def test_a_pipeline_called_in_another_pipeline_adds_its_steps() -> None:
    @pipeline
    def inner(x: int = 1) -> int:
        return use_int(make_int(x))

    @pipeline
    def outer() -> int:
        first = inner(2)
        return inner(first)

    graph = outer.build()
    assert graph.order == ["make_int", "use_int", "make_int_2", "use_int_2"]
    assert graph.nodes["make_int_2"].upstream == ["use_int"]


def test_after_may_point_at_a_step_that_returns_none() -> None:
    @pipeline
    def ordered() -> int:
        done = side_effect(1)
        return use_int(make_int(2).after(done))

    graph = ordered.build()
    assert graph.nodes["make_int"].upstream == ["side_effect"]
    assert graph.order.index("side_effect") < graph.order.index("make_int")


def test_invalid_explicit_step_name() -> None:
    with pytest.raises(DefinitionError, match=r"step name 'load data' is invalid"):
        @step(name="load data")
        def load() -> int:
            return 1


DUP = """
from modelway import pipeline, step

@step(name="load")
def a() -> int:
    return 1

@step(name="load")
def b() -> int:
    return 2

@pipeline
def dup() -> list:
    return [a(), b()]
"""


def test_duplicate_step_name_names_the_users_file_not_the_internal_module(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, DUP, name="dup.py")
    proc = cli("run", str(path), home=home)
    assert proc.returncode == 2
    assert "_mw_" not in proc.stderr
    assert f"used by a ({path}:4) and b ({path}:8)" in proc.stderr, proc.stderr
