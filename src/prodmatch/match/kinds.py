"""The decision rules prodmatch knows, by name: the one list argparse choices, recipes and saved files read.

Imports nothing: the classes are named as ``module:Class`` and loaded by
:func:`prodmatch.match.matcher.matcher_class` only when a rule is used.
"""

from __future__ import annotations

UNION = "union"
PAIR_MODEL = "pair-model"

MATCHER_CLASSES = {
    UNION: "prodmatch.match.union:UnionMatcher",
    PAIR_MODEL: "prodmatch.match.pair.matcher:PairModelMatcher",
}
MATCHER_KINDS = tuple(MATCHER_CLASSES)
