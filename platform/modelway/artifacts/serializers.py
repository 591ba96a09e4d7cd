"""How step values become files and back. Heavy libraries are imported only for their own type.

Kinds: ``json`` (JSON-able values), ``parquet`` (pandas DataFrame), ``numpy`` (ndarray),
``sklearn`` (estimators, joblib), ``file`` / ``dir`` (a ``pathlib.Path`` output), ``pickle``
(anything else picklable: dataclasses, pydantic models, tuples...), and ``text`` (a string
stored as a UTF-8 file with its own suffix, e.g. ``data.md``; only written on request by
``ArtifactStore.put_text``, loads back as ``str``).
"""
from __future__ import annotations

import io
import json
import math
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

DATA_NAME = {"json": "data.json", "parquet": "data.parquet", "numpy": "data.npy", "sklearn": "data.joblib",
             "pickle": "data.pkl", "file": "data", "dir": "data", "text": "data.txt"}


class UnserializableError(Exception):
    """The value cannot be stored as an artifact."""


def is_jsonable(value: Any, depth: int = 0) -> bool:
    """True when ``json.loads(json.dumps(value)) == value`` with the same types."""
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, str)):
        return True
    if type(value) is int:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(is_jsonable(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_jsonable(v, depth + 1) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces) used for hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _is(value: Any, module: str, cls_name: str) -> bool:
    mod = sys.modules.get(module)
    if mod is None:
        return False
    cls = getattr(mod, cls_name, None)
    return isinstance(cls, type) and isinstance(value, cls)


def kind_of(value: Any) -> str:
    """The serializer kind for a value."""
    if isinstance(value, Path):
        if value.is_dir():
            return "dir"
        if value.is_file():
            return "file"
        raise UnserializableError(f"returned path {str(value)!r} does not exist")
    if _is(value, "pandas", "DataFrame"):
        return "parquet"
    if _is(value, "numpy", "ndarray") and value.dtype != object:
        return "numpy"
    if _is(value, "sklearn.base", "BaseEstimator"):
        return "sklearn"
    if is_jsonable(value):
        return "json"
    return "pickle"


def write(value: Any, kind: str, target: Path) -> None:
    """Write ``value`` of ``kind`` to ``target`` (a path inside a fresh temp directory)."""
    if kind == "json":
        target.write_bytes(canonical_json(value))
    elif kind == "parquet":
        try:
            value.to_parquet(target, index=True)
        except Exception as exc:  # e.g. non-string column names: pickle keeps the frame intact
            raise _FallBack(exc) from exc
    elif kind == "numpy":
        import numpy as np

        with open(target, "wb") as fh:
            np.save(fh, value, allow_pickle=False)
    elif kind == "sklearn":
        import joblib

        joblib.dump(value, target)
    elif kind == "file":
        shutil.copyfile(value, target)
    elif kind == "dir":
        shutil.copytree(value, target, symlinks=False)
    elif kind == "pickle":
        try:
            with open(target, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:
            raise  # disk full, read-only home: a storage fault, not a value that cannot be pickled
        except Exception as exc:
            raise UnserializableError(
                f"returned a {type(value).__module__}.{type(value).__qualname__} that cannot be stored ({exc}); "
                "return a DataFrame, numpy array, estimator, JSON-able value, dataclass or pathlib.Path"
            ) from None
    else:
        raise ValueError(f"unknown artifact kind {kind!r}")


class _FallBack(Exception):
    """Raised by a specific serializer to ask for the pickle fallback."""


def loads(kind: str, payload: bytes) -> Any:
    """Load a value of ``kind`` from the bytes :func:`write` wrote. The artifact store calls it
    only with bytes whose sha256 it has just checked, so nothing unverified is unpickled."""
    if kind == "json":
        return json.loads(payload)
    if kind == "text":
        return payload.decode("utf-8")
    if kind == "pickle":
        return pickle.loads(payload)  # noqa: S301 - verified against the artifact's sha256 by the caller
    buffer = io.BytesIO(payload)
    if kind == "parquet":
        import pandas as pd

        return pd.read_parquet(buffer)
    if kind == "numpy":
        import numpy as np

        return np.load(buffer, allow_pickle=False)
    if kind == "sklearn":
        import joblib

        return joblib.load(buffer)  # verified bytes, as for pickle
    raise ValueError(f"unknown artifact kind {kind!r}")
