"""Deterministic, group-stable K-fold assignment.

A posting's fold is a hash of its label_group (and a salt), so the same group lands in the same fold
whatever other rows exist, in whatever order, under any numpy/scikit-learn version. Folds are balanced
in expectation, not exactly; :func:`fold_summary` shows the sizes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data.reading import DataDir, read_csv_strings
from prodmatch.data.validation import DataValidationError
from prodmatch.errors import ArgumentError
from prodmatch.fileio import check_output_file, write_csv

DEFAULT_N_FOLDS = 5


def default_folds_path(data_dir: str | Path, n_folds: int = DEFAULT_N_FOLDS) -> Path:
    """folds/<data folder name>_<k>fold.csv (relative to the working directory, like weights/)."""
    return Path("folds") / f"{Path(data_dir).resolve().name}_{n_folds}fold.csv"


def fold_of_group(label_group, n_folds: int = DEFAULT_N_FOLDS, salt: str = "") -> int:
    """Fold of one label_group: the first 8 bytes of md5(salt + str(group)) modulo ``n_folds``."""
    if n_folds < 2:
        raise ArgumentError(f"n_folds must be >= 2, got {n_folds}")
    digest = hashlib.md5(f"{salt}{label_group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n_folds


def fold_ids_of_groups(labels, n_folds: int = DEFAULT_N_FOLDS, salt: str = "") -> np.ndarray:
    """:func:`fold_of_group` for every row of ``labels``, hashing each distinct label_group once."""
    unique, inverse = np.unique(np.asarray(labels), return_inverse=True)
    return np.array([fold_of_group(g, n_folds, salt) for g in unique], dtype=np.int64)[inverse]


def assign_folds(train: pd.DataFrame, n_folds: int = DEFAULT_N_FOLDS, salt: str = "") -> pd.DataFrame:
    """posting_id, fold for every train row (fold depends only on the row's label_group)."""
    groups = train["label_group"].unique()
    group_fold = {g: fold_of_group(g, n_folds, salt) for g in groups}
    return pd.DataFrame(
        {"posting_id": train["posting_id"].to_numpy(), "fold": train["label_group"].map(group_fold).astype(np.int64)}
    )


def write_folds(folds: pd.DataFrame, path: str | Path) -> Path:
    write_csv(path, folds[["posting_id", "fold"]])
    return Path(path)


def read_folds(path: str | Path, train: pd.DataFrame) -> np.ndarray:
    """Fold of each train row, in train order; every train posting must be in the file."""
    frame = read_csv_strings(path)
    for column in ("posting_id", "fold"):
        if column not in frame.columns:
            raise DataValidationError(path, f"missing required column '{column}'", column=column)
    folds = pd.to_numeric(frame["fold"], errors="coerce")
    bad = np.flatnonzero(folds.isna().to_numpy() | (folds < 0).to_numpy() | (folds % 1 != 0).to_numpy())
    if len(bad):
        raise DataValidationError(path, f"fold must be a non-negative integer, got {frame['fold'].iloc[bad[0]]!r}",
                                  row=int(bad[0]), column="fold")
    mapping = pd.Series(folds.astype(np.int64).to_numpy(), index=frame["posting_id"])
    if not mapping.index.is_unique:
        dup = int(np.flatnonzero(mapping.index.duplicated())[0])
        raise DataValidationError(path, f"duplicate posting_id {frame['posting_id'].iloc[dup]!r}", row=dup,
                                  column="posting_id")
    result = train["posting_id"].map(mapping)
    missing = np.flatnonzero(result.isna().to_numpy())
    if len(missing):
        raise DataValidationError(
            path, f"{len(missing)} train posting(s) have no fold, e.g. {train['posting_id'].iloc[missing[0]]!r}; "
            "regenerate with `python -m prodmatch folds`", column="posting_id")
    result = result.astype(np.int64).to_numpy()
    labels = train["label_group"].to_numpy()
    per_group = pd.Series(result).groupby(labels).nunique()
    if (per_group > 1).any():
        raise DataValidationError(path, f"label_group {per_group.idxmax()} is split across folds", column="fold")
    return result


def fold_summary(folds: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"fold": folds, "label_group": labels})
    return frame.groupby("fold").agg(rows=("label_group", "size"), groups=("label_group", "nunique")).reset_index()


def make_folds_file(data_dir: str | Path, n_folds: int = DEFAULT_N_FOLDS, salt: str = "",
                    out: str | Path | None = None) -> tuple[Path, pd.DataFrame]:
    """``prodmatch folds``: assign folds to DIR/train.csv and write them (default folds/<data>_<k>fold.csv);
    returns the file and the per-fold row/group counts."""
    data = DataDir.of(data_dir)
    out = check_output_file(out or default_folds_path(data_dir, n_folds), [data.train_csv])
    train = data.read_train()
    folds = assign_folds(train, n_folds, salt)
    write_folds(folds, out)
    return out, fold_summary(folds["fold"].to_numpy(), train["label_group"].to_numpy())
