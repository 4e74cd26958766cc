"""How good a deduplication is, from cluster ids: pairwise precision/recall/F1, cluster metrics, and the
row-wise F1 (the Kaggle metric, :mod:`prodmatch.metrics`) beside them.

- **Pairwise**: the pairs a clustering implies (every two records of one cluster) against the true ones:
  precision = shared pairs / predicted pairs, recall = shared pairs / true pairs. Counted from the
  contingency of (predicted, true) cluster ids, never by listing pairs: ``sum C(n, 2)`` per cell.
- **Clusters**: the adjusted Rand index, and the share of true clusters reproduced exactly (recall) and of
  predicted clusters that are exactly a true one (precision), singletons included.
- **Row-wise F1**: per record, F1 between its predicted cluster and its true cluster (both include the record),
  averaged over records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class PairScore:
    f1: float
    precision: float
    recall: float
    true_positives: int
    predicted: int  # pairs predicted
    actual: int  # true pairs

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_counts(cls, tp: int, predicted: int, actual: int) -> PairScore:
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * tp / (predicted + actual) if predicted + actual else 0.0
        return cls(float(f1), float(precision), float(recall), int(tp), int(predicted), int(actual))


@dataclass(frozen=True)
class ClusterScore:
    adjusted_rand: float
    exact_precision: float  # predicted clusters that are exactly a true cluster
    exact_recall: float  # true clusters reproduced exactly
    n_predicted: int
    n_true: int
    singleton_share: float  # predicted clusters of one record, as a share of records

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DedupScore:
    pairwise: PairScore
    clusters: ClusterScore
    row_f1: float
    n_rows: int

    def as_dict(self) -> dict:
        return {"pairwise": self.pairwise.as_dict(), "clusters": self.clusters.as_dict(), "row_f1": self.row_f1,
                "n_rows": self.n_rows}

    def line(self) -> str:
        p = self.pairwise
        return (f"pairwise F1 {p.f1:.4f} (precision {p.precision:.4f}, recall {p.recall:.4f}; {p.true_positives} of "
                f"{p.predicted} predicted pairs right, {p.actual} true), row-wise F1 {self.row_f1:.4f}, adjusted Rand "
                f"{self.clusters.adjusted_rand:.4f}, {self.clusters.n_predicted} clusters ({self.clusters.n_true} true)")


def _ids(clusters: np.ndarray, name: str) -> np.ndarray:
    clusters = np.asarray(clusters)
    if clusters.ndim != 1:
        raise ValueError(f"{name} must be one cluster id per record")
    return np.unique(clusters, return_inverse=True)[1].astype(np.int64)


def pairs_within(sizes: np.ndarray) -> int:
    sizes = np.asarray(sizes, dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def contingency(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of records sharing a predicted and a true cluster: (each record's cell, records per cell,
    each cell's predicted cluster, each cell's true cluster)."""
    key = predicted * (int(truth.max()) + 1) + truth
    cells, cell_of, counts = np.unique(key, return_inverse=True, return_counts=True)
    width = int(truth.max()) + 1
    return cell_of, counts, cells // width, cells % width


def pairwise_score(predicted: np.ndarray, truth: np.ndarray) -> PairScore:
    """Pairwise precision/recall/F1 of the clusters ``predicted`` against ``truth`` (ids per record)."""
    predicted, truth = _ids(predicted, "predicted"), _ids(truth, "truth")
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted cluster ids for {len(truth)} records")
    if len(truth) == 0:
        return PairScore.from_counts(0, 0, 0)
    _, counts, _, _ = contingency(predicted, truth)
    return PairScore.from_counts(pairs_within(counts), pairs_within(np.bincount(predicted)),
                                 pairs_within(np.bincount(truth)))


def edge_score(a: np.ndarray, b: np.ndarray, truth: np.ndarray) -> PairScore:
    """Precision/recall/F1 of a list of unique pairs (rows a[i], b[i]) against the pairs ``truth`` implies."""
    truth = _ids(truth, "truth")
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    tp = int((truth[a] == truth[b]).sum())
    return PairScore.from_counts(tp, len(a), pairs_within(np.bincount(truth)))


def row_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean over records of F1 between the record's predicted and true clusters (both hold the record)."""
    predicted, truth = _ids(predicted, "predicted"), _ids(truth, "truth")
    if len(truth) == 0:
        return 0.0
    cell_of, counts, _, _ = contingency(predicted, truth)
    shared = counts[cell_of]
    sizes = np.bincount(predicted)[predicted] + np.bincount(truth)[truth]
    return float(np.mean(2.0 * shared / sizes))


def cluster_score(predicted: np.ndarray, truth: np.ndarray) -> ClusterScore:
    from sklearn.metrics import adjusted_rand_score

    predicted, truth = _ids(predicted, "predicted"), _ids(truth, "truth")
    n_pred, n_true = int(predicted.max()) + 1 if len(predicted) else 0, int(truth.max()) + 1 if len(truth) else 0
    exact = 0
    if len(truth):
        _, counts, cell_pred, cell_true = contingency(predicted, truth)
        pred_sizes, true_sizes = np.bincount(predicted), np.bincount(truth)
        exact = int(((counts == pred_sizes[cell_pred]) & (counts == true_sizes[cell_true])).sum())
    singletons = int((np.bincount(predicted) == 1).sum()) if len(predicted) else 0
    return ClusterScore(float(adjusted_rand_score(truth, predicted)) if len(truth) else 0.0,
                        exact / n_pred if n_pred else 0.0, exact / n_true if n_true else 0.0, n_pred, n_true,
                        singletons / len(predicted) if len(predicted) else 0.0)


def dedup_score(predicted: np.ndarray, truth: np.ndarray) -> DedupScore:
    return DedupScore(pairwise_score(predicted, truth), cluster_score(predicted, truth), row_f1(predicted, truth),
                      len(np.asarray(truth)))
