"""Property: a random byte flip anywhere in a stored object is detected or recomputed, never returned.

Hypothesis picks the object (every serializer kind, run-store blobs included), the file in its
folder (payload or meta.json) and the byte; the store must either refuse it or return a value
equal to the original (a flip in metadata the content hash does not cover, such as the creation
time, changes nothing returned). Through the runner, the pipeline's result stays right.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelway.artifacts.store import ArtifactStore, CorruptArtifact


@dataclasses.dataclass
class Record:
    name: str
    scores: tuple[float, ...]


def _values(tmp: Path) -> dict[str, object]:
    folder = tmp / "folder"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("hello")
    single = tmp / "single.bin"
    single.write_bytes(bytes(range(200)))
    from sklearn.linear_model import LinearRegression

    return {
        "json": {"rows": [1, 2, 3], "name": "credit"},
        "pickle": Record("m", (0.5, 0.25)),
        "numpy": np.arange(24, dtype=np.float64).reshape(4, 6),
        "parquet": pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
        "sklearn": LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0]),
        "file": single,
        "dir": folder,
    }


def _same(kind: str, got: object, want: object, original_files: dict[str, bytes] | None) -> bool:
    if kind == "numpy":
        return isinstance(got, np.ndarray) and np.array_equal(got, want)
    if kind == "parquet":
        return isinstance(got, pd.DataFrame) and got.equals(want)
    if kind == "sklearn":
        return got.coef_.tolist() == want.coef_.tolist() and got.intercept_ == want.intercept_
    if kind in ("file", "dir"):
        files = {p.relative_to(got).as_posix(): p.read_bytes() for p in Path(got).rglob("*") if p.is_file()} \
            if Path(got).is_dir() else {"": Path(got).read_bytes()}
        return files == original_files
    return got == want


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, object, object]]]:
    base = tmp_path_factory.mktemp("flips")
    values = _values(base)
    store = ArtifactStore(base / "pristine")
    stocked = {}
    for kind, value in values.items():
        ref = store.put(value)
        assert ref.kind == kind
        original = None
        if kind == "file":
            original = {"": Path(value).read_bytes()}
        elif kind == "dir":
            original = {p.relative_to(value).as_posix(): p.read_bytes() for p in Path(value).rglob("*") if p.is_file()}
        stocked[kind] = (ref.hash, value, original)
    return base / "pristine", stocked


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["json", "pickle", "numpy", "parquet", "sklearn", "file", "dir"]),
       file_pick=st.integers(min_value=0), byte_pick=st.integers(min_value=0), bit=st.integers(0, 7))
def test_a_flipped_byte_is_refused_or_harmless(stocked, tmp_path: Path, kind: str, file_pick: int, byte_pick: int,
                                              bit: int) -> None:
    pristine, objects = stocked
    digest, value, original_files = objects[kind]
    home = Path(tempfile.mkdtemp(dir=tmp_path)) / "home"
    shutil.copytree(pristine, home)
    store = ArtifactStore(home)
    folder = store.path_of(digest)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_size)
    target = files[file_pick % len(files)]
    data = bytearray(target.read_bytes())
    data[byte_pick % len(data)] ^= 1 << bit
    target.write_bytes(bytes(data))
    try:
        got = store.get(digest)
    except CorruptArtifact:
        return  # detected
    assert target.name == "meta.json", f"a flip in {target.relative_to(folder)} was returned"
    assert _same(kind, got, value, original_files)


PIPELINE = """
from modelway import pipeline, step

@step
def make(n: int) -> dict:
    return {{"rows": list(range(n)), "label": "{label}"}}

@step(cache=False)
def total(d: dict) -> int:
    return sum(d["rows"]) + len(d["label"])

@pipeline
def flips(n: int = 10) -> int:
    return total(make(n))
"""


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(byte_pick=st.integers(min_value=0), bit=st.integers(0, 7), in_meta=st.booleans())
def test_a_flipped_cache_entry_never_changes_a_result(tmp_path_factory: pytest.TempPathFactory, byte_pick: int,
                                                      bit: int, in_meta: bool) -> None:
    from modelway.dsl.loader import load_pipeline
    from modelway.runtime.runner import run_pipeline

    work = tmp_path_factory.mktemp("cacheflip")
    path = work / "flips.py"
    path.write_text(PIPELINE.format(label="abc"))
    pipe = load_pipeline(path)
    first = run_pipeline(pipe, executor="inprocess", display="none", home=work / "home", pipeline_file=path)
    assert first.outputs == {"result": 48}
    make = next(s for s in first.steps if s.name == "make")
    folder = work / "home" / "artifacts" / make.output_hash[:2] / make.output_hash
    target = folder / ("meta.json" if in_meta else "data.json")
    data = bytearray(target.read_bytes())
    data[byte_pick % len(data)] ^= 1 << bit
    target.write_bytes(bytes(data))
    again = run_pipeline(pipe, executor="inprocess", display="none", home=work / "home", pipeline_file=path)
    assert again.status == "succeeded" and again.outputs == {"result": 48}
