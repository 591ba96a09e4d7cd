"""Registered datasets: immutable, content-addressed versions, and who consumed them.

Recording what a *running step* consumes is the runtime's job (:mod:`modelway.runtime.lineage`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelway.errors import UserError
from modelway.settings import get_settings
from modelway.store.handles import stores

VERSION_LEN = 12


@dataclass(frozen=True)
class DatasetRef:
    """A pinned dataset version. Pass it to steps; ``path`` is its read-only stored copy.

    Example:
        >>> ref = DatasetRef("credit", "3f2a9c1b7d4e", "3f2a9c1b7d4e" + "0" * 52, "/home/.modelway/artifacts/...")
        >>> str(ref)
        'credit@3f2a9c1b7d4e'
    """

    name: str
    version: str
    hash: str
    location: str

    @property
    def path(self) -> Path:
        """The stored file or directory (do not modify it)."""
        return Path(self.location)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    def __modelway_token__(self) -> dict[str, str]:
        # Cache keys depend on the content, not on where the store lives.
        return {"$dataset": self.name, "hash": self.hash}


# ASCII only: names go into NAME@VERSION specs, file paths and shell commands.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _home(home: Path | None) -> Path:
    if home is not None:
        return home
    return get_settings().resolved_home()


def add_dataset(name: str, path: Path, home: Path | None = None) -> tuple[DatasetRef, bool]:
    """Register file or directory ``path`` as a version of dataset ``name``; (ref, newly_added).

    The version is the first 12 hex digits of the content hash: the same content is the same
    version, and a version can never change.

    Example:
        >>> ref, added = add_dataset("credit", Path("data/credit.csv"))  # doctest: +SKIP
    """
    if not _NAME.fullmatch(name):
        raise UserError(f"dataset name {name!r} is invalid: it must start with a letter or digit and use only "
                        "letters, digits, '-', '_' and '.'")
    path = Path(path)
    if not path.exists():
        raise UserError(f"data add: {path} does not exist")
    special = _special_file(path)
    if special is not None:
        raise UserError(f"data add: {special} is not a regular file or directory (a named pipe, socket or device); "
                        "register regular files only")
    home = _home(home)
    run_store, artifacts = stores(home)
    ref = artifacts.put_path(path)
    files = sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1
    version = ref.hash[:VERSION_LEN]
    added = run_store.add_dataset(name, version, ref, str(path.absolute()), files)
    return DatasetRef(name, version, ref.hash, str(artifacts.data_path(ref.hash))), added


def _special_file(path: Path) -> Path | None:
    """The first entry under ``path`` (or ``path`` itself) that is neither a regular file, a
    directory nor a symlink: copying a named pipe would block forever."""
    import stat

    for entry in [path, *(path.rglob("*") if path.is_dir() else ())]:
        mode = entry.lstat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            return entry
        if stat.S_ISLNK(mode) and entry.exists() and not (entry.is_file() or entry.is_dir()):
            return entry
    return None


def resolve(spec: str, home: Path | None = None) -> DatasetRef:
    """``NAME`` (latest version) or ``NAME@VERSION`` (any unique prefix of the version) → DatasetRef."""
    name, _, version = spec.partition("@")
    home = _home(home)
    run_store, artifacts = stores(home)
    rows = run_store.datasets(name)
    if not rows:
        raise UserError(f"dataset {name!r} is not registered; add it with: modelway data add {name} PATH")
    if version:
        matches = [r for r in rows if r["version"].startswith(version) or r["hash"].startswith(version)]
        if not matches:
            known = ", ".join(r["version"] for r in rows[:5])
            raise UserError(f"dataset {name!r} has no version {version!r} (versions: {known})")
        if len({r['version'] for r in matches}) > 1:
            raise UserError(f"dataset version prefix {name}@{version} is ambiguous")
        row = matches[0]
    else:
        row = rows[0]
    # verified when the pipeline is built: a stored copy edited by hand fails the build, not a step
    return DatasetRef(name, row["version"], row["hash"], str(artifacts.verified_path(row["hash"])))


def consumers(spec: str, home: Path | None = None) -> dict[str, Any]:
    """Runs (and models produced by them) that consumed dataset ``NAME@VERSION``."""
    ref = resolve(spec, home)
    run_store, _ = stores(_home(home))
    usage = run_store.dataset_usage(name=ref.name, version=ref.version)
    runs: dict[str, dict[str, Any]] = {}
    for row in usage:
        entry = runs.setdefault(row["run_id"], {"run_id": row["run_id"], "steps": []})
        entry["steps"].append(row["step"])
    for run_id, entry in runs.items():
        run = run_store.get_run(run_id) or {}
        entry.update({"pipeline": run.get("pipeline"), "status": run.get("status"), "created_at": run.get("created_at")})
    models = run_store.models_of_runs(list(runs))
    return {"dataset": ref.name, "version": ref.version, "hash": ref.hash,
            "runs": sorted(runs.values(), key=lambda r: r.get("created_at") or 0),
            "models": [{"model": m["model"], "version": m["version"], "run_id": m["run_id"]} for m in models]}


def model_lineage(model: str, version: str, home: Path | None = None) -> dict[str, Any]:
    """Where a model version comes from: the run that produced it, that run's code version,
    parameters, environment and the dataset versions it read.

    Example:
        >>> model_lineage("credit-risk", "1.0.0")["run"]["git"]["commit"]  # doctest: +SKIP
        'e9c8b5e07745...'
    """
    run_store, _ = stores(_home(home))
    link = run_store.model_version(model, version)
    if link is None:
        known = run_store.recorded_versions(model)
        if known:
            raise UserError(f"no lineage for model {model} {version}: no version {version} of model {model} is "
                            f"recorded (recorded: {', '.join(known)}); see them with: modelway models list --name {model}")
        raise UserError(f"no lineage for model {model} {version}: no version of model {model!r} is recorded in "
                        f"{run_store.path.parent} (pipelines record the versions they register)")
    run = run_store.get_run(link["run_id"]) if link["run_id"] else None
    lineage = (run or {}).get("lineage") or {}
    return {
        "model": model, "version": version, "artifact": link["artifact"], "step": link["step"],
        "run": None if run is None else {
            "run_id": run["run_id"], "pipeline": run["pipeline"], "status": run["status"],
            "created_at": run["created_at"], "params": run["params"], "git": lineage.get("git"),
            "pipeline_file": lineage.get("pipeline_file"), "python": lineage.get("python"),
            "packages": lineage.get("packages"), "host": lineage.get("host"),
        },
        "datasets": [{"name": d["name"], "version": d["version"], "hash": d["hash"], "step": d["step"]}
                     for d in run_store.dataset_usage(run_id=link["run_id"])] if link["run_id"] else [],
    }
