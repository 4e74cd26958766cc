"""From candidate scores to matches: the candidate table, policies (thresholds, union, min2, cap), the decision
rules behind one Matcher protocol (:mod:`prodmatch.match.matcher`), evaluation and tuning."""
