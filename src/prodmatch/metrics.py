"""The competition metric: mean over rows of F1 between predicted and true match sets.

Each posting's true set is every posting of its label_group, itself included; its predicted set is what
the submission lists (itself included when listed). Row F1 = 2|P & T| / (|P| + |T|); the score is the
plain mean over rows. Precision and recall are reported the same way (row-wise means).

Kaggle capped test groups at 50 postings and asked for at most 50 matches per row; train.csv has a few
groups of 51. Scoring uses the true group as it is, and scores predictions as given (over-long ones are
penalised naturally); :mod:`prodmatch.artifacts.submission` refuses to write more than 50 matches.

Pair form: a prediction for n rows is a set of unique (row, col) index pairs. Working on pairs keeps a
threshold sweep over ~1M candidate pairs vectorised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MatchScore:
    f1: float
    precision: float
    recall: float
    n_rows: int

    def as_dict(self) -> dict:
        return asdict(self)


def group_sizes(labels: np.ndarray) -> np.ndarray:
    """Size of each row's label group (the row included)."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inverse]


def row_scores_from_counts(tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray):
    """Per-row (f1, precision, recall) from true-positive, predicted and true set sizes."""
    tp = tp.astype(np.float64)
    f1 = 2.0 * tp / np.maximum(n_pred + n_true, 1)
    precision = np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0)
    recall = np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0)
    return f1, precision, recall


def row_scores(rows: np.ndarray, cols: np.ndarray, labels: np.ndarray):
    """Per-row (f1, precision, recall) for unique predicted pairs ``rows[i] -> cols[i]``.

    ``labels`` holds the label_group of every row; rows and cols index into it. Self pairs count only
    when present in the pairs (the competition does not add them for you).
    """
    labels = np.asarray(labels)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if rows.shape != cols.shape:
        raise ValueError(f"rows and cols differ in shape: {rows.shape} vs {cols.shape}")
    n = len(labels)
    _check_unique_pairs(rows, cols, n)
    hit = labels[rows] == labels[cols]
    tp = np.bincount(rows, weights=hit, minlength=n)
    n_pred = np.bincount(rows, minlength=n)
    return row_scores_from_counts(tp, n_pred, group_sizes(labels))


def score_pairs(rows: np.ndarray, cols: np.ndarray, labels: np.ndarray) -> MatchScore:
    f1, precision, recall = row_scores(rows, cols, labels)
    return MatchScore(float(f1.mean()), float(precision.mean()), float(recall.mean()), len(f1))


def score_match_lists(
    predictions: Mapping[str, Sequence[str] | str], truth: Mapping[str, Sequence[str] | str]
) -> MatchScore:
    """Score id lists exactly like Kaggle: one row per id in ``truth``; a missing prediction scores 0.

    Values may be lists of ids or space-separated strings (the submission format).
    """
    f1s, precisions, recalls = [], [], []
    for posting_id, true_ids in truth.items():
        true_set = _as_set(true_ids)
        pred_set = _as_set(predictions.get(posting_id, ()))
        tp = len(true_set & pred_set)
        f1s.append(2.0 * tp / max(len(true_set) + len(pred_set), 1))
        precisions.append(tp / len(pred_set) if pred_set else 0.0)
        recalls.append(tp / len(true_set) if true_set else 0.0)
    return MatchScore(float(np.mean(f1s)), float(np.mean(precisions)), float(np.mean(recalls)), len(f1s))


def truth_from_labels(posting_ids: Sequence[str], labels: Sequence) -> dict[str, list[str]]:
    """posting_id -> every posting_id sharing its label_group (itself included)."""
    members: dict = {}
    for pid, label in zip(posting_ids, labels):
        members.setdefault(label, []).append(pid)
    return {pid: members[label] for pid, label in zip(posting_ids, labels)}


def _as_set(ids: Sequence[str] | str) -> set[str]:
    if isinstance(ids, str):
        return set(ids.split())
    return set(ids)


def _check_unique_pairs(rows: np.ndarray, cols: np.ndarray, n: int) -> None:
    if len(rows) == 0:
        return
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= n or cols.max() >= n:
        raise ValueError(f"pair indices out of range for {n} rows")
    keys = rows * n + cols
    if len(np.unique(keys)) != len(keys):
        raise ValueError("predicted pairs contain duplicates; deduplicate before scoring")
