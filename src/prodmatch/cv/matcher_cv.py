"""One decision rule tuned by CV (:class:`MatcherCV`), the tuners that make them, and the choice between them.

Every rule a recipe asks for is tuned on the same out-of-fold search (:class:`OOFSearch`); the CV keeps
each one's result and matches with the winner (:func:`choose`). Nothing here or in the flows asks which rule
a result is: a new rule brings its own tuner (a class with ``kind``, ``needs_pair_features``, ``skipped``
and ``tune``) registered in :data:`TUNERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from prodmatch.cv.oof import oof_candidates
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.matcher import Matcher
from prodmatch.match.policy import MatchPolicy
from prodmatch.metrics import MatchScore
from prodmatch.recipes import Recipe
from prodmatch.search.features import Features


@dataclass
class MatcherCV:
    """A rule tuned at fold size: the rule itself (it knows how it moves with the test size), the out-of-fold
    table and the policy that reproduce its decision there, its scores, and what it adds to the CV output.
    Each rule's CV subclasses it for its own figures (:meth:`figures`, :meth:`facts`, :meth:`text`)."""

    matcher: Matcher
    label: str  # how the CV output names it ("union+min2", "pair model")
    table: CandidateTable  # out of fold: the columns ``policy`` reads
    policy: MatchPolicy  # the rule's decision on ``table``
    score: MatchScore  # tuned on all folds
    nested: MatchScore | None  # tuned on the other folds only
    rows: list[dict]  # its lines of the CV table: source, threshold(s), f1, precision, recall
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was skipped and why

    @property
    def kind(self) -> str:
        return self.matcher.kind

    @property
    def curves(self) -> dict[str, list[dict]]:
        """Per source: its threshold sweep, when this rule's tuning made them."""
        return {}

    @property
    def importances(self) -> dict[str, float]:
        """Feature -> share of gain, when the rule has features."""
        return {}

    def figures(self) -> dict:
        """Its CV figures, JSON-safe (cv.json and thresholds.json keep them beside the choice)."""
        return {"f1": self.score.f1, "nested_f1": None if self.nested is None else self.nested.f1}

    def facts(self, recipe: Recipe) -> list[tuple[str, str]]:
        """(label, text) lines about it for the report."""
        nested = "—" if self.nested is None else f"{self.nested.f1:.4f}"
        return [("F1 (CV / nested)", f"{self.score.f1:.4f} / {nested}")]

    def text(self, recipe: Recipe, test_sizes: tuple[int, ...]) -> list[str]:
        """Lines under the CV table, with the rule moved to each of ``test_sizes``."""
        return []


@dataclass
class CVContext:
    """What every tuner reads: the rows, their labels and folds, the recipe, and the options of the run."""

    features: Features
    labels: np.ndarray
    folds: np.ndarray
    recipe: Recipe
    nested: bool = True
    size_curve: bool = True
    progress: bool = False

    @property
    def n_folds(self) -> int:
        return len(np.unique(self.folds))


class OOFSearch:
    """The out-of-fold search, done once for every rule: candidates only (``oof_candidates``), or candidates
    with every pair's features when some rule needs them (the union then reads the pairs a source proposed)."""

    def __init__(self, context: CVContext, with_pair_features: bool):
        self.context = context
        self.with_pair_features = with_pair_features
        self.seconds: dict[str, float] = {}

    @cached_property
    def pair_candidates(self):
        from prodmatch.cv.pair.candidates import oof_pair_candidates

        if not self.with_pair_features:
            raise RuntimeError("this search was set up without pair features")
        context = self.context
        found = oof_pair_candidates(context.features, context.folds, context.recipe, progress=context.progress)
        self.seconds.update(found.seconds)
        return found

    @cached_property
    def table(self) -> CandidateTable:
        """The sources' out-of-fold candidates (each fold searched on its own)."""
        if self.with_pair_features:
            from prodmatch.match.pair.matching import proposed_pairs, select_pairs

            table = self.pair_candidates.table
            return select_pairs(table, proposed_pairs(table))
        context = self.context
        table, seconds = oof_candidates(context.features, context.folds, context.recipe, progress=context.progress)
        self.seconds.update(seconds)
        return table


class Tuner(Protocol):
    kind: str
    needs_pair_features: bool

    def skipped(self, context: CVContext) -> str | None:
        """Why this rule cannot be tuned on these rows (a note for the CV output), or None."""

    def tune(self, search: OOFSearch, context: CVContext) -> MatcherCV: ...


def tuners_for(recipe: Recipe, only: str | None = None) -> list[Tuner]:
    """The tuners of the rules ``recipe`` asks for (the union always first), or of ``only`` that one."""
    from prodmatch.cv.tuners import TUNERS

    kinds = recipe.matcher_kinds if only is None else [only]
    unknown = [k for k in kinds if k not in TUNERS]
    if unknown:
        raise ValueError(f"no CV tuner for matcher kind(s) {unknown}; known: {sorted(TUNERS)}")
    return [TUNERS[kind](recipe.matcher_params(kind)) for kind in kinds]


def choose(results: list[MatcherCV]) -> MatcherCV:
    """The rule to match with: each later rule replaces the best so far only if it beats it -- on the nested
    estimates when both have one, else on the CV F1 -- so ties go to the earlier (simpler) rule."""
    best = results[0]
    for result in results[1:]:
        if result.nested is not None and best.nested is not None:
            wins = result.nested.f1 > best.nested.f1
        else:
            wins = result.score.f1 > best.score.f1
        if wins:
            best = result
    return best
