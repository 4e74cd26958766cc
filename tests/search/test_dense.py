import numpy as np
import pytest

from prodmatch.search.dense import (
    FaissBackend,
    NumpyBackend,
    TorchBackend,
    check_embeddings,
    create_backend,
    dense_neighbours,
    l2_normalize,
)


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 24))
    return l2_normalize(np.repeat(centres, 4, axis=0) + 0.1 * rng.normal(size=(120, 24)))


@pytest.mark.parametrize("backend", [NumpyBackend(block_rows=7), FaissBackend(block_rows=13), TorchBackend(block_rows=11)])
def test_backends_agree(vectors, backend):
    reference = dense_neighbours(vectors, k=6, backend=NumpyBackend(block_rows=1000))
    got = dense_neighbours(vectors, k=6, backend=backend)
    assert (got.rows == reference.rows).all() and (got.cols == reference.cols).all()
    assert np.allclose(got.scores, reference.scores, atol=1e-5)


def test_queries_against_another_index(vectors):
    got = dense_neighbours(vectors[:10], vectors[10:], k=3, min_score=0.5)
    assert got.n_query == 10 and got.n_index == 110 and (got.scores >= 0.5).all()


def test_auto_picks_a_usable_backend_without_gpu():
    assert create_backend("auto").name in ("faiss", "torch", "numpy")
    with pytest.raises(RuntimeError, match="usable NVIDIA GPU"):
        create_backend("cuml")
    with pytest.raises(ValueError, match="unknown"):
        create_backend("annoy")


def test_dtype_and_norm_checks_fail_loudly(vectors):
    with pytest.raises(TypeError, match="float32"):
        check_embeddings(vectors.astype(np.float64))
    with pytest.raises(ValueError, match="L2-normalised"):
        check_embeddings(vectors * 2)
    bad = vectors.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        check_embeddings(bad)
    with pytest.raises(ValueError, match="2-D"):
        check_embeddings(vectors[0])


import importlib.machinery
import sys
import types

from prodmatch.search import dense


@pytest.fixture
def pretend_gpu(monkeypatch):
    """A usable "cuda" device that is really the CPU: every GPU code path runs, tensors stay on the CPU."""
    import torch

    devices = []

    def to_device(array, device):
        devices.append(str(device))
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    monkeypatch.setattr(dense, "cuda_usable", lambda index=0: True)
    monkeypatch.setattr(dense, "to_device", to_device)
    dense.cuml_works.cache_clear()
    yield devices
    dense.cuml_works.cache_clear()


def fake_cuml(monkeypatch, broken: bool):
    """A stand-in RAPIDS cuML: brute-force cosine kNN in numpy, or one whose every call fails like a GPU
    without kernels."""
    class NearestNeighbors:
        def __init__(self, n_neighbors, metric, algorithm):
            self.k = n_neighbors

        def fit(self, index):
            if broken:
                raise RuntimeError("cudaErrorNoKernelImageForDevice")
            self.index = index
            return self

        def kneighbors(self, queries, n_neighbors=None, return_distance=True):  # cuML's signature
            sims = queries @ self.index.T
            order = np.argsort(-sims, axis=1, kind="stable")[:, : n_neighbors or self.k]
            return 1.0 - np.take_along_axis(sims, order, axis=1), order

    cuml = types.ModuleType("cuml")
    cuml.__spec__ = importlib.machinery.ModuleSpec("cuml", None)
    neighbors = types.ModuleType("cuml.neighbors")
    neighbors.NearestNeighbors = NearestNeighbors
    cuml.neighbors = neighbors
    monkeypatch.setitem(sys.modules, "cuml", cuml)
    monkeypatch.setitem(sys.modules, "cuml.neighbors", neighbors)


def test_a_working_cuml_is_chosen(vectors, pretend_gpu, monkeypatch):
    fake_cuml(monkeypatch, broken=False)
    backend = create_backend("auto")
    assert backend.name == "cuml"
    reference = dense_neighbours(vectors, k=6, backend=NumpyBackend())
    got = dense_neighbours(vectors, k=6, backend=backend)
    assert (got.cols == reference.cols).all() and np.allclose(got.scores, reference.scores, atol=1e-6)


def test_a_failing_cuml_falls_back_to_the_torch_gpu_backend_not_the_cpu(vectors, pretend_gpu, monkeypatch):
    fake_cuml(monkeypatch, broken=True)
    with pytest.warns(RuntimeWarning, match="test kNN failed"):
        backend = create_backend("auto")
    assert backend.name == "torch" and backend.device == "cuda"
    with pytest.raises(RuntimeError, match="working cuML"):
        create_backend("cuml")


def test_cuml_failing_mid_search_hands_over_to_the_torch_gpu_backend(vectors, pretend_gpu, monkeypatch):
    fake_cuml(monkeypatch, broken=True)
    with pytest.warns(RuntimeWarning, match="falling back to torch on cuda"):
        got = dense_neighbours(vectors, k=6, backend=dense.CumlBackend())
    reference = dense_neighbours(vectors, k=6, backend=NumpyBackend())
    assert (got.cols == reference.cols).all() and "cuda" in pretend_gpu


def test_gpu_scores_are_float32_not_half(pretend_gpu):
    # pairs whose cosines differ in the 4th decimal: float16 products (3 significant digits) would merge them
    rng = np.random.default_rng(1)
    vectors = l2_normalize(rng.normal(size=(64, 256)).astype(np.float32) + 3.0)
    scores, indices = TorchBackend(device="cuda").search(vectors, vectors, 10)
    assert scores.dtype == np.float32 and "cuda" in pretend_gpu
    exact = np.take_along_axis(vectors.astype(np.float64) @ vectors.astype(np.float64).T, indices, axis=1)
    assert np.abs(scores - exact).max() < 1e-5
