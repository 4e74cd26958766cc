"""What a source's scores mean: the thresholds worth tuning and how to show them.

Every source scores pairs "higher = closer". A cosine source's score is the similarity itself; a phash
source's is ``1 - Hamming distance / 64``, tuned over whole distances and shown as ``d<=8``. Tuning, the CV
table and the report ask a source's scale (``source.scale``), never its name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.search.phash import PHASH_BITS, distance_to_score, score_to_distance


@dataclass(frozen=True)
class CosineScale:
    """Similarity in [-1, 1]; thresholds 0.10..0.99 in steps of 0.01."""

    is_distance = False
    bounds = (-1.0, 1.0)  # every score this scale can give

    def grid(self) -> np.ndarray:
        return np.round(np.arange(0.10, 0.995, 0.01), 4)

    def display(self, score: float) -> float:
        """The value shown on a plot axis for ``score``."""
        return float(score)

    def axis_label(self, source: str) -> str:
        return f"{source} score threshold (≥ x)"

    def threshold_text(self, threshold: float, html: bool = False) -> str:
        """``0.450`` (``≥ 0.450`` in HTML); ``off`` for a switched-off source."""
        if not np.isfinite(threshold):
            return "off"
        return f"≥ {threshold:.3f}" if html else f"{threshold:.3f}"

    def score_text(self, score: float) -> str:
        return f"{score:.3f}" if np.isfinite(score) else "not proposed"


@dataclass(frozen=True)
class HammingScale:
    """Scores ``1 - d / bits`` of a Hamming distance d; thresholds are whole distances 0..max_distance."""

    bits: int = PHASH_BITS
    max_distance: int = 16
    is_distance = True
    bounds = (0.0, 1.0)  # distance bits .. 0

    def grid(self) -> np.ndarray:
        return distance_to_score(np.arange(0, self.max_distance + 1), self.bits).astype(np.float64)

    def display(self, score: float) -> float:
        return float(score_to_distance(score, self.bits))

    def axis_label(self, source: str) -> str:
        return "Hamming distance threshold (d ≤ x)"

    def distance(self, score: float) -> float:
        return score_to_distance(score, self.bits)

    def threshold_text(self, threshold: float, html: bool = False) -> str:
        """``d<=8`` (``d ≤ 8`` in HTML); ``off`` for a switched-off source."""
        if not np.isfinite(threshold):
            return "off"
        distance = self.distance(threshold)
        return f"d ≤ {distance:.0f}" if html else f"d<={distance:.0f}"

    def score_text(self, score: float) -> str:
        return f"d = {self.distance(score):.0f}" if np.isfinite(score) else "not proposed"


COSINE = CosineScale()
HAMMING = HammingScale()


@dataclass(frozen=True)
class ProbabilityScale:
    """A model's probability that a pair matches (the pair model's score); thresholds 0.02..0.98 by 0.01."""

    is_distance = False
    bounds = (0.0, 1.0)

    def grid(self) -> np.ndarray:
        return np.round(np.arange(0.02, 0.985, 0.01), 4)

    def display(self, score: float) -> float:
        return float(score)

    def axis_label(self, source: str) -> str:
        return f"{source} probability threshold (≥ x)"

    def threshold_text(self, threshold: float, html: bool = False) -> str:
        if not np.isfinite(threshold):
            return "off"
        return f"p ≥ {threshold:.3f}" if html else f"p>={threshold:.3f}"

    def score_text(self, score: float) -> str:
        return f"p = {score:.3f}" if np.isfinite(score) else "not scored"


PROBABILITY = ProbabilityScale()
