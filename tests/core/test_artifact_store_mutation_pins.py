"""Pins on the content-addressed artifact store that mutation testing found loose.

Each test fails on a plausible one-point change of ``modelway.artifacts.store`` (see
``make mutate``); properties (Hypothesis) say the general rule where examples cannot: the
store returns the bytes it was given, or refuses.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelway.artifacts.store import ArtifactStore, CorruptArtifact, content_hash, payload_digest

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- content-addressed store: names ------------------------------------------------------------
def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_two_directories_with_the_same_contents_under_different_names_are_one_artifact(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "home")
    files = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello"}
    first = store.put_path(_tree(tmp_path / "january", files))
    second = store.put_path(_tree(tmp_path / "copy-of-january", files))
    assert first.hash == second.hash and first.kind == "dir"
    assert first.size == second.size == len(b"x,y\n1,2\n") + len(b"hello")
    assert len(list((tmp_path / "home" / "artifacts").glob("*/*"))) == 1
    stored = store.get(first.hash)
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == ["a.csv", "sub/b.txt"]


@pytest.mark.parametrize("change", [
    lambda root: (root / "a.csv").write_bytes(b"x,y\n1,3\n"),           # one byte of content
    lambda root: (root / "a.csv").rename(root / "c.csv"),                # a file's name
    lambda root: (root / "sub" / "b.txt").rename(root / "b.txt"),        # a file's folder
    lambda root: (root / "empty.txt").write_bytes(b""),                   # one more (empty) file
])
def test_a_directory_artifact_changes_name_with_any_file_name_or_content(tmp_path: Path, change) -> None:
    store = ArtifactStore(tmp_path / "home")
    files = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello"}
    before = store.put_path(_tree(tmp_path / "d", files)).hash
    change(tmp_path / "d")
    assert store.put_path(tmp_path / "d").hash != before


def test_a_file_and_a_directory_holding_it_are_different_artifacts(tmp_path: Path) -> None:
    _tree(tmp_path / "d", {"a.txt": b"same"})
    assert content_hash("dir", tmp_path / "d")[0] != content_hash("file", tmp_path / "d" / "a.txt")[0]


def test_the_same_text_under_two_extensions_is_two_artifacts(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "home")
    md = store.put_text("# Report\n", suffix=".md")
    txt = store.put_text("# Report\n", suffix=".txt")
    assert md.hash != txt.hash
    assert store.data_path(md.hash).name == "data.md" and store.data_path(txt.hash).name == "data.txt"
    assert store.get(md.hash) == store.get(txt.hash) == "# Report\n"
    assert store.put_text("# Report\n").hash == txt.hash  # .txt is the default suffix
    assert md.size == txt.size == len("# Report\n".encode())


def test_the_kind_is_part_of_the_name() -> None:
    sha = "0" * 64
    assert len({payload_digest("json", sha), payload_digest("pickle", sha), payload_digest("text", sha)}) == 3
    assert payload_digest("text", sha, "data.md") != payload_digest("text", sha, "data.txt")
    assert payload_digest("text", sha) == payload_digest("text", sha, "data.txt")


@pytest.mark.parametrize("suffix", ["md", ".", "../x", ".a/b", "." + "a" * 17, ".-x"])
def test_put_text_refuses_a_suffix_that_is_not_a_plain_extension(tmp_path: Path, suffix: str) -> None:
    with pytest.raises(ValueError, match="invalid suffix"):
        ArtifactStore(tmp_path).put_text("x", suffix=suffix)


def test_put_text_accepts_the_longest_plain_extension(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put_text("x", suffix="." + "a" * 16)
    assert store.data_path(ref.hash).name == "data." + "a" * 16


def test_a_relabelled_data_name_is_refused_not_followed(tmp_path: Path) -> None:
    import json

    store = ArtifactStore(tmp_path)
    ref = store.put_text("hello", suffix=".md")
    meta_path = store.path_of(ref.hash) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["data_name"] = "../../escape.md"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CorruptArtifact, match="unreadable meta.json"):
        store.get(ref.hash)


# --- content-addressed store: the bytes it was given, or a refusal -------------------------------
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@QUICK
@given(value=values)
def test_the_store_returns_what_it_was_given(tmp_path_factory: pytest.TempPathFactory, value) -> None:
    store = ArtifactStore(tmp_path_factory.mktemp("store"))
    ref = store.put(value)
    assert store.get(ref.hash) == value
    assert store.put(value).hash == ref.hash  # stored once, named by its content


@QUICK
@given(text=st.text(max_size=200), data=st.data())
def test_a_stored_text_with_any_one_byte_changed_is_refused(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                            data: st.DataObject) -> None:
    store = ArtifactStore(tmp_path_factory.mktemp("store"))
    ref = store.put_text(text + "!")
    path = store.data_path(ref.hash)
    raw = bytearray(path.read_bytes())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptArtifact, match="no longer matches its sha256"):
        store.get(ref.hash)


def test_a_missing_artifact_is_a_key_error_and_a_folder_without_meta_is_corrupt(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(KeyError):
        store.get("ab" * 32)
    ref = store.put([1, 2, 3])
    (store.path_of(ref.hash) / "meta.json").unlink()
    assert not store.exists(ref.hash)
    with pytest.raises(CorruptArtifact, match="its meta.json is missing"):
        store.get(ref.hash)


def test_storing_again_over_a_corrupted_copy_repairs_it(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put({"a": 1})
    (store.data_path(ref.hash)).write_bytes(b'{"a":2}')
    assert store.put({"a": 1}).hash == ref.hash
    assert store.get(ref.hash) == {"a": 1}
    assert len(list((tmp_path / "quarantine").iterdir())) == 1


# --- what a refusal says, and where things go ------------------------------------------------
def test_a_corrupt_artifact_names_itself_and_why() -> None:
    error = CorruptArtifact("ab" * 32, "edited")
    assert (str(error), error.digest, error.why) == ("artifact abababababab is corrupted: edited", "ab" * 32, "edited")


def test_a_stored_value_has_its_reference_and_metadata(tmp_path: Path) -> None:
    import json

    store = ArtifactStore(tmp_path)
    ref = store.put({"b": 1, "a": [1, 2]})
    assert (ref.kind, ref.type, ref.size) == ("json", "builtins.dict", len(store.data_path(ref.hash).read_bytes()))
    assert store.path_of(ref.hash) == tmp_path / "artifacts" / ref.hash[:2] / ref.hash
    assert store.exists(ref.hash) and not store.exists("cd" * 32)
    meta = store.meta(ref.hash)
    assert {k: meta[k] for k in ("hash", "kind", "type", "size")} == {"hash": ref.hash, "kind": "json",
                                                                      "type": "builtins.dict", "size": ref.size}
    assert "data_name" not in meta and meta["created_at"] > 0
    assert store.verified_path(ref.hash) == store.data_path(ref.hash) == store.path_of(ref.hash) / "data.json"
    assert json.loads(store.data_path(ref.hash).read_text()) == {"a": [1, 2], "b": 1}
    assert list(store.tmp.iterdir()) == []  # the temp folder became the artifact


def test_a_stored_text_has_its_reference_and_metadata(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put_text("héllo", suffix=".md")
    assert (ref.kind, ref.type, ref.size) == ("text", "builtins.str", 6)
    assert store.meta(ref.hash)["data_name"] == "data.md"
    assert store.verified_path(ref.hash) == store.path_of(ref.hash) / "data.md"
    assert store.get(ref.hash) == "héllo"
    assert store.get(store.put_text("plain").hash) == "plain"
    assert store.data_path(store.put_text("plain").hash).name == "data.txt"


def test_put_text_refusals_name_the_problem(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(TypeError) as caught:
        store.put_text(b"bytes")
    assert str(caught.value) == "put_text expects a str, got bytes"
    with pytest.raises(ValueError) as caught:
        store.put_text("x", suffix="md")
    assert str(caught.value) == "invalid suffix 'md': use a dot and up to 16 letters/digits, e.g. '.md'"


def test_a_stored_file_and_directory_are_handed_out_by_verified_path(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "home")
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    file_ref = store.put_path(source)
    assert (file_ref.kind, file_ref.size) == ("file", 8)
    assert store.get(file_ref.hash).read_text() == "a,b\n1,2\n"
    folder = _tree(tmp_path / "ds", {"x.csv": b"1", "sub/y.csv": b"22"})
    dir_ref = store.put_path(folder)
    assert (dir_ref.kind, dir_ref.size) == ("dir", 3)
    assert sorted(p.name for p in store.verified_path(dir_ref.hash).rglob("*.csv")) == ["x.csv", "y.csv"]


@pytest.mark.parametrize("damage, why", [
    ("delete data", "cannot read {data} (No such file or directory)"),
    ("garble meta", "unreadable meta.json in {folder} ("),
    ("data is a file", "{data} is not a directory"),
])
def test_each_kind_of_damage_is_named(tmp_path: Path, damage: str, why: str) -> None:
    store = ArtifactStore(tmp_path / "home")
    if damage == "data is a file":
        ref = store.put_path(_tree(tmp_path / "ds", {"x.csv": b"1"}))
    else:
        ref = store.put([1, 2])
    folder = store.path_of(ref.hash)
    data = store.data_path(ref.hash)
    if damage == "delete data":
        data.unlink()
    elif damage == "garble meta":
        (folder / "meta.json").write_text("{not json")
    else:
        shutil.rmtree(data)
        data.write_text("1")
    with pytest.raises(CorruptArtifact) as caught:
        store.verify(ref.hash)
    assert caught.value.why.startswith(why.format(data=data, folder=folder)), caught.value.why


def test_a_file_artifact_whose_data_became_a_directory_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "home")
    source = tmp_path / "f.bin"
    source.write_bytes(b"123")
    ref = store.put_path(source)
    data = store.data_path(ref.hash)
    data.unlink()
    data.mkdir()
    with pytest.raises(CorruptArtifact) as caught:
        store.get(ref.hash)
    assert caught.value.why == f"{data} is not a file"


def test_a_changed_value_is_refused_naming_the_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put([1, 2])
    store.data_path(ref.hash).write_bytes(b"[1,3]")
    with pytest.raises(CorruptArtifact) as caught:
        store.get(ref.hash)
    assert caught.value.why == (f"the content of {store.data_path(ref.hash)} no longer matches its sha256 "
                                "(edited or replaced)")
    with pytest.raises(KeyError) as missing:
        store.get("cd" * 32)
    assert missing.value.args[0] == f"artifact {'cd' * 6} is not in the store {tmp_path / 'artifacts'}"


def test_quarantine_moves_the_artifact_aside_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put([1])
    moved = store.quarantine(ref.hash)
    assert moved.parent == tmp_path / "quarantine" and moved.name.startswith(ref.hash + ".")
    assert (moved / "meta.json").is_file() and not store.exists(ref.hash)
    assert store.quarantine(ref.hash) is None
    assert store.get(store.put([1]).hash) == [1]  # a fresh copy takes its place


def test_a_value_json_cannot_hold_is_pickled_and_verified_like_any_other(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put({1, 2, 3})
    assert (ref.kind, ref.type) == ("pickle", "builtins.set")
    assert ref.size == store.data_path(ref.hash).stat().st_size
    assert store.data_path(ref.hash).name == "data.pkl"
    assert store.get(ref.hash) == {1, 2, 3}
    assert store.put({3, 2, 1}).hash == ref.hash and list(store.tmp.iterdir()) == []
    raw = bytearray(store.data_path(ref.hash).read_bytes())
    raw[-2] ^= 1
    store.data_path(ref.hash).write_bytes(bytes(raw))
    with pytest.raises(CorruptArtifact, match="no longer matches its sha256"):
        store.get(ref.hash)  # refused before anything is unpickled


def test_artifact_names_are_a_stable_on_disk_format(tmp_path: Path) -> None:
    # Pinned: a changed way of naming would orphan every stored artifact and cache entry of an
    # existing $MODELWAY_HOME (each would be recomputed, or refused as corrupt).
    import hashlib

    hello = hashlib.sha256(b"hello").hexdigest()
    assert payload_digest("text", hello, "data.md") == "44830edabfcad9bed90e194abbd0bde103de9d895e360cf557e8b859e60878f9"
    assert payload_digest("text", hello) == "c0520911667cfef8fad6a71e519739e145d3885c2d0f46bc5153e370892cb50e"
    assert payload_digest("json", hello) == "d720656a25b37cda8e7746d264494fd60461e93273fb9e2b7d3c983e4b9f98b4"
    folder = _tree(tmp_path / "d", {"a.txt": b"1", "sub/b.txt": b"22"})
    assert content_hash("dir", folder) == ("36a5fff777c224dba68dd7d6635068757498b55c9bc91416bc9df6e1cd5af55c", 3)
    assert content_hash("file", folder / "a.txt") == (
        "915e8ca73832d66fd47b2a3c938fd855809c5abc3493355af841f542a234762e", 1)


def test_a_reference_cannot_be_changed_after_the_fact(tmp_path: Path) -> None:
    import dataclasses

    ref = ArtifactStore(tmp_path).put([1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.hash = "0" * 64


def test_a_home_is_opened_again_with_its_layout(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    first = ArtifactStore(home)
    ref = first.put([1])
    again = ArtifactStore(home)  # every command opens the store of an existing home
    assert (again.root, again.tmp) == (home / "artifacts", home / "tmp")
    assert again.get(ref.hash) == [1]


class Frame:
    """A frame whose columnar write fails half-way (as pandas does on non-string column names)."""

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and other.rows == self.rows

    def to_parquet(self, target, index: bool) -> None:
        Path(target).write_bytes(b"PAR1 half written")
        raise ValueError("parquet must have string column names")


def test_a_frame_parquet_cannot_store_is_pickled_whole_leaving_no_partial_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from modelway.artifacts import serializers

    kind_of = serializers.kind_of
    monkeypatch.setattr(serializers, "kind_of", lambda v: "parquet" if isinstance(v, Frame) else kind_of(v))
    store = ArtifactStore(tmp_path)
    ref = store.put(Frame([1, 2]))
    assert (ref.kind, ref.type) == ("pickle", f"{Frame.__module__}.Frame")
    assert sorted(os.listdir(store.path_of(ref.hash))) == ["data.pkl", "meta.json"]
    assert store.meta(ref.hash)["kind"] == "pickle" and ref.size == store.data_path(ref.hash).stat().st_size
    assert store.get(ref.hash) == Frame([1, 2])
    assert list(store.tmp.iterdir()) == []


def test_a_value_already_stored_intact_is_not_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ArtifactStore(tmp_path)
    writes: list[str] = []
    write_new = store._write_new
    monkeypatch.setattr(store, "_write_new", lambda digest, *a, **k: (writes.append(digest), write_new(digest, *a, **k)))
    value_ref = store.put({"a": 1})
    text_ref = store.put_text("t", suffix=".md")
    assert writes == [value_ref.hash, text_ref.hash]
    store.put({"a": 1})
    store.put_text("t", suffix=".md")
    assert writes == [value_ref.hash, text_ref.hash]  # verified in place, not rewritten
    assert store.meta(text_ref.hash)["type"] == "builtins.str"


def test_a_folder_left_without_its_meta_is_named_exactly(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put([1, 2, 3])
    (store.path_of(ref.hash) / "meta.json").unlink()
    with pytest.raises(CorruptArtifact) as caught:
        store.get(ref.hash)
    assert caught.value.why == f"its meta.json is missing from {store.path_of(ref.hash)}"


def test_a_corrupted_copy_of_a_pickled_value_is_replaced_when_stored_again(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ref = store.put({1, 2})
    store.data_path(ref.hash).write_bytes(b"not a pickle")
    assert store.put({2, 1}).hash == ref.hash  # the rename meets the corrupted copy: quarantined, then replaced
    assert store.get(ref.hash) == {1, 2}
    assert len(list((tmp_path / "quarantine").iterdir())) == 1 and list(store.tmp.iterdir()) == []


NO_SUCH_PID = 4194304 + 1000  # above Linux's largest pid_max: never a live process


def test_leftover_temp_folders_of_gone_processes_are_removed_and_counted(tmp_path: Path) -> None:
    import os

    store = ArtifactStore(tmp_path)
    assert store._workdir().name.startswith(f"{os.getpid()}-")  # how a later process tells whose it is
    for name in (f"{NO_SUCH_PID}-a", f"{NO_SUCH_PID}-b-c", "notapid-x", f"{os.getpid()}-interrupted"):
        (store.tmp / name).mkdir(exist_ok=True)
    (store.tmp / f"{NO_SUCH_PID}-file").write_text("x")
    kept = {p.name for p in store.tmp.iterdir() if p.name.startswith(str(os.getpid()))}
    assert store.clean_stale_tmp() == 3
    assert {p.name for p in store.tmp.iterdir()} == {"notapid-x", *kept}
    assert store.clean_stale_tmp() == 0
    assert store.clean_stale_tmp(include_own=True) == len(kept)
    assert {p.name for p in store.tmp.iterdir()} == {"notapid-x"}


def test_only_a_text_artifact_reads_its_data_name_from_meta(tmp_path: Path) -> None:
    import json

    store = ArtifactStore(tmp_path)
    ref = store.put({"a": 1})
    meta_path = store.path_of(ref.hash) / "meta.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "data_name": "data.md"}))
    assert store.get(ref.hash) == {"a": 1}  # a JSON artifact's payload is always data.json


def test_an_escaping_data_name_is_refused_in_exact_words(tmp_path: Path) -> None:
    import json

    store = ArtifactStore(tmp_path)
    ref = store.put_text("hello", suffix=".md")
    folder = store.path_of(ref.hash)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "data_name": "../../escape.md"}))
    with pytest.raises(CorruptArtifact) as caught:
        store.get(ref.hash)
    assert caught.value.why == f"unreadable meta.json in {folder} (invalid data_name '../../escape.md')"
