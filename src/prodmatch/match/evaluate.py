"""Fast scoring of match policies on a labelled candidate table (the CV inner loop)."""

from __future__ import annotations

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.policy import MatchPolicy, PolicyApplier
from prodmatch.metrics import MatchScore, group_sizes, row_scores_from_counts


class PolicyEvaluator:
    """Scores policies against labels; self-matches are always predicted, as the submission writes them."""

    def __init__(self, table: CandidateTable, labels: np.ndarray, priority: list[str]):
        if table.n_query != table.n_index or len(labels) != table.n_query:
            raise ValueError("evaluation needs a square table over the labelled rows")
        self.applier = PolicyApplier(table, priority)
        self.table = table
        self.labels = np.asarray(labels)
        self.hit = self.labels[table.rows] == self.labels[table.cols]
        self.n_true = group_sizes(self.labels)

    def counts(self, policy: MatchPolicy):
        """(matched pair mask, true positives per row, predicted set size per row), self-matches included."""
        mask, matched = self.applier.apply(policy)
        tp = self.applier.row_segments.count(mask & self.hit).astype(np.float64) + 1.0
        return mask, tp, matched + 1

    def row_scores(self, policy: MatchPolicy):
        _, tp, n_pred = self.counts(policy)
        return row_scores_from_counts(tp, n_pred, self.n_true)

    def score(self, policy: MatchPolicy) -> MatchScore:
        f1, precision, recall = self.row_scores(policy)
        return MatchScore(float(f1.mean()), float(precision.mean()), float(recall.mean()), len(f1))
