"""Plain-text CV output: thresholds print on their source's scale, whatever the source is called."""

import numpy as np

from prodmatch.cv.format import format_policy, format_size_curve, format_table, format_thresholds
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.recipes import recipe_from_dict

RECIPE = recipe_from_dict({"name": "r", "sources": [{"type": "tfidf", "name": "words"},
                                                     {"type": "phash", "name": "imghash"}]})


def test_thresholds_and_policies():
    assert format_thresholds({"words": 0.52, "imghash": 1 - 8 / 64}, RECIPE) == "words=0.520 imghash=d<=8"
    assert format_thresholds({"words": np.inf, "imghash": 1.0}, RECIPE) == "words=off imghash=d<=0"
    policy = MatchPolicy({"words": 0.5, "imghash": 0.875}, priority=["words", "imghash"], min2_floor=0.25)
    assert format_policy(policy, RECIPE) == "words=0.500 imghash=d<=8, min2 floor 0.250"
    no_floor = MatchPolicy({"words": 0.5}, min2_floor=-np.inf)
    assert format_policy(no_floor, RECIPE).endswith("min2 floor none")


def test_table_rows():
    rows = [{"source": "words", "threshold": 0.45, "f1": 0.8, "precision": 0.9, "recall": 0.7},
            {"source": "imghash", "threshold": 1 - 10 / 64, "f1": 0.6, "precision": 0.97, "recall": 0.5},
            {"source": "union", "threshold": {"words": 0.47, "imghash": 0.875}, "f1": 0.83, "precision": 0.9,
             "recall": 0.85}]
    lines = format_table(rows, RECIPE).splitlines()
    assert "0.450" in lines[1] and "d<=10" in lines[2] and "words=0.470 imghash=d<=8" in lines[3]


def test_size_curve_lines():
    policies = [MatchPolicy({"words": 0.5, "imghash": 0.875}, min2_floor=0.2),
                MatchPolicy({"words": 0.6, "imghash": 0.875}, min2_floor=0.3)]
    curve = SizeCurve([1000.0, 2000.0], policies, ["words"])
    text = format_size_curve(curve, RECIPE, (4000,))
    assert "slope per doubling words +0.100" in text and "test     4000: words=0.700 imghash=d<=8  min2 floor 0.400" in text
