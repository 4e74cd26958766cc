"""Turning candidate scores into matches: per-source thresholds, union, min2 and the cap of 50.

A pair is matched when ANY source scores it at or above that source's threshold (union). Every posting
always matches itself. ``min2``: a posting left with only itself gets its best other candidate (ranked by
``priority``), if that candidate scores at least ``min2_floor`` in the first priority source that has it.
The cap keeps the best ``cap - 1`` others per posting, ranked the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from prodmatch.match.candidates import CandidateTable

KAGGLE_MAX_MATCHES = 50


@dataclass
class MatchPolicy:
    thresholds: dict[str, float]
    priority: list[str] = field(default_factory=list)  # ranking for min2 and the cap; default: threshold order
    min2: bool = True
    min2_floor: float = -np.inf
    cap: int = KAGGLE_MAX_MATCHES

    def __post_init__(self) -> None:
        if not self.thresholds:
            raise ValueError("a MatchPolicy needs at least one source threshold")
        if not self.priority:
            self.priority = list(self.thresholds)
        if self.cap < 1:
            raise ValueError(f"cap must be >= 1, got {self.cap}")

    def as_dict(self) -> dict:
        """JSON-safe: a switched-off source (threshold +inf) and no min2 floor (-inf) are written as null."""
        out = asdict(self)
        out["thresholds"] = {k: (float(v) if np.isfinite(v) else None) for k, v in self.thresholds.items()}
        out["min2_floor"] = float(self.min2_floor) if np.isfinite(self.min2_floor) else None
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "MatchPolicy":
        data = dict(data)
        data["thresholds"] = {k: (np.inf if v is None else float(v)) for k, v in data["thresholds"].items()}
        data["min2_floor"] = -np.inf if data.get("min2_floor") is None else float(data["min2_floor"])
        return cls(**data)


def priority_order(table: CandidateTable, priority: list[str]) -> np.ndarray:
    """Pair positions sorted by row, then best first: lexicographic over the ``priority`` sources."""
    keys = [-table.score(s) for s in reversed(priority)]  # lexsort: last key is primary
    return np.lexsort((*keys, table.rows))


def union_mask(table: CandidateTable, thresholds: dict[str, float]) -> np.ndarray:
    """Pairs (self pairs excluded) that at least one source scores at or above its threshold."""
    mask = np.zeros(len(table), dtype=bool)
    for source, threshold in thresholds.items():
        mask |= table.score(source) >= threshold
    mask &= table.rows != table.cols
    return mask


def best_other_candidate(table: CandidateTable, order: np.ndarray) -> np.ndarray:
    """For each query row, the pair position of its best non-self candidate, or -1."""
    best = np.full(table.n_query, -1, dtype=np.int64)
    ordered = order[table.rows[order] != table.cols[order]]
    rows = table.rows[ordered]
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
    best[rows[first]] = ordered[first]
    return best


def apply_min2(table: CandidateTable, mask: np.ndarray, best_other: np.ndarray, floor_score: np.ndarray | None,
               floor: float) -> np.ndarray:
    """Add each lonely row's best other candidate (if it clears ``floor``)."""
    matched = np.bincount(table.rows[mask], minlength=table.n_query) > 0
    lonely = np.flatnonzero(~matched & (best_other >= 0))
    add = best_other[lonely]
    if floor_score is not None and np.isfinite(floor):
        add = add[floor_score[add] >= floor]
    out = mask.copy()
    out[add] = True
    return out


def apply_cap(table: CandidateTable, mask: np.ndarray, order: np.ndarray, cap: int) -> np.ndarray:
    """Keep at most ``cap - 1`` matched others per row (the row itself is the cap's last slot)."""
    limit = cap - 1
    counts = np.bincount(table.rows[mask], minlength=table.n_query)
    if counts.max(initial=0) <= limit:
        return mask
    selected = order[mask[order]]
    rows = table.rows[selected]
    starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1] if len(rows) else np.zeros(0, np.int64)
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    out = np.zeros_like(mask)
    out[selected[rank < limit]] = True
    return out


def first_present_score(table: CandidateTable, priority: list[str]) -> np.ndarray:
    """Per pair, the score of the first priority source that proposed it (min2's floor is on this)."""
    out = np.full(len(table), -np.inf, dtype=np.float32)
    for source in reversed(priority):
        score = table.score(source)
        present = np.isfinite(score)
        out[present] = score[present]
    return out


class PolicyApplier:
    """Applies policies to one table, caching what does not depend on the thresholds."""

    def __init__(self, table: CandidateTable, priority: list[str]):
        self.table = table
        self.priority = list(priority)
        self.order = priority_order(table, self.priority)
        self.best_other = best_other_candidate(table, self.order)
        self.floor_score = first_present_score(table, self.priority)

    def mask(self, policy: MatchPolicy) -> np.ndarray:
        if list(policy.priority) != self.priority:
            raise ValueError(f"policy priority {policy.priority} differs from this applier's {self.priority}")
        mask = union_mask(self.table, policy.thresholds)
        if policy.min2:
            mask = apply_min2(self.table, mask, self.best_other, self.floor_score, policy.min2_floor)
        return apply_cap(self.table, mask, self.order, policy.cap)


def select_matches(table: CandidateTable, policy: MatchPolicy) -> np.ndarray:
    """Boolean mask over the table's pairs: the non-self matches ``policy`` makes."""
    return PolicyApplier(table, policy.priority).mask(policy)


def match_lists(table: CandidateTable, mask: np.ndarray, ids_query, ids_index, order: np.ndarray | None = None):
    """posting ids per query: itself first, then its matches best first (``order`` from priority_order)."""
    ids_query = np.asarray(ids_query, dtype=object)
    ids_index = np.asarray(ids_index, dtype=object)
    positions = order[mask[order]] if order is not None else np.flatnonzero(mask)
    out: list[list[str]] = [[pid] for pid in ids_query]
    for row, col in zip(table.rows[positions].tolist(), table.cols[positions].tolist()):
        out[row].append(ids_index[col])
    return out
