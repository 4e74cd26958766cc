"""From scored candidate pairs to clusters: the pairs kept by a threshold and a clustering rule, then their
connected components.

Pairs are :class:`Edges` -- each unordered pair once (``a < b``), scored by the mean of the pair model's two
directions. The rules (:data:`~prodmatch.dedup.vocab.CLUSTERINGS`):

- ``components``: every pair at or above the threshold;
- ``best-edge``: each record's most probable pair, when it clears the threshold (chains stay possible, a
  crowd of look-alikes joined through weak pairs does not);
- ``one-to-one``: pairs taken best first, each record in at most one (clusters of two at most: the shape of
  two duplicate-free catalogues matched, or of a catalogue with a few duplicates).

Each rule's candidate pairs do not depend on the threshold (``best-edge`` keeps each record's best pair
overall; greedy ``one-to-one`` decides a pair from the better pairs only), so a threshold sweep filters them once
built. A clean-clean table (records from several sources, each free of duplicates) keeps only pairs across
sources (:meth:`Edges.across`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from prodmatch.dedup.vocab import BEST_EDGE, CLUSTERINGS, COMPONENTS, ONE_TO_ONE
from prodmatch.match.candidates import CandidateTable


@dataclass(frozen=True)
class Edges:
    a: np.ndarray  # int64 row positions, a < b, sorted by (a, b), unique
    b: np.ndarray
    score: np.ndarray  # float32
    n: int  # records

    def __post_init__(self) -> None:
        if self.a.dtype != np.int64 or self.b.dtype != np.int64 or self.score.dtype != np.float32:
            raise TypeError(f"edges need int64 ends and float32 scores, got {self.a.dtype}/{self.b.dtype}/"
                            f"{self.score.dtype}")
        if not self.a.shape == self.b.shape == self.score.shape:
            raise ValueError("edge arrays differ in length")
        if len(self.a) and (self.a >= self.b).any():
            raise ValueError("every edge must have a < b")

    def __len__(self) -> int:
        return len(self.a)

    def select(self, keep: np.ndarray) -> Edges:
        return Edges(self.a[keep], self.b[keep], self.score[keep], self.n)

    def across(self, sources: np.ndarray) -> Edges:
        """Only the pairs whose records come from different sources."""
        sources = np.asarray(sources)
        return self.select(sources[self.a] != sources[self.b])

    def among(self, rows: np.ndarray) -> Edges:
        """Only the pairs with both records in ``rows`` (bool per record)."""
        return self.select(rows[self.a] & rows[self.b])


def edges_from_table(table: CandidateTable, score: np.ndarray) -> Edges:
    """Each unordered non-self pair of a square ``table`` once, scored by the mean over the directions it has."""
    if table.n_query != table.n_index or score.shape != (len(table),):
        raise ValueError("edges need a square table and one score per pair")
    others = table.rows != table.cols
    a = np.minimum(table.rows, table.cols)[others]
    b = np.maximum(table.rows, table.cols)[others]
    key = a * table.n_index + b
    unique, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=score[others].astype(np.float64), minlength=len(unique))
    count = np.bincount(inverse, minlength=len(unique))
    return Edges(unique // table.n_index, unique % table.n_index, (total / count).astype(np.float32), table.n_query)


def best_edges(edges: Edges) -> np.ndarray:
    """Positions of each record's highest-scored edge (ties: the earlier edge), each position once."""
    ends = np.concatenate([edges.a, edges.b])
    positions = np.concatenate([np.arange(len(edges)), np.arange(len(edges))])
    order = np.lexsort((positions, -np.concatenate([edges.score, edges.score]), ends))
    first = np.r_[True, ends[order][1:] != ends[order][:-1]] if len(order) else np.zeros(0, bool)
    return np.unique(positions[order][first])


def greedy_one_to_one(edges: Edges) -> np.ndarray:
    """Positions of the edges a greedy matching takes: best score first, each record at most once."""
    order = np.lexsort((np.arange(len(edges)), -edges.score))
    used = np.zeros(edges.n, dtype=bool)
    taken = []
    for position, a, b in zip(order.tolist(), edges.a[order].tolist(), edges.b[order].tolist()):
        if not used[a] and not used[b]:
            used[a] = used[b] = True
            taken.append(position)
    return np.sort(np.asarray(taken, dtype=np.int64))


def rule_positions(edges: Edges, clustering: str) -> np.ndarray:
    """Positions of the edges a rule may keep, before the threshold."""
    if clustering == COMPONENTS:
        return np.arange(len(edges))
    if clustering == BEST_EDGE:
        return best_edges(edges)
    if clustering == ONE_TO_ONE:
        return greedy_one_to_one(edges)
    raise ValueError(f"unknown clustering {clustering!r}; choose from {CLUSTERINGS}")


def rule_edges(edges: Edges, clustering: str) -> Edges:
    """The edges a rule may keep, before the threshold."""
    positions = rule_positions(edges, clustering)
    return edges if clustering == COMPONENTS else edges.select(positions)


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cluster per record, numbered in order of each cluster's first record (0, 1, ...)."""
    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


@dataclass
class Clustered:
    clusters: np.ndarray  # int64 cluster per record
    kept: Edges  # the pairs decided to match (their components are the clusters)


def cluster(edges: Edges, threshold: float, clustering: str) -> Clustered:
    """The pairs ``clustering`` keeps at ``threshold``, and the clusters they make."""
    candidates = rule_edges(edges, clustering)
    kept = candidates.select(candidates.score >= np.float32(threshold))
    return Clustered(components(edges.n, kept.a, kept.b), kept)


def table_positions(table: CandidateTable, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Position of each pair (rows[i], cols[i]) in ``table`` (sorted by (row, col)); -1 where it has none."""
    keys = table.rows * table.n_index + table.cols
    wanted = np.asarray(rows, dtype=np.int64) * table.n_index + np.asarray(cols, dtype=np.int64)
    if len(keys) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[where] == wanted, where, -1).astype(np.int64)


def mutual_best(edges: Edges) -> Edges:
    """The edges that are the best of both their records."""
    counts = np.zeros(len(edges), dtype=np.int64)
    ends = np.concatenate([edges.a, edges.b])
    positions = np.concatenate([np.arange(len(edges)), np.arange(len(edges))])
    order = np.lexsort((positions, -np.concatenate([edges.score, edges.score]), ends))
    if len(order):
        first = np.r_[True, ends[order][1:] != ends[order][:-1]]
        np.add.at(counts, positions[order][first], 1)
    return edges.select(counts == 2)


def split_large(clustered: Clustered, max_size: int) -> tuple[Clustered, np.ndarray]:
    """Clusters of at most ``max_size`` records (``--max-cluster-size``): a larger one loses its weakest pairs
    -- the lowest threshold inside it at which every part fits -- and each part that still does not fit is split
    the same way. Returns the clusters and which of the kept pairs stay (bool per pair)."""
    if max_size < 1:
        raise ValueError(f"a cluster holds at least one record, got max size {max_size}")
    kept = clustered.kept
    keep = np.ones(len(kept), dtype=bool)
    clusters = clustered.clusters
    while True:
        sizes = np.bincount(clusters)
        large = np.flatnonzero(sizes > max_size)
        if len(large) == 0:
            break
        for label in large:
            inside = np.flatnonzero(keep & (clusters[kept.a] == label))
            for level in np.unique(kept.score[inside]):
                above = inside[kept.score[inside] > level]
                parts = components(kept.n, kept.a[above], kept.b[above])
                if np.bincount(parts[np.unique(np.r_[kept.a[inside], kept.b[inside]])]).max() <= max_size:
                    break
            keep[inside[kept.score[inside] <= level]] = False
        clusters = components(kept.n, kept.a[keep], kept.b[keep])
    return Clustered(clusters, kept.select(keep)), keep
