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
    def from_dict(cls, data: dict) -> MatchPolicy:
        data = dict(data)
        data["thresholds"] = {k: (np.inf if v is None else float(v)) for k, v in data["thresholds"].items()}
        data["min2_floor"] = -np.inf if data.get("min2_floor") is None else float(data["min2_floor"])
        return cls(**data)


def policy_problems(policy: MatchPolicy, scale_of) -> list[str]:
    """What is wrong with a policy read from a file: a threshold that is NaN or outside its scale's range (+inf,
    a switched-off source, is fine), a min2 floor likewise (-inf: no floor)."""
    problems = []
    for name, value in policy.thresholds.items():
        low, high = scale_of(name).bounds
        if value != np.inf and not low <= value <= high:
            problems.append(f"threshold {name}={value} is outside its scale's range [{low}, {high}]")
    if policy.priority:
        low, high = scale_of(policy.priority[0]).bounds
        floor = policy.min2_floor
        if floor != -np.inf and not low <= floor <= high:
            problems.append(f"min2 floor {floor} is outside the range [{low}, {high}] of {policy.priority[0]}")
    return problems


def priority_order(table: CandidateTable, priority: list[str]) -> np.ndarray:
    """Pair positions sorted by row, then best first: lexicographic over the ``priority`` sources."""
    keys = [-table.score(s) for s in reversed(priority)]  # lexsort: last key is primary
    return np.lexsort((*keys, table.rows))


def union_mask(table: CandidateTable, thresholds: dict[str, float], not_self: np.ndarray | None = None) -> np.ndarray:
    """Pairs (self pairs excluded) that at least one source scores at or above its threshold."""
    mask = np.zeros(len(table), dtype=bool)
    for source, threshold in thresholds.items():
        mask |= table.score(source) >= threshold
    mask &= (table.rows != table.cols) if not_self is None else not_self
    return mask


class RowSegments:
    """Runs of one row's pairs in an array sorted by row (the table itself, or its priority order): per-row
    counts of a mask in one pass, and the positions of chosen rows' runs."""

    def __init__(self, sorted_rows: np.ndarray, n_rows: int):
        self.bounds = np.searchsorted(sorted_rows, np.arange(n_rows + 1)).astype(np.int64)
        self.lengths = np.diff(self.bounds)
        self.nonempty = np.flatnonzero(self.lengths)

    def count(self, mask: np.ndarray) -> np.ndarray:
        """How many True entries each row's run holds (``mask`` aligned with the sorted array)."""
        counts = np.zeros(len(self.lengths), dtype=np.int64)
        if len(self.nonempty):
            counts[self.nonempty] = np.add.reduceat(mask.view(np.uint8), self.bounds[self.nonempty], dtype=np.int64)
        return counts

    def positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the runs of ``rows``, concatenated; where each run starts in that concatenation)."""
        lengths = self.lengths[rows]
        run_starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
        shift = np.repeat(self.bounds[rows] - run_starts, lengths)
        return np.arange(int(lengths.sum()), dtype=np.int64) + shift, run_starts


def best_other_candidate(table: CandidateTable, order: np.ndarray) -> np.ndarray:
    """For each query row, the pair position of its best non-self candidate, or -1."""
    best = np.full(table.n_query, -1, dtype=np.int64)
    ordered = order[table.rows[order] != table.cols[order]]
    rows = table.rows[ordered]
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
    best[rows[first]] = ordered[first]
    return best


def min2_additions(matched_per_row: np.ndarray, best_other: np.ndarray, floor_score: np.ndarray | None,
                   floor: float) -> np.ndarray:
    """Pair positions min2 adds: each row with no match gets its best other candidate (if it clears ``floor``)."""
    lonely = np.flatnonzero((matched_per_row == 0) & (best_other >= 0))
    add = best_other[lonely]
    if floor_score is not None and np.isfinite(floor):
        add = add[floor_score[add] >= floor]
    return add


def cap_rows(mask: np.ndarray, counts: np.ndarray, order: np.ndarray, order_segments: RowSegments,
             cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask with at most ``cap - 1`` matches per row, the best-ranked kept; the new per-row counts).

    Only rows over the cap are looked at: their runs in ``order`` (priority order, grouped by row).
    """
    limit = cap - 1
    over = np.flatnonzero(counts > limit)
    if len(over) == 0:
        return mask, counts
    positions, run_starts = order_segments.positions(over)
    pairs = order[positions]
    matched = mask[pairs]
    seen = np.cumsum(matched)  # matches so far, counted across the runs, rebased per run below
    before_run = np.r_[0, seen][run_starts]
    rank = seen - np.repeat(before_run, order_segments.lengths[over])
    out = mask.copy()
    out[pairs[matched & (rank > limit)]] = False
    return out, np.minimum(counts, limit)


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
        if len(table) and (np.diff(table.rows) < 0).any():
            raise ValueError("the candidate table's pairs must be sorted by row (CandidateTable keeps them so)")
        self.table = table
        self.priority = list(priority)
        self.order = priority_order(table, self.priority)
        self.best_other = best_other_candidate(table, self.order)
        self.floor_score = first_present_score(table, self.priority)
        self.not_self = table.rows != table.cols
        self.row_segments = RowSegments(table.rows, table.n_query)  # the table is sorted by row
        self.order_segments = RowSegments(table.rows[self.order], table.n_query)

    def mask(self, policy: MatchPolicy) -> np.ndarray:
        return self.apply(policy)[0]

    def apply(self, policy: MatchPolicy) -> tuple[np.ndarray, np.ndarray]:
        """(matched pair mask, matches per row), self-matches not included."""
        if list(policy.priority) != self.priority:
            raise ValueError(f"policy priority {policy.priority} differs from this applier's {self.priority}")
        mask = union_mask(self.table, policy.thresholds, self.not_self)
        counts = self.row_segments.count(mask)
        if policy.min2:
            add = min2_additions(counts, self.best_other, self.floor_score, policy.min2_floor)
            mask[add] = True
            counts[self.table.rows[add]] += 1  # one addition per lonely row
        return cap_rows(mask, counts, self.order, self.order_segments, policy.cap)


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
