"""The exact index on a device backend, checked in one call (bench/gpu_check.py runs it on a lent GPU).

:func:`exact_index_gpu_check` builds an exact index of random unit vectors with a device backend, searches it
several times and reports what issue 20 item 8 asks: the vectors uploaded once for every search (``uploads``),
query blocks sized from the free memory (``block_rows``, and the scores' bytes per block beside the free memory),
the peak memory the searches took, the seconds of each search, and that the neighbours are faiss's. On a machine
without a usable GPU the same runs on the CPU (torch), small, so the check itself stays tested.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from prodmatch.search import dense
from prodmatch.search.dense import l2_normalize
from prodmatch.visual.exact import SCORE_BYTES, SCORE_COPIES, ExactIndex, exact_neighbours, free_device_bytes
from prodmatch.visual.metrics import neighbour_recall


@contextlib.contextmanager
def counting_preparations():
    """Counts the backends' ``prepare`` calls (index uploads to a device, cuML fits) while inside."""
    counts = {"uploads": 0}
    originals = {cls: cls.prepare for cls in (dense.TorchBackend, dense.CumlBackend)}

    def counted(original):
        def prepare(self, index):
            counts["uploads"] += 1
            return original(self, index)
        return prepare

    for cls, original in originals.items():
        cls.prepare = counted(original)
    try:
        yield counts
    finally:
        for cls, original in originals.items():
            cls.prepare = original


def _peak_bytes(device: str):
    """(reset, read) of torch's peak allocated memory on a CUDA device; (None, None) elsewhere."""
    if not device.startswith("cuda"):
        return (lambda: None), (lambda: None)
    import torch

    def reset():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.max_memory_allocated()

    def read():
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()

    return reset, read


def exact_index_gpu_check(n: int = 1_100_000, d: int = 512, n_queries: int = 10_000, k: int = 10,
                          searches: int = 3, backend: str = "torch", reference_queries: int = 500,
                          seed: int = 0) -> dict:
    """Build an exact index of ``n`` x ``d`` random unit vectors scanned by ``backend`` (torch or cuml; torch on
    the CPU without a usable GPU), search ``n_queries`` queries ``searches`` times, and report (one dict):

    ``device``, ``uploads`` (1 when the index stays on the device), ``block_rows`` and ``block_score_bytes`` (one
    block's scores and top-k copy) beside ``free_bytes_before``, ``seconds`` per search (the first includes the
    upload), ``peak_bytes`` (torch's peak allocation during the searches above what was allocated before; None on
    the CPU, and cuML allocates outside torch), ``index_bytes``, and ``neighbour_recall`` of the first
    ``reference_queries`` against faiss's exact search (1.0 up to ties).
    """
    if searches < 1:
        raise ValueError(f"searches must be >= 1, got {searches}")
    rng = np.random.default_rng(seed)
    vectors = l2_normalize(rng.standard_normal((n, d), dtype=np.float32))
    queries = l2_normalize(vectors[rng.choice(n, n_queries)] + 0.1 * rng.standard_normal((n_queries, d),
                                                                                         dtype=np.float32))
    index = ExactIndex(backend=backend, progress=False).build(vectors)
    seconds = []
    with counting_preparations() as counts:
        for call in range(searches):
            started = time.perf_counter()
            _, positions = index.search(queries, k)
            seconds.append(time.perf_counter() - started)
            if call == 0:  # the upload is done: measure the searches after it
                scan = index.device_scan
                device = scan.device if scan is not None else "cpu (faiss)"
                reset_peak, read_peak = _peak_bytes(device)
                base = reset_peak()
                free_before = free_device_bytes(device) if scan is not None else None
    peak = read_peak()
    block_rows = scan.block_rows() if scan is not None else None
    reference = exact_neighbours(queries[:reference_queries], vectors, k)
    return {
        "backend": backend, "device": device, "n": n, "dim": d, "n_queries": n_queries, "k": k,
        "searches": searches, "uploads": counts["uploads"], "block_rows": block_rows,
        "block_score_bytes": None if block_rows is None else block_rows * n * SCORE_BYTES * SCORE_COPIES,
        "free_bytes_before": free_before, "index_bytes": index.memory_bytes,
        "peak_bytes": None if peak is None else int(peak - base), "seconds": [round(s, 4) for s in seconds],
        "neighbour_recall": neighbour_recall(positions[:reference_queries], reference, k),
    }
