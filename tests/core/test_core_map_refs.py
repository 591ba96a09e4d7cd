"""``map_refs``: the one walk over step-output placeholders nested in inputs and outputs."""
from __future__ import annotations

from collections import namedtuple

from modelway import pipeline, step
from modelway.dsl.graph import OutputRef, has_refs, iter_refs, map_refs


@step
def one() -> dict:
    return {"a": 1}


@step
def two() -> int:
    return 2


def _refs() -> tuple[OutputRef, OutputRef]:
    captured = {}

    @pipeline
    def p() -> list:
        captured["one"], captured["two"] = one(), two()
        return [captured["one"], captured["two"]]

    p.build()
    return captured["one"], captured["two"]


def test_placeholders_are_replaced_at_any_depth_and_containers_keep_their_kind() -> None:
    a, b = _refs()
    value = {"x": [a, (b, 3)], "y": {a["a"]}, "z": frozenset([b])}
    out = map_refs(value, lambda ref: ref.label())
    assert out == {"x": ["one", ("two", 3)], "y": {"one['a']"}, "z": frozenset(["two"])}
    assert type(out["x"][1]) is tuple and type(out["z"]) is frozenset


def test_constants_pass_through_untouched() -> None:
    a, _ = _refs()
    Point = namedtuple("Point", "x y")
    constant = {"p": Point(1, 2), "l": [1, 2]}
    out = map_refs({"c": constant, "r": a}, lambda ref: 0)
    assert out["c"] is constant and out["c"]["p"] is constant["p"]
    assert map_refs(Point(1, 2), lambda ref: 0) == Point(1, 2)  # no placeholder: the namedtuple itself


def test_on_value_sees_constants_and_containers_without_placeholders_whole() -> None:
    a, _ = _refs()
    seen = []
    map_refs([a, [1, 2], "s"], lambda ref: None, on_value=lambda v: seen.append(v))
    assert seen == [[1, 2], "s"]


def test_every_container_descends_into_constant_containers_too() -> None:
    a, _ = _refs()
    out = map_refs([[1, 2], a], lambda ref: "ref", on_value=lambda v: f"<{v}>", every_container=True)
    assert out == [["<1>", "<2>"], "ref"]


def test_only_the_named_containers_are_rebuilt_by_the_given_builders() -> None:
    a, b = _refs()
    value = {"k": (a, b), "s": {a}}
    out = map_refs(value, lambda ref: ref.node.name, on_value=lambda v: ("whole", type(v).__name__),
                   containers=(tuple, dict), sequence=lambda items: {"list": items},
                   mapping=lambda items: dict(sorted(items.items())))
    assert out == {"k": {"list": ["one", "two"]}, "s": ("whole", "set")}
    assert list(out) == ["k", "s"]


def test_iter_refs_and_has_refs_find_nested_placeholders() -> None:
    a, b = _refs()
    assert [r.node.name for r in iter_refs({"x": [a, {"y": (b,)}]})] == ["one", "two"]
    assert has_refs([1, {2: {a}}]) and not has_refs([1, {2: "a"}])
    assert list(iter_refs([1, "a", 2.0], kind=str)) == ["a"]
