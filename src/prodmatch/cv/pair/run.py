"""The pair model's CV: fold models and the shipped model trained on the largest pool the train allows, its
matching tuned there, its F1 on pools of growing size (the forecast), and the nested estimate at fold size.

Why the largest pool (:mod:`prodmatch.cv.pair.levels`): on real Shopee rows of label groups never seen
(bench/bench_scale_transfer.py, a test ten times a fold), a model that learnt from fold-size pools lost 0.13 F1
between fold size and test size; one that learnt from all the train rows searched together kept its threshold
right at twice that size with no move at all (any upward move lowered the test's F1), and scored higher there.
So the matching is tuned at the pool it learnt from and not moved with the test size (``size_slope`` 0); the
best threshold at each pool size is kept in the CV figures for the record.

Graph steps (:mod:`prodmatch.match.pair.graph`) are kept only when they win twice: on the largest pool and in
nested CV at fold size (choice and threshold picked on the other folds), when that is run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from prodmatch.cv.format import format_pair_model
from prodmatch.cv.matcher_cv import CVContext, MatcherCV, OOFSearch
from prodmatch.cv.pair.candidates import final_pair_model, mean_importances, model_folds, oof_pair_model
from prodmatch.cv.pair.levels import Level, pair_pool_counts, predict_out_of_fold, tuned_level
from prodmatch.cv.pair.tuning import GRAPH_CHOICES, NO_GRAPH, TunedChoice, best_choice, nested_pair_scores
from prodmatch.cv.size_curve import MIN_POOL_SIZE
from prodmatch.cv.tune import table_row
from prodmatch.match.forecast import SizeForecast
from prodmatch.match.kinds import PAIR_MODEL
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matcher import PairModelMatcher
from prodmatch.match.pair.matching import PairMatching, probability_table
from prodmatch.match.pair.model import PairModel, lightgbm_available
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe

MIN_PAIR_MODEL_GROUPS = 20  # fewer label groups cannot fill the pair model's folds


@dataclass
class PairModelCV(MatcherCV):
    """The pair model's CV: the shipped model and its matching (in ``matcher``), the out-of-fold table at fold
    size (every source's column and the pair column, graph steps applied), and its pools of growing size."""

    levels: list[Level] = field(default_factory=list)  # ascending pool size; the last is where it learnt
    chosen_steps: GraphSteps = NO_GRAPH
    nested_without_graph: MatchScore | None = None
    rounds: list[int] = field(default_factory=list)  # early-stopped rounds per fold model
    feature_gain: dict[str, float] = field(default_factory=dict)

    @property
    def model(self) -> PairModel:
        return self.matcher.model

    @property
    def matching(self) -> PairMatching:
        return self.matcher.matching

    @property
    def importances(self) -> dict[str, float]:
        return self.feature_gain

    @property
    def largest(self) -> Level:
        return self.levels[-1]

    def figures(self) -> dict:
        nested_plain = self.nested_without_graph
        return {
            **super().figures(),
            "nested_f1_without_graph": None if nested_plain is None else nested_plain.f1,
            "graph": self.matching.graph.describe(),
            "rounds_per_fold": self.rounds,
            "final_rounds": self.model.rounds,
            "pools": [level.as_dict(self.chosen_steps) for level in self.levels],
            "graph_choices_f1": {steps.describe(): c.score.f1 for steps, c in self.largest.choices.items()},
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
        facts.append(("Learnt from", f"all {self.largest.size:,.0f} CV rows searched together (pairs of every "
                                     "model fold, each predicted by a model that never saw its query's fold)"))
        facts.append(("By pool size", "; ".join(f"{level.size:,.0f} rows: F1 {level.choices[self.chosen_steps].score.f1:.4f}"
                                               f" at p ≥ {level.threshold(self.chosen_steps):.2f}"
                                               for level in self.levels)))
        return facts

    def text(self, recipe: Recipe, test_sizes: tuple[int, ...]) -> list[str]:
        return [format_pair_model(self, recipe, test_sizes)]


def pair_rows(choices: dict[GraphSteps, TunedChoice], steps: GraphSteps) -> list[dict]:
    """The pair model's lines of the CV table (fold size): without and with min2, then with its graph steps."""
    plain = choices[NO_GRAPH]
    out = [table_row("pair model", dict(plain.matching.policy.thresholds), plain.without_min2),
           table_row("pair model+min2", dict(plain.matching.policy.thresholds), plain.score)]
    if steps != NO_GRAPH:
        out.append(table_row(f"pair model+min2+{steps.describe()}", dict(choices[steps].matching.policy.thresholds),
                             choices[steps].score))
    return out


def keep_graph_steps(largest: Level, nested_graph: MatchScore | None, nested_plain: MatchScore | None,
                     candidate: GraphSteps) -> bool:
    """Graph steps stay on only if they win on the largest pool and in nested CV at fold size (when run)."""
    if candidate == NO_GRAPH:
        return False
    if largest.choices[candidate].score.f1 <= largest.choices[NO_GRAPH].score.f1:
        return False
    return nested_graph is None or nested_plain is None or nested_graph.f1 > nested_plain.f1


def run_pair_cv(search: OOFSearch, context: CVContext, params: dict | None = None) -> PairModelCV:
    labels, folds, recipe = context.labels, context.folds, context.recipe
    trained_out_of = model_folds(labels, folds)
    counts = pair_pool_counts(len(labels), MIN_POOL_SIZE)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    everything = search.pooled(1)
    oof = oof_pair_model(everything, labels, trained_out_of, params, context.progress)
    model = final_pair_model(everything, labels, max(int(round(float(np.mean(oof.rounds)))), 1), params)
    seconds["pair_model_fit"] = time.perf_counter() - started

    started = time.perf_counter()
    choices = GRAPH_CHOICES
    tune = (labels, choices, recipe.min2, recipe.cap)
    levels = [tuned_level("all", float(len(labels)), everything, oof.probability, *tune)]
    for n_pools in counts[:-1]:
        found = search.pooled(n_pools)
        levels.insert(0, tuned_level(f"1/{n_pools}", len(labels) / n_pools, found,
                                     predict_out_of_fold(found, trained_out_of, oof), *tune))
    at_folds = search.pair_candidates if context.n_folds > 1 else everything
    fold_probability = predict_out_of_fold(at_folds, trained_out_of, oof) if context.n_folds > 1 else oof.probability
    fold_level = tuned_level("folds", len(labels) / context.n_folds, at_folds, fold_probability, *tune)
    nested_plain = nested_graph = None
    if context.nested and context.n_folds > 1:
        both = nested_pair_scores(at_folds.table, fold_probability, labels, folds, choices, recipe.min2, recipe.cap)
        nested_plain, nested_graph = both.plain, both.chosen
    seconds["pair_tuning"] = time.perf_counter() - started

    candidate = best_choice(levels[-1].choices)
    steps = candidate if keep_graph_steps(levels[-1], nested_graph, nested_plain, candidate) else NO_GRAPH
    measured = sorted([fold_level, *levels] if context.n_folds > 1 else levels, key=lambda level: level.size)
    # tuned where it learnt, not moved up past it (see the module docstring); smaller pools as measured
    smaller = [(level.size, level.threshold(steps), level.choices[steps].matching.policy.min2_floor)
               for level in measured[:-1]]
    matching = replace(levels[-1].choices[steps].matching, tuned_size=float(len(labels)), size_slope=0.0,
                       smaller=smaller)
    forecast = SizeForecast([level.size for level in measured], [level.choices[steps].score.f1 for level in measured])
    if context.progress:
        print(f"  pair model: {matching.graph.describe()} graph steps, learnt from {len(labels)} rows searched "
              f"together: F1 {levels[-1].choices[steps].score.f1:.4f}", flush=True)
    fold_choice = fold_level.choices[steps]
    table = probability_table(at_folds.table, fold_probability, steps, keep_sources=True)
    return PairModelCV(PairModelMatcher(model, matching), "pair model", table, fold_choice.matching.policy,
                       fold_choice.score, nested_graph if steps != NO_GRAPH else nested_plain,
                       pair_rows(fold_level.choices, steps), seconds, forecast=forecast, levels=measured,
                       chosen_steps=steps, nested_without_graph=nested_plain, rounds=oof.rounds,
                       feature_gain=mean_importances(oof.models))


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

    def pool_counts(self, context: CVContext) -> list[int]:
        """The pools it searches with pair features (searched before any rule is tuned, so others reuse them)."""
        return pair_pool_counts(len(context.labels), MIN_POOL_SIZE)

    def tune(self, search: OOFSearch, context: CVContext) -> PairModelCV:
        return run_pair_cv(search, context, self.params)
