"""The engine the dedup flow runs on: one small interface, so the flow never branches on which runs it.

An :class:`Engine` reads the table, loads it for the recipe's sources, and does the heavy steps the flow asks
for: every candidate pair with its features (training reads them), the edges a saved model scores at or above
a floor (applying a model), the kept pairs' reasons, and the connected components of the kept pairs.
:class:`SingleEngine` is the single process as before (the default); :class:`~prodmatch.dedup.engine.dask_engine.DaskEngine`
runs the same steps by partitions on a Dask cluster, with the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prodmatch.dedup.apply import predict_edges
from prodmatch.dedup.clustering import Clustered, Edges, components, rule_edges, table_positions
from prodmatch.dedup.reasons import top_reasons
from prodmatch.dedup.saved import SavedModel
from prodmatch.dedup.sources import ChosenSources
from prodmatch.dedup.table import Columns, DedupTable, read_table
from prodmatch.match.pair.matching import PairCandidates, pair_candidates
from prodmatch.match.pair.model import PairModel


@dataclass
class ScoredEdges:
    """What applying a model gave: the edges at or above the floor (an engine may return all of them) with the
    best few below it, how many pairs it scored, and the engine's handle for their reasons."""

    edges: Edges
    n_edges: int
    handle: object


class Engine:
    """The interface (see the module doc); use as a context manager, so a cluster is closed."""

    name = "engine"

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        """What ran the work, for the run's summary."""
        return {"name": self.name}

    def read_table(self, path: str | Path, columns: Columns) -> DedupTable:
        raise NotImplementedError

    def load(self, table: DedupTable, chosen: ChosenSources, embeddings: Callable[[], dict]):
        """The table ready for the recipe's sources; ``embeddings`` computes the encoder's, when needed."""
        raise NotImplementedError

    def candidates(self, loaded, sources: list) -> PairCandidates:
        """Every candidate pair of the recipe's ``sources`` (those it was loaded for) with its features, in
        memory here (what training reads)."""
        raise NotImplementedError

    def scored_edges(self, loaded, saved: SavedModel, sources: np.ndarray | None, floor: float) -> ScoredEdges:
        """The saved model's edges (mean of both directions), across ``sources`` only when given."""
        raise NotImplementedError

    def reasons(self, scored: ScoredEdges, model: PairModel, kept: Edges, top: int) -> list[str]:
        raise NotImplementedError

    def components(self, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cluster per record, numbered in order of each cluster's first record."""
        raise NotImplementedError

    def cluster(self, edges: Edges, threshold: float, clustering: str) -> Clustered:
        """:func:`prodmatch.dedup.clustering.cluster` with this engine's components."""
        candidates = rule_edges(edges, clustering)
        kept = candidates.select(candidates.score >= np.float32(threshold))
        return Clustered(self.components(edges.n, kept.a, kept.b), kept)


def reasons_of(model: PairModel, found: PairCandidates, kept: Edges, top: int) -> list[str]:
    """The kept pairs' reasons, read off their (a, b) direction."""
    if top <= 0 or len(kept) == 0:
        return [""] * len(kept)
    positions = table_positions(found.table, kept.a, kept.b)
    return top_reasons(model, found.features.take(positions), top)


class SingleEngine(Engine):
    """Everything in this process, the table searched whole (the default)."""

    name = "single"

    def read_table(self, path, columns):
        return read_table(path, columns)

    def load(self, table, chosen, embeddings):
        return table.features(chosen.phashes, embeddings())

    def candidates(self, loaded, sources):
        return pair_candidates(loaded, sources)

    def scored_edges(self, loaded, saved, sources, floor):
        predicted = predict_edges(loaded, saved, sources)
        return ScoredEdges(predicted.edges, len(predicted.edges), predicted.candidates)

    def reasons(self, scored, model, kept, top):
        return reasons_of(model, scored.handle, kept, top)

    def components(self, n, a, b):
        return components(n, a, b)
