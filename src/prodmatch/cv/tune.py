"""Tuning a recipe's policy on an out-of-fold table: per-source sweeps, the union, min2; the nested estimate."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.tuning import coarse_to_fine, tune_source, tune_union
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe


@dataclass
class TunedPolicy:
    policy: MatchPolicy
    rows: list[dict]  # the CV table (per-source rows only with report_sources)
    curves: dict[str, list[dict]]
    alone: dict[str, float]  # each source's best threshold on its own (min2 off)


def table_row(source: str, threshold, score: MatchScore) -> dict:
    return {"source": source, "threshold": threshold, "f1": score.f1, "precision": score.precision,
            "recall": score.recall}


def tune_policy(table: CandidateTable, labels: np.ndarray, recipe: Recipe, report_sources: bool = True) -> TunedPolicy:
    """Per-source sweeps, then the union without and with min2.

    With ``report_sources=False`` the per-source starting points come from a coarse-to-fine search and no
    per-source rows or curves are returned (faster; used for the size curve).
    """
    evaluator = PolicyEvaluator(table, labels, recipe.priority)
    grids = recipe.grids()
    rows, curves, best_alone = [], {}, {}
    for source in recipe.priority:
        if not report_sources:
            def alone(t, source=source):
                return evaluator.score(MatchPolicy({source: float(t)}, priority=recipe.priority, min2=False))

            best_alone[source] = coarse_to_fine(alone, grids[source])[0]
            continue
        best, points = tune_source(evaluator, source, grids[source], min2=False)
        best_alone[source] = best.threshold
        curves[source] = [{"threshold": p.threshold, **p.score.as_dict()} for p in points]
        rows.append(table_row(source, best.threshold, best.score))
    start = MatchPolicy(dict(best_alone), priority=recipe.priority, min2=False, cap=recipe.cap)
    union, union_score = tune_union(evaluator, start, grids, tune_floor=False)
    rows.append(table_row("union", union.thresholds, union_score))
    policy = union
    if recipe.min2:
        policy, min2_score = tune_union(evaluator, replace(union, min2=True), grids, tune_floor=True)
        rows.append(table_row("union+min2", policy.thresholds, min2_score))
    return TunedPolicy(policy, rows, curves, best_alone)


def nested_score(table: CandidateTable, labels: np.ndarray, folds: np.ndarray, recipe: Recipe) -> MatchScore:
    """Score each fold with thresholds tuned only on the other folds."""
    f1 = np.zeros(len(labels))
    precision = np.zeros(len(labels))
    recall = np.zeros(len(labels))
    for fold in np.unique(folds):
        held_out = folds == fold
        policy = tune_policy(table.subset(~held_out), labels[~held_out], recipe).policy
        evaluator = PolicyEvaluator(table.subset(held_out), labels[held_out], recipe.priority)
        f1[held_out], precision[held_out], recall[held_out] = evaluator.row_scores(policy)
    return MatchScore(float(f1.mean()), float(precision.mean()), float(recall.mean()), len(f1))
