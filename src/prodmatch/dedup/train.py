"""Training the pair model and its decision on a labelled table, out of fold.

The whole table is searched at once (:func:`~prodmatch.match.pair.matching.pair_candidates`), as a table to
deduplicate is: the candidates, their ranks and neighbourhoods are those of the size the model will be used
at, not of a fold. The labels' clusters are split by a hash of each cluster (its smallest id) into
:data:`MODEL_FOLDS` model folds; each fold's probabilities come from a model fit on pairs with neither record in
that fold (:func:`~prodmatch.cv.pair.candidates.oof_pair_model`), and the decision is tuned on those
out-of-fold probabilities (:mod:`prodmatch.dedup.decision`). The model kept is fit on every labelled pair with
the mean early-stopped rounds.

Answers (some pairs judged, from the labelling loop) train on the judged pairs that are candidates, with easy
negatives beside them (:func:`easy_negatives`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prodmatch.cv.pair.candidates import final_pair_model, mean_importances, oof_pair_model
from prodmatch.data.folds import fold_ids_of_groups
from prodmatch.dedup.clustering import Edges, edges_from_table
from prodmatch.dedup.decision import TunedDecision, tune_decision
from prodmatch.dedup.vocab import CLUSTERINGS, ONE_TO_ONE
from prodmatch.errors import ArgumentError
from prodmatch.match.kinds import PAIR_MODEL
from prodmatch.match.pair.matching import PairCandidates, pair_candidates
from prodmatch.match.pair.model import PairModel, fit_pair_model_rounds, lightgbm_available
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

MODEL_FOLDS = 5
MODEL_FOLD_SALT = "dedup-model"
MIN_MATCHING_PAIRS = 20  # fewer labelled matches cannot fill five model folds with positives
ANSWER_ROUNDS = 100  # boosting rounds on judged pairs (too few to early-stop on a held-out part)
ANSWER_PARAMS = {"min_data_in_leaf": 5, "num_leaves": 7, "learning_rate": 0.05}
EASY_RANK = 5  # a pair outside both records' top 5 in every source is an easy negative
EASY_NEGATIVES_PER_ANSWER = 5


def require_lightgbm() -> None:
    if not lightgbm_available():
        raise ArgumentError("training a pair model needs LightGBM: pip install 'lightgbm>=4.0' (or prodmatch[pairs])")


def cluster_keys(ids: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Per record, its cluster's smallest id: a key that does not depend on the rows' order."""
    return pd.Series(np.asarray(ids, dtype=str)).groupby(clusters).transform("min").to_numpy(dtype=object)


def model_folds(ids: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    return fold_ids_of_groups(cluster_keys(ids, clusters), MODEL_FOLDS, MODEL_FOLD_SALT)


def allowed_clusterings(one_to_one: bool) -> tuple[str, ...]:
    return (ONE_TO_ONE,) if one_to_one else CLUSTERINGS


@dataclass
class Trained:
    """A pair model and its decision, trained on one table, with what the outputs and the report need."""

    model: PairModel
    tuned: TunedDecision
    candidates: PairCandidates  # the table's candidates (searched whole) with features
    edges: Edges  # out-of-fold probabilities of every candidate pair (pairs the decision may use)
    folds: np.ndarray | None  # model fold per record (None for answers)
    rounds: list[int] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)
    fold_models: list[PairModel] = field(default_factory=list)  # by model fold, in sorted fold order

    @property
    def decision(self):
        return self.tuned.decision

    def model_of_rows(self, rows: np.ndarray) -> list[tuple[PairModel, np.ndarray]]:
        """(model, positions in ``rows``) pairs: which model predicted pairs whose first record is each of ``rows``
        (its fold's model out of fold; the kept model for answers)."""
        if self.folds is None or not self.fold_models:
            return [(self.model, np.arange(len(rows)))]
        fold_ids = np.unique(self.folds)
        which = np.searchsorted(fold_ids, self.folds[rows])
        return [(self.fold_models[k], np.flatnonzero(which == k)) for k in range(len(fold_ids)) if (which == k).any()]


def restrict(edges: Edges, sources: np.ndarray | None) -> Edges:
    """Clean-clean: only pairs across sources can match."""
    return edges if sources is None else edges.across(sources)


def train_on_clusters(features: Features, clusters: np.ndarray, recipe: Recipe, sources: np.ndarray | None = None,
                      one_to_one: bool = False, params: dict | None = None, progress: bool = False) -> Trained:
    """Train on complete labels (a cluster per record); see the module doc."""
    check_trainable(clusters)
    return train_on_candidates(pair_candidates(features, recipe.sources), features.posting_ids, clusters, recipe,
                               sources, one_to_one, params, progress)


def check_trainable(clusters: np.ndarray) -> None:
    require_lightgbm()
    sizes = np.bincount(clusters)
    matching = int((sizes * (sizes - 1) // 2).sum())
    if matching < MIN_MATCHING_PAIRS:
        raise ArgumentError(f"the labels hold {matching} matching pair(s); training needs at least "
                            f"{MIN_MATCHING_PAIRS}: label more (`prodmatch dedup label`) or run without labels")


def train_on_candidates(found: PairCandidates, ids: np.ndarray, clusters: np.ndarray, recipe: Recipe,
                        sources: np.ndarray | None = None, one_to_one: bool = False, params: dict | None = None,
                        progress: bool = False) -> Trained:
    """:func:`train_on_clusters` on candidates already searched (by any engine); ``ids``: the records' ids."""
    check_trainable(clusters)
    folds = model_folds(ids, clusters)
    params = {**recipe.matcher_params(PAIR_MODEL), **(params or {})}
    oof = oof_pair_model(found, clusters, folds, params, progress)
    model = final_pair_model(found, clusters, max(int(round(float(np.mean(oof.rounds)))), 1), params)
    edges = restrict(edges_from_table(found.table, oof.probability), sources)
    tuned = tune_decision(edges, clusters, folds, allowed_clusterings(one_to_one))
    return Trained(model, tuned, found, edges, folds, list(oof.rounds), mean_importances(oof.models), list(oof.models))


def answered_positions(table, answered: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(table positions of the judged pairs that are candidates, in both directions; their match labels)."""
    n = table.n_index
    keys = table.rows * n + table.cols
    order = np.argsort(keys)
    positions, labels = [], []
    for a, b in ((answered["a"], answered["b"]), (answered["b"], answered["a"])):
        wanted = a.to_numpy(dtype=np.int64) * n + b.to_numpy(dtype=np.int64)
        where = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
        hit = keys[order][where] == wanted
        positions.append(order[where][hit])
        labels.append(answered["match"].to_numpy(dtype=bool)[hit])
    return np.concatenate(positions), np.concatenate(labels)


def easy_negatives(found: PairCandidates, limit: int, seed: int = 0) -> np.ndarray:
    """Up to ``limit`` positions of candidate pairs no source ranks among either record's best
    :data:`EASY_RANK`: almost never a match (99.8% of them on the Abt-Buy train half), so they teach a model fit
    on a few answers what a non-match looks like beyond the pairs a person judged."""
    names = [n for n in found.features.names if n.endswith(".rank_ab") or n.endswith(".rank_ba")]
    far = found.table.rows != found.table.cols
    for name in names:
        rank = found.features.column(name)
        far &= ~(rank <= EASY_RANK)  # NaN (not proposed) counts as far
    positions = np.flatnonzero(far)
    if len(positions) > limit:
        positions = np.sort(np.random.default_rng(seed).choice(positions, limit, replace=False))
    return positions


def fit_on_answers(found: PairCandidates, answered: pd.DataFrame, params: dict | None = None) -> PairModel:
    """A pair model fit on the judged candidate pairs (both directions) and on easy negatives
    (:func:`easy_negatives`, :data:`EASY_NEGATIVES_PER_ANSWER` per judged pair), a fixed number of rounds."""
    require_lightgbm()
    positions, labels = answered_positions(found.table, answered)
    if labels.all() or not labels.any():
        raise ArgumentError(f"the answers judge {len(labels) // 2} candidate pair(s), all "
                            f"{'matches' if labels.any() else 'non-matches'}; a model needs both: answer more pairs")
    easy = np.setdiff1d(easy_negatives(found, EASY_NEGATIVES_PER_ANSWER * len(positions)), positions)
    positions = np.concatenate([positions, easy])
    labels = np.concatenate([labels, np.zeros(len(easy), dtype=bool)])
    return fit_pair_model_rounds(found.features.take(positions), labels, ANSWER_ROUNDS,
                                 {**ANSWER_PARAMS, **(params or {})})
