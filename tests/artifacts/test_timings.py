"""The timings schema: stages in the order they ran, peak memory after each, JSON round trip."""

import json

import pytest

from prodmatch.artifacts.timings import StageTimings, read_timings, write_timings


def test_stages_are_timed_in_order_and_round_trip(tmp_path):
    timings = StageTimings(n_test=3, recipe="text-phash")
    with timings.stage("tune_cv"):
        pass
    with timings.stage("match"):
        timings.search_seconds = {"tfidf": 0.0}
    with pytest.raises(RuntimeError), timings.stage("write+validate"):
        raise RuntimeError("a failed stage is still timed")
    timings.finish()
    assert list(timings.seconds) == ["tune_cv", "match", "write+validate"]
    assert set(timings.peak_rss_gb) == set(timings.seconds) and all(v > 0 for v in timings.peak_rss_gb.values())
    write_timings(tmp_path / "t.json", timings)
    data = json.loads((tmp_path / "t.json").read_text())
    assert set(data) == {"n_test", "recipe", "seconds", "search_seconds", "peak_rss_gb_after_stage",
                         "peak_gpu_gb_after_stage", "total_seconds"}
    again = read_timings(tmp_path / "t.json")
    assert list(again.seconds) == list(timings.seconds) and again.n_test == 3 and again.search_seconds == {"tfidf": 0.0}
    assert "total" in timings.summary()
