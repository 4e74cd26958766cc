"""Category-aware search: use predicted categories to filter or re-rank an index's candidates.

A search returns more candidates than wanted (``overfetch`` x k), then either

- ``filter``: keeps those whose index vector's category equals the query's (order kept), or
- ``bonus``: adds ``bonus`` to the score of every candidate in the query's category and re-sorts,

and cuts to k. Category ids are small ints per vector (one level of the tree, e.g. the leaf predicted by
:class:`prodmatch.models.hierarchy.HierarchicalHeads`); -1 means unknown. A query of unknown category is
left as the index returned it; an index vector of unknown category never counts as agreeing.
Empty slots are position -1 with score -inf, as the indexes return them. :class:`CategorySearch` says how a
search uses categories (mode ``none``, ``filter`` or ``bonus``, on which level); :func:`search_vectors` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.errors import ArgumentError
from prodmatch.visual.registry import CATEGORY_MODES, NO_CATEGORY, SEARCH_CATEGORY_MODES


def _check(scores: np.ndarray, positions: np.ndarray, index_categories: np.ndarray, query_categories: np.ndarray):
    if scores.shape != positions.shape or scores.ndim != 2:
        raise ValueError(f"scores and positions must be 2-D and equal in shape, got {scores.shape}, {positions.shape}")
    if not np.issubdtype(positions.dtype, np.integer):
        raise TypeError(f"positions must be integers, got {positions.dtype}")
    for name, ids in (("index_categories", index_categories), ("query_categories", query_categories)):
        if not isinstance(ids, np.ndarray) or ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"{name} must be a 1-D integer numpy array")
    if len(query_categories) != len(positions):
        raise ValueError(f"query_categories has {len(query_categories)} entries for {len(positions)} queries")
    if positions.size and positions.max() >= len(index_categories):
        raise ValueError(f"positions go up to {positions.max()} but index_categories has {len(index_categories)}")


def category_agreement(positions: np.ndarray, index_categories: np.ndarray, query_categories: np.ndarray) -> np.ndarray:
    """Boolean, like ``positions``: the candidate is a real slot whose category equals its query's."""
    valid = positions >= 0
    candidate = np.where(valid, index_categories[np.where(valid, positions, 0)], -1)
    return valid & (candidate == query_categories[:, None]) & (query_categories[:, None] >= 0)


def _take_first(order: np.ndarray, scores: np.ndarray, positions: np.ndarray, keep: np.ndarray, k: int):
    scores = np.take_along_axis(scores, order, axis=1)[:, :k].copy()
    positions = np.take_along_axis(positions, order, axis=1)[:, :k].copy()
    kept = np.take_along_axis(keep, order, axis=1)[:, :k]
    scores[~kept] = -np.inf
    positions[~kept] = -1
    return scores, positions


def filter_by_category(scores: np.ndarray, positions: np.ndarray, index_categories: np.ndarray,
                       query_categories: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The first k candidates in each query's category (queries of unknown category: the first k)."""
    _check(scores, positions, index_categories, query_categories)
    agree = category_agreement(positions, index_categories, query_categories)
    keep = np.where(query_categories[:, None] >= 0, agree, positions >= 0)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept first, score order unchanged
    return _take_first(order, scores, positions, keep, k)


def rerank_by_category(scores: np.ndarray, positions: np.ndarray, index_categories: np.ndarray,
                       query_categories: np.ndarray, k: int, bonus: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores plus ``bonus`` where the candidate's category agrees with the query's, re-sorted, top k."""
    _check(scores, positions, index_categories, query_categories)
    boosted = scores + np.float32(bonus) * category_agreement(positions, index_categories, query_categories)
    boosted = boosted.astype(np.float32)
    order = np.argsort(-boosted, axis=1, kind="stable")
    return _take_first(order, boosted, positions, positions >= 0, k)


def search_with_categories(index, queries: np.ndarray, k: int, index_categories: np.ndarray,
                           query_categories: np.ndarray, mode: str = "filter", overfetch: int = 4,
                           bonus: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` for ``overfetch * k`` candidates, then :func:`filter_by_category` or
    :func:`rerank_by_category` down to k."""
    if mode not in CATEGORY_MODES:
        raise ValueError(f"unknown category mode {mode!r}; choose from {CATEGORY_MODES}")
    if overfetch < 1:
        raise ValueError(f"overfetch must be >= 1, got {overfetch}")
    scores, positions = index.search(queries, k * overfetch)
    if mode == "filter":
        return filter_by_category(scores, positions, index_categories, query_categories, k)
    return rerank_by_category(scores, positions, index_categories, query_categories, k, bonus)


@dataclass(frozen=True)
class CategorySearch:
    """How predicted categories take part in a search: ``none``, ``filter`` or ``bonus`` on one level."""

    mode: str = NO_CATEGORY
    level: int = -1  # -1: the leaf
    bonus: float = 0.05
    overfetch: int = 4

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_CATEGORY_MODES:
            raise ArgumentError(f"unknown category mode {self.mode!r}; choose from {SEARCH_CATEGORY_MODES}")


def search_vectors(index, queries: np.ndarray, k: int, how: CategorySearch = CategorySearch(),
                   query_categories: np.ndarray | None = None,
                   index_categories: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, positions) of the query vectors in ``index``, plain or by predicted category
    (``*_categories``: (n, n_levels) class ids, from a model with hierarchical heads)."""
    if how.mode == NO_CATEGORY:
        return index.search(queries, k)
    if index_categories is None or query_categories is None:
        raise ArgumentError("category filtering needs predicted categories: build the index with a run trained with "
                            "hierarchical heads (hierarchy: true)")
    return search_with_categories(index, queries, k, index_categories[:, how.level], query_categories[:, how.level],
                                  mode=how.mode, overfetch=how.overfetch, bonus=how.bonus)
