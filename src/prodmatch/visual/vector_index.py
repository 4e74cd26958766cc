"""The interface every vector index of visual search has, and the index file it saves.

Vectors are L2-normalised float32 embeddings; scores are inner products (= cosine) or, for LSH, a similarity
made from Hamming distances -- higher is closer either way. Every index has ``build(vectors)``,
``search(queries, k) -> (scores, positions)``, ``save(path)``, ``name`` and ``memory_bytes``; it is read back
by :func:`prodmatch.visual.indexes.load_index`. Parameters left as None are chosen from the index size at
build time and recorded in ``params`` (and so in ``name`` and the saved file). Positions are row numbers of
the ``vectors`` passed to ``build``; ``-1`` pads a row when fewer than k results were found (an IVF search
visiting few small cells), its score then ``-inf``.

The kinds (exact, IVF, HNSW, LSH) and how one is chosen: :mod:`prodmatch.visual.indexes`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np

from prodmatch.fileio import atomic_path
from prodmatch.progress import progress_bar
from prodmatch.search.dense import check_embeddings

DEFAULT_BLOCK_ROWS = 16384


def import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("visual search indexes need faiss: pip install faiss-cpu") from exc
    return faiss


def _blocks(n: int, block_rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + block_rows, n)) for start in range(0, n, block_rows)]


class VectorIndex:
    """Base class: holds one faiss index, searches it in query blocks, saves it with its parameters."""

    kind: ClassVar[str] = ""

    def __init__(self, block_rows: int = DEFAULT_BLOCK_ROWS, progress: bool = True):
        if block_rows < 1:
            raise ValueError(f"block_rows must be >= 1, got {block_rows}")
        self.block_rows = int(block_rows)
        self.progress = bool(progress)
        self.params: dict = {}  # the kind's parameters, None until chosen at build time
        self._index = None

    @property
    def name(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.params.items() if v is not None and not k.startswith("_"))
        return f"{self.kind}({shown})" if shown else self.kind

    @property
    def built(self) -> bool:
        return self._index is not None

    @property
    def ntotal(self) -> int:
        return int(self._require_built().ntotal)

    @property
    def dim(self) -> int:
        return int(self._require_built().d)

    @property
    def memory_bytes(self) -> int:
        """Bytes of the index structures: stored vectors or codes, ids, centroids, graph links."""
        raise NotImplementedError

    def _require_built(self):
        if self._index is None:
            raise RuntimeError(f"{self.kind} index is not built: call build(vectors) or load_index(path)")
        return self._index

    def build(self, vectors: np.ndarray) -> VectorIndex:
        vectors = check_embeddings(vectors, "index vectors")
        if len(vectors) == 0:
            raise ValueError("cannot build an index of 0 vectors")
        self._index = self._make(vectors)
        self._add(vectors)
        self._after_build(vectors)
        return self

    def _make(self, vectors: np.ndarray):
        raise NotImplementedError

    def _add(self, vectors: np.ndarray) -> None:
        blocks = _blocks(len(vectors), self.block_rows * 4)
        for start, stop in progress_bar(blocks, f"add {self.kind}", enabled=self.progress and len(blocks) > 1):
            self._index.add(vectors[start:stop])

    def _after_build(self, vectors: np.ndarray) -> None:
        """Hook run once the vectors are added (approximate indexes tune their search effort here)."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores float32, positions int64), best first, each ``(len(queries), min(k, ntotal))``."""
        index = self._require_built()
        queries = check_embeddings(queries, "queries")
        if queries.shape[1] != index.d:
            raise ValueError(f"dimension mismatch: queries {queries.shape[1]} vs index {index.d}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(int(k), int(index.ntotal))
        scores = np.empty((len(queries), k), np.float32)
        positions = np.empty((len(queries), k), np.int64)
        blocks = _blocks(len(queries), self.block_rows)
        for start, stop in progress_bar(blocks, f"search {self.kind}", enabled=self.progress and len(blocks) > 1):
            raw_scores, raw_positions = index.search(queries[start:stop], k)
            scores[start:stop] = self._scores(raw_scores)
            positions[start:stop] = raw_positions
        scores[positions < 0] = -np.inf
        return scores, positions

    def _scores(self, raw: np.ndarray) -> np.ndarray:
        """faiss's distances as similarities, higher = closer (inner-product indexes return them as is)."""
        return raw

    def save(self, path: str | Path) -> Path:
        """One .npz (atomic): the serialised faiss index and a JSON record of kind and parameters."""
        faiss = import_faiss()
        path = Path(path)
        meta = json.dumps({"kind": self.kind, "params": self.params, "block_rows": self.block_rows})
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, faiss_index=faiss.serialize_index(self._require_built()), meta=np.array(meta))
        return path

    def _restore(self, faiss_index) -> None:
        self._index = faiss_index
