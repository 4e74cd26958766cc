"""The pair model trained out of fold.

1. Every fold is searched on its own and each of its candidate pairs gets its features
   (:func:`oof_pair_candidates`), as a test set would be.
2. For each fold k a model is fit on the pairs of the other folds but one, early-stopped on that one
   (other label groups again), and predicts fold k (:func:`oof_pair_model`): every probability is out of
   fold, so thresholds tuned on them are honest. The model shipped is fit on all folds with the mean of the
   early-stopped rounds (:func:`final_pair_model`).

The model folds are the CV folds when there are at least three. A CV of fewer folds (e.g. the one fold a
trained embedding model covers) gets its rows split group-wise into :data:`MODEL_FOLDS` model folds
(:func:`model_folds`); its pairs may then join two model folds, so a fold's model is fit only on pairs with
neither posting in the fold (nor in its early-stopping fold) and predicts every pair whose query is in it.

Tuning on the probabilities is :mod:`prodmatch.cv.pair.tuning`; the whole pair-model CV,
:func:`prodmatch.cv.pair.run.run_pair_cv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.data.folds import fold_ids_of_groups
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.features import PairFeatures
from prodmatch.match.pair.matching import PairCandidates, pair_candidates
from prodmatch.match.pair.model import PairModel, fit_pair_model, fit_pair_model_rounds
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

MIN_FOLDS = 3  # one fold predicted, one to early-stop on, at least one to fit on
MODEL_FOLDS = 5  # model folds when the CV has fewer than MIN_FOLDS folds
MODEL_FOLD_SALT = "pair-model"


def oof_pair_candidates(features: Features, folds: np.ndarray, recipe: Recipe, progress: bool = False
                        ) -> PairCandidates:
    """Every fold searched on its own (as :func:`prodmatch.cv.oof.oof_candidates`), with its pairs' features;
    the per-fold tables stacked into one, sorted by (row, col). ``seconds`` sums each stage over the folds."""
    n = len(features)
    keys, scores, parts = [], {s.name: [] for s in recipe.sources}, []
    seconds: dict[str, float] = {}
    for fold in np.unique(folds):
        index = np.flatnonzero(folds == fold)
        found = pair_candidates(features.subset(index), recipe.sources)
        keys.append(index[found.table.rows] * n + index[found.table.cols])
        for name, column in found.table.scores.items():
            scores[name].append(column)
        parts.append(found.features)
        for stage, value in found.seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + value
        if progress:
            print(f"  fold {fold}: {len(index)} rows searched, {len(found.table)} candidate pairs with features",
                  flush=True)
    all_keys = np.concatenate(keys)
    order = np.argsort(all_keys, kind="stable")
    all_keys = all_keys[order]
    table = CandidateTable(all_keys // n, all_keys % n, {k: np.concatenate(v)[order] for k, v in scores.items()}, n, n)
    return PairCandidates(table, PairFeatures.concat(parts).take(order), seconds)


def pair_labels(table: CandidateTable, labels: np.ndarray) -> np.ndarray:
    """True where both postings of a pair share a label_group."""
    labels = np.asarray(labels)
    return labels[table.rows] == labels[table.cols]


@dataclass
class OOFPairModel:
    probability: np.ndarray  # out-of-fold, per pair; self pairs 1
    rounds: list[int]  # early-stopped boosting rounds per fold
    models: list[PairModel]


def early_stopping_fold(fold, fold_ids: np.ndarray):
    """The fold a fold's model early-stops on: the next one, cyclically."""
    position = int(np.searchsorted(fold_ids, fold))
    return fold_ids[(position + 1) % len(fold_ids)]


def model_folds(labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """The folds the pair model is trained out of: the CV folds, or a group-wise hash split of the rows into
    :data:`MODEL_FOLDS` when the CV has fewer than :data:`MIN_FOLDS`."""
    folds = np.asarray(folds)
    if len(np.unique(folds)) >= MIN_FOLDS:
        return folds
    return fold_ids_of_groups(labels, MODEL_FOLDS, MODEL_FOLD_SALT)


def oof_pair_model(candidates: PairCandidates, labels: np.ndarray, folds: np.ndarray, params: dict | None = None,
                   progress: bool = False) -> OOFPairModel:
    """``folds``: the model folds (:func:`model_folds`), one per row."""
    table = candidates.table
    folds = np.asarray(folds)
    fold_ids = np.unique(folds)
    if len(fold_ids) < MIN_FOLDS:
        raise ValueError(f"the out-of-fold pair model needs at least {MIN_FOLDS} folds, got {len(fold_ids)}")
    row_fold, col_fold = folds[table.rows], folds[table.cols]
    others = table.rows != table.cols
    once = table.rows < table.cols  # each unordered pair once: its two directions share the label, features mirrored
    hit = pair_labels(table, labels)
    probability = np.ones(len(table), dtype=np.float32)
    rounds, models = [], []
    for fold in fold_ids:
        stop_fold = early_stopping_fold(fold, fold_ids)
        unseen = (fold, stop_fold)
        fit = np.flatnonzero(once & ~np.isin(row_fold, unseen) & ~np.isin(col_fold, unseen))
        stop = np.flatnonzero(once & (np.isin(row_fold, stop_fold) | np.isin(col_fold, stop_fold))
                              & (row_fold != fold) & (col_fold != fold))
        model = fit_pair_model(candidates.features.take(fit), hit[fit], candidates.features.take(stop), hit[stop],
                               params)
        held_out = np.flatnonzero(others & (row_fold == fold))
        probability[held_out] = model.predict(candidates.features.take(held_out))
        rounds.append(model.rounds)
        models.append(model)
        if progress:
            print(f"  pair model for fold {fold}: {len(fit)} pairs, early-stopped on fold {stop_fold} at "
                  f"{model.rounds} rounds", flush=True)
    return OOFPairModel(probability, rounds, models)


def final_pair_model(candidates: PairCandidates, labels: np.ndarray, rounds: int, params: dict | None = None
                     ) -> PairModel:
    """The model to ship: every fold's pairs (each unordered pair once), ``rounds`` boosting rounds."""
    others = np.flatnonzero(candidates.table.rows < candidates.table.cols)
    hit = pair_labels(candidates.table, labels)
    return fit_pair_model_rounds(candidates.features.take(others), hit[others], rounds, params)


def mean_importances(models: list[PairModel]) -> dict[str, float]:
    """Each feature's share of the gain, averaged over the fold models that split at all, highest first."""
    shares = [m.importances() for m in models]
    names = list(shares[0])
    shares = [s for s in shares if sum(s.values()) > 0] or shares  # a model with no split has no shares to give
    mean = {name: float(np.mean([s.get(name, 0.0) for s in shares])) for name in names}
    return dict(sorted(mean.items(), key=lambda item: -item[1]))
