import numpy as np
import pytest

from prodmatch.search.dense import (
    FaissBackend, NumpyBackend, TorchBackend, check_embeddings, create_backend, dense_neighbours, l2_normalize,
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
