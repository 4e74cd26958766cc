"""CandidateTable: the union of every source's candidate pairs, one score column per source.

A pair that a source did not propose has score -inf for it. Thresholding, union, min2, cap, CV and the
report's galleries all read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prodmatch.search.neighbours import Neighbours

MISSING = np.float32(-np.inf)


@dataclass
class CandidateTable:
    rows: np.ndarray  # int64, sorted by (row, col), unique pairs
    cols: np.ndarray
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # source -> float32, MISSING where absent
    n_query: int = 0
    n_index: int = 0

    @property
    def sources(self) -> list[str]:
        return list(self.scores)

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_sources(cls, sources: dict[str, Neighbours]) -> CandidateTable:
        if not sources:
            raise ValueError("at least one candidate source is needed")
        shapes = {(nb.n_query, nb.n_index) for nb in sources.values()}
        if len(shapes) != 1:
            raise ValueError(f"sources disagree on (n_query, n_index): {sorted(shapes)}")
        n_query, n_index = shapes.pop()
        keys = [nb.rows * n_index + nb.cols for nb in sources.values()]
        union, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        scores: dict[str, np.ndarray] = {}
        start = 0
        for (name, nb), key in zip(sources.items(), keys):
            column = np.full(len(union), MISSING, dtype=np.float32)
            # a source may repeat a pair (e.g. concatenated searches): keep its best score
            np.maximum.at(column, inverse[start : start + len(key)], nb.scores)
            scores[name] = column
            start += len(key)
        return cls(union // n_index, union % n_index, scores, n_query, n_index)

    def score(self, source: str) -> np.ndarray:
        try:
            return self.scores[source]
        except KeyError:
            raise KeyError(f"unknown source {source!r}; table has {self.sources}") from None

    def subset(self, keep_rows: np.ndarray) -> CandidateTable:
        """The square sub-table over the rows in ``keep_rows`` (bool mask), renumbered 0..m-1.

        Pairs that leave the subset are dropped, so use it on tables whose pairs stay inside groups of rows
        (out-of-fold tables: pairs never cross folds).
        """
        if self.n_query != self.n_index:
            raise ValueError("subset needs a square table")
        keep_rows = np.asarray(keep_rows, dtype=bool)
        new_index = np.cumsum(keep_rows) - 1
        keep = keep_rows[self.rows] & keep_rows[self.cols]
        m = int(keep_rows.sum())
        return CandidateTable(
            new_index[self.rows[keep]], new_index[self.cols[keep]], {s: v[keep] for s, v in self.scores.items()}, m, m
        )
