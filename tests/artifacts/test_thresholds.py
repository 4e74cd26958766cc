"""thresholds.json: every rule round-trips with its recipe and size curve; files of format 1 still load; values
are checked on load; unreadable files are named."""

import json

import numpy as np
import pytest

from prodmatch.artifacts.thresholds import THRESHOLDS_FORMAT, Thresholds, beside_submission, read_thresholds, write_thresholds
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.match.union import UnionMatcher
from prodmatch.recipes import load_recipe


def _union(curve=None):
    return UnionMatcher(MatchPolicy({"tfidf": 0.6, "phash": 0.9}, min2_floor=0.3), curve)


def _pair_matcher():
    pytest.importorskip("lightgbm")
    from prodmatch.match.pair.features import PairFeatures
    from prodmatch.match.pair.graph import GraphSteps
    from prodmatch.match.pair.matcher import PairModelMatcher
    from prodmatch.match.pair.matching import PairMatching, pair_policy
    from prodmatch.match.pair.model import fit_pair_model_rounds

    rng = np.random.default_rng(0)
    features = PairFeatures(["a", "b"], rng.random((200, 2), dtype=np.float32))
    model = fit_pair_model_rounds(features, features.values[:, 0] > 0.5, rounds=5)
    matching = PairMatching(pair_policy(0.6, min2_floor=0.3), GraphSteps(two_hop_edge=0.7), 5400.0, 0.8)
    return PairModelMatcher(model, matching), features


def test_round_trip(tmp_path):
    policies = [MatchPolicy({"tfidf": 0.5, "phash": np.inf}, min2_floor=0.3),
                MatchPolicy({"tfidf": 0.6, "phash": 0.9}, min2_floor=-np.inf)]
    curve = SizeCurve([1000.0, 2000.0], policies, ["tfidf"], [{"tfidf": 0.5, "phash": 0.9}] * 2)
    saved = Thresholds(load_recipe("text-phash"), [UnionMatcher(policies[1], curve)], "union", {"n_rows": 2000},
                       {"union": {"f1": 0.8}})
    write_thresholds(tmp_path / "t.json", saved)
    assert json.loads((tmp_path / "t.json").read_text())["format"] == THRESHOLDS_FORMAT
    loaded = read_thresholds(tmp_path / "t.json")
    union = loaded.by_kind("union")
    assert union.policy == policies[1] and loaded.recipe.spec == saved.recipe.spec and loaded.chosen == "union"
    assert union.size_curve.policies[0].thresholds["phash"] == np.inf and loaded.tuned_on == {"n_rows": 2000}
    assert union.for_test_size(4000).policy.thresholds == curve.policy_for(4000).thresholds
    assert loaded.cv == {"union": {"f1": 0.8}}


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: cannot read"):
        read_thresholds(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"policy": 3}')
    with pytest.raises(ValueError, match="other.json: not a prodmatch thresholds file"):
        read_thresholds(tmp_path / "other.json")
    (tmp_path / "future.json").write_text('{"format": 9}')
    with pytest.raises(ValueError, match="future.json: thresholds format 9 is not one"):
        read_thresholds(tmp_path / "future.json")


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["matchers"][0]["policy"]["thresholds"].update(tfidf=2.0), r"tfidf=2.0 is outside"),
    (lambda d: d["matchers"][0]["policy"]["thresholds"].update(phash=float("nan")), r"phash=nan is outside"),
    (lambda d: d["matchers"][0]["policy"].update(min2_floor=-3.0), "min2 floor -3.0 is outside"),
    (lambda d: d.update(chosen="nearest"), "chosen matcher 'nearest' is not among"),
    (lambda d: d["matchers"].append({"kind": "union", "policy": d["matchers"][0]["policy"]}), "one matcher per kind"),
    (lambda d: d["matchers"][0].update(kind="magic"), "unknown matcher kind 'magic'"),
])
def test_edited_values_are_refused_on_load(tmp_path, edit, message):
    write_thresholds(tmp_path / "t.json", Thresholds(load_recipe("text-phash"), [_union()], "union"))
    data = json.loads((tmp_path / "t.json").read_text())
    edit(data)
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        read_thresholds(tmp_path / "t.json")


def test_a_pair_probability_out_of_range_is_refused(tmp_path):
    pair, _ = _pair_matcher()
    write_thresholds(tmp_path / "t.json", Thresholds(load_recipe("text-phash"), [_union(), pair], "pair-model"))
    data = json.loads((tmp_path / "t.json").read_text())
    data["matchers"][1]["matching"]["policy"]["thresholds"]["pair"] = 1.5
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="pair=1.5 is outside its scale's range"):
        read_thresholds(tmp_path / "t.json")


def test_the_side_file_of_a_submission():
    assert beside_submission("out/submission.csv").as_posix() == "out/submission.thresholds.json"


def test_the_pair_model_travels_inside_the_file(tmp_path):
    pair, features = _pair_matcher()
    saved = Thresholds(load_recipe("text-phash"), [_union(), pair], "pair-model", cv={"pair-model": {"nested_f1": 0.88}})
    write_thresholds(tmp_path / "t.json", saved)
    loaded = read_thresholds(tmp_path / "t.json")
    assert loaded.kinds == ["union", "pair-model"] and loaded.chosen == "pair-model"
    assert loaded.by_kind("union").policy == saved.by_kind("union").policy
    assert loaded.by_kind("pair-model").matching == pair.matching and loaded.cv == {"pair-model": {"nested_f1": 0.88}}
    np.testing.assert_array_equal(loaded.by_kind("pair-model").model.predict(features), pair.model.predict(features))


def test_files_of_format_1_still_load(tmp_path):
    """Before format 2 the union's policy and size curve sat at the top and the pair model under pair_model."""
    pair, _ = _pair_matcher()
    union = _union()
    old = {"recipe": load_recipe("text-phash").spec, "policy": union.policy.as_dict(), "size_curve": None,
           "tuned_on": {"n_rows": 10},
           "pair_model": {"use": True, "matching": pair.matching.as_dict(), "cv": {"pair_f1": 0.9},
                          "model": pair.model.as_dict()}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = read_thresholds(tmp_path / "old.json")
    assert loaded.kinds == ["union", "pair-model"] and loaded.chosen == "pair-model"
    assert loaded.by_kind("union").policy == union.policy and loaded.by_kind("pair-model").matching == pair.matching
    assert loaded.tuned_on == {"n_rows": 10} and loaded.cv == {"pair-model": {"pair_f1": 0.9}}
    old["pair_model"]["use"] = False
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert read_thresholds(tmp_path / "old.json").chosen == "union"
    del old["pair_model"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert read_thresholds(tmp_path / "old.json").kinds == ["union"]


def test_a_rule_that_cannot_run_falls_back_to_one_that_can(monkeypatch):
    pair, _ = _pair_matcher()
    import prodmatch.match.pair.matcher as matcher_module

    thresholds = Thresholds(load_recipe("text-phash"), [_union(), pair], "pair-model")
    assert thresholds.matcher() == (pair, [])
    matcher, notes = thresholds.matcher("union")
    assert matcher.kind == "union" and notes == ["matching with the union rule as asked; the pair-model rule won in CV"]
    monkeypatch.setattr(matcher_module, "lightgbm_available", lambda: False)
    matcher, notes = thresholds.matcher()
    assert matcher.kind == "union" and "LightGBM is not installed" in notes[0]
    with pytest.raises(ValueError, match="--matcher nearest: these thresholds hold union, pair-model"):
        thresholds.matcher("nearest")
