"""The exact index: exact top-k on every backend; a device backend keeps the index on its device across
searches and sizes its query blocks from the free memory (issue 20 item 8)."""

import sys

import numpy as np
import pytest

from prodmatch.search import dense
from prodmatch.search.dense import NumpyBackend, l2_normalize
from prodmatch.visual import exact
from prodmatch.visual.exact import HOST_SCORE_BYTES, ExactIndex, free_device_bytes, query_block_rows
from prodmatch.visual.indexes import create_index, load_index
from tests.search.test_dense import fake_cuml


def test_exact_matches_brute_force(data):
    index = create_index("exact", block_rows=64, progress=False).build(data["vectors"])
    scores, positions = index.search(data["queries"], 10)
    ref_scores, ref_positions = NumpyBackend().search(data["queries"], data["vectors"], 10)
    assert np.allclose(scores, ref_scores, atol=1e-5)
    assert (positions == ref_positions).mean() > 0.999  # ties aside
    assert scores.dtype == np.float32 and positions.dtype == np.int64
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_exact_backends_agree(data, tmp_path):
    faiss_index = create_index("exact", progress=False).build(data["vectors"])
    _, expected = faiss_index.search(data["queries"], 10)
    for backend in ("torch", "auto"):  # auto on this CPU-only machine: faiss's own index
        scores, found = create_index("exact", backend=backend, progress=False).build(data["vectors"]).search(
            data["queries"], 10)
        assert (found == expected).mean() > 0.999 and scores.dtype == np.float32  # ties aside
    torch_index = create_index("exact", backend="torch", progress=False).build(data["vectors"])
    torch_index.save(tmp_path / "torch.npz")
    assert load_index(tmp_path / "torch.npz", progress=False).params["backend"] == "torch"
    with pytest.raises(ValueError, match="backend"):
        create_index("exact", backend="gpu")


@pytest.fixture
def uploads(monkeypatch):
    """Rows of every array the dense backends move to a torch device."""
    moved = []
    to_device = dense.to_device

    def counting(array, device):
        moved.append(len(array))
        return to_device(array, device)

    monkeypatch.setattr(dense, "to_device", counting)
    return moved


def test_the_index_is_uploaded_once_for_many_searches(data, uploads):
    index = ExactIndex(backend="torch", progress=False).build(data["vectors"])
    results = [index.search(data["queries"][:50], 10) for _ in range(3)]
    assert uploads.count(len(data["vectors"])) == 1  # the index; the rest are the query blocks
    assert all(np.array_equal(r[1], results[0][1]) for r in results)
    new = data["vectors"][::-1].copy()
    index.build(new)  # other vectors: prepared again, and searched
    _, positions = index.search(data["queries"][:50], 10)
    assert uploads.count(len(data["vectors"])) == 2
    assert (positions == len(new) - 1 - results[0][1]).mean() > 0.999


def test_query_block_rows_by_hand():
    t4_free = 12 << 30  # a 16 GB T4 with the model and the index on it
    rows = query_block_rows(1_100_000, t4_free, ceiling=4096)
    assert rows == (t4_free // 2) // (1_100_000 * 4 * 2) == 732  # half the free memory: scores + top-k's copy
    assert rows * 1_100_000 * 4 * 2 <= t4_free // 2  # 6.4 GB, not the 18 GB of 4,096 rows
    assert query_block_rows(1_100_000, 0, ceiling=4096) == 32  # the floor
    assert query_block_rows(906, 80 << 30, ceiling=4096) == 4096  # the ceiling: the backend's own block size
    assert query_block_rows(1_100_000, HOST_SCORE_BYTES, ceiling=4096) == (1 << 30) // 8_800_000 == 122
    with pytest.raises(ValueError):
        query_block_rows(0, t4_free, ceiling=4096)


def test_search_blocks_follow_the_free_memory(data, uploads, monkeypatch):
    n = len(data["vectors"])
    monkeypatch.setattr(exact, "free_device_bytes", lambda device: 50 * n * 4 * 2 * 2)  # 50 rows fit
    index = ExactIndex(backend="torch", progress=False).build(data["vectors"])
    scores, positions = index.search(data["queries"], 10)
    assert uploads == [n] + [50] * 6  # 300 queries in 6 blocks of 50
    ref_scores, ref_positions = NumpyBackend().search(data["queries"], data["vectors"], 10)
    assert (positions == ref_positions).mean() > 0.999 and np.allclose(scores, ref_scores, atol=1e-5)


def test_free_device_bytes_counts_torch_cache_as_free(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 << 30, 16 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 5 << 30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 4 << 30)
    assert free_device_bytes("cuda:0") == 4 << 30  # 3 GiB free + 1 GiB cached by torch but unused
    assert free_device_bytes("cpu") == HOST_SCORE_BYTES


def test_cuml_fits_the_index_once_for_many_searches(data, monkeypatch):
    fake_cuml(monkeypatch, broken=False)
    model = sys.modules["cuml.neighbors"].NearestNeighbors
    fits = []
    fit = model.fit
    monkeypatch.setattr(model, "fit", lambda self, index: fits.append(len(index)) or fit(self, index))
    monkeypatch.setattr(dense, "cuml_works", lambda: True)
    monkeypatch.setattr(exact, "free_device_bytes", lambda device: 16 << 30)
    index = ExactIndex(backend="cuml", progress=False).build(data["vectors"])
    for k in (10, 40, 10):  # plain, then the category search's overfetch
        scores, positions = index.search(data["queries"], k)
        ref_scores, ref_positions = NumpyBackend().search(data["queries"], data["vectors"], k)
        assert (positions == ref_positions).mean() > 0.999 and np.allclose(scores, ref_scores, atol=1e-5)
    assert fits == [len(data["vectors"])]
    assert index.device_scan.device == "cuda"


def test_gpu_check_runs_small_on_the_cpu():
    from prodmatch.visual.gpu_check import exact_index_gpu_check

    report = exact_index_gpu_check(n=3000, d=16, n_queries=200, searches=3, reference_queries=100)
    assert report["uploads"] == 1 and report["device"] == "cpu" and len(report["seconds"]) == 3
    assert report["neighbour_recall"] > 0.999 and report["block_rows"] == 4096 and report["peak_bytes"] is None
    assert report["index_bytes"] == 3000 * 16 * 4


def test_queries_are_checked(data):
    index = ExactIndex(backend="torch", progress=False).build(data["vectors"])
    with pytest.raises(ValueError, match="16-d"):
        index.search(l2_normalize(np.ones((2, 16))), 3)
    with pytest.raises(TypeError, match="float32"):
        index.search(data["queries"].astype(np.float64), 3)
