"""What each record brings to the search and the pair features, fitted once over the whole table and computed
per partition: a :class:`RowBlock` (named per-row columns: TF-IDF rows per source, title token rows and figures,
the fields' rows, later the search's per-row figures), taken and stacked by rows.

:class:`TextPlan` lists every text analysis the single-process path fits over the whole table (each TF-IDF
source's configs over the titles; the title tokens; per text field its tokens, character TF-IDF and its words
beside the titles' words; the model codes); :func:`count_partition` counts a partition for each,
:func:`fit_plan` fits the merged counts (:mod:`prodmatch.dedup.engine.corpus`), :func:`row_block` turns a
partition into its rows. Column names: ``vec:<source>``, ``title.*``, ``field:<name>.*``, ``number:<name>``,
``codes.*``, ``stat:<source>.*`` (:mod:`prodmatch.dedup.engine.partition_search`), ``source``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from prodmatch.dedup.engine.corpus import FittedTfidf, FittedTokens, LocalCounts, TermCounts, count_terms, merge_all, tfidf_rows
from prodmatch.match.pair.field_features import CHAR_CONFIG, code_tokens
from prodmatch.match.pair.title_features import TOKEN_PATTERN, classify_tokens, first_token_ids, row_totals, units_matrix
from prodmatch.match.pair.title_features import rarest_token_ids as title_rarest_token_ids
from prodmatch.search.features import Features

WORD_PATTERN = r"(?u)\b\w+\b"  # field_features' words of a field found in the other record's title
TITLE = "title"


def title_analyzer():
    return CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False).build_analyzer()


def word_analyzer():
    return CountVectorizer(token_pattern=WORD_PATTERN, lowercase=False).build_analyzer()


@dataclass(frozen=True)
class TextPlan:
    """The analyses to fit: TF-IDF sources (name -> configs and weights) and the table's text fields."""

    tfidf: dict  # source name -> (tuple of TfidfConfig, weights or None)
    texts: tuple[str, ...]  # text field names (Features.fields.texts)
    numbers: tuple[str, ...]
    with_fields: bool = True  # Features.fields given (pair features of the fields and model codes)

    @classmethod
    def of(cls, sources: list, columns) -> TextPlan:
        """The plan of a dedup table's columns (:class:`~prodmatch.dedup.table.Columns`): its fields by their
        feature names, as :meth:`~prodmatch.dedup.table.DedupTable.features` names them."""
        names = columns.field_names()
        texts = [*columns.texts, *([columns.brand] if columns.brand else [])]
        return cls({s.name: (tuple(s.configs), None if s.weights is None else tuple(s.weights)) for s in sources},
                   tuple(names[c] for c in texts), tuple(names[c] for c in columns.numbers))


def _everywhere(features: Features, plan: TextPlan) -> list[str]:
    texts = [features.fields.texts[name] for name in plan.texts]
    return [" ".join([title, *others]) for title, *others in zip(features.titles, *texts)]


def count_partition(features: Features, plan: TextPlan) -> tuple[dict[str, TermCounts], dict[str, LocalCounts]]:
    """One partition counted for every analysis of ``plan``: (counts to merge, local counts to keep)."""
    jobs = {}
    for name, (configs, _) in plan.tfidf.items():
        for i, config in enumerate(configs):
            jobs[f"tfidf:{name}:{i}"] = (features.titles, config.vectorizer().build_analyzer())
    jobs["title"] = (features.titles, title_analyzer())
    for name in plan.texts:
        texts = features.fields.texts[name]
        jobs[f"field:{name}.tokens"] = (texts, title_analyzer())
        jobs[f"field:{name}.char"] = (texts, CHAR_CONFIG.vectorizer().build_analyzer())
        jobs[f"field:{name}.words"] = (texts, word_analyzer())
        jobs[f"field:{name}.title_words"] = (features.titles, word_analyzer())
    if plan.with_fields:
        jobs["codes.all"] = (_everywhere(features, plan), code_tokens)
        jobs["codes.title"] = (features.titles, code_tokens)
    counts, local = {}, {}
    for key, (documents, analyze) in jobs.items():
        counts[key], local[key] = count_terms(documents, analyze)
    return counts, local


def merge_counts(parts: list[dict[str, TermCounts]]) -> dict[str, TermCounts]:
    """Partitions' counts merged in partition order, per analysis."""
    return {key: merge_all([part[key] for part in parts]) for key in parts[0]}


@dataclass
class TokenSpace:
    """A fitted token vocabulary with what the pair features weigh tokens by (title_features.title_stats)."""

    tokens: FittedTokens
    idf: np.ndarray
    classes: object  # TokenClasses
    indicators: np.ndarray  # (vocabulary, 3) float32: quantity, number, code

    @classmethod
    def fit(cls, counts: TermCounts) -> TokenSpace:
        tokens = FittedTokens.fit(counts)
        classes = classify_tokens(tokens.vocabulary)
        indicators = np.c_[classes.quantity, classes.number, classes.code].astype(np.float32)
        return cls(tokens, tokens.normalised_idf(), classes, indicators)


@dataclass
class FittedPlan:
    plan: TextPlan
    tfidf: dict[str, list[FittedTfidf]]
    title: TokenSpace
    fields: dict[str, TokenSpace] = field(default_factory=dict)
    field_chars: dict[str, FittedTfidf] = field(default_factory=dict)
    field_words: dict[str, FittedTokens] = field(default_factory=dict)  # the field's words and the titles'
    codes: FittedTokens | None = None


def fit_plan(plan: TextPlan, counts: dict[str, TermCounts]) -> FittedPlan:
    tfidf = {name: [FittedTfidf.fit(config, counts[f"tfidf:{name}:{i}"]) for i, config in enumerate(configs)]
             for name, (configs, _) in plan.tfidf.items()}
    fitted = FittedPlan(plan, tfidf, TokenSpace.fit(counts["title"]))
    for name in plan.texts:
        fitted.fields[name] = TokenSpace.fit(counts[f"field:{name}.tokens"])
        fitted.field_chars[name] = FittedTfidf.fit(CHAR_CONFIG, counts[f"field:{name}.char"])
        words = counts[f"field:{name}.words"].merge(counts[f"field:{name}.title_words"])
        fitted.field_words[name] = FittedTokens.fit(words)
    if plan.with_fields:
        fitted.codes = FittedTokens.fit(counts["codes.all"].merge(TermCounts(
            {t: 0 for t in counts["codes.title"].df}, 0)))  # every title code is a code of the record too
    return fitted


def rarest_token_ids(tokens: sp.csr_matrix, df: np.ndarray) -> np.ndarray:
    """title_features.rarest_token_ids with the whole table's document frequencies."""
    return title_rarest_token_ids(tokens, df)


def token_columns(prefix: str, space: TokenSpace, local: LocalCounts, texts: list[str]) -> dict:
    """title_features.title_stats per row, over a vocabulary fitted on the whole table."""
    tokens = space.tokens.transform(local)
    idf = space.idf
    return {
        f"{prefix}.tokens": tokens,
        f"{prefix}.n_tokens": row_totals(tokens),
        f"{prefix}.idf_total": np.asarray(tokens @ idf, dtype=np.float32),
        f"{prefix}.idf_norm": np.sqrt(np.asarray(tokens @ (idf * idf), dtype=np.float32)),
        f"{prefix}.per_class": np.asarray(tokens @ space.indicators, dtype=np.float32),
        f"{prefix}.units": units_matrix(tokens, space.classes),
        f"{prefix}.first": first_token_ids(texts, space.tokens.vocabulary),
        f"{prefix}.rarest": rarest_token_ids(tokens, space.tokens.df),
        f"{prefix}.lengths": np.array([len(t) for t in texts], dtype=np.float32),
    }


@dataclass
class RowBlock:
    """Named per-row columns (numpy arrays or CSR matrices, one row per record) of consecutive records
    ``start, start + 1, ...`` -- or of the records ``ids`` (global positions, ascending) after a take."""

    columns: dict
    ids: np.ndarray  # int64 global positions of the rows

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str):
        return self.columns[name]

    def take(self, positions: np.ndarray) -> RowBlock:
        """The rows at ``positions`` (local, ascending)."""
        return RowBlock({name: value[positions] for name, value in self.columns.items()}, self.ids[positions])

    def with_columns(self, extra: dict) -> RowBlock:
        return RowBlock({**self.columns, **extra}, self.ids)

    @staticmethod
    def concat(parts: list[RowBlock]) -> RowBlock:
        parts = [p for p in parts if len(p)] or parts[:1]
        columns = {}
        for name, first in parts[0].columns.items():
            values = [p.columns[name] for p in parts]
            columns[name] = sp.vstack(values, format="csr") if sp.issparse(first) else np.concatenate(values)
        return RowBlock(columns, np.concatenate([p.ids for p in parts]))

    def local(self, ids: np.ndarray) -> np.ndarray:
        """Local positions of global record positions ``ids`` (each must be a row of this block)."""
        where = np.searchsorted(self.ids, ids)
        if len(ids) and (where.max(initial=0) >= len(self.ids) or not np.array_equal(self.ids[where], ids)):
            raise ValueError("some records are not rows of this block")
        return where


def row_block(features: Features, fitted: FittedPlan, local: dict[str, LocalCounts], start: int,
              sources: np.ndarray | None = None) -> RowBlock:
    """A partition's rows (records ``start ...``) of every column the search and pair features read."""
    plan = fitted.plan
    columns = {}
    for name, (configs, weights) in plan.tfidf.items():
        columns[f"vec:{name}"] = tfidf_rows(fitted.tfidf[name], [local[f"tfidf:{name}:{i}"] for i in range(len(configs))],
                                           None if weights is None else list(weights))
    columns.update(token_columns(TITLE, fitted.title, local["title"], features.titles))
    for name in plan.texts:
        texts = features.fields.texts[name]
        prefix = f"field:{name}"
        columns.update(token_columns(prefix, fitted.fields[name], local[f"{prefix}.tokens"], texts))
        columns[f"{prefix}.char"] = tfidf_rows([fitted.field_chars[name]], [local[f"{prefix}.char"]], None)
        columns[f"{prefix}.words"] = fitted.field_words[name].transform(local[f"{prefix}.words"])
        columns[f"{prefix}.title_words"] = fitted.field_words[name].transform(local[f"{prefix}.title_words"])
        columns[f"{prefix}.empty"] = np.array([not t.strip() for t in texts], dtype=bool)
    for name in plan.numbers:
        columns[f"number:{name}"] = features.fields.numbers[name]
    if plan.with_fields:
        columns["codes.all"] = fitted.codes.transform(local["codes.all"])
        columns["codes.title"] = fitted.codes.transform(local["codes.title"])
    if sources is not None:
        columns["source"] = np.asarray(sources, dtype=object)
    return RowBlock(columns, np.arange(start, start + len(features), dtype=np.int64))
