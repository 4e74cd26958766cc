"""``prodmatch score``: a dedup result (a run's folder or its clusters file) scored against labels -- pairwise
precision/recall/F1, the cluster metrics and row-wise F1 (:mod:`prodmatch.dedup.metrics`).

The result's ids are the table's: labels naming an id the result does not hold are an error, and a result that
misses ids of the labels' clusters cannot be scored (every record of the table is in clusters.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.dedup.labels import read_labels
from prodmatch.dedup.metrics import DedupScore, dedup_score
from prodmatch.dedup.outputs import read_clusters, result_clusters
from prodmatch.errors import ArgumentError


def score_result(result: str | Path, labels: str | Path) -> DedupScore:
    """Score ``result`` (a ``prodmatch dedup`` --out folder, or a clusters file) against the labels file."""
    path = result_clusters(result)
    clusters = read_clusters(path)
    ids = clusters["id"].to_numpy(dtype=object)
    truth = read_labels(labels, ids)
    if not truth.complete:
        raise ArgumentError(f"{labels}: answers judge some pairs only; score against matching pairs (id_a,id_b) or "
                            "clusters (id,cluster_id)")
    predicted = pd.factorize(clusters["cluster_id"])[0].astype(np.int64)
    return dedup_score(predicted, truth.clusters)
