"""Atomic file writes: a temp file in the target's directory, fsync, then a rename.

A crash or a kill at any moment leaves either the old file or the new one, never half of
one. Files get the mode an ordinary ``open()`` would give (0666 minus the umask), not
``mkstemp``'s 0600: reports, cards and artifacts are meant to be read by others.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "card.md"
    >>> atomic_write_text(target, "# card\\n", create_parents=True)
    >>> target.read_text()
    '# card\\n'
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, create_parents: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``create_parents`` makes missing folders first."""
    if create_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, create_parents: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), create_parents=create_parents)


def _umask() -> int:
    # the umask can only be read by setting it; put it straight back
    mask = os.umask(0)
    os.umask(mask)
    return mask
