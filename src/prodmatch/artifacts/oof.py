"""Out-of-fold embedding files: ``fold<k>/oof_embeddings.npz`` with ``posting_id`` (str) and ``embeddings``
(float32, L2-normalised) of that fold's held-out rows. CV reads every fold's file of a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.artifacts.weights import OOF_FILE, FoldFiles, expected_folds, fold_folders
from prodmatch.errors import CorruptFileError, MissingInputError
from prodmatch.fileio import atomic_open, read_errors
from prodmatch.search.dense import l2_normalize


def write_oof_embeddings(path: str | Path, posting_ids: Sequence[str], embeddings: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.savez(handle, posting_id=np.asarray(posting_ids).astype(str), embeddings=embeddings.astype(np.float32))


def oof_files(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(fold, path) of every ``fold<k>/oof_embeddings.npz`` of a run (fold -1 for a bare folder's own file)."""
    return [(-1 if f.fold is None else f.fold, f.oof) for f in fold_folders(run_dir, needs=OOF_FILE)]


def read_oof_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(posting ids, float32 embeddings) of one fold's file; a file cut short, overwritten or whose arrays do
    not fit together is a CorruptFileError naming it."""
    path = Path(path)
    fold = FoldFiles(path.parent).fold
    remedy = (f"retrain the fold (train_fold.py --fold {'K' if fold is None else fold} ...) or copy the run's folder "
              "again")
    with read_errors(path, remedy):
        with np.load(path, allow_pickle=False) as data:
            ids, embeddings = data["posting_id"].astype(str), data["embeddings"]
    if ids.ndim != 1 or embeddings.ndim != 2 or len(ids) != len(embeddings) or embeddings.dtype.kind != "f":
        raise CorruptFileError(f"{path} is not an out-of-fold embedding file ({len(ids)} posting ids, embeddings of "
                               f"shape {embeddings.shape} and dtype {embeddings.dtype}); {remedy}")
    return ids, embeddings.astype(np.float32)


def oof_posting_ids(run_dir: str | Path) -> np.ndarray:
    """Every posting_id that has an out-of-fold embedding in ``run_dir`` (empty when no fold is trained)."""
    ids = [read_oof_file(path)[0] for _, path in oof_files(run_dir)]
    return np.concatenate(ids) if ids else np.empty(0, dtype=str)


def read_oof_embeddings(run_dir: str | Path, posting_ids: Sequence[str]) -> np.ndarray:
    """Out-of-fold embeddings of ``posting_ids`` (in that order), from every fold of the run.

    Raises with the folds found and the postings that no fold covers (e.g. folds not trained yet), or when
    a posting appears in two folds.
    """
    run_dir = Path(run_dir)
    files = oof_files(run_dir)
    if not files:
        raise MissingInputError(f"no fold<k>/{OOF_FILE} under {run_dir}; train the folds first "
                                "(python train_fold.py --fold k ...)")
    ids, embs, owner = [], [], []
    for fold, path in files:
        fold_ids, fold_embeddings = read_oof_file(path)
        ids.append(fold_ids)
        embs.append(fold_embeddings)
        owner.append(np.full(len(fold_ids), fold))
    if len({e.shape[1] for e in embs}) > 1:
        sizes = sorted({e.shape[1] for e in embs})
        raise CorruptFileError(f"the folds of {run_dir} hold embeddings of different sizes {sizes}: folds of "
                               "different runs? retrain them as one run")
    all_ids, all_emb, all_owner = np.concatenate(ids), np.concatenate(embs), np.concatenate(owner)
    index = pd.Index(all_ids)
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        folds = sorted(set(all_owner[all_ids == dup].tolist()))
        raise CorruptFileError(f"posting {dup!r} has OOF embeddings in several folds {folds} of {run_dir}: were the "
                               "folds trained on different fold splits? retrain them with one split")
    wanted = np.asarray(posting_ids, dtype=str)
    pos = index.get_indexer(wanted)
    missing = np.flatnonzero(pos < 0)
    if len(missing):
        found_folds = sorted(f for f, _ in files)
        absent = sorted(set(expected_folds(run_dir) or []) - set(found_folds))
        hint = f"missing folds {absent}" if absent else "the postings are not in any trained fold"
        raise KeyError(f"{len(missing)} of {len(wanted)} postings have no OOF embedding in {run_dir} (folds found: "
                       f"{found_folds}; {hint}), e.g. {wanted[missing[:3]].tolist()}")
    return l2_normalize(all_emb[pos])
