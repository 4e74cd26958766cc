"""The CV table, size curve and policies as plain text. Thresholds print as their source's scale says
(cosine ``0.450``, phash ``d<=8``, ``off``)."""

from __future__ import annotations

import pandas as pd

from prodmatch.match import describe
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.size_aware import SizeCurve
from prodmatch.recipes import Recipe


def format_thresholds(thresholds: dict[str, float], recipe: Recipe) -> str:
    """``tfidf=0.520 phash=d<=8``."""
    return describe.format_thresholds(thresholds, recipe.scale_of)


def format_floor(policy: MatchPolicy, recipe: Recipe) -> str:
    return describe.format_floor(policy, recipe.scale_of)


def format_policy(policy: MatchPolicy, recipe: Recipe) -> str:
    """``tfidf=0.520 phash=d<=8, min2 floor 0.220`` (or ``, min2 off``)."""
    return describe.format_policy(policy, recipe.scale_of)


def format_table(rows: list[dict], recipe: Recipe) -> str:
    """The CV table: one row per source alone, then the union and the union with min2."""
    frame = pd.DataFrame(rows)
    frame["threshold"] = [format_thresholds(t, recipe) if isinstance(t, dict) else recipe.scale_of(s).threshold_text(t)
                          for t, s in zip(frame["threshold"], frame["source"])]
    for column in ("f1", "precision", "recall"):
        frame[column] = frame[column].map(lambda v: f"{v:.4f}")
    return frame.to_string(index=False)


def format_size_curve(curve: SizeCurve, recipe: Recipe, test_sizes: tuple[int, ...] = (70_000,)) -> str:
    lines = ["size-aware thresholds (tuned on pools of growing size; slope per doubling "
             + ", ".join(f"{k} +{v:.3f}" for k, v in curve.slopes().items()) + "):"]
    for size, policy in zip(curve.sizes, curve.policies):
        lines.append(f"  pool {size:>8.0f}: {format_thresholds(policy.thresholds, recipe)}  "
                     f"min2 floor {format_floor(policy, recipe)}")
    for n in test_sizes:
        policy = curve.policy_for(n)
        lines.append(f"  test {n:>8d}: {format_thresholds(policy.thresholds, recipe)}  "
                     f"min2 floor {format_floor(policy, recipe)}")
    return "\n".join(lines)


def format_pair_model(pair, recipe: Recipe, test_sizes: tuple[int, ...] = (70_000,), top: int = 10) -> str:
    """The pair model's lines under the CV table: the matching it chose, how its threshold moves with the test
    size, and its top features (``pair``: a :class:`prodmatch.cv.pair.run.PairModelCV`)."""
    matching = pair.matching
    lines = [f"pair model (LightGBM, {pair.model.rounds} rounds; early-stopped per fold: "
             f"{' '.join(map(str, pair.rounds))})",
             f"  {format_policy(matching.policy, recipe)}; graph steps: {matching.graph.describe()}"]
    if pair.size is not None:
        size = pair.size
        lines.append(f"  size check: best threshold {size.small_threshold:.2f} on folds searched alone "
                     f"({size.small_size:.0f} rows), {size.big_threshold:.2f} on two folds together "
                     f"({size.big_size:.0f}): {size.logit_slope:+.2f} logit per doubling")
    for n in test_sizes:
        lines.append(f"  test {n:>8d}: {format_policy(matching.for_test_size(n).policy, recipe)}")
    shares = ", ".join(f"{name} {share:.3f}" for name, share in list(pair.importances.items())[:top])
    lines.append(f"  top features (share of gain): {shares}")
    return "\n".join(lines)
