"""Each decision rule's CV tuner, by the rule's kind (:mod:`prodmatch.match.kinds`)."""

from __future__ import annotations

from prodmatch.cv.pair.run import PairModelTuner
from prodmatch.cv.union import UnionTuner
from prodmatch.match.kinds import PAIR_MODEL, UNION

TUNERS = {UNION: UnionTuner, PAIR_MODEL: PairModelTuner}
