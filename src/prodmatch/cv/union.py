"""The union rule's CV: each source's sweep, the union with min2 tuned on all folds, the nested estimate, and
the size curve that moves its thresholds to the test size."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prodmatch.cv.format import format_size_curve
from prodmatch.cv.matcher_cv import CVContext, MatcherCV, OOFSearch
from prodmatch.cv.size_curve import size_curve_skipped, tune_size_curve
from prodmatch.cv.tune import nested_score, tune_policy
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.kinds import UNION
from prodmatch.match.size_aware import SizeCurve
from prodmatch.match.union import UnionMatcher
from prodmatch.recipes import Recipe


@dataclass
class UnionCV(MatcherCV):
    sweeps: dict[str, list[dict]] = field(default_factory=dict)  # per source: its threshold sweep (alone)

    @property
    def size_curve(self) -> SizeCurve | None:
        return self.matcher.size_curve

    @property
    def curves(self) -> dict[str, list[dict]]:
        return self.sweeps

    def figures(self) -> dict:
        curve = self.size_curve
        return {**super().figures(), "size_curve": None if curve is None else curve.as_dict()}

    def facts(self, recipe: Recipe) -> list[tuple[str, str]]:
        facts = super().facts(recipe)
        curve = self.size_curve
        if curve is not None:
            slopes = ", ".join(f"{k} +{v:.3f}" for k, v in curve.slopes().items())
            facts.append(("Test size", f"thresholds tuned on pools of {curve.sizes[0]:,.0f}-{curve.sizes[-1]:,.0f} "
                                       f"rows; slope per doubling: {slopes or 'none'}"))
        return facts

    def text(self, recipe: Recipe, test_sizes: tuple[int, ...]) -> list[str]:
        return [] if self.size_curve is None else [format_size_curve(self.size_curve, recipe, test_sizes)]


class UnionTuner:
    kind = UNION
    needs_pair_features = False

    def __init__(self, params: dict | None = None):
        if params:
            raise ValueError(f"the union rule takes no parameters, got {sorted(params)}")

    def skipped(self, context: CVContext) -> str | None:
        return None

    def tune(self, search: OOFSearch, context: CVContext) -> UnionCV:
        table, labels, recipe = search.table, context.labels, context.recipe
        seconds, notes = {}, []
        started = time.perf_counter()
        tuned = tune_policy(table, labels, recipe)
        seconds["tuning"] = time.perf_counter() - started
        nested = None
        if context.nested and context.n_folds > 1:
            started = time.perf_counter()
            nested = nested_score(table, labels, context.folds, recipe)
            seconds["nested"] = time.perf_counter() - started
        elif context.nested:
            notes.append("nested estimate skipped: the CV rows are all in one fold, so there are no other folds to "
                         "tune on")
        curve = None
        if context.size_curve:
            started = time.perf_counter()
            curve, _ = tune_size_curve(context.features, labels, recipe, progress=context.progress)
            seconds["size_curve"] = time.perf_counter() - started
            if curve is None:
                notes.append(size_curve_skipped(len(labels)))
        score = PolicyEvaluator(table, labels, tuned.policy.priority).score(tuned.policy)
        label = "union+min2" if tuned.policy.min2 else "union"
        return UnionCV(UnionMatcher(tuned.policy, curve), label, table, tuned.policy, score, nested, tuned.rows,
                       seconds, notes, sweeps=tuned.curves)
