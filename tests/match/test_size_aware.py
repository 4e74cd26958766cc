import numpy as np
import pytest

from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve


def curve(tfidf=(0.40, 0.45, 0.50), phash=(0.84, 0.875, 0.875), floors=(0.2, 0.2, 0.25)):
    policies = [MatchPolicy({"tfidf": t, "phash": p}, priority=["tfidf", "phash"], min2_floor=f)
                for t, p, f in zip(tfidf, phash, floors)]
    return SizeCurve([1000.0, 2000.0, 4000.0], policies, drifting=["tfidf"])


def test_thresholds_follow_log_size_beyond_the_largest_pool():
    c = curve()
    assert c.slopes() == {"tfidf": pytest.approx(0.05)}
    at_16k = c.policy_for(16000)  # two doublings past 4000
    assert at_16k.thresholds["tfidf"] == pytest.approx(0.60)
    assert at_16k.thresholds["phash"] == 0.875  # not drifting: kept
    assert at_16k.min2_floor == pytest.approx(0.35)  # moves with the primary source


def test_within_and_below_the_tuned_range():
    c = curve()
    assert c.policy_for(2000).thresholds["tfidf"] == pytest.approx(0.45)
    assert c.policy_for(2828).thresholds["tfidf"] == pytest.approx(0.475, abs=1e-3)  # half a doubling
    small = c.policy_for(3)
    assert small.thresholds == {"tfidf": 0.40, "phash": 0.84} and small.min2_floor == 0.2


def test_slope_is_never_negative_and_switched_off_sources_stay_off():
    falling = curve(tfidf=(0.6, 0.55, 0.5))
    assert falling.slopes()["tfidf"] == 0.0 and falling.policy_for(10**6).thresholds["tfidf"] == 0.5
    off = curve(tfidf=(0.4, np.inf, 0.5))
    assert off.slopes()["tfidf"] == 0.0
    last_off = curve(tfidf=(0.4, 0.45, np.inf))
    assert last_off.policy_for(10**5).thresholds["tfidf"] == np.inf


def test_round_trip():
    c = curve()
    back = SizeCurve.from_dict(c.as_dict())
    assert back.policy_for(9000).thresholds == c.policy_for(9000).thresholds
    with pytest.raises(ValueError, match="ascending"):
        SizeCurve([2.0, 1.0], c.policies[:2], ["tfidf"])


def test_secondary_sources_drift_with_their_stand_alone_optimum():
    # the union threshold of a secondary source jumps around; its stand-alone optimum gives the slope
    policies = [MatchPolicy({"text": t, "tfidf": u}, priority=["text", "tfidf"]) for t, u in
                ((0.5, 0.45), (0.55, 0.40), (0.60, 0.86))]
    alone = [{"text": 0.45, "tfidf": 0.40}, {"text": 0.5, "tfidf": 0.43}, {"text": 0.55, "tfidf": 0.46}]
    c = SizeCurve([1000.0, 2000.0, 4000.0], policies, drifting=["text", "tfidf"], alone=alone)
    assert c.slopes() == {"text": pytest.approx(0.05), "tfidf": pytest.approx(0.03)}
    at_8k = c.policy_for(8000)
    assert at_8k.thresholds == {"text": pytest.approx(0.65), "tfidf": pytest.approx(0.89)}
    assert SizeCurve.from_dict(c.as_dict()).slopes() == c.slopes()


def test_a_threshold_moved_far_past_the_tuned_sizes_is_bounded_with_a_warning():
    # a slope fitted on pools of 500-1,000 rows used to be carried 6 doublings to 70,000 rows (tfidf=1.062)
    from prodmatch.match.size_aware import MAX_EXTRAPOLATED_DOUBLINGS, SizeCurveWarning

    def curve(top, ceilings=None):
        return SizeCurve([500.0, 1000.0], [MatchPolicy({"tfidf": t}, priority=["tfidf"], min2_floor=0.3)
                                           for t in (0.50, top)], drifting=["tfidf"], ceilings=ceilings)

    assert MAX_EXTRAPOLATED_DOUBLINGS == 2
    with pytest.warns(SizeCurveWarning, match=r"70000 test rows are 6\.1 doublings past the largest pool tuned"):
        policy = curve(0.58, {"tfidf": 0.99}).policy_for(70_000)
    assert policy.thresholds["tfidf"] == pytest.approx(0.58 + 2 * 0.08)  # two doublings of the slope, no more
    assert policy.min2_floor == pytest.approx(0.3 + 2 * 0.08)
    with pytest.warns(SizeCurveWarning) as caught:
        policy = curve(0.80, {"tfidf": 0.99}).policy_for(70_000)  # 0.80 + 2 * 0.30 > any cosine
    assert policy.thresholds["tfidf"] == 0.99 and any("clamped" in str(w.message) for w in caught)
    steep = curve(0.80, {"tfidf": 0.99})
    assert SizeCurve.from_dict(steep.as_dict()).ceiling("tfidf") == 0.99
    old_file = {k: v for k, v in steep.as_dict().items() if k != "ceilings"}  # thresholds.json from before
    with pytest.warns(SizeCurveWarning):
        assert SizeCurve.from_dict(old_file).policy_for(70_000).thresholds["tfidf"] == 1.0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within two doublings: moved as fitted, without a word
        assert curve(0.58).policy_for(4000).thresholds["tfidf"] == pytest.approx(0.58 + 2 * 0.08)
