"""TF-IDF over cleaned titles, with sparse blockwise top-k.

Queries are multiplied against the index in row blocks; each block's sparse product is cut at
``min_score`` and to the top ``k`` per row before the next block, so memory stays bounded by
``block_rows x n_index`` nonzeros however many postings there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from prodmatch.search.neighbours import Neighbours

WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keep 1-character tokens: sizes and variants ("s", "xl", "2")


@dataclass(frozen=True)
class TfidfConfig:
    analyzer: str = "word"  # "word", "char_wb" or "char"
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


def sparse_topk(
    queries: sp.csr_matrix, index: sp.csr_matrix, k: int, min_score: float = 0.0, block_rows: int | None = None
) -> Neighbours:
    """Top-k inner products of sparse rows, blockwise. Pairs scoring below ``min_score`` are dropped."""
    block_rows = default_block_rows(index.shape[0]) if block_rows is None else block_rows
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"feature dimensions differ: {queries.shape[1]} vs {index.shape[1]}")
    if queries.dtype != np.float32 or index.dtype != np.float32:
        raise TypeError(f"TF-IDF matrices must be float32, got {queries.dtype}/{index.dtype}")
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
