"""The SQLite run store (runs, steps, events, cache, datasets, lineage)."""
from modelway.store.runs import RunStore

__all__ = ["RunStore"]
