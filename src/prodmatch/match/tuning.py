"""Threshold search: a sweep per source, then coordinate ascent over the union's thresholds.

Each source is tuned over its own grid of thresholds (``source.scale.grid()``: cosine 0.10..0.99, phash
whole Hamming distances); the caller passes the grids, so nothing here depends on what a source is called.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy
from prodmatch.metrics import MatchScore

NEVER = float("inf")  # a threshold that switches a source off in the union


@dataclass
class SweepPoint:
    threshold: float
    score: MatchScore


def sweep(evaluator: PolicyEvaluator, base: MatchPolicy, source: str, grid: np.ndarray) -> list[SweepPoint]:
    """Score ``base`` with ``source``'s threshold set to each grid value (others unchanged)."""
    out = []
    for threshold in grid:
        policy = replace(base, thresholds={**base.thresholds, source: float(threshold)})
        out.append(SweepPoint(float(threshold), evaluator.score(policy)))
    return out


def best_point(points: list[SweepPoint]) -> SweepPoint:
    # ties go to the higher threshold (fewer matches generalise better to bigger test sets)
    return max(points, key=lambda p: (round(p.score.f1, 9), p.threshold))


def tune_source(evaluator: PolicyEvaluator, source: str, grid: np.ndarray, min2: bool = True):
    """Best threshold of one source on its own, plus the whole curve (for the report)."""
    base = MatchPolicy({source: float(grid[0])}, priority=evaluator.applier.priority, min2=min2)
    points = sweep(evaluator, base, source, grid)
    return best_point(points), points


def coarse_to_fine(score_of, grid: np.ndarray, stride: int = 5) -> tuple[float, MatchScore]:
    """Best grid value of ``score_of``: every ``stride``-th point first, then every point around the best.

    F1 against a threshold is close to unimodal, so this finds the grid optimum with ~1/3 of the evaluations.
    """
    grid = np.asarray(grid, dtype=np.float64)
    if len(grid) <= 2 * stride:
        coarse_index = np.arange(len(grid))
    else:
        coarse_index = np.unique(np.r_[np.arange(0, len(grid), stride), len(grid) - 1])
    scored = {int(i): score_of(grid[i]) for i in coarse_index}
    best_i = max(scored, key=lambda i: (round(scored[i].f1, 9), grid[i]))
    for i in range(max(best_i - stride + 1, 0), min(best_i + stride, len(grid))):
        if i not in scored:
            scored[i] = score_of(grid[i])
    best_i = max(scored, key=lambda i: (round(scored[i].f1, 9), grid[i]))
    return float(grid[best_i]), scored[best_i]


def tune_union(
    evaluator: PolicyEvaluator,
    start: MatchPolicy,
    grids: dict[str, np.ndarray],
    rounds: int = 3,
    tune_floor: bool = True,
) -> tuple[MatchPolicy, MatchScore]:
    """Coordinate ascent: re-tune one source's threshold at a time, the others fixed, until stable.

    ``grids`` holds the thresholds to try for every source in ``start``. Each source may also be switched
    off (infinite threshold), so the union can drop a source that only hurts. With ``tune_floor`` the min2
    floor is searched too, on the first priority source's grid.
    """
    missing = sorted(set(start.thresholds) - set(grids))
    if missing:
        raise ValueError(f"no threshold grid for source(s) {missing}")
    grids = {s: grids[s] for s in start.thresholds}
    policy = start
    best = evaluator.score(policy)
    for _ in range(rounds):
        improved = False
        for source, grid in grids.items():
            def with_threshold(t, source=source, policy=policy):  # bound now: called within this step
                return evaluator.score(replace(policy, thresholds={**policy.thresholds, source: float(t)}))

            threshold, score = coarse_to_fine(with_threshold, grid)
            off = with_threshold(NEVER)
            if off.f1 > score.f1 + 1e-9:
                threshold, score = NEVER, off
            if score.f1 > best.f1 + 1e-9:
                policy = replace(policy, thresholds={**policy.thresholds, source: threshold})
                best, improved = score, True
        if tune_floor and policy.min2:
            def with_floor(floor, policy=policy):
                return evaluator.score(replace(policy, min2_floor=float(floor)))

            floor, score = coarse_to_fine(with_floor, grids[policy.priority[0]])
            no_floor = with_floor(-np.inf)
            if no_floor.f1 >= score.f1 - 1e-9:
                floor, score = -np.inf, no_floor
            if score.f1 > best.f1 + 1e-9:
                policy, best, improved = replace(policy, min2_floor=floor), score, True
        if not improved:
            break
    return policy, best
