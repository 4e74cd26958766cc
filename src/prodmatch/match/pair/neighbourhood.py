"""Where a pair sits in each posting's candidate list: its rank in both directions, the gap to the posting's
best and k-th candidate, and how many candidates clear a level (density).

All per-row statistics are over one score column of a :class:`CandidateTable` (a source's proposals;
-inf = not proposed), self pairs excluded, computed with sorts and bincounts over the whole table.
"""

from __future__ import annotations

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.search.neighbours import rank_within_rows


def pair_keys(table: CandidateTable) -> np.ndarray:
    return table.rows.astype(np.int64) * table.n_index + table.cols.astype(np.int64)


def reverse_positions(table: CandidateTable) -> np.ndarray:
    """Position of (col, row) for every pair (row, col); -1 where the table lacks the reverse pair."""
    if table.n_query != table.n_index:
        raise ValueError("reverse pairs need a square table")
    keys = pair_keys(table)
    if len(keys) == 0:
        return np.empty(0, dtype=np.int64)
    # the reverse keys, sorted, are searched in order (much faster than searching them scattered)
    order = np.lexsort((table.rows, table.cols))
    wanted = table.cols[order].astype(np.int64) * table.n_index + table.rows[order].astype(np.int64)
    where = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = np.where(keys[where] == wanted, where, -1)
    return out


def ranks_within_rows(table: CandidateTable, score: np.ndarray) -> np.ndarray:
    """1 for a row's best-scoring other candidate, 2 for the next...; NaN for self pairs and unproposed pairs.

    Ties are broken by column, so ranks are a strict order (the table must be sorted by (row, col), as
    every CandidateTable is)."""
    proposed = np.isfinite(score) & (table.rows != table.cols)
    positions = np.flatnonzero(proposed)
    # the table is sorted by (row, col) and lexsort is stable, so equal scores stay in column order
    order = positions[np.lexsort((-score[positions], table.rows[positions]))]
    ranks = np.full(len(table), np.nan, dtype=np.float32)
    ranks[order] = (rank_within_rows(table.rows[order]) + 1).astype(np.float32)
    return ranks


def value_at_rank(table: CandidateTable, score: np.ndarray, ranks: np.ndarray, rank: int) -> np.ndarray:
    """Per row, the score of its ``rank``-th best other candidate (NaN when it has fewer)."""
    out = np.full(table.n_query, np.nan, dtype=np.float32)
    at = np.flatnonzero(ranks == rank)
    out[table.rows[at]] = score[at]
    return out


def density(table: CandidateTable, score: np.ndarray, level: float) -> np.ndarray:
    """Per row, how many other candidates score at or above ``level``."""
    clears = (score >= level) & (table.rows != table.cols)
    return np.bincount(table.rows[clears], minlength=table.n_query).astype(np.float32)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by one sort: numpy >= 2.3 hashes integer arrays first, about 8x slower on millions of pair keys."""
    values = np.sort(values)
    if len(values) == 0:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def with_reverse_pairs(table: CandidateTable) -> CandidateTable:
    """The table with (b, a) added for every (a, b) it holds (scores -inf: no source proposed that direction),
    so that a pair and its reverse can be scored and compared."""
    keys = pair_keys(table)
    reverse = table.cols.astype(np.int64) * table.n_index + table.rows.astype(np.int64)
    union = sorted_unique(np.concatenate([keys, reverse]))
    if len(union) == len(keys):
        return table
    where = np.searchsorted(union, keys)
    scores = {}
    for name, column in table.scores.items():
        full = np.full(len(union), -np.inf, dtype=np.float32)
        full[where] = column
        scores[name] = full
    return CandidateTable(union // table.n_index, union % table.n_index, scores, table.n_query, table.n_index)
