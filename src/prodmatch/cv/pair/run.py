"""The pair model's CV: out-of-fold model, the shipped model, its matching tuned on the out-of-fold
probabilities, the nested estimate, and the threshold's slope with the test size.

Graph steps (:mod:`prodmatch.match.pair.graph`) are kept only when they win twice: in nested CV (choice and
threshold picked on the other folds) and on pools twice a fold's size (:mod:`prodmatch.cv.pair.size`);
without the nested estimate (``nested=False``, e.g. the tuning step of a submission) the plain CV decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from prodmatch.cv.pair.size import SizeCheck, size_check
from prodmatch.cv.pair.tuning import GRAPH_CHOICES, NO_GRAPH, TunedChoice, best_choice, nested_pair_scores, tune_choices
from prodmatch.cv.pair.candidates import final_pair_model, mean_importances, model_folds, oof_pair_model
from prodmatch.cv.tune import table_row
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matching import PairCandidates, PairMatching, probability_table
from prodmatch.match.pair.model import PairModel
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features


@dataclass
class PairCV:
    """The shipped model, how it matches, its out-of-fold table and scores."""

    model: PairModel
    matching: PairMatching  # tuned at fold size, with its size slope
    table: CandidateTable  # out-of-fold, symmetric: every source's column and the pair column (graph applied)
    probability: np.ndarray  # out-of-fold, before graph steps
    score: MatchScore  # the chosen matching, tuned on all folds
    without_min2: MatchScore
    nested: MatchScore | None  # the chosen procedure (graph steps or not), nested
    nested_without_graph: MatchScore | None
    rounds: list[int]  # early-stopped rounds per fold model
    importances: dict[str, float]
    choices: dict[GraphSteps, TunedChoice]
    size: SizeCheck | None
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """Lines for the CV table (``source``, ``threshold``, f1, precision, recall)."""
        plain = self.choices[NO_GRAPH]
        out = [table_row("pair model", dict(plain.matching.policy.thresholds), plain.without_min2),
               table_row("pair model+min2", dict(plain.matching.policy.thresholds), plain.score)]
        if self.matching.graph != NO_GRAPH:
            out.append(table_row(f"pair model+min2+{self.matching.graph.describe()}",
                                 dict(self.matching.policy.thresholds), self.score))
        return out


def keep_graph_steps(nested_graph: MatchScore | None, nested_plain: MatchScore | None, size: SizeCheck | None,
                     candidate: GraphSteps) -> bool:
    """Graph steps stay on only if they win in nested CV (when run) and at twice the fold size (when checked)."""
    if candidate == NO_GRAPH:
        return False
    if nested_graph is not None and nested_plain is not None and nested_graph.f1 <= nested_plain.f1:
        return False
    at_big = None if size is None else size.f1_at_big
    return at_big is None or at_big[candidate.describe()] > at_big[NO_GRAPH.describe()]


def run_pair_cv(features: Features, candidates: PairCandidates, labels: np.ndarray, folds: np.ndarray,
                recipe: Recipe, nested: bool = True, params: dict | None = None, progress: bool = False) -> PairCV:
    """``folds``: the CV folds (each searched on its own); the model is trained out of :func:`model_folds`. The
    nested estimate needs two CV folds or more."""
    labels, folds = np.asarray(labels), np.asarray(folds)
    trained_out_of = model_folds(labels, folds)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    oof = oof_pair_model(candidates, labels, trained_out_of, params, progress)
    model = final_pair_model(candidates, labels, max(int(round(float(np.mean(oof.rounds)))), 1), params)
    seconds["pair_model_fit"] = time.perf_counter() - started

    started = time.perf_counter()
    table, probability = candidates.table, oof.probability
    choices = tune_choices(table, probability, labels, GRAPH_CHOICES, recipe.min2, recipe.cap)
    candidate = best_choice(choices)
    nested_plain = nested_graph = None
    if nested and len(np.unique(folds)) > 1:
        both = nested_pair_scores(table, probability, labels, folds, GRAPH_CHOICES, recipe.min2, recipe.cap)
        nested_plain, nested_graph = both.plain, both.chosen
    seconds["pair_tuning"] = time.perf_counter() - started

    started = time.perf_counter()
    size = size_check(features, oof, labels, trained_out_of, recipe,
                      {steps: choices[steps].matching for steps in dict.fromkeys([NO_GRAPH, candidate])})
    seconds["pair_size_check"] = time.perf_counter() - started

    chosen = candidate if keep_graph_steps(nested_graph, nested_plain, size, candidate) else NO_GRAPH
    fold_size = float(len(labels) / len(np.unique(folds)))
    matching = replace(choices[chosen].matching, tuned_size=fold_size, size_slope=size.logit_slope)
    nested_score = nested_graph if chosen != NO_GRAPH else nested_plain
    out_table = probability_table(table, probability, matching.graph, keep_sources=True)
    if progress:
        print(f"  pair model: {matching.graph.describe()} graph steps, threshold slope {size.logit_slope:.3f} "
              f"logit per doubling", flush=True)
    return PairCV(model, matching, out_table, probability, choices[chosen].score, choices[chosen].without_min2,
                  nested_score, nested_plain, oof.rounds, mean_importances(oof.models), choices, size, seconds)
