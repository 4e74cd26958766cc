"""Blocking keys for sub-quadratic TF-IDF top-k: capped inverted lists over title tokens and token pairs.

The exact sparse product costs ``sum(df_t ** 2)`` over tokens t (document frequency df): a token in 10% of
the postings makes it quadratic in the rows. Blocking keeps, for every key, only the ``cap`` postings that
weigh most on it (a *capped inverted list*); candidates are the postings that share a key with a query
where one side is in the key's list, so the work is at most ``cap`` per key entry: linear in the rows.
Candidates are then scored exactly (:mod:`prodmatch.search.blocked`).

Two kinds of key:

- every **token** (a column of the TF-IDF matrix). A rare token's list is whole (``df <= cap``), so postings
  that share a rare token always meet;
- **pairs of frequent tokens** (both ``df > cap``): for each posting, every pair among its ``pair_tokens``
  rarest frequent tokens. "pot tanaman bunga dekorasi" and "dekorasi pot bunga tanaman murah" share only
  common words, whose single-token lists are full of other postings; their pair ("pot", "tanaman") is rare.

A key's value in a posting ranks the posting within the key's list (and candidates within a query's):
the token's TF-IDF weight, or the sum of the two weights for a pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from prodmatch.errors import ArgumentError
from prodmatch.search.neighbours import rank_within_rows


@dataclass(frozen=True)
class BlockingConfig:
    """How candidates are drawn (the recipe's ``blocking:`` section of a ``tfidf`` source).

    cap: postings kept per key (the work per key entry); candidates: the best candidates kept per query from
    the token keys, in each direction; pair_tokens: a posting's rarest frequent tokens that form pair keys
    (0: no pair keys); pair_candidates: the same as candidates, for the pair keys; block_rows: queries per
    block (None: :func:`prodmatch.search.blocked.block_rows_for` from the memory budget).
    """

    cap: int = 100
    candidates: int = 100
    pair_tokens: int = 8
    pair_candidates: int = 200
    block_rows: int | None = None

    def __post_init__(self) -> None:  # ArgumentError: a recipe's values land here (it is also a ValueError)
        for name in ("cap", "candidates", "pair_candidates"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ArgumentError(f"blocking {name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.pair_tokens, int) or self.pair_tokens < 0 or self.pair_tokens == 1:
            raise ArgumentError(f"blocking pair_tokens must be 0 (no pair keys) or an integer >= 2, got "
                                f"{self.pair_tokens!r}")
        if self.block_rows is not None and (not isinstance(self.block_rows, int) or self.block_rows < 1):
            raise ArgumentError(f"blocking block_rows must be an integer >= 1, got {self.block_rows!r}")

    @property
    def candidates_per_row(self) -> int:
        """The most candidates one query can get (both directions of both key kinds, and itself)."""
        return 2 * self.candidates + (2 * self.pair_candidates if self.pair_tokens else 0) + 1


def check_matrix(matrix: sp.spmatrix, name: str = "matrix") -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise TypeError(f"{name} must be a scipy sparse matrix, got {type(matrix).__name__}")
    if matrix.dtype != np.float32:
        raise TypeError(f"{name} must be float32, got {matrix.dtype}")
    matrix = sp.csr_matrix(matrix)
    if len(matrix.data) and matrix.data.min() < 0:
        raise ValueError(f"{name} must be non-negative (TF-IDF weights): blocking ranks postings by weight")
    return matrix


def document_frequency(matrix: sp.csr_matrix) -> np.ndarray:
    """Postings per column (stored entries; TF-IDF stores no zeros)."""
    return np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)


def capped_lists(matrix: sp.csr_matrix, cap: int) -> sp.csr_matrix:
    """``matrix`` with each column cut to its ``cap`` largest entries (ties: the lower row first)."""
    if cap < 1:
        raise ValueError(f"cap must be >= 1, got {cap}")
    matrix = sp.csr_matrix(matrix)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    cols = matrix.indices.astype(np.int64)
    long_list = (document_frequency(matrix) > cap)[cols]  # only these columns are cut: sort their entries alone
    cut = np.flatnonzero(long_list)
    order = cut[np.lexsort((rows[cut], -matrix.data[cut], cols[cut]))]
    keep = np.sort(np.r_[np.flatnonzero(~long_list), order[rank_within_rows(cols[order]) < cap]])
    return sp.csr_matrix((matrix.data[keep], (rows[keep], cols[keep])), shape=matrix.shape, dtype=np.float32)


def pair_keys(matrix: sp.csr_matrix, cap: int, pair_tokens: int) -> sp.csr_matrix:
    """(n, n_pairs) keys: for each row, every pair among its ``pair_tokens`` rarest tokens with ``df > cap``
    (ties in df: the lower column first), valued by the sum of the two weights. Columns are the distinct
    pairs, in the order of their token ids."""
    n, n_tokens = matrix.shape
    if pair_tokens < 2:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    df = document_frequency(matrix)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
    cols, vals = matrix.indices.astype(np.int64), matrix.data
    frequent = df[cols] > cap
    rows, cols, vals = rows[frequent], cols[frequent], vals[frequent]
    order = np.lexsort((cols, df[cols], rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    keep = rank_within_rows(rows) < pair_tokens
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    counts = np.bincount(rows, minlength=n)
    starts = np.cumsum(counts) - counts
    key_rows, key_ids, key_vals = [], [], []
    for i in range(pair_tokens):
        for j in range(i + 1, pair_tokens):
            has = np.flatnonzero(counts > j)
            a, b = starts[has] + i, starts[has] + j
            key_rows.append(has)
            key_ids.append(np.minimum(cols[a], cols[b]) * n_tokens + np.maximum(cols[a], cols[b]))
            key_vals.append(vals[a] + vals[b])
    key_ids = np.concatenate(key_ids)
    if len(key_ids) == 0:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    distinct, columns = np.unique(key_ids, return_inverse=True)
    return sp.csr_matrix((np.concatenate(key_vals).astype(np.float32), (np.concatenate(key_rows), columns)),
                         shape=(n, len(distinct)), dtype=np.float32)


@dataclass(frozen=True)
class KeyLists:
    """One kind of key over the indexed postings: every posting's keys, and the capped lists (both also
    transposed, as the sparse products read them)."""

    keys: sp.csr_matrix  # (n, n_keys)
    capped: sp.csr_matrix  # (n, n_keys), each column cut to ``cap`` entries
    keys_t: sp.csr_matrix
    capped_t: sp.csr_matrix

    @classmethod
    def build(cls, keys: sp.csr_matrix, cap: int) -> KeyLists:
        capped = capped_lists(keys, cap)
        return cls(keys, capped, sp.csr_matrix(keys.T), sp.csr_matrix(capped.T))

    def visits(self, rows: np.ndarray) -> int:
        """List entries the two products read for the query ``rows``: the search's work, machine-independent."""
        forward = np.diff(self.capped_t.indptr)[self.keys[rows].indices].sum()
        reverse = np.diff(self.keys_t.indptr)[self.capped[rows].indices].sum()
        return int(forward + reverse)

    @property
    def nbytes(self) -> int:
        return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
                   for m in (self.keys, self.capped, self.keys_t, self.capped_t))


@dataclass(frozen=True)
class BlockingIndex:
    """The token and pair key lists of one TF-IDF matrix (its rows are both the queries and the index)."""

    tokens: KeyLists
    pairs: KeyLists | None
    config: BlockingConfig

    @classmethod
    def build(cls, matrix: sp.csr_matrix, config: BlockingConfig) -> BlockingIndex:
        matrix = check_matrix(matrix)
        pairs = None
        if config.pair_tokens:
            pairs = KeyLists.build(pair_keys(matrix, config.cap, config.pair_tokens), config.cap)
        return cls(KeyLists.build(matrix, config.cap), pairs, config)

    @property
    def n_rows(self) -> int:
        return self.tokens.keys.shape[0]

    def visits(self, rows: np.ndarray) -> int:
        """List entries the search reads for the query ``rows``, both key kinds (see :meth:`KeyLists.visits`)."""
        return self.tokens.visits(rows) + (self.pairs.visits(rows) if self.pairs is not None else 0)

    @property
    def nbytes(self) -> int:
        """Memory the key lists hold (the search's fixed cost, beside the matrix itself)."""
        return self.tokens.nbytes + (self.pairs.nbytes if self.pairs is not None else 0)
