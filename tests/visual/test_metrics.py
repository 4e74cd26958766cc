"""MAR@10 and recall@k against cases worked out by hand."""

import numpy as np
import pytest

from prodmatch.visual.metrics import (
    GroundTruth,
    hit_matrix,
    mar_at_k,
    neighbour_recall,
    recall_at_k,
    retrieval_scores,
)

# 3 queries with 1, 3 and 12 true matches in an index of 30
TRUTH = [[5], [1, 2, 3], list(range(10, 22))]
RETRIEVED = np.array([
    [7, 5, 20, 21, 22, 23, 24, 25, 26, 27],  # q0: its one match at rank 2            -> 1 / min(10, 1) = 1
    [1, 9, 8, 2, 10, 11, 12, 13, 14, 15],  # q1: 2 of 3 (ranks 1 and 4)              -> 2 / min(10, 3) = 2/3
    [0, 1, 2, 3, 4, 5, 6, 10, 11, 12],  # q2: 3 of 12 (ranks 8-10)                   -> 3 / min(10, 12) = 3/10
])


@pytest.fixture
def truth():
    return GroundTruth.from_lists(TRUTH, n_index=30)


def test_mar_at_10_by_hand(truth):
    expected = (1.0 + 2.0 / 3.0 + 3.0 / 10.0) / 3.0
    assert mar_at_k(RETRIEVED, truth, 10) == pytest.approx(expected)
    assert mar_at_k(RETRIEVED, truth, 10) == pytest.approx(0.6555555556)


def test_recall_at_k_by_hand(truth):
    assert recall_at_k(RETRIEVED, truth, 1) == pytest.approx(1 / 3)  # only q1 has a match at rank 1
    assert recall_at_k(RETRIEVED, truth, 5) == pytest.approx(2 / 3)  # q0 (rank 2), q1; q2's first is rank 8
    assert recall_at_k(RETRIEVED, truth, 10) == pytest.approx(1.0)


def test_mar_at_smaller_k_uses_min_k_n_true(truth):
    # top 4: q0 1/min(4,1)=1; q1 2/min(4,3)=2/3; q2 0/4=0
    assert mar_at_k(RETRIEVED, truth, 4) == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_retrieval_scores_bundle(truth):
    scores = retrieval_scores(RETRIEVED, truth)
    assert scores.mar_at_10 == pytest.approx(0.6555555556)
    assert (scores.recall_at_1, scores.recall_at_5, scores.recall_at_10) == pytest.approx((1 / 3, 2 / 3, 1.0))
    assert scores.n_queries == 3 and scores.n_without_truth == 0


def test_query_without_truth_is_left_out_and_counted():
    truth = GroundTruth.from_lists([[5], [], [1, 2, 3]], n_index=30)
    retrieved = np.array([RETRIEVED[0], RETRIEVED[1], RETRIEVED[1]])
    scores = retrieval_scores(retrieved, truth)
    assert scores.n_queries == 2 and scores.n_without_truth == 1
    assert scores.mar_at_10 == pytest.approx((1.0 + 2 / 3) / 2)


def test_empty_slots_never_hit(truth):
    retrieved = RETRIEVED.copy()
    retrieved[1, 3:] = -1  # q1 keeps only its rank-1 match
    assert mar_at_k(retrieved, truth, 10) == pytest.approx((1.0 + 1 / 3 + 3 / 10) / 3)
    assert hit_matrix(retrieved, truth, 10)[1].tolist() == [True] + [False] * 9


def test_bad_retrieved_arrays_fail_loudly(truth):
    with pytest.raises(TypeError, match="integer"):
        mar_at_k(RETRIEVED.astype(np.float32), truth)
    with pytest.raises(ValueError, match="at least 10"):
        mar_at_k(RETRIEVED[:, :5], truth)
    with pytest.raises(ValueError, match="shape"):
        mar_at_k(RETRIEVED[:2], truth)
    twice = RETRIEVED.copy()
    twice[2, 1] = twice[2, 0]
    with pytest.raises(ValueError, match="row 2 lists an index position twice"):
        mar_at_k(twice, truth)
    out_of_range = RETRIEVED.copy()
    out_of_range[0, 9] = 30
    with pytest.raises(ValueError, match="out of range"):
        mar_at_k(out_of_range, truth)


def test_ground_truth_from_pairs_sorts_and_refuses_duplicates():
    truth = GroundTruth.from_pairs([1, 0, 1, 1], [7, 3, 2, 9], n_queries=3, n_index=10)
    assert truth.counts.tolist() == [1, 3, 0]
    assert truth.positions.tolist() == [3, 2, 7, 9]
    with pytest.raises(ValueError, match=r"duplicate ground-truth pair \(query 1, index 7\)"):
        GroundTruth.from_pairs([1, 1], [7, 7], n_queries=2, n_index=10)
    with pytest.raises(ValueError, match="out of range"):
        GroundTruth.from_pairs([0], [10], n_queries=1, n_index=10)


def test_neighbour_recall_by_hand():
    exact = np.array([[0, 1, 2], [3, 4, 5]])
    approximate = np.array([[0, 2, 9], [8, 7, 6]])
    assert neighbour_recall(approximate, exact, k=3) == pytest.approx((2 / 3 + 0) / 2)
    assert neighbour_recall(exact[:, ::-1].copy(), exact, k=3) == pytest.approx(1.0)  # order inside top k is free
