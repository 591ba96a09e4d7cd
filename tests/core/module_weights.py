"""Which of Modelway's own modules are light: importing one in a fresh interpreter pulls in none
of the heavy third-party libraries below. Measured, not listed by hand: a fresh interpreter
imports every module under a finder that refuses the heavy libraries, so the first attempt to
load one aborts the import of the module that wanted it (and of everything above it).

Why one interpreter suffices: a module that finished importing under the finder pulled in no
heavy library, and neither did anything it imported; a module whose import was refused needs
one. So a module found already imported is light, and the order of the attempts does not matter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "platform" / "modelway"

# Libraries whose import costs tens to hundreds of milliseconds (python -X importtime), or that
# pull such a library in. Modelway imports them inside the functions that use them, so that
# `modelway --help`, `modelway run` and loading a pipeline file stay fast.
HEAVY = frozenset({
    "pandas", "numpy", "pyarrow", "scipy", "sklearn", "joblib", "mlflow", "pandera", "fairlearn",
    "matplotlib", "evidently",                                           # data and ML
    "boto3", "botocore", "kubernetes", "kubernetes_validate",            # cloud clients
    "pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_policy", "google", "grpc",  # Pulumi, protobuf
    "starlette", "uvicorn", "prometheus_client",                         # the model server
    "jsonschema", "sarif_om",                                            # policy-check validation, SARIF
})

# Runs in the fresh interpreter: argv[1:] are module names; prints {module: null | reason}.
_MEASURE = r"""
import importlib, importlib.abc, json, sys

HEAVY = frozenset(json.loads(sys.argv[1]))
OWN = sys.argv[2]


class Refused(BaseException):  # not an ImportError: `try: import numpy except ImportError` must not hide it
    pass


class RefuseHeavy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY:
            frame, importer = sys._getframe(1), "?"
            while frame is not None:  # the innermost own module on the stack asked for it
                module = frame.f_globals.get("__name__", "")
                if module.partition(".")[0] == OWN:
                    importer = module
                    break
                frame = frame.f_back
            raise Refused(f"{top} (imported by {importer})")


sys.meta_path.insert(0, RefuseHeavy())
weights = {}
for name in sys.argv[3:]:
    try:
        importlib.import_module(name)
        weights[name] = None
    except Refused as refused:
        weights[name] = f"heavy: {refused}"
    except Exception as exc:
        weights[name] = f"error: {type(exc).__name__}: {exc}"
print(json.dumps(weights))
"""


def module_names(package: Path = PACKAGE) -> list[str]:
    """Dotted names of every module of ``package`` (``__init__.py`` files as their package)."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def measure(modules: list[str], path: Path = PACKAGE.parent, heavy: frozenset[str] = HEAVY) -> dict[str, str | None]:
    """``{module: None}`` for a light module, ``{module: "heavy: numpy (imported by ...)"}`` for a
    heavy one and ``"error: ..."`` for one that does not import at all; ``path`` is put first on
    the fresh interpreter's ``sys.path``."""
    own = modules[0].partition(".")[0] if modules else ""
    env = {**os.environ, "PYTHONPATH": str(path), "PYDANTIC_DISABLE_PLUGINS": "1"}
    proc = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(sorted(heavy)), own, *modules],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@cache
def weights() -> dict[str, str | None]:
    """The measured weight of every module under ``platform/modelway`` (once per test session)."""
    return measure(module_names())


def is_light(module: str) -> bool:
    """True when ``module`` (one of Modelway's own) imports no heavy library."""
    return weights().get(module, "not measured") is None
