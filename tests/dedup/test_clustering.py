"""Edges from a candidate table, and the clustering rules over them."""

import numpy as np
import pytest

from prodmatch.dedup.clustering import (
    Edges,
    best_edges,
    cluster,
    components,
    edges_from_table,
    greedy_one_to_one,
    mutual_best,
    table_positions,
)
from prodmatch.match.candidates import CandidateTable


def edges(pairs, n):
    a, b, s = zip(*pairs)
    return Edges(np.array(a, np.int64), np.array(b, np.int64), np.array(s, np.float32), n)


def test_edges_average_both_directions_and_drop_self_pairs():
    table = CandidateTable(np.array([0, 0, 1, 1, 2], np.int64), np.array([0, 1, 0, 2, 1], np.int64),
                           {"x": np.zeros(5, np.float32)}, 3, 3)
    found = edges_from_table(table, np.array([1.0, 0.8, 0.6, 0.3, 0.5], np.float32))
    assert found.a.tolist() == [0, 1] and found.b.tolist() == [1, 2]
    assert found.score.tolist() == pytest.approx([0.7, 0.4])
    assert table_positions(table, np.array([1, 2, 0]), np.array([2, 0, 1])).tolist() == [3, -1, 1]


def test_components_are_numbered_by_first_record():
    assert components(5, np.array([3]), np.array([4])).tolist() == [0, 1, 2, 3, 3]
    assert components(4, np.array([2, 0]), np.array([3, 2])).tolist() == [0, 1, 0, 0]


# a chain 0-1 (0.9), 1-2 (0.6), 2-3 (0.8), and 0-2 (0.55)
CHAIN = edges([(0, 1, 0.9), (0, 2, 0.55), (1, 2, 0.6), (2, 3, 0.8)], 5)


def test_components_join_every_pair_over_the_threshold():
    assert cluster(CHAIN, 0.5, "components").clusters.tolist() == [0, 0, 0, 0, 1]
    assert cluster(CHAIN, 0.7, "components").clusters.tolist() == [0, 0, 1, 1, 2]


def test_best_edge_keeps_each_records_best_pair():
    # 0 -> 1, 1 -> 0, 2 -> 3, 3 -> 2: the weaker 1-2 and 0-2 go
    assert sorted(best_edges(CHAIN).tolist()) == [0, 3]
    assert cluster(CHAIN, 0.5, "best-edge").clusters.tolist() == [0, 0, 1, 1, 2]


def test_one_to_one_is_greedy_best_first():
    star = edges([(0, 1, 0.9), (0, 2, 0.95), (1, 2, 0.7), (2, 3, 0.2)], 4)
    assert greedy_one_to_one(star).tolist() == [1]  # 0-2 first; 0-1, 1-2 and 2-3 each touch a record taken
    assert cluster(star, 0.1, "one-to-one").kept.a.tolist() == [0]


def test_mutual_best_and_across_sources():
    assert mutual_best(CHAIN).a.tolist() == [0, 2]
    shops = np.array(["a", "b", "a", "b", "a"])
    across = CHAIN.across(shops)  # 0-2 are both from shop a
    assert list(zip(across.a.tolist(), across.b.tolist())) == [(0, 1), (1, 2), (2, 3)]


def test_edges_refuse_bad_arrays():
    with pytest.raises(TypeError):
        Edges(np.array([0]), np.array([1]), np.array([0.5]), 2)
    with pytest.raises(ValueError, match="a < b"):
        edges([(1, 0, 0.5)], 2)


def test_large_clusters_lose_their_weakest_pairs_until_they_fit():
    from prodmatch.dedup.clustering import split_large

    whole = cluster(CHAIN, 0.5, "components")  # 0-1-2-3 in one cluster
    assert split_large(whole, 4)[0].clusters.tolist() == whole.clusters.tolist()
    two, stays = split_large(whole, 2)  # drop 0-2 (0.55) and 1-2 (0.6): {0, 1}, {2, 3}
    assert two.clusters.tolist() == [0, 0, 1, 1, 2] and stays.tolist() == [True, False, False, True]
    assert list(zip(two.kept.a.tolist(), two.kept.b.tolist())) == [(0, 1), (2, 3)]
    assert split_large(whole, 1)[0].clusters.tolist() == [0, 1, 2, 3, 4]
