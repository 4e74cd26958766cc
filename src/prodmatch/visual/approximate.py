"""Approximate indexes with one search-effort knob, tuned to a target neighbour recall against exact search.

- ``ivf``   faiss IndexIVFFlat: k-means cells (``nlist`` ~ 4 sqrt(n)), search visits ``nprobe`` cells;
- ``hnsw``  faiss IndexHNSWFlat: a navigable small-world graph (``m`` links), beam width ``ef_search``.

Search effort (nprobe, ef_search): when not given, :meth:`ApproximateIndex.tune` picks the smallest value on
a ladder that reaches ``target_recall`` (0.95) neighbour recall@10 against exact search. At build time it
tunes on ``tune_queries`` (500) index rows used as queries, their own row excluded from both result lists --
optimistic, since a stored vector sits right in its own cell or graph neighbourhood. Call
``tune(held_out_queries)`` with real queries for an honest setting (the benchmark does).
"""

from __future__ import annotations

import math
import warnings
from typing import ClassVar

import numpy as np

from prodmatch.search.dense import check_embeddings
from prodmatch.visual.exact import exact_neighbours
from prodmatch.visual.metrics import neighbour_recall
from prodmatch.visual.vector_index import DEFAULT_BLOCK_ROWS, VectorIndex, import_faiss

TARGET_RECALL = 0.95
TUNE_K = 10


def drop_self(positions: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """First k of each row once the row's own position ``own[i]`` is removed (order kept)."""
    other = positions != own[:, None]
    order = np.argsort(~other, axis=1, kind="stable")
    return np.take_along_axis(positions, order, axis=1)[:, :k]


class ApproximateIndex(VectorIndex):
    """An index with one search-effort knob, tuned to a target neighbour recall against exact search."""

    effort_param: ClassVar[str] = ""
    effort_ladder: ClassVar[tuple[int, ...]] = ()

    def __init__(self, target_recall: float = TARGET_RECALL, tune_queries: int = 500, seed: int = 0,
                 block_rows: int = DEFAULT_BLOCK_ROWS, progress: bool = True):
        if not 0.0 < target_recall <= 1.0:
            raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
        super().__init__(block_rows=block_rows, progress=progress)
        self.target_recall = float(target_recall)
        self.tune_queries = int(tune_queries)
        self.seed = int(seed)
        self.tuning: dict | None = None  # what the last tune() saw: effort -> recall

    def set_effort(self, value: int) -> None:
        raise NotImplementedError

    def _ladder(self) -> list[int]:
        return list(self.effort_ladder)

    def tune(self, queries: np.ndarray, reference: np.ndarray | None = None, k: int = TUNE_K,
             exclude: np.ndarray | None = None, vectors: np.ndarray | None = None) -> int:
        """Smallest effort on the ladder whose neighbour recall@k against exact search reaches the target.

        ``reference`` holds the exact top-k positions of ``queries`` (computed from ``vectors`` when None).
        ``exclude`` (one position per query) is dropped from both lists: for index rows used as queries.
        Sets and returns the effort; the largest on the ladder, with a warning, when none reaches it.
        """
        queries = check_embeddings(queries, "tuning queries")
        extra = 0 if exclude is None else 1
        if reference is None:
            if vectors is None:
                raise ValueError("tune() needs the exact reference positions or the index vectors")
            reference = exact_neighbours(queries, vectors, k + extra)
        if exclude is not None:
            reference = drop_self(reference, exclude, k)
        curve: dict[int, float] = {}
        chosen = None
        for effort in self._ladder():
            self.set_effort(effort)
            _, found = self.search(queries, k + extra)
            if exclude is not None:
                found = drop_self(found, exclude, k)
            curve[effort] = neighbour_recall(found, reference, k)
            if curve[effort] >= self.target_recall:
                chosen = effort
                break
        if chosen is None:
            chosen = max(curve)
            warnings.warn(f"{self.kind}: no {self.effort_param} on {self._ladder()} reaches recall@{k} "
                          f"{self.target_recall} (best {curve[chosen]:.3f}); using {chosen}", RuntimeWarning, stacklevel=2)
        self.set_effort(chosen)
        self.tuning = {"k": k, "target_recall": self.target_recall, "n_queries": len(queries), "recall": curve}
        return chosen

    def _restore(self, faiss_index) -> None:
        super()._restore(faiss_index)
        self.set_effort(self.params[self.effort_param])

    def _after_build(self, vectors: np.ndarray) -> None:
        if self.params.get(self.effort_param) is not None:
            self.set_effort(self.params[self.effort_param])
            return
        if len(vectors) < 2:  # nothing to tune against
            self.set_effort(self._ladder()[0])
            return
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(len(vectors), size=min(self.tune_queries, len(vectors)), replace=False))
        was = self.progress
        self.progress = False
        try:
            self.tune(vectors[rows], exclude=rows.astype(np.int64), vectors=vectors, k=min(TUNE_K, len(vectors) - 1))
        finally:
            self.progress = was


def default_nlist(n: int, points_per_list: int = 39) -> int:
    """About 4 sqrt(n) cells, but at most n / points_per_list so every cell trains on enough points."""
    return int(max(1, min(round(4 * math.sqrt(n)), n // points_per_list)))


class IVFIndex(ApproximateIndex):
    """faiss IndexIVFFlat, inner product, spherical k-means trained on a sample of the vectors."""

    kind = "ivf"
    effort_param = "nprobe"
    effort_ladder = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)

    def __init__(self, nlist: int | None = None, nprobe: int | None = None, train_points_per_list: int = 40,
                 **kwargs):
        super().__init__(**kwargs)
        self.params.update(nlist=nlist, nprobe=nprobe)
        self.train_points_per_list = int(train_points_per_list)

    def _make(self, vectors):
        faiss = import_faiss()
        n, dim = vectors.shape
        nlist = self.params["nlist"] or default_nlist(n)
        if not 1 <= nlist <= n:
            raise ValueError(f"nlist must be in [1, {n}], got {nlist}")
        self.params["nlist"] = int(nlist)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # centroids on the unit sphere, like the vectors
        index.cp.seed = self.seed
        rng = np.random.default_rng(self.seed)
        sample_size = min(n, self.train_points_per_list * nlist)
        sample = vectors if sample_size == n else vectors[np.sort(rng.choice(n, sample_size, replace=False))]
        index.train(sample)
        self.params["_train_size"] = int(sample_size)
        return index

    def _ladder(self) -> list[int]:
        nlist = self.params["nlist"]
        return [p for p in self.effort_ladder if p < nlist] + [nlist]

    def set_effort(self, value: int) -> None:
        value = int(min(value, self.params["nlist"]))
        self._require_built().nprobe = value
        self.params["nprobe"] = value

    @property
    def memory_bytes(self) -> int:
        return self.ntotal * (self.dim * 4 + 8) + self.params["nlist"] * self.dim * 4


def default_hnsw_m(n: int) -> int:
    """Graph degree: 32 links up to 200k vectors, 16 beyond (build time on a few CPU cores)."""
    return 32 if n <= 200_000 else 16


class HNSWIndex(ApproximateIndex):
    """faiss IndexHNSWFlat, inner product."""

    kind = "hnsw"
    effort_param = "ef_search"
    effort_ladder = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)

    def __init__(self, m: int | None = None, ef_construction: int | None = None, ef_search: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.params.update(m=m, ef_construction=ef_construction, ef_search=ef_search)

    def _make(self, vectors):
        faiss = import_faiss()
        m = int(self.params["m"] or default_hnsw_m(len(vectors)))
        ef_construction = int(self.params["ef_construction"] or 40)  # faiss's default
        index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        self.params.update(m=m, ef_construction=ef_construction)
        return index

    def set_effort(self, value: int) -> None:
        self._require_built().hnsw.efSearch = int(value)
        self.params["ef_search"] = int(value)

    @property
    def memory_bytes(self) -> int:
        hnsw = self._require_built().hnsw
        return self.ntotal * self.dim * 4 + hnsw.neighbors.size() * 4 + hnsw.levels.size() * 4 + \
            hnsw.offsets.size() * 8
