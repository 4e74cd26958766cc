"""The exact index: brute-force inner product, the reference every other kind is measured against.

Its vectors live in a faiss IndexFlatIP (what is saved). ``backend`` picks who scans them: ``faiss`` (that
index itself), or ``torch`` / ``cuml`` / ``auto`` (:func:`prodmatch.search.dense.create_backend`: cuML or torch
on a usable GPU, else faiss). Same neighbours up to ties.

A device backend is made once, at the first search, with the vectors uploaded once (:class:`DeviceScan`), and
kept for every later search: an index of 1.1M x 512 is 2.3 GB to move per call otherwise. Queries are scanned
in blocks sized from the device's free memory (:func:`query_block_rows`), so a block's scores
(``rows x n`` float32: 18 GB for 4,096 queries against 1.1M rows) fit beside the index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from prodmatch.search.dense import FaissBackend, NumpyBackend, check_embeddings, create_backend
from prodmatch.visual.registry import DEFAULT_EXACT_BACKEND, EXACT_BACKENDS
from prodmatch.visual.vector_index import VectorIndex, import_faiss

SCORE_BYTES = 4  # float32 scores
SCORE_COPIES = 2  # a block's scores and top-k's working copy of them
FREE_MEMORY_SHARE = 0.5  # of the device's free memory, for one block's scores: the rest for everything else
MIN_BLOCK_ROWS = 32
HOST_SCORE_BYTES = 2 << 30  # on the CPU (no free-memory figure to ask for): 2 GiB for one block's scores


def query_block_rows(n_index: int, free_bytes: int, ceiling: int, floor: int = MIN_BLOCK_ROWS,
                     share: float = FREE_MEMORY_SHARE) -> int:
    """Queries per block so that a block's scores against ``n_index`` rows (and top-k's copy) take at most
    ``share`` of ``free_bytes``; never fewer than ``floor`` nor more than ``ceiling``."""
    if n_index < 1 or free_bytes < 0 or not 1 <= floor <= ceiling or not 0 < share <= 1:
        raise ValueError(f"need n_index >= 1, free_bytes >= 0, 1 <= floor <= ceiling, 0 < share <= 1; got "
                         f"{n_index}, {free_bytes}, {floor}, {ceiling}, {share}")
    fitting = int(free_bytes * share) // (n_index * SCORE_BYTES * SCORE_COPIES)
    return int(min(ceiling, max(floor, fitting)))


def free_device_bytes(device: str) -> int:
    """Bytes a new allocation can take on ``device``: the driver's free memory plus what torch's caching
    allocator holds unused (the last block's scores, reused by the next); :data:`HOST_SCORE_BYTES` on the CPU."""
    if not str(device).startswith("cuda"):
        return HOST_SCORE_BYTES
    import torch

    device = torch.device(device)
    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


@dataclass
class DeviceScan:
    """A dense backend with the index's vectors made ready on its device once (uploaded, or fitted by cuML)."""

    backend: object  # prodmatch.search.dense.TorchBackend or CumlBackend
    prepared: object  # what backend.prepare made of the vectors
    n_rows: int

    @classmethod
    def of(cls, backend, vectors: np.ndarray) -> DeviceScan:
        return cls(backend, backend.prepare(vectors), len(vectors))

    @property
    def device(self) -> str:
        return str(getattr(self.backend, "device", "cuda"))  # cuML runs on the GPU

    def block_rows(self) -> int:
        """Queries per block now: from the free memory, at most the backend's own block size."""
        return query_block_rows(self.n_rows, free_device_bytes(self.device), ceiling=self.backend.block_rows)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return replace(self.backend, block_rows=self.block_rows()).search(queries, self.prepared, k)


class ExactIndex(VectorIndex):
    """Brute-force inner product: exact top-k, cost linear in the index size (see the module docstring)."""

    kind = "exact"

    def __init__(self, backend: str = DEFAULT_EXACT_BACKEND, **kwargs):
        if backend not in EXACT_BACKENDS:
            raise ValueError(f"unknown exact backend {backend!r}; choose from {EXACT_BACKENDS}")
        super().__init__(**kwargs)
        self.params.update(backend=backend)
        self._scan: DeviceScan | None = None  # made at the first search by a device backend, then kept
        self._faiss_scans = False  # the backend chosen for "auto" on a CPU-only machine is faiss: the index itself

    def _make(self, vectors):
        return import_faiss().IndexFlatIP(vectors.shape[1])

    def _after_build(self, vectors: np.ndarray) -> None:
        self._scan, self._faiss_scans = None, False  # new vectors: the next search prepares them

    def _restore(self, faiss_index) -> None:
        super()._restore(faiss_index)
        self._scan, self._faiss_scans = None, False

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.params["backend"] == "faiss" or self._faiss_scans:
            return super().search(queries, k)
        index = self._require_built()
        queries = check_embeddings(queries, "queries")
        if queries.shape[1] != index.d or k < 1:
            raise ValueError(f"need k >= 1 and {index.d}-d queries, got k={k}, {queries.shape[1]}-d")
        if self._scan is None:
            backend = create_backend(self.params["backend"])
            if isinstance(backend, (FaissBackend, NumpyBackend)):  # a CPU scan: faiss's own index is one
                self._faiss_scans = True
                return super().search(queries, k)
            self._scan = DeviceScan.of(backend, index.reconstruct_n(0, index.ntotal))
        return self._scan.search(queries, int(k))

    @property
    def device_scan(self) -> DeviceScan | None:
        """The device backend with the vectors on it (None before the first search, or when faiss scans)."""
        return self._scan

    @property
    def memory_bytes(self) -> int:
        return self.ntotal * self.dim * 4


def exact_neighbours(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k positions of ``queries`` among ``vectors`` (inner product), int64."""
    faiss = import_faiss()
    _, positions = faiss.knn(queries, vectors, min(k, len(vectors)), faiss.METRIC_INNER_PRODUCT)
    return positions.astype(np.int64)
