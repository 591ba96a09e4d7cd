"""Content-addressed artifact store on the local filesystem (sha256, atomic, de-duplicated).

Layout: ``<home>/artifacts/<2 hex>/<64 hex>/`` holding ``meta.json`` and ``data.*``.
An artifact appears only by renaming a complete temp directory into place, so readers
never see half-written data; an identical artifact already present is reused.

Every read is verified: :meth:`ArtifactStore.get` reads the payload once, hashes those
bytes and deserializes *the same bytes* only when their hash is the artifact's name, so an
edited or replaced file (a pickle with code in it, a cached value changed by hand) is
refused with :class:`CorruptArtifact` before anything is unpickled. ``meta.json`` is not
trusted either: the kind it names is part of the hash. A corrupted artifact is moved to
``<home>/quarantine/`` by :meth:`ArtifactStore.quarantine` (the runner does this for cache
hits and then recomputes), so a fresh copy can take its place.
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
from modelway.errors import UserError


class CorruptArtifact(UserError):
    """A stored artifact's content no longer matches its sha256 (edited, truncated, replaced or unreadable)."""

    def __init__(self, digest: str, why: str) -> None:
        super().__init__(f"artifact {digest[:12]} is corrupted: {why}")
        self.digest = digest
        self.why = why


@dataclass(frozen=True)
class ArtifactRef:
    """Where a stored value lives: its content hash and serializer kind."""

    hash: str
    kind: str
    size: int
    type: str


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def payload_digest(kind: str, payload_sha256: str, data_name: str | None = None) -> str:
    """The artifact name of a single-file payload with sha256 ``payload_sha256``.

    The kind (and, for text, the file suffix) is hashed in, so ``meta.json`` cannot relabel
    a pickle as JSON without changing the name.
    """
    if kind == "text":
        suffix = (data_name or "data.txt")[len("data"):]
        return hashlib.sha256(b"text\0" + suffix.encode() + b"\0" + payload_sha256.encode()).hexdigest()
    return hashlib.sha256(kind.encode() + b"\0" + payload_sha256.encode()).hexdigest()


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
            digest = payload_digest("json", hashlib.sha256(payload).hexdigest())
            if not self._intact(digest):
                self._write_new(digest, "data.json", payload, kind, type_name)
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

    def _write_new(self, digest: str, name: str, payload: bytes, kind: str, type_name: str,
                   data_name: str | None = None) -> None:
        workdir = self._workdir()
        try:
            (workdir / name).write_bytes(payload)
        except BaseException:  # disk full, Ctrl-C: no half-written temp folder stays behind
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._commit(workdir, digest, kind, type_name, len(payload), data_name=data_name)

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
        data_name = f"data{suffix}"
        digest = payload_digest("text", hashlib.sha256(payload).hexdigest(), data_name)
        if not self._intact(digest):
            self._write_new(digest, data_name, payload, "text", "builtins.str",
                            data_name=data_name)
        return ArtifactRef(digest, "text", len(payload), "builtins.str")

    def put_path(self, path: Path) -> ArtifactRef:
        """Store a file or directory as-is (datasets, attachments)."""
        return self.put(Path(path))

    def get(self, digest: str) -> Any:
        """Load a stored value after verifying it (``file``/``dir`` kinds load as a Path into the
        store: read-only). Raises KeyError when absent, :class:`CorruptArtifact` when it fails verification."""
        meta, payload = self._verified(digest)
        if isinstance(payload, Path):
            return payload
        return serializers.loads(meta["kind"], payload)

    def verify(self, digest: str) -> None:
        """Check a stored artifact against its name (reads and hashes all of it); raises KeyError
        when absent, :class:`CorruptArtifact` when the content does not match."""
        self._verified(digest)

    def verified_path(self, digest: str) -> Path:
        """Path of the stored payload, after verifying its content (for datasets and attachments
        that are handed out by path)."""
        return self.path_of(digest) / _data_name(self._verified(digest)[0])

    def data_path(self, digest: str) -> Path:
        """Path of the stored payload (file or directory), not verified: for display only."""
        return self.path_of(digest) / _data_name(self.meta(digest))

    def quarantine(self, digest: str) -> Path | None:
        """Move a corrupted artifact to ``<home>/quarantine/`` (kept for inspection) so a fresh copy
        can be stored under its name; returns where it went (None if it was already gone)."""
        target = self.root.parent / "quarantine" / f"{digest}.{time.time_ns()}"
        target.parent.mkdir(exist_ok=True)
        try:
            os.rename(self.path_of(digest), target)
        except FileNotFoundError:
            return None
        return target

    def _intact(self, digest: str) -> bool:
        """True when the artifact is stored and verifies; a corrupted copy is quarantined (False)."""
        if not self.exists(digest):
            return False
        try:
            self.verify(digest)
        except KeyError:
            return False
        except CorruptArtifact:
            self.quarantine(digest)
            return False
        return True

    def _verified(self, digest: str) -> tuple[dict[str, Any], bytes | Path]:
        """(meta, payload): the payload's bytes (read once, hashed, returned) or, for file/dir
        kinds, its verified path."""
        folder = self.path_of(digest)
        try:
            meta = json.loads((folder / "meta.json").read_bytes())
            kind = meta["kind"]
            name = _data_name(meta)
        except FileNotFoundError:
            if folder.is_dir():
                raise CorruptArtifact(digest, f"its meta.json is missing from {folder}") from None
            raise KeyError(f"artifact {digest[:12]} is not in the store {self.root}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptArtifact(digest, f"unreadable meta.json in {folder} ({_why(exc)})") from None
        data = folder / name
        try:
            if kind in ("file", "dir"):
                if (kind == "dir") != data.is_dir():
                    raise CorruptArtifact(digest, f"{data} is not a {'directory' if kind == 'dir' else 'file'}")
                actual = content_hash(kind, data)[0]
                payload: bytes | Path = data
            else:
                payload = data.read_bytes()
                actual = payload_digest(kind, hashlib.sha256(payload).hexdigest(), name)
        except OSError as exc:
            raise CorruptArtifact(digest, f"cannot read {data} ({_why(exc)})") from None
        if actual != digest:
            raise CorruptArtifact(digest, f"the content of {data} no longer matches its sha256 (edited or replaced)")
        return meta, payload

    def _workdir(self) -> Path:
        # The pid in the name lets a later process remove leftovers of a killed one.
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self.tmp))

    def _commit(self, workdir: Path, digest: str, kind: str, type_name: str, size: int,
                data_name: str | None = None) -> None:
        meta = {"hash": digest, "kind": kind, "type": type_name, "size": size, "created_at": time.time()}
        if data_name is not None:
            meta["data_name"] = data_name
        final = self.path_of(digest)
        try:
            (workdir / "meta.json").write_text(json.dumps(meta))
            final.parent.mkdir(exist_ok=True)
        except BaseException:  # disk full, read-only home: leave no temp folder behind
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        try:
            os.rename(workdir, final)  # atomic; fails if an identical artifact is already there
        except OSError:
            self._intact(digest)  # a corrupted copy there is quarantined, so ours takes its place
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
    if meta["kind"] == "text" and meta.get("data_name"):
        name = meta["data_name"]
        if not (isinstance(name, str) and name.startswith("data") and _SUFFIX.match(name[len("data"):])):
            raise ValueError(f"invalid data_name {name!r}")  # never a path out of the artifact's folder
        return name
    return serializers.DATA_NAME[meta["kind"]]


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


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
