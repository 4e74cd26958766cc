"""Engines the dedup flow runs on (``--engine``, :data:`prodmatch.dedup.vocab.ENGINES`): one interface
(:mod:`~prodmatch.dedup.engine.base`), the single process (the default) and Dask.

The partitioned path (``corpus``, ``rows``, ``pair_features``, ``partition_search``, ``partitioned``,
``components``) is plain numpy/scipy over partitions of records and imports no Dask; the modules named
``dask_*`` are the only ones that import dask or distributed (checked by tests/dedup/engine/test_dask_imports.py).
"""

from __future__ import annotations

from prodmatch.dedup.vocab import ENGINES, SINGLE
from prodmatch.errors import ArgumentError


def open_engine(name: str = SINGLE, scheduler: str | None = None, partitions: int | None = None,
                workers: int | None = None, processes: bool = True):
    """The engine ``name``; ``scheduler``, ``partitions``, ``workers`` and ``processes`` are Dask's."""
    if name not in ENGINES:
        raise ArgumentError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    if name == SINGLE:
        if scheduler is not None or partitions is not None:
            raise ArgumentError("--scheduler and --partitions are options of --engine dask")
        from prodmatch.dedup.engine.base import SingleEngine

        return SingleEngine()
    from prodmatch.dedup.engine.dask_engine import DaskEngine

    return DaskEngine(scheduler, partitions, workers, processes)
