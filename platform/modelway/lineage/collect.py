"""What a run's lineage records: code version, pipeline file, environment and host."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelway import active_backends

KEY_PACKAGES = ("modelway", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "pydantic", "mlflow", "fairlearn")


def git_info(path: Path) -> dict[str, Any]:
    """Commit and dirty flag of the git work tree containing ``path`` (``{}`` outside git)."""
    cwd = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0:
            return {}
        commit, top = out.stdout.splitlines()[:2]  # one per line: a path may contain spaces
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
                                text=True, timeout=20)
        return {"commit": commit, "dirty": bool(status.stdout.strip()), "root": top}
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}


def package_versions() -> dict[str, str]:
    """Versions of the key packages installed in this environment.

    Read from the ``*.dist-info`` directory names on ``sys.path`` (one directory listing
    each) instead of parsing every METADATA file: this runs at the start of every run.
    """
    wanted = {_normalize(name): name for name in KEY_PACKAGES}
    versions: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for item in names:
            if not item.endswith(".dist-info"):
                continue
            dist, _, version = item[: -len(".dist-info")].partition("-")
            key = _normalize(dist)
            if key in wanted and wanted[key] not in versions:
                versions[wanted[key]] = version
    return {name: versions[name] for name in KEY_PACKAGES if name in versions}


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def collect(pipeline_file: Path | None, params: dict[str, Any]) -> dict[str, Any]:
    """The lineage record of a run, taken when it starts.

    Example:
        >>> sorted(collect(None, {"seed": 1}))[:3]
        ['command', 'cwd', 'git']
    """
    import platform as _platform

    lineage: dict[str, Any] = {
        "params": params,
        "python": {"version": _platform.python_version(), "implementation": _platform.python_implementation(),
                   "executable": sys.executable},
        "packages": package_versions(),
        "host": {"name": socket.gethostname(), "platform": _platform.platform(), "cpus": os.cpu_count(),
                 "user": os.environ.get("USER") or os.environ.get("LOGNAME")},
        "cwd": os.getcwd(),
        "command": sys.argv,
        "git": git_info(pipeline_file if pipeline_file else Path.cwd()),
    }
    if pipeline_file is not None:
        lineage["pipeline_file"] = {"path": str(pipeline_file), "sha256": file_sha256(pipeline_file)}
    backends = active_backends.current()
    if backends is not None:  # the stack it ran against (name, outputs digest, image)
        lineage["stack"] = backends.lineage()
    return lineage
