"""Out-of-fold candidates: every fold searched on its own, the per-fold tables stacked."""

from __future__ import annotations

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.sources import search_all


def oof_candidates(features: Features, folds: np.ndarray, recipe: Recipe, progress: bool = False):
    """Search every fold on its own (candidates only among that fold's postings, about the size of a Kaggle
    test set's share); returns the stacked table and the seconds spent per source."""
    n = len(features)
    parts: dict[str, list[Neighbours]] = {s.name: [] for s in recipe.sources}
    timings = {s.name: 0.0 for s in recipe.sources}
    for fold in np.unique(folds):
        index = np.flatnonzero(folds == fold)
        found, seconds = search_all(recipe.sources, features.subset(index))
        for name, neighbours in found.items():
            parts[name].append(neighbours.offset(index, index, n, n))
            timings[name] += seconds[name]
        if progress:
            print(f"  fold {fold}: {len(index)} rows searched", flush=True)
    table = CandidateTable.from_sources({name: Neighbours.concat(p, n, n) for name, p in parts.items()})
    return table, timings
