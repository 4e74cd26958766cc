"""k-nearest-neighbour search over L2-normalised dense embeddings (inner product = cosine).

Backends, chosen by :func:`create_backend`:

- ``cuml``  RAPIDS cuML brute-force kNN, in query chunks (needs a usable NVIDIA GPU + cuml);
- ``torch`` blockwise matrix product + top-k on a torch device (``cuda`` when usable, else ``cpu``);
- ``faiss`` faiss IndexFlatIP on CPU, in query chunks;
- ``numpy`` plain blockwise numpy, the fallback that needs nothing.

``auto`` picks cuml, then torch on GPU, then faiss, then torch on CPU, then numpy. Every backend returns
the same neighbours up to ties. Queries are processed in blocks so the full n x n similarity matrix
(19.6 GB at 70k x 70k float32) is never materialised.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

import numpy as np

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


def gpu_available() -> bool:
    """A CUDA device that torch can actually use (import alone is not enough)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        torch.zeros(1, device="cuda")
        return True
    except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
        return False


def cuml_available() -> bool:
    """cuML importable *and* a device it can run on (RAPIDS imports fine without a GPU, then fails at use)."""
    if importlib.util.find_spec("cuml") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001
        return False


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

    def search(self, queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        k = min(k, len(index))
        use_half = self.device.startswith("cuda")
        index_t = torch.from_numpy(index).to(self.device)
        if use_half:
            index_t = index_t.half()
        scores, indices = [], []
        with torch.inference_mode():
            for start in range(0, len(queries), self.block_rows):
                q = torch.from_numpy(queries[start : start + self.block_rows]).to(self.device)
                sims = (q.half() if use_half else q) @ index_t.T
                s, i = torch.topk(sims.float(), k, dim=1)
                scores.append(s.cpu().numpy())
                indices.append(i.cpu().numpy())
        return np.concatenate(scores).astype(np.float32), np.concatenate(indices).astype(np.int64)


@dataclass
class CumlBackend:
    block_rows: int = 8192
    name: str = "cuml"

    def search(self, queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        from cuml.neighbors import NearestNeighbors

        k = min(k, len(index))
        model = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute")
        model.fit(index)
        scores, indices = [], []
        for start in range(0, len(queries), self.block_rows):
            distances, idx = model.kneighbors(queries[start : start + self.block_rows], return_distance=True)
            scores.append(1.0 - np.asarray(_to_numpy(distances), dtype=np.float32))
            indices.append(np.asarray(_to_numpy(idx), dtype=np.int64))
        return np.concatenate(scores), np.concatenate(indices)


def _to_numpy(array):
    return array.get() if hasattr(array, "get") else array


def create_backend(name: str = "auto", block_rows: int | None = None):
    """Factory: a backend by name, or the best usable one for ``auto``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown dense search backend {name!r}; choose from {BACKENDS}")
    extra = {} if block_rows is None else {"block_rows": block_rows}
    if name == "auto":
        if cuml_available():
            return CumlBackend(**extra)
        if gpu_available():
            return TorchBackend(device="cuda", **extra)
        if importlib.util.find_spec("faiss") is not None:
            return FaissBackend(**extra)
        if importlib.util.find_spec("torch") is not None:
            return TorchBackend(device="cpu", **extra)
        return NumpyBackend(**extra)
    if name == "cuml":
        if not cuml_available():
            raise RuntimeError("backend 'cuml' needs cuML and a usable NVIDIA GPU; use 'auto' to fall back")
        return CumlBackend(**extra)
    if name == "torch":
        device = "cuda" if gpu_available() else "cpu"
        return TorchBackend(device=device, **extra)
    if name == "faiss":
        return FaissBackend(**extra)
    return NumpyBackend(**extra)


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
    try:
        scores, indices = impl.search(queries, index, k)
    except Exception as exc:  # noqa: BLE001 - a broken GPU stack must not kill an offline kernel
        if getattr(impl, "name", "") in ("cuml",) or getattr(impl, "device", "cpu") != "cpu":
            warnings.warn(f"dense search backend {impl.name} failed ({exc!r}); falling back to CPU", RuntimeWarning)
            fallback = FaissBackend() if importlib.util.find_spec("faiss") else NumpyBackend()
            scores, indices = fallback.search(queries, index, k)
        else:
            raise
    neighbours = Neighbours.from_knn(indices, scores, len(index))
    if min_score is not None:
        neighbours = neighbours.select(neighbours.scores >= min_score)
    return neighbours
