"""Vector indexes for visual search: L2-normalised float32 embeddings, inner product (= cosine).

One interface, four kinds, made by :func:`create_index`:

- ``exact``  brute force, the reference every other kind is measured against: faiss IndexFlatIP, or with
  ``backend`` torch (blockwise matmul + top-k, on the GPU when usable) or cuML
  (:mod:`prodmatch.search.dense`'s backends) over the same stored vectors;
- ``ivf``    faiss IndexIVFFlat: k-means cells (``nlist`` ~ 4 sqrt(n)), search visits ``nprobe`` cells;
- ``hnsw``   faiss IndexHNSWFlat: a navigable small-world graph (``m`` links), beam width ``ef_search``;
- ``lsh``    faiss IndexLSH: ``nbits`` (2 x dim) random-projection sign bits, Hamming search -- the
  baseline of the eProduct paper (arXiv 2107.05856).

Every index has ``build(vectors)``, ``search(queries, k) -> (scores, positions)``, ``save(path)``,
``load_index(path)``, ``name`` and ``memory_bytes``. Parameters left as None are chosen from the index
size at build time and recorded in ``params`` (and so in ``name`` and the saved file).

Which kind by size (:func:`choose_kind`, ``kind: auto``): exact up to :data:`EXACT_MAX_ROWS` rows -- at that
size a CPU brute-force scan still answers a few hundred queries a second and is never wrong -- and IVF above
(46x exact's speed at 1.1M rows for 0.95 neighbour recall@10, docs/benchmarks.md). HNSW answers single queries
faster than IVF at equal recall on some data but builds slower and uses more memory: ask for it by name.

Search effort of ``ivf`` (nprobe) and ``hnsw`` (ef_search): when not given, :meth:`ApproximateIndex.tune`
picks the smallest value on a ladder that reaches ``target_recall`` (0.95) neighbour recall@10 against
exact search. At build time it tunes on ``tune_queries`` (500) index rows used as queries, their own
row excluded from both result lists -- optimistic, since a stored vector sits right in its own cell or
graph neighbourhood. Call ``tune(held_out_queries)`` with real queries for an honest setting (the
benchmark does). Positions are row numbers of the ``vectors`` passed to ``build``; ``-1`` pads a row when
fewer than k results were found (an IVF search visiting few small cells).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from prodmatch.errors import InputError, MissingInputError
from prodmatch.fileio import atomic_path
from prodmatch.progress import progress_bar
from prodmatch.search.dense import check_embeddings
from prodmatch.visual.metrics import neighbour_recall

DEFAULT_BLOCK_ROWS = 16384
EXACT_MAX_ROWS = 200_000
EXACT_BACKENDS = ("faiss", "torch", "cuml", "auto")
TARGET_RECALL = 0.95
TUNE_K = 10


def import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("prodmatch.visual.index needs faiss: pip install faiss-cpu") from exc
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

    def build(self, vectors: np.ndarray) -> "VectorIndex":
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


class ExactIndex(VectorIndex):
    """Brute-force inner product: exact top-k, cost linear in the index size.

    The vectors live in a faiss IndexFlatIP (what is saved); ``backend`` picks who scans them: ``faiss``, or
    ``torch`` / ``cuml`` / ``auto`` (:func:`prodmatch.search.dense.create_backend`: cuML or torch on a usable
    GPU, else faiss). Same neighbours up to ties.
    """

    kind = "exact"

    def __init__(self, backend: str = "faiss", **kwargs):
        if backend not in EXACT_BACKENDS:
            raise ValueError(f"unknown exact backend {backend!r}; choose from {EXACT_BACKENDS}")
        super().__init__(**kwargs)
        self.params.update(backend=backend)
        self._vectors: np.ndarray | None = None

    def _make(self, vectors):
        return import_faiss().IndexFlatIP(vectors.shape[1])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.params["backend"] == "faiss":
            return super().search(queries, k)
        from prodmatch.search.dense import create_backend

        index = self._require_built()
        queries = check_embeddings(queries, "queries")
        if queries.shape[1] != index.d or k < 1:
            raise ValueError(f"need k >= 1 and {index.d}-d queries, got k={k}, {queries.shape[1]}-d")
        if self._vectors is None or len(self._vectors) != index.ntotal:
            self._vectors = index.reconstruct_n(0, index.ntotal)
        return create_backend(self.params["backend"]).search(queries, self._vectors, int(k))

    @property
    def memory_bytes(self) -> int:
        return self.ntotal * self.dim * 4


def exact_neighbours(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k positions of ``queries`` among ``vectors`` (inner product), int64."""
    faiss = import_faiss()
    _, positions = faiss.knn(queries, vectors, min(k, len(vectors)), faiss.METRIC_INNER_PRODUCT)
    return positions.astype(np.int64)


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
                          f"{self.target_recall} (best {curve[chosen]:.3f}); using {chosen}", RuntimeWarning)
        self.set_effort(chosen)
        self.tuning = {"k": k, "target_recall": self.target_recall, "n_queries": len(queries), "recall": curve}
        return chosen

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


INDEX_KINDS: dict[str, type[VectorIndex]] = {
    ExactIndex.kind: ExactIndex,
    IVFIndex.kind: IVFIndex,
    HNSWIndex.kind: HNSWIndex,
    LSHIndex.kind: LSHIndex,
}


def choose_kind(n_rows: int) -> str:
    """The kind ``auto`` builds for ``n_rows`` vectors: exact up to :data:`EXACT_MAX_ROWS`, IVF above."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    return ExactIndex.kind if n_rows <= EXACT_MAX_ROWS else IVFIndex.kind


def create_index(kind: str, **params) -> VectorIndex:
    """Factory: an unbuilt index of ``kind`` (one of :data:`INDEX_KINDS`) with its parameters."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {tuple(INDEX_KINDS)}")
    return INDEX_KINDS[kind](**params)


class IndexFileError(InputError, ValueError):
    """A file given as a saved index that is not one."""


def load_index(path: str | Path, progress: bool = True) -> VectorIndex:
    """An index written by :meth:`VectorIndex.save`, ready to search."""
    faiss = import_faiss()
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"index file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data or "faiss_index" not in data:
            raise IndexFileError(f"{path} is not a prodmatch index file (no meta/faiss_index arrays)")
        meta = json.loads(str(data["meta"]))
        blob = data["faiss_index"]
    params = {k: v for k, v in meta["params"].items() if not k.startswith("_")}
    index = create_index(meta["kind"], block_rows=meta["block_rows"], progress=progress, **params)
    index.params.update(meta["params"])
    index._restore(faiss.deserialize_index(blob))
    if isinstance(index, ApproximateIndex):
        index.set_effort(index.params[index.effort_param])
    return index
