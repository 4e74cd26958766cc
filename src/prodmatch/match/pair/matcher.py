"""The pair-model rule: every candidate pair's features, the LightGBM model's probability, graph steps, then a
threshold on the probability with min2 and the cap (:class:`~prodmatch.match.pair.matching.PairMatching`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import ClassVar

from prodmatch.match.describe import format_policy
from prodmatch.match.kinds import PAIR_MODEL
from prodmatch.match.matcher import Matched
from prodmatch.match.pair.matching import PairMatching, pair_candidates, predict_probability, probability_table
from prodmatch.match.pair.model import PAIR_COLUMN, PairModel, lightgbm_available
from prodmatch.match.policy import PolicyApplier, policy_problems
from prodmatch.search.features import Features
from prodmatch.search.scales import PROBABILITY


@dataclass
class PairModelMatcher:
    kind: ClassVar[str] = PAIR_MODEL

    model: PairModel
    matching: PairMatching  # tuned at fold size, with its slope with the test size

    def unavailable(self) -> str | None:
        if lightgbm_available():
            return None
        return "LightGBM is not installed (pip install 'lightgbm>=4.0')"

    def for_test_size(self, n_rows: int) -> PairModelMatcher:
        return replace(self, matching=self.matching.for_test_size(n_rows))

    def match(self, features: Features, sources: list) -> Matched:
        found = pair_candidates(features, sources)
        started = time.perf_counter()
        probability = predict_probability(found.table, found.features, self.model)
        seconds = {**found.seconds, "pair_model": time.perf_counter() - started}
        table = probability_table(found.table, probability, self.matching.graph)
        policy = self.matching.policy
        applier = PolicyApplier(table, policy.priority)
        return Matched(table, applier.mask(policy), applier.order, PAIR_COLUMN, seconds)

    def check(self, scale_of) -> list[str]:
        problems = policy_problems(self.matching.policy, lambda name: PROBABILITY)
        edge = self.matching.graph.two_hop_edge
        if edge is not None and not 0.0 <= edge <= 1.0:
            problems.append(f"two-hop edge level {edge} is not a probability")
        for size, threshold, floor in self.matching.smaller:
            if not (size > 0 and 0.0 <= threshold <= 1.0 and (floor == -float("inf") or 0.0 <= floor <= 1.0)):
                problems.append(f"the threshold {threshold} / floor {floor} at pool size {size} is not a probability")
        return problems

    def describe(self, scale_of) -> str:
        return (f"pair model {format_policy(self.matching.policy, lambda name: PROBABILITY)}, graph steps: "
                f"{self.matching.graph.describe()}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "matching": self.matching.as_dict(), "model": self.model.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> PairModelMatcher:
        return cls(PairModel.from_dict(data["model"]), PairMatching.from_dict(data["matching"]))
