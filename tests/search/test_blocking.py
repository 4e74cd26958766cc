import numpy as np
import pytest
import scipy.sparse as sp

from prodmatch.errors import ArgumentError
from prodmatch.search.blocking import BlockingConfig, BlockingIndex, capped_lists, check_matrix, document_frequency, pair_keys


def csr(dense):
    return sp.csr_matrix(np.asarray(dense, dtype=np.float32))


def test_capped_lists_keep_each_columns_largest_entries_ties_to_the_lower_row():
    dense = np.array([[0.2, 0.9, 0.0],
                      [0.5, 0.9, 0.0],
                      [0.5, 0.1, 0.3],
                      [0.1, 0.9, 0.0]], dtype=np.float32)
    capped = capped_lists(csr(dense), cap=2).toarray()
    expected = np.zeros_like(dense)
    for col in range(dense.shape[1]):  # by hand: sort by (-value, row), keep the first two stored entries
        stored = [row for row in range(4) if dense[row, col] != 0]
        for row in sorted(stored, key=lambda r: (-dense[r, col], r))[:2]:
            expected[row, col] = dense[row, col]
    np.testing.assert_array_equal(capped, expected)
    assert capped[3, 1] == 0 and capped[0, 1] == capped[1, 1] == np.float32(0.9)  # the tie at 0.9: rows 0 and 1
    np.testing.assert_array_equal(capped_lists(csr(dense), cap=4).toarray(), dense)  # no list is longer: unchanged


def test_pair_keys_pair_each_rows_rarest_frequent_tokens():
    # columns 0..3 appear in every row (frequent for cap=2); column 4 in one row (rare, never paired)
    dense = np.array([[0.1, 0.2, 0.3, 0.0, 0.9],
                      [0.1, 0.2, 0.3, 0.4, 0.0],
                      [0.5, 0.0, 0.3, 0.4, 0.0]], dtype=np.float32)
    matrix = csr(dense)
    assert document_frequency(matrix).tolist() == [3, 2, 3, 2, 1]
    keys = pair_keys(matrix, cap=1, pair_tokens=2)  # frequent: df > 1 -> columns 0..3; the 2 rarest per row
    # by hand: rarest first (df, then column): row 0 has 1(df2), 0(df3), 2(df3) -> pair (0, 1), value 0.1 + 0.2;
    # row 1 has 1, 3 (df 2) -> (1, 3) = 0.6; row 2 has 3 (df 2), 0 (df 3) -> (0, 3) = 0.9
    expected = {0: {(0, 1): 0.3}, 1: {(1, 3): 0.6}, 2: {(0, 3): 0.9}}
    pair_of = sorted({p for row in expected.values() for p in row})  # columns are the pairs in token-id order
    assert keys.shape == (3, len(pair_of))
    for row, pairs in expected.items():
        got = {pair_of[c]: v for c, v in zip(keys[row].indices, keys[row].data)}
        assert got.keys() == pairs.keys() and all(got[p] == pytest.approx(v) for p, v in pairs.items())
    three = pair_keys(matrix, cap=1, pair_tokens=3)
    assert np.diff(three.indptr).tolist() == [3, 3, 3]  # C(3, 2) pairs: each row has >= 3 frequent tokens
    assert pair_keys(matrix, cap=3, pair_tokens=4).shape == (3, 0)  # nothing is frequent: no pair keys


def test_blocking_config_refuses_values_that_cannot_work():
    for bad in ({"cap": 0}, {"candidates": 0}, {"pair_tokens": 1}, {"pair_tokens": -1}, {"block_rows": 0},
                {"cap": 1.5}):
        with pytest.raises(ArgumentError, match="blocking"):
            BlockingConfig(**bad)
    assert BlockingConfig(pair_tokens=0).candidates_per_row == 2 * 100 + 1
    assert BlockingConfig().candidates_per_row == 2 * 100 + 2 * 200 + 1


def test_matrices_are_checked_loudly():
    with pytest.raises(TypeError, match="float32"):
        check_matrix(sp.csr_matrix(np.ones((2, 2))))
    with pytest.raises(ValueError, match="non-negative"):
        check_matrix(csr([[1, -1]]))
    with pytest.raises(TypeError, match="sparse"):
        check_matrix(np.ones((2, 2), np.float32))


def test_index_holds_both_key_kinds_and_says_its_size():
    matrix = csr(np.random.default_rng(0).random((50, 6)) > 0.3) * np.float32(0.5)
    index = BlockingIndex.build(sp.csr_matrix(matrix, dtype=np.float32), BlockingConfig(cap=5, pair_tokens=3))
    assert index.n_rows == 50 and index.pairs is not None and index.pairs.keys.shape[1] > 0
    assert (np.diff(index.tokens.capped_t.indptr) <= 5).all() and (np.diff(index.pairs.capped_t.indptr) <= 5).all()
    assert index.nbytes > 0
    # by hand: a query reads, for each of its keys, the key's capped list, and for each of its capped entries
    # the key's whole list
    tokens = index.tokens
    expected = sum(min(5, tokens.keys[:, col].nnz) for col in tokens.keys[7].indices) + sum(
        tokens.keys[:, col].nnz for col in tokens.capped[7].indices)
    assert tokens.visits(np.array([7])) == expected
    assert index.visits(np.array([7, 8])) == sum(lists.visits(np.array([r])) for lists in (index.tokens, index.pairs)
                                                 for r in (7, 8))
    assert BlockingIndex.build(index.tokens.keys, BlockingConfig(pair_tokens=0)).pairs is None
