"""Lineage: what went into a run (code, data, params, environment) and what consumed a dataset.

The queries and records here take the home and run explicitly; what a *running step*
records (datasets it reads, models it produces) goes through :mod:`modelway.runtime.lineage`,
which fills them in from the step context (``from modelway import dataset, record_model``).
"""
from __future__ import annotations

from pathlib import Path

from modelway.lineage.datasets import DatasetRef, add_dataset, consumers, model_lineage, resolve
from modelway.settings import get_settings
from modelway.store.handles import stores


def record_model(model: str, version: str, run_id: str | None = None, *, artifact: str | None = None,
                 home: Path | None = None, step: str | None = None) -> None:
    """Record that ``model`` ``version`` was produced by run ``run_id`` (by ``step``), in ``home``'s run store.

    ``modelway lineage impacted --dataset`` then lists the model under the runs that consumed the data.

    Example:
        >>> record_model("credit-risk", "1.2.0", run_id="20261126-150000-ab12cd")  # doctest: +SKIP
    """
    run_store, _ = stores(home or get_settings().resolved_home())
    run_store.record_model(model, version, run_id, step, artifact)


__all__ = ["DatasetRef", "add_dataset", "consumers", "model_lineage", "record_model", "resolve"]
