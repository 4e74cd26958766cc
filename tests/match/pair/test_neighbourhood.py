"""Ranks, reverse pairs, best/k-th values and density over a hand-built candidate table."""

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.neighbourhood import (
    density,
    ranks_within_rows,
    reverse_positions,
    sorted_unique,
    value_at_rank,
    with_reverse_pairs,
)

NAN = np.nan
INF = -np.inf


def table() -> CandidateTable:
    # pairs sorted by (row, col): row 0 proposes 1 (0.9), 2 (0.5), 3 (0.5); row 1 proposes 0; row 2 only itself
    rows = np.array([0, 0, 0, 0, 1, 1, 2], dtype=np.int64)
    cols = np.array([0, 1, 2, 3, 0, 1, 2], dtype=np.int64)
    scores = np.array([1.0, 0.9, 0.5, 0.5, 0.8, 1.0, 1.0], dtype=np.float32)
    other = np.array([1.0, INF, 0.3, INF, INF, 1.0, 1.0], dtype=np.float32)
    return CandidateTable(rows, cols, {"s": scores, "t": other}, 4, 4)


def test_ranks_skip_self_and_unproposed_pairs_and_break_ties_by_column():
    t = table()
    np.testing.assert_array_equal(ranks_within_rows(t, t.score("s")), [NAN, 1, 2, 3, 1, NAN, NAN])
    np.testing.assert_array_equal(ranks_within_rows(t, t.score("t")), [NAN, NAN, 1, NAN, NAN, NAN, NAN])


def test_reverse_positions_find_the_other_direction():
    assert reverse_positions(table()).tolist() == [0, 4, -1, -1, 1, 5, 6]


def test_value_at_rank_and_density_per_row():
    t = table()
    ranks = ranks_within_rows(t, t.score("s"))
    np.testing.assert_array_equal(value_at_rank(t, t.score("s"), ranks, 1), np.float32([0.9, 0.8, NAN, NAN]))
    np.testing.assert_array_equal(value_at_rank(t, t.score("s"), ranks, 3), np.float32([0.5, NAN, NAN, NAN]))
    assert density(t, t.score("s"), 0.5).tolist() == [3, 1, 0, 0]  # self pairs never count
    assert density(t, t.score("s"), 0.85).tolist() == [1, 0, 0, 0]


def test_reverse_pairs_are_added_unproposed():
    t = with_reverse_pairs(table())
    pairs = list(zip(t.rows.tolist(), t.cols.tolist()))
    assert pairs == sorted(pairs) and {(2, 0), (3, 0)} <= set(pairs) and len(pairs) == 9
    added = [pairs.index((2, 0)), pairs.index((3, 0))]
    assert np.isneginf(t.score("s")[added]).all() and np.isneginf(t.score("t")[added]).all()
    kept = pairs.index((0, 2))
    assert t.score("s")[kept] == np.float32(0.5) and t.score("t")[kept] == np.float32(0.3)
    assert with_reverse_pairs(t) is t  # already symmetric


def test_sorted_unique_is_np_unique():
    rng = np.random.default_rng(0)
    for values in (np.array([], np.int64), np.array([7]), rng.integers(0, 50, 500), rng.integers(-9, 9, 40)):
        got = sorted_unique(values)
        assert np.array_equal(got, np.unique(values)) and got.dtype == values.dtype
