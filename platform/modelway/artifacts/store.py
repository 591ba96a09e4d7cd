"""Content-addressed artifact store on the local filesystem (sha256, atomic, de-duplicated).

Layout: ``<home>/artifacts/<2 hex>/<64 hex>/`` holding ``meta.json`` and ``data.*``.
An artifact appears only by renaming a complete temp directory into place, so readers
never see half-written data; an identical artifact already present is reused.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelway.artifacts import serializers


@dataclass(frozen=True)
class ArtifactRef:
    """Where a stored value lives: its content hash and serializer kind."""

    hash: str
    kind: str
    size: int
    type: str


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def content_hash(kind: str, data: Path) -> tuple[str, int]:
    """sha256 of a stored payload (file, or directory tree) together with its kind; and its size."""
    h = hashlib.sha256(kind.encode() + b"\0")
    size = 0
    if data.is_dir():
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            rel = path.relative_to(data).as_posix()
            h.update(rel.encode() + b"\0" + _file_digest(path).encode() + b"\n")
            size += path.stat().st_size
    else:
        h.update(_file_digest(data).encode())
        size = data.stat().st_size
    return h.hexdigest(), size


class ArtifactStore:
    """Local content-addressed store.

    Example:
        >>> store = ArtifactStore(Path(tempfile.mkdtemp()))
        >>> ref = store.put({"a": 1})
        >>> store.get(ref.hash)
        {'a': 1}
    """

    def __init__(self, home: Path) -> None:
        self.root = home / "artifacts"
        self.tmp = home / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path_of(self, digest: str) -> Path:
        """Directory of an artifact (may not exist)."""
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        """True when the artifact is fully stored."""
        return (self.root / digest[:2] / digest / "meta.json").exists()

    def meta(self, digest: str) -> dict[str, Any]:
        """The artifact's metadata (kind, type, size)."""
        return json.loads((self.path_of(digest) / "meta.json").read_bytes())

    def put(self, value: Any) -> ArtifactRef:
        """Store a value; returns its reference. Raises serializers.UnserializableError."""
        kind = serializers.kind_of(value)
        type_name = f"{type(value).__module__}.{type(value).__qualname__}"
        if kind == "json":  # fast path: hash in memory, write only when new
            payload = serializers.canonical_json(value)
            digest = hashlib.sha256(b"json\0" + hashlib.sha256(payload).hexdigest().encode()).hexdigest()
            if not self.exists(digest):
                workdir = self._workdir()
                (workdir / "data.json").write_bytes(payload)
                self._commit(workdir, digest, kind, type_name, len(payload))
            return ArtifactRef(digest, kind, len(payload), type_name)
        workdir = self._workdir()
        try:
            target = workdir / serializers.DATA_NAME[kind]
            try:
                serializers.write(value, kind, target)
            except serializers._FallBack:
                kind = "pickle"
                for leftover in workdir.iterdir():
                    _remove(leftover)
                target = workdir / serializers.DATA_NAME[kind]
                serializers.write(value, kind, target)
            digest, size = content_hash(kind, target)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._commit(workdir, digest, kind, type_name, size)
        return ArtifactRef(digest, kind, size, type_name)

    def put_text(self, text: str, suffix: str = ".txt") -> ArtifactRef:
        """Store ``text`` as a UTF-8 file named ``data<suffix>`` (readable with any viewer); loads as ``str``.

        The suffix is part of the content hash: the same text as ``.md`` and ``.txt`` are two artifacts.

        Example:
            >>> store = ArtifactStore(Path(tempfile.mkdtemp()))
            >>> ref = store.put_text("# Report", suffix=".md")
            >>> store.data_path(ref.hash).name, store.get(ref.hash)
            ('data.md', '# Report')
        """
        if not isinstance(text, str):
            raise TypeError(f"put_text expects a str, got {type(text).__name__}")
        if not _SUFFIX.match(suffix):
            raise ValueError(f"invalid suffix {suffix!r}: use a dot and up to 16 letters/digits, e.g. '.md'")
        payload = text.encode("utf-8")
        digest = hashlib.sha256(b"text\0" + suffix.encode() + b"\0" + hashlib.sha256(payload).hexdigest().encode()).hexdigest()
        if not self.exists(digest):
            workdir = self._workdir()
            data_name = f"data{suffix}"
            (workdir / data_name).write_bytes(payload)
            self._commit(workdir, digest, "text", "builtins.str", len(payload), data_name=data_name)
        return ArtifactRef(digest, "text", len(payload), "builtins.str")

    def put_path(self, path: Path) -> ArtifactRef:
        """Store a file or directory as-is (datasets, attachments)."""
        return self.put(Path(path))

    def get(self, digest: str) -> Any:
        """Load a stored value (``file``/``dir`` kinds load as a Path into the store: read-only)."""
        folder = self.path_of(digest)
        try:
            meta = json.loads((folder / "meta.json").read_bytes())
        except FileNotFoundError:
            raise KeyError(f"artifact {digest[:12]} is not in the store {self.root}") from None
        return serializers.read(meta["kind"], folder / _data_name(meta))

    def data_path(self, digest: str) -> Path:
        """Path of the stored payload (file or directory)."""
        return self.path_of(digest) / _data_name(self.meta(digest))

    def _workdir(self) -> Path:
        # The pid in the name lets a later process remove leftovers of a killed one.
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self.tmp))

    def _commit(self, workdir: Path, digest: str, kind: str, type_name: str, size: int,
                data_name: str | None = None) -> None:
        meta = {"hash": digest, "kind": kind, "type": type_name, "size": size, "created_at": time.time()}
        if data_name is not None:
            meta["data_name"] = data_name
        (workdir / "meta.json").write_text(json.dumps(meta))
        final = self.path_of(digest)
        final.parent.mkdir(exist_ok=True)
        try:
            os.rename(workdir, final)  # atomic; fails if an identical artifact is already there
        except OSError:
            if not self.exists(digest):
                # a leftover partial directory can't exist (renames are atomic), so retry once
                shutil.rmtree(final, ignore_errors=True)
                try:
                    os.rename(workdir, final)
                    return
                except OSError:
                    pass
            shutil.rmtree(workdir, ignore_errors=True)

    def clean_stale_tmp(self, include_own: bool = False) -> int:
        """Remove temp directories left by processes that no longer exist (and, with
        ``include_own``, by this one: a write interrupted by Ctrl-C); returns how many."""
        removed = 0
        me = os.getpid()
        for entry in self.tmp.iterdir():
            pid_text = entry.name.split("-", 1)[0]
            if pid_text.isdigit() and ((include_own and int(pid_text) == me) or not _pid_alive(int(pid_text))):
                _remove(entry)
                removed += 1
        return removed


_SUFFIX = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")


def _data_name(meta: dict[str, Any]) -> str:
    # text artifacts keep their own suffix (data.md); every other kind has a fixed name
    return meta.get("data_name") or serializers.DATA_NAME[meta["kind"]]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
