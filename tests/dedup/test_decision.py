"""Tuning the decision for pairwise F1, its nested estimate, and the degenerate cases (never silent)."""

import numpy as np
import pytest

from prodmatch.dedup.clustering import Edges
from prodmatch.dedup.decision import (
    FALLBACK,
    Decision,
    DecisionWarning,
    collapse_warning,
    held_out_counts,
    tune_decision,
)

GRID = np.round(np.arange(0.1, 0.95, 0.1), 2)


def pairs_graph(n_pairs=30, noise=0.3, seed=0):
    """Records 2k and 2k+1 match (p 0.8); each record also meets a wrong one (p ``noise``)."""
    rng = np.random.default_rng(seed)
    n = 2 * n_pairs
    a, b, s = [], [], []
    for k in range(n_pairs):
        a.append(2 * k), b.append(2 * k + 1), s.append(0.8 + 0.1 * rng.random())
        other = (2 * k + 2) % n
        a.append(min(2 * k + 1, other)), b.append(max(2 * k + 1, other)), s.append(noise + 0.05 * rng.random())
    order = np.lexsort((b, a))
    edges = Edges(np.array(a, np.int64)[order], np.array(b, np.int64)[order], np.array(s, np.float32)[order], n)
    return edges, np.repeat(np.arange(n_pairs), 2)


def test_the_threshold_between_the_wrong_and_the_right_pairs_wins():
    edges, truth = pairs_graph()
    tuned = tune_decision(edges, truth, clusterings=("components",), grid=GRID)
    assert 0.4 <= tuned.decision.threshold <= 0.8
    assert tuned.score.f1 == 1.0 and tuned.decision.fallback is None


def test_nested_estimate_scores_each_fold_with_what_the_others_chose():
    edges, truth = pairs_graph()
    folds = np.repeat(np.arange(30) % 3, 2)
    tuned = tune_decision(edges, truth, folds, clusterings=("components",), grid=GRID)
    assert tuned.nested is not None and tuned.nested.f1 == pytest.approx(1.0)
    assert tuned.nested.actual == 30


def test_held_out_counts_split_a_pair_across_folds_in_halves():
    clusters = np.array([0, 0, 1, 1])
    truth = np.array([0, 1, 2, 2])
    held_out = np.array([True, False, True, True])
    predicted, actual, right = held_out_counts(clusters, truth, held_out)
    assert predicted == pytest.approx(1 + 0.5) and actual == 1 and right == 1


def test_a_threshold_at_the_top_falls_back_with_a_warning():
    edges, truth = pairs_graph(noise=0.3)
    upside_down = Edges(edges.a, edges.b, (1.0 - edges.score).astype(np.float32), edges.n)  # right pairs score low
    with pytest.warns(DecisionWarning, match="fallback"):
        tuned = tune_decision(upside_down, truth, clusterings=("components",), grid=np.array([0.9, 0.98]))
    assert tuned.decision.threshold == FALLBACK.threshold and tuned.decision.fallback
    assert tuned.notes


def test_no_true_pair_means_refusing_all_is_not_degenerate():
    edges, _ = pairs_graph()
    tuned = tune_decision(edges, np.arange(edges.n), clusterings=("components",), grid=GRID)
    assert tuned.decision.fallback is None


def test_collapse_is_warned_unless_the_labelled_data_was_alone_too():
    alone = np.arange(200)
    assert "collapsed" in collapse_warning(alone, 0.5)
    assert collapse_warning(alone, 0.995) is None
    assert collapse_warning(np.repeat(np.arange(100), 2), 0.5) is None


def test_decision_round_trips_and_checks_its_values():
    decision = Decision(0.4, "one-to-one")
    assert Decision.from_dict(decision.as_dict()) == decision
    with pytest.raises(ValueError):
        Decision(1.5)
    with pytest.raises(ValueError):
        Decision(0.5, "nearest")
