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

from prodmatch.cv.format import format_pair_model
from prodmatch.cv.matcher_cv import CVContext, MatcherCV, OOFSearch
from prodmatch.cv.pair.candidates import final_pair_model, mean_importances, model_folds, oof_pair_model
from prodmatch.cv.pair.size import SizeCheck, size_check
from prodmatch.cv.pair.tuning import GRAPH_CHOICES, NO_GRAPH, TunedChoice, best_choice, nested_pair_scores, tune_choices
from prodmatch.cv.tune import table_row
from prodmatch.match.kinds import PAIR_MODEL
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matcher import PairModelMatcher
from prodmatch.match.pair.matching import PairCandidates, PairMatching, probability_table
from prodmatch.match.pair.model import PairModel, lightgbm_available
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features

MIN_PAIR_MODEL_GROUPS = 20  # fewer label groups cannot fill the pair model's folds


@dataclass
class PairModelCV(MatcherCV):
    """The pair model's CV: the shipped model and its matching (in ``matcher``), its out-of-fold table
    (every source's column and the pair column, graph steps applied) and what chose its graph steps."""

    probability: np.ndarray = None  # out-of-fold, before graph steps
    without_min2: MatchScore | None = None
    nested_without_graph: MatchScore | None = None
    rounds: list[int] = field(default_factory=list)  # early-stopped rounds per fold model
    feature_gain: dict[str, float] = field(default_factory=dict)
    choices: dict[GraphSteps, TunedChoice] = field(default_factory=dict)
    size: SizeCheck | None = None

    @property
    def model(self) -> PairModel:
        return self.matcher.model

    @property
    def matching(self) -> PairMatching:
        return self.matcher.matching

    @property
    def importances(self) -> dict[str, float]:
        return self.feature_gain

    def figures(self) -> dict:
        nested_plain = self.nested_without_graph
        return {
            **super().figures(),
            "nested_f1_without_graph": None if nested_plain is None else nested_plain.f1,
            "graph": self.matching.graph.describe(),
            "rounds_per_fold": self.rounds,
            "final_rounds": self.model.rounds,
            "size_check": None if self.size is None else self.size.as_dict(),
            "graph_choices_f1": {steps.describe(): c.score.f1 for steps, c in self.choices.items()},
            "importances": self.feature_gain,
            "seconds": self.seconds,
        }

    def facts(self, recipe: Recipe) -> list[tuple[str, str]]:
        facts = super().facts(recipe)
        graph = self.matching.graph.describe()
        plain = self.nested_without_graph
        facts.append(("Graph steps", graph + ("" if graph == "none" or plain is None
                                              else f" (nested without them {plain.f1:.4f})")))
        facts.append(("Boosting rounds", f"{self.model.rounds} (early-stopped per fold: "
                                         f"{' '.join(map(str, self.rounds))})"))
        if self.size is not None:
            size = self.size
            facts.append(("Test size", f"best threshold {size.small_threshold:.2f} on folds searched alone "
                                       f"({size.small_size:,.0f} rows), {size.big_threshold:.2f} on two folds "
                                       f"together ({size.big_size:,.0f}): {size.logit_slope:+.2f} logit per "
                                       "doubling of the test set"))
        return facts

    def text(self, recipe: Recipe, test_sizes: tuple[int, ...]) -> list[str]:
        return [format_pair_model(self, recipe, test_sizes)]


def pair_rows(choices: dict[GraphSteps, TunedChoice], matching: PairMatching, score: MatchScore) -> list[dict]:
    """The pair model's lines of the CV table: without and with min2, then with its graph steps (if any)."""
    plain = choices[NO_GRAPH]
    out = [table_row("pair model", dict(plain.matching.policy.thresholds), plain.without_min2),
           table_row("pair model+min2", dict(plain.matching.policy.thresholds), plain.score)]
    if matching.graph != NO_GRAPH:
        out.append(table_row(f"pair model+min2+{matching.graph.describe()}", dict(matching.policy.thresholds), score))
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
    score = choices[chosen].score
    return PairModelCV(PairModelMatcher(model, matching), "pair model", out_table, matching.policy, score,
                       nested_score, pair_rows(choices, matching, score), seconds, probability=probability,
                       without_min2=choices[chosen].without_min2, nested_without_graph=nested_plain,
                       rounds=oof.rounds, feature_gain=mean_importances(oof.models), choices=choices, size=size)


class PairModelTuner:
    kind = PAIR_MODEL
    needs_pair_features = True

    def __init__(self, params: dict | None = None):
        self.params = dict(params or {})

    def skipped(self, context: CVContext) -> str | None:
        if not lightgbm_available():
            return "pair model skipped: lightgbm is not installed (pip install lightgbm); matching uses the union"
        groups = len(np.unique(context.labels))
        if groups < MIN_PAIR_MODEL_GROUPS:
            return (f"pair model skipped: {groups} label groups, fewer than the {MIN_PAIR_MODEL_GROUPS} its folds "
                    "need; matching uses the union")
        return None

    def tune(self, search: OOFSearch, context: CVContext) -> PairModelCV:
        return run_pair_cv(context.features, search.pair_candidates, context.labels, context.folds, context.recipe,
                           nested=context.nested, params=self.params, progress=context.progress)
