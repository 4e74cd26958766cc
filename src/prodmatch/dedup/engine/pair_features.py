"""The pair model's features of some candidate pairs, from the rows of both records (a
:class:`~prodmatch.dedup.engine.rows.RowBlock` fitted on the whole table) and each pair's place in both
records' candidate lists (a :class:`PairTable`) -- so any subset of pairs can be computed where its rows are.

The same columns, in the same order and with the same values, as
:func:`prodmatch.match.pair.features.pair_features` over the whole table searched at once (checked by
tests/dedup/engine/test_pair_features.py): that function fits its token statistics over the titles it is
given, so the partitioned path computes them once (:mod:`~prodmatch.dedup.engine.rows`) and combines them here
with the same steps, reusing match.pair's helpers where they take fitted figures (``shared_tokens``,
``class_features``, ``number_field_features``, ``shared_counts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prodmatch.dedup.engine.rows import TITLE, FittedPlan, RowBlock
from prodmatch.match.candidates import CandidateTable
from prodmatch.match.pair.features import DENSITY_LEVELS, PairFeatures
from prodmatch.match.pair.field_features import (
    TITLE_PREFIXES,
    blank_missing,
    code_pair_features,
    number_field_features,
    shared_counts,
)
from prodmatch.match.pair.title_features import (
    TitleStats,
    row_totals,
    shared_tokens,
    title_features_of,
)
from prodmatch.search.sources import rowwise_dot

STATS = ("best", "kth", *(f"density{i}" for i in range(len(DENSITY_LEVELS))))


@dataclass
class PairTable:
    """Candidate pairs sorted by (row, col), global record positions; per source the score it proposed the pair
    with (-inf: not proposed in this direction) and the pair's rank among each record's candidates (NaN: none)."""

    rows: np.ndarray
    cols: np.ndarray
    scores: dict[str, np.ndarray]
    rank_ab: dict[str, np.ndarray]
    rank_ba: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, positions) -> PairTable:
        return PairTable(self.rows[positions], self.cols[positions], {k: v[positions] for k, v in self.scores.items()},
                         {k: v[positions] for k, v in self.rank_ab.items()},
                         {k: v[positions] for k, v in self.rank_ba.items()})

    def candidate_table(self, n: int) -> CandidateTable:
        return CandidateTable(self.rows, self.cols, dict(self.scores), n, n)

    @staticmethod
    def concat(parts: list[PairTable]) -> PairTable:
        names = list(parts[0].scores)
        return PairTable(np.concatenate([p.rows for p in parts]), np.concatenate([p.cols for p in parts]),
                         {k: np.concatenate([p.scores[k] for p in parts]) for k in names},
                         {k: np.concatenate([p.rank_ab[k] for p in parts]) for k in names},
                         {k: np.concatenate([p.rank_ba[k] for p in parts]) for k in names})


def source_columns(name: str, pairs: PairTable, block: RowBlock, a: np.ndarray, b: np.ndarray) -> dict:
    """features.source_pair_features, each record's figures read from its row."""
    exact = rowwise_dot(block[f"vec:{name}"], a, b).astype(np.float32, copy=False)
    stat = {key: block[f"stat:{name}.{key}"] for key in STATS}
    out = {
        f"{name}.score": exact,
        f"{name}.proposed": np.isfinite(pairs.scores[name]).astype(np.float32),
        f"{name}.rank_ab": pairs.rank_ab[name],
        f"{name}.rank_ba": pairs.rank_ba[name],
        f"{name}.gap_best_a": stat["best"][a] - exact,
        f"{name}.gap_best_b": stat["best"][b] - exact,
        f"{name}.gap_kth_a": exact - stat["kth"][a],
        f"{name}.gap_kth_b": exact - stat["kth"][b],
    }
    for i in range(len(DENSITY_LEVELS)):
        out[f"{name}.density{i}_a"] = stat[f"density{i}"][a]
        out[f"{name}.density{i}_b"] = stat[f"density{i}"][b]
    return out


def title_stats_of(block: RowBlock, prefix: str, space) -> TitleStats:
    return TitleStats(tokens=block[f"{prefix}.tokens"], idf=space.idf, classes=space.indicators,
                      n_tokens=block[f"{prefix}.n_tokens"], idf_total=block[f"{prefix}.idf_total"],
                      idf_norm=block[f"{prefix}.idf_norm"], per_class=block[f"{prefix}.per_class"],
                      units=block[f"{prefix}.units"], first=block[f"{prefix}.first"], rarest=block[f"{prefix}.rarest"],
                      lengths=block[f"{prefix}.lengths"])


def title_columns(stats: TitleStats, a: np.ndarray, b: np.ndarray) -> dict:
    """title_features.title_pair_features from fitted per-row figures."""
    return title_features_of(stats, shared_tokens(stats, a, b), a, b)


def _share(shared: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(shared, total, out=np.full_like(shared, np.nan), where=total > 0)


def text_field_columns(name: str, block: RowBlock, fitted: FittedPlan, a: np.ndarray, b: np.ndarray) -> dict:
    """field_features.text_field_features from fitted per-row figures."""
    prefix = f"field:{name}"
    out = {}
    for key, values in title_columns(title_stats_of(block, prefix, fitted.fields[name]), a, b).items():
        start = next(p for p in TITLE_PREFIXES if key.startswith(p))
        out[f"{name}.{TITLE_PREFIXES[start]}{key[len(start):]}"] = values
    out[f"{name}.char_cosine"] = rowwise_dot(block[f"{prefix}.char"], a, b)
    if fitted.field_words[name].empty:
        out[f"{name}.a_in_title_b"] = out[f"{name}.b_in_title_a"] = np.full(len(a), np.nan, np.float32)
    else:
        field_tokens, title_tokens = block[f"{prefix}.words"], block[f"{prefix}.title_words"]
        a_in_b, _ = shared_counts(field_tokens, title_tokens, a, b)
        b_in_a, _ = shared_counts(title_tokens, field_tokens, a, b)
        sizes = row_totals(field_tokens)
        out[f"{name}.a_in_title_b"] = _share(a_in_b, sizes[a])
        out[f"{name}.b_in_title_a"] = _share(b_in_a, sizes[b])
    empty = block[f"{prefix}.empty"]
    return blank_missing(out, empty[a] | empty[b])


def code_columns(block: RowBlock, fitted: FittedPlan, a: np.ndarray, b: np.ndarray) -> dict:
    """field_features.code_features with the whole table's code frequencies."""
    return code_pair_features(block["codes.title"], block["codes.all"], fitted.codes.normalised_idf(), a, b)


def pair_features_of(pairs: PairTable, block: RowBlock, fitted: FittedPlan, source_names: list[str]) -> PairFeatures:
    """Every feature of ``pairs``; ``block`` holds the rows of all their records (ascending ids)."""
    a, b = block.local(pairs.rows), block.local(pairs.cols)
    columns: dict[str, np.ndarray] = {}
    for name in source_names:
        columns.update(source_columns(name, pairs, block, a, b))
    columns.update(title_columns(title_stats_of(block, TITLE, fitted.title), a, b))
    if fitted.plan.with_fields:  # a dedup table's records always have fields (maybe none but the title)
        for name in fitted.plan.texts:
            columns.update(text_field_columns(name, block, fitted, a, b))
        for name in fitted.plan.numbers:
            columns.update(number_field_features(name, block[f"number:{name}"], a, b))
        columns.update(code_columns(block, fitted, a, b))
    return PairFeatures.from_columns(columns)
