"""Lineage: what went into a run (code, data, params, environment) and what consumed a dataset.

The model registry links models to runs with :func:`record_model`.
"""
from __future__ import annotations

from pathlib import Path

from modelway.lineage.datasets import (DatasetRef, add_dataset, consumers, dataset, load_dataset, model_lineage,
                                       resolve)


def record_model(model: str, version: str, run_id: str | None = None, *, artifact: str | None = None,
                 home: Path | None = None) -> None:
    """Record that ``model`` ``version`` was produced by run ``run_id`` (default: the running step's run).

    ``modelway lineage impacted --dataset`` then lists the model under the runs that consumed the data.

    Example:
        >>> record_model("credit-risk", "1.2.0", run_id="20261126-150000-ab12cd")  # doctest: +SKIP
    """
    from modelway.runtime.context import current_or_none, stores
    from modelway.settings import get_settings

    ctx = current_or_none()
    step = None
    if ctx is not None:
        run_id = run_id or ctx.run_id
        step = ctx.step_name
        home = home or ctx.home
    home = home or get_settings().resolved_home()
    run_store, _ = stores(home)
    run_store.record_model(model, version, run_id, step, artifact)


__all__ = ["DatasetRef", "add_dataset", "consumers", "dataset", "load_dataset", "model_lineage", "record_model",
           "resolve"]
