import numpy as np
import pytest
import scipy.sparse as sp

from prodmatch.search.blending import BlendConfig, blend_vectors, blend_weights, strongest_neighbours
from prodmatch.search.dense import dense_neighbours, l2_normalize
from prodmatch.search.neighbours import Neighbours


def test_weights_mix_self_and_top_neighbours():
    x = l2_normalize(np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32))
    nb = dense_neighbours(x, k=3)
    weights = blend_weights(nb, BlendConfig(top_m=2, min_score=0.5)).toarray()
    assert weights[0, 0] == pytest.approx(1.0) and weights[0, 1] > 0.9 and weights[0, 2] == 0
    assert weights[2].tolist() == [0, 0, 1]  # nothing above 0.5 but itself


def test_blending_pulls_paraphrases_together_dense_and_sparse():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 16))
    # a and b are close, b and c are close, a and c less so: blending brings a and c closer
    x = l2_normalize(np.stack([base[0], base[0] + 0.6 * base[1], base[0] + 1.2 * base[1]]).astype(np.float32))
    config = BlendConfig(top_m=3, min_score=0.3)
    blended = blend_vectors(x, dense_neighbours(x, k=3), config)
    assert blended[0] @ blended[2] > x[0] @ x[2]
    assert np.allclose(np.linalg.norm(blended, axis=1), 1, atol=1e-5)
    sparse = blend_vectors(sp.csr_matrix(x), dense_neighbours(x, k=3), config)
    assert sp.issparse(sparse) and np.allclose(sparse.toarray(), blended, atol=1e-5)


def test_strongest_neighbours_in_blocks_of_whole_queries_equal_the_whole_cut():
    rng = np.random.default_rng(0)
    rows = np.sort(rng.integers(0, 300, 5000)).astype(np.int64)
    cols = rng.integers(0, 300, 5000).astype(np.int64)
    scores = np.round(rng.random(5000), 2).astype(np.float32)  # rounded: many ties, broken by column
    grouped = Neighbours(rows, cols, scores, 300, 300)
    config = BlendConfig(top_m=2, min_score=0.3)
    whole = grouped.select(grouped.scores >= 0.3).top_k(2)
    for block_pairs in (1, 7, 64, 10**6):
        got = strongest_neighbours(grouped, config, block_pairs=block_pairs)
        assert list(zip(got.rows, got.cols, got.scores)) == list(zip(whole.rows, whole.cols, whole.scores))
    shuffled = grouped.select(rng.permutation(5000))  # not grouped by query: cut whole
    got = strongest_neighbours(shuffled, config, block_pairs=7)
    assert sorted(zip(got.rows, got.cols)) == sorted(zip(whole.rows, whole.cols))
