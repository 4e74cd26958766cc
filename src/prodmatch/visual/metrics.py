"""Visual-search metrics: MAR@k and recall@k over retrieved index positions (numpy only).

Each query has a set of true matches in the index (its ground truth). A search returns, per query, a row
of index positions best first, as an ``(n_queries, k)`` int array; ``-1`` marks an empty slot (faiss pads
with -1 when it finds fewer than k results).

- **MAR@k** (mean average recall, eBay eProduct, arXiv 2107.05856): per query, the number of its true
  matches among the top k divided by ``min(k, number of its true matches)``; the mean over queries.
- **recall@k**: the share of queries with at least one true match among the top k.
- **neighbour recall@k**: the share of the exact search's top k that an approximate search also returns
  (the usual way an ANN index is compared with exact search); the exact lists play the ground truth.

Queries without any true match have no MAR (``min(k, 0)`` is 0); they are left out of every mean and
counted in :attr:`RetrievalScore.n_without_truth`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from prodmatch.visual.registry import MAR_K

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class GroundTruth:
    """True index positions per query in CSR form: query q owns ``positions[offsets[q]:offsets[q + 1]]``.

    Positions are sorted and unique within a query, so ``q * n_index + position`` is globally sorted and a
    retrieved (query, position) pair can be looked up with one ``searchsorted``.
    """

    offsets: np.ndarray  # int64, (n_queries + 1,)
    positions: np.ndarray  # int64, sorted and unique within each query
    n_index: int

    def __post_init__(self) -> None:
        if self.offsets.dtype != np.int64 or self.positions.dtype != np.int64:
            raise TypeError(f"offsets/positions must be int64, got {self.offsets.dtype}/{self.positions.dtype}")
        if self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0:
            raise ValueError("offsets must be 1-D and start at 0")
        if self.offsets[-1] != len(self.positions) or (np.diff(self.offsets) < 0).any():
            raise ValueError("offsets must be non-decreasing and end at len(positions)")
        if len(self.positions) and (self.positions.min() < 0 or self.positions.max() >= self.n_index):
            raise ValueError(f"ground-truth positions out of range for an index of {self.n_index}")
        keys = self.keys()
        if (np.diff(keys) <= 0).any():
            raise ValueError("ground-truth positions must be sorted and unique within each query")

    @property
    def n_queries(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of true matches of each query."""
        return np.diff(self.offsets)

    def keys(self) -> np.ndarray:
        """``query * n_index + position`` of every true pair, sorted."""
        queries = np.repeat(np.arange(self.n_queries, dtype=np.int64), self.counts)
        return queries * self.n_index + self.positions

    @classmethod
    def from_pairs(cls, query_positions, index_positions, n_queries: int, n_index: int) -> GroundTruth:
        """From parallel arrays of (query position, index position) pairs; duplicate pairs are an error."""
        queries = np.asarray(query_positions, dtype=np.int64)
        positions = np.asarray(index_positions, dtype=np.int64)
        if queries.shape != positions.shape or queries.ndim != 1:
            raise ValueError(f"pairs must be 1-D and equal in length, got {queries.shape} and {positions.shape}")
        if len(queries) and (queries.min() < 0 or queries.max() >= n_queries):
            raise ValueError(f"query positions out of range for {n_queries} queries")
        if len(positions) and (positions.min() < 0 or positions.max() >= n_index):
            raise ValueError(f"index positions out of range for an index of {n_index}")
        order = np.lexsort((positions, queries))
        queries, positions = queries[order], positions[order]
        duplicate = (np.diff(queries) == 0) & (np.diff(positions) == 0)
        if duplicate.any():
            first = int(np.flatnonzero(duplicate)[0])
            raise ValueError(f"duplicate ground-truth pair (query {queries[first]}, index {positions[first]})")
        offsets = np.zeros(n_queries + 1, dtype=np.int64)
        np.cumsum(np.bincount(queries, minlength=n_queries), out=offsets[1:])
        return cls(offsets, positions, int(n_index))

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]], n_index: int) -> GroundTruth:
        """From one list of true index positions per query."""
        queries = np.repeat(np.arange(len(lists), dtype=np.int64), [len(x) for x in lists])
        positions = np.fromiter((p for x in lists for p in x), dtype=np.int64, count=len(queries))
        return cls.from_pairs(queries, positions, len(lists), n_index)


@dataclass(frozen=True)
class RetrievalScore:
    mar_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    n_queries: int  # queries scored (with at least one true match)
    n_without_truth: int  # queries left out: no true match

    def as_dict(self) -> dict:
        return asdict(self)


def check_retrieved(retrieved: np.ndarray, n_queries: int, k: int, name: str = "retrieved") -> np.ndarray:
    """Fail loudly on anything but an integer (n_queries, >= k) array of positions (-1 = empty slot)."""
    if not isinstance(retrieved, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(retrieved).__name__}")
    if not np.issubdtype(retrieved.dtype, np.integer):
        raise TypeError(f"{name} must hold integer index positions, got {retrieved.dtype}")
    if retrieved.ndim != 2 or retrieved.shape[0] != n_queries:
        raise ValueError(f"{name} must have shape ({n_queries}, k), got {retrieved.shape}")
    if retrieved.shape[1] < k:
        raise ValueError(f"{name} has {retrieved.shape[1]} columns; @{k} needs at least {k}")
    if retrieved.size and retrieved.min() < -1:
        raise ValueError(f"{name} holds negative positions other than -1 (empty slot)")
    top = np.sort(retrieved[:, :k].astype(np.int64), axis=1)
    repeated = (top[:, 1:] == top[:, :-1]) & (top[:, 1:] >= 0)
    if repeated.any():
        row = int(np.flatnonzero(repeated.any(axis=1))[0])
        raise ValueError(f"{name} row {row} lists an index position twice in its top {k}")
    return retrieved[:, :k].astype(np.int64, copy=False)


def hit_matrix(retrieved: np.ndarray, truth: GroundTruth, k: int) -> np.ndarray:
    """Boolean (n_queries, k): whether each retrieved position is a true match of its query."""
    top = check_retrieved(retrieved, truth.n_queries, k)
    if top.size and top.max() >= truth.n_index:
        raise ValueError(f"retrieved positions out of range for an index of {truth.n_index}")
    keys = truth.keys()
    query_offset = np.arange(truth.n_queries, dtype=np.int64)[:, None] * truth.n_index
    wanted = query_offset + top
    found = np.searchsorted(keys, wanted)
    hits = keys[np.minimum(found, len(keys) - 1)] == wanted if len(keys) else np.zeros(top.shape, bool)
    return hits & (top >= 0)


def mar_at_k(retrieved: np.ndarray, truth: GroundTruth, k: int = MAR_K) -> float:
    """Mean over queries with a true match of ``hits in top k / min(k, n_true)``; NaN when none has one."""
    hits = hit_matrix(retrieved, truth, k).sum(axis=1)
    counts = truth.counts
    scored = counts > 0
    if not scored.any():
        return float("nan")
    return float((hits[scored] / np.minimum(k, counts[scored])).mean())


def recall_at_k(retrieved: np.ndarray, truth: GroundTruth, k: int) -> float:
    """Share of queries with a true match that have at least one among the top k; NaN when none has one."""
    hits = hit_matrix(retrieved, truth, k).any(axis=1)
    scored = truth.counts > 0
    if not scored.any():
        return float("nan")
    return float(hits[scored].mean())


def retrieval_scores(retrieved: np.ndarray, truth: GroundTruth) -> RetrievalScore:
    """MAR@10 and recall@1/5/10 of one search (``retrieved`` needs at least 10 columns)."""
    hits = hit_matrix(retrieved, truth, MAR_K)
    counts = truth.counts
    scored = counts > 0
    n_scored = int(scored.sum())
    if n_scored == 0:
        raise ValueError("no query has a true match: nothing to score")
    hits = hits[scored]
    mar = (hits.sum(axis=1) / np.minimum(MAR_K, counts[scored])).mean()
    recalls = {k: float(hits[:, :k].any(axis=1).mean()) for k in RECALL_KS}
    return RetrievalScore(float(mar), recalls[1], recalls[5], recalls[10], n_scored, int((~scored).sum()))


def neighbour_recall(approximate: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-k neighbours that the approximate search also returns in its top k.

    ``exact`` slots of -1 (an index smaller than k) are not counted.
    """
    exact_top = check_retrieved(exact, len(exact), k, "exact")
    valid = exact_top >= 0
    n_index = int(max(exact_top.max(initial=-1), approximate[:, :k].max(initial=-1))) + 1
    truth = GroundTruth.from_pairs(np.nonzero(valid)[0], exact_top[valid], len(exact_top), max(n_index, 1))
    found = hit_matrix(approximate, truth, k).sum(axis=1)
    counts = truth.counts
    scored = counts > 0
    return float((found[scored] / counts[scored]).mean()) if scored.any() else float("nan")
