"""The one candidate format every search source returns: scored (query, index) pairs.

COO form lets a source return a variable number of candidates per query (phash ties, TF-IDF above a
floor) and concatenates cheaply across folds and sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Neighbours:
    rows: np.ndarray  # int64 query index
    cols: np.ndarray  # int64 index (database) position
    scores: np.ndarray  # float32 similarity, higher = closer
    n_query: int
    n_index: int

    def __post_init__(self) -> None:
        if not (self.rows.shape == self.cols.shape == self.scores.shape) or self.rows.ndim != 1:
            raise ValueError(
                f"rows/cols/scores must be 1-D and equal in length, got {self.rows.shape}, {self.cols.shape}, "
                f"{self.scores.shape}"
            )
        if self.rows.dtype != np.int64 or self.cols.dtype != np.int64:
            raise TypeError(f"rows/cols must be int64, got {self.rows.dtype}/{self.cols.dtype}")
        if self.scores.dtype != np.float32:
            raise TypeError(f"scores must be float32, got {self.scores.dtype}")

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, n_query: int, n_index: int) -> Neighbours:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32), n_query, n_index)

    @classmethod
    def from_knn(cls, indices: np.ndarray, scores: np.ndarray, n_index: int) -> Neighbours:
        """From (n_query, k) arrays as faiss returns them; index -1 marks a missing neighbour."""
        if indices.shape != scores.shape or indices.ndim != 2:
            raise ValueError(f"indices and scores must be equal 2-D arrays, got {indices.shape}, {scores.shape}")
        n_query, k = indices.shape
        rows = np.repeat(np.arange(n_query, dtype=np.int64), k)
        cols = indices.reshape(-1).astype(np.int64, copy=False)
        keep = cols >= 0
        return cls(rows[keep], cols[keep], scores.reshape(-1)[keep].astype(np.float32, copy=False), n_query, n_index)

    def select(self, mask: np.ndarray) -> Neighbours:
        return Neighbours(self.rows[mask], self.cols[mask], self.scores[mask], self.n_query, self.n_index)

    def drop_self(self) -> Neighbours:
        """Drop query==index pairs (only meaningful when queries and index are the same set)."""
        return self.select(self.rows != self.cols)

    def top_k(self, k: int) -> Neighbours:
        """Keep the k best-scoring pairs of every query (ties broken by index position)."""
        order = np.lexsort((self.cols, -self.scores, self.rows))
        rows = self.rows[order]
        rank = rank_within_rows(rows)
        keep = order[rank < k]
        keep.sort()
        return self.select(keep)

    def offset(self, row_offset: np.ndarray | int, col_offset: np.ndarray | int, n_query: int, n_index: int):
        """Map local positions to global ones: ``row_offset``/``col_offset`` are ints or lookup arrays."""
        rows = row_offset[self.rows] if isinstance(row_offset, np.ndarray) else self.rows + row_offset
        cols = col_offset[self.cols] if isinstance(col_offset, np.ndarray) else self.cols + col_offset
        return Neighbours(rows.astype(np.int64), cols.astype(np.int64), self.scores, n_query, n_index)

    @staticmethod
    def concat(parts: list[Neighbours], n_query: int, n_index: int) -> Neighbours:
        if not parts:
            return Neighbours.empty(n_query, n_index)
        return Neighbours(
            np.concatenate([p.rows for p in parts]),
            np.concatenate([p.cols for p in parts]),
            np.concatenate([p.scores for p in parts]),
            n_query,
            n_index,
        )


def rank_within_rows(sorted_rows: np.ndarray) -> np.ndarray:
    """0,1,2.. position of each element inside its run of equal (sorted) row ids."""
    if len(sorted_rows) == 0:
        return np.empty(0, np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_rows)) + 1]
    run_lengths = np.diff(np.r_[starts, len(sorted_rows)])
    return np.arange(len(sorted_rows)) - np.repeat(starts, run_lengths)
