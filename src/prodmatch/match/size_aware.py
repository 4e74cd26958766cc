"""Thresholds that follow the test size.

A threshold tuned on a 5-7k-row fold is too low for a 70k-row test set: each query meets more unrelated
postings, so more of them clear any fixed similarity. On the real Shopee titles the best TF-IDF threshold
rises by ~0.05 per doubling of the pool.

The rule: tune the full policy on pools of several sizes (the train rows split group-wise into 8, 4, 2
and 1 pools, every row used at every size). Fit each similarity source's threshold as
``a + b * log2(pool size)`` (slope clamped at >= 0) and move the policy's threshold from the nearest tuned
size to the test size with that slope. The primary source (first in priority, which makes most matches)
is fitted on its thresholds in the tuned union; a secondary source on its best stand-alone threshold,
because inside the union its threshold is weakly determined and jumps between sizes.
Sources whose scale does not drift (phash: Hamming distances, where unrelated images almost never come
close) keep the tuned value, and the min2 floor -- a score on the first priority source's scale -- moves
with that source's threshold.

A moved threshold never passes its source's highest tunable value (``ceilings``; 0.99 for a cosine score,
1.0 when a curve does not say): far beyond the tuned sizes, a steep fitted slope would otherwise ask for a
cosine above 1 that nothing can reach. Clamping gives a :class:`SizeCurveWarning` that says by how much. Nor is
a slope carried more than :data:`MAX_EXTRAPOLATED_DOUBLINGS` doublings past the largest pool tuned (a curve
fitted on pools of a few hundred rows said nothing about a test of 70,000), again with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from prodmatch.match.policy import MatchPolicy

MAX_EXTRAPOLATED_DOUBLINGS = 2.0  # a fitted slope is never carried further past the largest pool tuned
DEFAULT_CEILING = 1.0  # every score scale so far tops out at 1 (cosine, 1 - Hamming/64)


class SizeCurveWarning(UserWarning):
    """A threshold moved to the test size was bounded: clamped to its source's highest tunable value, or moved by
    at most :data:`MAX_EXTRAPOLATED_DOUBLINGS` doublings past the largest pool tuned."""


@dataclass
class SizeCurve:
    sizes: list[float]  # mean pool size of each tuning level, ascending
    policies: list[MatchPolicy]  # the policy tuned at that size
    drifting: list[str]  # sources whose thresholds follow the size
    alone: list[dict[str, float]] | None = None  # each source's stand-alone best threshold at that size
    ceilings: dict[str, float] | None = None  # highest tunable threshold per drifting source

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.policies) or not self.sizes:
            raise ValueError("a SizeCurve needs one policy per size")
        if self.alone is not None and len(self.alone) != len(self.sizes):
            raise ValueError("a SizeCurve needs one set of stand-alone thresholds per size")
        if list(self.sizes) != sorted(self.sizes):
            raise ValueError(f"sizes must be ascending, got {self.sizes}")

    def slopes(self) -> dict[str, float]:
        """Threshold change per doubling of the pool, per drifting source (0 when it cannot be fitted)."""
        x = np.log2(self.sizes)
        primary = self.policies[-1].priority[0]
        out = {}
        for source in self.drifting:
            if self.alone is not None and source != primary:
                y = np.array([a[source] for a in self.alone], dtype=np.float64)
            else:
                y = np.array([p.thresholds[source] for p in self.policies], dtype=np.float64)
            if len(x) < 2 or not np.isfinite(y).all():
                out[source] = 0.0
                continue
            out[source] = max(float(np.polyfit(x, y, 1)[0]), 0.0)
        return out

    def policy_for(self, n_rows: int) -> MatchPolicy:
        """The policy for a test set of ``n_rows`` postings."""
        anchor_index = int(np.searchsorted(self.sizes, n_rows, side="right")) - 1
        anchor_index = min(max(anchor_index, 0), len(self.sizes) - 1)
        anchor = self.policies[anchor_index]
        steps = max(np.log2(max(n_rows, 1)) - np.log2(self.sizes[anchor_index]), 0.0)
        if steps > MAX_EXTRAPOLATED_DOUBLINGS:
            warnings.warn(f"size-aware thresholds: {n_rows} test rows are {steps:.1f} doublings past the largest pool "
                          f"tuned ({self.sizes[-1]:.0f} rows); thresholds move by at most {MAX_EXTRAPOLATED_DOUBLINGS:.0f} "
                          "doublings of the fitted slope. Tune on more train rows for a test this large",
                          SizeCurveWarning, stacklevel=2)
            steps = MAX_EXTRAPOLATED_DOUBLINGS
        thresholds = dict(anchor.thresholds)
        for source, slope in self.slopes().items():
            if np.isfinite(thresholds[source]):
                thresholds[source] = self._clamped(source, float(thresholds[source] + slope * steps), n_rows)
        primary = anchor.priority[0]
        shift = thresholds[primary] - anchor.thresholds[primary] if np.isfinite(thresholds[primary]) else 0.0
        return replace(anchor, thresholds=thresholds, min2_floor=float(anchor.min2_floor + shift))

    def ceiling(self, source: str) -> float:
        return (self.ceilings or {}).get(source, DEFAULT_CEILING)

    def _clamped(self, source: str, threshold: float, n_rows: int) -> float:
        ceiling = self.ceiling(source)
        if threshold <= ceiling + 1e-9:
            return threshold
        warnings.warn(f"size-aware thresholds: {source} would move to {threshold:.3f} for {n_rows} test rows, above "
                      f"the highest threshold it can be tuned to ({ceiling:.3f}); clamped. The size curve was fitted "
                      f"on pools of {self.sizes[0]:.0f}-{self.sizes[-1]:.0f} rows, far from this size: consider "
                      "--fixed-thresholds or tuning on more train rows", SizeCurveWarning, stacklevel=3)
        return ceiling

    def as_dict(self) -> dict:
        return {"sizes": [float(s) for s in self.sizes], "policies": [p.as_dict() for p in self.policies],
                "drifting": list(self.drifting), "alone": self.alone, "ceilings": self.ceilings,
                "slopes_per_doubling": self.slopes()}

    @classmethod
    def from_dict(cls, data: dict) -> SizeCurve:
        return cls([float(s) for s in data["sizes"]], [MatchPolicy.from_dict(p) for p in data["policies"]],
                   list(data["drifting"]), data.get("alone"), data.get("ceilings"))
