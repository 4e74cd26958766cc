"""Label files for ``prodmatch dedup --labels``, told apart by their columns:

- pairs (``id_a,id_b``): every matching pair; the clusters are the pairs' connected components, and a record
  in no pair is its own cluster (the labels are taken as complete);
- clusters (``id,cluster_id``): every record of the table with its cluster;
- answers (``id_a,id_b,match``, match 1/0 or y/n): some pairs judged, as the labelling loop writes them
  (:mod:`prodmatch.dedup.labelling`); nothing is assumed about the pairs not judged.

Ids are matched as strings against the table's id column; an id the table does not hold is an error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from prodmatch.data.validation import DataValidationError, DataWarning, require_columns
from prodmatch.dedup.table import read_strings
from prodmatch.dedup.vocab import ANSWERS, CLUSTERS, PAIRS

YES = {"1", "y", "yes", "true", "match"}
NO = {"0", "n", "no", "false", "different"}


@dataclass
class Labels:
    kind: str  # prodmatch.dedup.vocab.LABEL_KINDS
    path: Path
    clusters: np.ndarray | None = None  # int64 cluster per table row (pairs, clusters); None for answers
    answered: pd.DataFrame | None = None  # answers: a, b (row positions, a < b), match (bool)

    @property
    def complete(self) -> bool:
        """Whether every pair of the table is known (a match exactly when both rows share a cluster)."""
        return self.clusters is not None

    @property
    def n_matching_pairs(self) -> int:
        if self.clusters is not None:
            sizes = np.bincount(self.clusters)
            return int((sizes * (sizes - 1) // 2).sum())
        return int(self.answered["match"].sum())


def label_kind(frame: pd.DataFrame, path: Path) -> str:
    columns = set(frame.columns)
    if {"id_a", "id_b", "match"} <= columns:
        return ANSWERS
    if {"id_a", "id_b"} <= columns:
        return PAIRS
    if {"id", "cluster_id"} <= columns:
        return CLUSTERS
    raise DataValidationError(path, f"a labels file needs the columns id_a,id_b (matching pairs), id,cluster_id "
                                    f"(clusters) or id_a,id_b,match (answers); found {list(frame.columns)}")


def positions_of(values: pd.Series, positions: dict[str, int], path: Path, column: str) -> np.ndarray:
    """Row positions in the table of the ids in ``values``; an empty or unknown id is an error."""
    stripped = values.str.strip()
    found = stripped.map(positions)
    unknown = np.flatnonzero(found.isna().to_numpy())
    if len(unknown):
        row = int(unknown[0])
        shown = stripped.iloc[row]
        what = "an empty id" if not shown else f"id {shown!r}, which the table does not hold"
        raise DataValidationError(path, f"{what} ({len(unknown)} such row(s)); labels must name records of the "
                                        "table", row=row, column=column)
    return found.to_numpy(dtype=np.int64)


def clusters_of_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cluster per row: the connected components of the pairs (a row in no pair alone), numbered 0..k-1."""
    graph = sp.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _match_values(values: pd.Series, path: Path) -> np.ndarray:
    text = values.str.strip().str.lower()
    bad = np.flatnonzero(~text.isin(YES | NO).to_numpy())
    if len(bad):
        raise DataValidationError(path, f"match must be 1/0 (or y/n), got {values.iloc[bad[0]]!r}", row=int(bad[0]),
                                  column="match")
    return text.isin(YES).to_numpy()


def read_labels(path: str | Path, ids: np.ndarray) -> Labels:
    """The labels in ``path`` for a table whose id column holds ``ids`` (in row order)."""
    path = Path(path)
    frame = read_strings(path)
    kind = label_kind(frame, path)
    positions = {str(pid): i for i, pid in enumerate(ids)}
    if kind == CLUSTERS:
        require_columns(frame, ("id", "cluster_id"), path)
        rows = positions_of(frame["id"], positions, path, "id")
        if len(np.unique(rows)) != len(rows):
            duplicate = int(np.flatnonzero(pd.Series(rows).duplicated().to_numpy())[0])
            raise DataValidationError(path, f"id {frame['id'].iloc[duplicate]!r} is listed twice", row=duplicate,
                                      column="id")
        if len(rows) != len(ids):
            missing = np.setdiff1d(np.arange(len(ids)), rows)
            raise DataValidationError(path, f"{len(missing)} record(s) of the table have no cluster_id (e.g. "
                                            f"{ids[missing[0]]!r}); give every record its cluster, or give matching "
                                            "pairs (id_a,id_b) instead", column="id")
        clusters = np.empty(len(ids), dtype=np.int64)
        clusters[rows] = pd.factorize(frame["cluster_id"].str.strip())[0]
        return Labels(kind, path, clusters=clusters)
    a = positions_of(frame["id_a"], positions, path, "id_a")
    b = positions_of(frame["id_b"], positions, path, "id_b")
    same = a == b
    if same.any():
        warnings.warn(f"{path}: {int(same.sum())} pair(s) name the same record twice (e.g. row "
                      f"{int(np.flatnonzero(same)[0])}); they are ignored", DataWarning, stacklevel=2)
    if kind == PAIRS:
        return Labels(kind, path, clusters=clusters_of_pairs(len(ids), a[~same], b[~same]))
    match = _match_values(frame["match"], path)
    answered = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "match": match})[~same]
    answered = answered.drop_duplicates(["a", "b"], keep="last").reset_index(drop=True)  # the latest answer counts
    return Labels(kind, path, answered=answered)


ANSWER_COLUMNS = ("id_a", "id_b", "match")


def append_answers(path: str | Path, answers: list[tuple[str, str, bool]]) -> None:
    """Append judged pairs to an answers file (its header first when new), flushed to disk at once: an
    interrupted labelling session keeps every answer given."""
    import csv
    import os

    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(ANSWER_COLUMNS)
        for id_a, id_b, match in answers:
            writer.writerow([id_a, id_b, 1 if match else 0])
        handle.flush()
        os.fsync(handle.fileno())
