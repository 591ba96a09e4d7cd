"""Content-addressed artifact store: round trips per kind, de-duplication, atomicity, clean-up."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from modelway.artifacts.serializers import UnserializableError
from modelway.artifacts.store import ArtifactStore


@dataclass
class Point:
    x: int
    y: float


@pytest.fixture()
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "home")


def test_round_trips_by_kind(store: ArtifactStore, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[10, 20])
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f.txt").write_text("hello")
    cases = {
        "json": {"a": [1, 2.5, None, "s", True]},
        "parquet": frame,
        "numpy": np.arange(6).reshape(2, 3),
        "sklearn": model,
        "pickle": (Point(1, 2.0), {1, 2}),
        "file": tmp_path / "dir" / "f.txt",
        "dir": tmp_path / "dir",
    }
    for kind, value in cases.items():
        ref = store.put(value)
        assert ref.kind == kind, kind
        loaded = store.get(ref.hash)
        if kind == "parquet":
            pd.testing.assert_frame_equal(loaded, frame)
        elif kind == "numpy":
            np.testing.assert_array_equal(loaded, value)
        elif kind == "sklearn":
            assert loaded.predict([[2.0]])[0] == pytest.approx(4.0)
        elif kind == "file":
            assert loaded.read_text() == "hello" and loaded != value
        elif kind == "dir":
            assert (loaded / "f.txt").read_text() == "hello"
        else:
            assert loaded == value


def test_frames_that_parquet_cannot_store_fall_back_to_pickle(store: ArtifactStore) -> None:
    frame = pd.DataFrame({"mixed": [1, "x"]})  # a column of mixed types has no Arrow type
    ref = store.put(frame)
    assert ref.kind == "pickle"
    pd.testing.assert_frame_equal(store.get(ref.hash), frame)


def test_same_content_is_stored_once(store: ArtifactStore) -> None:
    a = store.put(pd.DataFrame({"a": range(100)}))
    b = store.put(pd.DataFrame({"a": range(100)}))
    c = store.put(pd.DataFrame({"a": range(101)}))
    assert a.hash == b.hash != c.hash
    assert len(list(store.root.glob("*/*"))) == 2
    assert list(store.tmp.iterdir()) == []
    assert store.put([1, 2]).hash == store.put([1, 2]).hash != store.put([2, 1]).hash


def test_directory_hash_ignores_timestamps(store: ArtifactStore, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.csv").write_text("1\n")
    first = store.put(folder).hash
    os.utime(folder / "a.csv", (1, 1))
    assert store.put(folder).hash == first
    (folder / "b.csv").write_text("2\n")
    assert store.put(folder).hash != first


def test_unserializable_value_names_the_type(store: ArtifactStore) -> None:
    with pytest.raises(UnserializableError, match=r"returned a builtins.generator that cannot be stored"):
        store.put(i for i in range(3))
    assert list(store.tmp.iterdir()) == []


def test_missing_path_output(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(UnserializableError, match=r"returned path .*missing.* does not exist"):
        store.put(tmp_path / "missing")


def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(store: ArtifactStore) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (store.tmp / f"{dead_pid}-abc").mkdir()
    (store.tmp / f"{os.getpid()}-live").mkdir()
    assert store.clean_stale_tmp() == 1
    assert [p.name for p in store.tmp.iterdir()] == [f"{os.getpid()}-live"]


def test_unknown_artifact(store: ArtifactStore) -> None:
    with pytest.raises(KeyError, match=r"artifact 000000000000 is not in the store"):
        store.get("0" * 64)


def test_own_leftovers_are_removed_on_request(store: ArtifactStore) -> None:
    (store.tmp / f"{os.getpid()}-interrupted").mkdir()
    assert store.clean_stale_tmp() == 0
    assert store.clean_stale_tmp(include_own=True) == 1
    assert list(store.tmp.iterdir()) == []
