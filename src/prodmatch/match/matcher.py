"""The decision rule: one :class:`Matcher` protocol, whatever turns candidate pairs into matches.

A matcher is tuned by CV (``prodmatch.cv``), saved in ``thresholds.json`` and replayed on a test set. The
flows never ask which rule it is: they move it to the test size (:meth:`Matcher.for_test_size`), let it
match one set of postings (:meth:`Matcher.match`), print :meth:`Matcher.describe` and save
:meth:`Matcher.as_dict`. Today's rules: the union of the sources' thresholds (:mod:`prodmatch.match.union`)
and the LightGBM pair model (:mod:`prodmatch.match.pair.matcher`). A new rule is a new class here and a line
in :mod:`prodmatch.match.kinds`, not a new branch anywhere else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
import pandas as pd

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.kinds import MATCHER_CLASSES, MATCHER_KINDS
from prodmatch.match.policy import match_lists
from prodmatch.metrics import MatchScore, group_sizes, row_scores_from_counts
from prodmatch.search.features import Features


@dataclass
class Matched:
    """One set of postings matched together: the candidate table the rule read (with the column it ranks by),
    which non-self pairs match, and the pairs' order (per row, best first)."""

    table: CandidateTable
    mask: np.ndarray  # bool per pair: matched (self pairs excluded)
    order: np.ndarray  # pair positions sorted by row, then best first (the rule's priority)
    score_column: str  # the column whose score ranks a posting's matches (the rule's first priority)
    seconds: dict[str, float] = field(default_factory=dict)  # per source search, then the rule's own stages

    def __post_init__(self) -> None:
        if self.mask.dtype != np.bool_ or self.mask.shape != (len(self.table),):
            raise TypeError(f"one bool per pair needed, got {self.mask.dtype} {self.mask.shape}")

    def match_lists(self, posting_ids) -> list[list[str]]:
        """Per posting: itself first, then its matches best first."""
        return match_lists(self.table, self.mask, posting_ids, posting_ids, self.order)

    def match_counts(self) -> np.ndarray:
        """Matches per posting, itself included."""
        return np.bincount(self.table.rows[self.mask], minlength=self.table.n_query) + 1

    def degenerate(self, cap: int | None = None) -> str | None:
        """Why this result looks broken rather than matched -- almost every posting left alone, or most at the
        cap -- or None. Tables under :data:`DEGENERATE_MIN_ROWS` postings are not judged (a few unrelated
        postings may well all be alone)."""
        counts = self.match_counts()
        n = len(counts)
        if n < DEGENERATE_MIN_ROWS:
            return None
        alone = float((counts == 1).mean())
        if alone >= DEGENERATE_ALONE_SHARE:
            return f"{alone:.1%} of the {n} postings matched nothing but themselves"
        if cap is not None and float((counts >= cap).mean()) >= DEGENERATE_CAPPED_SHARE:
            return f"{float((counts >= cap).mean()):.1%} of the {n} postings reached the cap of {cap} matches"
        return None

    def score(self, labels) -> MatchScore:
        """Row-wise F1, precision and recall against true groups (``labels``: one group per posting)."""
        labels = np.asarray(labels)
        n = self.table.n_query
        if len(labels) != n or self.table.n_index != n:
            raise ValueError(f"{len(labels)} labels for {n} postings matched among themselves")
        rows, cols = self.table.rows[self.mask], self.table.cols[self.mask]
        tp = np.bincount(rows[labels[rows] == labels[cols]], minlength=n) + 1
        f1, precision, recall = row_scores_from_counts(tp, self.match_counts(), group_sizes(labels))
        return MatchScore(float(f1.mean()), float(precision.mean()), float(recall.mean()), n)

    def pairs(self, posting_ids) -> pd.DataFrame:
        """The matched pairs once each (``id_a`` < ``id_b`` by position), with the score the rule ranked them by
        (the higher of the two directions)."""
        ids = np.asarray(posting_ids, dtype=object)
        rows, cols = self.table.rows[self.mask], self.table.cols[self.mask]
        score = self.table.score(self.score_column)[self.mask]
        a, b = np.minimum(rows, cols), np.maximum(rows, cols)
        frame = pd.DataFrame({"a": a, "b": b, "score": score}).groupby(["a", "b"], sort=True)["score"].max()
        a, b = frame.index.get_level_values(0).to_numpy(), frame.index.get_level_values(1).to_numpy()
        return pd.DataFrame({"id_a": ids[a], "id_b": ids[b], "score": frame.to_numpy(dtype=np.float32)})


DEGENERATE_MIN_ROWS = 100
DEGENERATE_ALONE_SHARE = 0.98  # real catalogues hold duplicates: a result this lonely means a threshold moved too far
DEGENERATE_CAPPED_SHARE = 0.5

ScaleOf = Callable[[str], object]  # a column's name -> its scale (prodmatch.search.scales)


class Matcher(Protocol):
    """A decision rule, tuned at fold size."""

    kind: ClassVar[str]  # its name in thresholds.json and on the command line (prodmatch.match.kinds)

    def unavailable(self) -> str | None:
        """Why this rule cannot run here (e.g. a library it needs is missing), or None."""

    def for_test_size(self, n_rows: int) -> Matcher:
        """The rule for ``n_rows`` postings searched together (itself where it does not move with the size)."""

    def match(self, features: Features, sources: list) -> Matched:
        """Match one set of postings: search them with ``sources`` (the recipe's), then decide."""

    def check(self, scale_of: ScaleOf) -> list[str]:
        """What is wrong with its values (e.g. read from an edited file): thresholds outside their range, NaN."""

    def describe(self, scale_of: ScaleOf) -> str:
        """One line: its thresholds as their scales print them, and its other settings."""

    def as_dict(self) -> dict:
        """JSON-safe, with ``kind``; :func:`matcher_from_dict` reads it back."""


def matcher_class(kind: str):
    """The class behind a registered kind (imported only when asked for)."""
    if kind not in MATCHER_CLASSES:
        raise ValueError(f"unknown matcher kind {kind!r}; known: {', '.join(MATCHER_KINDS)}")
    module, name = MATCHER_CLASSES[kind].split(":")
    return getattr(importlib.import_module(module), name)


def matcher_from_dict(data: dict) -> Matcher:
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError("a saved matcher needs its 'kind'")
    return matcher_class(data["kind"]).from_dict(data)
