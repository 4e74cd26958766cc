"""PolicyEvaluator: per-row F1 recomputed by hand for a tiny table (self-matches always predicted)."""

import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy
from prodmatch.search.neighbours import Neighbours


def test_scores_match_the_formula():
    # rows 0,1,2 share a group, row 3 is alone; candidates 0->1 (0.9), 0->3 (0.6), 2->0 (0.4)
    labels = np.array([7, 7, 7, 9])
    nb = Neighbours(np.array([0, 0, 2], np.int64), np.array([1, 3, 0], np.int64),
                    np.array([0.9, 0.6, 0.4], np.float32), 4, 4)
    evaluator = PolicyEvaluator(CandidateTable.from_sources({"s": nb}), labels, ["s"])
    f1, precision, recall = evaluator.row_scores(MatchPolicy({"s": 0.5}, min2=False))
    # row 0 predicts {0,1,3}, true {0,1,2}: tp 2 -> F1 2*2/(3+3); row 1 {1}: 2/(1+3); row 2 {2}: 2/4; row 3 {3}: 1
    np.testing.assert_allclose(f1, [4 / 6, 2 / 4, 2 / 4, 1.0])
    np.testing.assert_allclose(precision, [2 / 3, 1, 1, 1])
    np.testing.assert_allclose(recall, [2 / 3, 1 / 3, 1 / 3, 1])
    score = evaluator.score(MatchPolicy({"s": 0.5}, min2=False))
    assert score.f1 == pytest.approx(np.mean([4 / 6, 0.5, 0.5, 1.0])) and score.n_rows == 4
    # min2 gives lonely row 2 its best candidate (row 0, same group): tp 2 of {2,0}, true 3 -> 4/5
    f1_min2, _, _ = evaluator.row_scores(MatchPolicy({"s": 0.5}, min2=True))
    assert f1_min2[2] == pytest.approx(4 / 5)


def test_needs_a_square_labelled_table():
    nb = Neighbours(np.array([0], np.int64), np.array([1], np.int64), np.array([0.5], np.float32), 2, 3)
    with pytest.raises(ValueError, match="square"):
        PolicyEvaluator(CandidateTable.from_sources({"s": nb}), np.array([1, 2]), ["s"])
