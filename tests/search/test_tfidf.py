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


def triples(nb):
    return sorted(zip(nb.rows.tolist(), nb.cols.tolist(), nb.scores.tolist()))


def test_sparse_dot_topn_breaks_ties_by_index_and_keeps_the_min_score_boundary():
    pytest.importorskip("sparse_dot_topn")
    import scipy.sparse as sp

    # index rows: 8 identical unit vectors (all tie at 1.0), one at exactly 0.5, one a float32 step below 0.5
    below = float(np.nextafter(np.float32(0.5), np.float32(0)))
    dense = np.array([[1, 0]] * 8 + [[0.5, 0.75], [below, 0.8], [0, 1]], dtype=np.float32)
    index = sp.csr_matrix(dense)
    queries = sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32))
    for k in (1, 3, 8, 9, 20):
        fast = sparse_topk(queries, index, k=k, min_score=0.5, method="sparse_dot_topn")
        slow = sparse_topk(queries, index, k=k, min_score=0.5, method="scipy")
        assert triples(fast) == triples(slow), k
    top3 = sparse_topk(queries, index, k=3, min_score=0.5, method="sparse_dot_topn")
    assert [c for r, c, _ in triples(top3) if r == 0] == [0, 1, 2]  # the tie at 1.0 goes to the lowest indices
    top9 = sparse_topk(queries, index, k=20, min_score=0.5, method="sparse_dot_topn")
    assert (0, 8, 0.5) in triples(top9) and not any(c == 9 for r, c, _ in triples(top9) if r == 0)


@pytest.mark.parametrize("k,min_score", [(1, 0.0), (3, 0.1), (5, 0.3), (50, 0.2)])
def test_sparse_dot_topn_returns_the_scipy_pairs(k, min_score):
    pytest.importorskip("sparse_dot_topn")
    rng = np.random.default_rng(k)
    words = ["aqua", "botol", "600ml", "sepatu", "putih", "kabel", "usb", "type", "c", "1m", "hitam", "murah"]
    titles = [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(300)]
    titles += titles[:40] + [""]  # exact duplicates tie at every k
    matrix = tfidf_matrix(titles, [TfidfConfig()])
    fast = sparse_topk(matrix, matrix, k=k, min_score=min_score, method="sparse_dot_topn")
    slow = sparse_topk(matrix, matrix, k=k, min_score=min_score, method="scipy", block_rows=17)
    assert triples(fast) == triples(slow)
    assert (np.diff(fast.rows) >= 0).all() and fast.scores.dtype == np.float32


def test_sparse_dot_topn_last_row_tied_at_the_kth_with_fewer_than_2k_pairs():
    # a tied row near the end with fewer than 2k pairs was read past the end of the product (IndexError)
    pytest.importorskip("sparse_dot_topn")
    import scipy.sparse as sp

    index = sp.csr_matrix(np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32))
    queries = sp.csr_matrix(np.array([[0, 1], [1, 0]], dtype=np.float32))  # last query: three pairs tied
    fast = sparse_topk(queries, index, k=2, min_score=0.5, method="sparse_dot_topn")
    slow = sparse_topk(queries, index, k=2, min_score=0.5, method="scipy")
    assert triples(fast) == triples(slow) == [(0, 3, 1.0), (1, 0, 1.0), (1, 1, 1.0)]
