"""The report's numbers on a hand-built case: outcomes, F1 by group size, error counts, gallery selection.

Six postings: group A = rows 0, 1, 2; group B = rows 3, 4; group C = row 5 (alone). Candidate pairs
(both directions, plus self pairs):

- 0-1 tfidf 0.90 (right, matched)         - 0-2 tfidf 0.45 (right, below tfidf >= 0.5: near miss)
- 0-3 tfidf 0.70 (wrong, matched: FP)     - 3-4 phash d=6 (right, below d <= 4: near miss)
- 3-5 phash d=2 (wrong, matched: FP)      - 1-2 never proposed (miss no threshold can fix)
"""

from __future__ import annotations

import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.policy import MatchPolicy
from prodmatch.report.analysis import (
    align_train,
    build_galleries,
    compute_outcome,
    confident_false_positives,
    error_counts,
    f1_by_group_size,
    lonely_summary,
    lowest_f1_rows,
    min2_false_positives,
    near_miss_false_negatives,
    never_proposed_false_negatives,
    pair_reasons,
    phash_distance,
    size_bins,
    true_pairs,
)
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.phash import distance_to_score
from prodmatch.search.scales import COSINE, HAMMING

LABELS = np.array([10, 10, 10, 20, 20, 30])
FOLDS = np.zeros(6, dtype=int)
N = len(LABELS)


def _both(pairs):
    return [(a, b, s) for a, b, s in pairs] + [(b, a, s) for a, b, s in pairs]


def _neighbours(pairs, with_self=True):
    pairs = list(pairs) + ([(i, i, 1.0) for i in range(N)] if with_self else [])
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    cols = np.array([p[1] for p in pairs], dtype=np.int64)
    return Neighbours(rows, cols, np.array([p[2] for p in pairs], dtype=np.float32), N, N)


def make_table() -> CandidateTable:
    tfidf = _both([(0, 1, 0.90), (0, 2, 0.45), (0, 3, 0.70)])
    phash = _both([(3, 4, float(distance_to_score(6))), (3, 5, float(distance_to_score(2)))])
    return CandidateTable.from_sources({"tfidf": _neighbours(tfidf), "phash": _neighbours(phash)})


SCALES = {"tfidf": COSINE, "phash": HAMMING}


def make_policy(min2: bool = False) -> MatchPolicy:
    return MatchPolicy({"tfidf": 0.5, "phash": float(distance_to_score(4))}, priority=["tfidf", "phash"], min2=min2)


@pytest.fixture
def outcome():
    return compute_outcome(make_table(), LABELS, make_policy(), SCALES)


def test_row_scores_match_the_hand_computation(outcome):
    # row 0 predicts {0,1,3} of {0,1,2}; row 3 predicts {3,0,5} of {3,4}; rows 2 and 4 only themselves
    expected_f1 = [4 / 6, 4 / 5, 2 / 4, 2 / 5, 2 / 3, 2 / 3]
    np.testing.assert_allclose(outcome.f1, expected_f1)
    np.testing.assert_allclose(outcome.precision, [2 / 3, 1, 1, 1 / 3, 1, 1 / 2])
    np.testing.assert_allclose(outcome.recall, [2 / 3, 2 / 3, 1 / 3, 1 / 2, 1 / 2, 1])
    assert outcome.n_pred.tolist() == [3, 2, 1, 3, 1, 2]
    assert outcome.lonely.tolist() == [False, False, True, False, True, False]


def test_f1_by_group_size_hand_computed(outcome):
    frame = f1_by_group_size(outcome).set_index("size")
    assert frame.index.tolist() == ["1", "2", "3"]
    assert frame["n_rows"].tolist() == [1, 2, 3]
    assert frame["n_groups"].tolist() == [1, 1, 1]
    assert frame.loc["1", "f1"] == pytest.approx(2 / 3)
    assert frame.loc["2", "f1"] == pytest.approx((2 / 5 + 2 / 3) / 2)
    assert frame.loc["3", "f1"] == pytest.approx((4 / 6 + 4 / 5 + 2 / 4) / 3)
    assert frame.loc["2", "precision"] == pytest.approx((1 / 3 + 1) / 2)
    assert frame.loc["3", "recall"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert frame["lonely"].tolist() == [0, 1, 1]
    assert frame["share"].sum() == pytest.approx(1.0)
    # the bins' row-weighted mean is the overall score
    assert (frame["f1"] * frame["n_rows"]).sum() / N == pytest.approx(outcome.f1.mean())


def test_lonely_summary(outcome):
    summary = lonely_summary(outcome)
    assert (summary.lonely, summary.lonely_in_groups, summary.singletons, summary.singletons_alone) == (2, 2, 1, 0)


def test_size_bins_are_exact_then_ranges():
    index, names = size_bins(np.array([1, 2, 10, 11, 15, 16, 50, 51, 80]))
    assert [names[i] for i in index] == ["1", "2", "10", "11-15", "11-15", "16-20", "31-50", "51+", "51+"]


def test_true_pairs_are_every_directed_same_group_pair():
    rows, cols = true_pairs(np.array([5, 7, 5, 5, 7]))
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 2), (0, 3), (1, 4), (2, 0), (2, 3), (3, 0), (3, 2), (4, 1)]


def test_error_counts_split_misses_by_cause(outcome):
    counts = error_counts(outcome, FOLDS)
    assert counts.n_matched == 6  # 0-1, 0-3, 3-5 both ways
    assert counts.false_positives == 4 and counts.false_positives_by == {"tfidf": 2, "phash": 2}
    assert counts.false_negatives == 6  # 0-2, 1-2, 3-4 both ways
    assert (counts.fn_below_threshold, counts.fn_never_proposed, counts.fn_cut_by_cap) == (4, 2, 0)
    assert counts.fn_across_folds == 0
    assert counts.near_miss_by == {"tfidf": 2, "phash": 2}
    # with rows 1 and 2 in different folds, their miss is an across-folds one, not a never-proposed one
    counts = error_counts(outcome, np.array([0, 0, 1, 0, 0, 0]))
    assert (counts.fn_never_proposed, counts.fn_across_folds) == (0, 4)


def _pairs(gallery):
    return [(ex.query, [(o.row, o.kind) for o in ex.others]) for ex in gallery.examples]


def test_false_positive_galleries_rank_by_score_and_skip_mirrors(outcome):
    tfidf = confident_false_positives(outcome, "tfidf")
    assert tfidf.total == 2 and _pairs(tfidf) == [(0, [(3, "fp")])]  # 3->0 is the mirror of 0->3
    phash = confident_false_positives(outcome, "phash")
    assert phash.total == 2 and _pairs(phash) == [(3, [(5, "fp")])]
    assert outcome.table.cols[phash.examples[0].others[0].pair] == 5


def test_near_miss_and_never_proposed_galleries(outcome):
    tfidf = near_miss_false_negatives(outcome, "tfidf")
    assert tfidf.total == 2 and _pairs(tfidf) == [(0, [(2, "fn")])]  # one example per label group
    phash = near_miss_false_negatives(outcome, "phash")
    assert _pairs(phash) == [(3, [(4, "fn")])]
    never = never_proposed_false_negatives(outcome, FOLDS)
    # 1-2 both ways; row 2 (F1 0.5) comes before row 1 (F1 0.8)
    assert never.total == 2 and _pairs(never) == [(2, [(1, "fn")])]
    assert never.examples[0].others[0].pair == -1


def test_lowest_f1_rows_one_per_group_with_both_kinds(outcome):
    gallery = lowest_f1_rows(outcome)
    # F1: row 3 0.4 (B), row 2 0.5 (A), rows 0/4/5 2/3 (bigger group first: 0 is A again, 4 is B again) -> 5
    assert [ex.query for ex in gallery.examples] == [3, 2, 5]
    row3 = gallery.examples[0]
    assert sorted((o.row, o.kind) for o in row3.others) == [(0, "fp"), (4, "fn"), (5, "fp")]
    assert [(o.row, o.kind) for o in gallery.examples[1].others] == [(0, "fn"), (1, "fn")]
    assert gallery.total == 6  # no row is perfect
    limited = lowest_f1_rows(outcome, n_examples=1, max_others=2)
    assert len(limited.examples) == 1 and len(limited.examples[0].others) == 2
    assert {o.kind for o in limited.examples[0].others} == {"fp", "fn"} and limited.examples[0].n_more == 1


def test_min2_additions_are_labelled_and_wrong_ones_listed():
    labels = LABELS.copy()
    labels[2] = 99  # row 2 now alone in its group: min2 pairing it with row 0 is a wrong match
    outcome = compute_outcome(make_table(), labels, make_policy(min2=True), SCALES)
    added = np.flatnonzero(outcome.matched & ~outcome.union)
    added_pairs = {(int(outcome.table.rows[p]), int(outcome.table.cols[p])) for p in added}
    assert added_pairs == {(2, 0), (4, 3)}  # the lonely rows' best other candidates
    assert pair_reasons(outcome, added) == ["min2", "min2"]
    gallery = min2_false_positives(outcome)
    assert gallery.total == 1 and _pairs(gallery) == [(2, [(0, "fp")])]
    keys = [g.key for g in build_galleries(outcome, FOLDS)]
    assert keys == ["fp-tfidf", "fp-phash", "fp-min2", "fn-tfidf", "fn-phash", "fn-unproposed", "lowest-f1"]


def test_pair_positions_and_reasons(outcome):
    positions = outcome.pair_positions(np.array([0, 1, 5]), np.array([1, 2, 3]))
    assert positions[0] >= 0 and positions[1] == -1 and positions[2] >= 0
    assert pair_reasons(outcome, positions[[0, 2]]) == ["tfidf", "phash"]


def test_gallery_limits(outcome):
    assert confident_false_positives(outcome, "tfidf", n_examples=0).examples == []


def test_phash_distance():
    assert phash_distance("0000000000000000", "000000000000000f") == 4
    assert phash_distance("ffffffffffffffff", "0000000000000000") == 64
    assert phash_distance("xyz", "0000000000000000") is None


def test_align_train_reorders_and_rejects_foreign_ids():
    import pandas as pd

    train = pd.DataFrame({"posting_id": ["b", "a", "c"], "title": ["B", "A", "C"]})
    aligned = align_train(train, np.array(["a", "b", "c"], dtype=object))
    assert aligned["title"].tolist() == ["A", "B", "C"]
    with pytest.raises(ValueError, match="another data dir"):
        align_train(train, np.array(["a", "zz"], dtype=object))
