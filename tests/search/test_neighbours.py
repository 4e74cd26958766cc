import numpy as np
import pytest

from prodmatch.search.neighbours import Neighbours


def nb(rows, cols, scores, n=4):
    return Neighbours(np.array(rows, np.int64), np.array(cols, np.int64), np.array(scores, np.float32), n, n)


def test_top_k_keeps_best_per_row_ties_by_index():
    got = nb([0, 0, 0, 1, 1], [3, 1, 2, 0, 2], [0.5, 0.9, 0.5, 0.1, 0.2]).top_k(2)
    assert sorted(zip(got.rows.tolist(), got.cols.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 2)]


def test_from_knn_drops_missing_and_checks_types():
    got = Neighbours.from_knn(np.array([[0, -1], [1, 0]]), np.array([[1, 0], [1, 0.5]], np.float32), 2)
    assert got.rows.tolist() == [0, 1, 1] and got.cols.tolist() == [0, 1, 0]
    with pytest.raises(TypeError, match="float32"):
        Neighbours(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.float64), 1, 1)
    with pytest.raises(TypeError, match="int64"):
        Neighbours(np.zeros(1, np.int32), np.zeros(1, np.int64), np.zeros(1, np.float32), 1, 1)


def test_offset_maps_local_to_global_positions():
    local = nb([0, 1], [1, 0], [0.8, 0.8], n=2)
    glob = local.offset(np.array([5, 9]), np.array([5, 9]), 10, 10)
    assert glob.rows.tolist() == [5, 9] and glob.cols.tolist() == [9, 5] and glob.n_query == 10
