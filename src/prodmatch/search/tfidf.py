"""TF-IDF over cleaned titles, and the sparse top-k search over it.

Two implementations return the same pairs (ties broken by index position, ``>= min_score`` kept):

- ``sparse_dot_topn`` (when installed): its C++ ``sp_matmul_topn`` keeps only the best ``2k`` products of
  each row while multiplying, threaded; prodmatch then cuts each row to ``k``, breaking ties at the cut by
  index (the extra ``k`` hold the tied pairs; a row whose ties run past them is redone by the scipy path).
- ``scipy``: queries are multiplied against the index in row blocks; each block's product is cut at
  ``min_score`` and to the top ``k`` per row before the next block, so memory stays bounded by
  ``block_rows x n_index`` nonzeros however many postings there are.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from prodmatch.device import available_cores
from prodmatch.search.neighbours import Neighbours

TOPK_METHODS = ("auto", "sparse_dot_topn", "scipy")
ANALYZERS = ("word", "char_wb", "char")  # TfidfConfig.analyzer
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keep 1-character tokens: sizes and variants ("s", "xl", "2")


@dataclass(frozen=True)
class TfidfConfig:
    analyzer: str = "word"  # one of ANALYZERS
    ngram_range: tuple[int, int] = (1, 1)
    sublinear_tf: bool = True
    max_df: float = 1.0
    min_df: int = 1
    binary: bool = False

    def vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=tuple(self.ngram_range),
            token_pattern=WORD_TOKEN_PATTERN if self.analyzer == "word" else None,
            sublinear_tf=self.sublinear_tf,
            max_df=self.max_df,
            min_df=self.min_df,
            binary=self.binary,
            dtype=np.float32,
        )


def tfidf_matrix(titles: list[str], configs: list[TfidfConfig], weights: list[float] | None = None) -> sp.csr_matrix:
    """Fit TF-IDF on ``titles`` (one vectorizer per config), weight, stack and L2-normalise rows."""
    weights = weights or [1.0] * len(configs)
    if len(weights) != len(configs):
        raise ValueError("one weight per TF-IDF config")
    blocks = []
    for config, weight in zip(configs, weights):
        try:
            block = config.vectorizer().fit_transform(titles)
        except ValueError:  # empty vocabulary: every title empty (or only stop words)
            block = sp.csr_matrix((len(titles), 1), dtype=np.float32)
        blocks.append(block * np.float32(weight))
    matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
    return normalize(matrix, norm="l2", copy=False).astype(np.float32)


def default_block_rows(n_index: int, max_products: float = 1.5e8) -> int:
    """Query rows per block so one block's product has at most ~``max_products`` entries (~1.2 GB as CSR)."""
    return int(max(256, min(2048, max_products // max(n_index, 1))))


def sparse_dot_topn_available() -> bool:
    return importlib.util.find_spec("sparse_dot_topn") is not None


def sparse_topk(
    queries: sp.csr_matrix, index: sp.csr_matrix, k: int, min_score: float = 0.0, block_rows: int | None = None,
    method: str = "auto",
) -> Neighbours:
    """Top-k inner products of sparse rows (pairs scoring below ``min_score`` dropped), in row order.

    ``method``: ``auto`` (sparse_dot_topn when installed, else scipy), ``sparse_dot_topn`` or ``scipy``.
    """
    if method not in TOPK_METHODS:
        raise ValueError(f"unknown top-k method {method!r}; choose from {TOPK_METHODS}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"feature dimensions differ: {queries.shape[1]} vs {index.shape[1]}")
    if queries.dtype != np.float32 or index.dtype != np.float32:
        raise TypeError(f"TF-IDF matrices must be float32, got {queries.dtype}/{index.dtype}")
    if method == "auto":
        method = "sparse_dot_topn" if sparse_dot_topn_available() else "scipy"
    if method == "sparse_dot_topn":
        return sparse_dot_topn_topk(queries, index, k, min_score, block_rows)
    return scipy_topk(queries, index, k, min_score, block_rows)


def scipy_topk(queries: sp.csr_matrix, index: sp.csr_matrix, k: int, min_score: float = 0.0,
               block_rows: int | None = None) -> Neighbours:
    """Blockwise scipy product, each block cut at ``min_score`` and to the top k per row."""
    block_rows = default_block_rows(index.shape[0]) if block_rows is None else block_rows
    queries = sp.csr_matrix(queries)
    index_t = sp.csr_matrix(index.T)
    parts = []
    for start in range(0, queries.shape[0], block_rows):
        product = sp.csr_matrix(queries[start : start + block_rows] @ index_t)
        counts = np.diff(product.indptr)
        rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), counts)
        keep = product.data >= min_score
        block = Neighbours(
            rows[keep] + start,
            product.indices[keep].astype(np.int64),
            product.data[keep].astype(np.float32),
            queries.shape[0],
            index.shape[0],
        )
        parts.append(block.top_k(k))
    return Neighbours.concat(parts, queries.shape[0], index.shape[0])


def sparse_dot_topn_topk(queries: sp.csr_matrix, index: sp.csr_matrix, k: int, min_score: float = 0.0,
                         block_rows: int | None = None, n_threads: int | None = None) -> Neighbours:
    """sparse_dot_topn's best ``2k`` per row, cut to the best ``k`` with ties at the cut broken by index.

    The extra ``k`` per row cost almost nothing and hold every pair tied with the ``k``-th (duplicate
    titles in the index tie exactly); a row whose ties run past them is redone by :func:`scipy_topk`.
    """
    from sparse_dot_topn import sp_matmul_topn

    n_query, n_index = queries.shape[0], index.shape[0]
    queries = sp.csr_matrix(queries)
    top_n = 2 * k
    product = sp_matmul_topn(queries, sp.csr_matrix(index.T), top_n=top_n, threshold=just_below(min_score),
                             sort=True, n_threads=n_threads or available_cores())  # rows sorted best first
    nnz = int(product.indptr[-1])
    scores, cols = product.data[:nnz], product.indices[:nnz].astype(np.int64)
    starts, counts = product.indptr[:-1].astype(np.int64), np.diff(product.indptr).astype(np.int64)
    rows = np.repeat(np.arange(n_query, dtype=np.int64), counts)
    rank = np.arange(nnz, dtype=np.int64) - np.repeat(starts, counts)
    over = np.flatnonzero(counts > k)
    kth = scores[starts[over] + k - 1]
    tied = over[scores[starts[over] + k] == kth]
    kth_of_tied = np.full(n_query, np.inf, dtype=np.float32)
    kth_of_tied[tied] = scores[starts[tied] + k - 1]
    full = tied[counts[tied] == top_n]  # only a row holding all 2k can have ties beyond them
    ties_run_past = full[scores[starts[full] + top_n - 1] == kth_of_tied[full]]
    is_tied = np.zeros(n_query, dtype=bool)
    is_tied[tied] = True
    keep = np.where(is_tied[rows], scores >= kth_of_tied[rows], rank < k)
    keep &= (scores >= np.float32(min_score)) & (scores != 0)  # scipy's product holds no zero sums
    keep[np.isin(rows, ties_run_past)] = False
    found = Neighbours(rows[keep], cols[keep], scores[keep].astype(np.float32), n_query, n_index)
    parts = [found.select(~is_tied[found.rows]), found.select(is_tied[found.rows]).top_k(k)]
    if len(ties_run_past):
        redone = scipy_topk(queries[ties_run_past], index, k, min_score, block_rows)
        parts.append(redone.offset(ties_run_past, 0, n_query, n_index))
    merged = Neighbours.concat(parts, n_query, n_index)
    return merged.select(np.argsort(merged.rows, kind="stable"))


def just_below(score: float) -> float:
    """The float32 just under ``score``: sparse_dot_topn keeps products strictly greater than its threshold,
    prodmatch keeps those ``>= min_score`` (compared in float32, as the scipy path does)."""
    return float(np.nextafter(np.float32(score), np.float32(-np.inf)))


def tfidf_neighbours(
    titles: list[str],
    configs: list[TfidfConfig] | None = None,
    k: int = 50,
    min_score: float = 0.1,
    weights: list[float] | None = None,
) -> Neighbours:
    """All-pairs TF-IDF neighbours of ``titles`` among themselves (self included)."""
    matrix = tfidf_matrix(titles, configs or [TfidfConfig()], weights)
    return sparse_topk(matrix, matrix, k=k, min_score=min_score)
