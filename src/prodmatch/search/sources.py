"""Candidate sources: each turns the Features of one set of postings into all-pairs Neighbours among them.

A recipe is a list of sources; swap behaviour by passing different source objects. Every source has

- ``name``: its column in the candidate table (any string: nothing branches on it);
- ``kind``: ``tfidf``, ``phash`` or ``embedding`` -- what it compares;
- ``scale``: what its scores mean (:mod:`prodmatch.search.scales`): the tuning grid and how thresholds print;
- ``size_drift``: whether its best threshold rises with the number of postings searched;
- ``search(features) -> Neighbours``;
- ``search_with_vectors(features) -> (Neighbours, vectors)``: the same search, and the vectors it searched
  (what ``score_pairs`` reads);
- ``score_pairs(vectors, rows, cols) -> scores``: the source's score for any pairs, proposed or not (on its
  own scale), so that a pair model sees every source's score for every candidate pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from prodmatch.search.blending import BlendConfig, blend_vectors
from prodmatch.search.blocked import blocked_topk
from prodmatch.search.blocking import BlockingConfig
from prodmatch.search.dense import dense_neighbours, l2_normalize
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.pair_scores import rowwise_dot
from prodmatch.search.phash import distance_to_score, phash_neighbours, phash_to_bytes
from prodmatch.search.scales import COSINE, HammingScale
from prodmatch.search.tfidf import TfidfConfig, sparse_topk, tfidf_matrix


@dataclass
class TfidfSource:
    name: str = "tfidf"
    configs: list[TfidfConfig] = field(default_factory=lambda: [TfidfConfig()])
    weights: list[float] | None = None
    k: int = 50
    min_score: float = 0.2
    blend: BlendConfig | None = BlendConfig()
    block_rows: int | None = None  # None: scaled to the number of postings (bounded memory)
    blocking: BlockingConfig | None = None  # None: the exact top-k; else candidates by blocking (search/blocked)
    size_drift: bool = True
    kind = "tfidf"
    scale = COSINE

    def search(self, features: Features) -> Neighbours:
        return self.search_with_vectors(features)[0]

    def search_with_vectors(self, features: Features) -> tuple[Neighbours, sp.csr_matrix]:
        """The neighbours and the (blended) TF-IDF rows they were searched with."""
        matrix = tfidf_matrix(features.titles, self.configs, self.weights)
        if self.blend is None:
            return self.top_k(matrix), matrix
        blended = blend_vectors(matrix, self.top_k(matrix), self.blend)  # the first neighbours freed once blended
        return self.top_k(blended), blended

    def top_k(self, matrix: sp.csr_matrix) -> Neighbours:
        """All-pairs top-k among the rows of ``matrix``: exact, or by blocking when the source has it."""
        if self.blocking is None:
            return sparse_topk(matrix, matrix, k=self.k, min_score=self.min_score, block_rows=self.block_rows)
        return blocked_topk(matrix, k=self.k, min_score=self.min_score, config=self.blocking)

    def score_pairs(self, vectors: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return rowwise_dot(vectors, rows, cols)


@dataclass
class PhashSource:
    name: str = "phash"
    max_distance: int = 16
    k: int = 50
    size_drift: bool = False  # unrelated images almost never come within a few bits, whatever the size
    kind = "phash"

    @property
    def scale(self) -> HammingScale:
        return HammingScale(max_distance=self.max_distance)

    def search(self, features: Features) -> Neighbours:
        return phash_neighbours(features.phashes, max_distance=self.max_distance, k=self.k)

    def search_with_vectors(self, features: Features) -> tuple[Neighbours, np.ndarray]:
        """The neighbours and the phashes as (n,) uint64 words."""
        words = phash_to_bytes(features.phashes).view(">u8").reshape(-1).astype(np.uint64)
        return self.search(features), words

    def score_pairs(self, vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if vectors.dtype != np.uint64:
            raise TypeError(f"phash vectors must be uint64 words, got {vectors.dtype}")
        return distance_to_score(np.bitwise_count(vectors[rows] ^ vectors[cols]))


@dataclass
class EmbeddingSource:
    """Cosine kNN over one named embedding, or the normalised concatenation of several (``comb``).

    Rows that are unusable in any of its embeddings (:meth:`Features.usable_rows`) are left out of the search
    and get no pairs from this source.
    """

    name: str
    embeddings: list[str]
    weights: list[float] | None = None
    k: int = 50
    min_score: float = 0.1
    blend: BlendConfig | None = None
    backend: str = "auto"
    size_drift: bool = True
    kind = "embedding"
    scale = COSINE

    def vectors(self, features: Features) -> np.ndarray:
        weights = self.weights or [1.0] * len(self.embeddings)
        parts = [features.embedding(name) * np.float32(w) for name, w in zip(self.embeddings, weights)]
        return l2_normalize(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))

    def search(self, features: Features) -> Neighbours:
        return self.search_with_vectors(features)[0]

    def search_with_vectors(self, features: Features) -> tuple[Neighbours, np.ndarray]:
        """The neighbours and the (blended) vectors they were searched with. Rows whose embedding is unusable
        (e.g. an unreadable image) are left out of the search and get NaN vectors, so any pair touching
        them scores NaN: a missing value to the pair model, not a dissimilar pair."""
        vectors = self.vectors(features)
        usable = features.usable_rows(self.embeddings)
        if usable is None:
            return self.search_vectors(vectors)
        rows = np.flatnonzero(usable)
        found, searched = self.search_vectors(vectors[rows])
        full = np.full((len(features), vectors.shape[1]), np.nan, dtype=np.float32)
        full[rows] = searched
        return found.offset(rows, rows, len(features), len(features)), full

    def search_vectors(self, vectors: np.ndarray) -> tuple[Neighbours, np.ndarray]:
        """All-pairs neighbours among ``vectors`` (with blending when configured), and the vectors searched."""
        k = min(self.k, len(vectors))
        neighbours = dense_neighbours(vectors, k=k, backend=self.backend, min_score=self.min_score)
        if self.blend is None or len(vectors) == 0:
            return neighbours, vectors
        blended = blend_vectors(vectors, neighbours, self.blend)
        return dense_neighbours(blended, k=k, backend=self.backend, min_score=self.min_score), blended

    def score_pairs(self, vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return rowwise_dot(vectors, rows, cols)


def search_all(sources: list, features: Features) -> tuple[dict[str, Neighbours], dict[str, float]]:
    """Every source's neighbours among ``features``, and the seconds each search took."""
    neighbours, seconds = {}, {}
    for source in sources:
        started = time.perf_counter()
        neighbours[source.name] = source.search(features)
        seconds[source.name] = time.perf_counter() - started
    return neighbours, seconds


def search_all_with_vectors(sources: list, features: Features):
    """Like :func:`search_all`, and each source's searched vectors (for scoring any pair, e.g. pair features):
    (neighbours, vectors, seconds), each keyed by source name."""
    neighbours, vectors, seconds = {}, {}, {}
    for source in sources:
        started = time.perf_counter()
        neighbours[source.name], vectors[source.name] = source.search_with_vectors(features)
        seconds[source.name] = time.perf_counter() - started
    return neighbours, vectors, seconds
