"""Tuning how the pair model's out-of-fold probabilities become matches: the threshold and min2 floor on
the probability (as for any source), under each graph-step choice, and the nested estimate (choice and
threshold picked on the other folds only)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.pair.graph import GraphSteps
from prodmatch.match.pair.matching import PairMatching, pair_policy, probability_table
from prodmatch.match.pair.model import PAIR_COLUMN
from prodmatch.match.policy import MatchPolicy
from prodmatch.match.tuning import tune_union
from prodmatch.metrics import MatchScore
from prodmatch.search.scales import PROBABILITY

NO_GRAPH = GraphSteps()
GRAPH_CHOICES = (NO_GRAPH, GraphSteps(mutual=True), GraphSteps(two_hop_edge=0.6), GraphSteps(two_hop_edge=0.75))


@dataclass
class TunedChoice:
    matching: PairMatching
    score: MatchScore
    without_min2: MatchScore  # the same graph steps, threshold tuned with min2 off


def tune_threshold(table: CandidateTable, probability: np.ndarray, labels: np.ndarray, steps: GraphSteps,
                   min2: bool, cap: int) -> tuple[MatchPolicy, MatchScore, MatchScore]:
    """The best threshold on the probability after ``steps`` without min2, then with min2 and its floor:
    (policy, its score, the score without min2)."""
    evaluator = PolicyEvaluator(probability_table(table, probability, steps), labels, [PAIR_COLUMN])
    grids = {PAIR_COLUMN: PROBABILITY.grid()}
    policy, plain = tune_union(evaluator, pair_policy(0.5, min2=False, cap=cap), grids, tune_floor=False)
    if not min2:
        return policy, plain, plain
    policy, score = tune_union(evaluator, replace(policy, min2=True), grids, tune_floor=True)
    return policy, score, plain


def tune_choices(table: CandidateTable, probability: np.ndarray, labels: np.ndarray,
                 choices: tuple[GraphSteps, ...] = GRAPH_CHOICES, min2: bool = True, cap: int = 50
                 ) -> dict[GraphSteps, TunedChoice]:
    """Every graph-step choice with its threshold tuned."""
    out = {}
    for steps in choices:
        policy, score, plain = tune_threshold(table, probability, labels, steps, min2, cap)
        out[steps] = TunedChoice(PairMatching(policy, steps), score, plain)
    return out


def best_choice(tuned: dict[GraphSteps, TunedChoice]) -> GraphSteps:
    """The highest F1; ties go to the earlier (simpler) choice."""
    best = None
    for steps, choice in tuned.items():
        if best is None or choice.score.f1 > tuned[best].score.f1 + 1e-9:
            best = steps
    return best


@dataclass
class NestedPairScores:
    plain: MatchScore  # no graph steps, threshold picked on the other folds
    chosen: MatchScore  # graph steps and threshold both picked on the other folds


def nested_pair_scores(table: CandidateTable, probability: np.ndarray, labels: np.ndarray, folds: np.ndarray,
                       choices: tuple[GraphSteps, ...] = GRAPH_CHOICES, min2: bool = True, cap: int = 50
                       ) -> NestedPairScores:
    """Each fold scored with what was tuned on the other folds only: the plain threshold, and the best graph
    choice with its threshold (``choices`` must include :data:`NO_GRAPH`)."""
    if NO_GRAPH not in choices:
        raise ValueError("the nested estimate compares against no graph steps: include NO_GRAPH in choices")
    labels, folds = np.asarray(labels), np.asarray(folds)
    scores = {kind: [np.zeros(len(labels)) for _ in range(3)] for kind in ("plain", "chosen")}
    pair_fold = folds[table.rows]
    for fold in np.unique(folds):
        held_out = folds == fold
        inner_table, inner_probability = rows_subset(table, probability, ~held_out, pair_fold != fold)
        tuned = tune_choices(inner_table, inner_probability, labels[~held_out], choices, min2, cap)
        outer_table, outer_probability = rows_subset(table, probability, held_out, pair_fold == fold)
        for kind, steps in (("plain", NO_GRAPH), ("chosen", best_choice(tuned))):
            matching = tuned[steps].matching
            evaluator = PolicyEvaluator(probability_table(outer_table, outer_probability, matching.graph),
                                        labels[held_out], [PAIR_COLUMN])
            for target, values in zip(scores[kind], evaluator.row_scores(matching.policy)):
                target[held_out] = values
    return NestedPairScores(*(MatchScore(*(float(v.mean()) for v in scores[kind]), len(labels))
                              for kind in ("plain", "chosen")))


def rows_subset(table: CandidateTable, probability: np.ndarray, keep_rows: np.ndarray, keep_pairs: np.ndarray):
    """The table and probabilities over the rows in ``keep_rows``; ``keep_pairs`` must be exactly the pairs
    among them (true of out-of-fold tables, whose pairs never cross folds)."""
    sub = table.subset(keep_rows)
    if len(sub) != int(keep_pairs.sum()):
        raise ValueError("pairs cross folds: an out-of-fold table never holds such pairs")
    return sub, probability[keep_pairs]
