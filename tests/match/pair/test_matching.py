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


def test_an_old_slope_is_carried_at_most_two_doublings_with_a_warning():
    from prodmatch.match.pair.matching import SizeMoveWarning

    matching = PairMatching(pair_policy(0.5, min2_floor=0.2), tuned_size=1000, size_slope=0.8)
    with pytest.warns(SizeMoveWarning, match="6.1 doublings past the 1000"):
        far = matching.for_test_size(70_000)
    assert far.threshold == pytest.approx(matching.for_test_size(4000).threshold)  # +1.6 logit, not +4.9


def test_smaller_test_sets_get_the_thresholds_measured_there_interpolated_in_log_size():
    matching = PairMatching(pair_policy(0.8, min2_floor=0.3), tuned_size=8000,
                            smaller=[(2000.0, 0.4, 0.1), (4000.0, 0.6, -np.inf)])
    at_2000 = matching.for_test_size(2000)
    assert at_2000.threshold == pytest.approx(0.4) and at_2000.policy.min2_floor == pytest.approx(0.3)  # a floor of
    # none somewhere keeps the tuned floor
    half_way = 1 / (1 + np.exp(-(logit(0.6) + logit(0.8)) / 2))  # 4000 -> 8000: half-way in log size, logit units
    assert matching.for_test_size(5657).threshold == pytest.approx(half_way, abs=1e-3)
    assert matching.for_test_size(100).threshold == pytest.approx(0.4)  # never past the smallest measured
    assert matching.for_test_size(70_000) is matching  # and never moved up past where it learnt
    assert PairMatching.from_dict(matching.as_dict()) == matching


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
