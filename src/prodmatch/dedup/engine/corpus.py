"""Text statistics fitted once over a table read in partitions: a streaming vocabulary, exact.

Every TF-IDF, token and code matrix the single-process path fits over the whole table at once
(:func:`prodmatch.search.tfidf.tfidf_matrix`, the pair model's title and field features) depends on the table
through its vocabulary, each term's document frequency and the number of documents. Each partition counts its
own (:func:`count_terms`: terms in order of first appearance, document frequencies, its documents as a count
matrix over its local terms); the counts are merged in partition order (:meth:`TermCounts.merge`,
associative, so a tree reduction gives the same result); the merged counts fix the vocabulary; each partition's
count matrix is then renumbered into it (:class:`FittedTfidf`, :class:`FittedTokens`).

The result is the whole-table fit exactly, down to the order entries are stored in within a row (which fixes
the order of floating-point sums): scikit-learn numbers terms by first appearance, keeps rows sorted that way,
then renames the columns in alphabetical order without re-sorting; :meth:`FittedTfidf.transform` repeats those
steps. Not a sample: a vocabulary fitted on a sample would drop the terms the sample lacks and change the
idf of the others, so the candidates and pair features would differ (measured in docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from prodmatch.search.tfidf import TfidfConfig

Analyzer = Callable[[str], Iterable[str]]


@dataclass
class TermCounts:
    """Terms of one analysis over some documents: term -> document frequency, in order of first appearance."""

    df: dict[str, int]
    n_docs: int

    def merge(self, later: TermCounts) -> TermCounts:
        """These counts followed by those of later documents (first appearance kept from the earlier)."""
        df = dict(self.df)
        for term, count in later.df.items():
            df[term] = df.get(term, 0) + count
        return TermCounts(df, self.n_docs + later.n_docs)


@dataclass
class LocalCounts:
    """One partition's documents as counts over its own terms (local ids in order of first appearance)."""

    matrix: sp.csr_matrix  # (docs, local terms) float32, rows sorted by local id
    terms: list[str]


def count_terms(documents: list[str], analyze: Analyzer) -> tuple[TermCounts, LocalCounts]:
    """Each document's terms counted once pass (scikit-learn's ``_count_vocab`` order of first appearance)."""
    vocabulary: dict[str, int] = {}
    df: list[int] = []
    indptr, indices, values = [0], [], []
    for document in documents:
        counter: dict[int, int] = {}
        for term in analyze(document):
            column = vocabulary.get(term)
            if column is None:
                column = vocabulary[term] = len(vocabulary)
                df.append(0)
            counter[column] = counter.get(column, 0) + 1
        for column in counter:
            df[column] += 1
        indices.extend(counter)
        values.extend(counter.values())
        indptr.append(len(indices))
    matrix = sp.csr_matrix((np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                            np.asarray(indptr, dtype=np.int64)), shape=(len(documents), max(len(vocabulary), 1)))
    matrix.sort_indices()
    terms = list(vocabulary)
    return TermCounts(dict(zip(terms, df)), len(documents)), LocalCounts(matrix, terms)


def merge_all(parts: list[TermCounts]) -> TermCounts:
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    return merged


def _in_columns(local: LocalCounts, column_of: dict[str, int], width: int) -> sp.csr_matrix:
    """The local counts renumbered into a fitted vocabulary (terms it lacks dropped), rows sorted."""
    ids = np.array([column_of.get(term, -1) for term in local.terms] or [-1], dtype=np.int64)
    mapped = ids[local.matrix.indices]
    keep = mapped >= 0
    counts = np.diff(local.matrix.indptr)
    row_of = np.repeat(np.arange(local.matrix.shape[0]), counts)
    matrix = sp.csr_matrix((local.matrix.data[keep], (row_of[keep], mapped[keep])),
                           shape=(local.matrix.shape[0], max(width, 1)), dtype=np.float32)
    matrix.sort_indices()
    return matrix


@dataclass
class FittedTfidf:
    """One :class:`TfidfConfig` fitted over every document (scikit-learn's ``TfidfVectorizer.fit``)."""

    config: TfidfConfig
    discovery: dict[str, int]  # every term -> its id in order of first appearance
    kept: np.ndarray  # discovery ids that survive min_df/max_df, ascending
    sorted_id: np.ndarray  # per kept term (by its rank among kept): its alphabetical id
    idf: np.ndarray | None  # float32 per alphabetical id; None: empty vocabulary (a zero column)

    @classmethod
    def fit(cls, config: TfidfConfig, counts: TermCounts) -> FittedTfidf:
        terms = list(counts.df)
        df = np.fromiter(counts.df.values(), dtype=np.int64, count=len(terms))
        n = counts.n_docs
        high = config.max_df if isinstance(config.max_df, Integral) else config.max_df * n
        low = config.min_df if isinstance(config.min_df, Integral) else config.min_df * n
        kept = np.flatnonzero((df <= high) & (df >= low)) if high >= low else np.zeros(0, np.int64)
        discovery = {term: i for i, term in enumerate(terms)}
        if len(kept) == 0:  # scikit-learn raises; tfidf_matrix turns that into a zero column
            return cls(config, discovery, kept, np.zeros(0, np.int64), None)
        kept_terms = [terms[i] for i in kept]
        order = sorted(range(len(kept_terms)), key=kept_terms.__getitem__)
        sorted_id = np.empty(len(kept_terms), dtype=np.int64)
        sorted_id[order] = np.arange(len(kept_terms))
        # TfidfTransformer.fit in float32: (n + 1) / (df + 1), log, + 1
        kept_df = np.empty(len(kept_terms), dtype=np.float32)
        kept_df[sorted_id] = df[kept]
        kept_df += 1.0
        idf = np.full_like(kept_df, fill_value=n + 1, dtype=np.float32)
        idf /= kept_df
        np.log(idf, out=idf)
        idf += 1.0
        return cls(config, discovery, kept, sorted_id, idf)

    def analyzer(self) -> Analyzer:
        return self.config.vectorizer().build_analyzer()

    def transform(self, local: LocalCounts) -> sp.csr_matrix:
        """The partition's rows of the whole-table TF-IDF block of this config (before weighting)."""
        rows = local.matrix.shape[0]
        if self.idf is None:
            return sp.csr_matrix((rows, 1), dtype=np.float32)
        counts = _in_columns(local, self.discovery, len(self.discovery))  # CountVectorizer._count_vocab
        counts = sp.csr_matrix(counts[:, self.kept])  # _limit_features
        counts.indices = self.sorted_id.astype(counts.indices.dtype).take(counts.indices, mode="clip")  # _sort_features
        if self.config.binary:
            counts.data.fill(1)
        transformer = TfidfTransformer(norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=self.config.sublinear_tf)
        transformer.idf_ = self.idf
        return sp.csr_matrix(transformer.transform(counts, copy=False))


def tfidf_rows(fitted: list[FittedTfidf], locals_: list[LocalCounts], weights: list[float] | None) -> sp.csr_matrix:
    """A partition's rows of :func:`prodmatch.search.tfidf.tfidf_matrix`: blocks weighted, stacked, L2-normalised."""
    weights = weights or [1.0] * len(fitted)
    blocks = [fit.transform(local) * np.float32(weight) for fit, local, weight in zip(fitted, locals_, weights)]
    matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
    return normalize(matrix, norm="l2", copy=False).astype(np.float32)


@dataclass
class FittedTokens:
    """A binary token vocabulary in alphabetical order with document frequencies (the pair features' token
    matrices: :func:`prodmatch.match.pair.title_features.token_matrix` and the field and code matrices)."""

    vocabulary: list[str]  # alphabetical; [""] when empty (as token_matrix returns)
    column_of: dict[str, int]
    df: np.ndarray  # int64 per column
    n_docs: int
    empty: bool

    @classmethod
    def fit(cls, counts: TermCounts) -> FittedTokens:
        vocabulary = sorted(counts.df)
        if not vocabulary:
            return cls([""], {}, np.zeros(1, np.int64), counts.n_docs, True)
        df = np.array([counts.df[t] for t in vocabulary], dtype=np.int64)
        return cls(vocabulary, {t: i for i, t in enumerate(vocabulary)}, df, counts.n_docs, False)

    def transform(self, local: LocalCounts) -> sp.csr_matrix:
        """Binary float32 rows over this vocabulary, sorted."""
        matrix = _in_columns(local, self.column_of, len(self.vocabulary))
        matrix.data[:] = 1.0
        return matrix

    def normalised_idf(self) -> np.ndarray:
        """:func:`prodmatch.match.pair.title_features.normalised_idf` with the whole table's frequencies."""
        n = self.n_docs
        return (np.log((1.0 + n) / (1.0 + self.df.astype(np.float64))) / np.log(1.0 + max(n, 1))).astype(np.float32)
