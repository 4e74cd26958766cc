"""What the report shows, computed from a CV folder: outcomes per pair and row, F1 by group size, galleries.

Everything here is numpy/pandas on the saved out-of-fold candidate table; no plotting, no HTML. The
policy is re-applied (:class:`~prodmatch.match.policy.PolicyApplier`) so the report can tell, for every
candidate pair, which sources cleared their threshold, whether min2 added it or the cap cut it.

Pairs are directed, as the metric scores every row on its own: (a, b) is row a's match or miss of b.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prodmatch.errors import ArgumentError
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.evaluate import PolicyEvaluator
from prodmatch.match.policy import MatchPolicy, union_mask
from prodmatch.metrics import row_scores_from_counts
from prodmatch.search.phash import PHASH_BITS

# F1-by-group-size bins: exact sizes up to 10, then ranges; the last bin is open-ended.
DEFAULT_SIZE_EDGES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 21, 31, 51)


def align_train(train: pd.DataFrame, posting_ids: np.ndarray, data_dir: str | Path = "") -> pd.DataFrame:
    """train.csv's rows in the CV table's order (the table indexes rows by position)."""
    index = pd.Index(train["posting_id"])
    positions = index.get_indexer(pd.Index(posting_ids))
    if (positions < 0).any():
        missing = int((positions < 0).sum())
        example = posting_ids[np.flatnonzero(positions < 0)[0]]
        raise ArgumentError(f"{missing} posting ids of the CV folder are not in {data_dir or 'train.csv'} "
                         f"(e.g. {example}): was the CV run on another data dir?")
    return train.iloc[positions].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------
# outcomes


@dataclass
class Outcome:
    """The policy applied to the table, pair by pair and row by row."""

    table: CandidateTable
    labels: np.ndarray
    policy: MatchPolicy
    matched: np.ndarray  # bool per pair: in the final matches (non-self)
    union: np.ndarray  # bool per pair: some source clears its threshold (before min2 and the cap)
    cleared: dict[str, np.ndarray]  # source -> bool per pair: score >= threshold
    hit: np.ndarray  # bool per pair: same label_group
    f1: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    n_pred: np.ndarray  # per row, itself included
    n_true: np.ndarray  # per row: its group size
    scales: dict = field(default_factory=dict)  # source -> what its scores mean (prodmatch.search.scales)
    keys: np.ndarray = field(repr=False, default=None)  # row * n + col per pair (sorted, like the table)

    def threshold_text(self, source: str, threshold: float) -> str:
        """``≥ 0.520``, ``d ≤ 8`` or ``off``, as the source's scale shows it."""
        return self.scales[source].threshold_text(threshold, html=True)

    @property
    def n_rows(self) -> int:
        return len(self.labels)

    @property
    def lonely(self) -> np.ndarray:
        """Rows predicted to match only themselves."""
        return self.n_pred == 1

    @property
    def self_pair(self) -> np.ndarray:
        return self.table.rows == self.table.cols

    @property
    def false_positive(self) -> np.ndarray:
        return self.matched & ~self.hit

    @property
    def missed_candidate(self) -> np.ndarray:
        """Same-group candidate pairs that did not end up matched."""
        return ~self.matched & self.hit & ~self.self_pair

    def pair_positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Position of each (row, col) in the table, -1 where the table does not hold the pair."""
        wanted = np.asarray(rows, np.int64) * self.table.n_index + np.asarray(cols, np.int64)
        if len(self.keys) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        where = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        return np.where(self.keys[where] == wanted, where, -1).astype(np.int64)

    @property
    def score(self) -> dict:
        return {"f1": float(self.f1.mean()), "precision": float(self.precision.mean()),
                "recall": float(self.recall.mean())}


def compute_outcome(table: CandidateTable, labels: np.ndarray, policy: MatchPolicy, scales: dict) -> Outcome:
    """``scales``: each source's scale (``recipe.scale_of``), for showing its thresholds and scores."""
    labels = np.asarray(labels)
    if table.n_query != table.n_index or table.n_query != len(labels):
        raise ValueError("the report needs a square out-of-fold table over the labelled rows")
    evaluator = PolicyEvaluator(table, labels, policy.priority)
    matched, tp, n_pred = evaluator.counts(policy)
    not_self = table.rows != table.cols
    cleared = {s: (table.score(s) >= t) & not_self for s, t in policy.thresholds.items()}
    union = union_mask(table, policy.thresholds)
    hit, n_true = evaluator.hit, evaluator.n_true
    f1, precision, recall = row_scores_from_counts(tp, n_pred, n_true)
    keys = table.rows.astype(np.int64) * table.n_index + table.cols.astype(np.int64)
    if len(keys) > 1 and not (np.diff(keys) > 0).all():
        raise ValueError("candidate table is not sorted by (row, col) with unique pairs")
    return Outcome(table, labels, policy, matched, union, cleared, hit, f1, precision, recall, n_pred, n_true, scales,
                   keys)


def true_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every directed pair (a, b), a != b, of rows sharing a label_group, sorted by (a, b)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    _, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    squares = sizes.astype(np.int64) ** 2
    group = np.repeat(np.arange(len(sizes)), squares)
    within = np.arange(int(squares.sum()), dtype=np.int64) - np.repeat(np.cumsum(squares) - squares, squares)
    a = within // sizes[group]
    b = within % sizes[group]
    keep = a != b
    rows = order[starts[group[keep]] + a[keep]]
    cols = order[starts[group[keep]] + b[keep]]
    sort = np.lexsort((cols, rows))
    return rows[sort].astype(np.int64), cols[sort].astype(np.int64)


@dataclass
class ErrorCounts:
    """Directed pair counts behind the score."""

    n_matched: int
    false_positives: int
    false_positives_by: dict[str, int]  # reason -> count: "tfidf", "phash", "tfidf+phash", "min2"
    false_negatives: int
    fn_below_threshold: int  # proposed by some source, every score under its threshold
    fn_cut_by_cap: int
    fn_never_proposed: int  # no source proposed the pair (same fold)
    fn_across_folds: int  # the two postings are in different folds: OOF search can never pair them
    near_miss_by: dict[str, int]  # source -> FN pairs it proposed below its threshold


def error_counts(outcome: Outcome, folds: np.ndarray) -> ErrorCounts:
    fp = outcome.false_positive
    reasons: dict[str, int] = {}
    for reason in pair_reasons(outcome, np.flatnonzero(fp)):
        reasons[reason] = reasons.get(reason, 0) + 1
    rows, cols = true_pairs(outcome.labels)
    positions = outcome.pair_positions(rows, cols)
    proposed = positions >= 0
    matched = np.zeros(len(rows), bool)
    matched[proposed] = outcome.matched[positions[proposed]]
    missed = ~matched
    across = missed & (np.asarray(folds)[rows] != np.asarray(folds)[cols])
    cut = np.zeros(len(rows), bool)
    cut[proposed] = outcome.union[positions[proposed]] & ~outcome.matched[positions[proposed]]
    near = {}
    for source, threshold in outcome.policy.thresholds.items():
        score = outcome.table.score(source)
        below = outcome.missed_candidate & np.isfinite(score) & (score < threshold)
        near[source] = int(below.sum())
    return ErrorCounts(
        n_matched=int(outcome.matched.sum()),
        false_positives=int(fp.sum()),
        false_positives_by=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        false_negatives=int(missed.sum()),
        fn_below_threshold=int((missed & proposed & ~cut).sum()),
        fn_cut_by_cap=int((missed & cut).sum()),
        fn_never_proposed=int((missed & ~proposed & ~across).sum()),
        fn_across_folds=int(across.sum()),
        near_miss_by=near,
    )


def pair_reasons(outcome: Outcome, positions: np.ndarray) -> list[str]:
    """Why each pair is (not) matched: the sources that clear their threshold ("+"-joined; ", cut by the
    cap" when the cap then dropped it), else "min2" when matched, else "none"."""
    positions = np.asarray(positions, np.int64)
    sources = list(outcome.policy.thresholds)
    code = np.zeros(len(positions), np.int64)
    for bit, source in enumerate(sources):
        code |= outcome.cleared[source][positions].astype(np.int64) << bit
    names = {c: "+".join(s for bit, s in enumerate(sources) if c >> bit & 1) for c in np.unique(code).tolist()}
    matched = outcome.matched[positions]
    out = []
    for c, m in zip(code.tolist(), matched.tolist()):
        if c:
            out.append(names[c] if m else f"{names[c]}, cut by the cap")
        else:
            out.append("min2" if m else "none")
    return out


# --------------------------------------------------------------------------------------------------------
# F1 by group size


def size_bins(sizes: np.ndarray, edges=DEFAULT_SIZE_EDGES) -> tuple[np.ndarray, list[str]]:
    """Bin index per size and the bins' labels ("2", "11-15", "51+")."""
    edges = list(edges)
    labels = []
    for i, low in enumerate(edges):
        high = edges[i + 1] - 1 if i + 1 < len(edges) else None
        labels.append(str(low) if high == low else (f"{low}+" if high is None else f"{low}-{high}"))
    index = np.searchsorted(np.asarray(edges), np.asarray(sizes), side="right") - 1
    return index, labels


def f1_by_group_size(outcome: Outcome, edges=DEFAULT_SIZE_EDGES) -> pd.DataFrame:
    """Mean row F1/precision/recall per true group size bin, with row and group counts and lonely rows.

    Columns: size (bin label), n_rows, n_groups, f1, precision, recall, lonely (rows matched only to
    themselves), share (of all rows). Empty bins are left out.
    """
    index, names = size_bins(outcome.n_true, edges)
    frame = pd.DataFrame({"bin": index, "label": outcome.labels, "f1": outcome.f1, "precision": outcome.precision,
                          "recall": outcome.recall, "lonely": outcome.lonely})
    grouped = frame.groupby("bin", sort=True)
    out = pd.DataFrame({
        "size": [names[i] for i in grouped.size().index],
        "n_rows": grouped.size().to_numpy(),
        "n_groups": grouped["label"].nunique().to_numpy(),
        "f1": grouped["f1"].mean().to_numpy(),
        "precision": grouped["precision"].mean().to_numpy(),
        "recall": grouped["recall"].mean().to_numpy(),
        "lonely": grouped["lonely"].sum().to_numpy().astype(int),
    })
    out["share"] = out["n_rows"] / max(len(frame), 1)
    return out.reset_index(drop=True)


@dataclass
class LonelySummary:
    n_rows: int
    lonely: int  # rows whose prediction is only themselves
    lonely_in_groups: int  # ... of which the true group has other members (each is a miss)
    singletons: int  # rows whose true group is only themselves
    singletons_alone: int  # ... of which were correctly left alone


def lonely_summary(outcome: Outcome) -> LonelySummary:
    lonely = outcome.lonely
    single = outcome.n_true == 1
    return LonelySummary(outcome.n_rows, int(lonely.sum()), int((lonely & ~single).sum()), int(single.sum()),
                         int((lonely & single).sum()))


# --------------------------------------------------------------------------------------------------------
# galleries


@dataclass
class Other:
    row: int
    pair: int  # position in the table, -1 when no source proposed the pair
    kind: str  # "fp" (wrongly matched) or "fn" (missed)


@dataclass
class Example:
    query: int
    others: list[Other]
    n_more: int = 0  # further postings of the same kind not shown


@dataclass
class Gallery:
    key: str
    title: str
    description: str
    total: int  # directed pairs (or rows) in this category
    examples: list[Example]


def _ranked_queries(rows: np.ndarray, cols: np.ndarray, positions: np.ndarray, labels: np.ndarray, kind: str,
                    n_examples: int, max_others: int, one_per: str = "pair_groups") -> list[Example]:
    """Query-centric examples from pairs already sorted worst first.

    Each query appears once, with its pairs of this category in rank order (``max_others`` shown). For
    variety, a pair whose two label_groups (``one_per="pair_groups"``) or whose query's label_group
    (``one_per="group"``) already has an example is skipped, and so is the mirror of a shown pair.
    """
    examples: dict[int, Example] = {}
    seen_groups: set = set()
    shown_pairs: set = set()
    for row, col, pos in zip(rows.tolist(), cols.tolist(), positions.tolist()):
        if row in examples:
            example = examples[row]
            if len(example.others) < max_others:
                example.others.append(Other(col, pos, kind))
                shown_pairs.add((row, col))
            else:
                example.n_more += 1
            continue
        if len(examples) >= n_examples or (col, row) in shown_pairs:
            continue
        a, b = labels[row], labels[col]
        group_key = (min(a, b), max(a, b)) if one_per == "pair_groups" else a
        if group_key in seen_groups:
            continue
        seen_groups.add(group_key)
        examples[row] = Example(row, [Other(col, pos, kind)])
        shown_pairs.add((row, col))
    return list(examples.values())


def _rank(*keys: np.ndarray) -> np.ndarray:
    """Stable order by the given keys, first key primary, each ascending."""
    return np.lexsort(tuple(reversed(keys)))


def confident_false_positives(outcome: Outcome, source: str, n_examples: int = 10,
                              max_others: int = 4) -> Gallery:
    """Wrong matches made by ``source`` (its score clears its threshold), highest score first."""
    score = outcome.table.score(source)
    chosen = np.flatnonzero(outcome.false_positive & outcome.cleared[source])
    others = [s for s in outcome.policy.priority if s != source]
    order = _rank(-score[chosen], *[-outcome.table.score(s)[chosen] for s in others], outcome.table.rows[chosen])
    chosen = chosen[order]
    threshold = outcome.threshold_text(source, outcome.policy.thresholds[source])
    examples = _ranked_queries(outcome.table.rows[chosen], outcome.table.cols[chosen], chosen, outcome.labels, "fp",
                               n_examples, max_others)
    return Gallery(f"fp-{source}", f"Confident false positives of {source}",
                   f"Pairs from different label groups that {source} matches ({source} {threshold}), "
                   "highest score first.", len(chosen), examples)


def min2_false_positives(outcome: Outcome, n_examples: int = 10, max_others: int = 4) -> Gallery:
    """Wrong matches added by min2 (a lonely row's best candidate), best first-priority score first."""
    chosen = np.flatnonzero(outcome.false_positive & ~outcome.union)
    keys = [-outcome.table.score(s)[chosen] for s in outcome.policy.priority]
    chosen = chosen[_rank(*keys, outcome.table.rows[chosen])]
    examples = _ranked_queries(outcome.table.rows[chosen], outcome.table.cols[chosen], chosen, outcome.labels, "fp",
                               n_examples, max_others)
    return Gallery("fp-min2", "False positives added by min2",
                   "A row left with only itself gets its best other candidate; here that candidate was wrong.",
                   len(chosen), examples)


def near_miss_false_negatives(outcome: Outcome, source: str, n_examples: int = 10, max_others: int = 4) -> Gallery:
    """Same-group pairs ``source`` proposed just under its threshold (and nothing else matched)."""
    score = outcome.table.score(source)
    threshold = outcome.policy.thresholds[source]
    chosen = np.flatnonzero(outcome.missed_candidate & np.isfinite(score) & (score < threshold))
    chosen = chosen[_rank(-score[chosen], outcome.table.rows[chosen])]
    examples = _ranked_queries(outcome.table.rows[chosen], outcome.table.cols[chosen], chosen, outcome.labels, "fn",
                               n_examples, max_others, one_per="group")
    return Gallery(f"fn-{source}", f"Near misses of {source}",
                   f"Same-group pairs that {source} proposed below its threshold "
                   f"({outcome.threshold_text(source, threshold)}), closest to it first; the pair was not matched.",
                   len(chosen), examples)


def never_proposed_false_negatives(outcome: Outcome, folds: np.ndarray, n_examples: int = 10,
                                   max_others: int = 4) -> Gallery:
    """Same-group pairs (same fold) that no source proposed: rows with the lowest F1 first."""
    rows, cols = true_pairs(outcome.labels)
    folds = np.asarray(folds)
    positions = outcome.pair_positions(rows, cols)
    keep = (positions < 0) & (folds[rows] == folds[cols])
    rows, cols = rows[keep], cols[keep]
    unproposed_per_row = np.bincount(rows, minlength=outcome.n_rows)
    order = _rank(outcome.f1[rows], -unproposed_per_row[rows], rows, cols)
    rows, cols = rows[order], cols[order]
    examples = _ranked_queries(rows, cols, np.full(len(rows), -1), outcome.labels, "fn", n_examples, max_others,
                               one_per="group")
    return Gallery("fn-unproposed", "Missed, never proposed by any source",
                   "Same-group pairs that no source returned as a candidate (thresholds cannot fix these); "
                   "rows with the lowest F1 first.", len(rows), examples)


def lowest_f1_rows(outcome: Outcome, n_examples: int = 10, max_others: int = 4) -> Gallery:
    """The rows with the lowest F1 (bigger groups first on ties), with their wrong matches and misses."""
    order = _rank(outcome.f1, -outcome.n_true, np.arange(outcome.n_rows))
    table = outcome.table
    fp_positions = np.flatnonzero(outcome.false_positive)
    rows, cols = true_pairs(outcome.labels)
    positions = outcome.pair_positions(rows, cols)
    matched = np.zeros(len(rows), bool)
    matched[positions >= 0] = outcome.matched[positions[positions >= 0]]
    fn_rows, fn_cols, fn_pos = rows[~matched], cols[~matched], positions[~matched]
    fp_rows = table.rows[fp_positions]
    examples, groups = [], set()
    for row in order.tolist():
        if len(examples) >= n_examples or outcome.f1[row] >= 1.0:
            break
        if outcome.labels[row] in groups:
            continue
        groups.add(outcome.labels[row])
        lo, hi = np.searchsorted(fp_rows, [row, row + 1])
        fps = fp_positions[lo:hi]
        fps = fps[np.argsort(-_best_score(outcome, fps), kind="stable")]
        lo, hi = np.searchsorted(fn_rows, [row, row + 1])
        fn_c, fn_p = fn_cols[lo:hi], fn_pos[lo:hi]
        # proposed misses first (closest first), then the never-proposed ones
        closeness = np.where(fn_p >= 0, _best_score(outcome, np.maximum(fn_p, 0)), -np.inf)
        fn_order = np.argsort(-closeness, kind="stable")
        fn_c, fn_p = fn_c[fn_order], fn_p[fn_order]
        # both kinds get room when there are both
        n_fp = min(len(fps), max_others - min(len(fn_c), max_others // 2))
        n_fn = min(len(fn_c), max_others - n_fp)
        shown = [Other(int(table.cols[p]), int(p), "fp") for p in fps[:n_fp].tolist()]
        shown += [Other(int(c), int(p), "fn") for c, p in zip(fn_c[:n_fn].tolist(), fn_p[:n_fn].tolist())]
        examples.append(Example(row, shown, len(fps) + len(fn_c) - len(shown)))
    total = int((outcome.f1 < 1.0).sum())
    return Gallery("lowest-f1", "Rows with the lowest F1",
                   "The worst-scored rows (one per label group), with their wrong matches and their misses.",
                   total, examples)


def _best_score(outcome: Outcome, positions: np.ndarray) -> np.ndarray:
    """Per pair, the first priority source's score, else the next (for ordering mixed lists)."""
    out = np.full(len(positions), -np.inf)
    for source in reversed(outcome.policy.priority):
        score = outcome.table.score(source)[positions]
        out = np.where(np.isfinite(score), score, out)
    return out


def build_galleries(outcome: Outcome, folds: np.ndarray, n_examples: int = 10, max_others: int = 4) -> list[Gallery]:
    sources = list(outcome.policy.priority)
    galleries = [confident_false_positives(outcome, s, n_examples, max_others) for s in sources
                 if np.isfinite(outcome.policy.thresholds.get(s, np.inf))]
    if outcome.policy.min2:
        galleries.append(min2_false_positives(outcome, n_examples, max_others))
    galleries += [near_miss_false_negatives(outcome, s, n_examples, max_others) for s in sources]
    galleries.append(never_proposed_false_negatives(outcome, folds, n_examples, max_others))
    galleries.append(lowest_f1_rows(outcome, n_examples, max_others))
    return galleries


def phash_distance(a: str, b: str) -> int | None:
    """Hamming distance of two 16-hex-character phashes, None when either is not one."""
    try:
        return bin(int(a, 16) ^ int(b, 16)).count("1") if len(a) == len(b) == PHASH_BITS // 4 else None
    except (TypeError, ValueError):
        return None
