"""Pair features of the fields beside the title (a table read by ``prodmatch dedup``): each text field
(a description, a brand) and each number (a price) gets its own features, never glued into the title.

- A text field gets the title's features computed on that field (:func:`title_pair_features`: overlap,
  rare tokens, quantities, numbers, codes), its character n-gram TF-IDF cosine, and how much of each side's
  field appears in the other side's title (a brand named in the other record's title). A pair where either
  side's field is empty gets NaN: missing to the pair model, not dissimilar.
- A number gets the absolute log ratio and the relative difference of the two values (NaN when missing).
- Model codes across all text (``codes.*``): tokens with letters and digits, with hyphens, slashes and dots
  inside a token removed (``PS-LX350H`` and ``PSLX350H`` are the same code), taken from the title and every
  text field; how many codes the two records share anywhere, how rare the rarest shared one is, and how
  many of each title's codes appear anywhere in the other record.

Everything is a row-wise product of sparse binary matrices, in chunks of pairs (no Python loop per pair).
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from prodmatch.match.pair.title_features import (
    CHUNK,
    normalised_idf,
    row_max_weight,
    row_totals,
    title_pair_features,
)
from prodmatch.search.features import PostingFields
from prodmatch.search.sources import rowwise_dot
from prodmatch.search.tfidf import TfidfConfig, tfidf_matrix

CHAR_CONFIG = TfidfConfig(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True)
_CODE_RUN = re.compile(r"[^\W_]+(?:[-/.][^\W_]+)*")  # letters/digits, joined inside by - / .
_SEPARATOR = re.compile(r"[-/.]")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")
MIN_CODE_LENGTH = 3
TITLE_PREFIXES = {"title.": "", "quantity.": "quantity.", "number.": "number.", "code.": "code."}


def is_code(token: str) -> bool:
    return len(token) >= MIN_CODE_LENGTH and bool(_HAS_DIGIT.search(token)) and bool(_HAS_LETTER.search(token))


def code_tokens(text: str) -> list[str]:
    """The model codes of a (cleaned) text: ``"sony ps-lx350h/b deck"`` -> ``["pslx350h", "pslx350hb", "lx350h"]``;
    a run of letters and digits joined by ``-``, ``/`` or ``.`` counts by its joined beginnings (a variant suffix
    such as ``/b`` dropped or kept) and part by part."""
    found = []
    for run in _CODE_RUN.finditer(text.lower()):
        parts = _SEPARATOR.split(run.group(0))
        beginnings = ["".join(parts[: end + 1]) for end in range(len(parts))]
        for token in dict.fromkeys([*beginnings, *parts]):
            if is_code(token):
                found.append(token)
    return found


def binary_rows(documents: list[list[str]], vocabulary: dict[str, int] | None = None
                ) -> tuple[sp.csr_matrix, dict[str, int]]:
    """Binary (n, vocabulary) float32 matrix of token lists; the vocabulary grows unless given."""
    vocabulary = {} if vocabulary is None else vocabulary
    indptr, indices = [0], []
    for tokens in documents:
        columns = sorted({vocabulary.setdefault(t, len(vocabulary)) for t in tokens})
        indices.extend(columns)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
                         shape=(len(documents), max(len(vocabulary), 1)), dtype=np.float32), vocabulary


def _pad(matrix: sp.csr_matrix, width: int) -> sp.csr_matrix:
    return sp.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width))


def shared_counts(left: sp.csr_matrix, right: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray,
                  weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: how many columns ``left[rows]`` and ``right[cols]`` share, and the largest ``weight`` among them."""
    count = np.empty(len(rows), np.float32)
    best = np.zeros(len(rows), np.float32)
    for start in range(0, len(rows), CHUNK):
        part = slice(start, start + CHUNK)
        both = sp.csr_matrix(left[rows[part]].multiply(right[cols[part]]))
        count[part] = row_totals(both)
        if weight is not None:
            best[part] = row_max_weight(both, weight)
    return count, best


def _share(shared: np.ndarray, total: np.ndarray) -> np.ndarray:
    """shared / total, NaN where there is nothing to share."""
    return np.divide(shared, total, out=np.full_like(shared, np.nan), where=total > 0)


def text_field_features(name: str, texts: list[str], titles: list[str], rows: np.ndarray, cols: np.ndarray,
                        reverse: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One text field's features, named ``<name>.*``; NaN where either side's field is empty."""
    base = title_pair_features(texts, rows, cols, reverse)
    out = {}
    for key, values in base.items():
        prefix = next(p for p in TITLE_PREFIXES if key.startswith(p))
        out[f"{name}.{TITLE_PREFIXES[prefix]}{key[len(prefix):]}"] = values
    out[f"{name}.char_cosine"] = rowwise_dot(tfidf_matrix(texts, [CHAR_CONFIG]), rows, cols)
    vectorizer = CountVectorizer(token_pattern=r"(?u)\b\w+\b", lowercase=False, binary=True, dtype=np.float32)
    try:
        vectorizer.fit([*texts, *titles])
        field_tokens = sp.csr_matrix(vectorizer.transform(texts))
        title_tokens = sp.csr_matrix(vectorizer.transform(titles))
        a_in_b, _ = shared_counts(field_tokens, title_tokens, rows, cols)
        b_in_a, _ = shared_counts(title_tokens, field_tokens, rows, cols)
        sizes = row_totals(field_tokens)
        out[f"{name}.a_in_title_b"] = _share(a_in_b, sizes[rows])
        out[f"{name}.b_in_title_a"] = _share(b_in_a, sizes[cols])
    except ValueError:  # empty vocabulary: every field and title empty
        out[f"{name}.a_in_title_b"] = out[f"{name}.b_in_title_a"] = np.full(len(rows), np.nan, np.float32)
    empty = np.array([not t.strip() for t in texts], dtype=bool)
    return blank_missing(out, empty[rows] | empty[cols])


def blank_missing(out: dict[str, np.ndarray], missing: np.ndarray) -> dict[str, np.ndarray]:
    """Every feature as float32, NaN on the pairs where either record lacks the field."""
    for key, values in out.items():
        values = values.astype(np.float32, copy=True)
        values[missing] = np.nan
        out[key] = values
    return out


def number_field_features(name: str, values: np.ndarray, rows: np.ndarray, cols: np.ndarray
                          ) -> dict[str, np.ndarray]:
    """``|ln a - ln b|`` (positive values only) and ``|a - b| / max(|a|, |b|)``; NaN where either is missing."""
    a, b = values[rows], values[cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = (a > 0) & (b > 0)
        log_ratio = np.where(positive, np.abs(np.log(np.where(positive, a, 1.0)) - np.log(np.where(positive, b, 1.0))),
                             np.nan)
        high = np.maximum(np.abs(a), np.abs(b))
        relative = np.where(high > 0, np.abs(a - b) / np.where(high > 0, high, 1.0), 0.0)
    relative = np.where(np.isnan(a) | np.isnan(b), np.nan, relative)
    return {f"{name}.log_ratio": log_ratio.astype(np.float32), f"{name}.relative_difference": relative.astype(np.float32)}


def code_features(titles: list[str], texts: list[list[str]], rows: np.ndarray, cols: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Model codes shared across the title and every text field (see the module doc)."""
    title_codes, vocabulary = binary_rows([code_tokens(t) for t in titles])
    everywhere = [code_tokens(" ".join([title, *others])) for title, *others in zip(titles, *texts)]
    all_codes, vocabulary = binary_rows(everywhere, vocabulary)
    width = max(len(vocabulary), 1)
    title_codes, all_codes = _pad(title_codes, width), _pad(all_codes, width)
    return code_pair_features(title_codes, all_codes, normalised_idf(all_codes), rows, cols)


def code_pair_features(title_codes, all_codes, idf: np.ndarray, rows: np.ndarray, cols: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """The code features of pairs (rows, cols) from each record's title codes, its codes everywhere and their idf
    (the dedup engine passes the whole table's idf)."""
    shared, rarest = shared_counts(all_codes, all_codes, rows, cols, idf)
    a_in_b, _ = shared_counts(title_codes, all_codes, rows, cols)
    b_in_a, _ = shared_counts(all_codes, title_codes, rows, cols)
    title_shared, _ = shared_counts(title_codes, title_codes, rows, cols)
    n_title = row_totals(title_codes)
    n_a, n_b = n_title[rows], n_title[cols]
    return {
        "codes.shared": shared,
        "codes.shared_max_idf": rarest,
        "codes.title_shared": title_shared,
        "codes.title_a_in_b": _share(a_in_b, n_a),
        "codes.title_b_in_a": _share(b_in_a, n_b),
        "codes.title_conflict": ((n_a > 0) & (n_b > 0) & (a_in_b == 0) & (b_in_a == 0)).astype(np.float32),
    }


def field_pair_features(titles: list[str], fields: PostingFields, rows: np.ndarray, cols: np.ndarray,
                        reverse: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every field's features for the pairs (rows[i], cols[i]), then the codes across all text."""
    if rows.dtype != np.int64 or cols.dtype != np.int64:
        raise TypeError(f"rows/cols must be int64, got {rows.dtype}/{cols.dtype}")
    if reverse is not None and (reverse < 0).any():
        reverse = None
    out: dict[str, np.ndarray] = {}
    for name, texts in fields.texts.items():
        out.update(text_field_features(name, texts, titles, rows, cols, reverse))
    for name, values in fields.numbers.items():
        out.update(number_field_features(name, values, rows, cols))
    out.update(code_features(titles, list(fields.texts.values()), rows, cols))
    return out
