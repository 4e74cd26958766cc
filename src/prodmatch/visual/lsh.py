"""LSH: random-projection sign bits searched by Hamming distance -- the baseline of the eProduct paper
(arXiv 2107.05856)."""

from __future__ import annotations

import numpy as np

from prodmatch.visual.vector_index import VectorIndex, import_faiss


class LSHIndex(VectorIndex):
    """faiss IndexLSH: a random rotation to ``nbits`` (default 2 x dim) projections, one sign bit each.

    Search is an exhaustive Hamming scan of the codes. Scores are ``1 - 2 * hamming / nbits``: 1 for
    identical codes, about 0 for unrelated vectors -- a similarity for ranking, not a cosine.
    ``train_thresholds`` puts each bit's threshold at the median projection of the vectors instead of 0.
    """

    kind = "lsh"

    def __init__(self, nbits: int | None = None, train_thresholds: bool = False, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.params.update(nbits=nbits, train_thresholds=bool(train_thresholds))
        self.seed = int(seed)

    def _make(self, vectors):
        faiss = import_faiss()
        nbits = int(self.params["nbits"] or 2 * vectors.shape[1])
        self.params["nbits"] = nbits
        index = faiss.IndexLSH(vectors.shape[1], nbits, True, self.params["train_thresholds"])
        if self.params["train_thresholds"] and len(vectors) > 100_000:  # medians from a random sample
            vectors = vectors[np.sort(np.random.default_rng(self.seed).choice(len(vectors), 100_000, replace=False))]
        index.train(vectors)  # draws the rotation (faiss's fixed seed) and, if asked, the thresholds
        return index

    def _scores(self, raw: np.ndarray) -> np.ndarray:
        return (1.0 - 2.0 * raw / self.params["nbits"]).astype(np.float32)

    @property
    def memory_bytes(self) -> int:
        nbits = self.params["nbits"]
        return self.ntotal * ((nbits + 7) // 8) + nbits * self.dim * 4 + nbits * 4
