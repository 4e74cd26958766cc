"""The Matcher protocol: the registry, a rule's round trip, and Matched's outputs checked by hand."""

import numpy as np
import pytest

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.kinds import MATCHER_CLASSES, MATCHER_KINDS
from prodmatch.match.matcher import Matched, matcher_class, matcher_from_dict
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.union import UnionMatcher
from prodmatch.search.scales import COSINE


def test_every_registered_kind_names_its_class():
    assert MATCHER_KINDS == tuple(MATCHER_CLASSES) == ("union", "pair-model")
    for kind in MATCHER_KINDS:
        cls = matcher_class(kind)
        assert cls.kind == kind
        for method in ("unavailable", "for_test_size", "match", "check", "describe", "as_dict", "from_dict"):
            assert callable(getattr(cls, method)), (kind, method)
    with pytest.raises(ValueError, match="unknown matcher kind 'nearest'"):
        matcher_class("nearest")


def test_the_command_line_offers_the_registered_kinds():
    import argparse

    from prodmatch.commands.matcher_option import add_matcher_option

    parser = argparse.ArgumentParser()
    add_matcher_option(parser, "tune")
    action = next(a for a in parser._actions if a.dest == "matcher" and a.choices)
    assert tuple(action.choices) == MATCHER_KINDS
    assert parser.parse_args(["--no-pair-model"]).matcher == "union"


def _table():
    # postings 0..3: 0-1 strong (both ways), 1-2 weak, 2-3 medium (one way only), plus self pairs
    rows = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    cols = np.array([0, 1, 0, 1, 2, 2, 3, 3])
    scores = np.array([1.0, 0.9, 0.8, 1.0, 0.3, 1.0, 0.6, 1.0], dtype=np.float32)
    return CandidateTable(rows, cols, {"tfidf": scores}, 4, 4)


def test_matched_lists_and_pairs_by_hand():
    matcher = UnionMatcher(MatchPolicy({"tfidf": 0.5}, min2=False))
    matched = matcher.decide(_table())
    ids = ["a", "b", "c", "d"]
    assert matched.match_lists(ids) == [["a", "b"], ["b", "a"], ["c", "d"], ["d"]]
    assert matched.match_counts().tolist() == [2, 2, 2, 1]
    pairs = matched.pairs(ids)
    assert pairs[["id_a", "id_b"]].values.tolist() == [["a", "b"], ["c", "d"]]
    np.testing.assert_allclose(pairs["score"], [0.9, 0.6])  # the higher direction of a-b


def test_matched_refuses_a_mask_of_the_wrong_shape():
    with pytest.raises(TypeError, match="one bool per pair"):
        Matched(_table(), np.zeros(3, bool), np.arange(8), "tfidf")


def test_the_union_round_trips_moves_and_describes_itself():
    from prodmatch.match.size_aware import SizeCurve

    policies = [MatchPolicy({"tfidf": 0.5}, min2_floor=0.2), MatchPolicy({"tfidf": 0.6}, min2_floor=0.3)]
    matcher = UnionMatcher(policies[1], SizeCurve([1000.0, 2000.0], policies, ["tfidf"]))
    again = matcher_from_dict(matcher.as_dict())
    assert again == matcher and again.unavailable() is None and again.check(lambda name: COSINE) == []
    moved = matcher.for_test_size(8000)  # two doublings past 2000 at +0.1 per doubling
    assert moved.policy.thresholds["tfidf"] == pytest.approx(0.8) and moved.size_curve is None
    assert moved.for_test_size(10**6) is moved  # moved once: it does not move again
    assert matcher.describe(lambda name: COSINE) == "union tfidf=0.600, min2 floor 0.300"


def test_matched_score_by_hand():
    matched = UnionMatcher(MatchPolicy({"tfidf": 0.5}, min2=False)).decide(_table())
    # groups: a,b together; c alone; d alone. Rows: a {a,b} F1 1; b 1; c {c,d} vs {c}: 2/3; d {d} vs {d}: 1
    score = matched.score(["g1", "g1", "g2", "g3"])
    assert score.f1 == pytest.approx((1 + 1 + 2 / 3 + 1) / 4)
    assert score.precision == pytest.approx((1 + 1 + 0.5 + 1) / 4) and score.recall == 1.0


def test_a_collapsed_result_is_told_from_a_real_one():
    n = 200
    rows = np.arange(n)
    alone = CandidateTable(rows, rows, {"tfidf": np.ones(n, np.float32)}, n, n)
    matched = UnionMatcher(MatchPolicy({"tfidf": 0.5})).decide(alone)
    assert matched.degenerate() == "100.0% of the 200 postings matched nothing but themselves"
    pairs_rows = np.r_[rows, rows[::2], rows[1::2]]
    pairs_cols = np.r_[rows, rows[1::2], rows[::2]]
    order = np.lexsort((pairs_cols, pairs_rows))
    paired = CandidateTable(pairs_rows[order], pairs_cols[order], {"tfidf": np.ones(2 * n, np.float32)}, n, n)
    matched = UnionMatcher(MatchPolicy({"tfidf": 0.5})).decide(paired)
    assert matched.degenerate() is None
    assert matched.degenerate(cap=2) == "100.0% of the 200 postings reached the cap of 2 matches"
    tiny = CandidateTable(rows[:5], rows[:5], {"tfidf": np.ones(5, np.float32)}, 5, 5)
    assert UnionMatcher(MatchPolicy({"tfidf": 0.5})).decide(tiny).degenerate() is None  # too few to judge
