"""Pairwise, cluster and row-wise scores recomputed by hand on small clusterings."""

import itertools

import numpy as np
import pytest

from prodmatch.dedup.metrics import cluster_score, dedup_score, edge_score, pairwise_score, row_f1


def pair_set(clusters):
    return {(i, j) for i, j in itertools.combinations(range(len(clusters)), 2) if clusters[i] == clusters[j]}


PREDICTED = np.array([0, 0, 0, 1, 2, 2, 3])
TRUTH = np.array([5, 5, 6, 6, 7, 7, 8])


def test_pairwise_counts_the_pairs_clusters_imply():
    predicted, truth = pair_set(PREDICTED), pair_set(TRUTH)  # {01,02,12,45} vs {01,23,45}
    tp = len(predicted & truth)
    score = pairwise_score(PREDICTED, TRUTH)
    assert (score.true_positives, score.predicted, score.actual) == (tp, len(predicted), len(truth)) == (2, 4, 3)
    assert score.precision == pytest.approx(2 / 4)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 * 2 / (4 + 3))


def test_pairwise_ignores_how_ids_are_spelt():
    assert pairwise_score(np.array(["b", "b", "a"]), np.array([9, 9, 3])).f1 == 1.0
    assert pairwise_score(np.arange(4), np.arange(4)).f1 == 0.0  # nothing to match, nothing matched


def test_edge_score_of_listed_pairs():
    score = edge_score(np.array([0, 0, 4]), np.array([1, 2, 5]), TRUTH)
    assert (score.true_positives, score.predicted, score.actual) == (2, 3, 3)


def test_row_f1_by_hand():
    expected = []
    for row in range(len(TRUTH)):
        p = set(np.flatnonzero(PREDICTED == PREDICTED[row]))
        t = set(np.flatnonzero(TRUTH == TRUTH[row]))
        expected.append(2 * len(p & t) / (len(p) + len(t)))
    assert row_f1(PREDICTED, TRUTH) == pytest.approx(np.mean(expected))


def test_cluster_metrics_by_hand():
    from sklearn.metrics import adjusted_rand_score

    score = cluster_score(PREDICTED, TRUTH)
    # exact: {4,5} and {6} are in both; 4 predicted clusters, 4 true ones
    assert score.exact_precision == pytest.approx(2 / 4) and score.exact_recall == pytest.approx(2 / 4)
    assert score.adjusted_rand == pytest.approx(adjusted_rand_score(TRUTH, PREDICTED))
    assert score.singleton_share == pytest.approx(2 / 7)
    assert dedup_score(PREDICTED, TRUTH).n_rows == 7
