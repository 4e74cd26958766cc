"""Pair features: everything a pair model reads about one candidate pair, for every pair at once.

Per source (any kind: TF-IDF, phash, embeddings -- named by the source, never branched on): its score for
the pair computed from its own vectors (also for pairs it did not propose), whether it proposed the pair,
the pair's rank in both directions, the gap to each side's best and k-th candidate, and each side's density
(candidates above two levels of the source's scale). Then the title features
(:mod:`prodmatch.match.pair.title_features`), and the features of any fields beside the title
(:mod:`prodmatch.match.pair.field_features`; none in the Kaggle layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.field_features import field_pair_features
from prodmatch.match.pair.neighbourhood import density, ranks_within_rows, reverse_positions, value_at_rank
from prodmatch.match.pair.title_features import title_pair_features
from prodmatch.search.features import PostingFields

KTH_RANK = 5  # the gap to a posting's 5th-best candidate says how crowded its neighbourhood is
DENSITY_LEVELS = (0.4, 0.7)  # positions along a source's tuning grid where density is counted


@dataclass
class PairFeatures:
    names: list[str]
    values: np.ndarray  # (n_pairs, n_features) float32, NaN = missing (e.g. the rank of an unproposed pair);
    # built column by column, so column-major (Fortran) order; any layout is accepted

    def __post_init__(self) -> None:
        if self.values.dtype != np.float32 or self.values.ndim != 2:
            raise TypeError(f"pair features must be a 2-D float32 array, got {self.values.dtype} {self.values.shape}")
        if self.values.shape[1] != len(self.names):
            raise ValueError(f"{self.values.shape[1]} feature columns for {len(self.names)} names")
        if len(set(self.names)) != len(self.names):
            raise ValueError("feature names must be unique")

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def take(self, index: np.ndarray) -> PairFeatures:
        return PairFeatures(self.names, np.asfortranarray(self.values[index]))

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray]) -> PairFeatures:
        names = list(columns)
        n = len(next(iter(columns.values()))) if columns else 0
        values = np.empty((n, len(names)), dtype=np.float32, order="F")
        for i, name in enumerate(names):
            values[:, i] = columns[name]
        return cls(names, values)

    @staticmethod
    def concat(parts: list[PairFeatures]) -> PairFeatures:
        names = {tuple(p.names) for p in parts}
        if len(names) != 1:
            raise ValueError("pair features to stack must have the same columns")
        return PairFeatures(list(names.pop()), np.asfortranarray(np.concatenate([p.values for p in parts])))


def density_levels(scale) -> list[float]:
    """Score levels at fixed positions along the scale's tuning grid (cosine ~0.45/0.72, phash d<=6/d<=11)."""
    grid = np.asarray(scale.grid(), dtype=np.float64)
    return [float(grid[int(round(f * (len(grid) - 1)))]) for f in DENSITY_LEVELS]


def source_pair_features(table: CandidateTable, name: str, exact: np.ndarray, levels: list[float],
                         reverse: np.ndarray) -> dict[str, np.ndarray]:
    """One source's features: ``exact`` is its score for every pair (``source.score_pairs``), the table's
    column says which pairs it proposed; ``reverse``: each pair's reverse position (``reverse_positions``)."""
    proposed_score = table.score(name)
    ranks = ranks_within_rows(table, proposed_score)
    rank_ba = np.where(reverse >= 0, ranks[np.maximum(reverse, 0)], np.nan).astype(np.float32)
    best = value_at_rank(table, proposed_score, ranks, 1)
    kth = value_at_rank(table, proposed_score, ranks, KTH_RANK)
    rows, cols = table.rows, table.cols
    out = {
        f"{name}.score": exact,
        f"{name}.proposed": np.isfinite(proposed_score).astype(np.float32),
        f"{name}.rank_ab": ranks,
        f"{name}.rank_ba": rank_ba,
        f"{name}.gap_best_a": best[rows] - exact,
        f"{name}.gap_best_b": best[cols] - exact,
        f"{name}.gap_kth_a": exact - kth[rows],
        f"{name}.gap_kth_b": exact - kth[cols],
    }
    for i, level in enumerate(levels):
        counts = density(table, proposed_score, level)
        out[f"{name}.density{i}_a"] = counts[rows]
        out[f"{name}.density{i}_b"] = counts[cols]
    return out


def pair_features(table: CandidateTable, titles: list[str], sources: list, vectors: dict,
                  fields: PostingFields | None = None) -> PairFeatures:
    """Features of every pair in ``table`` (one set of postings, searched together).

    ``sources``: the recipe's source objects (``name``, ``scale``, ``score_pairs``); ``vectors``: what each
    searched (``search_all_with_vectors``); ``titles``: the cleaned titles; ``fields``: the postings' fields
    beside the title, if any (their features come last).
    """
    if table.n_query != table.n_index or len(titles) != table.n_query:
        raise ValueError("pair features need a square table over the postings whose titles are given")
    columns: dict[str, np.ndarray] = {}
    reverse = reverse_positions(table)
    for source in sources:
        exact = source.score_pairs(vectors[source.name], table.rows, table.cols).astype(np.float32, copy=False)
        columns.update(source_pair_features(table, source.name, exact, density_levels(source.scale), reverse))
    columns.update(title_pair_features(titles, table.rows, table.cols, reverse))
    if fields is not None:
        columns.update(field_pair_features(titles, fields, table.rows, table.cols, reverse))
    return PairFeatures.from_columns(columns)
