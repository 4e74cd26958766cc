"""The dedup decision: a probability threshold and a clustering rule (:mod:`prodmatch.dedup.clustering`), tuned
for pairwise F1 on out-of-fold probabilities, with an honest nested estimate, and guarded against degenerating.

Tuning tries every rule allowed at every threshold of the probability grid and keeps the best pairwise F1
(ties: the lower threshold, the earlier rule). The nested estimate tunes on the records outside each model
fold, applies that decision to the whole graph and scores the pairs touching the fold (a pair across two
folds counts half in each, so every pair counts once).

Never silent (issue 22, item 7): a tuned threshold at the top of the grid (every pair refused), or a decision
that leaves (almost) every record alone while the labels have matches, is replaced by the fixed fallback
:data:`FALLBACK` with a warning; :func:`collapse_warning` says when a decision applied to new records
collapsed to singletons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from prodmatch.dedup.clustering import Edges, cluster, components, rule_edges
from prodmatch.dedup.metrics import PairScore, pairs_within, pairwise_score
from prodmatch.dedup.vocab import CLUSTERINGS, COMPONENTS
from prodmatch.search.scales import PROBABILITY


class DecisionWarning(UserWarning):
    """A tuned or applied decision that degenerated, and the fallback used instead."""


@dataclass(frozen=True)
class Decision:
    threshold: float
    clustering: str = COMPONENTS
    fallback: str | None = None  # why the fixed fallback replaced the tuned decision, if it did

    def __post_init__(self) -> None:
        if self.clustering not in CLUSTERINGS:
            raise ValueError(f"unknown clustering {self.clustering!r}; choose from {CLUSTERINGS}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"a decision threshold is a probability, got {self.threshold}")

    def describe(self) -> str:
        text = f"p >= {self.threshold:.2f}, {self.clustering}"
        return text + (f" (fallback: {self.fallback})" if self.fallback else "")

    def as_dict(self) -> dict:
        return {"threshold": float(self.threshold), "clustering": self.clustering, "fallback": self.fallback}

    @classmethod
    def from_dict(cls, data: dict) -> Decision:
        return cls(float(data["threshold"]), str(data["clustering"]), data.get("fallback"))


FALLBACK = Decision(0.5, COMPONENTS)  # even odds, no clustering constraint: what a probability means by itself
TOP_OF_GRID = float(PROBABILITY.grid()[-1])
MAX_SINGLETON_SHARE = 0.99  # a decision leaving more records alone than this has collapsed


@dataclass
class TunedDecision:
    decision: Decision
    score: PairScore | None  # out of fold, at the tuned decision (None: not tuned on complete labels)
    nested: PairScore | None  # tuned on the other folds
    by_clustering: dict[str, tuple[float, PairScore]] = field(default_factory=dict)  # rule -> best (threshold, score)
    notes: list[str] = field(default_factory=list)

    def figures(self) -> dict:
        return {"decision": self.decision.as_dict(), "score": None if self.score is None else self.score.as_dict(),
                "nested": None if self.nested is None else self.nested.as_dict(),
                "by_clustering": {k: {"threshold": t, **s.as_dict()} for k, (t, s) in self.by_clustering.items()}}


def sweep(edges: Edges, truth: np.ndarray, clustering: str, grid: np.ndarray) -> list[tuple[float, PairScore]]:
    """(threshold, pairwise score) of one rule at every threshold of ``grid``."""
    candidates = rule_edges(edges, clustering)
    out = []
    for threshold in grid:
        kept = candidates.select(candidates.score >= np.float32(threshold))
        out.append((float(threshold), pairwise_score(components(edges.n, kept.a, kept.b), truth)))
    return out


def best_decision(edges: Edges, truth: np.ndarray, clusterings: tuple[str, ...], grid: np.ndarray
                  ) -> tuple[Decision, PairScore, dict[str, tuple[float, PairScore]]]:
    by_rule = {}
    for rule in clusterings:
        points = sweep(edges, truth, rule, grid)
        by_rule[rule] = max(points, key=lambda point: (point[1].f1, -point[0]))
    rule = max(clusterings, key=lambda r: (by_rule[r][1].f1, -clusterings.index(r)))
    threshold, score = by_rule[rule]
    return Decision(threshold, rule), score, by_rule


def degenerate(decision: Decision, score: PairScore, truth: np.ndarray) -> str | None:
    """Why a tuned decision cannot be trusted, or None."""
    if pairs_within(np.bincount(np.unique(truth, return_inverse=True)[1])) == 0:
        return None  # nothing to match: refusing every pair is right
    if decision.threshold >= TOP_OF_GRID:
        return f"the tuned threshold went to the top of the grid (p >= {decision.threshold:.2f})"
    if score.predicted == 0:
        return "the tuned decision matches no pair at all"
    return None


def held_out_counts(clusters: np.ndarray, truth: np.ndarray, held_out: np.ndarray) -> tuple[float, int, int]:
    """(predicted pairs touching ``held_out`` records, a pair across the boundary counting half; true pairs
    among them; right pairs among them). True clusters never cross a model fold."""
    sizes = np.bincount(clusters)
    inside = np.bincount(clusters[held_out], minlength=len(sizes))
    predicted = pairs_within(inside) + 0.5 * float((inside * (sizes - inside)).sum())
    score = pairwise_score(clusters[held_out], truth[held_out])
    return predicted, score.actual, score.true_positives


def nested_score(edges: Edges, truth: np.ndarray, folds: np.ndarray, clusterings: tuple[str, ...],
                 grid: np.ndarray) -> PairScore:
    """Each model fold scored with the decision tuned on the records outside it (see the module doc)."""
    predicted = actual = right = 0.0
    for fold in np.unique(folds):
        held_out = folds == fold
        inner_truth = np.where(held_out, -1 - np.arange(len(truth)), truth)  # held-out records: alone
        decision, _, _ = best_decision(edges.among(~held_out), inner_truth, clusterings, grid)
        clusters = cluster(edges, decision.threshold, decision.clustering).clusters
        p, a, r = held_out_counts(clusters, truth, held_out)
        predicted, actual, right = predicted + p, actual + a, right + r
    precision = right / predicted if predicted else 0.0
    recall = right / actual if actual else 0.0
    f1 = 2 * right / (predicted + actual) if predicted + actual else 0.0
    return PairScore(float(f1), float(precision), float(recall), int(right), int(round(predicted)), int(actual))


def tune_decision(edges: Edges, truth: np.ndarray, folds: np.ndarray | None = None,
                  clusterings: tuple[str, ...] = CLUSTERINGS, grid: np.ndarray | None = None) -> TunedDecision:
    """The best decision for pairwise F1 on ``edges`` (out-of-fold probabilities) against the clusters ``truth``;
    with ``folds`` (the model folds), the nested estimate too. A degenerate result falls back to :data:`FALLBACK`."""
    grid = PROBABILITY.grid() if grid is None else np.asarray(grid)
    decision, score, by_rule = best_decision(edges, truth, tuple(clusterings), grid)
    notes = []
    why = degenerate(decision, score, truth)
    if why:
        fallback = Decision(FALLBACK.threshold, FALLBACK.clustering if FALLBACK.clustering in clusterings
                            else clusterings[0], fallback=why)
        message = f"{why}; using the fixed fallback decision ({fallback.describe()}) instead"
        warnings.warn(message, DecisionWarning, stacklevel=2)
        notes.append(message)
        decision = fallback
        score = pairwise_score(cluster(edges, decision.threshold, decision.clustering).clusters, truth)
    nested = None
    if folds is not None and len(np.unique(folds)) > 1:
        nested = nested_score(edges, truth, np.asarray(folds), tuple(clusterings), grid)
    return TunedDecision(decision, score, nested, by_rule, notes)


def collapse_warning(clusters: np.ndarray, expected_singleton_share: float | None = None) -> str | None:
    """A warning when an applied decision left (almost) every record alone, though the data it was tuned on
    did not; None when the output looks like a clustering."""
    if len(clusters) < 2:
        return None
    share = float((np.bincount(clusters) == 1).sum()) / len(clusters)
    if share <= MAX_SINGLETON_SHARE:
        return None
    if expected_singleton_share is not None and expected_singleton_share > MAX_SINGLETON_SHARE:
        return None  # the tuned-on data was (almost) all singletons too
    expected = "" if expected_singleton_share is None else f" (the labelled data had {expected_singleton_share:.0%})"
    return (f"the output collapsed: {share:.1%} of the records matched nothing{expected}; the model may not fit this "
            "table (other columns or language?), check a few pairs with `prodmatch dedup label`")
