"""Store faults a user meets (disk full, read-only or misplaced home, unreadable files) as one line.

The CLI prints :func:`describe` for any ``OSError`` or ``sqlite3.Error`` that reaches it, so
a full disk at COMMIT or a read-only ``$MODELWAY_HOME`` is one line naming the file and what to
do, not a traceback (``--debug`` still shows it).

Example:
    >>> import errno
    >>> describe(OSError(errno.ENOSPC, "No space left on device", "/h/modelway.db"))
    '/h/modelway.db: No space left on device (free some space, or set MODELWAY_HOME to another disk)'
"""
from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from modelway.errors import ConfigError

_HINTS = {
    errno.ENOSPC: "free some space, or set MODELWAY_HOME to another disk",
    errno.EDQUOT: "free some space, or set MODELWAY_HOME to another disk",
    errno.EFBIG: "the file size limit (ulimit -f) or the disk is too small",
    errno.EROFS: "the Modelway home is read-only: read commands work, set MODELWAY_HOME to a writable directory to run",
    errno.EACCES: "check the permissions, or set MODELWAY_HOME to a directory you can write",
    errno.EPERM: "check the permissions, or set MODELWAY_HOME to a directory you can write",
}


def describe(exc: BaseException) -> str:
    """One line for a storage error: the file, the problem, and a hint."""
    if isinstance(exc, sqlite3.Error):
        text = str(exc) or type(exc).__name__
        if "full" in text:
            return f"a Modelway database could not be written: {text} (free some space, or set MODELWAY_HOME to another disk)"
        if "readonly" in text or "read-only" in text:
            return f"a Modelway database could not be written: {text} ({_HINTS[errno.EROFS]})"
        return f"a Modelway database failed: {text}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        problem = exc.strerror or str(exc)
        hint = _HINTS.get(exc.errno or 0)
        return f"{where}{problem}" + (f" ({hint})" if hint else "")
    return str(exc)


def check_home(home: Path) -> Path:
    """``home``, unless it exists and is not a directory (a ConfigError then: a file there would
    otherwise read as an empty home)."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"MODELWAY_HOME {home} is not a directory (it is a file); set MODELWAY_HOME to a directory")
    return home


def writable(directory: Path) -> bool:
    """Whether this process can create files in ``directory`` (False on a read-only mount, where
    even root cannot)."""
    try:
        read_only_mount = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_mount = False
    return not read_only_mount and os.access(directory, os.W_OK)
