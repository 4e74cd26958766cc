"""Choosing between the tuned rules, by hand."""

from types import SimpleNamespace

from prodmatch.cv.matcher_cv import choose, tuners_for
from prodmatch.metrics import MatchScore
from prodmatch.recipes import load_recipe


def _rule(name, f1, nested):
    return SimpleNamespace(name=name, score=MatchScore(f1, 0, 0, 1),
                           nested=None if nested is None else MatchScore(nested, 0, 0, 1))


def test_a_later_rule_must_beat_the_best_so_far():
    union, pair = _rule("union", 0.85, 0.84), _rule("pair", 0.90, 0.83)
    assert choose([union, pair]) is union  # the nested estimates decide when both have one
    assert choose([union, _rule("pair", 0.80, 0.86)]).name == "pair"
    assert choose([union, _rule("pair", 0.90, 0.84)]) is union  # a tie goes to the earlier rule
    assert choose([_rule("union", 0.85, None), pair]).name == "pair"  # else the CV F1
    assert choose([_rule("a", 0.8, None), _rule("b", 0.9, None), _rule("c", 0.85, None)]).name == "b"


def test_the_recipe_says_which_rules_are_tuned():
    assert [t.kind for t in tuners_for(load_recipe("text-phash"))] == ["union", "pair-model"]
    assert [t.kind for t in tuners_for(load_recipe("text-phash"), only="union")] == ["union"]
    assert [t.kind for t in tuners_for(load_recipe("text-phash-char"))] == ["union"]
