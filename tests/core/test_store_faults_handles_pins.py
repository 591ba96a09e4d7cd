"""Pins on store faults (``describe``, ``check_home``, ``writable``) and the per-process store handles
(``make mutate``: ``store/faults``, ``store/handles``).

A fault the user meets must be one line naming the file and what to do; a home that is a file
must be refused, not read as empty; and store handles are per process and per home, so a forked
step never shares the parent's SQLite connection and two homes never share a store.
"""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelway import active_backends
from modelway.errors import ConfigError
from modelway.store import faults, handles
from modelway.store.faults import check_home, describe, writable

SPACE = "free some space, or set MODELWAY_HOME to another disk"
READ_ONLY = "the Modelway home is read-only: read commands work, set MODELWAY_HOME to a writable directory to run"
PERMS = "check the permissions, or set MODELWAY_HOME to a directory you can write"


@pytest.mark.parametrize("code, hint", [
    (errno.ENOSPC, SPACE), (errno.EDQUOT, SPACE), (errno.EFBIG, "the file size limit (ulimit -f) or the disk is too small"),
    (errno.EROFS, READ_ONLY), (errno.EACCES, PERMS), (errno.EPERM, PERMS)])
def test_each_known_os_fault_gets_its_hint(code: int, hint: str) -> None:
    assert describe(OSError(code, os.strerror(code), "/h/f.db")) == f"/h/f.db: {os.strerror(code)} ({hint})"


def test_an_os_fault_without_a_hint_file_or_strerror() -> None:
    assert describe(OSError(errno.ENOENT, "No such file or directory", "/h/x")) == "/h/x: No such file or directory"
    assert describe(OSError(errno.ENOSPC, "No space left on device")) == f"No space left on device ({SPACE})"
    assert describe(OSError("plain message")) == "plain message"
    assert describe(OSError(0, "Odd")) == "Odd"
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/h")) == f"/h: Permission denied ({PERMS})"


@pytest.mark.parametrize("message, expected", [
    ("database or disk is full", f"a Modelway database could not be written: database or disk is full ({SPACE})"),
    ("attempt to write a readonly database",
     f"a Modelway database could not be written: attempt to write a readonly database ({READ_ONLY})"),
    ("file is read-only", f"a Modelway database could not be written: file is read-only ({READ_ONLY})"),
    ("database is locked", "a Modelway database failed: database is locked"),
])
def test_sqlite_faults(message: str, expected: str) -> None:
    assert describe(sqlite3.OperationalError(message)) == expected


def test_a_sqlite_fault_without_a_message_is_named_by_its_type() -> None:
    assert describe(sqlite3.OperationalError()) == "a Modelway database failed: OperationalError"
    assert describe(sqlite3.DatabaseError()) == "a Modelway database failed: DatabaseError"


def test_other_errors_are_their_message() -> None:
    assert describe(ValueError("bad")) == "bad"


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    assert check_home(tmp_path) == tmp_path
    assert check_home(tmp_path / "new") == tmp_path / "new"   # not created yet: fine
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as caught:
        check_home(tmp_path / "file")
    assert str(caught.value) == (f"MODELWAY_HOME {tmp_path / 'file'} is not a directory (it is a file); "
                                 "set MODELWAY_HOME to a directory")


def test_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert writable(tmp_path) is True
    assert writable(tmp_path / "missing") is False


def test_a_read_only_mount_is_not_writable_even_for_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults.os, "statvfs", lambda d: SimpleNamespace(f_flag=os.ST_RDONLY | os.ST_NOSUID))
    assert writable(tmp_path) is False
    monkeypatch.setattr(faults.os, "statvfs", lambda d: SimpleNamespace(f_flag=os.ST_NOSUID))
    assert writable(tmp_path) is True


def test_writable_falls_back_to_access_when_statvfs_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_statvfs(directory: Path) -> None:
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(faults.os, "statvfs", no_statvfs)
    assert writable(tmp_path) is True
    asked: list[tuple] = []
    monkeypatch.setattr(faults.os, "access", lambda d, mode: asked.append((d, mode)) or False)
    assert writable(tmp_path) is False
    assert asked == [(tmp_path, os.W_OK)]


# --- store handles -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _clean_handles() -> None:
    handles.forget_stores()
    active_backends.install(None)
    yield
    handles.forget_stores()
    active_backends.install(None)


def test_stores_are_opened_once_per_home(tmp_path: Path) -> None:
    from modelway.artifacts.store import ArtifactStore
    from modelway.store.runs import RunStore

    runs, artifacts = handles.stores(tmp_path / "a")
    assert isinstance(runs, RunStore) and isinstance(artifacts, ArtifactStore)
    assert handles.stores(tmp_path / "a") == (runs, artifacts)
    assert handles.stores(tmp_path / "a")[0] is runs
    assert handles.artifact_store(tmp_path / "a") is artifacts
    other = handles.stores(tmp_path / "b")
    assert other[0] is not runs and other[1] is not artifacts


def test_artifact_store_alone_is_cached_per_home(tmp_path: Path) -> None:
    first = handles.artifact_store(tmp_path / "a")
    assert handles.artifact_store(tmp_path / "a") is first
    assert handles.artifact_store(tmp_path / "b") is not first


def test_forget_stores_drops_every_handle(tmp_path: Path) -> None:
    runs, artifacts = handles.stores(tmp_path)
    handles.forget_stores()
    again = handles.stores(tmp_path)
    assert again[0] is not runs and again[1] is not artifacts


def test_a_forked_process_opens_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs, artifacts = handles.stores(tmp_path)
    monkeypatch.setattr(handles.os, "getpid", lambda: -1)
    child = handles.stores(tmp_path)
    assert child[0] is not runs and child[1] is not artifacts
    assert handles.artifact_store(tmp_path) is child[1]


class FakeBackends:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Path]] = []

    def run_store(self, home: Path) -> object:
        self.calls.append(("run_store", home))
        return ("runs", home)

    def artifact_store(self, home: Path) -> object:
        self.calls.append(("artifact_store", home))
        return ("artifacts", home)


def test_installed_backends_provide_the_stores(tmp_path: Path) -> None:
    embedded = handles.stores(tmp_path)
    backends = FakeBackends()
    active_backends.install(backends)
    assert handles.stores(tmp_path) == (("runs", tmp_path), ("artifacts", tmp_path))
    assert handles.stores(tmp_path) == (("runs", tmp_path), ("artifacts", tmp_path))
    assert backends.calls == [("run_store", tmp_path), ("artifact_store", tmp_path)]
    assert handles.artifact_store(tmp_path) == ("artifacts", tmp_path)
    active_backends.install(None)
    assert handles.stores(tmp_path) == embedded   # the embedded stores were not replaced


def test_a_home_that_cannot_be_opened_is_one_config_error(tmp_path: Path) -> None:
    home = tmp_path / "file"
    home.write_text("")
    with pytest.raises(ConfigError) as caught:
        handles.stores(home)
    message = str(caught.value)
    assert message.startswith(f"cannot use {home} as the Modelway home (")
    assert message.endswith("); set MODELWAY_HOME to a writable directory")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_sqlite_failure_opening_the_home_is_one_config_error(tmp_path: Path) -> None:
    class Broken(FakeBackends):
        def run_store(self, home: Path) -> object:
            raise sqlite3.OperationalError("unable to open database file")

    active_backends.install(Broken())
    with pytest.raises(ConfigError) as caught:
        handles.stores(tmp_path)
    assert str(caught.value) == (f"cannot use {tmp_path} as the Modelway home (unable to open database file); "
                                 "set MODELWAY_HOME to a writable directory")
    active_backends.install(FakeBackends())
    assert handles.stores(tmp_path)[0] == ("runs", tmp_path)   # the failure was not cached
