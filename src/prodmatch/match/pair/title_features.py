"""Title features of candidate pairs that catch the classic hard negatives: quantities, numbers and model
codes that disagree ("100ml" vs "200ml", "2pcs" vs "3pcs", "a52" vs "a72"), plus token overlap, length
ratio and shared rare tokens.

Titles are the cleaned ones (:func:`prodmatch.data.titles.clean_title` glues numbers to their unit:
``100 ml`` -> ``100ml``). Each title becomes a binary token row; every pair feature is a row-wise product
of two such sparse matrices (no Python loop per pair). Rarity is a normalised idf,
``ln((1 + n) / (1 + df)) / ln(1 + n)`` in [0, 1), so a token's weight does not grow with the number of
postings searched (a 7k-row test and a 70k-row one weigh it alike).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from prodmatch.data.titles import UNITS

TOKEN_PATTERN = r"\d+\.\d+\w*|\w+"  # keeps decimals with their unit: "4.5m", "1.5l"
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(" + "|".join(UNITS) + r")$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")
CHUNK = 1 << 18  # pairs per row-wise product: bounds memory at any test size


@dataclass
class TokenClasses:
    """Which vocabulary columns are quantities (number + unit), bare numbers, model codes (letters and digits)."""

    quantity: np.ndarray  # bool per column
    number: np.ndarray
    code: np.ndarray
    unit_of: np.ndarray  # int per column: index into the unit vocabulary, -1 if not a quantity
    n_units: int


def classify_tokens(vocabulary: list[str]) -> TokenClasses:
    units: dict[str, int] = {}
    unit_of = np.full(len(vocabulary), -1, dtype=np.int64)
    number = np.zeros(len(vocabulary), dtype=bool)
    code = np.zeros(len(vocabulary), dtype=bool)
    for column, token in enumerate(vocabulary):
        quantity = _QUANTITY.match(token)
        if quantity:
            unit_of[column] = units.setdefault(quantity.group(2), len(units))
        elif _NUMBER.match(token):
            number[column] = True
        elif _HAS_DIGIT.search(token) and _HAS_LETTER.search(token):
            code[column] = True
    return TokenClasses(unit_of >= 0, number, code, unit_of, len(units))


def token_matrix(titles: list[str]) -> tuple[sp.csr_matrix, list[str]]:
    """Binary (n_titles, vocabulary) float32 matrix of the titles' tokens, and the vocabulary."""
    vectorizer = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False, binary=True, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(titles)
    except ValueError:  # empty vocabulary: every title empty
        return sp.csr_matrix((len(titles), 1), dtype=np.float32), [""]
    matrix = sp.csr_matrix(matrix)
    matrix.sort_indices()
    return matrix, list(vectorizer.get_feature_names_out())


def normalised_idf(tokens: sp.csr_matrix) -> np.ndarray:
    """``ln((1 + n) / (1 + df)) / ln(1 + n)`` per column: 0 for a token in every title, near 1 for a unique one."""
    n = tokens.shape[0]
    df = np.bincount(tokens.indices, minlength=tokens.shape[1]).astype(np.float64)
    return (np.log((1.0 + n) / (1.0 + df)) / np.log(1.0 + max(n, 1))).astype(np.float32)


def units_matrix(tokens: sp.csr_matrix, classes: TokenClasses) -> sp.csr_matrix:
    """Binary (n_titles, n_units): which units each title quantifies ("100ml" and "2ml" both count as ml)."""
    coo = tokens.tocoo()
    unit = classes.unit_of[coo.col]
    keep = unit >= 0
    matrix = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (coo.row[keep], unit[keep])),
                           shape=(tokens.shape[0], max(classes.n_units, 1)), dtype=np.float32)
    matrix.data[:] = 1.0  # one row may quantify a unit twice
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def row_totals(matrix: sp.csr_matrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float32).reshape(-1)


def row_max_weight(matrix: sp.csr_matrix, weight: np.ndarray) -> np.ndarray:
    """Per row, the largest ``weight`` of its stored columns (0 for an empty row)."""
    out = np.zeros(matrix.shape[0], dtype=np.float32)
    counts = np.diff(matrix.indptr)
    filled = counts > 0
    if filled.any():
        out[filled] = np.maximum.reduceat(weight[matrix.indices], matrix.indptr[:-1][filled])
    return out


@dataclass
class TitleStats:
    """Per-title figures the pair features combine."""

    tokens: sp.csr_matrix  # binary (n, vocabulary)
    idf: np.ndarray  # normalised idf per column
    classes: np.ndarray  # (vocabulary, 3) float32: quantity, number, code indicator columns
    n_tokens: np.ndarray
    idf_total: np.ndarray  # sum of idf over the title's tokens
    idf_norm: np.ndarray  # L2 norm of the idf-weighted binary row
    per_class: np.ndarray  # (n, 3): quantities, numbers, codes in the title
    units: sp.csr_matrix  # binary (n, units)
    first: np.ndarray
    rarest: np.ndarray
    lengths: np.ndarray  # characters


def title_stats(titles: list[str]) -> TitleStats:
    tokens, vocabulary = token_matrix(titles)
    classes = classify_tokens(vocabulary)
    idf = normalised_idf(tokens)
    indicators = np.c_[classes.quantity, classes.number, classes.code].astype(np.float32)
    return TitleStats(
        tokens=tokens,
        idf=idf,
        classes=indicators,
        n_tokens=row_totals(tokens),
        idf_total=np.asarray(tokens @ idf, dtype=np.float32),
        idf_norm=np.sqrt(np.asarray(tokens @ (idf * idf), dtype=np.float32)),
        per_class=np.asarray(tokens @ indicators, dtype=np.float32),
        units=units_matrix(tokens, classes),
        first=first_token_ids(titles, vocabulary),
        rarest=rarest_token_ids(tokens),
        lengths=np.array([len(t) for t in titles], dtype=np.float32),
    )


@dataclass
class SharedTokens:
    """Per pair: what the two titles share (sums over their common tokens) and the rarest token each has alone."""

    count: np.ndarray
    idf: np.ndarray
    idf_squared: np.ndarray
    max_idf: np.ndarray
    per_class: np.ndarray  # (pairs, 3): shared quantities, numbers, codes
    units: np.ndarray  # units both titles quantify (with any numbers)
    only_a_max_idf: np.ndarray
    only_b_max_idf: np.ndarray


def shared_tokens(stats: TitleStats, rows: np.ndarray, cols: np.ndarray, reverse: np.ndarray | None = None
                  ) -> SharedTokens:
    """One element-wise product of the two titles' token rows per chunk of pairs; every shared figure is read
    off it with matrix-vector products and per-row maxima. ``reverse`` (each pair's reverse position, all
    present) lets the second side's figures be read off the reverse pair instead of computed again."""
    n = len(rows)
    out = SharedTokens(*(np.empty(n, np.float32) for _ in range(4)), np.empty((n, 3), np.float32),
                       *(np.empty(n, np.float32) for _ in range(3)))
    idf_squared = stats.idf * stats.idf
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        a, b = stats.tokens[rows[part]], stats.tokens[cols[part]]
        both = sp.csr_matrix(a.multiply(b))
        out.count[part] = row_totals(both)
        out.idf[part] = both @ stats.idf
        out.idf_squared[part] = both @ idf_squared
        out.max_idf[part] = row_max_weight(both, stats.idf)
        out.per_class[part] = both @ stats.classes
        out.units[part] = row_totals(sp.csr_matrix(stats.units[rows[part]].multiply(stats.units[cols[part]])))
        out.only_a_max_idf[part] = row_max_weight(sp.csr_matrix(a - both), stats.idf)
        if reverse is None:
            out.only_b_max_idf[part] = row_max_weight(sp.csr_matrix(b - both), stats.idf)
    if reverse is not None:
        out.only_b_max_idf[:] = out.only_a_max_idf[reverse]
    return out


def class_features(prefix: str, n_a: np.ndarray, n_b: np.ndarray, shared: np.ndarray) -> dict[str, np.ndarray]:
    """How many tokens of one class each side has, how many they share, how many one side has alone, and
    whether both have some but share none (the "100ml" vs "200ml" case)."""
    return {
        f"{prefix}.n_a": n_a,
        f"{prefix}.n_b": n_b,
        f"{prefix}.shared": shared,
        f"{prefix}.conflict": ((n_a > 0) & (n_b > 0) & (shared == 0)).astype(np.float32),
        f"{prefix}.only": n_a + n_b - 2 * shared,
    }


def title_pair_features(titles: list[str], rows: np.ndarray, cols: np.ndarray, reverse: np.ndarray | None = None
                        ) -> dict[str, np.ndarray]:
    """Every title feature of the pairs (rows[i], cols[i]) of ``titles``, name -> float32 per pair.
    ``reverse``: the position of each pair's reverse, when every pair has one (a symmetric table)."""
    if rows.dtype != np.int64 or cols.dtype != np.int64:
        raise TypeError(f"rows/cols must be int64, got {rows.dtype}/{cols.dtype}")
    if reverse is not None and (reverse < 0).any():
        reverse = None  # some pair lacks its reverse: compute both sides
    stats = title_stats(titles)
    return title_features_of(stats, shared_tokens(stats, rows, cols, reverse), rows, cols)


def title_features_of(stats: TitleStats, shared: SharedTokens, rows: np.ndarray, cols: np.ndarray) -> dict:
    """The title features of pairs (rows, cols) from per-title figures and the pairs' shared tokens (the dedup
    engine passes figures fitted on the whole table)."""
    union = stats.n_tokens[rows] + stats.n_tokens[cols] - shared.count
    idf_union = stats.idf_total[rows] + stats.idf_total[cols] - shared.idf
    norms = stats.idf_norm[rows] * stats.idf_norm[cols]
    out = {
        "title.jaccard": _divide(shared.count, union),
        "title.idf_jaccard": _divide(shared.idf, idf_union),
        "title.idf_cosine": _divide(shared.idf_squared, norms),
        "title.shared": shared.count,
        "title.n_tokens_a": stats.n_tokens[rows],
        "title.n_tokens_b": stats.n_tokens[cols],
        "title.length_ratio": _ratio(stats.lengths[rows], stats.lengths[cols]),
        "title.shared_max_idf": shared.max_idf,
        "title.only_a_max_idf": shared.only_a_max_idf,
        "title.only_b_max_idf": shared.only_b_max_idf,
        "title.first_token_same": _same(stats.first, rows, cols),
        "title.rarest_token_same": _same(stats.rarest, rows, cols),
    }
    for column, prefix in enumerate(("quantity", "number", "code")):
        out.update(class_features(prefix, stats.per_class[rows, column], stats.per_class[cols, column],
                                  shared.per_class[:, column]))
        if prefix == "quantity":
            # units both titles quantify, but not with one same quantity: "100ml" vs "200ml"
            out["quantity.unit_mismatch"] = shared.units - np.minimum(shared.per_class[:, 0], shared.units)
    return out


def rarest_token_ids(tokens: sp.csr_matrix, df: np.ndarray | None = None) -> np.ndarray:
    """Each title's lowest-df token (its most specific word: a model, a brand), -1 for an empty title; ``df``:
    document frequencies of a larger table (default: of these titles)."""
    if df is None:
        df = np.bincount(tokens.indices, minlength=tokens.shape[1])
    out = np.full(tokens.shape[0], -1, dtype=np.int64)
    counts = np.diff(tokens.indptr)
    if tokens.nnz == 0:
        return out
    row_of = np.repeat(np.arange(tokens.shape[0]), counts)
    order = np.lexsort((tokens.indices, df[tokens.indices], row_of))
    out[counts > 0] = tokens.indices[order[tokens.indptr[:-1][counts > 0]]]
    return out


def first_token_ids(titles: list[str], vocabulary: list[str]) -> np.ndarray:
    """Each title's first token in reading order (often the brand), -1 for an empty title."""
    column = {token: i for i, token in enumerate(vocabulary)}
    pattern = re.compile(TOKEN_PATTERN)
    out = np.full(len(titles), -1, dtype=np.int64)
    for i, title in enumerate(titles):
        found = pattern.search(title)
        if found:
            out[i] = column.get(found.group(0), -1)
    return out


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _same(ids: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return ((ids[rows] == ids[cols]) & (ids[rows] >= 0)).astype(np.float32)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    high = np.maximum(a, b)
    return np.divide(np.minimum(a, b), high, out=np.ones_like(high), where=high > 0)
