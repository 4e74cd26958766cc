"""The F1 a rule will score on a test set larger than anything it was tuned on, forecast from train alone.

Each rule's CV measures its F1 on pools of growing size built from the train rows (whole label groups, the
rule tuned on each pool). The F1 falls as the pool grows: every posting meets more unrelated look-alikes. On
the real Shopee rows the fall per doubling grows with the size, between two simple laws:

- linear in log size (the same loss per doubling): the optimistic end;
- linear in size (the same risk per extra posting): the pessimistic end.

:meth:`SizeForecast.at` extrapolates both from the two largest pools and forecasts their mean, with the two as
its range. Measured on ``bench/bench_scale_transfer.py`` (train a third of the groups, test on the rest, 10x
a fold): the mean came within 0.01 of the F1 the test set gave (docs/benchmarks.md). Below the largest pool
the measured points are interpolated in log size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExpectedF1:
    n_rows: int
    f1: float
    low: float
    high: float
    extrapolated: bool  # the size is beyond the largest pool measured

    def value_text(self) -> str:
        """``0.781 (0.766-0.797)``: the forecast and its range (none inside the measured sizes)."""
        spread = f" ({self.low:.3f}-{self.high:.3f})" if self.high - self.low >= 0.0005 else ""
        return f"{self.f1:.3f}{spread}"

    def text(self) -> str:
        """``expected F1 at 70000 postings: 0.781 (0.766-0.797)``: the line make_submission.py prints."""
        return f"expected F1 at {self.n_rows} postings: {self.value_text()}"


@dataclass
class SizeForecast:
    sizes: list[float]  # pool sizes measured, ascending
    f1: list[float]  # the rule's F1 on pools of that size

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.f1) or not self.sizes:
            raise ValueError("a SizeForecast needs one F1 per pool size")
        if list(self.sizes) != sorted(self.sizes):
            raise ValueError(f"pool sizes must be ascending, got {self.sizes}")

    @property
    def can_extrapolate(self) -> bool:
        return len(self.sizes) >= 2

    def at(self, n_rows: int) -> ExpectedF1 | None:
        """The F1 expected for ``n_rows`` postings matched together; None past the largest pool when only one
        pool size was measured (nothing to extrapolate from)."""
        sizes, f1 = np.asarray(self.sizes, dtype=np.float64), np.asarray(self.f1, dtype=np.float64)
        n = float(max(n_rows, 1))
        if n <= sizes[-1]:
            value = float(np.interp(np.log2(n), np.log2(sizes), f1))
            return ExpectedF1(int(n_rows), value, value, value, False)
        if not self.can_extrapolate:
            return None
        change = min(f1[-1] - f1[-2], 0.0)  # a rise between the last two pools is noise: never forecast a gain
        per_doubling = change / np.log2(sizes[-1] / sizes[-2])
        per_row = change / (sizes[-1] - sizes[-2])
        high = f1[-1] + per_doubling * np.log2(n / sizes[-1])
        low = max(f1[-1] + per_row * (n - sizes[-1]), 0.0)
        return ExpectedF1(int(n_rows), float((low + high) / 2), float(low), float(high), True)

    def as_dict(self) -> dict:
        return {"sizes": [float(s) for s in self.sizes], "f1": [float(v) for v in self.f1]}

    @classmethod
    def from_dict(cls, data: dict) -> SizeForecast:
        return cls([float(s) for s in data["sizes"]], [float(v) for v in data["f1"]])
