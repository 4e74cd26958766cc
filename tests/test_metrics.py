import numpy as np
import pytest

from prodmatch.metrics import row_scores, score_match_lists, score_pairs, truth_from_labels


def test_hand_computed_rows():
    # groups: A = {a1, a2, a3}, B = {b1}
    truth = truth_from_labels(["a1", "a2", "a3", "b1"], ["A", "A", "A", "B"])
    predictions = {
        "a1": "a1 a2",  # tp 2, |P| 2, |T| 3 -> F1 4/5
        "a2": "a2 a1 a3 b1",  # tp 3, |P| 4, |T| 3 -> F1 6/7
        "a3": "b1",  # self missing: tp 0 -> 0
        "b1": "b1",  # perfect singleton -> 1
    }
    score = score_match_lists(predictions, truth)
    assert score.f1 == pytest.approx((4 / 5 + 6 / 7 + 0 + 1) / 4)
    assert score.precision == pytest.approx((1 + 3 / 4 + 0 + 1) / 4)
    assert score.recall == pytest.approx((2 / 3 + 1 + 0 + 1) / 4)


def test_self_only_predictions_score_two_over_group_size_plus_one():
    labels = ["g"] * 4 + ["h"] * 2
    ids = [f"p{i}" for i in range(6)]
    score = score_match_lists({i: i for i in ids}, truth_from_labels(ids, labels))
    assert score.f1 == pytest.approx((4 * 2 / 5 + 2 * 2 / 3) / 6)


def test_missing_prediction_scores_zero():
    truth = truth_from_labels(["a", "b"], [1, 2])
    assert score_match_lists({"a": "a"}, truth).f1 == pytest.approx(0.5)


def test_pair_form_matches_list_form():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 40)
    ids = [f"p{i}" for i in range(40)]
    pairs = {(i, i) for i in range(40)} | {tuple(p) for p in rng.integers(0, 40, (120, 2))}
    rows, cols = map(np.array, zip(*sorted(pairs)))
    lists = {ids[i]: [] for i in range(40)}
    for r, c in zip(rows, cols):
        lists[ids[r]].append(ids[c])
    expected = score_match_lists(lists, truth_from_labels(ids, labels))
    got = score_pairs(rows, cols, labels)
    assert got.f1 == pytest.approx(expected.f1)
    assert got.precision == pytest.approx(expected.precision)
    assert got.recall == pytest.approx(expected.recall)


def test_pairs_must_be_unique_and_in_range():
    labels = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="duplicates"):
        row_scores(np.array([0, 0]), np.array([1, 1]), labels)
    with pytest.raises(ValueError, match="out of range"):
        row_scores(np.array([0]), np.array([3]), labels)


def test_group_of_51_is_scored_against_the_whole_group():
    ids = [f"p{i}" for i in range(51)]
    truth = truth_from_labels(ids, [7] * 51)
    capped = {pid: ids[:50] for pid in ids}  # a 50-match prediction cannot list the 51st member
    score = score_match_lists(capped, truth)
    assert score.recall == pytest.approx(50 / 51)
    assert score.precision == pytest.approx(1.0)
