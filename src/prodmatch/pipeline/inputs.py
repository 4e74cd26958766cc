"""What a CV or tuning run reads from disk: train.csv, its folds, and the out-of-fold embeddings of trained runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.data import DataDir, assign_folds, read_folds
from prodmatch.data.fingerprint import frame_fingerprint
from prodmatch.data.folds import DEFAULT_N_FOLDS, default_folds_path
from prodmatch.errors import ArgumentError
from prodmatch.pipeline.runs import oof_embeddings_for, recipe_for_weights
from prodmatch.recipes import Recipe


@dataclass
class CVInputs:
    """What a CV run needs, gathered from a data folder and a weights folder."""

    train: pd.DataFrame  # the train rows the CV scores (rows of untrained folds left out)
    folds: np.ndarray
    folds_source: str
    recipe: Recipe  # restricted to the embeddings trained runs provide
    runs: dict[str, Path]  # embedding name -> run dir
    embeddings: dict[str, np.ndarray] | None
    notes: list[str]
    train_fingerprint: str = ""  # of the whole train.csv (prodmatch.data.fingerprint), before rows are left out

    def only_folds(self, folds: list[int]) -> CVInputs:
        keep = np.isin(self.folds, folds)
        if not keep.any():
            raise ArgumentError(f"no train rows in folds {folds} (folds present: {sorted(set(self.folds.tolist()))})")
        embeddings = None if self.embeddings is None else {k: v[keep] for k, v in self.embeddings.items()}
        return replace(self, train=self.train[keep].reset_index(drop=True), folds=self.folds[keep],
                       embeddings=embeddings, notes=[*self.notes, f"CV restricted to folds {sorted(folds)}"])


def load_fold_ids(train: pd.DataFrame, data_dir: str | Path, folds_path: str | Path | None = None,
                  n_folds: int = DEFAULT_N_FOLDS) -> tuple[np.ndarray, str]:
    """Folds from a file when given (or present as folds/<data>_<k>fold.csv), else the hash assignment."""
    path = Path(folds_path) if folds_path else default_folds_path(data_dir, n_folds)
    if folds_path or path.is_file():
        return read_folds(path, train), str(path)
    n_groups = train["label_group"].nunique()
    if n_folds > n_groups:  # most folds would hold one group: no wrong candidate to tune against, F1 1.0
        raise ArgumentError(f"--n-folds {n_folds} is more than the {n_groups} label_groups of the train set: a fold's "
                            "postings are searched among themselves, so a fold of one group scores a perfect, "
                            f"meaningless F1; use at most {max(2, n_groups // 2)} folds")
    return assign_folds(train, n_folds)["fold"].to_numpy(), f"hash of label_group ({n_folds} folds)"


def lonely_fold_notes(train: pd.DataFrame, folds: np.ndarray) -> list[str]:
    """A note when some folds hold a single label_group (every candidate a true match: nothing to tune)."""
    groups = pd.Series(train["label_group"].to_numpy()).groupby(folds).nunique()
    lonely = sorted(int(fold) for fold in groups.index[groups < 2])
    if not lonely:
        return []
    return [f"fold(s) {lonely} hold a single label_group: their candidates are all true matches, so they add nothing "
            "to tuning and flatter the score; use fewer folds"]


def prepare_cv(data_dir: str | Path, recipe: Recipe, weights_dir: str | Path | None = "weights",
               folds_path: str | Path | None = None, n_folds: int = DEFAULT_N_FOLDS) -> CVInputs:
    """Read train.csv, its folds and the out-of-fold embeddings the recipe needs.

    With learned embeddings, only the rows of folds that every needed run has trained are kept (e.g. after
    training fold 0 alone, CV scores fold 0), and optional embeddings without a run drop their sources.
    """
    train = DataDir.of(data_dir).read_train()
    fingerprint = frame_fingerprint(train)
    folds, folds_source = load_fold_ids(train, data_dir, folds_path, n_folds)
    recipe, runs, notes = recipe_for_weights(recipe, weights_dir or "weights")
    notes = [*notes, *lonely_fold_notes(train, folds)]
    embeddings = None
    if runs:
        embeddings, covered = oof_embeddings_for(runs, train)
        if not covered.all():
            kept = sorted(set(folds[covered].tolist()))
            notes.append(f"CV on folds {kept} only ({int(covered.sum())} of {len(train)} rows): the other folds "
                         "have no trained model yet")
            train, folds = train[covered].reset_index(drop=True), folds[covered]
    return CVInputs(train, folds, folds_source, recipe, runs, embeddings, notes, fingerprint)
