"""The pair model's pools of growing size: where it learns, and where its F1 is measured against the pool size.

A test set searched at once holds more postings than any CV fold (Kaggle: 70k against folds of 6.85k), and a
pair model that learnt from fold-size pools meets ten times the look-alikes there. So the model learns from
the largest pool the train allows -- all the CV rows searched together -- and is scored on pools of growing
size (the CV folds, half the rows, all of them), always out of fold: every pair is predicted by the model of
its query's model fold, which was fit on pairs touching neither that fold nor its early-stopping fold
(:func:`prodmatch.cv.pair.candidates.oof_pair_model`). Each level's F1 (threshold tuned there) is a point of
the rule's F1-against-size curve, which forecasts the test (:mod:`prodmatch.match.forecast`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.cv.pair.candidates import OOFPairModel
from prodmatch.cv.pair.tuning import TunedChoice, tune_choices
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matching import PairCandidates


def predict_out_of_fold(candidates: PairCandidates, model_folds: np.ndarray, oof: OOFPairModel) -> np.ndarray:
    """Each non-self pair's probability from the model of its query's model fold (self pairs 1)."""
    table = candidates.table
    fold_ids = np.unique(model_folds)
    if len(fold_ids) != len(oof.models):
        raise ValueError(f"{len(oof.models)} fold models for {len(fold_ids)} model folds")
    probability = np.ones(len(table), dtype=np.float32)
    others = table.rows != table.cols
    query_fold = model_folds[table.rows]
    for fold, model in zip(fold_ids, oof.models):
        held_out = np.flatnonzero(others & (query_fold == fold))
        probability[held_out] = model.predict(candidates.features.take(held_out))
    return probability


@dataclass
class Level:
    """One pool size: its candidates, their out-of-fold probabilities, and every graph choice tuned there."""

    name: str  # "folds" (the CV folds searched alone), "1/2" (two pools), "all" (one pool)
    size: float  # mean rows per pool
    candidates: PairCandidates
    probability: np.ndarray
    choices: dict[GraphSteps, TunedChoice]

    def threshold(self, steps: GraphSteps) -> float:
        return float(next(iter(self.choices[steps].matching.policy.thresholds.values())))

    def as_dict(self, steps: GraphSteps) -> dict:
        choice = self.choices[steps]
        return {"pools": self.name, "pool_size": round(self.size), "f1": choice.score.f1,
                "threshold": self.threshold(steps)}


def tuned_level(name: str, size: float, candidates: PairCandidates, probability: np.ndarray, labels: np.ndarray,
                choices: tuple[GraphSteps, ...], min2: bool, cap: int) -> Level:
    return Level(name, size, candidates, probability,
                 tune_choices(candidates.table, probability, labels, choices, min2, cap))


PAIR_POOL_COUNTS = (2, 1)  # the rows as two pools, then as one: the two largest sizes, what the forecast reads


def pair_pool_counts(n_rows: int, min_pool_size: int) -> list[int]:
    """The pool counts the pair model is scored at (beside the CV folds): those whose pools hold at least
    ``min_pool_size`` rows; always the single pool it learns from."""
    return [m for m in PAIR_POOL_COUNTS if m == 1 or n_rows / m >= min_pool_size]
