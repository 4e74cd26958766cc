"""From candidate scores to matches: thresholds, union, min2, cap, blending, tuning."""

from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy, select_matches

__all__ = ["CandidateTable", "MatchPolicy", "PolicyEvaluator", "select_matches"]
