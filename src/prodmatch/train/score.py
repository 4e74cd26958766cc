"""A held-out score: its primary metric and the other figures, as every evaluator returns it.

The primary metric decides ``keep: best`` and leads every comparison (the log's "trained vs untrained", the
baselines); the others travel with it into the per-epoch history (``val_<name>``), ``metrics.json`` and the
log. Each evaluator (:mod:`prodmatch.train.evaluators`) has its own subclass, which says how the score reads
(:meth:`Score.describe`), what ``metrics.json`` shows of it (:meth:`Score.summary`) and what ``model.pt``
records (:meth:`Score.model_fields`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

HISTORY_PREFIX = "val_"  # a history entry's key of a held-out figure: val_f1, val_mar_at_10, ...


@dataclass(frozen=True)
class Metric:
    name: str
    value: float


@dataclass(frozen=True)
class Score:
    """``primary``: the metric that decides (higher is better); ``others``: every other figure, by name."""

    primary: Metric
    others: Mapping[str, Any] = field(default_factory=dict)

    PRIMARY: ClassVar[str] = ""  # the primary metric's name (a subclass's)
    IN_HISTORY: ClassVar[tuple[str, ...] | None] = None  # figures a history entry keeps (None: all)

    @classmethod
    def of(cls, metrics: Mapping[str, Any]) -> Score:
        """The score of a figures dict that holds ``PRIMARY`` (an evaluator's result, a saved baseline)."""
        return cls(Metric(cls.PRIMARY, metrics[cls.PRIMARY]),
                   {name: value for name, value in metrics.items() if name != cls.PRIMARY})

    @classmethod
    def from_history(cls, entry: Mapping[str, Any]) -> Score:
        """The score an epoch's history entry recorded (:meth:`history_entry`)."""
        return cls.of({key[len(HISTORY_PREFIX):]: value for key, value in entry.items()
                       if key.startswith(HISTORY_PREFIX)})

    @classmethod
    def history_key(cls) -> str:
        return HISTORY_PREFIX + cls.PRIMARY

    @property
    def value(self) -> float:
        return self.primary.value

    def __getitem__(self, name: str) -> Any:
        return self.primary.value if name == self.primary.name else self.others[name]

    def as_dict(self) -> dict[str, Any]:
        """Every figure, the primary first (how baselines are saved in metrics.json and the checkpoint)."""
        return {self.primary.name: self.primary.value, **self.others}

    def history_entry(self) -> dict[str, Any]:
        return {HISTORY_PREFIX + name: value for name, value in self.as_dict().items()
                if self.IN_HISTORY is None or name in self.IN_HISTORY}

    def describe(self) -> str:
        return f"{self.primary.name} {self.primary.value:.4f}"

    def summary(self, best: Score) -> dict[str, Any]:
        """metrics.json's figures of the kept epoch (this score) and the best one (``headline``: the train
        command's one-line result)."""
        return {**self.as_dict(), f"best_epoch_{self.PRIMARY}": best.value, "headline": self.describe()}

    def model_fields(self) -> dict[str, Any]:
        """What model.pt records of the score it was kept with."""
        return {self.primary.name: self.primary.value}
