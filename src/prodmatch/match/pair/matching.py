"""Matching on the pair model: candidates with their pair features, the model's probability per pair, graph
steps, then a threshold on the probability with min2 and the cap -- the same
:class:`~prodmatch.match.policy.MatchPolicy` machinery as the union, over one column (``pair``).

The candidate table is made symmetric first (:func:`~prodmatch.match.pair.neighbourhood.with_reverse_pairs`): if
one posting's search proposed the other, the pair is scored in both directions.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.features import PairFeatures, pair_features
from prodmatch.match.pair.graph import GraphSteps, apply_graph_steps
from prodmatch.match.pair.model import PAIR_COLUMN, PairModel
from prodmatch.match.pair.neighbourhood import with_reverse_pairs
from prodmatch.match.policy import MatchPolicy
from prodmatch.search.features import Features
from prodmatch.search.sources import search_all_with_vectors

MAX_EXTRAPOLATED_DOUBLINGS = 2.0  # a slope is never carried further past the size it was tuned at


class SizeMoveWarning(UserWarning):
    """A threshold was moved past the sizes it was measured at (and bounded)."""


@dataclass
class PairMatching:
    """How pair-model probabilities become matches, at any number of postings searched together.

    ``smaller``: the best threshold and min2 floor measured in CV on pools smaller than ``tuned_size`` (where
    the model learnt, on all the CV rows searched together), as ``(pool size, threshold, floor)``. A smaller
    test set gets them interpolated in log size (logit units); a larger one keeps the matching as tuned: on
    the size-transfer benchmark any upward move beyond the learnt pool lowered the test's F1.

    ``size_slope`` (files written before format 2): the change of ``logit(threshold)`` per doubling, measured on
    fold-size pools; threshold, floor and two-hop edge move by it, at most :data:`MAX_EXTRAPOLATED_DOUBLINGS`
    doublings past ``tuned_size`` (a :class:`SizeMoveWarning` says so). Logit units keep a threshold below 1.
    """

    policy: MatchPolicy  # thresholds {"pair": t}, priority ["pair"], min2 and its floor, cap
    graph: GraphSteps = field(default_factory=GraphSteps)
    tuned_size: float = 0.0
    size_slope: float = 0.0
    smaller: list[tuple[float, float, float]] = field(default_factory=list)  # (size, threshold, floor) ascending

    def __post_init__(self) -> None:
        if list(self.policy.thresholds) != [PAIR_COLUMN] or list(self.policy.priority) != [PAIR_COLUMN]:
            raise ValueError(f"a pair-model policy thresholds and ranks the {PAIR_COLUMN!r} column only")
        self.smaller = [tuple(float(v) for v in level) for level in self.smaller]
        if [level[0] for level in self.smaller] != sorted(level[0] for level in self.smaller):
            raise ValueError("the smaller pools' thresholds must be sorted by pool size")

    @property
    def threshold(self) -> float:
        return float(self.policy.thresholds[PAIR_COLUMN])

    def for_test_size(self, n_rows: int) -> PairMatching:
        """This matching for ``n_rows`` postings searched together."""
        if self.tuned_size <= 0 or n_rows == self.tuned_size:
            return self
        if n_rows < self.tuned_size:
            return self._interpolated(n_rows) if self.smaller else self
        if self.size_slope == 0:
            return self
        doublings = float(np.log2(n_rows / self.tuned_size))
        if doublings > MAX_EXTRAPOLATED_DOUBLINGS:
            warnings.warn(f"pair model: {n_rows} test postings are {doublings:.1f} doublings past the {self.tuned_size:.0f} "
                          f"it was tuned at; its threshold moves by at most {MAX_EXTRAPOLATED_DOUBLINGS:.0f} doublings "
                          "of the measured slope (re-tune with this prodmatch to learn from larger pools)",
                          SizeMoveWarning, stacklevel=2)
            doublings = MAX_EXTRAPOLATED_DOUBLINGS
        shift = self.size_slope * doublings
        policy = replace(self.policy, thresholds={PAIR_COLUMN: shift_logit(self.threshold, shift)},
                         min2_floor=shift_logit(self.policy.min2_floor, shift))
        edge = self.graph.two_hop_edge
        graph = replace(self.graph, two_hop_edge=None if edge is None else shift_logit(edge, shift))
        return replace(self, policy=policy, graph=graph, tuned_size=float(n_rows), smaller=[])

    def _interpolated(self, n_rows: int) -> PairMatching:
        sizes = np.log2([level[0] for level in self.smaller] + [self.tuned_size])
        x = float(np.clip(np.log2(max(n_rows, 1)), sizes[0], sizes[-1]))

        def at(values: list[float]) -> float:
            finite = np.isfinite(values)
            if not finite.all():  # no floor somewhere: keep the tuned one
                return values[-1]
            return float(1.0 / (1.0 + np.exp(-np.interp(x, sizes, [logit(v) for v in values]))))

        threshold = at([level[1] for level in self.smaller] + [self.threshold])
        floor = at([level[2] for level in self.smaller] + [self.policy.min2_floor])
        policy = replace(self.policy, thresholds={PAIR_COLUMN: threshold}, min2_floor=floor)
        return replace(self, policy=policy, tuned_size=float(n_rows), size_slope=0.0, smaller=[])

    def as_dict(self) -> dict:
        return {"policy": self.policy.as_dict(), "graph": self.graph.as_dict(), "tuned_size": self.tuned_size,
                "size_slope": self.size_slope,
                "smaller": [[s, t, None if not np.isfinite(f) else f] for s, t, f in self.smaller]}

    @classmethod
    def from_dict(cls, data: dict) -> PairMatching:
        smaller = [(s, t, -np.inf if f is None else f) for s, t, f in data.get("smaller") or []]
        return cls(MatchPolicy.from_dict(data["policy"]), GraphSteps.from_dict(data.get("graph")),
                   float(data.get("tuned_size", 0.0)), float(data.get("size_slope", 0.0)), smaller)


def logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def shift_logit(p: float, shift: float) -> float:
    """``sigmoid(logit(p) + shift)``; an infinite threshold or floor (off / none) stays as it is."""
    if not np.isfinite(p):
        return p
    return float(1.0 / (1.0 + np.exp(-(logit(p) + shift))))


def pair_policy(threshold: float, min2: bool = True, min2_floor: float = -np.inf, cap: int = 50) -> MatchPolicy:
    return MatchPolicy({PAIR_COLUMN: float(threshold)}, priority=[PAIR_COLUMN], min2=min2, min2_floor=min2_floor,
                       cap=cap)


@dataclass
class PairCandidates:
    """One set of postings searched together: the symmetric candidate table and every pair's features."""

    table: CandidateTable
    features: PairFeatures
    seconds: dict[str, float]  # per source search, then "pair_features"


def pair_candidates(features: Features, sources: list) -> PairCandidates:
    neighbours, vectors, seconds = search_all_with_vectors(sources, features)
    started = time.perf_counter()
    table = with_reverse_pairs(CandidateTable.from_sources(neighbours))
    found = pair_features(table, features.titles, sources, vectors, features.fields)
    return PairCandidates(table, found, {**seconds, "pair_features": time.perf_counter() - started})


def proposed_pairs(table: CandidateTable) -> np.ndarray:
    """Pairs some source proposed (the reverse pairs added for symmetry are not)."""
    proposed = np.zeros(len(table), dtype=bool)
    for column in table.scores.values():
        proposed |= np.isfinite(column)
    return proposed


def select_pairs(table: CandidateTable, keep: np.ndarray) -> CandidateTable:
    """The pairs at ``keep`` (bool per pair), order kept."""
    return CandidateTable(table.rows[keep], table.cols[keep], {k: v[keep] for k, v in table.scores.items()},
                          table.n_query, table.n_index)


def predict_probability(table: CandidateTable, features: PairFeatures, model: PairModel) -> np.ndarray:
    """The model's probability for every non-self pair; self pairs 1."""
    if len(features) != len(table):
        raise ValueError(f"{len(features)} feature rows for {len(table)} pairs")
    probability = model.predict(features)  # self pairs too: cheaper than copying the features without them
    probability[table.rows == table.cols] = 1.0
    return probability


def probability_table(table: CandidateTable, probability: np.ndarray, graph: GraphSteps,
                      keep_sources: bool = False) -> CandidateTable:
    """The table with the ``pair`` column (graph steps applied): the one column a pair-model policy reads.
    ``keep_sources`` keeps the sources' columns beside it (for the report)."""
    column = apply_graph_steps(table, probability, graph)
    scores = {**(table.scores if keep_sources else {}), PAIR_COLUMN: column}
    return CandidateTable(table.rows, table.cols, scores, table.n_query, table.n_index)
