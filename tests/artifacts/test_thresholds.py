"""thresholds.json: round trip with its recipe and size curve; unreadable files named."""

import numpy as np
import pytest

from prodmatch.artifacts.thresholds import Thresholds, beside_submission, read_thresholds, write_thresholds
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.recipes import load_recipe


def test_round_trip(tmp_path):
    policies = [MatchPolicy({"tfidf": 0.5, "phash": np.inf}, min2_floor=0.3),
                MatchPolicy({"tfidf": 0.6, "phash": 0.9}, min2_floor=-np.inf)]
    curve = SizeCurve([1000.0, 2000.0], policies, ["tfidf"], [{"tfidf": 0.5, "phash": 0.9}] * 2)
    saved = Thresholds(policies[1], load_recipe("text-phash"), curve, {"n_rows": 2000})
    write_thresholds(tmp_path / "t.json", saved)
    loaded = read_thresholds(tmp_path / "t.json")
    assert loaded.policy == policies[1] and loaded.recipe.spec == saved.recipe.spec
    assert loaded.size_curve.policies[0].thresholds["phash"] == np.inf and loaded.tuned_on == {"n_rows": 2000}
    assert loaded.size_curve.policy_for(4000).thresholds == curve.policy_for(4000).thresholds


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: cannot read"):
        read_thresholds(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"policy": 3}')
    with pytest.raises(ValueError, match="other.json: not a prodmatch thresholds file"):
        read_thresholds(tmp_path / "other.json")


def test_the_side_file_of_a_submission():
    assert beside_submission("out/submission.csv").as_posix() == "out/submission.thresholds.json"


def test_the_pair_model_travels_inside_the_file(tmp_path):
    pytest.importorskip("lightgbm")
    from prodmatch.artifacts.thresholds import PairThresholds
    from prodmatch.match.pair.graph import GraphSteps
    from prodmatch.match.pair.features import PairFeatures
    from prodmatch.match.pair.matching import PairMatching, pair_policy
    from prodmatch.match.pair.model import fit_pair_model_rounds

    rng = np.random.default_rng(0)
    features = PairFeatures(["a", "b"], rng.random((200, 2), dtype=np.float32))
    model = fit_pair_model_rounds(features, features.values[:, 0] > 0.5, rounds=5)
    matching = PairMatching(pair_policy(0.6, min2_floor=0.3), GraphSteps(two_hop_edge=0.7), 5400.0, 0.8)
    saved = Thresholds(MatchPolicy({"tfidf": 0.5, "phash": 0.9}), load_recipe("text-phash"),
                       pair=PairThresholds(model, matching, use=True, cv={"pair_nested_f1": 0.88}))
    write_thresholds(tmp_path / "t.json", saved)
    loaded = read_thresholds(tmp_path / "t.json")
    assert loaded.policy == saved.policy and loaded.pair.use and loaded.pair.matching == matching
    assert loaded.pair.cv == {"pair_nested_f1": 0.88}
    np.testing.assert_array_equal(loaded.pair.model.predict(features), model.predict(features))
    write_thresholds(tmp_path / "u.json", Thresholds(saved.policy, saved.recipe))
    assert read_thresholds(tmp_path / "u.json").pair is None
