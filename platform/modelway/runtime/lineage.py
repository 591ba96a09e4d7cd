"""What a running step records in the lineage: the dataset versions it reads, the models it produces.

These are the public ``modelway.dataset``, ``modelway.load_dataset`` and
``modelway.record_model``. They fill in the run, step and home from the step context (and
work outside a step too); the records themselves live in :mod:`modelway.lineage`.
"""
from __future__ import annotations

from pathlib import Path

from modelway import lineage
from modelway.lineage.datasets import DatasetRef, resolve
from modelway.runtime.context import current_or_none


def dataset(spec: str) -> DatasetRef:
    """Pin a registered dataset version; call it in a pipeline body and pass the result to steps.

    Resolved when the pipeline is built, so the version is part of the steps' cache keys, and
    every step that receives it is recorded as a consumer in the run's lineage.

    Example:
        >>> from modelway import pipeline, step, dataset
        >>> @step
        ... def count_rows(data: DatasetRef) -> int:
        ...     return len(data.path.read_text().splitlines())
        >>> @pipeline
        ... def stats(source: str = "credit"):
        ...     return count_rows(dataset(source))
    """
    ref = resolve(spec)
    ctx = current_or_none()
    if ctx is not None:  # called inside a running step: record the consumption now
        ctx.record_dataset(ref.name, ref.version, latest="@" not in spec)
    return ref


def load_dataset(name: str, version: str | None = None) -> Path:
    """Path of a registered dataset version (latest when ``version`` is None), from inside a step.

    Records the consumption in the running step's lineage. Without ``version`` the newest
    version is read, and a cached result of the step is reused only while that version is
    still the newest. Prefer :func:`dataset` in the pipeline body to make the version an
    explicit input.

    Example:
        >>> from modelway import step, load_dataset
        >>> @step
        ... def read(name: str) -> int:
        ...     return len(load_dataset(name).read_bytes())
    """
    ref = resolve(f"{name}@{version}" if version else name)
    ctx = current_or_none()
    if ctx is not None:
        ctx.record_dataset(ref.name, ref.version, latest=version is None)
    return ref.path


def record_model(model: str, version: str, run_id: str | None = None, *, artifact: str | None = None,
                 home: Path | None = None) -> None:
    """Record that ``model`` ``version`` was produced by run ``run_id`` (default: the running step's run).

    ``modelway lineage impacted --dataset`` then lists the model under the runs that consumed the data.

    Example:
        >>> record_model("credit-risk", "1.2.0", run_id="20261126-150000-ab12cd")  # doctest: +SKIP
    """
    ctx = current_or_none()
    step = None
    if ctx is not None:
        run_id = run_id or ctx.run_id
        step = ctx.step_name
        home = home or ctx.home
    lineage.record_model(model, version, run_id, artifact=artifact, home=home, step=step)
