"""The union rule: a pair matches when any source scores it at or above that source's threshold, then min2
and the cap (:class:`~prodmatch.match.policy.MatchPolicy`), with thresholds that follow the test size
(:class:`~prodmatch.match.size_aware.SizeCurve`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.describe import format_policy
from prodmatch.match.kinds import UNION
from prodmatch.match.matcher import Matched
from prodmatch.match.policy import MatchPolicy, PolicyApplier, policy_problems
from prodmatch.match.size_aware import SizeCurve
from prodmatch.search.features import Features
from prodmatch.search.sources import search_all


@dataclass
class UnionMatcher:
    kind: ClassVar[str] = UNION

    policy: MatchPolicy  # tuned at fold size (or moved, see for_test_size)
    size_curve: SizeCurve | None = None  # None: fixed thresholds, or already moved

    def unavailable(self) -> str | None:
        return None

    def for_test_size(self, n_rows: int) -> UnionMatcher:
        if self.size_curve is None:
            return self
        return UnionMatcher(self.size_curve.policy_for(n_rows))

    def match(self, features: Features, sources: list) -> Matched:
        names = [s.name for s in sources]
        missing = sorted(set(self.policy.thresholds) - set(names))
        if missing:
            raise ValueError(f"the union has thresholds for source(s) {missing} that are not searched ({names})")
        neighbours, seconds = search_all(sources, features)
        return self.decide(CandidateTable.from_sources(neighbours), seconds)

    def decide(self, table: CandidateTable, seconds: dict | None = None) -> Matched:
        """The policy applied to a searched table."""
        applier = PolicyApplier(table, self.policy.priority)
        return Matched(table, applier.mask(self.policy), applier.order, self.policy.priority[0], dict(seconds or {}))

    def check(self, scale_of) -> list[str]:
        policies = [self.policy, *([] if self.size_curve is None else self.size_curve.policies)]
        return [problem for policy in policies for problem in policy_problems(policy, scale_of)]

    def describe(self, scale_of) -> str:
        return f"union {format_policy(self.policy, scale_of)}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "policy": self.policy.as_dict(),
                "size_curve": None if self.size_curve is None else self.size_curve.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> UnionMatcher:
        curve = data.get("size_curve")
        return cls(MatchPolicy.from_dict(data["policy"]), None if not curve else SizeCurve.from_dict(curve))
