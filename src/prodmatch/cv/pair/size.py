"""How the pair model's threshold must move for a larger test set, measured honestly.

A test set searched at once holds more postings than a CV fold (7k or 70k against ~5.4k), so each posting
meets more unrelated look-alikes and the best threshold on the probability rises. Two folds searched
together (twice a fold's size) are predicted by the model of the first fold, which was fit on neither; the
best threshold there against the best on the same folds searched alone gives the slope in logit units per
doubling (:class:`~prodmatch.match.pair.matching.PairMatching` moves its threshold, min2 floor and two-hop
edge level by it). The same pools check that a graph step which wins at fold size still wins at twice it.
The folds here are the model folds (:func:`prodmatch.cv.pair.candidates.model_folds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from prodmatch.cv.pair.tuning import NO_GRAPH, tune_threshold
from prodmatch.cv.pair.candidates import OOFPairModel, early_stopping_fold
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matching import (
    PairMatching,
    logit,
    pair_candidates,
    predict_probability,
    probability_table,
)
from prodmatch.match.pair.model import PAIR_COLUMN
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features


@dataclass
class SizeCheck:
    """The pair model on pools twice a fold's size: how far its best threshold moves, and whether each graph
    choice still wins there (F1 of the fold-size matching moved to that size)."""

    small_size: float
    big_size: float
    small_threshold: float
    big_threshold: float
    logit_slope: float  # change of logit(best threshold) per doubling, >= 0
    f1_at_big: dict[str, float] = field(default_factory=dict)  # graph choice -> F1 on the big pools

    def as_dict(self) -> dict:
        return {"small_size": self.small_size, "big_size": self.big_size, "small_threshold": self.small_threshold,
                "big_threshold": self.big_threshold, "logit_slope": self.logit_slope, "f1_at_big": self.f1_at_big}


def disjoint_pools(fold_ids: np.ndarray) -> list[tuple]:
    """(fold, its early-stopping fold) pairs that share no fold: (0, 1), (2, 3) for five folds. The first
    fold's model was fit on neither (the second only told it when to stop)."""
    pools, used = [], set()
    for fold in fold_ids:
        partner = early_stopping_fold(fold, fold_ids)
        if fold not in used and partner not in used and partner != fold:
            pools.append((fold, partner))
            used |= {fold, partner}
    return pools


@dataclass
class Pooled:
    """Pairs of the pools' rows (renumbered 0..m-1), each with the probability its pool's model gives it."""

    table: CandidateTable
    probability: np.ndarray


def _pool_model(oof: OOFPairModel, fold_ids: np.ndarray, pool: tuple):
    return oof.models[int(np.searchsorted(fold_ids, pool[0]))]


def searched(features: Features, oof: OOFPairModel, folds: np.ndarray, pools: list[tuple], recipe: Recipe,
             together: bool) -> Pooled:
    """The pools' rows searched in sets -- each pool as one set (``together``) or each of its folds on its
    own -- and predicted by the pool's model."""
    fold_ids = np.unique(folds)
    in_pool = np.isin(folds, [f for pool in pools for f in pool])
    renumber = np.cumsum(in_pool) - 1
    m = int(in_pool.sum())
    sets = [(pool, pool) for pool in pools] if together else [((f,), pool) for pool in pools for f in pool]
    keys, scores, probability = [], [], []
    for members, pool in sets:
        index = np.flatnonzero(np.isin(folds, members))
        found = pair_candidates(features.subset(index), recipe.sources)
        keys.append(renumber[index[found.table.rows]] * m + renumber[index[found.table.cols]])
        scores.append(found.table.scores)
        probability.append(predict_probability(found.table, found.features, _pool_model(oof, fold_ids, pool)))
    all_keys = np.concatenate(keys)
    order = np.argsort(all_keys, kind="stable")
    all_keys = all_keys[order]
    columns = {name: np.concatenate([s[name] for s in scores])[order] for name in scores[0]}
    return Pooled(CandidateTable(all_keys // m, all_keys % m, columns, m, m), np.concatenate(probability)[order])


def size_check(features: Features, oof: OOFPairModel, labels: np.ndarray, folds: np.ndarray, recipe: Recipe,
               choices: dict[GraphSteps, PairMatching]) -> SizeCheck:
    """Search pairs of model folds together (twice a fold's size), predict them with a fold model fit on
    neither, and compare the best threshold there with the best on the same folds searched alone.

    ``choices``: graph choice -> its matching tuned at fold size; each is moved to the big size with the
    measured slope and scored there.
    """
    folds, labels = np.asarray(folds), np.asarray(labels)
    pools = disjoint_pools(np.unique(folds))
    small_size = float(np.mean([np.sum(folds == f) for pool in pools for f in pool]))
    big_size = float(np.mean([np.sum(np.isin(folds, pool)) for pool in pools]))
    pool_labels = labels[np.isin(folds, [f for pool in pools for f in pool])]
    small = searched(features, oof, folds, pools, recipe, together=False)
    big = searched(features, oof, folds, pools, recipe, together=True)
    small_policy, _, _ = tune_threshold(small.table, small.probability, pool_labels, NO_GRAPH, recipe.min2, recipe.cap)
    big_policy, _, _ = tune_threshold(big.table, big.probability, pool_labels, NO_GRAPH, recipe.min2, recipe.cap)
    small_t, big_t = small_policy.thresholds[PAIR_COLUMN], big_policy.thresholds[PAIR_COLUMN]
    slope = max((logit(big_t) - logit(small_t)) / np.log2(big_size / small_size), 0.0)
    f1_at_big = {}
    for steps, matching in choices.items():
        moved = replace(matching, tuned_size=small_size, size_slope=slope).for_test_size(int(round(big_size)))
        evaluator = PolicyEvaluator(probability_table(big.table, big.probability, moved.graph), pool_labels,
                                    [PAIR_COLUMN])
        f1_at_big[steps.describe()] = evaluator.score(moved.policy).f1
    return SizeCheck(small_size, big_size, float(small_t), float(big_t), float(slope), f1_at_big)


