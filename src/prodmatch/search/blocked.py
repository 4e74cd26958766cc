"""Sub-quadratic TF-IDF top-k: candidates from blocking keys, scored exactly, in blocks of queries.

For a block of query rows, each kind of key (:mod:`prodmatch.search.blocking`) gives two candidate sets,
both cut to the best few per query by the part of the score the keys see:

- the query's keys against the capped lists (postings that weigh most on a key the query has);
- the query's own capped entries against every posting (a query that weighs most on a key meets every
  posting with that key -- so a posting in no list still meets the queries that are in one).

The union, with the query itself, is scored exactly (the sparse dot of the two TF-IDF rows), cut at
``min_score`` and to the top ``k`` per query, ties broken by index as :func:`prodmatch.search.tfidf.sparse_topk`
does. Every returned score is exact; what blocking can miss is a pair that no key brought forward.

Work per query is bounded by the keys' caps and the candidates kept, so the search grows linearly with the
rows; memory is the key lists (linear) plus one block's candidates (:func:`block_rows_for`), never n x n.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from prodmatch.device import available_cores
from prodmatch.search.blocking import BlockingConfig, BlockingIndex, KeyLists, check_matrix
from prodmatch.search.neighbours import Neighbours, rank_within_rows
from prodmatch.search.pair_scores import rowwise_dot
from prodmatch.search.tfidf import sparse_dot_topn_available

# bytes one candidate pair costs while its block is searched: the products' entries (int32 + float32, up to
# five copies: four products and their union), the pair as int64 row/col and float32 score, the exact
# scores' temporaries and top-k's sort keys and order
BYTES_PER_CANDIDATE = 128
DEFAULT_BLOCK_BUDGET_BYTES = 256 * 2**20
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 64, 65_536


def block_rows_for(candidates_per_row: int, budget_bytes: int = DEFAULT_BLOCK_BUDGET_BYTES) -> int:
    """Queries per block so that one block's candidates take at most ~``budget_bytes`` (within
    [MIN_BLOCK_ROWS, MAX_BLOCK_ROWS]); independent of the number of postings."""
    if candidates_per_row < 1:
        raise ValueError(f"candidates_per_row must be >= 1, got {candidates_per_row}")
    if budget_bytes < 1:
        raise ValueError(f"budget_bytes must be >= 1, got {budget_bytes}")
    rows = budget_bytes // (candidates_per_row * BYTES_PER_CANDIDATE)
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def blocked_topk(matrix: sp.csr_matrix, k: int, min_score: float = 0.0, config: BlockingConfig | None = None,
                 rows: np.ndarray | None = None, index: BlockingIndex | None = None,
                 n_threads: int | None = None) -> Neighbours:
    """Top-k neighbours among the rows of ``matrix`` (L2-normalised TF-IDF, float32), found by blocking.

    ``rows``: the query rows to search (default all; e.g. a sample, or one worker's partition); results are
    the same for a row whatever else is searched. ``index``: keys already built from ``matrix``.
    """
    config = config or BlockingConfig()
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    matrix = check_matrix(matrix)
    n = matrix.shape[0]
    index = index or BlockingIndex.build(matrix, config)
    if index.n_rows != n:
        raise ValueError(f"blocking index has {index.n_rows} rows, the matrix {n}")
    rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    block_rows = config.block_rows or block_rows_for(config.candidates_per_row)
    n_threads = n_threads or available_cores()
    # at most k pairs per query: fill preallocated arrays (pages never written are never resident), not a
    # list of blocks concatenated at the end, which would hold the result twice
    out_rows = np.empty(len(rows) * k, np.int64)
    out_cols = np.empty(len(rows) * k, np.int64)
    out_scores = np.empty(len(rows) * k, np.float32)
    filled = 0
    for start in range(0, len(rows), block_rows):
        block = rows[start : start + block_rows]
        cand_rows, cand_cols = candidate_pairs(index, block, n_threads)
        scores = rowwise_dot(matrix, cand_rows, cand_cols)
        keep = (scores >= np.float32(min_score)) & (scores > 0)  # as the exact product: no zero sums
        cand_rows, cand_cols, scores = cand_rows[keep], cand_cols[keep], scores[keep]
        best = top_k_grouped(cand_rows, scores, k)
        end = filled + len(best)
        out_rows[filled:end], out_cols[filled:end], out_scores[filled:end] = cand_rows[best], cand_cols[best], scores[best]
        filled = end
    found = Neighbours(out_rows[:filled], out_cols[:filled], out_scores[:filled], n, n)
    return found if _rows_sorted(rows) else found.select(np.argsort(found.rows, kind="stable"))


def candidate_pairs(index: BlockingIndex, block: np.ndarray, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (query, candidate) pairs for the query rows ``block``, grouped by query in block order, each
    query's candidates in index order. A query with any term is its own candidate."""
    config, n = index.config, index.n_rows
    products = _key_candidates(index.tokens, block, config.candidates, n_threads)
    if index.pairs is not None and index.pairs.keys.shape[1]:
        products += _key_candidates(index.pairs, block, config.pair_candidates, n_threads)
    with_terms = np.flatnonzero(np.diff(index.tokens.keys.indptr)[block] > 0)
    union = sp.csr_matrix((np.ones(len(with_terms), np.float32), (with_terms, block[with_terms])),
                          shape=(len(block), n))
    for product in products:
        union = union + product
    union = sp.csr_matrix(union)
    union.sum_duplicates()  # canonical: each candidate once, columns ascending
    return np.repeat(block, np.diff(union.indptr)), union.indices.astype(np.int64)


def _key_candidates(lists: KeyLists, block: np.ndarray, top_n: int, n_threads: int) -> list[sp.csr_matrix]:
    """The best ``top_n`` candidates of each query by the keys' part of the score, in both directions."""
    return [_top_n(lists.keys[block], lists.capped_t, top_n, n_threads),
            _top_n(lists.capped[block], lists.keys_t, top_n, n_threads)]


def _top_n(queries: sp.csr_matrix, index_t: sp.csr_matrix, top_n: int, n_threads: int) -> sp.csr_matrix:
    """The ``top_n`` largest products of each query row (which ones among ties does not matter: they are
    candidates, scored exactly afterwards)."""
    if sparse_dot_topn_available():
        from sparse_dot_topn import sp_matmul_topn

        return sp_matmul_topn(queries, index_t, top_n=top_n, threshold=0.0, n_threads=n_threads)
    product = sp.csr_matrix(queries @ index_t)
    rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
    kept = Neighbours(rows, product.indices.astype(np.int64), product.data.astype(np.float32),
                      *product.shape).top_k(top_n)
    return sp.csr_matrix((kept.scores, (kept.rows, kept.cols)), shape=product.shape)


def top_k_grouped(rows: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of each row's ``k`` best scores, in input order, for pairs grouped by row (each row's pairs
    together) with each row's columns ascending; scores must be positive. Ties go to the lower column, as
    :meth:`Neighbours.top_k` breaks them: one stable sort of an int64 key (the group, then the score's bits
    reversed: a positive float32's bits grow with its value) keeps the input order among equal scores."""
    if len(rows) == 0:
        return np.empty(0, np.int64)
    if scores.dtype != np.float32 or not (scores > 0).all():
        raise ValueError("top_k_grouped needs positive float32 scores")
    group = np.cumsum(np.r_[0, np.diff(rows) != 0]).astype(np.int64)
    key = (group << 32) | (np.int64(0xFFFFFFFF) - scores.view(np.uint32).astype(np.int64))
    order = np.argsort(key, kind="stable")
    keep = order[rank_within_rows(group[order]) < k]
    keep.sort()
    return keep


def _rows_sorted(rows: np.ndarray) -> bool:
    return bool(len(rows) < 2 or (np.diff(rows) >= 0).all())
