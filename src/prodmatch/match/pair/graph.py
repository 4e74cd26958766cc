"""Post-processing of the pair model's predicted graph, before thresholding.

- ``mutual``: a pair keeps the lower of its two directions' probabilities (an edge both ends agree on);
- ``two-hop support``: postings a and c that share strong neighbours b (p(a, b) and p(b, c) both at least
  ``edge``) gain support ``min(1, sum_b p(a, b) * p(b, c))``, and the pair's probability becomes the higher
  of its own and that support -- second-order neighbours (query expansion on the graph) for pairs the
  sources proposed.

Each step is a function of the candidate table and one probability per pair, so tuning can try them on the
out-of-fold probabilities and keep the ones that win in nested CV (:mod:`prodmatch.cv.pair.run`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.neighbourhood import reverse_positions


@dataclass(frozen=True)
class GraphSteps:
    mutual: bool = False
    two_hop_edge: float | None = None  # strong-edge level for two-hop support; None = off

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> GraphSteps:
        return cls(**(data or {}))

    def describe(self) -> str:
        parts = (["mutual"] if self.mutual else []) + (
            [f"two-hop support (edges p>={self.two_hop_edge:.2f})"] if self.two_hop_edge is not None else [])
        return " + ".join(parts) or "none"


def _check(table: CandidateTable, probability: np.ndarray) -> None:
    if probability.shape != (len(table),) or probability.dtype != np.float32:
        raise TypeError(f"one float32 probability per pair needed, got {probability.dtype} {probability.shape}")
    if table.n_query != table.n_index:
        raise ValueError("graph steps need a square table (postings matched among themselves)")


def mutual_probability(table: CandidateTable, probability: np.ndarray) -> np.ndarray:
    """min(p(a, b), p(b, a)); a pair whose reverse the table lacks keeps its own probability."""
    _check(table, probability)
    reverse = reverse_positions(table)
    other = np.where(reverse >= 0, probability[np.maximum(reverse, 0)], probability)
    return np.minimum(probability, other)


def two_hop_support(table: CandidateTable, probability: np.ndarray, edge: float) -> np.ndarray:
    """Per pair (a, c): ``min(1, sum over b of p(a, b) * p(b, c))`` over strong edges (p >= ``edge``, b not a
    or c); 0 where no strong path of length two joins them."""
    _check(table, probability)
    n = table.n_query
    strong = (probability >= edge) & (table.rows != table.cols)
    edges = sp.csr_matrix((probability[strong].astype(np.float64), (table.rows[strong], table.cols[strong])),
                          shape=(n, n))
    paths = sp.csr_matrix(edges @ edges)
    paths.setdiag(0)  # a -> b -> a is not support for a itself
    paths.eliminate_zeros()
    paths.sort_indices()
    support = _lookup(paths, table.rows, table.cols)
    return np.minimum(support, 1.0).astype(np.float32)


def _lookup(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows[i], cols[i]] for every i (0 where not stored), by binary search in each row's indices."""
    coo_rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = coo_rows * matrix.shape[1] + matrix.indices.astype(np.int64)
    wanted = rows.astype(np.int64) * matrix.shape[1] + cols.astype(np.int64)
    if len(keys) == 0:
        return np.zeros(len(rows), dtype=np.float64)
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[where] == wanted, matrix.data[where], 0.0)


def apply_graph_steps(table: CandidateTable, probability: np.ndarray, steps: GraphSteps) -> np.ndarray:
    """The probabilities after ``steps`` (self pairs stay 1)."""
    _check(table, probability)
    out = probability
    if steps.mutual:
        out = mutual_probability(table, out)
    if steps.two_hop_edge is not None:
        out = np.maximum(out, two_hop_support(table, out, steps.two_hop_edge))
    out = out.astype(np.float32, copy=True)
    out[table.rows == table.cols] = 1.0
    return out
