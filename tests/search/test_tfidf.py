import numpy as np
import pytest

from prodmatch.search.tfidf import TfidfConfig, sparse_topk, tfidf_matrix, tfidf_neighbours

TITLES = ["aqua 600ml botol", "aqua botol 600ml", "aqua 1500ml botol", "sepatu sneakers putih",
          "sneakers putih sepatu wanita", "kabel usb type c", "kabel type c usb 1m", ""]


def brute_force(matrix, k, min_score):
    dense = (matrix @ matrix.T).toarray()
    out = set()
    for i, row in enumerate(dense):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        out |= {(i, j) for j in order[:k] if row[j] >= min_score}
    return out


@pytest.mark.parametrize("block_rows", [1, 3, 100])
def test_blockwise_topk_equals_brute_force(block_rows):
    matrix = tfidf_matrix(TITLES, [TfidfConfig(), TfidfConfig(analyzer="char_wb", ngram_range=(2, 3))])
    got = sparse_topk(matrix, matrix, k=3, min_score=0.1, block_rows=block_rows)
    assert set(zip(got.rows.tolist(), got.cols.tolist())) == brute_force(matrix, 3, 0.1)
    assert got.scores.dtype == np.float32 and (np.diff(got.rows) >= 0).all()


def test_word_order_does_not_matter_but_size_does():
    nb = tfidf_neighbours(TITLES, k=10, min_score=0.0)
    score = {(r, c): s for r, c, s in zip(nb.rows, nb.cols, nb.scores)}
    assert score[(0, 1)] == pytest.approx(1.0, abs=1e-5)
    assert score[(0, 2)] < 0.9
    assert (7, 7) not in score  # an empty title matches nothing, not even by a zero score


def test_rows_are_unit_norm_and_dtype_checked():
    matrix = tfidf_matrix(TITLES[:-1], [TfidfConfig()])
    assert np.allclose(np.sqrt(matrix.multiply(matrix).sum(axis=1)), 1.0, atol=1e-5)
    with pytest.raises(TypeError, match="float32"):
        sparse_topk(matrix.astype(np.float64), matrix, k=2)


def test_all_empty_titles_do_not_crash():
    nb = tfidf_neighbours(["", " ", ""], k=5)
    assert len(nb) == 0 and nb.n_query == 3
