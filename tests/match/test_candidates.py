"""CandidateTable: the union of sources' pairs, one score column each, -inf where a source did not propose."""

import numpy as np
import pytest

from prodmatch.match.candidates import MISSING, CandidateTable
from prodmatch.search.neighbours import Neighbours


def nb(rows, cols, scores, n=4):
    return Neighbours(np.array(rows, np.int64), np.array(cols, np.int64), np.array(scores, np.float32), n, n)


def test_union_of_pairs_sorted_with_missing_scores():
    table = CandidateTable.from_sources({"a": nb([0, 1, 0], [1, 0, 0], [0.9, 0.8, 1.0]),
                                         "b": nb([2, 0], [3, 1], [0.5, 0.4])})
    assert list(zip(table.rows.tolist(), table.cols.tolist())) == [(0, 0), (0, 1), (1, 0), (2, 3)]
    np.testing.assert_array_equal(table.score("a"), np.array([1.0, 0.9, 0.8, MISSING], np.float32))
    np.testing.assert_array_equal(table.score("b"), np.array([MISSING, 0.4, MISSING, 0.5], np.float32))
    with pytest.raises(KeyError, match="unknown source 'c'"):
        table.score("c")


def test_a_repeated_pair_keeps_its_best_score():
    table = CandidateTable.from_sources({"a": nb([0, 0], [1, 1], [0.3, 0.7])})
    assert len(table) == 1 and table.score("a")[0] == np.float32(0.7)


def test_subset_renumbers_and_drops_pairs_that_leave():
    table = CandidateTable.from_sources({"a": nb([0, 1, 2, 3], [1, 0, 3, 1], [0.9, 0.9, 0.6, 0.2])})
    sub = table.subset(np.array([False, True, True, True]))
    assert (sub.n_query, sub.n_index) == (3, 3)
    assert list(zip(sub.rows.tolist(), sub.cols.tolist())) == [(1, 2), (2, 0)]  # (2,3) and (3,1), renumbered


def test_sources_must_agree_on_the_shape():
    with pytest.raises(ValueError, match="disagree"):
        CandidateTable.from_sources({"a": nb([0], [1], [0.5], n=4), "b": nb([0], [1], [0.5], n=5)})
    with pytest.raises(ValueError, match="at least one"):
        CandidateTable.from_sources({})
