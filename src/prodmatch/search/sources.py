"""Candidate sources: each turns the Features of one set of postings into all-pairs Neighbours among them.

A recipe is a list of sources; swap behaviour by passing different source objects. Every source has

- ``name``: its column in the candidate table (any string: nothing branches on it);
- ``kind``: ``tfidf``, ``phash`` or ``embedding`` -- what it compares;
- ``scale``: what its scores mean (:mod:`prodmatch.search.scales`): the tuning grid and how thresholds print;
- ``size_drift``: whether its best threshold rises with the number of postings searched;
- ``search(features) -> Neighbours``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from prodmatch.search.blending import BlendConfig, blend_vectors
from prodmatch.search.dense import dense_neighbours, l2_normalize
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.phash import phash_neighbours
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
    size_drift: bool = True
    kind = "tfidf"
    scale = COSINE

    def search(self, features: Features) -> Neighbours:
        matrix = tfidf_matrix(features.titles, self.configs, self.weights)
        neighbours = sparse_topk(matrix, matrix, k=self.k, min_score=self.min_score, block_rows=self.block_rows)
        if self.blend is None:
            return neighbours
        blended = blend_vectors(matrix, neighbours, self.blend)
        return sparse_topk(blended, blended, k=self.k, min_score=self.min_score, block_rows=self.block_rows)


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
        usable = features.usable_rows(self.embeddings)
        if usable is None:
            return self.search_vectors(self.vectors(features))
        rows = np.flatnonzero(usable)
        found = self.search_vectors(self.vectors(features)[rows])
        return found.offset(rows, rows, len(features), len(features))

    def search_vectors(self, vectors: np.ndarray) -> Neighbours:
        """All-pairs neighbours among ``vectors`` (with blending when configured)."""
        k = min(self.k, len(vectors))
        neighbours = dense_neighbours(vectors, k=k, backend=self.backend, min_score=self.min_score)
        if self.blend is None or len(vectors) == 0:
            return neighbours
        blended = blend_vectors(vectors, neighbours, self.blend)
        return dense_neighbours(blended, k=k, backend=self.backend, min_score=self.min_score)


def search_all(sources: list, features: Features) -> tuple[dict[str, Neighbours], dict[str, float]]:
    """Every source's neighbours among ``features``, and the seconds each search took."""
    neighbours, seconds = {}, {}
    for source in sources:
        started = time.perf_counter()
        neighbours[source.name] = source.search(features)
        seconds[source.name] = time.perf_counter() - started
    return neighbours, seconds
