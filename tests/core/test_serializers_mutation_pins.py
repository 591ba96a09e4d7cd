"""Pins on the artifact serializers (``make mutate``: ``artifacts/serializers``).

What a step returns is stored by these functions and read back by the next step: a value must
come back exactly (same type, same contents) or be refused with a clear error, and a stored
payload is never unpickled by a loader that did not ask for pickle (numpy's ``allow_pickle``).
Hypothesis says the JSON rule in general: ``is_jsonable`` holds exactly when a JSON round trip
gives back an equal value of the same types.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import pickle
from collections import OrderedDict
from enum import IntEnum
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelway.artifacts import serializers
from modelway.artifacts.serializers import (
    DATA_NAME,
    UnserializableError,
    canonical_json,
    is_jsonable,
    kind_of,
    loads,
    write,
)


def test_data_file_names_are_the_stored_ones() -> None:
    # Existing artifacts are found by these names: a change orphans every stored value.
    assert DATA_NAME == {"json": "data.json", "parquet": "data.parquet", "numpy": "data.npy",
                         "sklearn": "data.joblib", "pickle": "data.pkl", "file": "data", "dir": "data",
                         "text": "data.txt"}


# --- is_jsonable -----------------------------------------------------------------------------------

class Level(IntEnum):
    LOW = 1


class Ratio(float):
    pass


@pytest.mark.parametrize("value", [None, True, False, "", "é", 0, -3, 10**30, 0.5, -0.0, [], {}, [1, "a", None],
                                   {"a": [1, {"b": 2.5}]}])
def test_plain_json_values_are_jsonable(value: object) -> None:
    assert is_jsonable(value) is True


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, (1, 2), {1: "a"}, {"a": (1,)}, [1, {2}],
                                   OrderedDict(a=1), Level.LOW, Ratio(0.5), b"x", object(), [math.nan],
                                   {"a": {"b": math.inf}}])
def test_values_json_would_change_are_not_jsonable(value: object) -> None:
    assert is_jsonable(value) is False


def _nest(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_deeper_than_fifty_is_not_jsonable() -> None:
    assert is_jsonable(_nest(50)) is True
    assert is_jsonable(_nest(51)) is False
    deep_dict: object = 1
    for _ in range(50):
        deep_dict = {"k": deep_dict}
    assert is_jsonable(deep_dict) is True
    assert is_jsonable({"k": deep_dict}) is False
    assert is_jsonable([{"k": [_nest(47)]}]) is True and is_jsonable([{"k": [_nest(48)]}]) is False
    assert is_jsonable(1, depth=50) is True and is_jsonable(1, depth=51) is False


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5)
    | st.tuples(st.integers()) | st.binary(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    | st.dictionaries(st.integers(), children, max_size=2),
    max_leaves=10)


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[union-attr,index]
    return a == b


@settings(max_examples=60, deadline=None)
@given(_json)
def test_jsonable_exactly_when_json_gives_the_same_value_back(value: object) -> None:
    try:
        back = json.loads(canonical_json(value))
        round_trips = _same(value, back)
    except (TypeError, ValueError):
        round_trips = False
    if is_jsonable(value):
        assert round_trips
    elif round_trips:   # json reads nan/inf back (not standard JSON), and nothing else it was given
        assert any(isinstance(x, float) and not math.isfinite(x) for x in _leaves(value))


def _leaves(value: object) -> list:
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    return [value]


# --- canonical_json --------------------------------------------------------------------------------

def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'.encode("utf-8")
    assert canonical_json({"b": 1, "a": 2}) == canonical_json({"a": 2, "b": 1})


# --- kind_of ---------------------------------------------------------------------------------------

def test_paths_are_files_or_dirs_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    assert kind_of(tmp_path) == "dir"
    assert kind_of(tmp_path / "f.txt") == "file"
    missing = tmp_path / "nope"
    with pytest.raises(UnserializableError) as caught:
        kind_of(missing)
    assert str(caught.value) == f"returned path {str(missing)!r} does not exist"


def test_kind_of_by_library_type() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    assert kind_of(pd.DataFrame({"a": [1]})) == "parquet"
    assert kind_of(np.arange(3)) == "numpy"
    assert kind_of(np.array([1, "a", None], dtype=object)) == "pickle"   # numpy would need allow_pickle
    assert kind_of(Ridge()) == "sklearn"
    assert kind_of({"a": [1]}) == "json"
    assert kind_of([1, 2]) == "json"
    assert kind_of((1, 2)) == "pickle"
    assert kind_of(pd.Series([1])) == "pickle"


def test_a_library_that_is_not_loaded_is_not_asked() -> None:
    assert serializers._is(1, "modelway_no_such_module", "X") is False
    assert serializers._is(1, "math", "NoSuchClass") is False
    assert serializers._is(1, "math", "pi") is False          # a module attribute that is not a class
    assert serializers._is(OrderedDict(), "collections", "OrderedDict") is True
    assert serializers._is({}, "collections", "OrderedDict") is False


# --- write / loads: every kind round-trips or is refused ----------------------------------------------

@dataclasses.dataclass
class Point:
    x: int
    y: tuple


def _roundtrip(value: object, kind: str, tmp_path: Path) -> object:
    target = tmp_path / DATA_NAME[kind]
    write(value, kind, target)
    return loads(kind, target.read_bytes())


def test_json_round_trip_writes_canonical_bytes(tmp_path: Path) -> None:
    value = {"b": [1, 2.5, None], "a": "é"}
    assert _roundtrip(value, "json", tmp_path) == value
    assert (tmp_path / "data.json").read_bytes() == canonical_json(value)


def test_pickle_round_trip(tmp_path: Path) -> None:
    value = Point(1, (2, "3"))
    assert _roundtrip(value, "pickle", tmp_path) == value


def test_text_loads_as_utf8_str() -> None:
    assert loads("text", "é\nx".encode("utf-8")) == "é\nx"


def test_dataframe_round_trip_keeps_the_index(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([10, 20], name="id"))
    back = _roundtrip(frame, "parquet", tmp_path)
    pd.testing.assert_frame_equal(back, frame)


def test_a_frame_parquet_cannot_hold_asks_for_the_pickle_fallback(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, "x"]})   # a mixed column Arrow cannot type
    with pytest.raises(serializers._FallBack) as caught:
        write(frame, "parquet", tmp_path / "data.parquet")
    assert isinstance(caught.value.__cause__, Exception)
    assert caught.value.args and isinstance(caught.value.args[0], Exception)
    pd.testing.assert_frame_equal(_roundtrip(frame, "pickle", tmp_path), frame)


def test_numpy_round_trip(tmp_path: Path) -> None:
    import numpy as np

    array = np.arange(6, dtype="float32").reshape(2, 3)
    back = _roundtrip(array, "numpy", tmp_path)
    assert back.dtype == array.dtype and (back == array).all()


def test_numpy_never_pickles_on_write_or_load(tmp_path: Path) -> None:
    import numpy as np

    objects = np.array([{"a": 1}], dtype=object)
    with pytest.raises(ValueError):
        write(objects, "numpy", tmp_path / "data.npy")
    buffer = io.BytesIO()
    np.save(buffer, objects, allow_pickle=True)
    with pytest.raises(ValueError):
        loads("numpy", buffer.getvalue())


def test_sklearn_round_trip(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=0.25).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    back = _roundtrip(model, "sklearn", tmp_path)
    assert type(back) is Ridge and back.alpha == 0.25
    assert back.predict([[3.0]]) == pytest.approx(model.predict([[3.0]]))


def test_file_is_copied(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"\x00\x01payload")
    write(source, "file", tmp_path / "data")
    assert (tmp_path / "data").read_bytes() == b"\x00\x01payload"


def test_dir_is_copied_with_symlinks_resolved(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("real")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    os.symlink(outside, source / "link.txt")
    write(source, "dir", tmp_path / "out" / "data")
    copy = tmp_path / "out" / "data"
    assert (copy / "sub" / "a.txt").read_text() == "a"
    assert not (copy / "link.txt").is_symlink()      # the store holds content, never a link out of it
    assert (copy / "link.txt").read_text() == "real"


def test_an_unpicklable_value_is_refused_with_what_to_return(tmp_path: Path) -> None:
    with pytest.raises(UnserializableError) as caught:
        write(lambda: 1, "pickle", tmp_path / "data.pkl")
    message = str(caught.value)
    assert message.startswith("returned a builtins.function that cannot be stored (")
    assert message.endswith("); return a DataFrame, numpy array, estimator, JSON-able value, dataclass or pathlib.Path")
    assert "lambda" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_nested_class_is_named_by_its_qualified_name(tmp_path: Path) -> None:
    class Local:
        def __reduce__(self) -> object:
            raise TypeError("no")

    with pytest.raises(UnserializableError) as caught:
        write(Local(), "pickle", tmp_path / "data.pkl")
    assert str(caught.value).startswith(
        f"returned a {__name__}.test_a_nested_class_is_named_by_its_qualified_name.<locals>.Local that cannot be "
        "stored (no); ")


def test_a_storage_fault_while_pickling_is_not_blamed_on_the_value(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write({"a": 1}, "pickle", tmp_path / "missing-dir" / "data.pkl")


def test_unknown_kinds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        write(1, "yaml", tmp_path / "x")
    assert str(caught.value) == "unknown artifact kind 'yaml'"
    with pytest.raises(ValueError) as caught:
        loads("yaml", b"1")
    assert str(caught.value) == "unknown artifact kind 'yaml'"
    with pytest.raises(ValueError):
        write(1, "text", tmp_path / "x")   # text is written by the store's put_text, not here


def test_pickle_payloads_are_read_only_by_the_pickle_kind() -> None:
    payload = pickle.dumps({"a": 1})
    assert loads("pickle", payload) == {"a": 1}
    with pytest.raises(ValueError):   # JSON (or UTF-8) decoding fails: nothing is unpickled
        loads("json", payload)
