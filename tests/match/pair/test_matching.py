"""Matching on the pair model: its policy, the threshold moved with the test size, the probability table."""

import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matching import (
    PairMatching,
    pair_policy,
    probability_table,
    proposed_pairs,
    select_pairs,
    shift_logit,
)
from prodmatch.match.policy import MatchPolicy


def logit(p):
    return np.log(p / (1 - p))


def test_the_threshold_moves_in_logit_units_per_doubling():
    matching = PairMatching(pair_policy(0.5, min2_floor=0.2), GraphSteps(two_hop_edge=0.6), tuned_size=1000,
                            size_slope=0.8)
    moved = matching.for_test_size(4000)  # two doublings: +1.6 logit
    assert moved.threshold == pytest.approx(1 / (1 + np.exp(-(logit(0.5) + 1.6))))
    assert moved.policy.min2_floor == pytest.approx(1 / (1 + np.exp(-(logit(0.2) + 1.6))))
    assert moved.graph.two_hop_edge == pytest.approx(1 / (1 + np.exp(-(logit(0.6) + 1.6))))
    assert matching.for_test_size(800) is matching and matching.for_test_size(1000) is matching
    assert matching.for_test_size(10**9).threshold < 1.0


def test_no_floor_and_switched_off_stay_as_they_are():
    assert shift_logit(-np.inf, 2.0) == -np.inf and shift_logit(np.inf, 2.0) == np.inf


def test_round_trip_and_validation():
    matching = PairMatching(pair_policy(0.7, min2_floor=0.3, cap=50), GraphSteps(mutual=True), 5400.0, 0.5)
    assert PairMatching.from_dict(matching.as_dict()) == matching
    with pytest.raises(ValueError, match="'pair' column only"):
        PairMatching(MatchPolicy({"tfidf": 0.5}))


def test_probability_table_holds_the_pair_column_and_proposed_pairs_are_found():
    rows = np.array([0, 0, 1, 1], dtype=np.int64)
    cols = np.array([0, 1, 0, 1], dtype=np.int64)
    table = CandidateTable(rows, cols, {"s": np.float32([1.0, 0.7, -np.inf, 1.0])}, 2, 2)
    assert proposed_pairs(table).tolist() == [True, True, False, True]
    assert select_pairs(table, proposed_pairs(table)).rows.tolist() == [0, 0, 1]
    out = probability_table(table, np.float32([0.3, 0.6, 0.4, 0.2]), GraphSteps())
    assert out.sources == ["pair"] and out.score("pair").tolist() == pytest.approx([1.0, 0.6, 0.4, 1.0])
    assert probability_table(table, np.float32([1, 1, 1, 1]), GraphSteps(), keep_sources=True).sources == ["s", "pair"]
