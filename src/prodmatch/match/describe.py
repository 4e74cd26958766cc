"""Policies as plain text, each threshold printed as its column's scale says (cosine ``0.450``, phash ``d<=8``,
probability ``p>=0.600``, ``off``). ``scale_of`` maps a column's name to its scale
(:mod:`prodmatch.search.scales`), e.g. a recipe's ``scale_of``."""

from __future__ import annotations

import numpy as np

from prodmatch.match.policy import MatchPolicy


def format_thresholds(thresholds: dict[str, float], scale_of) -> str:
    """``tfidf=0.520 phash=d<=8``."""
    return " ".join(f"{name}={scale_of(name).threshold_text(value)}" for name, value in thresholds.items())


def format_floor(policy: MatchPolicy, scale_of) -> str:
    """The min2 floor on the first priority source's scale; ``none`` when min2 takes any best candidate."""
    if not np.isfinite(policy.min2_floor):
        return "none"
    return scale_of(policy.priority[0]).threshold_text(policy.min2_floor)


def format_policy(policy: MatchPolicy, scale_of) -> str:
    """``tfidf=0.520 phash=d<=8, min2 floor 0.220`` (or ``, min2 off``)."""
    min2 = f"min2 floor {format_floor(policy, scale_of)}" if policy.min2 else "min2 off"
    return f"{format_thresholds(policy.thresholds, scale_of)}, {min2}"
