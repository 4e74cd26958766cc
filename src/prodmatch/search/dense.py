"""k-nearest-neighbour search over L2-normalised dense embeddings (inner product = cosine).

Backends, chosen by :func:`create_backend`:

- ``cuml``  RAPIDS cuML brute-force kNN, in query chunks (needs cuML and a usable NVIDIA GPU);
- ``torch`` blockwise matrix product + top-k on a torch device (``cuda`` when usable, else ``cpu``);
- ``faiss`` faiss IndexFlatIP on CPU, in query chunks;
- ``numpy`` plain blockwise numpy, the fallback that needs nothing.

``auto`` picks cuML when it works (a tiny kNN run through it gives the right answer; importing is not
enough: RAPIDS imports fine where it cannot run), else torch on the GPU, and faiss, torch on CPU or numpy
only without a usable GPU. "Usable GPU" is :func:`prodmatch.device.cuda_usable`, the package's one rule. A
GPU backend that fails mid-search falls back the same way (cuML -> torch GPU -> CPU) with one warning.

Scores are float32 on every backend (no half-precision products, no TF32), so thresholds tuned on one
backend hold on another; every backend returns the same neighbours up to ties. Queries are processed in
blocks so the full n x n similarity matrix (19.6 GB at 70k x 70k float32) is never materialised.
The GPU-capable backends (torch, cuML) can also ``prepare(index)`` once -- uploaded, or fitted -- for a
caller that searches one index many times (:mod:`prodmatch.visual.exact`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from dataclasses import dataclass

import numpy as np

from prodmatch.device import cuda_usable, warn_once
from prodmatch.search.neighbours import Neighbours

BACKENDS = ("auto", "cuml", "torch", "faiss", "numpy")


def check_embeddings(x: np.ndarray, name: str = "embeddings", atol: float = 1e-3) -> np.ndarray:
    """Fail loudly on anything but a finite, L2-normalised float32 matrix."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be float32, got {x.dtype} (use prodmatch.search.dense.l2_normalize)")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contain NaN or inf")
    norms = np.linalg.norm(x, axis=1)
    if len(norms) and np.abs(norms - 1).max() > atol:
        raise ValueError(f"{name} must be L2-normalised (norms range {norms.min():.4f}..{norms.max():.4f})")
    return np.ascontiguousarray(x)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@functools.cache
def cuml_works() -> bool:
    """cuML installed, a usable GPU, and a tiny brute-force kNN through :class:`CumlBackend` right (cached)."""
    if importlib.util.find_spec("cuml") is None or not cuda_usable():
        return False
    points = l2_normalize(np.random.default_rng(0).normal(size=(16, 8)))
    expected = NumpyBackend().search(points, points, 3)[1]
    try:
        found = CumlBackend().search(points, points, 3)[1]
    except Exception as exc:  # noqa: BLE001 - any failure means "cuML does not work here"
        warn_once(f"cuML is installed but a test kNN failed ({exc!r}); using the torch GPU backend")
        return False
    if not np.array_equal(found, expected):
        warn_once("cuML is installed but a test kNN gave wrong neighbours; using the torch GPU backend")
        return False
    return True


@dataclass
class NumpyBackend:
    block_rows: int = 1024
    name: str = "numpy"

    def search(self, queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(index))
        all_scores = np.empty((len(queries), k), np.float32)
        all_indices = np.empty((len(queries), k), np.int64)
        for start in range(0, len(queries), self.block_rows):
            sims = queries[start : start + self.block_rows] @ index.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            top_scores = np.take_along_axis(sims, top, axis=1)
            order = np.lexsort((top, -top_scores), axis=1)
            all_indices[start : start + len(sims)] = np.take_along_axis(top, order, axis=1)
            all_scores[start : start + len(sims)] = np.take_along_axis(top_scores, order, axis=1)
        return all_scores, all_indices


@dataclass
class FaissBackend:
    block_rows: int = 16384
    name: str = "faiss"

    def search(self, queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        flat = faiss.IndexFlatIP(index.shape[1])
        flat.add(index)
        k = min(k, len(index))
        scores, indices = [], []
        for start in range(0, len(queries), self.block_rows):
            s, i = flat.search(queries[start : start + self.block_rows], k)
            scores.append(s)
            indices.append(i)
        return np.concatenate(scores).astype(np.float32), np.concatenate(indices).astype(np.int64)


@dataclass
class TorchBackend:
    device: str = "cpu"
    block_rows: int = 4096
    name: str = "torch"

    def prepare(self, index: np.ndarray):
        """The index uploaded to the backend's device: pass it to :meth:`search` in place of the array to
        search it many times with one upload."""
        return to_device(index, self.device)

    def search(self, queries: np.ndarray, index, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        k = min(k, len(index))
        scores, indices = [], []
        with torch.inference_mode(), full_float32_matmul():
            index_t = index if torch.is_tensor(index) else self.prepare(index)
            for start in range(0, len(queries), self.block_rows):
                sims = to_device(queries[start : start + self.block_rows], self.device) @ index_t.T
                if sims.dtype != torch.float32:
                    raise TypeError(f"similarities must be float32, got {sims.dtype}")
                s, i = torch.topk(sims, k, dim=1)
                scores.append(s.cpu().numpy())
                indices.append(i.cpu().numpy())
        return np.concatenate(scores).astype(np.float32), np.concatenate(indices).astype(np.int64)


def to_device(array: np.ndarray, device: str):
    """A float32 numpy array as a tensor on ``device`` (one place, so tests can stand in for a GPU)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


@contextlib.contextmanager
def full_float32_matmul():
    """Float32 products without TF32 (TF32 keeps 10 mantissa bits: a threshold of 0.75 would move ~1e-3)."""
    import torch

    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


@dataclass
class CumlBackend:
    block_rows: int = 8192
    name: str = "cuml"

    def prepare(self, index: np.ndarray) -> FittedNeighbours:
        """A cuML model fitted on the index (it holds the index on the GPU): pass it to :meth:`search` in place
        of the array to search it many times with one upload."""
        from cuml.neighbors import NearestNeighbors

        model = NearestNeighbors(n_neighbors=1, metric="cosine", algorithm="brute")  # k is given per search
        model.fit(index)
        return FittedNeighbours(model, len(index))

    def search(self, queries: np.ndarray, index, k: int) -> tuple[np.ndarray, np.ndarray]:
        fitted = index if isinstance(index, FittedNeighbours) else self.prepare(index)
        k = min(k, len(fitted))
        scores, indices = [], []
        for start in range(0, len(queries), self.block_rows):
            distances, idx = fitted.model.kneighbors(queries[start : start + self.block_rows], n_neighbors=k,
                                                     return_distance=True)
            scores.append(1.0 - np.asarray(_to_numpy(distances), dtype=np.float32))
            indices.append(np.asarray(_to_numpy(idx), dtype=np.int64))
        return np.concatenate(scores), np.concatenate(indices)


@dataclass(frozen=True)
class FittedNeighbours:
    """A fitted cuML NearestNeighbors and the number of rows it holds (:meth:`CumlBackend.prepare`)."""

    model: object
    n_rows: int

    def __len__(self) -> int:
        return self.n_rows


def _to_numpy(array):
    return array.get() if hasattr(array, "get") else array


def create_backend(name: str = "auto", block_rows: int | None = None):
    """Factory: a backend by name, or the best usable one for ``auto``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown dense search backend {name!r}; choose from {BACKENDS}")
    extra = {} if block_rows is None else {"block_rows": block_rows}
    if name == "auto":
        if cuml_works():
            return CumlBackend(**extra)
        if cuda_usable():
            return TorchBackend(device="cuda", **extra)
        return cpu_backend(**extra)
    if name == "cuml":
        if not cuml_works():
            raise RuntimeError("backend 'cuml' needs a working cuML and a usable NVIDIA GPU; use 'auto' to fall back")
        return CumlBackend(**extra)
    if name == "torch":
        return TorchBackend(device="cuda" if cuda_usable() else "cpu", **extra)
    if name == "faiss":
        return FaissBackend(**extra)
    return NumpyBackend(**extra)


def cpu_backend(**extra):
    """faiss when installed, else torch on the CPU, else numpy."""
    if importlib.util.find_spec("faiss") is not None:
        return FaissBackend(**extra)
    if importlib.util.find_spec("torch") is not None:
        return TorchBackend(device="cpu", **extra)
    return NumpyBackend(**extra)


def runs_on_gpu(backend) -> bool:
    return isinstance(backend, CumlBackend) or str(getattr(backend, "device", "cpu")).startswith("cuda")


def fallbacks_for(backend) -> list:
    """What to try when a GPU backend fails mid-search: the torch GPU backend after cuML, then the CPU."""
    chain = [TorchBackend(device="cuda")] if isinstance(backend, CumlBackend) and cuda_usable() else []
    return [*chain, cpu_backend()]


def search_with_fallback(backend, queries: np.ndarray, index: np.ndarray, k: int):
    """``backend.search``; a failing GPU backend hands over to :func:`fallbacks_for` (a broken GPU stack must
    not kill an offline kernel), a failing CPU backend raises."""
    try:
        return backend.search(queries, index, k)
    except Exception as exc:  # noqa: BLE001
        if not runs_on_gpu(backend):
            raise
        failure = exc
    for fallback in fallbacks_for(backend):
        warn_once(f"dense search backend {backend.name} failed ({failure!r}); falling back to "
                  f"{fallback.name} on {getattr(fallback, 'device', 'cpu')}")
        try:
            return fallback.search(queries, index, k)
        except Exception as exc:  # noqa: BLE001
            if not runs_on_gpu(fallback):
                raise
            backend, failure = fallback, exc
    raise RuntimeError("no dense search backend left")  # pragma: no cover - the CPU backend raises first


def dense_neighbours(
    queries: np.ndarray,
    index: np.ndarray | None = None,
    k: int = 50,
    backend: str | object = "auto",
    min_score: float | None = None,
) -> Neighbours:
    """Top-k cosine neighbours of ``queries`` in ``index`` (``queries`` itself when None)."""
    queries = check_embeddings(queries, "queries")
    index = queries if index is None else check_embeddings(index, "index")
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"dimension mismatch: queries {queries.shape[1]} vs index {index.shape[1]}")
    impl = create_backend(backend) if isinstance(backend, str) else backend
    if len(index) == 0 or len(queries) == 0:
        return Neighbours.empty(len(queries), len(index))
    scores, indices = search_with_fallback(impl, queries, index, k)
    if scores.dtype != np.float32:
        raise TypeError(f"backend {impl.name} returned {scores.dtype} scores; float32 expected")
    neighbours = Neighbours.from_knn(indices, scores, len(index))
    if min_score is not None:
        neighbours = neighbours.select(neighbours.scores >= min_score)
    return neighbours
