"""Which optional extras (pyproject.toml) a command needs, and the one-line error when one is missing.

The base install renders Pulumi programs and checks policies; pipelines need ``modelway[ml]``.
A command checks up front, so the user reads which extra to install instead of a step failing
halfway through a run with ``No module named 'numpy'``.

Example:
    >>> require("ml", "modelway run")   # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util

from modelway.errors import UserError

EXTRAS: dict[str, tuple[str, ...]] = {
    "ml": ("numpy", "pandas", "pyarrow", "sklearn", "joblib", "mlflow", "fairlearn", "pandera", "scipy", "psutil"),
    "serve": ("starlette", "uvicorn", "prometheus_client", "croniter"),
    "aws": ("boto3",),
    "kubernetes": ("kubernetes", "kubernetes_validate"),
}
"""Top-level modules of each extra, as imported (scikit-learn is ``sklearn``)."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed (found without importing them)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, command: str) -> None:
    """UserError (exit 2) naming the extra to install when any of its modules is missing."""
    absent = missing(extra)
    if absent:
        raise UserError(f"{command} needs the {extra} extra ({', '.join(absent)} not installed): "
                        f"pip install 'modelway[{extra}]'")
