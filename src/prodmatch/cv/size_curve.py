"""Tuning on pools of growing size, for thresholds that follow the test size (prodmatch.match.size_aware)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from prodmatch.cv.oof import oof_candidates
from prodmatch.cv.tune import tune_policy
from prodmatch.data.folds import fold_ids_of_groups
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.size_aware import SizeCurve
from prodmatch.progress import progress_bar
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

SIZE_LEVELS = (8, 4, 2, 1)  # the train rows split into this many pools: pool sizes n/8 .. n
MIN_POOL_SIZE = 500  # smaller pools say little about how thresholds drift


def pool_ids(labels: np.ndarray, n_pools: int, salt: str = "size") -> np.ndarray:
    """Group-wise split into ``n_pools`` pools (a whole label_group always shares a pool)."""
    if n_pools == 1:
        return np.zeros(len(labels), dtype=np.int64)
    return fold_ids_of_groups(labels, n_pools, salt)


def usable_levels(n_rows: int, levels: tuple[int, ...] = SIZE_LEVELS, min_pool_size: int = MIN_POOL_SIZE) -> list[int]:
    """The pool counts whose pools hold at least ``min_pool_size`` rows."""
    return [m for m in levels if n_rows / m >= min_pool_size]


def size_curve_skipped(n_rows: int, levels: tuple[int, ...] = SIZE_LEVELS, min_pool_size: int = MIN_POOL_SIZE) -> str:
    """Why no size curve is fitted on ``n_rows`` rows (a note for the CV output)."""
    return (f"size curve skipped: {n_rows} rows give {len(usable_levels(n_rows, levels, min_pool_size))} pool size(s) "
            f"of >= {min_pool_size} rows and a curve needs 2 (>= {2 * min_pool_size} rows); the thresholds stay as "
            "tuned, whatever the test size")


def tune_size_curve(features: Features, labels: np.ndarray, recipe: Recipe, levels: tuple[int, ...] = SIZE_LEVELS,
                    min_pool_size: int = MIN_POOL_SIZE, progress: bool = False,
                    table_of: Callable[[int], CandidateTable] | None = None) -> tuple[SizeCurve | None, list[dict]]:
    """Tune the policy on pools of decreasing count (growing size); see prodmatch.match.size_aware.

    Levels whose pools would hold fewer than ``min_pool_size`` rows are skipped; with fewer than two levels
    left there is no curve (None; :func:`size_curve_skipped` says why): the data is too small to see a drift,
    and thresholds stay as tuned. The curve keeps each drifting source's highest tunable threshold, so a
    threshold moved to a large test size never passes it. ``table_of(n_pools)`` gives a level's out-of-fold
    candidates when they were searched already (default: search them here).
    """
    levels = usable_levels(len(labels), levels, min_pool_size)
    if len(levels) < 2:
        return None, []
    sizes, policies, alone, rows = [], [], [], []
    for n_pools in progress_bar(sorted(levels, reverse=True), "size curve", enabled=progress):
        if table_of is not None:
            table = table_of(n_pools)
        else:
            table, _ = oof_candidates(features, pool_ids(labels, n_pools), recipe)
        tuned = tune_policy(table, labels, recipe, report_sources=False)
        sizes.append(len(labels) / n_pools)
        policies.append(tuned.policy)
        alone.append(tuned.alone)
        rows.append({"pools": n_pools, "pool_size": round(len(labels) / n_pools), **tuned.rows[-1]})
    ceilings = {name: float(recipe.scale_of(name).grid().max()) for name in recipe.drifting_sources}
    return SizeCurve(sizes, policies, recipe.drifting_sources, alone, ceilings), rows
